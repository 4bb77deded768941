//! Graceful shutdown (issue 6, item 7): SIGTERM stops new connections, lets the
//! requests in flight finish, and writes the last uses of tokens that were still
//! waiting in memory.

use crate::common;
use crate::process;

use std::time::{Duration, Instant};

use common::PASSWORD;
use diesel::prelude::*;
use process::{SMALL_SERVER, Server};
use reqwest::StatusCode;
use tessera::db::schema::tokens;
use tessera::domain::token::{PlainToken, TokenKind};

/// (last_used_at, last_used_ip, last_used_user_agent) of a token row.
type LastUse = (
    Option<chrono::NaiveDateTime>,
    Option<String>,
    Option<String>,
);

fn last_use(db: &common::TestDb, id: i64) -> LastUse {
    tokens::table
        .find(id)
        .select((
            tokens::last_used_at,
            tokens::last_used_ip,
            tokens::last_used_user_agent,
        ))
        .first(&mut db.connect())
        .expect("the token row")
}

/// A mobile sign-in of `slow`, whose password hash is costly to verify.
async fn slow_sign_in(address: String) -> reqwest::Result<(StatusCode, serde_json::Value)> {
    let res = reqwest::Client::new()
        .post(format!("{address}/api/v1/sessions"))
        .json(&serde_json::json!({
            "username": "slow",
            "password": PASSWORD,
            "device_name": "Pixel 9",
        }))
        .timeout(Duration::from_secs(30))
        .send()
        .await?;
    let status = res.status();
    Ok((status, res.json().await.unwrap_or_default()))
}

#[actix_web::test]
async fn sigterm_lets_requests_finish_and_writes_pending_last_use() {
    let db = common::fresh_database();
    // An administrator with a personal token, inserted through the db layer.
    let secret = PlainToken::generate("tsr", TokenKind::Personal);
    let token_id = {
        let mut conn = db.connect();
        let ops = common::create_user_on(&mut conn, "ops", true);
        let now = tessera::db::now();
        let new = tessera::db::tokens::NewToken::new(
            TokenKind::Personal,
            "deploy",
            ops.id,
            &secret.sha256(),
            &secret.display_prefix(),
            now,
        )
        .scopes("devices:read")
        .expires_at(Some(now + chrono::TimeDelta::days(30)));
        tessera::db::tokens::insert(&mut conn, &new).expect("insert the token")
    };
    // A user whose sign-in takes a while: argon2 with 256 MiB and 3 passes.
    process::create_admin(
        &db.url,
        "slow",
        PASSWORD,
        &[
            ("TESSERA_ARGON2_MEMORY_KIB", "262144"),
            ("TESSERA_ARGON2_ITERATIONS", "3"),
        ],
    );

    // An hour between writes of last uses: only the shutdown can write this one.
    let mut server = Server::start(
        &db.url_for("tessera_shutdown"),
        &[SMALL_SERVER, &["--last-use-flush-interval", "1h"]].concat(),
        &[],
    );
    let res = reqwest::Client::new()
        .get(server.url("/api/v1/me"))
        .bearer_auth(secret.expose())
        .header(reqwest::header::USER_AGENT, "shutdown-test/1")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);

    // How long the slow sign-in takes when nothing interrupts it.
    let started = Instant::now();
    let (status, _) = slow_sign_in(server.address.clone()).await.unwrap();
    let unhurried = started.elapsed();
    assert_eq!(status, StatusCode::CREATED);
    assert!(
        unhurried >= Duration::from_millis(250),
        "the slow sign-in must take clearly longer than the wait before SIGTERM; it took {unhurried:?}"
    );
    assert_eq!(
        last_use(&db, token_id),
        (None, None, None),
        "the use waits in memory (seconds later)"
    );

    // SIGTERM early in another slow sign-in: 100 ms in, or a fifth of its
    // duration on a machine where it is quick.
    let before_sigterm = (unhurried / 5).min(Duration::from_millis(100));
    let in_flight = {
        let sign_in = slow_sign_in(server.address.clone());
        actix_web::rt::spawn(async move { (sign_in.await, Instant::now()) })
    };
    actix_web::rt::time::sleep(before_sigterm).await;
    server.terminate();
    let terminated_at = Instant::now();
    assert!(
        !in_flight.is_finished(),
        "SIGTERM was sent while the sign-in was in flight"
    );

    // New connections are refused (or fail) once the server has taken the signal.
    assert!(
        common::eventually(|| server.log().contains("SIGTERM received")).await,
        "the server logs that it took SIGTERM:\n{}",
        server.log()
    );
    let probe = reqwest::Client::builder()
        .timeout(Duration::from_secs(3))
        .build()
        .unwrap()
        .get(server.url("/healthz"))
        .send()
        .await;
    assert!(
        probe.is_err(),
        "a new request after SIGTERM is not served: {probe:?}"
    );

    // The sign-in in flight completes.
    let (answer, answered_at) = in_flight.await.unwrap();
    let (status, body) = answer.expect("the request in flight gets its answer");
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert!(answered_at > terminated_at);
    let session = body["token"].as_str().expect("a session token").to_owned();

    // The process ends on its own, successfully.
    let deadline = Instant::now() + Duration::from_secs(10);
    let exit = loop {
        if let Some(exit) = server.try_wait() {
            break exit;
        }
        assert!(
            Instant::now() < deadline,
            "the server still runs 10 s after SIGTERM:\n{}",
            server.log()
        );
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(exit.success(), "exit status {exit}:\n{}", server.log());
    eprintln!(
        "a slow sign-in takes {unhurried:?}; the one in flight was answered {:?} and the \
         server had exited {:?} after SIGTERM",
        answered_at - terminated_at,
        terminated_at.elapsed()
    );

    // The shutdown wrote the pending last use; the new session is stored.
    let (at, ip, user_agent) = last_use(&db, token_id);
    assert!(at.is_some(), "last_used_at written at shutdown");
    assert_eq!(ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(user_agent.as_deref(), Some("shutdown-test/1"));
    let issued = PlainToken::parse("tsr", &session).expect("a well-formed token");
    let stored = tessera::db::tokens::find_by_hash(&mut db.connect(), &issued.sha256())
        .unwrap()
        .expect("the session issued during shutdown is stored");
    assert_eq!(stored.kind, TokenKind::Session);
    let log = server.log();
    assert!(log.contains("Tessera stopped"), "{log}");
    assert!(!log.contains("cannot write the last use"), "{log}");
}
