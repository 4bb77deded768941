//! `/metrics`: the request, validation and pool counters; the token gauges by
//! kind and status and the 7-day expiry gauge, counted from the database and
//! kept for `TESSERA_METRICS_TOKEN_COUNT_TTL`; the process metrics; and
//! `TESSERA_METRICS_REQUIRE_TOKEN`, which asks for a bearer token with the
//! `metrics` scope (in the catalog of fresh and upgraded installs alike).

use crate::common;

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::TimeDelta;
use common::{TestApp, app_with_user, content_type, scalar, spawn_app, spawn_app_with};
use diesel::connection::SimpleConnection as _;
use diesel::prelude::*;
use reqwest::StatusCode;
use tessera::db::schema::tokens::dsl as t;

/// Every sample of a Prometheus text answer: `name{labels}` → value.
fn samples(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').expect("`series value`");
            let value = value
                .parse()
                .unwrap_or_else(|_| panic!("a number in {line:?}"));
            (series.to_owned(), value)
        })
        .collect()
}

async fn scrape(app: &TestApp) -> BTreeMap<String, f64> {
    let res = app.get("/metrics").await;
    assert_eq!(res.status(), StatusCode::OK);
    samples(&res.text().await.unwrap())
}

/// The `tessera_tokens` and `tessera_tokens_expiring_soon` samples only.
fn token_gauges(all: &BTreeMap<String, f64>) -> BTreeMap<String, f64> {
    all.iter()
        .filter(|(series, _)| series.starts_with("tessera_tokens"))
        .map(|(series, value)| (series.clone(), *value))
        .collect()
}

/// The gauges expected: `tessera_tokens` for every kind and status (zero where
/// not given) and `tessera_tokens_expiring_soon` for every kind.
fn expected(by_state: &[(&str, &str, f64)], expiring: &[(&str, f64)]) -> BTreeMap<String, f64> {
    let mut all = BTreeMap::new();
    for kind in ["personal", "client", "api", "session"] {
        for status in ["active", "disabled", "expired", "revoked"] {
            let n = by_state
                .iter()
                .find(|(k, s, _)| *k == kind && *s == status)
                .map_or(0.0, |(_, _, n)| *n);
            all.insert(
                format!("tessera_tokens{{kind=\"{kind}\",status=\"{status}\"}}"),
                n,
            );
        }
        let n = expiring
            .iter()
            .find(|(k, _)| *k == kind)
            .map_or(0.0, |(_, n)| *n);
        all.insert(
            format!("tessera_tokens_expiring_soon{{kind=\"{kind}\"}}"),
            n,
        );
    }
    all
}

/// A token of `kind` with this expiry (days from now; `None`: never), stored
/// status and revocation, written straight to the database.
fn token(
    app: &TestApp,
    owner: i64,
    kind: &str,
    name: &str,
    expires_in_days: Option<i64>,
    disabled: bool,
    revoked: bool,
) -> i64 {
    let id = app.insert_token(owner, kind, name, None).id;
    let now = tessera::db::now();
    app.db(|conn| {
        diesel::update(t::tokens.find(id))
            .set((
                t::expires_at.eq(expires_in_days.map(|days| now + TimeDelta::days(days))),
                t::status.eq(if disabled { "disabled" } else { "active" }),
                t::revoked_at.eq(revoked.then_some(now)),
            ))
            .execute(conn)
            .unwrap();
    });
    id
}

#[actix_web::test]
async fn token_gauges_count_every_kind_and_status() {
    let app = spawn_app_with(|config| config.metrics_token_count_ttl = Duration::ZERO).await;
    let ada = app.create_user("ada", false).id;
    let (live, disabled, revoked) = (false, true, true);
    // personal: 5 active (one expiring in 3 days, one in 10), 2 disabled (one
    // of them expiring in 3 days), 2 expired (one of them also disabled), 1
    // revoked (expiring in 3 days).
    for (i, days) in [30, 30, 30, 3, 10].into_iter().enumerate() {
        token(
            &app,
            ada,
            "personal",
            &format!("p{i}"),
            Some(days),
            live,
            !revoked,
        );
    }
    token(&app, ada, "personal", "pd1", Some(30), disabled, !revoked);
    token(&app, ada, "personal", "pd2", Some(3), disabled, !revoked);
    token(&app, ada, "personal", "pe1", Some(-1), live, !revoked);
    token(&app, ada, "personal", "pe2", Some(-2), disabled, !revoked);
    let personal_revoked = token(&app, ada, "personal", "pr", Some(3), live, revoked);
    // client: 3 active (one never expires, one expires in 2 days), 3 revoked.
    token(&app, ada, "client", "c1", None, live, !revoked);
    token(&app, ada, "client", "c2", Some(2), live, !revoked);
    token(&app, ada, "client", "c3", Some(60), live, !revoked);
    for i in 0..3 {
        token(
            &app,
            ada,
            "client",
            &format!("cr{i}"),
            Some(30),
            live,
            revoked,
        );
    }
    // api: 1 active, 1 disabled expiring in 3 days (not counted as expiring).
    token(&app, ada, "api", "a1", Some(200), live, !revoked);
    token(&app, ada, "api", "a2", Some(3), disabled, !revoked);
    // session: 4 active (two expiring in 6 days), 3 expired.
    for (i, days) in [6, 6, 20, 8].into_iter().enumerate() {
        token(
            &app,
            ada,
            "session",
            &format!("s{i}"),
            Some(days),
            live,
            !revoked,
        );
    }
    for i in 0..3 {
        token(
            &app,
            ada,
            "session",
            &format!("se{i}"),
            Some(-i - 1),
            live,
            !revoked,
        );
    }

    let want = expected(
        &[
            ("personal", "active", 5.0),
            ("personal", "disabled", 2.0),
            ("personal", "expired", 2.0),
            ("personal", "revoked", 1.0),
            ("client", "active", 3.0),
            ("client", "revoked", 3.0),
            ("api", "active", 1.0),
            ("api", "disabled", 1.0),
            ("session", "active", 4.0),
            ("session", "expired", 3.0),
        ],
        &[("personal", 1.0), ("client", 1.0), ("session", 2.0)],
    );
    assert_eq!(token_gauges(&scrape(&app).await), want);

    // Counted afresh at each scrape here (a ttl of zero): a change shows.
    app.db(|conn| {
        diesel::update(t::tokens.find(personal_revoked))
            .set(t::revoked_at.eq(None::<chrono::NaiveDateTime>))
            .execute(conn)
            .unwrap();
    });
    let mut want = want;
    want.insert(
        "tessera_tokens{kind=\"personal\",status=\"revoked\"}".into(),
        0.0,
    );
    want.insert(
        "tessera_tokens{kind=\"personal\",status=\"active\"}".into(),
        6.0,
    );
    want.insert(
        "tessera_tokens_expiring_soon{kind=\"personal\"}".into(),
        2.0,
    );
    assert_eq!(token_gauges(&scrape(&app).await), want);
}

#[actix_web::test]
async fn token_counts_are_kept_for_the_configured_time() {
    let app =
        spawn_app_with(|config| config.metrics_token_count_ttl = Duration::from_secs(3600)).await;
    let ada = app.create_user("ada", false).id;
    token(&app, ada, "api", "first", Some(30), false, false);
    let active_api = "tessera_tokens{kind=\"api\",status=\"active\"}";
    assert_eq!(scrape(&app).await[active_api], 1.0);
    token(&app, ada, "api", "second", Some(30), false, false);
    let kept = common::get_text(&app.url("/metrics")).await;
    assert_eq!(
        samples(&kept)[active_api],
        1.0,
        "the count read an hour ago"
    );
    assert!(
        kept.contains("counted at most 1h ago"),
        "the help text says how old the counts may be:\n{kept}"
    );
}

#[actix_web::test]
async fn process_metrics_are_reported() {
    let app = spawn_app().await;
    let all = scrape(&app).await;
    let value = |name: &str| {
        *all.get(name)
            .unwrap_or_else(|| panic!("{name} is missing from {all:#?}"))
    };
    assert!(value("process_resident_memory_bytes") > 1_000_000.0);
    assert!(value("process_virtual_memory_bytes") >= value("process_resident_memory_bytes"));
    assert!(value("process_open_fds") >= 3.0);
    assert!(value("process_max_fds") >= value("process_open_fds"));
    assert!(value("process_threads") >= 2.0);
    assert!(value("process_cpu_seconds_total") >= 0.0);
    let started = value("process_start_time_seconds");
    let now = chrono::Utc::now().timestamp() as f64;
    assert!(
        started > now - 24.0 * 3600.0 && started <= now,
        "started at {started}, now {now}"
    );
}

/// `GET /metrics` with this `Authorization` value (none with `None`).
async fn metrics_with(app: &TestApp, authorization: Option<&str>) -> reqwest::Response {
    let mut req = reqwest::Client::new().get(app.url("/metrics"));
    if let Some(value) = authorization {
        req = req.header(reqwest::header::AUTHORIZATION, value);
    }
    req.send().await.unwrap()
}

fn challenge(res: &reqwest::Response) -> &str {
    res.headers()
        .get(reqwest::header::WWW_AUTHENTICATE)
        .map_or("", |value| value.to_str().unwrap())
}

#[actix_web::test]
async fn without_the_option_metrics_need_no_token() {
    let app = spawn_app().await;
    let res = metrics_with(&app, None).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.text().await.unwrap().contains("tessera_tokens{"));
}

#[actix_web::test]
async fn with_the_option_metrics_need_a_token_with_the_metrics_scope() {
    let app = spawn_app_with(|config| config.metrics_require_token = true).await;
    let ada = app.create_user("ada", false);
    app.grant(ada.id, "Monitoring", "metrics devices:read");
    app.login_ok("ada").await;
    // Created through the form, which accepts only scopes of the catalog.
    let (_, with_scope) = app.new_access_token("prometheus", &["metrics"]).await;
    let (_, without_scope) = app.new_access_token("other", &["devices:read"]).await;

    let res = metrics_with(&app, None).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(challenge(&res), r#"Bearer realm="tessera""#);
    assert!(!res.text().await.unwrap().contains("tessera_"));

    // A signed-in browser's session is no bearer token.
    let res = app.get("/metrics").await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);

    let unknown = tessera::domain::token::PlainToken::generate(
        "tsr",
        tessera::domain::token::TokenKind::Personal,
    );
    let res = metrics_with(&app, Some(&format!("Bearer {}", unknown.expose()))).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        challenge(&res),
        r#"Bearer realm="tessera", error="invalid_token""#
    );

    let res = metrics_with(&app, Some(&format!("Bearer {without_scope}"))).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        challenge(&res),
        r#"Bearer realm="tessera", error="insufficient_scope", scope="metrics""#
    );
    assert!(!res.text().await.unwrap().contains("tessera_"));
    assert_eq!(app.audit("token_scope_denied").len(), 1);

    let res = metrics_with(&app, Some(&format!("Bearer {with_scope}"))).await;
    assert_eq!(res.status(), StatusCode::OK);
    let text = res.text().await.unwrap();
    let all = samples(&text);
    assert_eq!(
        all["tessera_tokens{kind=\"personal\",status=\"active\"}"],
        2.0
    );
    assert!(all.contains_key("process_resident_memory_bytes"));
    assert!(!text.contains(&with_scope[9..]), "no secret in the metrics");

    // The scope is checked now, not when the token was made.
    app.db(|conn| {
        conn.batch_execute("UPDATE user_types SET scopes = 'devices:read'")
            .unwrap();
    });
    let res = metrics_with(&app, Some(&format!("Bearer {with_scope}"))).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
}

#[actix_web::test]
async fn the_metrics_scope_is_in_the_catalog_of_fresh_and_upgraded_installs() {
    let db = common::fresh_database();
    let mut conn = db.connect();
    let metrics_scopes = |conn: &mut tessera::db::DbConn| {
        scalar(
            conn,
            "SELECT COUNT(*) FROM scopes WHERE name = 'metrics' AND retired_at IS NULL",
        )
    };
    assert_eq!(metrics_scopes(&mut conn), 1, "fresh install");

    // An install from before the migration: without the scope, and without
    // the migration in diesel's list of those applied.
    let forget = "DELETE FROM scopes WHERE name = 'metrics';
         DELETE FROM __diesel_schema_migrations WHERE version = '20261206000001';";
    conn.batch_execute(forget).unwrap();
    assert_eq!(metrics_scopes(&mut conn), 0);
    tessera::db::run_migrations(&mut conn).unwrap();
    assert_eq!(metrics_scopes(&mut conn), 1, "upgraded install");

    // One whose administrators had made (and retired) a `metrics` scope of
    // their own keeps it as it is; the upgrade does not fail.
    conn.batch_execute(forget).unwrap();
    conn.batch_execute(
        "INSERT INTO scopes (name, resource, description, retired_at, created_at)
         VALUES ('metrics', 'Ours', 'our own', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)",
    )
    .unwrap();
    tessera::db::run_migrations(&mut conn).unwrap();
    assert_eq!(metrics_scopes(&mut conn), 0, "still retired");
    assert_eq!(
        common::text_scalar(
            &mut conn,
            "SELECT resource FROM scopes WHERE name = 'metrics'"
        ),
        "Ours"
    );
}

#[actix_web::test]
async fn metrics_count_requests_validations_and_the_pool() {
    let (app, ada) = app_with_user("ada").await;
    let t = app.insert_token(ada.id, "personal", "ci", None);
    app.api_me(&t.token).await;
    app.api_me("garbage").await;
    app.get("/login").await;
    let res = app.get("/metrics").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(content_type(&res).starts_with("text/plain"));
    let text = res.text().await.unwrap();
    for needle in [
        "tessera_http_requests_total{method=\"GET\",route=\"/login\",status=\"200\"}",
        "tessera_http_request_duration_seconds_bucket{route=\"/api/v1/me\"",
        "tessera_token_validations_total{outcome=\"valid\"}",
        "tessera_token_validations_total{outcome=\"malformed\"}",
        "tessera_db_pool_connections{state=\"idle\"}",
        "tessera_password_verifications_total ",
    ] {
        assert!(text.contains(needle), "{needle} in:\n{text}");
    }
    assert!(!text.contains(&t.token[9..]), "no secret in metrics");
}
