//! `/profile/security`: enrolling an authenticator app (TOTP) with its QR code
//! and secret, the recovery codes shown once, turning it off behind a step-up,
//! the step-up by code, and the helpers the other second-factor tests share
//! (codes are computed here from the secret the page shows, at the server's
//! clock).

use crate::common;

use std::time::Duration;

use common::{PASSWORD, TestApp, Visitor, app_with_user, location, text_of};
use reqwest::StatusCode;

/// The 6-digit code of `secret` (base32) at `at`.
pub fn code_at(secret: &str, at: chrono::NaiveDateTime) -> String {
    let secret = totp_rs::Secret::try_from_base32(secret).expect("a base32 secret");
    let totp = totp_rs::Builder::new()
        .with_secret(secret)
        .build()
        .expect("a TOTP");
    let unix = u64::try_from(at.and_utc().timestamp()).unwrap();
    totp.generate(unix).to_string()
}

/// The code the app would show now, by the server's clock.
pub fn code_now(app: &TestApp, secret: &str) -> String {
    code_at(secret, app.now())
}

/// Every recovery code of a page (`#recovery-codes`).
pub fn recovery_codes_in(html: &str) -> Vec<String> {
    let doc = scraper::Html::parse_document(html);
    let codes = scraper::Selector::parse("#recovery-codes code").unwrap();
    doc.select(&codes)
        .map(|c| c.text().collect::<String>().trim().to_owned())
        .collect()
}

/// Starts an enrolment as `who`: the page with the secret and the QR code.
pub async fn start_enrolment(who: &Visitor) -> (String, String) {
    let res = who
        .submit("/profile/security", "/profile/security/totp", &[])
        .await;
    assert_eq!(res.status(), StatusCode::OK, "the enrolment starts");
    let page = res.text().await.unwrap();
    let secret = text_of(&page, "#totp-secret").expect("the secret is shown");
    (secret, page)
}

/// Enrols `who` (signed in) in TOTP: the secret and the ten recovery codes.
/// The clock then moves to the next time step, so the code that confirmed is
/// not the one a test signs in with next.
pub async fn enrol_as(app: &TestApp, who: &Visitor) -> (String, Vec<String>) {
    let (secret, _) = start_enrolment(who).await;
    let res = who
        .submit(
            "/profile/security",
            "/profile/security/totp/confirm",
            &[("code", &code_now(app, &secret))],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK, "the first code confirms");
    let codes = recovery_codes_in(&res.text().await.unwrap());
    assert_eq!(codes.len(), 10);
    app.advance_clock(Duration::from_secs(30));
    (secret, codes)
}

/// [`enrol_as`] for the app's own visitor.
pub async fn enrol(app: &TestApp) -> (String, Vec<String>) {
    enrol_as(app, &app.visitor).await
}

#[actix_web::test]
async fn enrolment_shows_a_qr_code_and_the_secret_and_a_first_code_turns_it_on() {
    let (app, ada) = app_with_user("ada").await;
    app.login_ok("ada").await;
    let page = app.get_html("/profile/security").await;
    assert_eq!(text_of(&page, "h1").as_deref(), Some("Security"));
    assert!(page.contains("action=\"/profile/security/totp\""));
    assert!(text_of(&page, "section#totp").is_some());

    let (secret, page) = start_enrolment(&app).await;
    // A QR code drawn here as inline SVG, and the key for typing it in.
    assert!(page.contains("<svg"), "an inline SVG");
    assert!(!page.contains("<img"), "no outside QR service");
    assert!(secret.len() >= 32 && secret.chars().all(|c| c.is_ascii_alphanumeric()));
    // Nothing of it is kept in clear: the row holds it sealed.
    let sealed = app.db(|c| tessera::db::totp_secrets::find(c, ada.id).unwrap().unwrap());
    assert!(!sealed.is_confirmed());
    assert!(!String::from_utf8_lossy(&sealed.sealed_secret).contains(&secret));

    // A wrong code: the form again, with the same secret and the message.
    let wrong = code_at(&secret, app.now() + chrono::TimeDelta::minutes(10));
    let res = app
        .submit(
            "/profile/security",
            "/profile/security/totp/confirm",
            &[("code", &wrong)],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = res.text().await.unwrap();
    assert_eq!(
        text_of(&page, "#totp-secret").as_deref(),
        Some(secret.as_str())
    );
    assert!(page.contains("<svg"));
    assert!(text_of(&page, "#totp-code-error").is_some());
    assert!(recovery_codes_in(&page).is_empty());
    assert!(app.audit_rows("totp_enabled").is_empty());

    // The right one: on, and ten recovery codes shown this once.
    let res = app
        .submit(
            "/profile/security",
            "/profile/security/totp/confirm",
            &[("code", &code_now(&app, &secret))],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let page = res.text().await.unwrap();
    let codes = recovery_codes_in(&page);
    assert_eq!(codes.len(), 10);
    let unique: std::collections::HashSet<_> = codes.iter().collect();
    assert_eq!(unique.len(), 10);
    assert_eq!(app.audit_rows("totp_enabled").len(), 1);
    assert_eq!(app.count("recovery_codes"), 10);
    let dump = app.database_dump();
    for code in &codes {
        assert!(!dump.contains(code.as_str()), "only hashes are stored");
    }
    let page = app.get_html("/profile/security").await;
    assert!(recovery_codes_in(&page).is_empty(), "shown once only");
    assert!(page.contains("10 unused recovery codes"));
    assert!(page.contains("action=\"/profile/security/totp/disable\""));

    // Starting again while it is on is refused.
    let res = app
        .submit("/profile/security", "/profile/security/totp", &[])
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(
        app.get_html("/profile/security")
            .await
            .contains("Turn it off first")
    );
}

#[actix_web::test]
async fn turning_totp_off_needs_a_step_up_then_a_password_alone_signs_in() {
    let (app, _) = app_with_user("ada").await;
    app.login_ok("ada").await;
    enrol(&app).await;

    // Without a step-up: to /sudo, which comes back to the security page.
    let res = app
        .submit("/profile/security", "/profile/security/totp/disable", &[])
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(res.headers()), "/sudo?next=%2Fprofile%2Fsecurity");
    assert_eq!(app.count("totp_secrets"), 1, "still on");
    let res = app
        .submit(
            "/sudo?next=%2Fprofile%2Fsecurity",
            "/sudo",
            &[("password", PASSWORD), ("next", "/profile/security")],
        )
        .await;
    assert_eq!(location(res.headers()), "/profile/security");

    let res = app
        .submit("/profile/security", "/profile/security/totp/disable", &[])
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(res.headers()), "/profile/security");
    assert_eq!(app.count("totp_secrets"), 0);
    assert_eq!(app.count("recovery_codes"), 0);
    assert_eq!(app.audit_rows("totp_disabled").len(), 1);

    let other = app.visitor();
    let res = other.login("ada", PASSWORD).await;
    assert_eq!(
        location(res.headers()),
        "/",
        "signed in by the password alone"
    );
}

#[actix_web::test]
async fn sudo_takes_a_code_instead_of_the_password() {
    let (app, ada) = app_with_user("ada").await;
    app.login_ok("ada").await;
    let (secret, recovery) = enrol(&app).await;
    let page = app.get_html("/sudo?next=%2Fprofile%2Fsecurity").await;
    assert!(page.contains("name=\"code\""), "a code field");

    // A wrong code: refused and audited; the page again.
    let wrong = code_at(&secret, app.now() + chrono::TimeDelta::minutes(10));
    let res = app
        .submit("/sudo", "/sudo", &[("code", &wrong), ("next", "/profile")])
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.audit_rows("step_up_failure").len(), 1);

    // The app's code: elevated, audited as a step-up of ada's.
    let res = app
        .submit(
            "/sudo",
            "/sudo",
            &[("code", &code_now(&app, &secret)), ("next", "/profile")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(res.headers()), "/profile");
    let rows = app.audit_rows("step_up");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].actor_name.as_deref(), Some(ada.username.as_str()));
    assert!(app.get_html("/profile").await.contains("/profile/password"));

    // A recovery code works too, once.
    let other = app.visitor();
    let res = other.login("ada", PASSWORD).await;
    assert_eq!(location(res.headers()), "/login/second-factor");
    app.advance_clock(Duration::from_secs(30));
    let res = other
        .submit(
            "/login/second-factor",
            "/login/second-factor",
            &[("code", &code_now(&app, &secret))],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    for (status, n) in [
        (StatusCode::SEE_OTHER, 2),
        (StatusCode::UNPROCESSABLE_ENTITY, 2),
    ] {
        let res = other
            .submit(
                "/sudo",
                "/sudo",
                &[("code", &recovery[0]), ("next", "/profile")],
            )
            .await;
        assert_eq!(res.status(), status);
        assert_eq!(app.audit_rows("step_up").len(), n);
    }
    assert_eq!(app.audit_rows("recovery_code_used").len(), 1);
}

#[actix_web::test]
async fn a_user_without_totp_is_not_offered_a_code_on_sudo() {
    let (app, _) = app_with_user("ada").await;
    app.login_ok("ada").await;
    let page = app.get_html("/sudo?next=%2Fprofile").await;
    assert!(!page.contains("name=\"code\""));
    // A code alone does not step up someone without an authenticator app.
    let res = app
        .submit(
            "/sudo",
            "/sudo",
            &[("code", "123456"), ("next", "/profile")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(app.audit_rows("step_up").is_empty());
}

#[actix_web::test]
async fn without_a_secret_key_file_the_page_says_totp_needs_one() {
    // On SQLite a key file is made beside the database whatever is configured.
    if !common::on_postgres() {
        return;
    }
    let app = common::spawn_app_with(|config| config.secret_key_file = None).await;
    app.create_user("ada", false);
    app.login_ok("ada").await;
    let page = app.get_html("/profile/security").await;
    assert!(page.contains("TESSERA_SECRET_KEY_FILE"));
    assert!(!page.contains("action=\"/profile/security/totp\""));
    let csrf = common::csrf_in(&page);
    let res = app
        .post_form("/profile/security/totp", &[("csrf_token", &csrf)])
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.count("totp_secrets"), 0);
    assert!(
        app.get_html("/profile/security")
            .await
            .contains("TESSERA_SECRET_KEY_FILE")
    );
}
