//! `/admin/users`: creating, editing, disabling and enabling users, their
//! memberships, set-password links and bulk revocation of what they hold; and
//! what holds across the admin pages (refused to non-administrators, hostile
//! values escaped, links that start with the public URL).

use crate::common;

use common::{
    PASSWORD, admin_app, app_with_user, csrf_in, location, refused_page, spawn_app_with, text_of,
};
use reqwest::StatusCode;

#[actix_web::test]
async fn non_admins_are_refused_everywhere() {
    let (app, ada) = app_with_user("ada").await;
    app.login_ok("ada").await;
    for path in [
        "/admin/users",
        "/admin/users/new",
        &format!("/admin/users/{}", ada.id),
        "/admin/settings",
        "/admin/audit",
        "/admin/audit.csv",
    ] {
        assert_eq!(
            app.get(path).await.status(),
            StatusCode::FORBIDDEN,
            "GET {path}"
        );
    }
    let csrf = common::csrf_in(&app.get_html("/profile").await);
    for path in [
        "/admin/users".to_owned(),
        format!("/admin/users/{}", ada.id),
        format!("/admin/users/{}/disable", ada.id),
        format!("/admin/users/{}/memberships", ada.id),
        "/admin/settings".into(),
    ] {
        let res = app
            .post_form(
                &path,
                &[
                    ("csrf_token", &csrf),
                    ("is_admin", "on"),
                    ("email", "x@example.com"),
                    ("display_name", "x"),
                ],
            )
            .await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "POST {path}");
    }
    let ada_now = app.db(|c| tessera::db::users::find(c, ada.id)).unwrap();
    assert!(!ada_now.is_admin && ada_now.is_active());
}

#[actix_web::test]
async fn create_a_user_who_can_then_sign_in() {
    let (app, _) = admin_app().await;
    let page = refused_page(
        app.submit(
            "/admin/users/new",
            "/admin/users",
            &[
                ("username", "root"),
                ("email", "bad"),
                ("display_name", ""),
                ("password", "short"),
            ],
        )
        .await,
    )
    .await;
    assert!(text_of(&page, "#email-error").is_some());
    assert_eq!(
        common::input_value(&page, "username").as_deref(),
        Some("root"),
        "what was typed comes back"
    );
    assert!(text_of(&page, "#password-error").is_some());

    // A common password, or one built on the person's own name, is refused
    // beside the field, and nobody is created.
    let grace = |password| {
        [
            ("username", "grace"),
            ("email", "grace@example.com"),
            ("display_name", "Grace Hopper"),
            ("password", password),
        ]
    };
    for (password, message) in [
        ("password", tessera::domain::account::TOO_COMMON),
        ("qwerty123", tessera::domain::account::TOO_COMMON),
        ("grace@example.com", tessera::domain::account::TOO_EASY),
    ] {
        let page = refused_page(
            app.submit("/admin/users/new", "/admin/users", &grace(password))
                .await,
        )
        .await;
        assert_eq!(
            text_of(&page, "input#new-password + #password-error").as_deref(),
            Some(message),
            "{password}"
        );
        assert_eq!(
            common::input_value(&page, "username").as_deref(),
            Some("grace")
        );
    }
    assert_eq!(app.audit("user_created").len(), 0);

    let res = app
        .submit("/admin/users/new", "/admin/users", &grace(PASSWORD))
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(location(res.headers()).starts_with("/admin/users/"));
    assert!(
        app.get_html("/admin/users?q=hopper")
            .await
            .contains("grace@example.com")
    );
    assert_eq!(app.audit("user_created").len(), 1);
    assert_eq!(
        app.visitor().login("grace", PASSWORD).await.status(),
        StatusCode::SEE_OTHER
    );
}

#[actix_web::test]
async fn disabling_a_user_stops_their_sessions_and_tokens_at_once() {
    let (app, _) = admin_app().await;
    let ada = app.create_user("ada", false);
    app.grant(ada.id, "Field", "devices:read");
    let t = app.insert_token(ada.id, "personal", "ci", None);
    let s = app.insert_token(ada.id, "session", "Phone", None);
    let browser = app.visitor();
    browser.login_ok("ada").await;
    assert_eq!(app.api_me(&t.token).await.status(), StatusCode::OK);

    let page = format!("/admin/users/{}", ada.id);
    let res = app
        .submit(&page, &format!("/admin/users/{}/disable", ada.id), &[])
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        browser.get("/profile").await.status(),
        StatusCode::SEE_OTHER,
        "web session ended"
    );
    assert_eq!(
        app.api_me(&t.token).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.api_me(&s.token).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(app.audit("user_disabled").len(), 1);

    app.submit(&page, &format!("/admin/users/{}/enable", ada.id), &[])
        .await;
    assert_eq!(app.api_me(&t.token).await.status(), StatusCode::OK);
}

#[actix_web::test]
async fn disabling_a_user_asks_first() {
    let (app, root) = admin_app().await;
    let ada = app.create_user("ada", false);
    let page = format!("/admin/users/{}", ada.id);
    let disable = format!("{page}/disable");

    // The user's page offers a link to the question, not a button that does it.
    let html = app.get_html(&page).await;
    let doc = scraper::Html::parse_document(&html);
    let link = scraper::Selector::parse(&format!("a[href=\"{disable}\"]")).unwrap();
    assert_eq!(
        doc.select(&link)
            .next()
            .map(|a| a.text().collect::<String>()),
        Some("Disable".to_owned())
    );
    let form = scraper::Selector::parse(&format!("form[action=\"{disable}\"]")).unwrap();
    assert!(
        doc.select(&form).next().is_none(),
        "no form that disables at once"
    );

    // The question: what happens, a red button that posts, Cancel focused.
    let question = app.get_html(&disable).await;
    assert_eq!(text_of(&question, "h1").as_deref(), Some("Disable ada?"));
    assert!(question.contains("stops working"), "{question}");
    let doc = scraper::Html::parse_document(&question);
    let confirm = scraper::Selector::parse("form.confirm button.danger").unwrap();
    assert_eq!(
        doc.select(&confirm)
            .next()
            .map(|b| b.text().collect::<String>()),
        Some("Disable".to_owned())
    );
    let cancel = scraper::Selector::parse("a[autofocus]").unwrap();
    let cancel = doc.select(&cancel).next().expect("a focused link");
    assert_eq!(cancel.text().collect::<String>(), "Cancel");
    assert_eq!(cancel.value().attr("href"), Some(page.as_str()));
    assert!(
        app.audit("user_disabled").is_empty(),
        "asking changes nothing"
    );

    // Confirming disables.
    let res = app.submit(&disable, &disable, &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(res.headers()), page);
    assert_eq!(app.audit("user_disabled").len(), 1);

    // There is nothing to ask about one's own account.
    let own = format!("/admin/users/{}/disable", root.id);
    let res = app.get(&own).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(res.headers()), format!("/admin/users/{}", root.id));
}

#[actix_web::test]
async fn an_admin_cannot_lock_themselves_out() {
    let (app, root) = admin_app().await;
    let page = format!("/admin/users/{}", root.id);
    app.submit(&page, &format!("/admin/users/{}/disable", root.id), &[])
        .await;
    let res = app
        .submit(
            &page,
            &page,
            &[("email", "root@example.com"), ("display_name", "Root")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let me = app.db(|c| tessera::db::users::find(c, root.id)).unwrap();
    assert!(me.is_admin && me.is_active());
    assert_eq!(app.get("/admin").await.status(), StatusCode::OK);
}

#[actix_web::test]
async fn memberships_grant_scopes_and_removal_narrows_tokens() {
    let (app, _) = admin_app().await;
    let ada = app.create_user("ada", false);
    let (department, user_type) = app.db(|conn| {
        let d = tessera::db::departments::create(conn, "Finance", "").unwrap();
        let t = tessera::db::user_types::create(conn, "BI", "", "collections:read").unwrap();
        (d, t)
    });
    let page = format!("/admin/users/{}", ada.id);
    let (d, t) = (department.to_string(), user_type.to_string());
    let res = app
        .submit(
            &page,
            &format!("/admin/users/{}/memberships", ada.id),
            &[("department_id", &d), ("user_type_id", &t)],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let html = app.get_html(&page).await;
    assert!(html.contains("Finance") && html.contains("BI"));

    let token = app.insert_token(ada.id, "personal", "ci", None);
    app.db(|conn| {
        use diesel::prelude::*;
        use tessera::db::schema::tokens::dsl as tk;
        diesel::update(tk::tokens.find(token.id))
            .set(tk::scopes.eq("collections:read"))
            .execute(conn)
    })
    .unwrap();
    let me: serde_json::Value = app.api_me(&token.token).await.json().await.unwrap();
    assert_eq!(me["scopes"], serde_json::json!(["collections:read"]));

    let membership = format!("{department}:{user_type}");
    app.submit(
        &page,
        &format!("/admin/users/{}/memberships/remove", ada.id),
        &[("membership", &membership)],
    )
    .await;
    let me: serde_json::Value = app.api_me(&token.token).await.json().await.unwrap();
    assert_eq!(me["scopes"], serde_json::json!([]));
    assert_eq!(app.audit("membership_added").len(), 1);
    assert_eq!(app.audit("membership_removed").len(), 1);
}

/// The hidden fields of the user page's form whose button says "Delete all",
/// in the section with this heading, as a browser posts them.
fn revoke_all_form(page: &str, heading: &str) -> Vec<(String, String)> {
    let doc = scraper::Html::parse_document(page);
    let sections = scraper::Selector::parse("section").unwrap();
    let h2 = scraper::Selector::parse("h2").unwrap();
    let form = scraper::Selector::parse("form[action=\"/admin/tokens/bulk-revoke\"]").unwrap();
    let fields = scraper::Selector::parse("input[type=hidden], button[name]").unwrap();
    let section = doc
        .select(&sections)
        .find(|s| {
            s.select(&h2)
                .next()
                .is_some_and(|h| h.text().collect::<String>() == heading)
        })
        .unwrap_or_else(|| panic!("a section {heading}"));
    let form = section.select(&form).next().expect("its Delete all form");
    let button = scraper::Selector::parse("button").unwrap();
    assert_eq!(
        form.select(&button)
            .next()
            .unwrap()
            .text()
            .collect::<String>(),
        "Delete all"
    );
    form.select(&fields)
        .map(|i| {
            (
                i.value().attr("name").unwrap().to_owned(),
                i.value().attr("value").unwrap_or("").to_owned(),
            )
        })
        .collect()
}

/// Posts `form` to the confirmation, checks its heading, confirms with the
/// form it renders; returns the confirm response.
async fn confirm_revoke(
    app: &common::TestApp,
    form: &[(String, String)],
    heading: &str,
) -> reqwest::Response {
    let res = app.post("/admin/tokens/bulk-revoke", form).await;
    assert_eq!(res.status(), StatusCode::OK);
    let confirm = res.text().await.unwrap();
    assert_eq!(text_of(&confirm, "h1").as_deref(), Some(heading));
    let form = common::hidden_fields(&confirm, "form.confirm input[type=hidden]");
    app.client
        .post(app.url("/admin/tokens/bulk-revoke/confirm"))
        .form(&form)
        .send()
        .await
        .unwrap()
}

#[actix_web::test]
async fn revoke_all_of_a_users_tokens() {
    let (app, _) = admin_app().await;
    let ada = app.create_user("ada", false);
    let bob = app.create_user("bob", false);
    let ada_tokens: Vec<_> = (0..3)
        .map(|i| app.insert_token(ada.id, "personal", &format!("t{i}"), None))
        .collect();
    let ada_session = app.insert_token(ada.id, "session", "Phone", None);
    let bobs = app.insert_token(bob.id, "personal", "keep", None);
    // In use before (and so remembered by the server).
    for t in ada_tokens.iter().chain([&ada_session, &bobs]) {
        assert_eq!(app.api_me(&t.token).await.status(), StatusCode::OK);
    }
    let page = app.get_html(&format!("/admin/users/{}", ada.id)).await;
    let form = revoke_all_form(&page, "Tokens");
    let res = confirm_revoke(&app, &form, "Delete 3 tokens?").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    // Refused right after the confirm response.
    app.assert_refused(&ada_tokens).await;
    assert!(ada_tokens.iter().all(|t| app.is_revoked(t.id)));
    // Not their mobile session, nor anyone else's tokens.
    assert_eq!(
        app.api_me(&ada_session.token).await.status(),
        StatusCode::OK
    );
    assert_eq!(app.api_me(&bobs.token).await.status(), StatusCode::OK);
    assert!(!app.is_revoked(bobs.id) && !app.is_revoked(ada_session.id));
}

#[actix_web::test]
async fn revoke_all_of_a_users_mobile_sessions() {
    let (app, _) = admin_app().await;
    let ada = app.create_user("ada", false);
    let bob = app.create_user("bob", false);
    let ada_sessions: Vec<_> = ["Phone", "Tablet"]
        .into_iter()
        .map(|device| app.insert_token(ada.id, "session", device, None))
        .collect();
    let ada_token = app.insert_token(ada.id, "personal", "laptop", None);
    let bob_session = app.insert_token(bob.id, "session", "Phone", None);
    for t in ada_sessions.iter().chain([&ada_token, &bob_session]) {
        assert_eq!(app.api_me(&t.token).await.status(), StatusCode::OK);
    }
    let page = app.get_html(&format!("/admin/users/{}", ada.id)).await;
    let form = revoke_all_form(&page, "Mobile sessions");
    let res = confirm_revoke(&app, &form, "Delete 2 tokens?").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(location(res.headers()).starts_with("/admin/tokens?tab=sessions"));
    for t in &ada_sessions {
        assert_eq!(
            app.api_me(&t.token).await.status(),
            StatusCode::UNAUTHORIZED,
            "session {}",
            t.id
        );
        assert!(app.is_revoked(t.id));
    }
    // Only that user's sessions: not their token, nor another user's session.
    assert_eq!(app.api_me(&ada_token.token).await.status(), StatusCode::OK);
    assert_eq!(
        app.api_me(&bob_session.token).await.status(),
        StatusCode::OK
    );
    assert!(!app.is_revoked(ada_token.id) && !app.is_revoked(bob_session.id));
    let page = app.get_html(&format!("/admin/users/{}", ada.id)).await;
    assert!(page.contains("No mobile sessions."));
}

#[actix_web::test]
async fn hostile_user_fields_are_escaped() {
    let (app, _) = admin_app().await;
    let payload = "<img src=x onerror=alert(1)>";
    let ada = app.create_user("ada", false);
    app.db(|conn| {
        let changes = tessera::db::users::UserChanges {
            email: "ada@example.com",
            display_name: payload,
            is_admin: false,
            updated_at: tessera::db::now(),
        };
        tessera::db::users::update(conn, ada.id, &changes)
    })
    .unwrap();
    for path in [
        "/admin/users".to_owned(),
        format!("/admin/users/{}", ada.id),
        "/admin/audit".into(),
    ] {
        let page = app.get_html(&path).await;
        assert!(!page.contains("<img src=x"), "{path}");
    }
    let res = app
        .submit(
            "/admin/users/new",
            "/admin/users",
            &[("username", "x"), ("email", payload), ("password", "short")],
        )
        .await;
    assert!(!res.text().await.unwrap().contains("<img src=x"));
}

/// The code in a set-password link shown on a page.
fn link_code(html: &str) -> String {
    let link = text_of(html, "#password-link").expect("the page shows the link");
    let (_, code) = link
        .split_once("/set-password?code=")
        .unwrap_or_else(|| panic!("a set-password link: {link}"));
    code.to_owned()
}

#[actix_web::test]
async fn a_user_created_with_a_link_sets_their_own_password() {
    let (app, root) = admin_app().await;
    let res = app
        .submit(
            "/admin/users/new",
            "/admin/users",
            &[
                ("username", "grace"),
                ("email", "grace@example.com"),
                ("display_name", "Grace Hopper"),
                ("initial", "link"),
                ("password", ""),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK, "the link is shown at once");
    assert_eq!(res.headers()["cache-control"], "no-store");
    let page = res.text().await.unwrap();
    let code = link_code(&page);
    assert!(code.len() >= 32, "{code}");
    let grace = app
        .db(|c| tessera::db::users::find_by_username(c, "grace"))
        .unwrap()
        .expect("grace exists");
    assert!(grace.is_active() && !grace.is_admin);
    assert!(
        !app.database_dump().contains(&code),
        "only the code's hash is stored"
    );
    let issued = app.audit_rows("password_link_issued");
    assert_eq!(issued.len(), 1);
    assert_eq!(issued[0].actor_name.as_deref(), Some("root"));
    assert_eq!(issued[0].target_id, Some(grace.id));
    assert_eq!(app.audit("user_created").len(), 1);
    assert!(
        app.audit_rows("password_link_issued")
            .iter()
            .all(|r| !format!("{r:?}").contains(&code)),
        "no code in audit rows"
    );
    let _ = root;

    // The person opens the link in their own browser, not signed in.
    let grace_browser = app.visitor();
    let link = format!("/set-password?code={code}");
    let res = grace_browser.get(&link).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["cache-control"], "no-store");
    assert_eq!(res.headers()["referrer-policy"], "no-referrer");
    let form = res.text().await.unwrap();
    assert_eq!(text_of(&form, "h1").as_deref(), Some("Set your password"));
    assert!(form.contains("grace"));

    // A too short or a common password comes back beside the field, the code
    // kept and the link still good for a better one.
    for (refused, message) in [
        ("short", "Use at least 8 characters."),
        ("12345678", tessera::domain::account::TOO_COMMON),
    ] {
        let page = refused_page(
            grace_browser
                .submit(
                    &link,
                    "/set-password",
                    &[("code", &code), ("new_password", refused)],
                )
                .await,
        )
        .await;
        assert_eq!(
            text_of(&page, "input#new_password + #new_password-error").as_deref(),
            Some(message)
        );
        assert_eq!(
            common::input_value(&page, "code").as_deref(),
            Some(code.as_str())
        );
    }
    // Without the CSRF token nothing happens.
    let res = grace_browser
        .post_form(
            "/set-password",
            &[("code", &code), ("new_password", "a fine new password")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);

    let res = grace_browser
        .submit(
            &link,
            "/set-password",
            &[("code", &code), ("new_password", "a fine new password")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(res.headers()), "/login");
    assert!(
        grace_browser
            .get_html("/login")
            .await
            .contains("Your password is set")
    );
    assert_eq!(
        grace_browser
            .login("grace", "a fine new password")
            .await
            .status(),
        StatusCode::SEE_OTHER,
        "grace signs in with the password she chose"
    );
    let set = app.audit_rows("password_set");
    assert_eq!(set.len(), 1);
    assert_eq!(set[0].actor_name.as_deref(), Some("grace"));
    assert!(!app.database_dump().contains("a fine new password"));

    // The link is burnt; a wrong or expired one gets a clear page, never a 500.
    let stranger = app.visitor();
    let res = stranger.get(&link).await;
    assert_eq!(res.status(), StatusCode::GONE);
    let page = res.text().await.unwrap();
    assert_eq!(
        text_of(&page, "h1").as_deref(),
        Some("This link cannot be used")
    );
    assert!(page.contains("already been used"));
    let res = stranger
        .submit(
            "/login",
            "/set-password",
            &[("code", &code), ("new_password", "taken over by me")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::GONE);
    assert_eq!(
        app.visitor()
            .login("grace", "taken over by me")
            .await
            .status(),
        StatusCode::OK,
        "the used code changed nothing"
    );
    for bad in ["", "nonsense", &"A".repeat(32), "<script>alert(1)</script>"] {
        let res = stranger
            .client
            .get(stranger.url("/set-password"))
            .query(&[("code", bad)])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{bad}");
        let page = res.text().await.unwrap();
        assert!(page.contains("not valid") && !page.contains("<script>alert"));
    }
    let refused = app.audit_rows("password_code_refused");
    assert!(refused.len() >= 6, "{refused:?}");
    assert!(
        refused
            .iter()
            .any(|r| r.detail.as_deref() == Some("used") && r.target_id == Some(grace.id))
    );
    assert!(
        refused
            .iter()
            .any(|r| r.detail.as_deref() == Some("unknown"))
    );
}

#[actix_web::test]
async fn an_admin_issues_a_fresh_link_and_old_or_expired_ones_stop_working() {
    let (app, _) = admin_app().await;
    let ada = app.create_user("ada", false);
    let page = format!("/admin/users/{}", ada.id);
    let action = format!("/admin/users/{}/password-link", ada.id);
    assert!(app.get_html(&page).await.contains(&action));
    let res = app.submit(&page, &action, &[]).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let first = link_code(&res.text().await.unwrap());
    let second = link_code(&app.submit(&page, &action, &[]).await.text().await.unwrap());
    assert_ne!(first, second);
    assert_eq!(app.audit("password_link_issued").len(), 2);

    let visitor = app.visitor();
    let res = visitor.get(&format!("/set-password?code={first}")).await;
    assert_eq!(
        res.status(),
        StatusCode::NOT_FOUND,
        "replaced by the newer link"
    );

    // Seven days later the newest one has expired too.
    app.db(|conn| {
        use diesel::prelude::*;
        use tessera::db::schema::password_codes::dsl as pc;
        diesel::update(pc::password_codes)
            .set(pc::expires_at.eq(tessera::db::now() - chrono::TimeDelta::minutes(1)))
            .execute(conn)
    })
    .unwrap();
    let res = visitor.get(&format!("/set-password?code={second}")).await;
    assert_eq!(res.status(), StatusCode::GONE);
    assert!(res.text().await.unwrap().contains("expired"));
    let res = visitor
        .submit(
            "/login",
            "/set-password",
            &[("code", &second), ("new_password", "too late for this")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::GONE);
    assert_eq!(
        visitor.login("ada", PASSWORD).await.status(),
        StatusCode::SEE_OTHER,
        "the old password still works"
    );
    let refused = app.audit_rows("password_code_refused");
    assert!(
        refused
            .iter()
            .any(|r| r.detail.as_deref() == Some("expired"))
    );
    // Non-administrators cannot issue links.
    let other = app.visitor();
    let bob = app.create_user("bob", false);
    other.login_ok("bob").await;
    let res = other
        .submit(
            "/profile",
            &format!("/admin/users/{}/password-link", bob.id),
            &[],
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
}

#[actix_web::test]
async fn editing_and_enabling_users_is_audited() {
    let (app, _) = admin_app().await;
    let ada = app.create_user("ada", false);
    let page = format!("/admin/users/{}", ada.id);
    let res = app
        .submit(
            &page,
            &page,
            &[
                ("email", "ada@lovelace.example"),
                ("display_name", "Ada L."),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let updated = app.audit_rows("user_updated");
    assert_eq!(updated.len(), 1);
    assert_eq!(updated[0].actor_name.as_deref(), Some("root"));
    assert_eq!(updated[0].target_id, Some(ada.id));
    assert_eq!(updated[0].detail.as_deref(), Some("details changed"));

    app.submit(&page, &format!("/admin/users/{}/disable", ada.id), &[])
        .await;
    let res = app
        .submit(&page, &format!("/admin/users/{}/enable", ada.id), &[])
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let enabled = app.audit_rows("user_enabled");
    assert_eq!(enabled.len(), 1);
    assert_eq!(enabled[0].actor_name.as_deref(), Some("root"));
    assert_eq!(enabled[0].target_id, Some(ada.id));
    assert!(
        app.db(|c| tessera::db::users::find(c, ada.id))
            .unwrap()
            .is_active()
    );
}

#[actix_web::test]
async fn removing_the_admin_flag_narrows_their_tokens_at_the_next_request() {
    let (app, _) = admin_app().await;
    let ada = app.create_user("ada", true);
    // An API token tied to a department & user type ada does not hold: as an
    // administrator she holds everything, so it has the type's scopes.
    let (department, user_type) = app.db(|conn| {
        let d = tessera::db::departments::create(conn, "Ops", "").unwrap();
        let t = tessera::db::user_types::create(conn, "Operator", "", "devices:write users:write")
            .unwrap();
        (d, t)
    });
    let api = app.insert_token(ada.id, "api", "ERP", Some((department, user_type)));
    // Used right before the change, so that the server has it in memory.
    let me: serde_json::Value = app.api_me(&api.token).await.json().await.unwrap();
    assert_eq!(
        me["scopes"],
        serde_json::json!(["devices:write", "users:write"])
    );

    let page = format!("/admin/users/{}", ada.id);
    let res = app
        .submit(
            &page,
            &page,
            &[("email", "ada@example.com"), ("display_name", "Ada")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(
        !app.db(|c| tessera::db::users::find(c, ada.id))
            .unwrap()
            .is_admin
    );
    let me: serde_json::Value = app.api_me(&api.token).await.json().await.unwrap();
    assert_eq!(
        me["scopes"],
        serde_json::json!([]),
        "without the flag she holds nothing of that user type"
    );
    let updated = app.audit_rows("user_updated");
    assert_eq!(
        updated[0].detail.as_deref(),
        Some("administrator role removed")
    );
}

/// Whether a page shows `<img src=x …` as text (escaped), whichever entity
/// the template engine uses for `<`.
fn shown_escaped(html: &str) -> bool {
    html.contains("&lt;img src=x") || html.contains("&#60;img src=x")
}

#[actix_web::test]
async fn hostile_values_are_escaped_on_sessions_settings_audit_and_user_pages() {
    let (app, root) = admin_app().await;
    app.step_up().await;
    let payload = "<img src=x onerror=alert(1)>";
    let ada = app.create_user("ada", false);
    let session = app.insert_token(ada.id, "session", "Phone", None);
    app.db(|c| {
        use diesel::prelude::*;
        use tessera::db::schema::tokens::dsl as t;
        diesel::update(t::tokens.find(session.id))
            .set(t::device_name.eq(payload))
            .execute(c)
    })
    .unwrap();
    let hostile = app.insert_token(ada.id, "personal", payload, None);
    // Audit rows with hostile labels, actor names and details.
    app.db(|conn| {
        let actor = tessera::db::audit::Actor {
            username: Some(payload.into()),
            ip: Some(payload.into()),
            user_agent: Some(payload.into()),
            ..Default::default()
        };
        use tessera::db::audit::{AuditAction, Event, Outcome, TargetType};
        let event = Event::new(AuditAction::LoginFailure, Outcome::Failure)
            .target(TargetType::Token, Some(hostile.id), Some(payload))
            .detail(payload);
        tessera::db::audit::record(conn, &actor, &event)?;
        let event = Event::new(AuditAction::UserUpdated, Outcome::Success).target(
            TargetType::User,
            Some(ada.id),
            Some(payload),
        );
        tessera::db::audit::record(conn, &actor, &event)
    })
    .unwrap();
    let res = app.save_settings(&[("tenant_id", payload)]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);

    for path in [
        "/admin/tokens?tab=sessions".to_owned(),
        format!("/admin/tokens/{}", session.id),
        "/admin/settings".into(),
        format!("/admin/tokens/{}", hostile.id),
        "/admin/audit".into(),
        "/admin/audit?action=login_failure".into(),
        format!("/admin/audit?token={}", hostile.id),
        format!("/admin/users/{}", ada.id),
        "/admin".into(),
    ] {
        let page = app.get_html(&path).await;
        assert!(!page.contains("<img src=x"), "{path}");
        assert!(shown_escaped(&page), "{path} shows the value, escaped");
    }
    let csv = app.get("/admin/audit.csv").await.text().await.unwrap();
    assert!(csv.contains(payload), "CSV is data, not HTML");

    // The bulk confirmation page, by ids and by a filter.
    let ids = [hostile.id.to_string(), session.id.to_string()];
    let res = app
        .submit(
            "/admin/tokens",
            "/admin/tokens/bulk-revoke",
            &[("tab", "api"), ("ids", &ids[0]), ("ids", &ids[1])],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let page = res.text().await.unwrap();
    assert!(!page.contains("<img src=x") && shown_escaped(&page));
    let res = app
        .submit(
            "/admin/tokens",
            "/admin/tokens/bulk-revoke",
            &[("tab", "api"), ("q", payload), ("all_matching", "1")],
        )
        .await;
    let page = res.text().await.unwrap();
    assert_eq!(text_of(&page, "h1").as_deref(), Some("Delete 1 token?"));
    assert!(!page.contains("<img src=x") && shown_escaped(&page));
    let _ = root;
}

/// Every absolute URL a page shows starts with the public URL: the configured
/// one, or without one the URL derived from the bind address, whatever `Host`,
/// `X-Forwarded-Host` or `Forwarded` say (anyone can send those).
#[actix_web::test]
async fn links_start_with_the_public_url_whatever_the_headers_say() {
    use tessera::domain::origin::PublicUrl;
    for configured in [None, Some("https://tessera.example.org")] {
        let app = spawn_app_with(|config| {
            config.public_url = configured.map(|url| PublicUrl::parse(url).unwrap());
        })
        .await;
        let expected = configured.map_or_else(|| app.address.clone(), str::to_owned);
        app.create_user("root", true);
        app.login_ok("root").await;
        let ada = app.create_user("ada", false);
        let (dept, user_type) = app.grant(ada.id, "Field integrator", "devices:read");
        let api = app.insert_token(ada.id, "api", "ERP", Some((dept, user_type)));
        let forged = |request: reqwest::RequestBuilder| {
            request
                .header("X-Forwarded-Host", "evil.example")
                .header("X-Forwarded-Proto", "http")
                .header("Forwarded", "host=evil.example;proto=http")
        };
        let csrf = csrf_in(&app.get_html(&format!("/admin/users/{}", ada.id)).await);
        let res = forged(
            app.client
                .post(app.url(&format!("/admin/users/{}/password-link", ada.id))),
        )
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let page = res.text().await.unwrap();
        let link = text_of(&page, "#password-link").unwrap();
        assert!(
            link.starts_with(&format!("{expected}/set-password?code=")),
            "{link}"
        );
        let detail = forged(
            app.client
                .get(app.url(&format!("/admin/tokens/{}", api.id))),
        )
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
        assert!(
            detail.contains(&format!("{expected}/api/v1/me")),
            "the curl line"
        );
        for shown in [page, detail] {
            assert!(!shown.contains("evil.example"));
        }
    }
}
