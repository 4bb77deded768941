//! A token's secret after it was made (SPEC §7): Show, sealed and behind the
//! step-up, at `/profile/tokens/{id}/show` (the owner's client) and
//! `/admin/tokens/{id}/show` (API tokens); regenerate at `…/{id}/regenerate`,
//! with its confirmation, an overlap during which the previous secret works
//! too, and an expiry.

use crate::common;

use std::time::Duration;

use common::{TestApp, Visitor, admin_app, app_with_member, location, new_token_in, text_of};
use reqwest::StatusCode;
use serde_json::Value;

/// The page a Show answers, after a step-up.
async fn shown(who: &Visitor, show: &str) -> reqwest::Response {
    who.submit(show, show, &[]).await
}

fn date_in(days: i64) -> String {
    (chrono::Utc::now() + chrono::TimeDelta::days(days))
        .format("%Y-%m-%d")
        .to_string()
}

async fn introspect(app: &TestApp, caller: &str, token: &str) -> Value {
    reqwest::Client::new()
        .post(app.url("/api/v1/introspect"))
        .bearer_auth(caller)
        .form(&[("token", token)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[actix_web::test]
async fn the_owner_shows_their_client_and_nothing_else() {
    let (app, ada) = app_with_member("ada").await;
    app.login_ok("ada").await;
    let (client, secret) = app.new_client_token("BI").await;
    let (personal, _) = app.new_access_token("laptop", &["devices:read"]).await;
    app.step_up().await;

    let show = format!("/profile/tokens/{client}/show");
    let res = shown(&app, &show).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let page = res.text().await.unwrap();
    assert_eq!(
        text_of(&page, "#shown-token").as_deref(),
        Some(secret.as_str())
    );
    let rows = app.audit_rows("token_shown");
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0].target_id, rows[0].outcome.as_str()),
        (Some(client), "success")
    );
    assert!(
        !rows[0]
            .target_label
            .as_deref()
            .unwrap_or_default()
            .contains(&secret)
    );

    // A personal token is never shown again: no such page, no such action.
    let personal_show = format!("/profile/tokens/{personal}/show");
    assert_eq!(
        app.get(&personal_show).await.status(),
        StatusCode::NOT_FOUND
    );
    let csrf = common::csrf_in(&app.get_html("/profile/tokens").await);
    let res = app
        .post_form(&personal_show, &[("csrf_token", &csrf)])
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);

    // Someone else's client, even an administrator's look at it: not here.
    let bob = app.create_user("bob", false);
    app.grant(bob.id, "Other", "devices:read");
    let other = app.visitor();
    other.login_ok("bob").await;
    other.step_up().await;
    let res = other.post_form(&show, &[("csrf_token", &csrf)]).await;
    assert_ne!(res.status(), StatusCode::OK);
    assert_eq!(other.get(&show).await.status(), StatusCode::NOT_FOUND);
    app.create_user("root", true);
    let admin = app.visitor();
    admin.login_ok("root").await;
    admin.step_up().await;
    let admin_show = format!("/admin/tokens/{client}/show");
    assert_eq!(admin.get(&admin_show).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(app.audit_rows("token_shown").len(), 1);
    let _ = ada;
}

#[actix_web::test]
async fn an_administrator_shows_api_tokens() {
    let (app, _) = admin_app().await;
    let ada = app.create_user("ada", false);
    let (department, user_type) = app.grant(ada.id, "ERP access", "devices:read");
    let (user, membership) = (ada.id.to_string(), format!("{department}:{user_type}"));
    let res = app
        .submit(
            "/admin/tokens/new",
            "/admin/tokens",
            &[
                ("name", "ERP"),
                ("expires_at", &date_in(300)),
                ("user_id", &user),
                ("membership", &membership),
                ("description", ""),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let secret = new_token_in(&res.text().await.unwrap());
    let id = app.db(|conn| common::scalar(conn, "SELECT id FROM tokens WHERE name = 'ERP'"));
    let show = format!("/admin/tokens/{id}/show");
    let detail = app.get_html(&format!("/admin/tokens/{id}")).await;
    assert!(
        detail.contains(&format!("href=\"{show}\"")),
        "the detail offers Show"
    );

    // Not yet stepped up: to /sudo, which comes back to the offer.
    let res = app.get(&show).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        location(res.headers()),
        format!("/sudo?next=%2Fadmin%2Ftokens%2F{id}%2Fshow")
    );
    app.step_up().await;
    let res = shown(&app, &show).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let page = res.text().await.unwrap();
    assert_eq!(
        text_of(&page, "#shown-token").as_deref(),
        Some(secret.as_str())
    );
    assert_eq!(app.audit_rows("token_shown").len(), 1);
}

#[actix_web::test]
async fn switching_show_off_erases_what_was_kept_and_says_so() {
    let (app, _) = admin_app().await;
    app.step_up().await;
    app.grant(app_user_id(&app, "root"), "Ops", "devices:read");
    let (kept, _) = app.new_client_token("kept").await;
    assert_eq!(sealed_count(&app), 1);

    let page = app.get_html("/admin/settings").await;
    assert!(
        page.contains("erases every kept secret"),
        "the page says so before"
    );
    // Unticked, as a browser posts it: no show_clients at all.
    let mut fields = common::form_fields(&app.get_html("/admin/settings").await, "/admin/settings");
    fields.retain(|(name, _)| name != "show_clients" && name != "csrf_token");
    let fields: Vec<(&str, &str)> = fields
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let res = app
        .submit("/admin/settings", "/admin/settings", &fields)
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(sealed_count(&app), 0, "the kept copy is gone");
    let flash = app.get_html("/admin/settings").await;
    assert!(
        flash.contains("Show is off for clients: 1 kept secret erased."),
        "{flash}"
    );
    let detail = app
        .audit_rows("settings_updated")
        .pop()
        .unwrap()
        .detail
        .unwrap();
    assert!(detail.contains("erased 1 kept clients secrets"), "{detail}");

    // The erased one, and one made while Show is off, say how to get a secret.
    let (made_while_off, _) = app.new_client_token("made while off").await;
    assert_eq!(sealed_count(&app), 0);
    for id in [kept, made_while_off] {
        let show = format!("/profile/tokens/{id}/show");
        let offer = app.get_html(&show).await;
        assert!(
            offer.contains("This token was not kept; regenerate it to get a new secret."),
            "{offer}"
        );
        let res = shown(&app, &show).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        let back = app.get_html(location(res.headers())).await;
        assert!(back.contains("This token was not kept"), "{back}");
    }
    let failures = app.audit_rows("token_shown");
    assert!(
        failures.iter().all(|row| row.outcome == "failure"),
        "{failures:?}"
    );

    // On again: a regeneration keeps the new secret.
    let res = app.save_settings(&[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let regenerate = format!("/profile/tokens/{kept}/regenerate");
    let res = app.submit(&regenerate, &regenerate, &[]).await;
    let secret = new_token_in(&res.text().await.unwrap());
    let res = shown(&app, &format!("/profile/tokens/{kept}/show")).await;
    assert_eq!(
        text_of(&res.text().await.unwrap(), "#shown-token").as_deref(),
        Some(secret.as_str())
    );
}

fn app_user_id(app: &TestApp, username: &str) -> i64 {
    app.db(|conn| {
        common::scalar(
            conn,
            &format!("SELECT id FROM users WHERE username = '{username}'"),
        )
    })
}

fn sealed_count(app: &TestApp) -> i64 {
    app.db(|conn| {
        common::scalar(
            conn,
            "SELECT COUNT(*) FROM tokens WHERE sealed_secret IS NOT NULL",
        )
    })
}

#[actix_web::test]
async fn regenerating_asks_first_and_can_keep_the_old_secret_for_a_while() {
    let (app, ada) = app_with_member("ada").await;
    app.grant(ada.id, "Introspector", "introspect");
    app.login_ok("ada").await;
    app.step_up().await;
    let (id, old) = app
        .new_access_token("deploy", &["devices:read", "introspect"])
        .await;
    let regenerate = format!("/profile/tokens/{id}/regenerate");

    // The list links to a confirmation that says what stops working, offers
    // the overlaps the policy allows and the lifetime kept.
    let list = app.get_html("/profile/tokens").await;
    assert!(list.contains(&format!("href=\"{regenerate}\"")));
    let page = app.get_html(&regenerate).await;
    assert!(page.contains("stops working"), "{page}");
    let offered: Vec<String> = common::option_values(&page, "overlap");
    assert_eq!(offered, ["0", "1h", "1d", "7d"]);
    // Keeping the lifetime is the first choice, and the line says its end,
    // in words (the date input's format is the browser's, so no YYYY-MM-DD).
    let kept = (chrono::Utc::now() + chrono::TimeDelta::days(30)).date_naive();
    assert_eq!(
        text_of(&page, "#regenerate-expires-in option[selected]").as_deref(),
        Some(format!("Keep its lifetime (until {})", kept.format("%-d %B %Y")).as_str()),
        "{page}"
    );
    assert_eq!(
        text_of(&page, "#regenerate-expiry-line"),
        Some(format!("Expires on {}.", kept.format("%A, %-d %B %Y"))),
    );

    // An hour of overlap: both secrets work, the old one on the record.
    let res = app
        .submit(&regenerate, &regenerate, &[("overlap", "1h")])
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let new = new_token_in(&res.text().await.unwrap());
    assert_eq!(app.api_me(&new).await.status(), StatusCode::OK);
    assert_eq!(app.api_me(&old).await.status(), StatusCode::OK);
    assert_eq!(app.api_me(&old).await.status(), StatusCode::OK);
    let uses = app.audit_rows("previous_secret_used");
    assert_eq!(uses.len(), 2, "every use of the old secret is recorded");
    let list = app.get_html("/profile/tokens").await;
    let note = text_of(&list, ".overlap-note").expect("the list shows the overlap");
    assert!(note.starts_with("Previous secret valid until"), "{note}");
    assert!(note.contains("last used"), "{note}");

    // Introspection of the old secret ends with the overlap; of the new, with the token.
    let old_says = introspect(&app, &new, &old).await;
    let new_says = introspect(&app, &new, &new).await;
    assert_eq!(old_says["active"], true, "{old_says}");
    let (old_exp, new_exp) = (
        old_says["exp"].as_i64().unwrap(),
        new_says["exp"].as_i64().unwrap(),
    );
    let in_an_hour = (chrono::Utc::now() + chrono::TimeDelta::hours(1)).timestamp();
    assert!(
        (old_exp - in_an_hour).abs() < 120,
        "{old_exp} vs {in_an_hour}"
    );
    assert!(new_exp > old_exp + 86_400, "{new_exp}");

    // Past the overlap only the new secret works.
    app.advance_clock(Duration::from_secs(2 * 3600));
    assert_eq!(app.api_me(&old).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(app.api_me(&new).await.status(), StatusCode::OK);
}

#[actix_web::test]
async fn revoking_ends_both_secrets() {
    let (app, _) = app_with_member("ada").await;
    app.login_ok("ada").await;
    app.step_up().await;
    let (id, old) = app.new_access_token("deploy", &["devices:read"]).await;
    let regenerate = format!("/profile/tokens/{id}/regenerate");
    let res = app
        .submit(&regenerate, &regenerate, &[("overlap", "1d")])
        .await;
    let new = new_token_in(&res.text().await.unwrap());
    assert_eq!(app.api_me(&old).await.status(), StatusCode::OK);
    let res = app.token_action(id, "revoke").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    for token in [&old, &new] {
        assert_eq!(app.api_me(token).await.status(), StatusCode::UNAUTHORIZED);
    }
}

#[actix_web::test]
async fn the_policy_caps_the_overlap_and_the_expiry() {
    let (app, _) = app_with_member("ada").await;
    app.set_settings("max_overlap_hours = 1");
    app.login_ok("ada").await;
    app.step_up().await;
    let (id, old) = app.new_access_token("deploy", &["devices:read"]).await;
    let regenerate = format!("/profile/tokens/{id}/regenerate");
    let page = app.get_html(&regenerate).await;
    assert_eq!(common::option_values(&page, "overlap"), ["0", "1h"]);

    for (fields, field, message) in [
        (
            [("overlap", "7d"), ("expires_at", "")],
            "#overlap-error",
            "The policy keeps an old secret working for at most 1 hour.",
        ),
        (
            [("overlap", "2w"), ("expires_at", "")],
            "#overlap-error",
            "Choose one of the offered overlaps.",
        ),
        (
            [("overlap", "0"), ("expires_at", "2001-01-01")],
            "#expires_at-error",
            "Choose a date after today.",
        ),
        (
            [("overlap", "0"), ("expires_at", "soon")],
            "#expires_at-error",
            "Enter the date as YYYY-MM-DD.",
        ),
    ] {
        let res = app.submit(&regenerate, &regenerate, &fields).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{fields:?}");
        let page = res.text().await.unwrap();
        assert_eq!(
            text_of(&page, field).as_deref(),
            Some(message),
            "{fields:?}"
        );
        assert_eq!(
            common::input_value(&page, "expires_at").as_deref(),
            Some(fields[1].1),
            "what was typed stays"
        );
    }
    assert_eq!(
        app.api_me(&old).await.status(),
        StatusCode::OK,
        "nothing changed"
    );
    assert!(app.audit_rows("token_regenerated").is_empty());

    // A chosen date within the policy is the new expiry.
    let date = date_in(10);
    let res = app
        .submit(
            &regenerate,
            &regenerate,
            &[("overlap", "0"), ("expires_at", &date)],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let new = new_token_in(&res.text().await.unwrap());
    let me: Value = app.api_me(&new).await.json().await.unwrap();
    assert!(
        me["expires_at"].as_str().unwrap().starts_with(&date),
        "{me}"
    );
    assert_eq!(app.api_me(&old).await.status(), StatusCode::UNAUTHORIZED);
}

#[actix_web::test]
async fn an_administrator_regenerates_an_api_token_after_confirming() {
    let (app, _) = admin_app().await;
    app.step_up().await;
    let ada = app.create_user("ada", false);
    let api = app.insert_token(ada.id, "api", "ERP", None);
    let regenerate = format!("/admin/tokens/{}/regenerate", api.id);
    let page = app.get_html(&regenerate).await;
    assert!(page.contains("Regenerate “ERP”?"), "{page}");
    let res = app
        .submit(&regenerate, &regenerate, &[("overlap", "1h")])
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let new = new_token_in(&res.text().await.unwrap());
    assert_ne!(new, api.token);
    // The inventory and the token's page both say how long the old one lasts.
    for page in ["/admin/tokens", &format!("/admin/tokens/{}", api.id)] {
        let html = app.get_html(page).await;
        let note = text_of(&html, ".overlap-note").expect("the overlap is shown");
        assert!(
            note.starts_with("Previous secret valid until"),
            "{page}: {note}"
        );
    }
    // A session is not regenerated here either way.
    let session = app.insert_token(ada.id, "session", "Phone", None);
    let res = app
        .get(&format!("/admin/tokens/{}/regenerate", session.id))
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
}

/// Regenerates at `path` with these fields: what `/api/v1/me` says of the new secret.
async fn regenerated_me(app: &TestApp, path: &str, fields: &[(&str, &str)]) -> Value {
    let res = app.submit(path, path, fields).await;
    assert_eq!(res.status(), StatusCode::OK, "{fields:?}");
    app.me(&new_token_in(&res.text().await.unwrap())).await.1
}

#[actix_web::test]
async fn regenerate_takes_a_preset_a_plain_date_or_keeps_the_lifetime() {
    let (app, _) = app_with_member("ada").await;
    app.login_ok("ada").await;
    app.step_up().await;
    let (id, _) = app.new_access_token("deploy", &["devices:read"]).await;
    let regenerate = format!("/profile/tokens/{id}/regenerate");
    let page = app.get_html(&regenerate).await;
    assert_eq!(
        common::selected_value(&page, "regenerate-expires-in").as_deref(),
        Some(""),
        "keeping the lifetime posts nothing"
    );
    assert_eq!(
        common::expiry_line_date(&page, "regenerate-expiry-line"),
        Some(common::utc_day_in(30))
    );

    // A preset.
    let me = regenerated_me(
        &app,
        &regenerate,
        &[("overlap", "0"), ("expires_in_days", "7")],
    )
    .await;
    let day = common::utc_day_in(7).format("%Y-%m-%d").to_string();
    assert!(me["expires_at"].as_str().unwrap().starts_with(&day), "{me}");

    // A plain date, as the form used to post it.
    let date = date_in(20);
    let me = regenerated_me(
        &app,
        &regenerate,
        &[("overlap", "0"), ("expires_at", &date)],
    )
    .await;
    assert_eq!(me["expires_at"], format!("{date}T23:59:59Z"), "{me}");

    // "Custom date…" without one: sent back, the choice kept, the error beside it.
    let res = app
        .submit(
            &regenerate,
            &regenerate,
            &[("overlap", "1h"), ("expires_in_days", "custom")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = res.text().await.unwrap();
    assert_eq!(
        text_of(&page, "input#regenerate-expires + #expires_at-error").as_deref(),
        Some("Choose an expiry, or enter a date.")
    );
    assert_eq!(
        common::selected_value(&page, "regenerate-expires-in").as_deref(),
        Some("custom")
    );
    assert_eq!(
        common::attr_of(&page, "input#regenerate-expires", "aria-invalid").as_deref(),
        Some("true")
    );

    // Nothing chosen keeps the lifetime: the 20 days of the date above.
    let res = app
        .submit(
            &regenerate,
            &regenerate,
            &[
                ("overlap", "0"),
                ("expires_in_days", ""),
                ("expires_at", ""),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let (_, me) = app.me(&new_token_in(&res.text().await.unwrap())).await;
    assert!(
        me["expires_at"].as_str().unwrap().starts_with(&date),
        "{me}"
    );
}
