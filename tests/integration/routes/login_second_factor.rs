//! `/login/second-factor`: after a right password, a user with a second
//! factor is not signed in until a TOTP code (each accepted once) or a
//! recovery code (each working once) checks out; wrong codes are throttled
//! like wrong passwords. The mobile sign-in's `otp`, the policy that makes
//! users enrol, and the administrator's reset.

use crate::common;
use crate::routes::profile::security::{code_at, code_now, enrol, enrol_as};

use std::time::Duration;

use common::{PASSWORD, TestApp, Visitor, admin_app, app_with_user, location, text_of};
use reqwest::StatusCode;
use serde_json::json;

const PAGE: &str = "/login/second-factor";

/// Signs `who` in as `username` with the password: the second step is next.
async fn password_step(who: &Visitor, username: &str) {
    let res = who.login(username, PASSWORD).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(res.headers()), PAGE);
}

async fn send_code(who: &Visitor, code: &str) -> reqwest::Response {
    who.submit(PAGE, PAGE, &[("code", code)]).await
}

/// A fresh visitor of `app`'s with ada enrolled in TOTP (by `app`'s own
/// visitor, who stays signed in): the secret and the recovery codes.
async fn ada_with_totp() -> (TestApp, String, Vec<String>) {
    let (app, _) = app_with_user("ada").await;
    app.login_ok("ada").await;
    let (secret, codes) = enrol(&app).await;
    (app, secret, codes)
}

#[actix_web::test]
async fn a_password_alone_does_not_sign_in_a_user_with_totp_and_a_code_is_accepted_once() {
    let (app, secret, _) = ada_with_totp().await;
    let phone = app.visitor();
    password_step(&phone, "ada").await;
    // Half signed in is not signed in.
    let res = phone.get("/profile/tokens").await;
    assert!(location(res.headers()).starts_with("/login"));
    let page = phone.get_html(PAGE).await;
    assert_eq!(text_of(&page, "h1").as_deref(), Some("Two-step sign-in"));
    assert!(page.contains("<label for=\"code\""));
    assert_eq!(app.audit_rows("second_factor_asked").len(), 1);
    let logins = app.audit_rows("login").len();

    let code = code_now(&app, &secret);
    let res = send_code(&phone, &code).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(res.headers()), "/");
    assert_eq!(phone.get("/profile/tokens").await.status(), StatusCode::OK);
    let rows = app.audit_rows("login");
    assert_eq!(rows.len(), logins + 1);
    assert!(
        rows.last()
            .unwrap()
            .detail
            .as_deref()
            .unwrap()
            .contains("authenticator")
    );

    // The same code again (another browser, same 30 seconds): refused.
    let laptop = app.visitor();
    password_step(&laptop, "ada").await;
    let res = send_code(&laptop, &code).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(text_of(&res.text().await.unwrap(), ".form-error").is_some());
    assert_eq!(laptop.get("/profile").await.status(), StatusCode::SEE_OTHER);
    // So is the code of the step before; the next step's code works.
    let before = code_at(&secret, app.now() - chrono::TimeDelta::seconds(30));
    assert_eq!(send_code(&laptop, &before).await.status(), StatusCode::OK);
    app.advance_clock(Duration::from_secs(30));
    let res = send_code(&laptop, &code_now(&app, &secret)).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(laptop.get("/profile").await.status(), StatusCode::OK);
}

#[actix_web::test]
async fn the_sign_in_follows_next_and_the_pending_step_times_out() {
    let (app, secret, _) = ada_with_totp().await;
    let phone = app.visitor();
    let res = phone
        .submit(
            "/login?next=%2Fprofile%2Fsecurity",
            "/login",
            &[
                ("username", "ada"),
                ("password", PASSWORD),
                ("next", "/profile/security"),
            ],
        )
        .await;
    assert_eq!(location(res.headers()), PAGE);
    let res = send_code(&phone, &code_now(&app, &secret)).await;
    assert_eq!(location(res.headers()), "/profile/security");

    // Five minutes to give the code, by the server's clock.
    let late = app.visitor();
    password_step(&late, "ada").await;
    app.advance_clock(Duration::from_secs(6 * 60));
    let res = late.get(PAGE).await;
    assert_eq!(location(res.headers()), "/login");
    let csrf = common::csrf_in(&late.get_html("/login").await);
    let res = late
        .post_form(
            PAGE,
            &[("code", &code_now(&app, &secret)), ("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(location(res.headers()), "/login");
    assert_eq!(late.get("/profile").await.status(), StatusCode::SEE_OTHER);
    // Nobody half signed in has anything to do there.
    let res = app.visitor().get(PAGE).await;
    assert_eq!(location(res.headers()), "/login");
}

#[actix_web::test]
async fn wrong_codes_are_throttled_like_wrong_passwords() {
    let (app, secret, _) = ada_with_totp().await;
    let guesser = app.visitor();
    password_step(&guesser, "ada").await;
    let wrong = code_at(&secret, app.now() + chrono::TimeDelta::minutes(10));
    for attempt in 1..=4 {
        let res = send_code(&guesser, &wrong).await;
        assert_eq!(res.status(), StatusCode::OK, "free failure {attempt}");
    }
    // The password again does not wipe the count.
    password_step(&guesser, "ada").await;
    let res = send_code(&guesser, &wrong).await;
    assert_eq!(res.status(), StatusCode::OK, "free failure 5");
    let res = send_code(&guesser, &code_now(&app, &secret)).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(res.headers().contains_key("retry-after"));
    assert_eq!(
        guesser.get("/profile").await.status(),
        StatusCode::SEE_OTHER
    );
    let failures = app.audit_rows("login_failure");
    assert_eq!(failures.len(), 6);
    assert_eq!(failures.iter().filter(|r| r.outcome == "denied").count(), 1);
    // A wrong password after them waits as well: one throttle.
    let res = guesser.login("ada", "not the password").await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[actix_web::test]
async fn a_recovery_code_signs_in_once() {
    let (app, _, codes) = ada_with_totp().await;
    let phone = app.visitor();
    password_step(&phone, "ada").await;
    // As typed by someone: upper case, no dash.
    let typed = codes[3].replace('-', "").to_uppercase();
    let res = send_code(&phone, &typed).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(phone.get_html("/profile/tokens").await.contains("9 left"));
    let used = app.audit_rows("recovery_code_used");
    assert_eq!(used.len(), 1);
    assert!(!used[0].detail.as_deref().unwrap_or("").contains(&codes[3]));

    let again = app.visitor();
    password_step(&again, "ada").await;
    let res = send_code(&again, &codes[3]).await;
    assert_eq!(res.status(), StatusCode::OK, "used up");
    assert_eq!(again.get("/profile").await.status(), StatusCode::SEE_OTHER);
    let res = send_code(&again, &codes[4]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
}

async fn mobile_sign_in(app: &TestApp, body: serde_json::Value) -> (StatusCode, serde_json::Value) {
    let res = common::bare_client()
        .post(app.url("/api/v1/sessions"))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = res.status();
    (status, res.json().await.unwrap_or(serde_json::Value::Null))
}

#[actix_web::test]
async fn the_mobile_sign_in_asks_for_the_otp_after_the_password() {
    let (app, secret, codes) = ada_with_totp().await;
    app.grant(
        app.db(|c| {
            tessera::db::users::find_by_username(c, "ada")
                .unwrap()
                .unwrap()
                .id
        }),
        "Field",
        "devices:read",
    );

    // A wrong password says nothing of a code.
    let (status, body) = mobile_sign_in(&app, json!({"username": "ada", "password": "nope"})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "invalid_grant");
    // The right one without otp: otp_required.
    let (status, body) =
        mobile_sign_in(&app, json!({"username": "ada", "password": PASSWORD})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "otp_required");
    assert!(body.get("token").is_none());
    // A wrong otp: as a wrong password.
    let wrong = code_at(&secret, app.now() + chrono::TimeDelta::minutes(10));
    let (status, body) = mobile_sign_in(
        &app,
        json!({"username": "ada", "password": PASSWORD, "otp": wrong}),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "invalid_grant");
    assert_eq!(app.audit_rows("mobile_login_failure").len(), 2);
    // The right one: a session token.
    let (status, body) = mobile_sign_in(
        &app,
        json!({"username": "ada", "password": PASSWORD, "otp": code_now(&app, &secret)}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let token = body["token"].as_str().unwrap().to_owned();
    assert_eq!(app.me(&token).await.0, StatusCode::OK);
    // A recovery code works as otp too.
    let (status, _) = mobile_sign_in(
        &app,
        json!({"username": "ada", "password": PASSWORD, "otp": codes[0]}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);

    // Wrong otps are throttled: five free, then 429.
    for _ in 0..5 {
        let (status, _) = mobile_sign_in(
            &app,
            json!({"username": "ada", "password": PASSWORD, "otp": wrong}),
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let (status, _) = mobile_sign_in(
        &app,
        json!({"username": "ada", "password": PASSWORD, "otp": wrong}),
    )
    .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
}

#[actix_web::test]
async fn the_admins_policy_makes_an_administrator_enrol_before_anything_else() {
    let (app, _) = admin_app().await;
    app.create_user("ada", false);
    app.set_settings("require_second_factor = 'admins'");

    for path in ["/admin", "/admin/users", "/profile/tokens", "/profile"] {
        let res = app.get(path).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{path}");
        assert_eq!(location(res.headers()), "/profile/security", "{path}");
    }
    let page = app.get_html("/profile/security").await;
    assert!(text_of(&page, "#enrol-required").is_some());
    assert!(
        app.get("/static/css/tessera.css")
            .await
            .status()
            .is_success()
    );
    // A user who is not an administrator is not held back.
    let ada = app.visitor();
    ada.login_ok("ada").await;
    assert_eq!(ada.get("/profile/tokens").await.status(), StatusCode::OK);
    assert!(text_of(&ada.get_html("/profile/security").await, "#enrol-required").is_none());

    // Enrolled: everything opens again.
    enrol(&app).await;
    assert_eq!(app.get("/admin").await.status(), StatusCode::OK);
    let page = app.get_html("/profile/security").await;
    assert!(text_of(&page, "#enrol-required").is_none());
}

#[actix_web::test]
async fn the_everyone_policy_holds_back_every_user_until_enrolled_but_not_the_api() {
    let (app, ada) = app_with_user("ada").await;
    app.grant(ada.id, "Field", "devices:read");
    app.set_settings("require_second_factor = 'everyone'");
    app.login_ok("ada").await;
    let res = app.get("/profile/tokens").await;
    assert_eq!(location(res.headers()), "/profile/security");
    let res = app
        .submit("/profile/security", "/profile/tokens", &[("name", "ci")])
        .await;
    assert_eq!(location(res.headers()), "/profile/security");
    assert_eq!(app.count("tokens"), 0);
    // The JSON API is not a page: the mobile sign-in still works.
    let (status, _) = mobile_sign_in(&app, json!({"username": "ada", "password": PASSWORD})).await;
    assert_eq!(status, StatusCode::CREATED);
    // Signing out is always possible.
    let res = app.submit("/profile/security", "/logout", &[]).await;
    assert_eq!(location(res.headers()), "/login");
    app.login_ok("ada").await;
    enrol_as(&app, &app.visitor).await;
    assert_eq!(app.get("/profile/tokens").await.status(), StatusCode::OK);
}

#[actix_web::test]
async fn an_administrator_resets_a_users_second_factors_after_a_step_up() {
    let (app, _) = admin_app().await;
    let ada = app.create_user("ada", false);
    let phone = app.visitor();
    phone.login_ok("ada").await;
    enrol_as(&app, &phone).await;
    assert_eq!(app.count("totp_secrets"), 1);

    let detail = app.get_html(&format!("/admin/users/{}", ada.id)).await;
    let reset = format!("/admin/users/{}/second-factors/reset", ada.id);
    assert!(detail.contains(&format!("href=\"{reset}\"")));
    // Without a step-up: /sudo first, back to the confirmation.
    let res = app.get(&reset).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(location(res.headers()).starts_with("/sudo?next="));
    let res = app.submit("/admin", &reset, &[]).await;
    assert!(location(res.headers()).starts_with("/sudo?next="));
    assert_eq!(app.count("totp_secrets"), 1);

    app.step_up().await;
    let page = app.get_html(&reset).await;
    assert!(
        text_of(&page, "h1")
            .unwrap()
            .contains("Reset two-factor sign-in")
    );
    let res = app.submit(&reset, &reset, &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(res.headers()), format!("/admin/users/{}", ada.id));
    assert_eq!(app.count("totp_secrets"), 0);
    assert_eq!(app.count("recovery_codes"), 0);
    let rows = app.audit_rows("second_factors_reset");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].actor_name.as_deref(), Some("root"));
    assert_eq!(rows[0].target_label.as_deref(), Some("ada"));

    // Ada signs in with her password alone now.
    let res = app.visitor().login("ada", PASSWORD).await;
    assert_eq!(location(res.headers()), "/");
}

#[actix_web::test]
async fn the_policy_is_chosen_on_the_settings_page() {
    let (app, _) = admin_app().await;
    app.step_up().await;
    let page = app.get_html("/admin/settings").await;
    assert_eq!(
        common::attr_of(&page, "input[name=require_second_factor][checked]", "value").as_deref(),
        Some("nobody")
    );
    assert!(page.contains("<label for=\"s-2fa-everyone\""));
    let mut fields = common::form_fields(&page, "/admin/settings");
    fields.retain(|(name, _)| name != "require_second_factor");
    fields.push(("require_second_factor".into(), "admins".into()));
    let res = app.post("/admin/settings", &fields).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let detail = app.audit_rows("settings_updated")[0]
        .detail
        .clone()
        .unwrap();
    assert!(
        detail.contains("second factor required of admins"),
        "{detail}"
    );
    // The administrator has no second factor: enrol first.
    let res = app.get("/admin/settings").await;
    assert_eq!(location(res.headers()), "/profile/security");

    // Anything but the three is refused beside the field.
    enrol(&app).await;
    let page = app.get_html("/admin/settings").await;
    let mut fields = common::form_fields(&page, "/admin/settings");
    fields.retain(|(name, _)| name != "require_second_factor");
    fields.push(("require_second_factor".into(), "some".into()));
    let res = app.post("/admin/settings", &fields).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = res.text().await.unwrap();
    assert!(text_of(&page, "#require_second_factor-error").is_some());
}
