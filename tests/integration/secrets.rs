//! Issue #6, no secret leaks: a whole scenario (first-run setup, sign-in, every
//! kind of token created, used, regenerated and revoked, mobile sign-in and
//! sign-out, introspection, revocation by value, a password change, a one-time
//! set-password link) against the real binary logging at the most verbose
//! level; then the logs, the audit table and the whole database are searched
//! for every token, password (also as a form would encode it), session cookie
//! and the session key inside it, CSRF token, setup code and set-password code
//! that was issued or typed: zero hits. The cookie-encrypting key is stored (all
//! instances share it) but must never be logged.

use crate::common;
use crate::process;

use std::sync::Arc;
use std::time::Duration;

use process::Server;
use reqwest::StatusCode;
use reqwest::cookie::CookieStore as _;
use serde_json::Value;

/// A browser: cookie jar we can read, no redirects followed.
struct Browser {
    client: reqwest::Client,
    jar: Arc<reqwest::cookie::Jar>,
}

impl Browser {
    fn new() -> Self {
        let jar = Arc::new(reqwest::cookie::Jar::default());
        let client = reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Self { client, jar }
    }

    async fn page(&self, url: &str, secrets: &mut Vec<String>) -> String {
        let res = self.client.get(url).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "GET {url}");
        let html = res.text().await.unwrap();
        if let Some(csrf) = common::input_value(&html, "csrf_token") {
            secrets.push(csrf);
        }
        self.remember_cookie(url, secrets);
        html
    }

    fn remember_cookie(&self, url: &str, secrets: &mut Vec<String>) {
        if let Some(cookies) = self.jar.cookies(&url.parse().unwrap()) {
            for pair in cookies.to_str().unwrap().split("; ") {
                if let Some((_, value)) = pair.split_once('=') {
                    secrets.push(value.to_owned());
                }
            }
        }
    }

    /// Submits a form found on `page` to `action`, with its CSRF token.
    async fn submit(
        &self,
        page: &str,
        action: &str,
        fields: &[(&str, &str)],
        secrets: &mut Vec<String>,
    ) -> reqwest::Response {
        let html = self.page(page, secrets).await;
        let csrf = common::csrf_in(&html);
        let mut all = fields.to_vec();
        all.push(("csrf_token", &csrf));
        let res = self.client.post(action).form(&all).send().await.unwrap();
        self.remember_cookie(action, secrets);
        res
    }
}

/// The token on a result page; the page's text if there is none.
async fn issued(res: reqwest::Response) -> String {
    let status = res.status();
    let html = res.text().await.unwrap();
    common::text_of(&html, "#new-token").unwrap_or_else(|| {
        panic!(
            "no new token ({status}): {}",
            common::text_of(&html, "main").unwrap_or(html)
        )
    })
}

/// The `token` of an API answer that created one (201).
async fn created_token(res: reqwest::Result<reqwest::Response>) -> String {
    let res = res.expect("an answer");
    assert_eq!(res.status(), StatusCode::CREATED);
    let body: Value = res.json().await.unwrap();
    body["token"].as_str().expect("a token").to_owned()
}

#[actix_web::test]
async fn no_secret_reaches_logs_audit_or_database() {
    let db = common::fresh_database();
    let database_url = db.url.clone();
    // A key file on both databases (PostgreSQL has none by default): webhook
    // secrets are kept sealed with it.
    let key_file = db.key_file.to_str().unwrap().to_owned();
    let mut server = Server::start(
        &database_url,
        &["--cookie-secure", "false"],
        &[
            ("TESSERA_LOG", "trace"),
            // The webhook endpoint below is on loopback: its deliveries fail.
            ("TESSERA_WEBHOOKS_ALLOW_PRIVATE", "true"),
            ("TESSERA_SECRET_KEY_FILE", &key_file),
        ],
    );
    let mut secrets: Vec<String> = Vec::new();
    let http = reqwest::Client::new();
    let admin_password = "first admin passphrase";
    let ada_password = "ada's first passphrase";
    let ada_new_password = "ada's second passphrase";
    secrets.extend([admin_password, ada_password, ada_new_password].map(str::to_owned));

    // First run: the setup link is printed on standard output (right after
    // the address is logged).
    let mut printed = String::new();
    for _ in 0..100 {
        printed = server.log();
        if printed.contains("/setup?code=") {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let code = printed
        .split("/setup?code=")
        .nth(1)
        .expect("the setup link is printed")
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    secrets.push(code.clone());
    let admin = Browser::new();
    let setup_page = server.url(&format!("/setup?code={code}"));
    let res = admin
        .submit(
            &setup_page,
            &server.url("/setup"),
            &[
                ("code", &code),
                ("username", "root"),
                ("email", "root@example.com"),
                ("display_name", "Root"),
                ("password", admin_password),
            ],
            &mut secrets,
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "setup");

    // The administrator creates ada and gives her a membership.
    let res = admin
        .submit(
            &server.url("/admin/users/new"),
            &server.url("/admin/users"),
            &[
                ("username", "ada"),
                ("email", "ada@example.com"),
                ("display_name", "Ada"),
                ("password", ada_password),
            ],
            &mut secrets,
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "create ada");

    // And grace, who sets her own password through a one-time link.
    let grace_password = "grace's own passphrase";
    secrets.push(grace_password.to_owned());
    let res = admin
        .submit(
            &server.url("/admin/users/new"),
            &server.url("/admin/users"),
            &[
                ("username", "grace"),
                ("email", "grace@example.com"),
                ("display_name", "Grace"),
                ("initial", "link"),
                ("password", ""),
            ],
            &mut secrets,
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK, "create grace with a link");
    let link = common::text_of(&res.text().await.unwrap(), "#password-link").unwrap();
    let link_code = link.split_once("/set-password?code=").unwrap().1.to_owned();
    secrets.push(link_code.clone());
    let grace = Browser::new();
    let res = grace
        .submit(
            &server.url(&format!("/set-password?code={link_code}")),
            &server.url("/set-password"),
            &[("code", &link_code), ("new_password", grace_password)],
            &mut secrets,
        )
        .await;
    assert!(
        res.status().is_redirection(),
        "set-password: {}",
        res.status()
    );
    let pool = tessera::db::connect_and_migrate(
        &tessera::db::DatabaseUrl::parse(&database_url).unwrap(),
        1,
    )
    .unwrap();
    let (department, user_type, ada_id) = {
        use tessera::db::{departments, memberships, user_types, users};
        let conn = &mut pool.get().unwrap();
        let ada = users::find_by_username(conn, "ada").unwrap().unwrap();
        let department = departments::create(conn, "Field", "").unwrap();
        let user_type =
            user_types::create(conn, "Operator", "", "devices:read devices:write").unwrap();
        memberships::add(conn, ada.id, department, user_type).unwrap();
        (department, user_type, ada.id)
    };

    // Ada signs in (once wrongly), creates an access token and a client.
    let ada = Browser::new();
    let login = server.url("/login");
    let res = ada
        .submit(
            &login,
            &login,
            &[("username", "ada"), ("password", "not her password")],
            &mut secrets,
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = ada
        .submit(
            &login,
            &login,
            &[("username", "ada"), ("password", ada_password)],
            &mut secrets,
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "ada signs in");
    // She steps up (the password once more), as regenerating and the password
    // change below ask.
    let sudo = server.url("/sudo");
    let res = ada
        .submit(
            &sudo,
            &sudo,
            &[("password", ada_password), ("next", "/profile")],
            &mut secrets,
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "ada steps up");
    let res = ada
        .submit(
            &server.url("/profile/tokens/new"),
            &server.url("/profile/tokens"),
            &[
                ("name", "ci"),
                ("description", "build pipeline"),
                ("scopes", "devices:read"),
                ("expires_in_days", "30"),
            ],
            &mut secrets,
        )
        .await;
    let personal = issued(res).await;
    secrets.push(personal.clone());
    let role = user_type.to_string();
    let in_a_month = (chrono::Utc::now() + chrono::TimeDelta::days(30))
        .format("%Y-%m-%d")
        .to_string();
    let res = ada
        .submit(
            &server.url("/profile/clients/new"),
            &server.url("/profile/clients"),
            &[
                ("name", "BI"),
                ("role_id", &role),
                ("expires_at", &in_a_month),
            ],
            &mut secrets,
        )
        .await;
    let client = issued(res).await;
    secrets.push(client.clone());
    for token in [&personal, &client] {
        let res = http
            .get(server.url("/api/v1/me"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
    }

    // Regenerate the access token (the old secret stays a secret).
    let personal_id: i64 = {
        let list = ada.page(&server.url("/profile/tokens"), &mut secrets).await;
        common::token_row_id(&list, "ci")
    };
    let res = ada
        .submit(
            &server.url("/profile/tokens"),
            &server.url(&format!("/profile/tokens/{personal_id}/regenerate")),
            &[],
            &mut secrets,
        )
        .await;
    let regenerated = issued(res).await;
    secrets.push(regenerated.clone());

    // The administrator issues an API token for ada's membership.
    let membership = format!("{department}:{user_type}");
    let ada_user = ada_id.to_string();
    let res = admin
        .submit(
            &server.url("/admin/tokens/new"),
            &server.url("/admin/tokens"),
            &[
                ("name", "integration"),
                ("expires_at", &in_a_month),
                ("user_id", &ada_user),
                ("membership", &membership),
                ("description", "sync job"),
            ],
            &mut secrets,
        )
        .await;
    let api_token = issued(res).await;
    secrets.push(api_token.clone());

    // A webhook endpoint, whose signing secret is shown once; the events
    // that follow are sent to it (and fail: nothing listens there).
    let res = admin
        .submit(
            &server.url("/admin/webhooks/new"),
            &server.url("/admin/webhooks"),
            &[
                ("url", "http://127.0.0.1:9/hook"),
                ("events", "token.created"),
                ("events", "token.revoked"),
                ("events", "token.regenerated"),
            ],
            &mut secrets,
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let webhook_secret = common::text_of(&res.text().await.unwrap(), "#webhook-secret")
        .expect("the webhook secret, once");
    secrets.push(webhook_secret.clone());
    secrets.push(webhook_secret["whsec_".len()..].to_owned());

    // Mobile sign-in of the administrator (every scope, introspection included).
    let session = created_token(
        http.post(server.url("/api/v1/sessions"))
            .json(&serde_json::json!({
                "username": "root", "password": admin_password, "device_name": "Pixel 9"
            }))
            .send()
            .await,
    )
    .await;
    secrets.push(session.clone());
    for token in [&regenerated, &api_token, &personal, "tsrp_garbage"] {
        http.post(server.url("/api/v1/introspect"))
            .bearer_auth(&session)
            .form(&[("token", token)])
            .send()
            .await
            .unwrap();
    }
    // A token created through the API, then revoked by value as if leaked.
    let via_api = created_token(
        http.post(server.url("/api/v1/tokens"))
            .bearer_auth(&session)
            .json(&serde_json::json!({"name": "leaky", "scopes": ["devices:read"]}))
            .send()
            .await,
    )
    .await;
    secrets.push(via_api.clone());
    let res = http
        .post(server.url("/api/v1/revoke"))
        .form(&[("token", &via_api)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    // Used after revocation: audited as such.
    http.get(server.url("/api/v1/me"))
        .bearer_auth(&via_api)
        .send()
        .await
        .unwrap();

    // Ada revokes her client, changes her password, signs out.
    let client_id: i64 = {
        let list = ada.page(&server.url("/profile/tokens"), &mut secrets).await;
        common::token_row_id(&list, "BI")
    };
    let res = ada
        .submit(
            &server.url(&format!("/profile/tokens/{client_id}/revoke")),
            &server.url(&format!("/profile/tokens/{client_id}/revoke")),
            &[],
            &mut secrets,
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let res = ada
        .submit(
            &server.url("/profile"),
            &server.url("/profile/password"),
            &[
                ("current_password", ada_password),
                ("new_password", ada_new_password),
            ],
            &mut secrets,
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "password change");
    let res = ada
        .submit(
            &server.url("/profile"),
            &server.url("/logout"),
            &[],
            &mut secrets,
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    // Mobile sign-out.
    let res = http
        .delete(server.url("/api/v1/sessions/current"))
        .bearer_auth(&session)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);

    // The logs: the whole of standard error, at trace level.
    server.terminate();
    server.wait();
    let output = server.log();
    let logs = output
        .split_once("/setup?code=")
        .map(|(before, after)| {
            // The one place the setup code belongs: the printed link.
            let rest = after.split_once('\n').map_or("", |(_, rest)| rest);
            format!("{before}{rest}")
        })
        .unwrap_or(output);
    assert!(
        logs.lines().count() > 100,
        "trace logging was on: {} lines",
        logs.lines().count()
    );

    // Everything stored: every row of every table (audit included) and, on
    // SQLite, the raw bytes of the database and its write-ahead log.
    let mut stored = common::database_dump(&pool);
    if let Some(path) = database_url.strip_prefix("sqlite://") {
        for file in [path.to_owned(), format!("{path}-wal")] {
            if let Ok(bytes) = std::fs::read(&file) {
                stored.push_str(&String::from_utf8_lossy(&bytes));
            }
        }
    }
    assert!(stored.contains("ci") && stored.contains("token_created"));

    // The session cookie is encrypted: what it hides, the session key, must not
    // be anywhere either (the database keeps its SHA-256 only). The key that
    // encrypts it is stored, for every instance to share, but never logged.
    let cookie_key: String = {
        use diesel::prelude::*;
        use tessera::db::schema::settings::dsl as s;
        s::settings
            .find(1)
            .select(s::cookie_key.assume_not_null())
            .first(&mut pool.get().unwrap())
            .unwrap()
    };
    assert!(!logs.contains(&cookie_key), "the cookie key is in the logs");
    let key = actix_web::cookie::Key::from(
        &base64::Engine::decode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            &cookie_key,
        )
        .unwrap(),
    );
    let session_keys: Vec<String> = secrets
        .iter()
        .filter_map(|value| {
            // As the jar keeps it: percent-encoded.
            let name = tessera::startup::SESSION_COOKIE;
            let cookie = actix_web::cookie::Cookie::parse_encoded(format!("{name}={value}"))
                .ok()?
                .into_owned();
            let mut jar = actix_web::cookie::CookieJar::new();
            jar.add_original(cookie);
            let plain = jar.private(&key).get(name)?;
            Some(plain.value().to_owned())
        })
        .collect();
    assert!(
        session_keys.len() >= 4,
        "session keys inside the cookies: {}",
        session_keys.len()
    );
    secrets.extend(session_keys);
    // Passwords as a form body or a URL would carry them, too.
    let passwords = [
        admin_password,
        ada_password,
        ada_new_password,
        grace_password,
    ];
    secrets.extend(
        passwords
            .iter()
            .map(|p| serde_urlencoded::to_string([("p", p)]).unwrap()[2..].to_owned()),
    );

    secrets.sort();
    secrets.dedup();
    secrets.retain(|s| s.len() >= 8);
    assert!(secrets.len() >= 15, "{} secrets collected", secrets.len());
    for secret in &secrets {
        assert!(!logs.contains(secret.as_str()), "a secret is in the logs");
        assert!(!stored.contains(secret.as_str()), "a secret is stored");
        // Token bodies alone (without the prefix) must not be there either.
        if let Some(body) = secret.strip_prefix("tsr").and_then(|rest| rest.get(2..)) {
            assert!(!logs.contains(body) && !stored.contains(body));
        }
    }
}

/// Issue 14: what Show keeps is sealed. The column holds neither the secret
/// nor its body, the dump of the whole database does not either, and the
/// stored bytes open only with the server's key file: not with another key,
/// and not when moved to another token's row.
#[actix_web::test]
async fn kept_secrets_do_not_open_without_the_key_file() {
    use tessera::sealing::{OpenError, Sealer};
    let (app, _) = common::app_with_member("ada").await;
    app.login_ok("ada").await;
    let (one, secret) = app.new_client_token("BI").await;
    let (two, _) = app.new_client_token("ETL").await;
    let stored = |id: i64| -> (Vec<u8>, Vec<u8>) {
        use diesel::prelude::*;
        use tessera::db::schema::tokens::dsl as t;
        app.db(|conn| {
            t::tokens
                .find(id)
                .select((t::sealed_secret.assume_not_null(), t::sha256))
                .first(conn)
                .unwrap()
        })
    };
    let (sealed, sha256) = stored(one);
    let body = &secret[secret.len() - 20..];
    assert!(
        !sealed.windows(body.len()).any(|w| w == body.as_bytes()),
        "the sealed copy holds the secret in the clear"
    );
    let dump = app.database_dump();
    assert!(!dump.contains(&secret) && !dump.contains(body));

    // With the server's key file it opens: the column is what Show reads.
    let key = Sealer::open_or_create(&app.key_file).unwrap();
    assert_eq!(key.open(&sealed, &sha256).unwrap(), secret);
    // A copy of the database with any other key opens nothing.
    let elsewhere = tempfile::tempdir().unwrap();
    let other = Sealer::open_or_create(&elsewhere.path().join("key")).unwrap();
    assert_eq!(other.open(&sealed, &sha256), Err(OpenError::UnknownKey));
    assert_eq!(Sealer::none().open(&sealed, &sha256), Err(OpenError::NoKey));
    // Nor does a copy moved to another row (bound to its token's hash).
    let (_, other_sha256) = stored(two);
    assert_eq!(key.open(&sealed, &other_sha256), Err(OpenError::Corrupt));
}
