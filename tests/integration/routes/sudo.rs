//! `/sudo`: the step-up before sensitive pages and actions. The password once
//! more, throttled and audited; ten minutes of elevation by the application's
//! clock; only local paths are followed afterwards; every route the table
//! marks is behind it, and so is making an administrator.

use crate::common;

use std::time::Duration;

use common::{
    PASSWORD, admin_app, app_with_member, csrf_in, location, spawn_app, text_of, urlencode,
};
use reqwest::StatusCode;
use tessera::routes::table::StepUp;

#[actix_web::test]
async fn the_password_again_elevates_the_session_for_ten_minutes() {
    let (app, ada) = app_with_member("ada").await;
    app.login_ok("ada").await;
    let client = app.new_client_token("BI").await;
    let show = format!("/profile/tokens/{}/show", client.0);

    // Signing in does not elevate: Show sends the user to /sudo first.
    let res = app.get(&show).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let sudo = location(res.headers()).to_owned();
    assert_eq!(sudo, format!("/sudo?next={}", show.replace('/', "%2F")));
    let page = app.get_html(&sudo).await;
    assert_eq!(
        common::input_value(&page, "next").as_deref(),
        Some(show.as_str())
    );

    // A wrong password: the form again, the message beside the field, audited.
    let res = app
        .submit(&sudo, "/sudo", &[("password", "not-it"), ("next", &show)])
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = res.text().await.unwrap();
    assert_eq!(
        text_of(&page, "#sudo-password-error").as_deref(),
        Some("This is not your password.")
    );
    assert_eq!(app.audit_rows("step_up_failure").len(), 1);
    let res = app.get(&show).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "still not elevated");

    // The right one: back to where it was going, audited, elevated.
    let res = app
        .submit(&sudo, "/sudo", &[("password", PASSWORD), ("next", &show)])
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(res.headers()), show);
    let rows = app.audit_rows("step_up");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].actor_name.as_deref(), Some(ada.username.as_str()));
    let res = app.submit(&show, &show, &[]).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        text_of(&res.text().await.unwrap(), "#shown-token").as_deref(),
        Some(client.1.as_str())
    );

    // Nine minutes on it still holds; eleven, and it has lapsed.
    app.advance_clock(Duration::from_secs(9 * 60));
    assert_eq!(app.get(&show).await.status(), StatusCode::OK);
    app.advance_clock(Duration::from_secs(2 * 60));
    assert_eq!(app.get(&show).await.status(), StatusCode::SEE_OTHER);
}

#[actix_web::test]
async fn only_local_paths_are_followed_after_the_step_up() {
    let (app, _) = app_with_member("ada").await;
    app.login_ok("ada").await;
    for next in ["https://evil.example/", "//evil.example/", "/\tevil"] {
        let res = app
            .submit("/sudo", "/sudo", &[("password", PASSWORD), ("next", next)])
            .await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{next}");
        assert_eq!(location(res.headers()), "/", "{next}");
    }
    // And only a signed-in user reaches it.
    let stranger = app.visitor();
    let res = stranger.get("/sudo").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(location(res.headers()).starts_with("/login"));
}

/// What `/sudo` is asked to come back to: `/sudo?next=…`.
fn sudo_for(next: &str) -> String {
    format!("/sudo?next={}", urlencode(next))
}

/// Every route the table marks, every method, as an administrator who signed
/// in but did not step up: to `/sudo`, which comes back to the page (for a
/// POST, the page that offers it), and nothing done. After the step-up every
/// page opens; eleven minutes on, and after signing out and in, `/sudo` again.
#[actix_web::test]
async fn every_marked_page_and_action_needs_the_step_up_first() {
    let app = spawn_app().await;
    let site = common::site::arrange(&app);
    app.login_ok("root").await;
    // A passkey of root's, put in after the sign-in it would add a step to
    // (and taken out again below, before the next sign-in).
    let root_id = app.db(|c| common::scalar(c, "SELECT id FROM users WHERE username = 'root'"));
    let passkey = app.db(|conn| {
        let new = tessera::db::passkeys::NewPasskey {
            user_id: root_id,
            name: "Key",
            credential_id: "step-up-walk",
            credential: "{}",
            passwordless: false,
            created_at: tessera::db::now(),
        };
        tessera::db::passkeys::insert(conn, &new).unwrap().id
    });
    let concrete = |path: &str| {
        let id = if path.starts_with("/admin/users/") {
            site.ada.id
        } else if path.starts_with("/admin/") {
            site.api.id
        } else if path.starts_with("/profile/security/passkeys/") {
            passkey
        } else {
            site.client.id
        };
        path.replace("{id}", &id.to_string())
    };
    let marked: Vec<_> = tessera::routes::table(None)
        .into_iter()
        .filter_map(|route| Some((route.path, route.step_up?, route.endpoints)))
        .collect();
    let mut paths: Vec<&str> = marked.iter().map(|(path, ..)| *path).collect();
    paths.sort_unstable();
    // SPEC §9's list, as routes: removing a mark fails here.
    for needed in [
        "/admin/settings",
        "/admin/tokens/{id}/regenerate",
        "/admin/tokens/{id}/show",
        "/profile/password",
        "/profile/tokens/{id}/regenerate",
        "/profile/tokens/{id}/show",
        "/profile/security/totp/disable",
        "/admin/users/{id}/second-factors/reset",
    ] {
        assert!(paths.contains(&needed), "{needed} is not marked: {paths:?}");
    }

    let csrf = csrf_in(&app.get_html("/profile/tokens").await);
    let audit_rows = || app.count("audit_events");
    let before = audit_rows();
    let mut pages = Vec::new();
    for (pattern, back, endpoints) in &marked {
        let path = concrete(pattern);
        for endpoint in endpoints {
            let (res, back) = match endpoint.method.as_str() {
                "GET" => (app.get(&path).await, path.clone()),
                "POST" => {
                    let res = app.post_form(&path, &[("csrf_token", &csrf)]).await;
                    let back = match back {
                        StepUp::Here => path.clone(),
                        StepUp::Page(page) => (*page).to_owned(),
                    };
                    (res, back)
                }
                other => panic!("{other} {pattern}: a method the step-up walk does not know"),
            };
            assert_eq!(
                res.status(),
                StatusCode::SEE_OTHER,
                "{} {path}",
                endpoint.method
            );
            assert_eq!(
                location(res.headers()),
                sudo_for(&back),
                "{} {path}",
                endpoint.method
            );
            pages.push(back);
        }
    }
    assert_eq!(audit_rows(), before, "nothing was done without the step-up");

    // The step-up comes back where it was sent from, and every page opens.
    let settings = "/admin/settings";
    let res = app
        .submit(
            &sudo_for(settings),
            "/sudo",
            &[("password", PASSWORD), ("next", settings)],
        )
        .await;
    assert_eq!(location(res.headers()), settings);
    for page in &pages {
        assert_eq!(app.get(page).await.status(), StatusCode::OK, "GET {page}");
    }
    app.db(|conn| tessera::db::passkeys::delete_all(conn, root_id).unwrap());

    // The elevation lapses after ten minutes, and ends with the session.
    app.advance_clock(Duration::from_secs(11 * 60));
    assert_eq!(app.get(settings).await.status(), StatusCode::SEE_OTHER);
    app.step_up().await;
    assert_eq!(app.get(settings).await.status(), StatusCode::OK);
    app.logout().await;
    app.login_ok("root").await;
    let res = app.get(settings).await;
    assert_eq!(
        location(res.headers()),
        sudo_for(settings),
        "signing in does not elevate"
    );
    // Nor does signing in over an elevated session carry its elevation over.
    app.step_up().await;
    let csrf = csrf_in(&app.get_html("/profile").await);
    assert_eq!(
        app.post_login("ada", &csrf).await.status(),
        StatusCode::SEE_OTHER
    );
    let show = format!("/profile/tokens/{}/show", site.ada_client.id);
    assert_eq!(location(app.get(&show).await.headers()), sudo_for(&show));
}

/// Making an administrator, by creating one or promoting a user, needs the
/// step-up; creating a user, or editing one, does not.
#[actix_web::test]
async fn making_an_administrator_needs_the_step_up() {
    let (app, _) = admin_app().await;
    let ada = app.create_user("ada", false);
    let new_user = |name: &'static str, admin: bool| {
        let mut fields = vec![
            ("username", name),
            ("email", "someone@example.com"),
            ("display_name", name),
            ("initial", "password"),
            ("password", "lilac tractor umbrella 1987 quartz"),
        ];
        if admin {
            fields.push(("is_admin", "on"));
        }
        fields
    };
    let is_admin = |name: &str| {
        app.db(|conn| {
            common::scalar(
                conn,
                &format!("SELECT COUNT(*) FROM users WHERE username = '{name}' AND is_admin"),
            )
        }) == 1
    };

    let res = app
        .submit("/admin/users/new", "/admin/users", &new_user("grace", true))
        .await;
    assert_eq!(location(res.headers()), sudo_for("/admin/users/new"));
    assert_eq!(app.count("users"), 2, "nobody was created");
    let res = app
        .submit("/admin/users/new", "/admin/users", &new_user("alan", false))
        .await;
    assert_eq!(
        res.status(),
        StatusCode::SEE_OTHER,
        "{}",
        res.text().await.unwrap()
    );
    assert!(location(res.headers()).starts_with("/admin/users/"));
    assert!(!is_admin("alan"));

    let page = format!("/admin/users/{}", ada.id);
    let edit = |admin: bool| {
        let mut fields = vec![("email", "ada@example.com"), ("display_name", "Ada L.")];
        if admin {
            fields.push(("is_admin", "on"));
        }
        fields
    };
    let res = app.submit(&page, &page, &edit(true)).await;
    assert_eq!(location(res.headers()), sudo_for(&page));
    assert!(!is_admin("ada"), "not promoted without the step-up");
    let res = app.submit(&page, &page, &edit(false)).await;
    assert_eq!(location(res.headers()), page, "an edit needs none");

    app.step_up().await;
    let res = app.submit(&page, &page, &edit(true)).await;
    assert_eq!(location(res.headers()), page);
    assert!(is_admin("ada"));
    let res = app
        .submit("/admin/users/new", "/admin/users", &new_user("grace", true))
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(is_admin("grace"));
}
