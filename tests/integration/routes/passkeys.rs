//! Passkeys over plain HTTP: what needs no browser (the ceremonies themselves
//! are in `browser::passkeys`). The options answer JSON and keep the
//! ceremony's state sealed in the session; a finish without a started
//! ceremony, removal without a step-up and another user's passkey are refused.
//! WebAuthn takes no IP address as relying-party id, so the ceremonies are
//! asked for at `localhost`.

use crate::common;

use common::{PASSWORD, TestApp, Visitor, app_with_user, csrf_in, location, new_client, text_of};
use reqwest::StatusCode;
use serde_json::Value;

/// A visitor of `app` at `http://localhost:PORT`, signed in as `username`.
async fn at_localhost(app: &TestApp, username: &str) -> Visitor {
    let visitor = Visitor {
        address: app.address.replace("127.0.0.1", "localhost"),
        client: new_client(),
    };
    visitor.login_ok(username).await;
    visitor
}

/// A passkey row for `user_id` as the database keeps one (its credential is
/// never read by the pages these tests use).
fn insert_passkey(app: &TestApp, user_id: i64, name: &str) -> i64 {
    app.db(|conn| {
        tessera::db::passkeys::insert(
            conn,
            &tessera::db::passkeys::NewPasskey {
                user_id,
                name,
                credential_id: &format!("credential-of-{name}"),
                credential: "{}",
                passwordless: false,
                created_at: tessera::db::now(),
            },
        )
        .unwrap()
        .id
    })
}

/// POSTs `fields` with the CSRF token of /profile/security.
async fn post_from_security(
    visitor: &Visitor,
    action: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    visitor.submit("/profile/security", action, fields).await
}

#[actix_web::test]
async fn the_creation_options_are_json_and_their_challenge_is_kept_sealed() {
    let (app, ada) = app_with_user("ada").await;
    let visitor = at_localhost(&app, "ada").await;
    let page = visitor.get_html("/profile/security").await;
    assert!(
        page.contains("id=\"add-passkey\""),
        "the add form is offered"
    );
    assert!(page.contains("/static/js/passkeys.js"));

    let res = post_from_security(
        &visitor,
        "/profile/security/passkeys/options",
        &[("name", "Laptop"), ("passwordless", "1")],
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let options: Value = res.json().await.unwrap();
    let key = &options["publicKey"];
    assert_eq!(key["rp"]["id"], "localhost");
    assert_eq!(key["user"]["name"], "ada");
    assert_eq!(key["authenticatorSelection"]["residentKey"], "required");
    assert_eq!(
        key["authenticatorSelection"]["userVerification"],
        "required"
    );
    let challenge = key["challenge"].as_str().expect("a challenge").to_owned();
    assert!(challenge.len() >= 40, "{challenge}");
    // The state is in the session row, sealed: the challenge is not there.
    let dump = app.database_dump();
    assert!(
        dump.contains("webauthn_register"),
        "the session keeps the state"
    );
    assert!(
        !dump.contains(&challenge),
        "the challenge is stored in clear"
    );

    // Without passwordless sign-in, no resident key is asked for.
    let res = post_from_security(
        &visitor,
        "/profile/security/passkeys/options",
        &[("name", "Security key")],
    )
    .await;
    let options: Value = res.json().await.unwrap();
    assert_ne!(
        options["publicKey"]["authenticatorSelection"]["residentKey"],
        "required"
    );

    // A nameless passkey is refused before the browser is asked.
    let res = post_from_security(
        &visitor,
        "/profile/security/passkeys/options",
        &[("name", " ")],
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let error: Value = res.json().await.unwrap();
    assert!(
        error["error"]
            .as_str()
            .unwrap()
            .contains("Name the passkey")
    );
    assert!(
        app.db(|c| tessera::db::passkeys::list_for_user(c, ada.id).unwrap())
            .is_empty()
    );
}

#[actix_web::test]
async fn an_ip_address_gets_no_passkeys_and_is_told_why() {
    let (app, _) = app_with_user("ada").await;
    app.login_ok("ada").await;
    let page = app.get_html("/profile/security").await;
    assert!(page.contains("not an IP address"), "the page says why");
    assert!(!page.contains("id=\"add-passkey\""));
    let res = app
        .submit(
            "/profile/security",
            "/profile/security/passkeys/options",
            &[("name", "Laptop")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    let error: Value = res.json().await.unwrap();
    assert!(error["error"].as_str().unwrap().contains("IP address"));
}

#[actix_web::test]
async fn finishing_a_ceremony_that_was_not_started_is_a_clear_400() {
    let (app, ada) = app_with_user("ada").await;
    let visitor = at_localhost(&app, "ada").await;
    let answer = r#"{"id":"x","rawId":"eA","type":"public-key","response":{}}"#;

    // Adding: no options were asked for in this session.
    let res = post_from_security(
        &visitor,
        "/profile/security/passkeys",
        &[("name", "Laptop"), ("credential", answer)],
    )
    .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let page = res.text().await.unwrap();
    assert!(page.contains("No passkey check was started"), "{page}");

    // Without JavaScript, no answer at all: said so.
    let res = post_from_security(
        &visitor,
        "/profile/security/passkeys",
        &[("name", "Laptop"), ("credential", "")],
    )
    .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.text().await.unwrap().contains("need JavaScript"));

    // A state is used once: asked for, then spent by a wrong answer.
    let res = post_from_security(
        &visitor,
        "/profile/security/passkeys/options",
        &[("name", "Laptop")],
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    for expected in ["could not be read", "No passkey check was started"] {
        let res = post_from_security(
            &visitor,
            "/profile/security/passkeys",
            &[("name", "Laptop"), ("credential", "not json")],
        )
        .await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
        assert!(res.text().await.unwrap().contains(expected), "{expected}");
    }

    // Signing in with a passkey alone, likewise.
    let stranger = Visitor {
        address: visitor.address.clone(),
        client: new_client(),
    };
    let res = stranger
        .submit("/login", "/login/passkey", &[("credential", answer)])
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("No passkey check was started")
    );

    // The second factor without a pending sign-in: back to /login.
    let res = stranger
        .submit(
            "/login",
            "/login/second-factor/passkey",
            &[("credential", answer)],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(res.headers()), "/login");
    assert!(
        app.db(|c| tessera::db::passkeys::list_for_user(c, ada.id).unwrap())
            .is_empty()
    );
}

#[actix_web::test]
async fn the_sign_in_options_ask_for_a_discoverable_passkey() {
    let app = common::spawn_app().await;
    let stranger = Visitor {
        address: app.address.replace("127.0.0.1", "localhost"),
        client: new_client(),
    };
    let page = stranger.get_html("/login").await;
    assert!(page.contains("Sign in with a passkey"));
    let csrf = csrf_in(&page);
    let res = stranger
        .post_form("/login/passkey/options", &[("csrf_token", &csrf)])
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let options: Value = res.json().await.unwrap();
    assert_eq!(options["publicKey"]["rpId"], "localhost");
    assert_eq!(options["publicKey"]["userVerification"], "required");
    assert!(
        options["publicKey"]["allowCredentials"]
            .as_array()
            .is_none_or(Vec::is_empty),
        "the browser chooses the account"
    );
    assert!(options.get("mediation").is_none_or(Value::is_null));
}

#[actix_web::test]
async fn removing_a_passkey_asks_for_the_step_up_first_and_is_audited() {
    let (app, ada) = app_with_user("ada").await;
    let id = insert_passkey(&app, ada.id, "Phone");
    // With a passkey, the password alone does not sign in.
    let res = app.login("ada", PASSWORD).await;
    assert_eq!(location(res.headers()), "/login/second-factor");
    let page = app.get_html("/login/second-factor").await;
    assert!(
        page.contains("Use a passkey"),
        "the second factor offers it"
    );
    assert!(!page.contains("id=\"code\""), "no code without TOTP");

    // Signed in (as though the passkey had answered): the page lists it.
    let visitor = app.visitor();
    app.db(|conn| tessera::db::passkeys::delete(conn, ada.id, id).unwrap());
    visitor.login_ok("ada").await;
    let id = insert_passkey(&app, ada.id, "Phone");
    let page = visitor.get_html("/profile/security").await;
    assert!(page.contains(&format!("data-passkey-id=\"{id}\"")));
    assert!(page.contains("value=\"Phone\""));

    let remove = format!("/profile/security/passkeys/{id}/remove");
    let sudo = format!("/sudo?next={}", remove.replace('/', "%2F"));
    let res = post_from_security(&visitor, &remove, &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(res.headers()), sudo);
    let res = visitor.get(&remove).await;
    assert_eq!(location(res.headers()), sudo, "the confirmation too");
    assert_eq!(
        app.db(|c| tessera::db::passkeys::list_for_user(c, ada.id).unwrap())
            .len(),
        1
    );

    visitor.step_up().await;
    let page = visitor.get_html(&remove).await;
    assert_eq!(text_of(&page, "h1").as_deref(), Some("Remove passkey"));
    let res = visitor.submit(&remove, &remove, &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(res.headers()), "/profile/security#passkeys");
    assert!(
        app.db(|c| tessera::db::passkeys::list_for_user(c, ada.id).unwrap())
            .is_empty()
    );
    let audit = app.audit_rows("passkey_removed");
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].target_label.as_deref(), Some("Phone"));
    assert_eq!(audit[0].actor_name.as_deref(), Some("ada"));
    // Gone: the password alone signs in again.
    let res = app.visitor().login("ada", PASSWORD).await;
    assert_eq!(location(res.headers()), "/");
}

#[actix_web::test]
async fn another_users_passkey_can_be_neither_renamed_nor_removed() {
    let (app, _) = app_with_user("ada").await;
    let root = app.create_user("root", true);
    let theirs = insert_passkey(&app, root.id, "Root's key");
    app.login_ok("ada").await;
    app.step_up().await;
    let remove = format!("/profile/security/passkeys/{theirs}/remove");
    assert_eq!(app.get(&remove).await.status(), StatusCode::NOT_FOUND);
    let res = post_from_security(&app, &remove, &[]).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let rename = format!("/profile/security/passkeys/{theirs}/rename");
    let res = post_from_security(&app, &rename, &[("name", "Mine now")]).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let rows = app.db(|c| tessera::db::passkeys::list_for_user(c, root.id).unwrap());
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].name, "Root's key");
    assert!(app.audit_rows("passkey_removed").is_empty());
    assert!(app.audit_rows("passkey_renamed").is_empty());
}

#[actix_web::test]
async fn a_passkey_is_renamed_with_a_valid_name() {
    let (app, ada) = app_with_user("ada").await;
    app.login_ok("ada").await;
    let id = insert_passkey(&app, ada.id, "Phone");
    let rename = format!("/profile/security/passkeys/{id}/rename");
    let res = post_from_security(&app, &rename, &[("name", "  Work phone ")]).await;
    assert_eq!(location(res.headers()), "/profile/security#passkeys");
    let page = app.get_html("/profile/security").await;
    assert!(page.contains("Passkey renamed to \u{201c}Work phone\u{201d}."));
    let long = "x".repeat(65);
    for bad in ["", "   ", long.as_str(), "tab\there"] {
        let res = post_from_security(&app, &rename, &[("name", bad)]).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        let page = app.get_html("/profile/security").await;
        assert!(page.contains("Not renamed."), "{bad:?}");
    }
    let rows = app.db(|c| tessera::db::passkeys::list_for_user(c, ada.id).unwrap());
    assert_eq!(rows[0].name, "Work phone");
    let audit = app.audit_rows("passkey_renamed");
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].detail.as_deref(), Some("was Phone"));
}

#[actix_web::test]
async fn failed_passkey_sign_ins_are_audited_and_throttled_like_passwords() {
    use base64::Engine as _;
    let (app, ada) = app_with_user("ada").await;
    // A passkey of ada's for the second factor only: the browser's answer
    // names it (and her), and is refused before its signature is checked.
    app.db(|conn| {
        let new = tessera::db::passkeys::NewPasskey {
            user_id: ada.id,
            name: "Key",
            credential_id: "AQID",
            credential: "{}",
            passwordless: false,
            created_at: tessera::db::now(),
        };
        tessera::db::passkeys::insert(conn, &new).unwrap()
    });
    let handle = tessera::auth::webauthn::user_handle(ada.id, ada.created_at);
    let handle = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(handle.as_bytes());
    let answer = serde_json::json!({
        "id": "AQID",
        "rawId": "AQID",
        "type": "public-key",
        "response": {
            "authenticatorData": "AAAA",
            "clientDataJSON": "AAAA",
            "signature": "AAAA",
            "userHandle": handle,
        },
        "extensions": {},
    })
    .to_string();
    let stranger = Visitor {
        address: app.address.replace("127.0.0.1", "localhost"),
        client: new_client(),
    };
    let attempt = async || {
        let csrf = csrf_in(&stranger.get_html("/login").await);
        let res = stranger
            .post_form("/login/passkey/options", &[("csrf_token", &csrf)])
            .await;
        assert_eq!(res.status(), StatusCode::OK);
        stranger
            .post_form(
                "/login/passkey",
                &[("csrf_token", &csrf), ("credential", &answer)],
            )
            .await
    };
    for n in 1..=5 {
        let res = attempt().await;
        assert_eq!(res.status(), StatusCode::OK, "free failure {n}");
        assert!(res.text().await.unwrap().contains("did not sign you in"));
    }
    let res = attempt().await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(res.headers().contains_key("retry-after"));
    let audit = app.audit_rows("passkey_failure");
    assert_eq!(audit.len(), 6);
    assert!(
        audit
            .iter()
            .all(|row| row.target_label.as_deref() == Some("ada"))
    );
    assert_eq!(
        audit[0].detail.as_deref(),
        Some("sign-in with a passkey: this passkey is for the second factor only")
    );
    assert_eq!(audit[5].outcome, "denied");
    // The same guesses hold the password back too, from this address.
    let res = stranger.login("ada", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
}
