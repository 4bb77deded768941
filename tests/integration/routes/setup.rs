//! First run: the one-time setup page, `create-admin`, and start-up failures.

use crate::common;
use crate::process;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{PASSWORD, input_value, location, spawn_app, text_of};
use process::{Server, run_create_admin, tessera_bin};
use reqwest::StatusCode;

fn setup_fields<'a>(
    code: &'a str,
    username: &'a str,
    password: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("code", code),
        ("username", username),
        ("email", "root@example.com"),
        ("display_name", "Root"),
        ("password", password),
    ]
}

#[actix_web::test]
async fn setup_creates_the_first_admin_once_then_disappears() {
    let app = spawn_app().await;
    let code = app
        .setup_code()
        .expect("a fresh install has a setup code")
        .to_owned();

    // The link printed at start-up fills the code in.
    let page = app.get_html(&format!("/setup?code={code}")).await;
    assert_eq!(input_value(&page, "code").as_deref(), Some(code.as_str()));
    assert_eq!(text_of(&page, "h1").as_deref(), Some("First administrator"));

    let res = app
        .submit("/setup", "/setup", &setup_fields(&code, "root", PASSWORD))
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(res.headers()), "/");

    // Signed in as the new administrator.
    let admin = app.get_html("/admin").await;
    assert!(admin.contains("Administrator"));
    assert!(admin.contains("setup"), "the audit shows the setup");
    assert_eq!(
        app.audit("setup"),
        vec![(Some("root".into()), "success".into())]
    );

    // The page no longer exists, for anyone, with or without the code.
    assert_eq!(app.get("/setup").await.status(), StatusCode::NOT_FOUND);
    let stranger = app.visitor();
    assert_eq!(
        stranger.get(&format!("/setup?code={code}")).await.status(),
        StatusCode::NOT_FOUND
    );
    let csrf = common::csrf_in(&stranger.get_html("/login").await);
    let mut fields = setup_fields(&code, "root2", PASSWORD);
    fields.push(("csrf_token", &csrf));
    assert_eq!(
        stranger.post_form("/setup", &fields).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(app.count("users"), 1);
}

#[actix_web::test]
async fn setup_refuses_a_wrong_code_and_keeps_what_was_typed() {
    let app = spawn_app().await;
    let res = app
        .submit(
            "/setup",
            "/setup",
            &setup_fields("not-the-code", "root", PASSWORD),
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = res.text().await.unwrap();
    assert!(text_of(&page, "#code-error").unwrap().contains("not valid"));
    assert_eq!(input_value(&page, "username").as_deref(), Some("root"));
    assert_eq!(
        input_value(&page, "email").as_deref(),
        Some("root@example.com")
    );
    assert!(!page.contains(PASSWORD), "the password is never echoed");
    assert_eq!(app.count("users"), 0);
    assert_eq!(app.audit("setup"), vec![(None, "denied".to_owned())]);
    assert!(!app.database_dump().contains("not-the-code"));
}

/// The first administrator's password is held to the common-password rule,
/// beside the field; whoever lacks the setup code gets no verdict on it.
#[actix_web::test]
async fn setup_refuses_a_common_password() {
    let app = spawn_app().await;
    let code = app.setup_code().unwrap().to_owned();
    for (common, message) in [
        ("password", tessera::domain::account::TOO_COMMON),
        ("12345678", tessera::domain::account::TOO_COMMON),
        ("qwerty123", tessera::domain::account::TOO_COMMON),
        ("root@example.com", tessera::domain::account::TOO_EASY),
    ] {
        let res = app
            .submit("/setup", "/setup", &setup_fields(&code, "root", common))
            .await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{common}");
        let page = res.text().await.unwrap();
        assert_eq!(
            text_of(&page, "input#password + #password-error").as_deref(),
            Some(message),
            "{common}: right after the field"
        );
        assert_eq!(input_value(&page, "username").as_deref(), Some("root"));
        assert_eq!(input_value(&page, "password"), None, "never echoed");
    }
    assert!(tessera::domain::account::TOO_COMMON.contains("lists of leaked passwords"));
    assert_eq!(app.count("users"), 0);
    assert!(app.setup_code().is_some());

    let res = app
        .submit(
            "/setup",
            "/setup",
            &setup_fields("not-the-code", "root", "password"),
        )
        .await;
    let page = res.text().await.unwrap();
    assert!(text_of(&page, "#code-error").is_some());
    assert_eq!(text_of(&page, "#password-error"), None);
    assert_eq!(app.count("users"), 0);
}

#[actix_web::test]
async fn setup_validates_fields() {
    let app = spawn_app().await;
    let code = app.setup_code().unwrap().to_owned();
    let res = app
        .submit(
            "/setup",
            "/setup",
            &[
                ("code", &code),
                ("username", "<b>x y</b>"),
                ("email", "nope"),
                ("password", "short"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = res.text().await.unwrap();
    assert!(text_of(&page, "#username-error").is_some());
    assert!(text_of(&page, "#email-error").is_some());
    assert!(
        text_of(&page, "#password-error")
            .unwrap()
            .contains("8 characters")
    );
    assert_eq!(
        input_value(&page, "username").as_deref(),
        Some("<b>x y</b>"),
        "what was typed comes back"
    );
    assert!(!page.contains("<b>x y</b>"));
    assert_eq!(app.count("users"), 0);
}

/// 129 characters are refused beside the field and create nothing; 128 (most of
/// them outside ASCII, more than 128 UTF-16 units) are the password, whole.
#[actix_web::test]
async fn setup_keeps_a_128_character_password_whole_and_refuses_129() {
    let app = spawn_app().await;
    let code = app.setup_code().unwrap().to_owned();
    let form = app.get_html("/setup").await;
    assert!(
        !form.contains("maxlength"),
        "no browser-side cut of a pasted password"
    );
    let longest = common::long_password(128);
    let too_long = format!("{longest}!");

    let res = app
        .submit("/setup", "/setup", &setup_fields(&code, "root", &too_long))
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = res.text().await.unwrap();
    assert_eq!(
        text_of(&page, "input#password + #password-error").as_deref(),
        Some("Use at most 128 characters."),
        "right after the field"
    );
    assert_eq!(input_value(&page, "username").as_deref(), Some("root"));
    assert!(!page.contains(&longest), "the password is never echoed");
    assert_eq!(app.count("users"), 0, "nothing was created");
    assert!(app.setup_code().is_some());

    let res = app
        .submit("/setup", "/setup", &setup_fields(&code, "root", &longest))
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.count("users"), 1);
    let other = app.visitor();
    let shorter: String = longest.chars().take(127).collect();
    assert_eq!(other.login("root", &shorter).await.status(), StatusCode::OK);
    assert_eq!(
        other.login("root", &longest).await.status(),
        StatusCode::SEE_OTHER
    );
}

#[actix_web::test]
async fn no_setup_code_once_an_admin_exists() {
    let app = spawn_app().await;
    app.create_user("root", true);
    let config = common::test_config(&app.database_url);
    let again = tessera::startup::Application::build(&config).await.unwrap();
    assert!(again.setup_code().is_none());
    assert_eq!(app.get("/setup").await.status(), StatusCode::NOT_FOUND);
}

#[actix_web::test]
async fn create_admin_from_a_script() {
    let app = spawn_app().await;
    let out = run_create_admin(&app.database_url, "ops", PASSWORD, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let all_output = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !all_output.contains(PASSWORD),
        "the password is never printed"
    );

    app.login_ok("ops").await;
    assert_eq!(app.get("/admin").await.status(), StatusCode::OK);
    assert_eq!(app.get("/setup").await.status(), StatusCode::NOT_FOUND);
    assert_eq!(app.audit("create_admin").len(), 1);

    // A bad password is refused with a message, and nothing is created.
    let out = run_create_admin(&app.database_url, "ops2", "short", &[]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("password: Use at least 8 characters."));
    let refusal = format!("password: {}", tessera::domain::account::TOO_COMMON);
    for common in [
        "password",
        "12345678",
        "qwerty123",
        "correct horse battery staple",
    ] {
        let out = run_create_admin(&app.database_url, "ops2", common, &[]);
        assert!(!out.status.success(), "{common}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(&refusal) && stderr.contains("no administrator was created"),
            "{common}: {stderr}"
        );
        // ("password" itself is a word of the message and the log.)
        assert!(
            common == "password" || !stderr.contains(common),
            "the password is never printed: {stderr}"
        );
    }
    assert_eq!(app.count("users"), 1);
}

#[test]
fn an_unreachable_database_fails_start_up_quickly_with_its_real_error() {
    let started = Instant::now();
    let out = tessera_bin()
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env(
            "TESSERA_DATABASE_URL",
            "postgres://tessera:secret-pw@127.0.0.1:1/tessera",
        )
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(started.elapsed() < Duration::from_secs(10));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot connect to the database"),
        "{stderr}"
    );
    assert!(
        stderr.contains("127.0.0.1") && stderr.contains("1"),
        "{stderr}"
    );
    assert!(
        stderr.to_lowercase().contains("refused"),
        "the driver's own message: {stderr}"
    );
    assert!(
        !stderr.contains("secret-pw"),
        "no password in the error: {stderr}"
    );
}

#[test]
fn help_explains_the_settings() {
    let out = tessera_bin().arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "serve",
        "migrate",
        "create-admin",
        "TESSERA_DATABASE_URL",
        "TESSERA_BIND",
        "TESSERA_TOKEN_PREFIX",
        "TESSERA_COOKIE_SECURE",
        "TESSERA_LOG",
        "TESSERA_LOG_FORMAT",
    ] {
        assert!(help.contains(needle), "--help mentions {needle}");
    }
}

#[test]
fn json_logs_carry_a_line_per_request_and_no_secrets() {
    use std::io::{BufRead as _, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let mut child = tessera_bin()
        .args([
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--log-format",
            "json",
            "--log",
            "info",
        ])
        .env("TESSERA_DATABASE_URL", &url)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let origin = loop {
        let line = lines.next().expect("the server logs its address").unwrap();
        let json: serde_json::Value =
            serde_json::from_str(&line).unwrap_or_else(|_| panic!("not JSON: {line}"));
        if let Some(origin) = json["origin"].as_str() {
            break origin.to_owned();
        }
    };
    let body = std::process::Command::new("curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            &format!("{origin}/login?next=/secret-path"),
        ])
        .output();
    let status = match body {
        Ok(out) => String::from_utf8_lossy(&out.stdout).to_string(),
        Err(_) => {
            // No curl: speak HTTP by hand.
            use std::io::{Read as _, Write as _};
            let mut s = std::net::TcpStream::connect(origin.trim_start_matches("http://")).unwrap();
            s.write_all(
                b"GET /login?next=/secret-path HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            )
            .unwrap();
            let mut out = String::new();
            s.read_to_string(&mut out).unwrap();
            out[9..12].to_owned()
        }
    };
    assert_eq!(status, "200");
    let request_line = loop {
        let line = lines.next().expect("a request line").unwrap();
        let json: serde_json::Value = serde_json::from_str(&line).unwrap();
        if json["message"] == "request finished" {
            break json;
        }
    };
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(request_line["status"], 200);
    assert!(request_line["latency_ms"].is_number());
    let text = request_line.to_string();
    assert!(text.contains("\"/login\""), "{text}");
    assert!(
        !text.contains("secret-path"),
        "no query strings in logs: {text}"
    );
}

#[test]
fn a_second_server_on_one_sqlite_file_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let mut first = Server::start(&url, &["--log-format", "json"], &[]);
    let second = tessera_bin()
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env("TESSERA_DATABASE_URL", &url)
        .output()
        .unwrap();
    assert!(!second.status.success());
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(
        stderr.contains("another Tessera server is already serving"),
        "{stderr}"
    );
    // Killed, the first server leaves the database free for the next one.
    first.kill();
    let mut third = Server::start(&url, &["--log-format", "json"], &[]);
    // The same file by another name (a symbolic link) is the same database.
    let link = dir.path().join("link.db");
    std::os::unix::fs::symlink(dir.path().join("t.db"), &link).unwrap();
    let fourth = tessera_bin()
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env(
            "TESSERA_DATABASE_URL",
            format!("sqlite://{}", link.display()),
        )
        .output()
        .unwrap();
    assert!(!fourth.status.success());
    let stderr = String::from_utf8_lossy(&fourth.stderr);
    assert!(
        stderr.contains("another Tessera server is already serving"),
        "{stderr}"
    );
    third.kill();
}

/// The migrations of one backend, by directory name.
fn migration_versions(backend: &str) -> Vec<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(backend);
    let mut versions: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    versions.sort();
    versions
}

/// `tessera migrate` on `url`, which must succeed; what it printed.
fn run_migrate(url: &str) -> String {
    let out = tessera_bin()
        .arg("migrate")
        .env("TESSERA_DATABASE_URL", url)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "tessera migrate: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Names a query returns (as its column `name`), in order.
fn names(conn: &mut tessera::db::DbConn, sql: &str) -> Vec<String> {
    use diesel::prelude::*;
    #[derive(QueryableByName)]
    struct Name {
        #[diesel(sql_type = diesel::sql_types::Text)]
        name: String,
    }
    diesel::sql_query(sql)
        .load::<Name>(conn)
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .into_iter()
        .map(|n| n.name)
        .collect()
}

/// Runs `tessera migrate` on `url` (empty) twice, and checks through `open` (a
/// connection that applies nothing itself) that every table exists and every
/// migration of `backend` is recorded, once.
fn check_migrate(url: &str, backend: &str, open: impl Fn() -> tessera::db::DbConn) {
    let tables_sql = match backend {
        "sqlite" => "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name",
        _ => {
            "SELECT CAST(table_name AS TEXT) AS name FROM information_schema.tables \
             WHERE table_schema = current_schema() ORDER BY table_name"
        }
    };
    assert!(
        names(&mut open(), tables_sql).is_empty(),
        "the database starts empty"
    );
    let printed = run_migrate(url);
    assert!(printed.contains("is up to date"), "{printed}");
    let tables = names(&mut open(), tables_sql);
    for table in common::TABLES {
        assert!(tables.iter().any(|t| t == table), "{table} in {tables:?}");
    }
    let applied_sql =
        "SELECT CAST(version AS TEXT) AS name FROM __diesel_schema_migrations ORDER BY version";
    let expected: Vec<String> = migration_versions(backend)
        .iter()
        .map(|dir| dir.split('_').next().unwrap().replace('-', ""))
        .collect();
    assert_eq!(names(&mut open(), applied_sql), expected);
    // A second run finds nothing to do.
    run_migrate(url);
    assert_eq!(names(&mut open(), applied_sql), expected);
    assert_eq!(names(&mut open(), tables_sql), tables);
}

/// `tessera migrate` creates the whole schema in a new SQLite file, and with
/// `TEST_DATABASE_URL` in an empty PostgreSQL schema too; it can run again.
#[test]
fn migrate_creates_the_schema_in_a_fresh_database() {
    use diesel::prelude::*;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("fresh.db");
    let url = format!("sqlite://{}", file.display());
    let path = file.to_str().unwrap().to_owned();
    check_migrate(&url, "sqlite", || {
        tessera::db::DbConn::Sqlite(SqliteConnection::establish(&path).unwrap())
    });
    if common::on_postgres() {
        let db = common::fresh_database();
        check_migrate(&db.url, "postgres", || {
            tessera::db::DbConn::Pg(PgConnection::establish(&db.url).unwrap())
        });
    }
}

/// Every connection of a server's SQLite pool has the pragmas correctness
/// depends on: WAL, a busy timeout, foreign keys, synchronous=FULL. (PostgreSQL
/// has no such per-connection settings to check.)
#[actix_web::test]
async fn every_pooled_sqlite_connection_has_the_pragmas() {
    let app = spawn_app().await;
    if common::on_postgres() {
        return;
    }
    let size = app.pool.max_size();
    assert!(size >= 2, "{size}");
    // All of them at once, so that none is checked twice.
    let mut held = Vec::new();
    for _ in 0..size {
        held.push(app.pool.get().expect("a pooled connection"));
    }
    for conn in &mut held {
        // (pragma, its column, the value; synchronous 2 is FULL)
        for (name, column, value) in [
            ("journal_mode", "journal_mode", "wal"),
            ("foreign_keys", "foreign_keys", "1"),
            ("synchronous", "synchronous", "2"),
            ("busy_timeout", "timeout", "10000"),
        ] {
            let sql = format!("SELECT CAST({column} AS TEXT) AS name FROM pragma_{name}");
            assert_eq!(names(conn, &sql), [value], "PRAGMA {name}");
        }
    }
}

/// A Secure cookie over a public URL that is not https would be kept by the
/// browser and never sent back: start-up says so. The setup link printed at
/// start-up begins with the public URL.
#[test]
fn start_up_warns_of_a_secure_cookie_without_https_and_links_to_the_public_url() {
    let warning = "the session cookie is Secure";
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let mut plain = Server::start(&url, &["--cookie-secure", "true"], &[]);
    plain.terminate();
    plain.wait();
    let log = plain.log();
    assert!(log.contains(warning), "{log}");
    assert!(log.contains("no public URL configured"), "{log}");

    let public = "https://tessera.example.org";
    let mut behind_tls = Server::start(
        &url,
        &[
            "--cookie-secure",
            "true",
            "--public-url",
            &format!("{public}/"),
        ],
        &[],
    );
    behind_tls.terminate();
    behind_tls.wait();
    let log = behind_tls.log();
    assert!(!log.contains(warning), "{log}");
    assert!(log.contains(&format!("{public}/setup?code=")), "{log}");
    assert!(!log.contains("no public URL configured"), "{log}");
}
