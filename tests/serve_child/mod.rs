//! `tessera serve` as a child process, for the tests that kill it (SIGKILL) or
//! stop it (SIGTERM): its own database (a temporary SQLite file, or a fresh
//! PostgreSQL schema when `TEST_DATABASE_URL` is set), the built binary, and a
//! direct connection of the test to the same database.
//!
//! Used by tests/crash.rs and tests/shutdown.rs; it repeats the database logic of
//! `common::fresh_database` because a child process needs the URL itself.

#![allow(dead_code)]

use std::io::{BufRead as _, BufReader, Write as _};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection as _;
use diesel::prelude::*;
use tessera::db::DbConn;

/// A database for one test; a PostgreSQL schema is dropped with it.
pub struct ChildDb {
    /// What the server and the test connect to.
    pub url: String,
    place: Place,
}

enum Place {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres { admin_url: String, schema: String },
}

impl Drop for ChildDb {
    fn drop(&mut self) {
        if let Place::Postgres { admin_url, schema } = &self.place
            && let Ok(mut conn) = PgConnection::establish(admin_url)
        {
            let _ = conn.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
        }
    }
}

pub fn on_postgres() -> bool {
    std::env::var("TEST_DATABASE_URL").is_ok_and(|v| !v.is_empty())
}

/// A fresh, empty database (migrated by whoever connects first).
pub fn fresh_database() -> ChildDb {
    match std::env::var("TEST_DATABASE_URL") {
        Ok(admin_url) if !admin_url.is_empty() => {
            let schema = format!("t_{}", random_suffix());
            let mut conn = PgConnection::establish(&admin_url)
                .unwrap_or_else(|e| panic!("TEST_DATABASE_URL does not answer: {e}"));
            conn.batch_execute(&format!("CREATE SCHEMA {schema}"))
                .expect("create test schema");
            let sep = if admin_url.contains('?') { '&' } else { '?' };
            let url = format!("{admin_url}{sep}options=-csearch_path%3D{schema}");
            ChildDb {
                url,
                place: Place::Postgres { admin_url, schema },
            }
        }
        _ => {
            let dir = tempfile::tempdir().expect("temp dir");
            let url = format!("sqlite://{}", dir.path().join("tessera.db").display());
            ChildDb {
                url,
                place: Place::Sqlite(dir),
            }
        }
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

impl ChildDb {
    /// The URL one server instance gets. On PostgreSQL it names its connections
    /// (`application_name`), so that the test can tell when a killed instance's
    /// connections are gone.
    pub fn url_for(&self, instance: &str) -> String {
        match self.place {
            Place::Postgres { .. } => format!("{}&application_name={instance}", self.url),
            Place::Sqlite(_) => self.url.clone(),
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
    diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(&format!(
        "({query})"
    )))
    .get_result(conn)
    .unwrap_or_else(|e| panic!("{query}: {e}"))
}

/// The built binary, with no TESSERA_* settings of the caller's environment and
/// cheap argon2 (an environment variable overrides it).
pub fn tessera_bin() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tessera"));
    for (key, _) in std::env::vars() {
        if key.starts_with("TESSERA_") || key == "DATABASE_URL" {
            cmd.env_remove(key);
        }
    }
    cmd.env("TESSERA_ARGON2_MEMORY_KIB", "64")
        .env("TESSERA_ARGON2_ITERATIONS", "1");
    cmd
}

/// `tessera create-admin`, with extra environment (e.g. a costlier argon2).
pub fn create_admin(url: &str, username: &str, password: &str, env: &[(&str, &str)]) {
    let mut cmd = tessera_bin();
    cmd.args([
        "create-admin",
        "--username",
        username,
        "--email",
        &format!("{username}@example.com"),
        "--password-stdin",
    ])
    .env("TESSERA_DATABASE_URL", url)
    .stdin(Stdio::piped())
    .stdout(Stdio::null())
    .stderr(Stdio::piped());
    for (key, value) in env {
        cmd.env(key, value);
    }
    let mut child = cmd.spawn().expect("run create-admin");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{password}\n").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "create-admin {username}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A running `tessera serve`. Dropping it kills it.
pub struct Server {
    child: Child,
    pub address: String,
    pub port: u16,
    /// Every line the server logged (JSON), for failure messages.
    log: Arc<Mutex<Vec<String>>>,
}

impl Server {
    /// Starts `tessera serve` on `url` (port 0, two workers, cookies without
    /// Secure) and returns once it listens.
    pub fn start(url: &str, extra_args: &[&str]) -> Server {
        let mut child = tessera_bin()
            .args([
                "serve",
                "--bind",
                "127.0.0.1:0",
                "--log-format",
                "json",
                "--cookie-secure",
                "false",
                "--workers",
                "2",
                "--db-pool-size",
                "4",
            ])
            .args(extra_args)
            .env("TESSERA_DATABASE_URL", url)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start tessera serve");
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let origin = loop {
            let Some(Ok(line)) = lines.next() else {
                let status = child.wait().unwrap();
                panic!(
                    "tessera serve ended ({status}) before listening:\n{}",
                    log.lock().unwrap().join("\n")
                );
            };
            log.lock().unwrap().push(line.clone());
            if line.contains("Tessera is listening") {
                let json: serde_json::Value = serde_json::from_str(&line).expect("a JSON log line");
                break json["origin"].as_str().expect("origin").to_owned();
            }
        };
        // Keep reading, so that the server never blocks on (or writes into) a full
        // or closed pipe; the thread ends with the process.
        let kept = log.clone();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                kept.lock().unwrap().push(line);
            }
        });
        let port = origin
            .rsplit_once(':')
            .and_then(|(_, port)| port.parse().ok())
            .expect("a port in the origin");
        Server {
            child,
            address: origin,
            port,
            log,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// SIGKILL, and reap the process.
    pub fn kill(&mut self) {
        self.child.kill().expect("SIGKILL the server");
        self.child.wait().expect("reap the server");
    }

    /// SIGTERM (through kill(1), no libc needed).
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .expect("run kill -TERM");
        assert!(status.success(), "kill -TERM failed");
    }

    /// The exit status, once the process ended (None if still running).
    pub fn try_wait(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().expect("poll the server")
    }

    /// What the server logged so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
