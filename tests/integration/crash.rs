//! Crash atomicity (issue 6, item 3): the server is killed with SIGKILL at random
//! moments of a bulk revoke of 10,000 tokens. After a restart on the same
//! database either all of them are revoked (with one audit row each) or none
//! (and no audit row), and every change acknowledged before the kill is there.
//!
//! Six rounds kill at a random moment of [0, 1.5 × an unkilled revoke's
//! duration]; three more wait until the database shows the revoke's write
//! transaction open and kill then, and at least one of those must find nothing
//! revoked: so the test has certainly killed a server inside the transaction.
//!
//! Slow suite: a real `tessera serve` process, killed and restarted nine times.

use crate::common;
use crate::process;

use std::time::Instant;

use common::{TestDb, Visitor, scalar};
use diesel::prelude::*;
use process::{SMALL_SERVER, Server};
use rand::Rng as _;
use reqwest::StatusCode;
use tessera::db::DbConn;
use tessera::db::schema::tokens;
use tessera::db::tokens::NewToken;
use tessera::domain::token::TokenKind;

/// Tokens revoked by the one bulk revoke.
const BULK: usize = 10_000;
/// Rounds that kill the server at a random moment around the revoke.
const ROUNDS: u32 = 6;
/// Rounds that kill it once its write transaction is seen open.
const TARGETED_ROUNDS: u32 = 3;

/// Whether the server `instance` is inside a write transaction on the tokens
/// table: on PostgreSQL a connection of it holds a write lock on `tokens`; on
/// SQLite another connection holds the write lock. (Last uses are written once
/// an hour in this test, and a session's write is over in a few milliseconds
/// at most, so a writer seen throughout 20 ms is the bulk revoke.)
async fn mid_transaction(db: &TestDb, instance: &str) -> bool {
    let writing = || match db.url.strip_prefix("sqlite://") {
        Some(path) => {
            use diesel::connection::SimpleConnection as _;
            let mut conn = SqliteConnection::establish(path).expect("open the SQLite file");
            conn.batch_execute("PRAGMA busy_timeout = 0").unwrap();
            match conn.batch_execute("BEGIN IMMEDIATE") {
                Ok(()) => {
                    conn.batch_execute("ROLLBACK").unwrap();
                    false
                }
                Err(_) => true,
            }
        }
        None => {
            scalar(
                &mut db.connect(),
                &format!(
                    "SELECT COUNT(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
                     WHERE a.application_name = '{instance}' AND l.relation = 'tokens'::regclass \
                     AND l.mode = 'RowExclusiveLock'"
                ),
            ) > 0
        }
    };
    for _ in 0..2 {
        if !writing() {
            return false;
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    writing()
}

/// The ids (first, last) of a fresh batch of live tokens of `owner`, inserted in
/// one transaction on the test's own connection.
fn insert_batch(conn: &mut DbConn, owner: i64, generation: u32) -> (i64, i64) {
    let now = tessera::db::now();
    let rows: Vec<(String, String, [u8; 32])> = (0..BULK)
        .map(|i| {
            (
                format!("bulk-{generation}-{i}"),
                format!("tsrp_b{:03}", i % 1000),
                rand::random(),
            )
        })
        .collect();
    conn.transaction(|conn| {
        for chunk in rows.chunks(1000) {
            let new: Vec<NewToken> = chunk
                .iter()
                .map(|(name, prefix, sha256)| {
                    NewToken::new(TokenKind::Personal, name, owner, sha256, prefix, now)
                        .scopes("devices:read")
                        .expires_at(Some(now + chrono::TimeDelta::days(30)))
                })
                .collect();
            match conn {
                DbConn::Sqlite(c) => diesel::insert_into(tokens::table).values(&new).execute(c)?,
                DbConn::Pg(c) => diesel::insert_into(tokens::table).values(&new).execute(c)?,
            };
        }
        Ok::<_, diesel::result::Error>(())
    })
    .expect("insert the batch");
    let ids: Vec<i64> = tokens::table
        .filter(tokens::owner_id.eq(owner))
        .filter(tokens::revoked_at.is_null())
        .select(tokens::id)
        .order(tokens::id.asc())
        .load(conn)
        .unwrap();
    assert_eq!(ids.len(), BULK);
    let (first, last) = (ids[0], ids[BULK - 1]);
    assert_eq!(last - first + 1, BULK as i64, "one contiguous id range");
    (first, last)
}

/// (revoked tokens, their `token_revoked` audit rows) in a batch.
fn batch_state(db: &TestDb, (first, last): (i64, i64)) -> (i64, i64) {
    let mut conn = db.connect();
    let revoked = scalar(
        &mut conn,
        &format!(
            "SELECT COUNT(*) FROM tokens WHERE id BETWEEN {first} AND {last} AND revoked_at IS NOT NULL"
        ),
    );
    let audited = scalar(
        &mut conn,
        &format!(
            "SELECT COUNT(DISTINCT target_id) FROM audit_events WHERE action = 'token_revoked' \
             AND target_type = 'token' AND outcome = 'success' AND target_id BETWEEN {first} AND {last}"
        ),
    );
    let audit_rows = scalar(
        &mut conn,
        &format!(
            "SELECT COUNT(*) FROM audit_events WHERE action = 'token_revoked' \
             AND target_id BETWEEN {first} AND {last}"
        ),
    );
    assert_eq!(audited, audit_rows, "at most one audit row per token");
    (revoked, audited)
}

/// The confirmation page's form for "revoke every live token of `owner_name`",
/// as (name, value) pairs, after checking it announces `BULK` tokens.
async fn bulk_confirm_form(admin: &Visitor, owner_name: &str) -> Vec<(String, String)> {
    let res = admin
        .submit(
            "/admin/tokens",
            "/admin/tokens/bulk-revoke",
            &[("tab", "api"), ("user", owner_name), ("all_matching", "1")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let page = res.text().await.unwrap();
    assert_eq!(
        common::text_of(&page, "h1").as_deref(),
        Some(format!("Delete {BULK} tokens?").as_str()),
        "the whole batch is live before the revoke"
    );
    common::hidden_fields(&page, "form.confirm input[type=hidden]")
}

/// Changes the server acknowledged before a kill: a token created through the
/// form (it must keep working) and one revoked through the UI (it must stay revoked).
struct Acknowledged {
    kept: String,
    revoked: String,
    revoked_id: i64,
}

async fn acknowledge_changes(admin: &Visitor, server: &Server, round: u32) -> Acknowledged {
    let (_, kept) = admin
        .new_access_token(&format!("kept-{round}"), &["devices:read"])
        .await;
    let (revoked_id, revoked) = admin
        .new_access_token(&format!("revoked-{round}"), &["devices:read"])
        .await;
    assert_eq!(server.me(&revoked).await, StatusCode::OK);
    let res = admin.token_action(revoked_id, "revoke").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "the single revoke");
    assert_eq!(server.me(&kept).await, StatusCode::OK);
    assert_eq!(server.me(&revoked).await, StatusCode::UNAUTHORIZED);
    Acknowledged {
        kept,
        revoked,
        revoked_id,
    }
}

#[actix_web::test]
async fn a_killed_bulk_revoke_is_all_or_nothing() {
    let db = common::fresh_database();
    let (bulk_owner, mut batch) = {
        let mut conn = db.connect();
        let mut create =
            |username: &str, is_admin| common::create_user_on(&mut conn, username, is_admin);
        create("root", true);
        let owner = create("bulk", false);
        let batch = insert_batch(&mut conn, owner.id, 0);
        (owner.id, batch)
    };
    let mut generation = 0;
    let mut instance = 0;
    let instance_name = |n: u32| format!("tessera_crash_{n}");
    // Last uses are written only at the end: no writer but the revoke (see
    // `mid_transaction`).
    let args = [SMALL_SERVER, &["--last-use-flush-interval", "1h"]].concat();
    let mut server = Server::start(&db.url_for(&instance_name(instance)), &args, &[]);
    // The test blocks its own runtime for seconds at a time (inserting 10,000
    // tokens, reading the database), while the server closes connections idle
    // for 5 s: a kept-alive connection could be reused after the server closed
    // it, unnoticed. So every request gets a fresh connection.
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let admin = server.visitor(&client);
    admin.login_ok("root").await;

    // Once without a kill: how long the whole revoke takes, and that it works.
    let form = bulk_confirm_form(&admin, "bulk").await;
    let started = Instant::now();
    let res = admin.post("/admin/tokens/bulk-revoke/confirm", &form).await;
    let full = started.elapsed();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(batch_state(&db, batch), (BULK as i64, BULK as i64));
    eprintln!("an unkilled revoke of {BULK} tokens took {full:?}");
    generation += 1;
    batch = {
        let mut conn = db.connect();
        insert_batch(&mut conn, bulk_owner, generation)
    };

    let mut acknowledged: Vec<Acknowledged> = Vec::new();
    let mut outcomes = Vec::new();
    for round in 0..ROUNDS + TARGETED_ROUNDS {
        let admin = server.visitor(&client);
        acknowledged.push(acknowledge_changes(&admin, &server, round).await);
        let form = bulk_confirm_form(&admin, "bulk").await;

        let request = admin
            .client
            .post(admin.url("/admin/tokens/bulk-revoke/confirm"))
            .form(&form)
            .send();
        let sent = Instant::now();
        let in_flight = actix_web::rt::spawn(async move { request.await.map(|r| r.status()) });
        let targeted = round >= ROUNDS;
        if targeted {
            // Kill as soon as the revoke's transaction is seen open.
            while !mid_transaction(&db, &instance_name(instance)).await {
                assert!(
                    sent.elapsed() < full * 20,
                    "round {round}: the revoke's transaction was never seen open"
                );
                actix_web::rt::time::sleep(std::time::Duration::from_millis(1)).await;
            }
        } else {
            // Kill at a random moment; each round draws from its own slice of
            // [0, 1.5 × the full duration], so that the rounds cover all of it,
            // the commit and the moments after it included.
            let slice = full.mul_f64(1.5) / ROUNDS;
            let delay = slice * round + slice.mul_f64(rand::rng().random_range(0.0..1.0));
            actix_web::rt::time::sleep(delay).await;
        }
        let delay = sent.elapsed();
        server.kill();
        let answered = in_flight.await.unwrap().ok();
        db.wait_until_disconnected(&instance_name(instance));

        let (revoked, audited) = batch_state(&db, batch);
        let outcome = match revoked {
            0 => "none",
            n if n == BULK as i64 => "all",
            _ => "PART",
        };
        let how = if targeted {
            "in the transaction"
        } else {
            "at random"
        };
        eprintln!(
            "round {round}: killed {how} after {delay:?}, response {answered:?}: {outcome} revoked ({revoked}), {audited} audit rows"
        );
        outcomes.push((targeted, outcome));
        assert!(
            revoked == 0 || revoked == BULK as i64,
            "round {round}: {revoked} of {BULK} tokens revoked after a kill at {delay:?}"
        );
        assert_eq!(
            audited, revoked,
            "round {round}: audit rows match the revoked tokens"
        );
        if answered.is_some() {
            assert_eq!(answered, Some(StatusCode::SEE_OTHER));
            assert_eq!(revoked, BULK as i64, "an acknowledged bulk revoke stays");
        }

        // Restart on the same database: everything acknowledged is still there.
        instance += 1;
        server = Server::start(&db.url_for(&instance_name(instance)), &args, &[]);
        let admin = server.visitor(&client);
        let res = admin.get("/admin/tokens").await;
        assert_eq!(res.status(), StatusCode::OK, "the admin's session survives");
        for (i, ack) in acknowledged.iter().enumerate() {
            assert_eq!(
                server.me(&ack.kept).await,
                StatusCode::OK,
                "round {round}: the token created in round {i} still works"
            );
            assert_eq!(
                server.me(&ack.revoked).await,
                StatusCode::UNAUTHORIZED,
                "round {round}: the token revoked in round {i} stays revoked"
            );
            let revoked_at: Option<chrono::NaiveDateTime> = tokens::table
                .find(ack.revoked_id)
                .select(tokens::revoked_at)
                .first(&mut db.connect())
                .unwrap();
            assert!(revoked_at.is_some());
        }
        if revoked == BULK as i64 {
            generation += 1;
            let mut conn = db.connect();
            batch = insert_batch(&mut conn, bulk_owner, generation);
        }
    }
    eprintln!("outcomes (targeted, revoked): {outcomes:?}");
    assert!(
        outcomes.contains(&(true, "none")),
        "no kill inside the transaction was seen to undo it: {outcomes:?}"
    );
}
