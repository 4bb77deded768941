//! The maintenance commands: `seed-demo` and `purge`; settings refused at start-up.

use crate::common;

use std::process::Command;

use common::spawn_app;
use diesel::prelude::*;

fn tessera(database_url: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tessera"));
    for (key, _) in std::env::vars() {
        if key.starts_with("TESSERA_") || key == "DATABASE_URL" {
            cmd.env_remove(key);
        }
    }
    cmd.env("TESSERA_DATABASE_URL", database_url)
        .env("TESSERA_ARGON2_MEMORY_KIB", "64")
        .env("TESSERA_ARGON2_ITERATIONS", "1")
        .env("TESSERA_LOG", "warn");
    cmd
}

/// `tessera purge`, which must succeed; what it printed.
fn purge(database_url: &str) -> String {
    let out = tessera(database_url).arg("purge").output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
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
    let out = tessera(&app.database_url)
        .args(["seed-demo", "--users", "30", "--tokens", "2000"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("Seeded 30 users and 2000 tokens"));
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
    let app = spawn_app().await;
    let ada = app.create_user("ada", false);
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
    let said = purge(&app.database_url);
    assert!(
        said.contains("Purged 2 revoked or expired tokens older than 90 days"),
        "{said}"
    );
    use tessera::db::schema::tokens::dsl as t;
    let left: Vec<i64> = app
        .db(|c| t::tokens.select(t::id).order(t::id).load(c))
        .unwrap();
    assert_eq!(left, vec![recent_revoked.id, live.id]);
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
    let app = spawn_app().await;
    app.create_user("root", true);
    app.login_ok("root").await;
    let ada = app.create_user("ada", false);
    let res = app
        .submit(
            "/admin/settings",
            "/admin/settings",
            &[
                ("default_lifetime_days", "90"),
                ("max_lifetime_days", "365"),
                ("retention_days", "10"),
                ("mobile_session_days", "30"),
                ("token_creation_enabled", "on"),
                ("tenant_id", ""),
            ],
        )
        .await;
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
    let said = purge(&app.database_url);
    assert!(
        said.contains("Purged 2 revoked or expired tokens older than 10 days"),
        "{said}"
    );
    use tessera::db::schema::tokens::dsl as t;
    let left: Vec<i64> = app
        .db(|c| t::tokens.select(t::id).order(t::id).load(c))
        .unwrap();
    assert_eq!(left, vec![revoked_5.id, expired_5.id, live.id]);
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
    let out = tessera(&url)
        .args(["--token-prefix", "acme", "migrate"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
