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
    assert_eq!(browser.path().await, "/sudo");
    browser
        .find("input[name=password]")
        .await
        .send_keys(PASSWORD)
        .await
        .expect("type the password");
    browser
        .click_to_new_page("form[action=\"/sudo\"] button[type=submit]", "Confirm")
        .await;
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
