//! `/admin/settings`: the token policy and instance settings, their checks,
//! and the audit rows their changes leave.

use crate::common;

use common::{admin_app, text_of};
use reqwest::StatusCode;

#[actix_web::test]
async fn settings_change_the_policy() {
    let (app, _) = admin_app().await;
    app.step_up().await;
    let ada = app.create_user("ada", false);
    app.grant(ada.id, "Field", "devices:read");
    let fields = |creation: Option<&'static str>, default: &'static str| {
        let mut f = vec![
            ("default_lifetime_days", default),
            ("max_lifetime_days", "30"),
            ("retention_days", "60"),
            ("mobile_session_days", "14"),
            ("tenant_id", "acme-42"),
            ("show_clients", "on"),
            ("show_api_tokens", "on"),
            ("max_overlap", "1d"),
        ];
        if let Some(c) = creation {
            f.push(("token_creation_enabled", c));
        }
        f
    };
    let res = app
        .submit(
            "/admin/settings",
            "/admin/settings",
            &fields(Some("on"), "90"),
        )
        .await;
    assert_eq!(
        res.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "default above maximum"
    );
    assert!(text_of(&res.text().await.unwrap(), "#default_lifetime_days-error").is_some());

    let res = app
        .submit(
            "/admin/settings",
            "/admin/settings",
            &fields(Some("on"), "30"),
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let s = app.db(tessera::db::settings::load).unwrap();
    assert_eq!(
        (s.max_lifetime_days, s.retention_days, s.tenant_id.as_str()),
        (30, 60, "acme-42")
    );

    // A 60-day token is now beyond the maximum.
    let user = app.visitor();
    user.login_ok("ada").await;
    let res = user
        .submit_access_token(&[
            ("name", "t"),
            ("scopes", "devices:read"),
            ("expires_in_days", "60"),
        ])
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // Switching creation off closes the forms with an explanation.
    app.submit("/admin/settings", "/admin/settings", &fields(None, "30"))
        .await;
    assert!(
        user.get_html("/profile/tokens/new")
            .await
            .contains("switched off")
    );
    assert!(
        app.get_html("/admin/tokens/new")
            .await
            .contains("switched off")
    );
    assert_eq!(app.audit("settings_updated").len(), 2);
}

#[actix_web::test]
async fn settings_audit_names_the_tenant_id_and_its_change() {
    let (app, _) = admin_app().await;
    app.step_up().await;
    let save = |tenant: &'static str| {
        let app = &app;
        async move {
            let res = app
                .submit(
                    "/admin/settings",
                    "/admin/settings",
                    &[
                        ("default_lifetime_days", "90"),
                        ("max_lifetime_days", "365"),
                        ("retention_days", "90"),
                        ("mobile_session_days", "30"),
                        ("token_creation_enabled", "on"),
                        ("tenant_id", tenant),
                        ("show_clients", "on"),
                        ("show_api_tokens", "on"),
                        ("max_overlap", "7d"),
                    ],
                )
                .await;
            assert_eq!(res.status(), StatusCode::SEE_OTHER, "{tenant}");
        }
    };
    save("acme-42").await;
    save("  acme-42 ").await;
    save("globex, \"eu\"").await;
    let details: Vec<String> = app
        .audit_rows("settings_updated")
        .into_iter()
        .map(|r| r.detail.unwrap_or_default())
        .collect();
    assert_eq!(details.len(), 3);
    assert!(
        details[0].ends_with("tenant id \"acme-42\" (was \"\")"),
        "a change says what it was: {}",
        details[0]
    );
    assert!(
        details[1].ends_with("tenant id \"acme-42\""),
        "no change (the field is trimmed): {}",
        details[1]
    );
    assert!(
        details[2].ends_with("tenant id \"globex, \\\"eu\\\"\" (was \"acme-42\")"),
        "quoted, so that a comma cannot pass for another setting: {}",
        details[2]
    );
    // The rest of the policy is still there.
    assert!(details[0].starts_with("default 90 d, max 365 d, non-expiring refused"));
}
