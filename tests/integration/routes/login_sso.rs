//! `/login/sso` and `/login/sso/callback` (SPEC §9) against a real OpenID
//! provider (`oidc-provider`, see `crate::oidc`), through its own sign-in
//! pages over plain HTTP: linking by verified email, accounts created or
//! refused, the administrator claim, disabled users, a tampered state, a
//! changed nonce, an expired ID token, and who may still use a password. The
//! main flow runs in Chromium too (`browser/sso.rs`).

use crate::common;
use crate::oidc::{self, OidcProvider, SsoSetup};

use std::time::Duration;

use common::{PASSWORD, TestApp, location, spawn_app};
use reqwest::StatusCode;
use serde_json::json;
use tessera::domain::sso::PasswordSignIn;

/// A server with the user `ada` (ada@example.com) and a provider that knows
/// `accounts`, configured with `setup`.
async fn arranged(accounts: serde_json::Value, setup: &SsoSetup<'_>) -> (TestApp, OidcProvider) {
    let (app, _, provider) = oidc::ada_and_provider(&accounts, 3600, setup).await;
    (app, provider)
}

/// Who the session belongs to, by the profile page.
async fn signed_in_as(visitor: &common::Visitor) -> Option<String> {
    let res = visitor.get("/profile").await;
    if res.status() != StatusCode::OK {
        return None;
    }
    let html = res.text().await.unwrap();
    common::text_of(&html, "main")
}

/// The refusal page's text, which must be a 4xx page and never a 500.
async fn refusal(res: reqwest::Response, status: StatusCode) -> String {
    assert_eq!(res.status(), status, "{}", res.url());
    let html = res.text().await.unwrap();
    assert!(html.contains("Single sign-on failed"), "{html}");
    common::text_of(&html, "main").unwrap()
}

fn failure_details(app: &TestApp) -> Vec<String> {
    app.audit_rows("login_failure")
        .into_iter()
        .map(|row| row.detail.unwrap_or_default())
        .collect()
}

#[actix_web::test]
async fn a_verified_email_links_the_existing_user_on_first_sign_in() {
    if !oidc::provider_or_skip("a_verified_email_links_the_existing_user_on_first_sign_in") {
        return;
    }
    let accounts = json!({
        "ada-at-idp": { "sub": "sub-ada", "email": "Ada@Example.com", "email_verified": true },
        "unverified": { "sub": "sub-mallory", "email": "ada@example.com", "email_verified": false },
    });
    let (app, _provider) = arranged(accounts, &SsoSetup::default()).await;
    // The sign-in page offers the provider.
    let login = app.get_html("/login").await;
    assert_eq!(
        common::attr_of(&login, "#sso-sign-in", "href").as_deref(),
        Some("/login/sso")
    );

    // An unverified address links nobody.
    let mallory = app.visitor();
    let text = refusal(
        oidc::sign_in(&mallory, "unverified").await,
        StatusCode::FORBIDDEN,
    )
    .await;
    assert!(text.contains("no Tessera account for you"), "{text}");
    assert!(signed_in_as(&mallory).await.is_none());
    assert_eq!(app.count("user_identities"), 0);

    let res = oidc::sign_in(&app, "ada-at-idp").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(res.headers()), "/");
    let profile = signed_in_as(&app).await.expect("signed in");
    assert!(profile.contains("ada@example.com"), "{profile}");
    let login = app.audit_rows("login");
    let last = login.last().unwrap();
    assert_eq!(last.target_label.as_deref(), Some("ada"));
    assert_eq!(last.detail.as_deref(), Some("single sign-on"));
    let linked = app.audit_rows("sso_identity_linked");
    assert_eq!(linked.len(), 1);
    assert!(
        linked[0]
            .detail
            .as_deref()
            .unwrap()
            .starts_with("linked by verified email address")
    );

    // Next time the link is used, whatever the email says.
    let again = app.visitor();
    let res = oidc::sign_in(&again, "ada-at-idp").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(signed_in_as(&again).await.is_some());
    assert_eq!(app.count("user_identities"), 1);
    assert_eq!(app.audit_rows("sso_identity_linked").len(), 1);
}

#[actix_web::test]
async fn an_unknown_person_is_refused_unless_accounts_are_created() {
    if !oidc::provider_or_skip("an_unknown_person_is_refused_unless_accounts_are_created") {
        return;
    }
    let accounts = json!({
        "grace": {
            "sub": "sub-grace", "email": "grace@example.org", "email_verified": true,
            "preferred_username": "ada", "name": "Grace Hopper",
        },
    });
    let (app, provider) = arranged(accounts, &SsoSetup::default()).await;
    let text = refusal(oidc::sign_in(&app, "grace").await, StatusCode::FORBIDDEN).await;
    assert!(text.contains("Ask an administrator"), "{text}");
    let details = failure_details(&app);
    assert!(
        details
            .iter()
            .any(|d| d.contains("no Tessera account for this person")),
        "{details:?}"
    );
    let users_before = app.count("users");
    let setup = SsoSetup {
        auto_create: true,
        ..SsoSetup::default()
    };
    oidc::configure(&app, &provider, &setup);
    let res = oidc::sign_in(&app, "grace").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.count("users"), users_before + 1);
    // `ada` is taken: the preferred username is made unique.
    let created = app.audit_rows("user_created");
    let row = created.last().unwrap();
    assert_eq!(row.target_label.as_deref(), Some("ada2"));
    assert_eq!(row.detail.as_deref(), Some("created by single sign-on"));
    let profile = signed_in_as(&app).await.unwrap();
    assert!(profile.contains("Grace Hopper"), "{profile}");
    // The account has no usable password.
    let other = app.visitor();
    let res = other.login("ada2", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::OK, "refused");
}

#[actix_web::test]
async fn the_administrator_claim_makes_an_administrator() {
    if !oidc::provider_or_skip("the_administrator_claim_makes_an_administrator") {
        return;
    }
    let accounts = json!({
        "ada": { "sub": "sub-ada", "email": "ada@example.com", "email_verified": true,
                 "groups": ["staff", "tessera-admins"] },
    });
    let setup = SsoSetup {
        admin_claim: Some(("groups", "tessera-admins")),
        ..SsoSetup::default()
    };
    let (app, _provider) = arranged(accounts, &setup).await;
    let res = oidc::sign_in(&app, "ada").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    // The administrator pages open (after a step-up where they ask for one).
    assert_eq!(app.get("/admin/tokens").await.status(), StatusCode::OK);
    let updated = app.audit_rows("user_updated");
    assert_eq!(updated.len(), 1);
    assert!(
        updated[0]
            .detail
            .as_deref()
            .unwrap()
            .contains("made administrator by single sign-on"),
        "{updated:?}"
    );
}

#[actix_web::test]
async fn a_disabled_user_cannot_sign_in_through_the_provider() {
    if !oidc::provider_or_skip("a_disabled_user_cannot_sign_in_through_the_provider") {
        return;
    }
    let (app, _provider) = arranged(oidc::ada_account(), &SsoSetup::default()).await;
    let ada = app.visitor();
    assert_eq!(
        oidc::sign_in(&ada, "ada").await.status(),
        StatusCode::SEE_OTHER
    );
    let id = app.db(|conn| common::scalar(conn, "SELECT id FROM users WHERE username = 'ada'"));
    app.disable_user(id);
    let again = app.visitor();
    let text = refusal(oidc::sign_in(&again, "ada").await, StatusCode::FORBIDDEN).await;
    assert!(text.contains("disabled"), "{text}");
    assert!(signed_in_as(&again).await.is_none());
    assert!(
        failure_details(&app)
            .iter()
            .any(|d| d == "single sign-on: the account is disabled")
    );
}

#[actix_web::test]
async fn a_tampered_state_or_a_replayed_callback_is_refused() {
    if !oidc::provider_or_skip("a_tampered_state_or_a_replayed_callback_is_refused") {
        return;
    }
    let (app, _provider) = arranged(oidc::ada_account(), &SsoSetup::default()).await;
    let authorize = oidc::authorize_url(&app).await;
    let callback = oidc::through_provider(&app, &authorize, "ada").await;
    let tampered = oidc::with_param(&callback, "state", "forged-state-value");
    let res = app.client.get(&tampered).send().await.unwrap();
    let text = refusal(res, StatusCode::BAD_REQUEST).await;
    assert!(text.contains("did not match this sign-in"), "{text}");
    // The flow is spent: the genuine callback afterwards finds nothing.
    let res = app.client.get(&callback).send().await.unwrap();
    let text = refusal(res, StatusCode::BAD_REQUEST).await;
    assert!(text.contains("not one this browser started"), "{text}");
    assert!(signed_in_as(&app).await.is_none());
    // A callback in another browser (no flow in its session).
    let other = app.visitor();
    let res = other.get("/login/sso/callback?state=x&code=y").await;
    refusal(res, StatusCode::BAD_REQUEST).await;
    let details = failure_details(&app);
    assert!(
        details
            .iter()
            .any(|d| d.contains("state parameter did not match")),
        "{details:?}"
    );
    // The provider's own error (the person cancelled) is a refusal too.
    let authorize = oidc::authorize_url(&app).await;
    let state = oidc::param(&authorize, "state").unwrap();
    let res = app
        .get(&format!(
            "/login/sso/callback?error=access_denied&state={state}"
        ))
        .await;
    refusal(res, StatusCode::BAD_REQUEST).await;
    assert!(
        failure_details(&app)
            .iter()
            .any(|d| d.ends_with("returned an error (access_denied)"))
    );
}

#[actix_web::test]
async fn a_changed_nonce_is_refused() {
    if !oidc::provider_or_skip("a_changed_nonce_is_refused") {
        return;
    }
    let (app, _provider) = arranged(oidc::ada_account(), &SsoSetup::default()).await;
    let authorize = oidc::authorize_url(&app).await;
    assert!(oidc::param(&authorize, "nonce").is_some());
    assert_eq!(
        oidc::param(&authorize, "code_challenge_method").as_deref(),
        Some("S256")
    );
    // Someone between the browser and the provider swaps the nonce.
    let swapped = oidc::with_param(&authorize, "nonce", "an-attackers-nonce");
    let callback = oidc::through_provider(&app, &swapped, "ada").await;
    let res = app.client.get(&callback).send().await.unwrap();
    refusal(res, StatusCode::FORBIDDEN).await;
    assert!(signed_in_as(&app).await.is_none());
    assert!(
        failure_details(&app)
            .iter()
            .any(|d| d == "single sign-on: the ID token's nonce did not match")
    );
}

#[actix_web::test]
async fn an_expired_id_token_is_refused() {
    if !oidc::provider_or_skip("an_expired_id_token_is_refused") {
        return;
    }
    // ID tokens that live a minute.
    let (app, _, _provider) =
        oidc::ada_and_provider(&oidc::ada_account(), 60, &SsoSetup::default()).await;
    let authorize = oidc::authorize_url(&app).await;
    let callback = oidc::through_provider(&app, &authorize, "ada").await;
    // Five minutes pass on Tessera's clock before the callback is processed.
    app.advance_clock(Duration::from_secs(300));
    let res = app.client.get(&callback).send().await.unwrap();
    let text = refusal(res, StatusCode::FORBIDDEN).await;
    assert!(text.contains("had expired"), "{text}");
    assert!(signed_in_as(&app).await.is_none());
    assert!(
        failure_details(&app)
            .iter()
            .any(|d| d == "single sign-on: the ID token had expired")
    );
}

#[actix_web::test]
async fn without_single_sign_on_the_routes_say_it_is_off() {
    let app = spawn_app().await;
    let login = app.get_html("/login").await;
    assert!(!login.contains("/login/sso"));
    let res = app.get("/login/sso").await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert!(res.text().await.unwrap().contains("Single sign-on is off"));
    let res = app.get("/login/sso/callback?code=x&state=y").await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
}

#[actix_web::test]
async fn password_sign_in_can_be_kept_for_administrators_or_switched_off() {
    if !oidc::provider_or_skip("password_sign_in_can_be_kept_for_administrators_or_switched_off") {
        return;
    }
    let app = spawn_app().await;
    app.create_user("root", true);
    app.create_user("ada", false);
    let provider = OidcProvider::start(&app.address, &json!({}), 3600);
    let mobile = |username: &'static str| {
        let url = app.url("/api/v1/sessions");
        async move {
            reqwest::Client::new()
                .post(url)
                .json(&json!({ "username": username, "password": PASSWORD }))
                .send()
                .await
                .unwrap()
        }
    };
    let admins_only = SsoSetup {
        password_sign_in: PasswordSignIn::Admins,
        ..SsoSetup::default()
    };
    oidc::configure(&app, &provider, &admins_only);
    let ada = app.visitor();
    let res = ada.login("ada", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::OK);
    let page = res.text().await.unwrap();
    assert!(
        page.contains("Sign in with single sign-on"),
        "the message and the link"
    );
    assert!(page.contains("Password sign-in is off for this account"));
    assert!(signed_in_as(&ada).await.is_none());
    let res = mobile("ada").await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"], "sso_required");
    // Break-glass: the administrator still may.
    app.visitor().login_ok("root").await;
    assert_eq!(mobile("root").await.status(), StatusCode::CREATED);
    let refused = app.audit_rows("login_failure");
    assert!(refused.iter().any(|r| {
        r.detail
            .as_deref()
            .unwrap_or_default()
            .contains("single sign-on required")
    }));

    // Nobody: the administrator too goes through the provider.
    let nobody = SsoSetup {
        password_sign_in: PasswordSignIn::Nobody,
        ..SsoSetup::default()
    };
    oidc::configure(&app, &provider, &nobody);
    let res = app.visitor().login("root", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("Password sign-in is off")
    );

    // Single sign-on off: the rule no longer applies.
    app.db(|conn| {
        use diesel::prelude::*;
        diesel::sql_query("UPDATE sso_settings SET enabled = FALSE")
            .execute(conn)
            .unwrap();
    });
    app.visitor().login_ok("ada").await;
    assert_eq!(mobile("ada").await.status(), StatusCode::CREATED);
}

/// No secret of single sign-on leaks: the real binary logging at trace level
/// saves `/admin/sso` with a client secret, then people sign in through the
/// provider (one created, one refused for a changed nonce, one for a tampered
/// state); the client secret, every authorization code, ID token and access
/// token appear in no log line, no audit row, not in the settings page after
/// the save, and nowhere in the database (every row of every table and, on
/// SQLite, the raw file and its write-ahead log).
#[actix_web::test]
async fn no_single_sign_on_secret_reaches_logs_audit_pages_or_database() {
    if !oidc::provider_or_skip("no_single_sign_on_secret_reaches_logs_audit_pages_or_database") {
        return;
    }
    use crate::process::{self, Server};
    let db = common::fresh_database();
    let key_file = db.key_file.display().to_string();
    let env = [
        ("TESSERA_LOG", "trace"),
        ("TESSERA_SECRET_KEY_FILE", key_file.as_str()),
    ];
    process::create_admin(&db.url, "root", PASSWORD, &env);
    let mut server = Server::start(&db.url, &["--cookie-secure", "false"], &env);
    let accounts = json!({
        "grace": { "sub": "sub-grace", "email": "grace@example.org", "email_verified": true,
                   "preferred_username": "grace", "groups": ["tessera-admins"] },
    });
    let provider = OidcProvider::start(&server.address, &accounts, 3600);

    let root = server.visitor(&common::new_client());
    root.login_ok("root").await;
    let res = root
        .submit("/sudo", "/sudo", &[("password", PASSWORD), ("next", "/")])
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let res = root
        .submit(
            "/admin/sso",
            "/admin/sso",
            &[
                ("enabled", "on"),
                ("issuer", provider.issuer.as_str()),
                ("client_id", oidc::CLIENT_ID),
                ("client_secret", oidc::CLIENT_SECRET),
                ("admin_claim", "groups"),
                ("admin_claim_value", "tessera-admins"),
                ("auto_create", "on"),
                ("password_sign_in", "admins"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "saved");
    let page = root.get_html("/admin/sso").await;
    assert!(page.contains("Single sign-on settings saved."));
    assert!(
        !page.contains(oidc::CLIENT_SECRET),
        "the page after the save"
    );

    let mut codes = Vec::new();
    // A sign-in that creates grace, an administrator by the claim.
    let grace = server.visitor(&common::new_client());
    let authorize = oidc::authorize_url(&grace).await;
    let callback = oidc::through_provider(&grace, &authorize, "grace").await;
    codes.push(oidc::param(&callback, "code").unwrap());
    let res = grace.client.get(&callback).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "signed in");
    // A changed nonce: the code is exchanged, the ID token refused.
    let other = server.visitor(&common::new_client());
    let authorize = oidc::authorize_url(&other).await;
    let swapped = oidc::with_param(&authorize, "nonce", "swapped-nonce");
    let callback = oidc::through_provider(&other, &swapped, "grace").await;
    codes.push(oidc::param(&callback, "code").unwrap());
    let res = other.client.get(&callback).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN, "nonce");
    assert!(!res.text().await.unwrap().contains(codes.last().unwrap()));
    // A tampered state: the code is never exchanged.
    let authorize = oidc::authorize_url(&other).await;
    let callback = oidc::through_provider(&other, &authorize, "grace").await;
    codes.push(oidc::param(&callback, "code").unwrap());
    let tampered = oidc::with_param(&callback, "state", "tampered");
    let res = other.client.get(&tampered).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST, "state");

    server.terminate();
    server.wait();
    let logs = server.log();
    assert!(
        logs.lines().count() > 100,
        "trace logging was on: {} lines",
        logs.lines().count()
    );
    assert!(
        logs.contains("/login/sso/callback"),
        "the callbacks were logged"
    );
    let pool =
        tessera::db::connect_and_migrate(&tessera::db::DatabaseUrl::parse(&db.url).unwrap(), 1)
            .unwrap();
    let mut stored = common::database_dump(&pool);
    assert!(stored.contains("sso_settings_updated") && stored.contains("single sign-on"));
    if let Some(path) = db.url.strip_prefix("sqlite://") {
        for file in [path.to_owned(), format!("{path}-wal")] {
            if let Ok(bytes) = std::fs::read(&file) {
                stored.push_str(&String::from_utf8_lossy(&bytes));
            }
        }
    }
    let tokens = provider.issued_tokens();
    assert_eq!(
        tokens.len(),
        4,
        "two ID tokens and two access tokens issued"
    );
    let mut secrets = vec![oidc::CLIENT_SECRET.to_owned()];
    secrets.extend(codes);
    for token in &tokens {
        secrets.push(token.clone());
        // Each part of an ID token (header, claims, signature) on its own too.
        secrets.extend(
            token
                .split('.')
                .filter(|part| part.len() >= 16)
                .map(str::to_owned),
        );
    }
    for secret in &secrets {
        assert!(secret.len() >= 16, "a real secret: {secret}");
        assert!(!logs.contains(secret.as_str()), "a secret is in the logs");
        assert!(!stored.contains(secret.as_str()), "a secret is stored");
    }
}
