//! Test harness: spawns the real server on 127.0.0.1:0 with its own database (a
//! temporary SQLite file, or a fresh PostgreSQL schema when `TEST_DATABASE_URL` is
//! set) and drives it over HTTP with a cookie-keeping client.

#[allow(
    dead_code,
    reason = "the email and webhook tests use it (being written)"
)]
pub mod python;
pub mod site;

use std::time::{Duration, Instant};

use clap::Parser as _;
use diesel::connection::SimpleConnection as _;
use diesel::prelude::*;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use scraper::{Html, Selector};
use tessera::cli::Cli;
use tessera::config::Config;
use tessera::db::{DbConn, DbPool};
use tessera::domain::account::{NewAccount, Password};
use tessera::startup::Application;

pub const PASSWORD: &str = "correct horse battery";

/// The user types every installation starts with ("Read-only" and
/// "Integrator", from the migrations).
pub const STARTER_USER_TYPES: i64 = 2;

/// A password of exactly `chars` characters (up to 170), most of them outside
/// ASCII and some outside the Basic Multilingual Plane (two UTF-16 units each),
/// so that a browser's UTF-16 `maxlength` would have cut it short; words, not a
/// repeated pattern, so that it is not refused as easy to guess.
pub fn long_password(chars: usize) -> String {
    let words = [
        "Zürich",
        "😀",
        "Ørsted",
        "ñandú",
        "東京",
        "kraków",
        "🎉",
        "Straße",
        "façade",
        "smörgåsbord",
        "🚲",
        "naïve",
        "jalapeño",
        "crème",
        "brûlée",
        "Łódź",
        "🌋",
        "Reykjavík",
        "São",
        "añejo",
        "🦉",
        "Ålesund",
        "Dvořák",
        "Gödel",
        "Erdős",
        "🍋",
        "Čapek",
        "Tromsø",
        "Škoda",
        "Ærø",
    ];
    let password: String = words.join("-").chars().take(chars).collect();
    assert_eq!(password.chars().count(), chars);
    assert!(
        password.encode_utf16().count() > 128,
        "more UTF-16 units than maxlength allowed"
    );
    password
}

/// A database for one test: a temporary SQLite file, or a fresh PostgreSQL schema
/// when `TEST_DATABASE_URL` is set (dropped with this). Empty until whoever
/// connects first applies the migrations: an in-process app, a `tessera serve`
/// child (tests/integration/process) or [`TestDb::connect`].
pub struct TestDb {
    /// What the server and the test connect to.
    pub url: String,
    /// The server's secret key file (Show), in a folder of the test's own:
    /// on PostgreSQL nothing would be beside the database.
    pub key_file: std::path::PathBuf,
    place: Place,
    _dir: tempfile::TempDir,
}

enum Place {
    Sqlite,
    Postgres { admin_url: String, schema: String },
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Place::Postgres { admin_url, schema } = &self.place
            && let Ok(mut conn) = PgConnection::establish(admin_url)
        {
            let _ = conn.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
        }
    }
}

/// A fresh, empty database for one test.
pub fn fresh_database() -> TestDb {
    let dir = tempfile::tempdir().expect("temp dir");
    let key_file = dir.path().join("secret.key");
    match std::env::var("TEST_DATABASE_URL") {
        Ok(admin_url) if !admin_url.is_empty() => {
            // Without TLS unless the URL asks for it: libpq's OpenSSL, cleaned up
            // at process exit while a pool thread may still be connecting, can
            // crash the test binary after every test has passed.
            let admin_url = if admin_url.contains("sslmode=") {
                admin_url
            } else {
                let sep = if admin_url.contains('?') { '&' } else { '?' };
                format!("{admin_url}{sep}sslmode=disable")
            };
            let schema = format!("t_{}", random_suffix());
            let mut conn = PgConnection::establish(&admin_url)
                .unwrap_or_else(|e| panic!("TEST_DATABASE_URL does not answer: {e}"));
            conn.batch_execute(&format!("CREATE SCHEMA {schema}"))
                .expect("create test schema");
            TestDb {
                url: format!("{admin_url}&options=-csearch_path%3D{schema}"),
                key_file,
                place: Place::Postgres { admin_url, schema },
                _dir: dir,
            }
        }
        _ => TestDb {
            url: format!("sqlite://{}", dir.path().join("tessera.db").display()),
            key_file,
            place: Place::Sqlite,
            _dir: dir,
        },
    }
}

fn random_suffix() -> String {
    use rand::Rng as _;
    rand::rng()
        .sample_iter(rand::distr::Alphanumeric)
        .take(12)
        .map(|c| (c as char).to_ascii_lowercase())
        .collect()
}

/// Whether the tests run against PostgreSQL.
pub fn on_postgres() -> bool {
    std::env::var("TEST_DATABASE_URL").is_ok_and(|v| !v.is_empty())
}

impl TestDb {
    /// The URL one server instance gets. On PostgreSQL it names its connections
    /// (`application_name`), so that the test can tell when a killed instance's
    /// connections are gone.
    pub fn url_for(&self, instance: &str) -> String {
        match self.place {
            Place::Postgres { .. } => format!("{}&application_name={instance}", self.url),
            Place::Sqlite => self.url.clone(),
        }
    }

    /// A connection of the test's own, with the pragmas the server uses, after
    /// applying the migrations.
    pub fn connect(&self) -> DbConn {
        let mut conn = match self.url.strip_prefix("sqlite://") {
            Some(path) => {
                let mut conn = SqliteConnection::establish(path).expect("open the SQLite file");
                conn.batch_execute(
                    "PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 10000;
                     PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL;",
                )
                .expect("pragmas");
                DbConn::Sqlite(conn)
            }
            None => DbConn::Pg(PgConnection::establish(&self.url).expect("connect PostgreSQL")),
        };
        tessera::db::run_migrations(&mut conn).expect("migrations");
        conn
    }

    /// On PostgreSQL, waits (up to 20 s) until no connection of `instance` is
    /// left: a killed server's backend may still be finishing a statement, and
    /// only then rolls its transaction back (or commits, if COMMIT had arrived).
    pub fn wait_until_disconnected(&self, instance: &str) {
        if let Place::Postgres { .. } = self.place {
            let mut conn = self.connect();
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                let left = scalar(
                    &mut conn,
                    &format!(
                        "SELECT COUNT(*) FROM pg_stat_activity WHERE application_name = '{instance}'"
                    ),
                );
                if left == 0 {
                    return;
                }
                assert!(
                    Instant::now() < deadline,
                    "{left} connections of the killed server {instance} stay open"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

/// The one BIGINT a query returns.
pub fn scalar(conn: &mut DbConn, query: &str) -> i64 {
    scalar_of::<diesel::sql_types::BigInt, i64>(conn, query)
}

/// The one TEXT a query returns.
pub fn text_scalar(conn: &mut DbConn, query: &str) -> String {
    scalar_of::<diesel::sql_types::Text, String>(conn, query)
}

fn scalar_of<ST, T>(conn: &mut DbConn, query: &str) -> T
where
    ST: diesel::sql_types::SqlType + diesel::sql_types::SingleValue + 'static,
    T: diesel::deserialize::FromSqlRow<ST, tessera::db::Db> + 'static,
    tessera::db::Db: diesel::sql_types::HasSqlType<ST>,
{
    diesel::select(diesel::dsl::sql::<ST>(&format!("({query})")))
        .get_result(conn)
        .unwrap_or_else(|e| panic!("{query}: {e}"))
}

pub struct TestApp {
    pub address: String,
    pub port: u16,
    pub pool: DbPool,
    pub visitor: Visitor,
    pub database_url: String,
    /// The server's secret key file (Show's sealed copies).
    pub key_file: std::path::PathBuf,
    setup_code: Option<String>,
    clock: tessera::clock::Clock,
    handle: actix_web::dev::ServerHandle,
    _db: TestDb,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // Sends the stop command now; the workers wind down on their own.
        drop(self.handle.stop(false));
    }
}

/// The configuration a test server starts with: its own database, port 0, cheap
/// argon2 (through config, as any deployment could set it).
pub fn test_config(database_url: &str) -> Config {
    Cli::parse_from([
        "tessera",
        "--bind",
        "127.0.0.1:0",
        "--database-url",
        database_url,
        "--argon2-memory-kib",
        "64",
        "--argon2-iterations",
        "1",
        "--db-pool-size",
        "4",
        "--workers",
        "2",
        "--cookie-secure",
        "false",
        "--job-poll-interval",
        "200ms",
    ])
    .config
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(customize: impl FnOnce(&mut Config)) -> TestApp {
    if std::env::var("TEST_LOG").is_ok() {
        tessera::telemetry::init("debug", tessera::config::LogFormat::Text);
    }
    let db = fresh_database();
    let mut config = test_config(&db.url);
    config.secret_key_file = Some(db.key_file.clone());
    customize(&mut config);
    let app = Application::build(&config).await.expect("the app builds");
    let port = app.port();
    let pool = app.pool();
    let setup_code = app.setup_code().map(str::to_owned);
    let clock = app.clock();
    let server = app.into_server();
    let handle = server.handle();
    actix_web::rt::spawn(server);
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        port,
        pool,
        visitor: Visitor {
            address: format!("http://127.0.0.1:{port}"),
            client: new_client(),
        },
        database_url: db.url.clone(),
        key_file: config.secret_key_file.clone().unwrap_or_default(),
        setup_code,
        clock,
        handle,
        _db: db,
    }
}

/// Polls `check` every 50 ms for up to 5 s; true once it holds.
pub async fn eventually(mut check: impl FnMut() -> bool) -> bool {
    for _ in 0..100 {
        if check() {
            return true;
        }
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    check()
}

/// A client that keeps cookies and does not follow redirects.
pub fn new_client() -> reqwest::Client {
    browser_like().build().expect("client")
}

/// What [`new_client`] builds, for a test to add to (a local address, say).
pub fn browser_like() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
}

/// A client without cookies that does not follow redirects.
pub fn bare_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

/// The value of `<input name="csrf_token">` in a page.
pub fn csrf_in(html: &str) -> String {
    input_value(html, "csrf_token").expect("the page has a csrf_token field")
}

/// The value of the first `<input name=…>` in a page.
pub fn input_value(html: &str, name: &str) -> Option<String> {
    let doc = Html::parse_document(html);
    let selector = Selector::parse(&format!("input[name=\"{name}\"]")).unwrap();
    doc.select(&selector)
        .next()
        .and_then(|el| el.value().attr("value"))
        .map(str::to_owned)
}

/// The text of the first element matching a CSS selector.
pub fn text_of(html: &str, selector: &str) -> Option<String> {
    let doc = Html::parse_document(html);
    let selector = Selector::parse(selector).unwrap();
    doc.select(&selector)
        .next()
        .map(|el| el.text().collect::<String>().trim().to_owned())
}

/// The day an expiry control's line (`#{line_id}`) names: "Expires on
/// Thursday, 7 January 2027." (`None` when it says something else).
pub fn expiry_line_date(html: &str, line_id: &str) -> Option<chrono::NaiveDate> {
    let line = text_of(html, &format!("#{line_id}"))?;
    let words = line.strip_prefix("Expires on ")?.strip_suffix('.')?;
    let date = chrono::NaiveDate::parse_from_str(words, "%A, %d %B %Y").ok()?;
    // Written exactly so: the weekday, the day unpadded, the month in full.
    (date.format("%A, %-d %B %Y").to_string() == words).then_some(date)
}

/// The value of the selected option of the select `#{id}`.
pub fn selected_value(html: &str, id: &str) -> Option<String> {
    let doc = Html::parse_document(html);
    let selector = Selector::parse(&format!("select#{id} option[selected]")).unwrap();
    let mut chosen = doc.select(&selector);
    let value = chosen.next()?.value().attr("value").map(str::to_owned);
    assert!(chosen.next().is_none(), "one option of #{id} is selected");
    value
}

/// An attribute of the first element matching `css`.
pub fn attr_of(html: &str, css: &str, attr: &str) -> Option<String> {
    let doc = Html::parse_document(html);
    let selector = Selector::parse(css).unwrap();
    doc.select(&selector)
        .next()?
        .value()
        .attr(attr)
        .map(str::to_owned)
}

/// Today in UTC, `days` ahead.
pub fn utc_day_in(days: i64) -> chrono::NaiveDate {
    (chrono::Utc::now() + chrono::TimeDelta::days(days)).date_naive()
}

pub fn location(headers: &HeaderMap) -> &str {
    headers
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// One browser-like visitor: a base address and a cookie-keeping client.
pub struct Visitor {
    pub address: String,
    pub client: reqwest::Client,
}

impl Visitor {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.expect("GET")
    }

    pub async fn get_html(&self, path: &str) -> String {
        let res = self.get(path).await;
        assert_eq!(res.status(), StatusCode::OK, "GET {path}");
        res.text().await.unwrap()
    }

    /// POSTs a form as is (the caller supplies any csrf_token).
    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        self.post(path, fields).await
    }

    /// [`Self::post_form`] of any form serde can encode (owned strings, say).
    pub async fn post<T: serde::Serialize + ?Sized>(
        &self,
        path: &str,
        form: &T,
    ) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .form(form)
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST {path}: {e}"))
    }

    /// POSTs a form with the CSRF token read from `page` (a GET path) first.
    pub async fn submit(
        &self,
        page: &str,
        action: &str,
        fields: &[(&str, &str)],
    ) -> reqwest::Response {
        let csrf = csrf_in(&self.get_html(page).await);
        let mut all: Vec<(&str, &str)> = fields.to_vec();
        all.push(("csrf_token", &csrf));
        self.post_form(action, &all).await
    }

    pub async fn login(&self, username: &str, password: &str) -> reqwest::Response {
        self.submit(
            "/login",
            "/login",
            &[("username", username), ("password", password)],
        )
        .await
    }

    /// Fails to sign in as `username` as many times as the throttle lets go
    /// by without a wait (five), asserting that none was made to wait.
    pub async fn fail_free_sign_ins(&self, username: &str) {
        for attempt in 1..=5 {
            let res = self.login(username, "wrong password").await;
            assert_eq!(res.status(), StatusCode::OK, "free failure {attempt}");
        }
    }

    /// Signs in and asserts it worked.
    pub async fn login_ok(&self, username: &str) {
        let res = self.login(username, PASSWORD).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "sign-in of {username}");
    }

    pub async fn logout(&self) -> reqwest::Response {
        self.submit("/profile", "/logout", &[]).await
    }
}

/// [`TestApp::create_user`] on any connection (a test's own, beside `tessera
/// serve` processes).
pub fn create_user_on(
    conn: &mut DbConn,
    username: &str,
    is_admin: bool,
) -> tessera::db::users::User {
    let hasher = tessera::auth::password::Hasher::new(64, 1).unwrap();
    let mut account = NewAccount {
        username: username.to_owned(),
        email: format!("{username}@example.com"),
        display_name: String::new(),
        password: Password::new(PASSWORD.to_owned()),
    };
    let prepared = tessera::accounts::prepare(&hasher, &mut account)
        .expect("hash password")
        .expect("valid user");
    tessera::accounts::insert(conn, &prepared, is_admin)
        .expect("create user")
        .expect("username free")
}

impl std::ops::Deref for TestApp {
    type Target = Visitor;
    fn deref(&self) -> &Visitor {
        &self.visitor
    }
}

impl TestApp {
    /// Another visitor of the same server, with its own cookies.
    pub fn visitor(&self) -> Visitor {
        Visitor {
            address: self.address.clone(),
            client: new_client(),
        }
    }

    /// A visitor whose connections come from `ip` (on Linux every 127.x.y.z
    /// is this machine): another client as the server sees it.
    pub fn visitor_from(&self, ip: &str) -> Visitor {
        Visitor {
            address: self.address.clone(),
            client: browser_like()
                .local_address(ip.parse::<std::net::IpAddr>().expect("an address"))
                .build()
                .expect("client"),
        }
    }

    /// The client address of the audit rows with this action, oldest first.
    pub fn audit_ips(&self, action: &str) -> Vec<Option<String>> {
        use tessera::db::schema::audit_events::dsl as a;
        self.db(|conn| {
            a::audit_events
                .filter(a::action.eq(known_action(action)))
                .order(a::id.asc())
                .select(a::ip)
                .load(conn)
                .expect("audit rows")
        })
    }

    /// Moves every throttle record `by` into the past: as if that much time
    /// had gone by since the failures (no test sleeps through a wait).
    pub fn age_throttle_records(&self, by: Duration) {
        use tessera::db::schema::throttle_events::dsl as t;
        let by = chrono::TimeDelta::from_std(by).unwrap();
        self.db(|conn| {
            let rows: Vec<(i64, chrono::NaiveDateTime)> = t::throttle_events
                .select((t::id, t::occurred_at))
                .load(conn)
                .expect("throttle records");
            for (id, at) in rows {
                diesel::update(t::throttle_events.find(id))
                    .set(t::occurred_at.eq(at - by))
                    .execute(conn)
                    .expect("age a throttle record");
            }
        });
    }

    /// Moves the server's clock `by` forward: sessions and token uses see that
    /// much time gone by, and no test sleeps through it.
    pub fn advance_clock(&self, by: Duration) {
        self.clock.advance(by);
    }

    /// The server's time (its clock, moved by [`Self::advance_clock`]).
    pub fn now(&self) -> chrono::NaiveDateTime {
        self.clock.now()
    }

    pub fn setup_code(&self) -> Option<&str> {
        self.setup_code.as_deref()
    }

    /// Runs blocking db-layer code on a pooled connection. What it changes
    /// that tokens depend on moves the validity epoch by itself, as any change
    /// does: the server's token cache needs no word from the test.
    pub fn db<T>(&self, f: impl FnOnce(&mut DbConn) -> T) -> T {
        let mut conn = self.pool.get().expect("pooled connection");
        f(&mut conn)
    }

    /// Creates an active user with [`PASSWORD`] through the db layer.
    pub fn create_user(&self, username: &str, is_admin: bool) -> tessera::db::users::User {
        self.db(|conn| create_user_on(conn, username, is_admin))
    }

    pub fn count(&self, table: &str) -> i64 {
        self.db(|conn| scalar(conn, &format!("SELECT COUNT(*) FROM {table}")))
    }

    /// Audit rows with this action, as (actor_name, outcome).
    pub fn audit(&self, action: &str) -> Vec<(Option<String>, String)> {
        use tessera::db::schema::audit_events::dsl as a;
        self.db(|conn| {
            a::audit_events
                .filter(a::action.eq(known_action(action)))
                .order(a::id.asc())
                .select((a::actor_name, a::outcome))
                .load(conn)
                .expect("audit rows")
        })
    }
}

/// The one-time token on a result page (`#new-token`).
pub fn new_token_in(html: &str) -> String {
    text_of(html, "#new-token").expect("the page shows a new token")
}

impl TestApp {
    /// Gives `user_id` a membership in a new department with a new user type
    /// holding `scopes`; returns (department id, user type id).
    pub fn grant(&self, user_id: i64, user_type: &str, scopes: &str) -> (i64, i64) {
        use tessera::db::{departments, memberships, user_types};
        self.db(|conn| {
            let department = departments::create(conn, &format!("Dept {user_type}"), "").unwrap();
            let user_type = user_types::create(conn, user_type, "", scopes).unwrap();
            memberships::add(conn, user_id, department, user_type).unwrap();
            (department, user_type)
        })
    }

    /// `GET /api/v1/me` with a bearer token.
    pub async fn api_me(&self, token: &str) -> reqwest::Response {
        reqwest::Client::new()
            .get(self.url("/api/v1/me"))
            .bearer_auth(token)
            .send()
            .await
            .expect("GET /api/v1/me")
    }

    /// Every text cell of every row of the whole database, for leak checks.
    pub fn database_dump(&self) -> String {
        database_dump(&self.pool)
    }
}

impl Visitor {
    /// Submits "Create access token"; returns the response.
    pub async fn create_access_token(&self, name: &str, scopes: &[&str]) -> reqwest::Response {
        let mut fields = vec![
            ("name", name),
            ("description", ""),
            ("expires_in_days", "30"),
        ];
        for scope in scopes {
            fields.push(("scopes", scope));
        }
        self.submit_access_token(&fields).await
    }

    /// Creates an access token and returns (its id, the token).
    pub async fn new_access_token(&self, name: &str, scopes: &[&str]) -> (i64, String) {
        let res = self.create_access_token(name, scopes).await;
        assert_eq!(res.status(), StatusCode::OK, "create {name}");
        let html = res.text().await.unwrap();
        let token = new_token_in(&html);
        let id = token_row_id(&self.get_html("/profile/tokens").await, name);
        (id, token)
    }

    /// Provisions a client with the first role the form offers, expiring in
    /// 30 days; returns (its id, the token).
    pub async fn new_client_token(&self, name: &str) -> (i64, String) {
        let form = self.get_html("/profile/clients/new").await;
        let role = option_values(&form, "role_id")
            .into_iter()
            .find(|value| !value.is_empty())
            .expect("the form offers a role");
        let expires = (chrono::Utc::now() + chrono::TimeDelta::days(30))
            .format("%Y-%m-%d")
            .to_string();
        let res = self
            .submit_client(&[("name", name), ("role_id", &role), ("expires_at", &expires)])
            .await;
        assert_eq!(res.status(), StatusCode::OK, "provision {name}");
        let token = new_token_in(&res.text().await.unwrap());
        let id = token_row_id(&self.get_html("/profile/tokens").await, name);
        (id, token)
    }

    /// Steps up (`/sudo`) with the test password.
    pub async fn step_up(&self) {
        let res = self
            .submit("/sudo", "/sudo", &[("password", PASSWORD), ("next", "/")])
            .await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "the step-up");
    }

    /// POSTs a row action (`regenerate`, `disable`, `enable`, `revoke`) of a token.
    pub async fn token_action(&self, id: i64, action: &str) -> reqwest::Response {
        self.submit(
            "/profile/tokens",
            &format!("/profile/tokens/{id}/{action}"),
            &[],
        )
        .await
    }
}

/// The `data-token-id` of the row of the token named `name` on a page.
pub fn token_row_id(html: &str, name: &str) -> i64 {
    let doc = Html::parse_document(html);
    let rows = Selector::parse("tr[data-token-id]").unwrap();
    doc.select(&rows)
        .find(|row| row.text().any(|t| t.trim() == name))
        .and_then(|row| row.value().attr("data-token-id"))
        .unwrap_or_else(|| panic!("no row of {name}"))
        .parse()
        .expect("a numeric id")
}

/// What `insert_token` creates.
pub struct Seeded {
    pub id: i64,
    pub token: String,
}

/// [`TestApp::insert_token`] on any connection: a live token of `kind` (personal
/// ones with `devices:read`), expiring in 30 days.
pub fn insert_token_on(
    conn: &mut DbConn,
    owner_id: i64,
    kind: &str,
    name: &str,
    department_type: Option<(i64, i64)>,
) -> Seeded {
    use tessera::domain::token::{PlainToken, TokenKind};
    let kind: TokenKind = kind.parse().unwrap();
    let secret = PlainToken::generate("tsr", kind);
    let now = tessera::db::now();
    let new = tessera::db::tokens::NewToken::new(
        kind,
        name,
        owner_id,
        &secret.sha256(),
        &secret.display_prefix(),
        now,
    )
    .department_id(department_type.map(|(d, _)| d))
    .user_type_id(department_type.map(|(_, t)| t))
    .scopes(if kind == TokenKind::Personal {
        "devices:read"
    } else {
        ""
    })
    .expires_at(Some(now + chrono::TimeDelta::days(30)))
    .device_name((kind == TokenKind::Session).then_some("Pixel 9"));
    let id = tessera::db::tokens::insert(conn, &new).expect("insert token");
    Seeded {
        id,
        token: secret.expose().to_owned(),
    }
}

impl TestApp {
    /// Inserts a live token straight through the db layer (fast arrangement).
    pub fn insert_token(
        &self,
        owner_id: i64,
        kind: &str,
        name: &str,
        department_type: Option<(i64, i64)>,
    ) -> Seeded {
        self.db(|conn| insert_token_on(conn, owner_id, kind, name, department_type))
    }

    /// Disables a user's account behind the pages' back, as a second
    /// administrator would.
    pub fn disable_user(&self, id: i64) {
        use tessera::domain::account::UserStatus;
        self.db(|conn| tessera::db::users::set_status(conn, id, UserStatus::Disabled))
            .expect("disable the user");
    }

    /// Whether a token row is revoked.
    pub fn is_revoked(&self, id: i64) -> bool {
        use tessera::db::schema::tokens::dsl as t;
        self.db(|conn| {
            t::tokens
                .find(id)
                .select(t::revoked_at)
                .first::<Option<chrono::NaiveDateTime>>(conn)
                .expect("token row")
                .is_some()
        })
    }
}

/// A webhook endpoint for `url` following `token.revoked`, put in the
/// database directly (its sealed secret is a placeholder that never opens:
/// for pages and walks that send nothing). Its id.
pub fn insert_webhook(conn: &mut DbConn, url: &str) -> i64 {
    tessera::db::webhooks::insert_endpoint(
        conn,
        url,
        "",
        "token.revoked",
        tessera::db::now(),
        None,
        |_| Some(vec![0; 8]),
    )
    .expect("insert a webhook endpoint")
    .expect("sealed")
}

/// The action a test names by its text; a misspelt one fails here rather than
/// finding no rows.
pub fn known_action(action: &str) -> tessera::db::audit::AuditAction {
    action.parse().expect("an action the audit log knows")
}

/// One audit row as the catalog tests check it.
#[derive(Debug, Clone)]
pub struct AuditRow {
    pub actor_name: Option<String>,
    pub target_type: Option<String>,
    pub target_id: Option<i64>,
    pub target_label: Option<String>,
    pub outcome: String,
    pub detail: Option<String>,
}

impl TestApp {
    /// Audit rows with this action, oldest first, with their targets.
    pub fn audit_rows(&self, action: &str) -> Vec<AuditRow> {
        use tessera::db::schema::audit_events::dsl as a;
        self.db(|conn| {
            a::audit_events
                .filter(a::action.eq(known_action(action)))
                .order(a::id.asc())
                .select((
                    a::actor_name,
                    a::target_type,
                    a::target_id,
                    a::target_label,
                    a::outcome,
                    a::detail,
                ))
                .load::<(
                    Option<String>,
                    Option<String>,
                    Option<i64>,
                    Option<String>,
                    String,
                    Option<String>,
                )>(conn)
                .expect("audit rows")
                .into_iter()
                .map(
                    |(actor_name, target_type, target_id, target_label, outcome, detail)| {
                        AuditRow {
                            actor_name,
                            target_type,
                            target_id,
                            target_label,
                            outcome,
                            detail,
                        }
                    },
                )
                .collect()
        })
    }
}

/// Every table of the schema.
pub const TABLES: [&str; 21] = [
    "users",
    "departments",
    "user_types",
    "memberships",
    "scopes",
    "tokens",
    "audit_events",
    "settings",
    "sessions",
    "throttle_events",
    "password_codes",
    "validity_epoch",
    "sso_settings",
    "user_identities",
    "totp_secrets",
    "recovery_codes",
    "passkeys",
    "jobs",
    "webhook_endpoints",
    "webhook_deliveries",
    "sign_in_devices",
];

/// Every text cell of every row of every table (blobs in hex), one row per line.
pub fn database_dump(pool: &DbPool) -> String {
    let tables = TABLES;
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        row: String,
    }
    let conn = &mut pool.get().expect("pooled connection");
    let postgres = matches!(**conn, DbConn::Pg(_));
    let mut dump = String::new();
    for table in tables {
        let sql = if postgres {
            format!("SELECT CAST(t AS TEXT) AS row FROM {table} t")
        } else {
            let cols: Vec<String> = diesel::sql_query(format!("SELECT name AS row FROM pragma_table_info('{table}')"))
                .load::<Row>(conn)
                .unwrap()
                .into_iter()
                .map(|r| format!("COALESCE(CASE WHEN typeof({0}) = 'blob' THEN hex({0}) ELSE CAST({0} AS TEXT) END, '')", r.row))
                .collect();
            format!("SELECT {} AS row FROM {table}", cols.join(" || '|' || "))
        };
        for row in diesel::sql_query(sql).load::<Row>(conn).unwrap() {
            dump.push_str(&row.row);
            dump.push('\n');
        }
    }
    dump
}

/// Every (method, path) the route table answers, read from the table itself
/// (`tessera::routes::table`), so that a route added later is covered by the
/// tests that walk it. Sorted, without duplicates.
pub fn route_table() -> Vec<(&'static str, String)> {
    let mut routes = Vec::new();
    for route in tessera::routes::table(None) {
        for endpoint in &route.endpoints {
            let method = match endpoint.method.as_str() {
                "GET" => "GET",
                "POST" => "POST",
                "PATCH" => "PATCH",
                "DELETE" => "DELETE",
                other => panic!("{other} {}: a method the tests do not know", route.path),
            };
            routes.push((method, route.path.to_owned()));
        }
    }
    routes.sort();
    routes.dedup();
    routes
}

/// The (name, value) pairs of the hidden inputs that `selector` finds in
/// `html`, in page order, as a browser would post them.
pub fn hidden_fields(html: &str, selector: &str) -> Vec<(String, String)> {
    let doc = scraper::Html::parse_document(html);
    let inputs = scraper::Selector::parse(selector).expect("a valid selector");
    doc.select(&inputs)
        .map(|i| {
            (
                i.value().attr("name").unwrap_or_default().to_owned(),
                i.value().attr("value").unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// The values of the options of the select called `name`.
pub fn option_values(html: &str, name: &str) -> Vec<String> {
    let doc = Html::parse_document(html);
    let selector = Selector::parse(&format!("select[name=\"{name}\"] option")).unwrap();
    doc.select(&selector)
        .filter_map(|option| option.value().attr("value").map(str::to_owned))
        .collect()
}

/// What a browser would post for the form with this `action` in `html` as it
/// stands: each named text-like or hidden input with its value, each checked
/// checkbox, and each select's selected option (else its first).
pub fn form_fields(html: &str, action: &str) -> Vec<(String, String)> {
    let form = format!("form[action=\"{action}\"]");
    let inputs = [
        "input[type=text]",
        "input[type=hidden]",
        "input[type=email]",
        "input[type=number]",
        "input[type=checkbox][checked]",
    ]
    .map(|input| format!("{form} {input}"))
    .join(", ");
    let mut fields = hidden_fields(html, &inputs);
    let doc = scraper::Html::parse_document(html);
    let selects = scraper::Selector::parse(&format!("{form} select[name]")).expect("a selector");
    let options = scraper::Selector::parse("option").expect("a selector");
    for select in doc.select(&selects) {
        let all: Vec<_> = select.select(&options).collect();
        let chosen = all
            .iter()
            .find(|option| option.value().attr("selected").is_some())
            .or(all.first());
        if let Some(option) = chosen {
            fields.push((
                select.value().attr("name").unwrap_or_default().to_owned(),
                option.value().attr("value").unwrap_or_default().to_owned(),
            ));
        }
    }
    fields
}

/// A fresh server with one user, `username`, who is not an administrator and
/// has not signed in: where most tests start.
pub async fn app_with_user(username: &str) -> (TestApp, tessera::db::users::User) {
    let app = spawn_app().await;
    let user = app.create_user(username, false);
    (app, user)
}

/// [`app_with_user`], the user a member of a department whose user type
/// ("Field") holds `devices:read`: enough to create a personal token.
pub async fn app_with_member(username: &str) -> (TestApp, tessera::db::users::User) {
    let (app, user) = app_with_user(username).await;
    app.grant(user.id, "Field", "devices:read");
    (app, user)
}

/// A fresh server with the administrator `root`, signed in.
pub async fn admin_app() -> (TestApp, tessera::db::users::User) {
    let app = spawn_app().await;
    let root = app.create_user("root", true);
    app.login_ok("root").await;
    (app, root)
}

impl TestApp {
    /// Changes the settings row straight in the database (arrangement), in
    /// SQL both backends speak: `app.set_settings("max_lifetime_days = 45")`.
    pub fn set_settings(&self, assignments: &str) {
        self.db(|conn| {
            conn.batch_execute(&format!("UPDATE settings SET {assignments} WHERE id = 1"))
                .unwrap_or_else(|e| panic!("set {assignments}: {e}"));
        });
    }

    /// `GET /api/v1/me` with a bearer token: the status and the JSON body
    /// (`Null` when there is none).
    pub async fn me(&self, token: &str) -> (StatusCode, serde_json::Value) {
        let res = self.api_me(token).await;
        let status = res.status();
        (status, res.json().await.unwrap_or(serde_json::Value::Null))
    }
}

/// Percent-encodes everything but unreserved characters, for a query value.
pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Whether `path` is a file this process may run.
pub fn is_executable(path: &std::path::Path) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// A response's Content-Type ("" without one).
pub fn content_type(res: &reqwest::Response) -> &str {
    res.headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// The body of a GET of `url` by a client without cookies, which must answer.
pub async fn get_text(url: &str) -> String {
    bare_client()
        .get(url)
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .unwrap_or_else(|e| panic!("GET {url}: {e}"))
        .text()
        .await
        .expect("a body")
}

/// The message a JSON error body gives for one field (`fields.<name>`).
pub fn json_field_error<'a>(body: &'a serde_json::Value, name: &str) -> &'a str {
    body["fields"][name]
        .as_str()
        .unwrap_or_else(|| panic!("no error for {name} in {body}"))
}

impl TestApp {
    /// Asserts that `/api/v1/me` refuses every one of `tokens`.
    pub async fn assert_refused(&self, tokens: &[Seeded]) {
        let ids: Vec<i64> = tokens.iter().map(|t| t.id).collect();
        self.assert_refused_exactly(tokens, &ids).await;
    }

    /// Asserts that `/api/v1/me` refuses each of `tokens` whose id is in
    /// `refused` and accepts each other one.
    pub async fn assert_refused_exactly(&self, tokens: &[Seeded], refused: &[i64]) {
        for t in tokens {
            let expected = if refused.contains(&t.id) {
                StatusCode::UNAUTHORIZED
            } else {
                StatusCode::OK
            };
            let status = self.api_me(&t.token).await.status();
            assert_eq!(status, expected, "token {}", t.id);
        }
    }
}

impl Visitor {
    /// Saves the settings page (an administrator's) with the values a fresh
    /// install has, but for `changes`.
    pub async fn save_settings(&self, changes: &[(&str, &str)]) -> reqwest::Response {
        let mut fields = vec![
            ("default_lifetime_days", "90"),
            ("max_lifetime_days", "365"),
            ("retention_days", "90"),
            ("mobile_session_days", "30"),
            ("token_creation_enabled", "on"),
            ("tenant_id", ""),
            ("show_clients", "on"),
            ("show_api_tokens", "on"),
            ("max_overlap", "7d"),
        ];
        for (name, value) in changes {
            match fields.iter_mut().find(|(field, _)| field == name) {
                Some(field) => field.1 = value,
                None => fields.push((name, value)),
            }
        }
        self.step_up().await;
        self.submit("/admin/settings", "/admin/settings", &fields)
            .await
    }

    /// Submits the form of `/profile/tokens/new` with these fields (and its
    /// CSRF token).
    pub async fn submit_access_token(&self, fields: &[(&str, &str)]) -> reqwest::Response {
        self.submit("/profile/tokens/new", "/profile/tokens", fields)
            .await
    }

    /// Submits the form of `/profile/clients/new` with these fields.
    pub async fn submit_client(&self, fields: &[(&str, &str)]) -> reqwest::Response {
        self.submit("/profile/clients/new", "/profile/clients", fields)
            .await
    }

    /// Submits an administrator's Create API token form with these fields.
    pub async fn submit_api_token(&self, fields: &[(&str, &str)]) -> reqwest::Response {
        self.submit("/admin/tokens/new", "/admin/tokens", fields)
            .await
    }

    /// Submits the edit form of the personal token or client `id`.
    pub async fn edit_token(&self, id: i64, fields: &[(&str, &str)]) -> reqwest::Response {
        self.submit(
            &format!("/profile/tokens/{id}/edit"),
            &format!("/profile/tokens/{id}"),
            fields,
        )
        .await
    }

    /// Submits the profile's password form without "sign out other sessions".
    pub async fn change_password(&self, current: &str, new: &str) -> reqwest::Response {
        self.submit(
            "/profile",
            "/profile/password",
            &[("current_password", current), ("new_password", new)],
        )
        .await
    }

    /// POSTs the sign-in form with a CSRF token the caller read already.
    pub async fn post_login(&self, username: &str, csrf: &str) -> reqwest::Response {
        self.post_form(
            "/login",
            &[
                ("username", username),
                ("password", PASSWORD),
                ("csrf_token", csrf),
            ],
        )
        .await
    }
}

impl TestApp {
    /// A request to the API presenting the bearer `token`, with a JSON body
    /// when `body` is given; the response, whatever its status.
    pub async fn api_send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<serde_json::Value>,
    ) -> reqwest::Response {
        let mut req = reqwest::Client::new()
            .request(method.clone(), self.url(path))
            .bearer_auth(token);
        if let Some(body) = body {
            req = req.json(&body);
        }
        req.send()
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }
}

/// The string `field` of each object in a JSON array.
pub fn each_str<'a>(array: &'a serde_json::Value, field: &str) -> Vec<&'a str> {
    array
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {array}"))
        .iter()
        .map(|item| {
            item[field]
                .as_str()
                .unwrap_or_else(|| panic!("no {field} in {item}"))
        })
        .collect()
}

/// The page of a form sent back to be fixed (422), which this must be.
pub async fn refused_page(res: reqwest::Response) -> String {
    assert_eq!(
        res.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "{} sends the form back",
        res.url()
    );
    res.text().await.expect("a page")
}

impl TestApp {
    /// Asserts that each of `actions` has exactly one audit row.
    pub fn assert_audited_once(&self, actions: &[&str]) {
        for action in actions {
            assert_eq!(self.audit(action).len(), 1, "{action}");
        }
    }
}

impl TestApp {
    /// Makes the periodic job of `kind` due now on the server's clock (as the
    /// jobs page's "Run now" does); the runner takes it within moments.
    pub fn run_job_now(&self, kind: &str) {
        use tessera::db::schema::jobs::dsl as j;
        let now = self.now();
        let updated = self.db(|conn| {
            diesel::update(
                j::jobs
                    .filter(j::kind.eq(kind))
                    .filter(j::unique_key.eq(kind)),
            )
            .set(j::run_at.eq(now))
            .execute(conn)
            .unwrap()
        });
        assert_eq!(updated, 1, "one periodic job {kind}");
    }

    /// Every event queued so far (run or not), oldest first.
    pub fn queued_events(&self) -> Vec<tessera::domain::events::Event> {
        use tessera::db::schema::jobs::dsl as j;
        let payloads: Vec<String> = self.db(|conn| {
            j::jobs
                .filter(j::kind.eq("event"))
                .order(j::id.asc())
                .select(j::payload)
                .load(conn)
                .unwrap()
        });
        payloads
            .iter()
            .map(|p| serde_json::from_str(p).unwrap_or_else(|e| panic!("{p}: {e}")))
            .collect()
    }

    /// When the periodic job of `kind` last finished a run.
    pub fn job_last_finished(&self, kind: &str) -> Option<chrono::NaiveDateTime> {
        use tessera::db::schema::jobs::dsl as j;
        self.db(|conn| {
            j::jobs
                .filter(j::unique_key.eq(kind))
                .select(j::last_finished_at)
                .first(conn)
                .unwrap()
        })
    }
}
