//! `/admin/sso` (SPEC §9): behind a step-up, checks the issuer's discovery
//! document before saving, keeps the client secret sealed and never shows it
//! again (empty keeps it), audits every save without the secret.

use crate::common;
use crate::oidc::{self, CLIENT_ID, CLIENT_SECRET, OidcProvider};

use common::{TestApp, admin_app, location};
use reqwest::StatusCode;
use tessera::db::sso_settings::{self, SECRET_BINDING};
use tessera::sealing::Sealer;

/// The fields of a complete form for `issuer`.
fn fields<'a>(issuer: &'a str, secret: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("enabled", "on"),
        ("issuer", issuer),
        ("client_id", CLIENT_ID),
        ("client_secret", secret),
        ("admin_claim", "groups"),
        ("admin_claim_value", "tessera-admins"),
        ("auto_create", "on"),
        ("password_sign_in", "admins"),
    ]
}

fn stored_secret(app: &TestApp) -> Option<String> {
    let sealed = app.db(|conn| sso_settings::load(conn).unwrap().client_secret_sealed)?;
    Some(
        Sealer::open_or_create(&app.key_file)
            .unwrap()
            .open(&sealed, SECRET_BINDING)
            .unwrap(),
    )
}

#[actix_web::test]
async fn the_single_sign_on_page_asks_for_a_step_up() {
    let (app, _) = admin_app().await;
    let res = app.get("/admin/sso").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(location(res.headers()).starts_with("/sudo?next="), "GET");
    let csrf = common::csrf_in(&app.get_html("/profile").await);
    let res = app
        .post_form(
            "/admin/sso",
            &[
                ("csrf_token", csrf.as_str()),
                ("password_sign_in", "nobody"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(location(res.headers()).starts_with("/sudo?next="), "POST");
    assert!(app.audit("sso_settings_updated").is_empty());
    app.step_up().await;
    let page = app.get_html("/admin/sso").await;
    assert!(
        page.contains("/login/sso/callback"),
        "the redirect URI to register"
    );
    assert_eq!(
        common::input_value(&page, "client_secret").as_deref(),
        Some("")
    );
}

#[actix_web::test]
async fn saving_checks_the_issuer_and_keeps_the_secret_sealed() {
    if !oidc::provider_or_skip("saving_checks_the_issuer_and_keeps_the_secret_sealed") {
        return;
    }
    let (app, _) = admin_app().await;
    let provider = OidcProvider::start(&app.address, &serde_json::json!({}), 3600);
    app.step_up().await;

    // Nothing answers there: nothing is saved, and the field says why.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port())
    };
    let res = app
        .submit("/admin/sso", "/admin/sso", &fields(&closed, CLIENT_SECRET))
        .await;
    let page = common::refused_page(res).await;
    let error = common::text_of(&page, "#issuer-error").expect("an error beside the issuer");
    assert!(error.contains("discovery document"), "{error}");
    assert!(error.contains("did not answer"), "{error}");
    assert!(!page.contains(CLIENT_SECRET), "the secret is not sent back");
    assert_eq!(
        common::input_value(&page, "client_id").as_deref(),
        Some(CLIENT_ID)
    );
    assert!(stored_secret(&app).is_none());

    // Not an issuer at all: an https URL is asked for.
    let res = app
        .submit(
            "/admin/sso",
            "/admin/sso",
            &fields("http://idp.example.com", CLIENT_SECRET),
        )
        .await;
    let page = common::refused_page(res).await;
    assert!(
        common::text_of(&page, "#issuer-error")
            .unwrap()
            .contains("https://")
    );

    let res = app
        .submit(
            "/admin/sso",
            "/admin/sso",
            &fields(&provider.issuer, CLIENT_SECRET),
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(stored_secret(&app).as_deref(), Some(CLIENT_SECRET));
    let page = app.get_html("/admin/sso").await;
    assert!(page.contains("Single sign-on settings saved."));
    assert!(!page.contains(CLIENT_SECRET));
    assert_eq!(
        common::input_value(&page, "client_secret").as_deref(),
        Some("")
    );
    assert_eq!(
        common::input_value(&page, "issuer").as_deref(),
        Some(provider.issuer.as_str())
    );
    let rows = app.audit_rows("sso_settings_updated");
    let detail = rows[0].detail.clone().unwrap();
    assert!(detail.contains("client secret changed"), "{detail}");
    assert!(detail.contains("password sign-in: admins"), "{detail}");
    assert!(!detail.contains(CLIENT_SECRET));
    assert!(!app.database_dump().contains(CLIENT_SECRET));

    // Saved again with the secret left empty: the stored one stays.
    let res = app
        .submit("/admin/sso", "/admin/sso", &fields(&provider.issuer, ""))
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(stored_secret(&app).as_deref(), Some(CLIENT_SECRET));
    let rows = app.audit_rows("sso_settings_updated");
    assert!(
        rows[1]
            .detail
            .as_deref()
            .unwrap()
            .contains("client secret kept")
    );
    // The sign-in page now offers single sign-on.
    let login = app.visitor().get_html("/login").await;
    assert!(login.contains("Sign in with single sign-on"));

    // Switched off: no discovery check, the sign-in page offers it no more.
    let res = app
        .submit(
            "/admin/sso",
            "/admin/sso",
            &[
                ("issuer", provider.issuer.as_str()),
                ("client_id", CLIENT_ID),
                ("password_sign_in", "admins"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let login = app.visitor().get_html("/login").await;
    assert!(!login.contains("Sign in with single sign-on"));
    let rows = app.audit_rows("sso_settings_updated");
    assert!(
        rows[2]
            .detail
            .as_deref()
            .unwrap()
            .starts_with("single sign-on off")
    );
}

/// Without a key file (possible on PostgreSQL only: SQLite keeps one beside
/// the database) the page says single sign-on needs one and refuses to turn
/// it on.
#[actix_web::test]
async fn without_a_key_file_single_sign_on_cannot_be_switched_on() {
    if !common::on_postgres() {
        return;
    }
    let app = common::spawn_app_with(|config| config.secret_key_file = None).await;
    app.create_user("root", true);
    app.login_ok("root").await;
    app.step_up().await;
    let page = app.get_html("/admin/sso").await;
    assert!(
        common::text_of(&page, "#sso-needs-key")
            .unwrap()
            .contains("TESSERA_SECRET_KEY_FILE")
    );
    let res = app
        .submit(
            "/admin/sso",
            "/admin/sso",
            &fields("https://idp.example.com", CLIENT_SECRET),
        )
        .await;
    let page = common::refused_page(res).await;
    assert!(
        common::text_of(&page, "#client_secret-error")
            .unwrap()
            .contains("TESSERA_SECRET_KEY_FILE")
    );
}
