//! The command line: `--help`, `migrate`, `create-admin`, `seed-demo` and
//! `purge`; `serve` refusing to start (settings, an unreachable database, a
//! second server on one SQLite file) and the pragmas of its SQLite connections.

use crate::common;
use crate::process;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{PASSWORD, admin_app, app_with_user, spawn_app};
use diesel::prelude::*;
use process::{Server, run_create_admin, tessera_bin};
use reqwest::StatusCode;

/// [`tessera_bin`] on the database at `database_url`, logging warnings only.
fn tessera(database_url: &str) -> Command {
    let mut cmd = tessera_bin();
    cmd.env("TESSERA_DATABASE_URL", database_url)
        .env("TESSERA_LOG", "warn");
    cmd
}

/// Runs `tessera purge`, which must say `says`; the ids of the tokens left.
fn purge_says(app: &common::TestApp, says: &str) -> Vec<i64> {
    use tessera::db::schema::tokens::dsl as t;
    let said = purge(&app.database_url);
    assert!(said.contains(says), "{said}");
    app.db(|c| t::tokens.select(t::id).order(t::id).load(c))
        .unwrap()
}

/// Runs `cmd`, which must succeed; what it printed on standard output.
fn succeeds(cmd: &mut Command) -> String {
    let out = cmd.output().expect("run tessera");
    assert!(
        out.status.success(),
        "tessera: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `tessera purge`, which must succeed; what it printed.
fn purge(database_url: &str) -> String {
    succeeds(tessera(database_url).arg("purge"))
}

#[actix_web::test]
async fn seed_demo_fills_every_kind_and_status() {
    let app = spawn_app().await;
    let schema_before = token_schema(&app);
    for object in [
        "index tokens_owner",
        "index tokens_sha256",
        "trigger tokens_live_name",
    ] {
        assert!(
            schema_before.iter().any(|line| line.starts_with(object)),
            "{object} in {schema_before:?}"
        );
    }
    app.db(|c| tessera::db::departments::create(c, "engineering", ""))
        .unwrap();
    let said = succeeds(tessera(&app.database_url).args([
        "seed-demo",
        "--users",
        "30",
        "--tokens",
        "2000",
    ]));
    assert!(said.contains("Seeded 30 users and 2000 tokens"));
    assert_eq!(app.count("users"), 30);
    assert_eq!(app.count("tokens"), 2000);
    use tessera::db::schema::tokens::dsl as t;
    let kinds: Vec<String> = app
        .db(|c| t::tokens.select(t::kind).distinct().load(c))
        .unwrap();
    assert_eq!(kinds.len(), 4, "{kinds:?}");
    let revoked: i64 = app
        .db(|c| {
            t::tokens
                .filter(t::revoked_at.is_not_null())
                .count()
                .get_result(c)
        })
        .unwrap();
    let disabled: i64 = app
        .db(|c| {
            t::tokens
                .filter(t::status.eq("disabled"))
                .count()
                .get_result(c)
        })
        .unwrap();
    let expired: i64 = app
        .db(|c| {
            t::tokens
                .filter(t::expires_at.lt(tessera::db::now()))
                .count()
                .get_result(c)
        })
        .unwrap();
    let used: i64 = app
        .db(|c| {
            t::tokens
                .filter(t::last_used_at.is_not_null())
                .count()
                .get_result(c)
        })
        .unwrap();
    assert!(
        revoked > 0 && disabled > 0 && expired > 0 && used > 0,
        "{revoked} {disabled} {expired} {used}"
    );

    // Plain names ("Engineering", not "Engineering d4b2e8ad"); one that
    // exists already (an administrator's "engineering") is used, not made
    // again, as are "Read-only" and "Integrator", which every install has.
    let catalog = || {
        use tessera::db::schema::{departments::dsl as d, user_types::dsl as u};
        app.db(|c| {
            let departments: Vec<String> = d::departments.select(d::name).order(d::name).load(c)?;
            let types: Vec<String> = u::user_types.select(u::name).order(u::name).load(c)?;
            diesel::QueryResult::Ok((departments, types))
        })
        .unwrap()
    };
    let (departments, types) = catalog();
    for name in ["engineering", "Field Ops"] {
        assert!(departments.iter().any(|d| d == name), "{departments:?}");
    }
    assert_eq!(departments.len(), 8, "{departments:?}");
    assert_eq!(
        types.len() as i64,
        4 + common::STARTER_USER_TYPES,
        "{types:?}"
    );

    // What the load dropped (indexes and triggers on SQLite; indexes and
    // foreign keys on PostgreSQL) is back, exactly as the migrations made it.
    assert_eq!(token_schema(&app), schema_before);
    let page = {
        app.create_user("root", true);
        app.login_ok("root").await;
        app.get_html("/admin/tokens?tab=api&status=expiring").await
    };
    assert!(page.contains("Administrator / Tokens"));
}

/// Demo users share one known password: seed-demo refuses a database that has
/// users of its own, unless told `--force`, and says why without seeding.
#[actix_web::test]
async fn seed_demo_refuses_a_database_with_users_of_its_own() {
    let app = spawn_app().await;
    app.create_user("root", true);
    let seed = |force: bool| {
        let mut cmd = tessera(&app.database_url);
        cmd.args(["seed-demo", "--users", "5", "--tokens", "20"]);
        if force {
            cmd.arg("--force");
        }
        cmd.output().unwrap()
    };
    let refused = seed(false);
    assert!(!refused.status.success());
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(
        said.contains("1 users who are not demo users") && said.contains("--force"),
        "{said}"
    );
    assert_eq!(app.count("users"), 1, "nothing was seeded");
    assert_eq!(app.count("tokens"), 0);

    let forced = seed(true);
    assert!(
        forced.status.success(),
        "{}",
        String::from_utf8_lossy(&forced.stderr)
    );
    let said = String::from_utf8_lossy(&forced.stdout);
    assert!(
        said.contains("all sign in with the same password"),
        "{said}"
    );
    assert_eq!(app.count("users"), 6);
    // Demo users alone are no reason to refuse.
    app.db(|conn| {
        diesel::delete(
            tessera::db::schema::users::table
                .filter(tessera::db::schema::users::username.eq("root")),
        )
        .execute(conn)
    })
    .unwrap();
    let again = String::from_utf8_lossy(&seed(false).stderr).into_owned();
    assert!(!again.contains("not demo users"), "{again}");
}

/// The indexes, constraints and triggers of `tokens`, one line each, sorted.
fn token_schema(app: &common::TestApp) -> Vec<String> {
    #[derive(QueryableByName)]
    struct Line {
        #[diesel(sql_type = diesel::sql_types::Text)]
        line: String,
    }
    let query = if common::on_postgres() {
        "SELECT 'index ' || indexname || ': ' || indexdef AS line FROM pg_indexes \
         WHERE schemaname = current_schema() AND tablename = 'tokens' \
         UNION ALL SELECT 'constraint ' || conname || ': ' || pg_get_constraintdef(oid) \
         FROM pg_constraint WHERE conrelid = 'tokens'::regclass \
         UNION ALL SELECT 'trigger ' || tgname || ': ' || pg_get_triggerdef(oid) \
         FROM pg_trigger WHERE tgrelid = 'tokens'::regclass AND NOT tgisinternal \
         ORDER BY line"
    } else {
        "SELECT type || ' ' || name || ': ' || sql AS line FROM sqlite_master \
         WHERE tbl_name = 'tokens' AND sql IS NOT NULL ORDER BY line"
    };
    app.db(|c| diesel::sql_query(query).load::<Line>(c))
        .unwrap()
        .into_iter()
        .map(|l| l.line)
        .collect()
}

#[actix_web::test]
async fn purge_deletes_old_revoked_and_expired_tokens_only() {
    let (app, ada) = app_with_user("ada").await;
    let old_revoked = app.insert_token(ada.id, "personal", "old revoked", None);
    let old_expired = app.insert_token(ada.id, "personal", "old expired", None);
    let recent_revoked = app.insert_token(ada.id, "personal", "recent revoked", None);
    let live = app.insert_token(ada.id, "personal", "live", None);
    let long_ago = tessera::db::now() - chrono::TimeDelta::days(120);
    app.db(|conn| {
        use tessera::db::schema::tokens::dsl as t;
        diesel::update(t::tokens.find(old_revoked.id))
            .set(t::revoked_at.eq(Some(long_ago)))
            .execute(conn)?;
        diesel::update(t::tokens.find(old_expired.id))
            .set(t::expires_at.eq(Some(long_ago)))
            .execute(conn)?;
        diesel::update(t::tokens.find(recent_revoked.id))
            .set(t::revoked_at.eq(Some(tessera::db::now())))
            .execute(conn)
    })
    .unwrap();
    assert_eq!(
        purge_says(
            &app,
            "Purged 2 revoked or expired tokens older than 90 days"
        ),
        vec![recent_revoked.id, live.id]
    );
    // The purge is audited, with its counts.
    let rows = app.audit_rows("purge");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].actor_name.as_deref(), Some("command line"));
    assert_eq!(rows[0].outcome, "success");
    let detail = rows[0].detail.as_deref().unwrap();
    assert!(
        detail.starts_with("2 revoked or expired tokens older than 90 days"),
        "{detail}"
    );
}

#[actix_web::test]
async fn purge_honours_a_changed_retention() {
    let (app, _) = admin_app().await;
    let ada = app.create_user("ada", false);
    let res = app.save_settings(&[("retention_days", "10")]).await;
    assert_eq!(res.status(), reqwest::StatusCode::SEE_OTHER);
    let now = tessera::db::now();
    let days_ago = |d: i64| Some(now - chrono::TimeDelta::days(d));
    let revoked_20 = app.insert_token(ada.id, "personal", "revoked 20 days ago", None);
    let revoked_5 = app.insert_token(ada.id, "personal", "revoked 5 days ago", None);
    let expired_20 = app.insert_token(ada.id, "personal", "expired 20 days ago", None);
    let expired_5 = app.insert_token(ada.id, "personal", "expired 5 days ago", None);
    let live = app.insert_token(ada.id, "personal", "live", None);
    app.db(|conn| {
        use tessera::db::schema::tokens::dsl as t;
        for (id, revoked, expires) in [
            (revoked_20.id, days_ago(20), None),
            (revoked_5.id, days_ago(5), None),
            (expired_20.id, None, days_ago(20)),
            (expired_5.id, None, days_ago(5)),
        ] {
            if revoked.is_some() {
                diesel::update(t::tokens.find(id))
                    .set(t::revoked_at.eq(revoked))
                    .execute(conn)?;
            } else {
                diesel::update(t::tokens.find(id))
                    .set(t::expires_at.eq(expires))
                    .execute(conn)?;
            }
        }
        QueryResult::Ok(())
    })
    .unwrap();
    assert_eq!(
        purge_says(
            &app,
            "Purged 2 revoked or expired tokens older than 10 days"
        ),
        vec![revoked_5.id, expired_5.id, live.id]
    );
    let detail = app.audit_rows("purge")[0].detail.clone().unwrap();
    assert!(
        detail.starts_with("2 revoked or expired tokens older than 10 days"),
        "{detail}"
    );
}

#[test]
fn a_token_prefix_that_tokens_cannot_be_read_back_with_is_refused_at_start_up() {
    // Before, an upper-case or punctuated prefix was taken, and every token
    // issued under it was then refused as malformed.
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let out = tessera(&url)
        .args(["--token-prefix", "ACME!", "migrate"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("lower-case letters and digits"), "{stderr}");
    assert!(!dir.path().join("t.db").exists(), "nothing was created");
    succeeds(tessera(&url).args(["--token-prefix", "acme", "migrate"]));
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

/// Asserts that `tessera serve` on `url` refuses to start beside a server
/// that has the same SQLite file.
fn assert_refused_as_second_server(url: &str) {
    let second = tessera_bin()
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env("TESSERA_DATABASE_URL", url)
        .output()
        .unwrap();
    assert!(!second.status.success());
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(
        stderr.contains("another Tessera server is already serving"),
        "{stderr}"
    );
}

#[test]
fn a_second_server_on_one_sqlite_file_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let mut first = Server::start(&url, &["--log-format", "json"], &[]);
    assert_refused_as_second_server(&url);
    // Killed, the first server leaves the database free for the next one.
    first.kill();
    let mut third = Server::start(&url, &["--log-format", "json"], &[]);
    // The same file by another name (a symbolic link) is the same database.
    let link = dir.path().join("link.db");
    std::os::unix::fs::symlink(dir.path().join("t.db"), &link).unwrap();
    assert_refused_as_second_server(&format!("sqlite://{}", link.display()));
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
    succeeds(
        tessera_bin()
            .arg("migrate")
            .env("TESSERA_DATABASE_URL", url),
    )
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

/// `tessera rotate-key` re-seals every kept secret with a new key and drops
/// the old one from the file; the running server follows without a restart,
/// and the rotation is audited.
#[actix_web::test]
async fn rotate_key_reseals_and_the_running_server_follows() {
    let (app, _) = common::app_with_member("ada").await;
    app.login_ok("ada").await;
    let (id, secret) = app.new_client_token("BI").await;
    let key_line = |text: &str| -> String {
        text.lines()
            .find(|line| !line.starts_with('#'))
            .unwrap()
            .to_owned()
    };
    let before = key_line(&std::fs::read_to_string(&app.key_file).unwrap());
    let said = succeeds(
        tessera(&app.database_url)
            .arg("rotate-key")
            .env("TESSERA_SECRET_KEY_FILE", &app.key_file),
    );
    assert!(said.contains("1 kept secrets re-sealed"), "{said}");
    let after = std::fs::read_to_string(&app.key_file).unwrap();
    let keys: Vec<&str> = after.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(keys.len(), 1, "the old key is dropped: {after}");
    assert_ne!(keys[0], before);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&app.key_file)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let key_id = keys[0].split_whitespace().next().unwrap();
    assert!(said.contains(key_id), "{said}");
    let rows = app.audit_rows("secret_key_rotated");
    assert_eq!(rows.len(), 1);

    // The server, started with the old key, opens the re-sealed copy.
    app.step_up().await;
    let show = format!("/profile/tokens/{id}/show");
    let res = app.submit(&show, &show, &[]).await;
    assert_eq!(res.status(), StatusCode::OK);
    let page = res.text().await.unwrap();
    assert_eq!(
        common::text_of(&page, "#shown-token").as_deref(),
        Some(secret.as_str())
    );
    // And seals new ones with the new key.
    let (other, _) = app.new_client_token("ETL").await;
    let sealed: Vec<u8> = app.db(|conn| {
        use tessera::db::schema::tokens::dsl as t;
        t::tokens
            .find(other)
            .select(t::sealed_secret.assume_not_null())
            .first(conn)
            .unwrap()
    });
    let key_bytes: Vec<u8> = (0..4)
        .map(|i| u8::from_str_radix(&key_id[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    assert_eq!(sealed[1..5], key_bytes[..]);
}
