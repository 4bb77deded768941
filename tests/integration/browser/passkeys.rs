//! Passkeys in a real browser: Chromium's virtual authenticator (the WebDriver
//! "Virtual Authenticator" extension, which chromedriver implements) stands in
//! for a phone or a security key. WebAuthn takes no IP address as relying-party
//! id, so these tests open the portal at `http://localhost:PORT` (a secure
//! context in Chromium), not 127.0.0.1.

use super::*;

impl Browser {
    /// Opens the portal at `localhost` from now on.
    fn use_localhost(&mut self) {
        self.base = self.base.replace("127.0.0.1", "localhost");
    }

    /// POSTs a WebDriver extension command of this session to chromedriver;
    /// its `value`.
    fn webdriver(&self, method: &str, command: &str, body: &Value) -> Value {
        let session = self.driver.session.as_deref().expect("a WebDriver session");
        let path = format!("/session/{session}/{command}");
        let response = http(self.driver.port, method, &path, &body.to_string(), WAIT)
            .unwrap_or_else(|| panic!("chromedriver did not answer {method} {path}"));
        let response: Value = serde_json::from_str(&response)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}: {response}"));
        assert!(
            response["value"].get("error").is_none(),
            "{method} {path}: {response}"
        );
        response["value"].clone()
    }

    /// Adds a virtual authenticator that keeps credentials (resident keys) and
    /// verifies its user (say, a fingerprint reader that always agrees); its id.
    fn add_virtual_authenticator(&self) -> String {
        let options = json!({
            "protocol": "ctap2",
            "transport": "internal",
            "hasResidentKey": true,
            "hasUserVerification": true,
            "isUserVerified": true,
        });
        let id = self.webdriver("POST", "webauthn/authenticator", &options);
        id.as_str().expect("an authenticator id").to_owned()
    }

    /// The credentials the virtual authenticator holds.
    fn authenticator_credentials(&self, authenticator: &str) -> Vec<Value> {
        let value = self.webdriver(
            "GET",
            &format!("webauthn/authenticator/{authenticator}/credentials"),
            &json!({}),
        );
        value.as_array().cloned().unwrap_or_default()
    }

    /// Adds a passkey named `name` on /profile/security.
    async fn add_passkey(&self, name: &str, passwordless: bool) {
        self.goto("/profile/security").await;
        self.find("#passkey-name")
            .await
            .send_keys(name)
            .await
            .expect("type the passkey's name");
        if !passwordless {
            self.click("#passkey-passwordless", "the passwordless box")
                .await;
        }
        self.press_to_new_page("#add-passkey", "Add passkey").await;
        assert_eq!(self.path().await, "/profile/security");
        let text = self.body_text().await;
        assert!(
            text.contains(&format!("Passkey \u{201c}{name}\u{201d} added.")),
            "{text}"
        );
    }

    /// Types the username and password on /login and submits them; the path
    /// it leads to.
    async fn password_step(&self, username: &str) -> String {
        self.goto("/login").await;
        self.find("input[name=username]")
            .await
            .send_keys(username)
            .await
            .expect("type the username");
        self.find("input[name=password]")
            .await
            .send_keys(PASSWORD)
            .await
            .expect("type the password");
        self.click_to_new_page("form[action=\"/login\"] button[type=submit]", "Sign in")
            .await;
        self.path().await
    }

    /// axe-core's serious problems on the current page, gathered in `problems`
    /// (nothing when axe is not installed and not required).
    async fn axe_into(&self, axe: Option<&str>, problems: &mut Vec<String>) {
        if let Some(axe) = axe {
            let path = self.path().await;
            problems.extend(super::pages::axe_problems(self, axe, &path, None).await);
        }
    }

    /// Signs out with the header's button.
    async fn sign_out(&self) {
        self.click_to_new_page("form[action=\"/logout\"] button", "Sign out")
            .await;
        assert_eq!(self.path().await, "/login");
    }
}

/// Under "two factors for administrators", an administrator who has none is
/// held on the security page: `/admin` leads back there until a passkey is
/// added, and opens once one is.
#[actix_web::test]
async fn the_policy_keeps_an_administrator_without_a_second_factor_out_of_admin() {
    let Some(binaries) =
        browser_or_skip("the_policy_keeps_an_administrator_without_a_second_factor_out_of_admin")
    else {
        return;
    };
    let (app, _) = root_and_ada().await;
    app.set_settings("require_second_factor = 'admins'");
    let mut browser = Browser::launch(&binaries, &app).await;
    browser.use_localhost();
    browser.add_virtual_authenticator();
    browser.sign_in("root").await;
    assert_eq!(
        browser.path().await,
        "/profile/security",
        "led to enrol first"
    );
    for held in ["/admin", "/admin/tokens", "/profile/tokens"] {
        browser.goto(held).await;
        assert_eq!(browser.path().await, "/profile/security", "{held}");
    }

    browser.add_passkey("Security key", false).await;
    browser.goto("/admin").await;
    assert_eq!(
        browser.path().await,
        "/admin",
        "enrolled: the console opens"
    );
}

/// Adds a passkey, signs in with it as the second factor and alone, and
/// removes it after the step-up.
#[actix_web::test]
async fn a_passkey_is_added_is_the_second_factor_signs_in_alone_and_is_removed_after_a_step_up() {
    let Some(binaries) = browser_or_skip(
        "a_passkey_is_added_is_the_second_factor_signs_in_alone_and_is_removed_after_a_step_up",
    ) else {
        return;
    };
    let axe = super::pages::axe_or_skip(
        "a_passkey_is_added_is_the_second_factor_signs_in_alone_and_is_removed_after_a_step_up",
    );
    let axe = axe.as_deref();
    let mut problems = Vec::new();
    let (app, ada) = root_and_ada().await;
    let mut browser = Browser::launch(&binaries, &app).await;
    browser.use_localhost();
    let authenticator = browser.add_virtual_authenticator();
    browser.sign_in("ada").await;

    browser.add_passkey("Laptop", true).await;
    browser.axe_into(axe, &mut problems).await;
    let row = app.db(|conn| tessera::db::passkeys::list_for_user(conn, ada.id).unwrap());
    assert_eq!(row.len(), 1);
    assert!(row[0].passwordless);
    assert_eq!(
        browser.authenticator_credentials(&authenticator).len(),
        1,
        "the authenticator keeps the credential"
    );
    let audit = app.audit_rows("passkey_registered");
    assert_eq!(audit.len(), 1, "{audit:?}");

    // The password alone no longer signs in: the passkey is the second factor.
    browser.sign_out().await;
    assert_eq!(browser.password_step("ada").await, "/login/second-factor");
    assert!(
        !browser.exists("form[action=\"/logout\"]").await,
        "not signed in yet"
    );
    browser.axe_into(axe, &mut problems).await;
    browser
        .press_to_new_page("#second-factor-passkey", "Use a passkey")
        .await;
    assert_eq!(browser.path().await, "/profile/tokens");
    assert!(browser.exists("form[action=\"/logout\"]").await);
    let logins = app.audit_rows("login");
    assert_eq!(
        logins.len(),
        2,
        "the first with the password alone: {logins:?}"
    );
    assert_eq!(logins[1].detail.as_deref(), Some("passkey"));

    // Signing in without a password.
    browser.sign_out().await;
    browser.axe_into(axe, &mut problems).await;
    browser
        .press_to_new_page("#passkey-sign-in", "Sign in with a passkey")
        .await;
    assert_eq!(browser.path().await, "/profile/tokens");
    assert!(browser.exists("form[action=\"/logout\"]").await);
    let logins = app.audit_rows("login");
    assert_eq!(logins.len(), 3);
    assert_eq!(logins[2].detail.as_deref(), Some("passkey"));
    let used = app.db(|conn| tessera::db::passkeys::list_for_user(conn, ada.id).unwrap());
    assert!(used[0].last_used_at.is_some(), "the last use is recorded");

    // Removing asks for the step-up first.
    browser.goto("/profile/security").await;
    browser
        .click_to_new_page("#passkeys a[href$=\"/remove\"]", "Remove")
        .await;
    // The passkey itself may stand for the password.
    assert_eq!(browser.path().await, "/sudo");
    browser.axe_into(axe, &mut problems).await;
    browser
        .press_to_new_page("#sudo-passkey", "Use a passkey")
        .await;
    let step_ups = app.audit_rows("step_up");
    assert_eq!(step_ups.len(), 1);
    assert_eq!(step_ups[0].detail.as_deref(), Some("passkey"));
    assert_eq!(
        browser.path().await,
        format!("/profile/security/passkeys/{}/remove", row[0].id)
    );
    browser.axe_into(axe, &mut problems).await;
    browser
        .press_to_new_page("form[action$=\"/remove\"]", "Remove passkey")
        .await;
    assert_eq!(browser.path().await, "/profile/security");
    assert!(browser.body_text().await.contains("You have no passkeys."));
    assert_eq!(app.audit_rows("passkey_removed").len(), 1);

    // The authenticator still holds it, but it signs nobody in any more.
    browser.sign_out().await;
    browser
        .press_to_new_page("#passkey-sign-in", "Sign in with a passkey")
        .await;
    assert_eq!(browser.path().await, "/login/passkey");
    assert!(
        browser
            .body_text()
            .await
            .contains("That passkey did not sign you in."),
    );
    assert_eq!(app.audit_rows("passkey_failure").len(), 1);
    assert!(problems.is_empty(), "axe:\n{}", problems.join("\n"));
}

/// Wraps the page's `navigator.credentials` so that every challenge the
/// server sends is noted (base64url) in the tab's `sessionStorage`, which
/// outlives the page.
const SPY_ON_CHALLENGES: &str = "\
    if (window.__challengeSpy) return; window.__challengeSpy = true; \
    const note = (options) => { \
      const bytes = new Uint8Array(options.publicKey.challenge); \
      let text = ''; for (const b of bytes) text += String.fromCharCode(b); \
      const b64 = btoa(text).replace(/\\+/g, '-').replace(/\\//g, '_').replace(/=+$/, ''); \
      const seen = JSON.parse(sessionStorage.getItem('challenges') || '[]'); \
      seen.push(b64); sessionStorage.setItem('challenges', JSON.stringify(seen)); }; \
    const creds = navigator.credentials; \
    const create = creds.create.bind(creds), get = creds.get.bind(creds); \
    creds.create = (o) => { note(o); return create(o); }; \
    creds.get = (o) => { note(o); return get(o); };";

/// A challenge (base64url) as it could be written: so, in standard base64,
/// in hex, and as Rust's `Debug` prints bytes, both the challenge's own and
/// those of its base64url text inside a client's JSON.
fn challenge_forms(challenge: &str) -> Vec<String> {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(challenge)
        .expect("a base64url challenge");
    let listed = |bytes: &[u8]| {
        bytes
            .iter()
            .map(u8::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    vec![
        challenge.to_owned(),
        base64::engine::general_purpose::STANDARD.encode(&bytes),
        bytes.iter().fold(String::new(), |mut hex, b| {
            use std::fmt::Write as _;
            let _ = write!(hex, "{b:02x}");
            hex
        }),
        listed(&bytes),
        listed(challenge.as_bytes()),
    ]
}

impl Browser {
    /// The session cookies the browser holds now, into `secrets`.
    async fn keep_cookies(&self, secrets: &mut Vec<String>) {
        for cookie in self.client.get_all_cookies().await.expect("the cookies") {
            secrets.push(cookie.value().to_owned());
        }
    }

    /// Presses a passkey button in `scope`, noting the challenge it gets.
    async fn press_passkey(&self, scope: &str, label: &str) {
        self.js(SPY_ON_CHALLENGES, vec![]).await;
        self.press_to_new_page(scope, label).await;
    }
}

/// The real binary at trace level, a passkey added, used as the second factor
/// and alone: no challenge the server sent, and no session cookie the browser
/// held, is in its logs, its audit rows or anywhere in the database.
#[actix_web::test]
async fn webauthn_challenges_and_session_cookies_reach_no_log_audit_row_or_database() {
    let test = "webauthn_challenges_and_session_cookies_reach_no_log_audit_row_or_database";
    let Some(binaries) = browser_or_skip(test) else {
        return;
    };
    let db = common::fresh_database();
    crate::process::create_admin(&db.url, "root", PASSWORD, &[]);
    let mut server = crate::process::Server::start(
        &db.url,
        &["--cookie-secure", "false"],
        &[("TESSERA_LOG", "trace")],
    );
    let base = server.url("").replace("127.0.0.1", "localhost");
    let browser = Browser::launch_at(&binaries, &base).await;
    browser.add_virtual_authenticator();
    let mut secrets = Vec::new();

    browser.sign_in("root").await;
    browser.keep_cookies(&mut secrets).await;
    browser.goto("/profile/security").await;
    browser
        .find("#passkey-name")
        .await
        .send_keys("Laptop")
        .await
        .expect("type the name");
    browser.press_passkey("#add-passkey", "Add passkey").await;
    assert!(browser.body_text().await.contains("added"));
    browser.keep_cookies(&mut secrets).await;
    browser.sign_out().await;
    assert_eq!(browser.password_step("root").await, "/login/second-factor");
    browser.keep_cookies(&mut secrets).await;
    browser
        .press_passkey("#second-factor-passkey", "Use a passkey")
        .await;
    assert_eq!(browser.path().await, "/profile/tokens");
    browser.keep_cookies(&mut secrets).await;
    browser.sign_out().await;
    browser
        .press_passkey("#passkey-sign-in", "Sign in with a passkey")
        .await;
    assert_eq!(browser.path().await, "/profile/tokens");
    browser.keep_cookies(&mut secrets).await;
    let challenges = browser
        .js(
            "return JSON.parse(sessionStorage.getItem('challenges') || '[]');",
            vec![],
        )
        .await;
    let challenges: Vec<String> = serde_json::from_value(challenges).expect("challenges");
    assert_eq!(challenges.len(), 3, "{challenges:?}");
    secrets.retain(|secret| secret.len() >= 16);
    secrets.extend(challenges.iter().flat_map(|c| challenge_forms(c)));
    secrets.sort();
    secrets.dedup();

    server.terminate();
    server.wait();
    let logs = server.log();
    assert!(logs.lines().count() > 50, "trace logging was on");
    let pool =
        tessera::db::connect_and_migrate(&tessera::db::DatabaseUrl::parse(&db.url).unwrap(), 1)
            .unwrap();
    let mut stored = common::database_dump(&pool);
    if let Some(path) = db.url.strip_prefix("sqlite://") {
        for file in [path.to_owned(), format!("{path}-wal")] {
            if let Ok(bytes) = std::fs::read(&file) {
                stored.push_str(&String::from_utf8_lossy(&bytes));
            }
        }
    }
    assert!(stored.contains("passkey_registered") && stored.contains("Laptop"));
    for secret in &secrets {
        assert!(!logs.contains(secret.as_str()), "in the logs: {secret}");
        assert!(
            !stored.contains(secret.as_str()),
            "in the database: {secret}"
        );
    }
}
