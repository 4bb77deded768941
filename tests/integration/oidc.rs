//! A real OpenID Connect provider for the single sign-on tests: panva's
//! `oidc-provider` (OpenID Certified) run by node from `tests/oidc/provider.mjs`
//! on a free port of 127.0.0.1, with its own development sign-in pages. It is
//! installed by `npm install --prefix tests/browser-deps --no-audit --no-fund
//! oidc-provider@8` (as `.ci/run` does); without it (or node) each test prints
//! `SKIPPED …` and passes, unless `TESSERA_BROWSER_TESTS=1` makes that a
//! failure, as for the browser tests.
//!
//! Also here: arranging `/admin/sso` in the database, and a sign-in through
//! the provider's pages over plain HTTP (reqwest, one cookie jar for both
//! servers, as a browser has).

use crate::common;

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError, mpsc};
use std::time::Duration;

use common::{TestApp, Visitor, location};
use reqwest::StatusCode;
use serde_json::Value;
use tessera::db::sso_settings::{self, SECRET_BINDING, SsoSettings};
use tessera::domain::sso::PasswordSignIn;
use tessera::sealing::Sealer;

pub const CLIENT_ID: &str = "tessera-test";
pub const CLIENT_SECRET: &str = "provider-client-secret-7c1e9a4f";

/// `oidc-provider`'s entry point in `tests/browser-deps` (or `TESSERA_OIDC_PROVIDER`).
fn provider_module() -> PathBuf {
    std::env::var_os("TESSERA_OIDC_PROVIDER")
        .filter(|v| !v.is_empty())
        .map_or_else(
            || {
                PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                    .join("tests/browser-deps/node_modules/oidc-provider/lib/index.js")
            },
            PathBuf::from,
        )
}

fn required() -> bool {
    std::env::var("TESSERA_BROWSER_TESTS").is_ok_and(|v| matches!(v.trim(), "1" | "true" | "yes"))
}

/// Whether the provider can run; otherwise says loudly that `test` is skipped
/// (or fails when `TESSERA_BROWSER_TESTS=1`).
pub fn provider_or_skip(test: &str) -> bool {
    let node = Command::new("node")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    let module = provider_module().is_file();
    if node && module {
        return true;
    }
    let missing = if node {
        "the npm package oidc-provider"
    } else {
        "node"
    };
    assert!(
        !required(),
        "single sign-on test {test}: {missing} is missing, and TESSERA_BROWSER_TESTS=1 requires \
         it; run `npm install --prefix tests/browser-deps --no-audit --no-fund oidc-provider@8`"
    );
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED single sign-on test {test}: {missing} is missing; run `npm install --prefix \
         tests/browser-deps --no-audit --no-fund oidc-provider@8` (TESSERA_BROWSER_TESTS=1 makes \
         this a failure)"
    );
    false
}

/// A running provider; killed on drop.
pub struct OidcProvider {
    child: Child,
    pub issuer: String,
    lines: Arc<Mutex<Vec<String>>>,
}

impl OidcProvider {
    /// Starts the provider for a Tessera at `tessera` (its callback is the one
    /// redirect URI), with `accounts` (login → claims) and ID tokens that live
    /// `id_token_ttl` seconds.
    pub fn start(tessera: &str, accounts: &Value, id_token_ttl: u64) -> OidcProvider {
        let config = serde_json::json!({
            "clientId": CLIENT_ID,
            "clientSecret": CLIENT_SECRET,
            "redirectUri": format!("{tessera}/login/sso/callback"),
            "idTokenTtl": id_token_ttl,
            "accounts": accounts,
        });
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/oidc/provider.mjs");
        let mut child = Command::new("node")
            .arg(&script)
            .env("OIDC_PROVIDER_MODULE", provider_module())
            .env("OIDC_CONFIG", config.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start node tests/oidc/provider.mjs");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel();
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let lines = lines.clone();
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    if let Some(issuer) = line.strip_prefix("LISTENING ") {
                        let _ = tx.send(issuer.to_owned());
                    }
                    lines
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push(line);
                }
            });
        }
        let issuer = rx
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| {
                let _ = child.kill();
                panic!(
                    "the OpenID provider did not start:\n{}",
                    lines.lock().unwrap().join("\n")
                )
            });
        OidcProvider {
            child,
            issuer,
            lines,
        }
    }

    /// Everything the provider printed.
    pub fn log(&self) -> String {
        self.lines
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .join("\n")
    }

    /// The access and ID tokens the provider issued so far.
    pub fn issued_tokens(&self) -> Vec<String> {
        let mut tokens = Vec::new();
        for line in self.log().lines() {
            if let Some(json) = line.strip_prefix("ISSUED ") {
                let issued: Value = serde_json::from_str(json).unwrap();
                for name in ["access_token", "id_token"] {
                    if let Some(token) = issued[name].as_str() {
                        tokens.push(token.to_owned());
                    }
                }
            }
        }
        tokens
    }
}

impl Drop for OidcProvider {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("--- the OpenID provider's output ---\n{}\n---", self.log());
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What a test sets on `/admin/sso`, written straight to the database.
pub struct SsoSetup<'a> {
    pub auto_create: bool,
    pub admin_claim: Option<(&'a str, &'a str)>,
    pub password_sign_in: PasswordSignIn,
}

impl Default for SsoSetup<'_> {
    fn default() -> Self {
        Self {
            auto_create: false,
            admin_claim: None,
            password_sign_in: PasswordSignIn::Everyone,
        }
    }
}

/// Switches single sign-on on for `provider`, the client secret sealed with
/// the server's key file.
pub fn configure(app: &TestApp, provider: &OidcProvider, setup: &SsoSetup<'_>) {
    let sealer = Sealer::open_or_create(&app.key_file).unwrap();
    let (admin_claim, admin_claim_value) = setup.admin_claim.unwrap_or_default();
    let changes = SsoSettings {
        enabled: true,
        issuer: provider.issuer.clone(),
        client_id: CLIENT_ID.to_owned(),
        client_secret_sealed: sealer.seal(CLIENT_SECRET, SECRET_BINDING),
        admin_claim: admin_claim.to_owned(),
        admin_claim_value: admin_claim_value.to_owned(),
        auto_create: setup.auto_create,
        password_sign_in: setup.password_sign_in,
        updated_at: None,
    };
    app.db(|conn| sso_settings::update(conn, &changes).unwrap());
}

/// `/login/sso`: where Tessera sends the browser (the provider's
/// authorization endpoint, with state, nonce and the PKCE challenge).
pub async fn authorize_url(visitor: &Visitor) -> String {
    let res = visitor.get("/login/sso").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "/login/sso redirects");
    location(res.headers()).to_owned()
}

/// Goes through the provider's pages from `authorize` as `login` (any
/// password), following its redirects until it sends the browser back to
/// Tessera; returns that callback URL, not yet visited.
pub async fn through_provider(visitor: &Visitor, authorize: &str, login: &str) -> String {
    let client = &visitor.client;
    let mut url = authorize.to_owned();
    for _ in 0..10 {
        if url.starts_with(&visitor.address) {
            return url;
        }
        let res = client.get(&url).send().await.expect("GET at the provider");
        let status = res.status();
        if status.is_redirection() {
            url = absolute(&url, location(res.headers()));
            continue;
        }
        let page = res.text().await.unwrap();
        assert_eq!(status, StatusCode::OK, "the provider's page {url}: {page}");
        let action = common::attr_of(&page, "form", "action").expect("a form at the provider");
        let action = absolute(&url, &action);
        let prompt = common::input_value(&page, "prompt").unwrap_or_default();
        let fields: Vec<(&str, &str)> = if prompt == "login" {
            vec![
                ("prompt", "login"),
                ("login", login),
                ("password", "any password"),
            ]
        } else {
            vec![("prompt", prompt.as_str())]
        };
        let res = client
            .post(&action)
            .form(&fields)
            .send()
            .await
            .expect("POST at the provider");
        assert!(
            res.status().is_redirection(),
            "the provider's form answered {}",
            res.status()
        );
        url = absolute(&action, location(res.headers()));
    }
    panic!("the provider did not send the browser back to Tessera (last at {url})")
}

/// `location` resolved against `base`.
fn absolute(base: &str, location: &str) -> String {
    reqwest::Url::parse(base)
        .and_then(|base| base.join(location))
        .expect("a URL")
        .to_string()
}

/// The whole sign-in over HTTP as `login`: Tessera's answer to the callback.
pub async fn sign_in(visitor: &Visitor, login: &str) -> reqwest::Response {
    let authorize = authorize_url(visitor).await;
    let callback = through_provider(visitor, &authorize, login).await;
    visitor
        .client
        .get(&callback)
        .send()
        .await
        .expect("GET the callback")
}

/// `url` with its query parameter `name` set to `value`.
pub fn with_param(url: &str, name: &str, value: &str) -> String {
    let mut url = reqwest::Url::parse(url).expect("a URL");
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == name {
                value.to_owned()
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    url.query_pairs_mut().clear().extend_pairs(pairs);
    url.to_string()
}

/// The query parameter `name` of `url`.
pub fn param(url: &str, name: &str) -> Option<String> {
    reqwest::Url::parse(url)
        .ok()?
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// The provider's account `ada`: her address is ada@example.com, verified.
pub fn ada_account() -> Value {
    serde_json::json!({
        "ada": { "sub": "sub-ada", "email": "ada@example.com", "email_verified": true },
    })
}

/// A server with the user `ada` (ada@example.com), a provider that knows
/// `accounts` and issues ID tokens that live `id_token_ttl` seconds, and
/// single sign-on set up for it with `setup`.
pub async fn ada_and_provider(
    accounts: &Value,
    id_token_ttl: u64,
    setup: &SsoSetup<'_>,
) -> (TestApp, tessera::db::users::User, OidcProvider) {
    let (app, ada) = common::app_with_user("ada").await;
    let provider = OidcProvider::start(&app.address, accounts, id_token_ttl);
    configure(&app, &provider, setup);
    (app, ada, provider)
}
