//! Issue 15, no second-factor secret leaks (the method of `secrets.rs`): the
//! real binary logging at trace level; an administrator enrols an
//! authenticator app, signs in with a code (and a wrong one), steps up with a
//! recovery code and signs in on the mobile API with another; then the logs,
//! the audit rows and the whole database are searched for the TOTP secret,
//! the otpauth URI, every code typed and every recovery code: zero hits.

use crate::common;
use crate::process;
use crate::routes::profile::security::{code_at, recovery_codes_in};

use process::Server;
use reqwest::StatusCode;
use serde_json::json;

/// Whether `code` (digits) stands alone in `text`: not inside a longer run of
/// letters and digits (a hex dump, say), where six digits turn up by chance.
fn has_word(text: &str, code: &str) -> bool {
    text.match_indices(code).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + code.len()..].chars().next();
        !before.is_some_and(|c| c.is_ascii_alphanumeric())
            && !after.is_some_and(|c| c.is_ascii_alphanumeric())
    })
}

#[actix_web::test]
async fn no_totp_secret_or_code_reaches_logs_audit_or_database() {
    let db = common::fresh_database();
    let url = db.url.clone();
    let key_file = db.key_file.display().to_string();
    let env = [
        ("TESSERA_LOG", "trace"),
        ("TESSERA_SECRET_KEY_FILE", key_file.as_str()),
    ];
    let password = "root's own passphrase";
    process::create_admin(&url, "root", password, &env);
    let mut server = Server::start(&url, &["--cookie-secure", "false"], &env);
    let root = server.visitor(&common::new_client());
    let now = || chrono::Utc::now().naive_utc();

    // Enrolment.
    let res = root.login("root", password).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let res = root
        .submit("/profile/security", "/profile/security/totp", &[])
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let page = res.text().await.unwrap();
    let secret = common::text_of(&page, "#totp-secret").unwrap();
    let uri_secret = format!("secret={secret}");
    let mut codes = vec![code_at(&secret, now())];
    let res = root
        .submit(
            "/profile/security",
            "/profile/security/totp/confirm",
            &[("code", &codes[0])],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let recovery = recovery_codes_in(&res.text().await.unwrap());
    assert_eq!(recovery.len(), 10);
    let res = root.submit("/profile", "/logout", &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);

    // A wrong code, then the next step's (one step of skew is allowed).
    let res = root.login("root", password).await;
    assert_eq!(common::location(res.headers()), "/login/second-factor");
    let wrong = code_at(&secret, now() + chrono::TimeDelta::minutes(10));
    let page = "/login/second-factor";
    let res = root.submit(page, page, &[("code", &wrong)]).await;
    assert_eq!(res.status(), StatusCode::OK);
    let next = code_at(&secret, now() + chrono::TimeDelta::seconds(30));
    let res = root.submit(page, page, &[("code", &next)]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    codes.extend([wrong.clone(), next]);

    // A step-up with a recovery code; a mobile sign-in with another, and one
    // with a wrong code.
    let res = root
        .submit(
            "/sudo",
            "/sudo",
            &[("code", &recovery[0]), ("next", "/profile")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let http = common::bare_client();
    for (otp, expected) in [
        (recovery[1].as_str(), StatusCode::CREATED),
        (wrong.as_str(), StatusCode::UNAUTHORIZED),
    ] {
        let res = http
            .post(server.url("/api/v1/sessions"))
            .json(&json!({"username": "root", "password": password, "otp": otp}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), expected);
    }

    server.terminate();
    server.wait();
    let logs = server.log();
    assert!(logs.lines().count() > 50, "trace logging was on");
    let pool = tessera::db::connect_and_migrate(&tessera::db::DatabaseUrl::parse(&url).unwrap(), 1)
        .unwrap();
    let mut stored = common::database_dump(&pool);
    assert!(stored.contains("totp_enabled") && stored.contains("recovery_code_used"));
    if let Some(path) = url.strip_prefix("sqlite://") {
        for file in [path.to_owned(), format!("{path}-wal")] {
            if let Ok(bytes) = std::fs::read(&file) {
                stored.push_str(&String::from_utf8_lossy(&bytes));
            }
        }
    }

    let mut long: Vec<String> = vec![secret.clone(), secret.to_lowercase(), uri_secret];
    for code in &recovery {
        long.push(code.clone());
        long.push(code.replace('-', ""));
    }
    for secret in &long {
        assert!(!logs.contains(secret.as_str()), "a secret is in the logs");
        assert!(!stored.contains(secret.as_str()), "a secret is stored");
    }
    let dump = common::database_dump(&pool);
    for code in &codes {
        assert!(!has_word(&logs, code), "a code is in the logs");
        assert!(!has_word(&dump, code), "a code is stored");
    }
}

#[test]
fn a_code_counts_only_standing_alone() {
    assert!(has_word("code=123456&x", "123456"));
    assert!(has_word("123456", "123456"));
    assert!(!has_word("ab123456cd", "123456"));
    assert!(!has_word("1234567", "123456"));
}
