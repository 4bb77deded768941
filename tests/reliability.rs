//! Reliability: a revocation is final the moment its response arrives, under
//! concurrent use (on SQLite, whose token cache is the risk, and on
//! PostgreSQL), and several `tessera serve` processes on one PostgreSQL database
//! behave as one deployment.

mod common;
mod process;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{PASSWORD, Visitor, bare_client, csrf_in, text_of};
use process::Server;
use rand::{Rng as _, SeedableRng as _};
use reqwest::StatusCode;

// ---------------------------------------------------------------------------
// 1. Revocation races
// ---------------------------------------------------------------------------

/// Tokens in play, and what happens to them (indexes into one list).
const TOKENS: usize = 160;
/// Never revoked: must answer 200 every time.
const KEPT: std::ops::Range<usize> = 0..40;
/// Revoked one by one by their owner on the profile page.
const BY_PROFILE: std::ops::Range<usize> = 40..60;
/// Revoked one by one through `DELETE /api/v1/tokens/{id}`.
const BY_API: std::ops::Range<usize> = 60..75;
/// Revoked one by one by value (`POST /api/v1/revoke`), as a leaked token is.
const BY_VALUE: std::ops::Range<usize> = 75..90;
/// Mobile sessions that sign themselves out (`DELETE /api/v1/sessions/current`).
const BY_SIGN_OUT: std::ops::Range<usize> = 90..100;
/// Revoked by the administrator, in groups of `GROUP`.
const BY_BULK: std::ops::Range<usize> = 100..160;
const GROUP: usize = 20;
/// `GET /api/v1/me` requests in total, and how many tasks send them.
const REQUESTS: usize = 3_000;
const CLIENTS: usize = 32;

/// One `GET /api/v1/me`.
struct Use {
    token: usize,
    /// Taken just before the request was handed to the client.
    sent: Instant,
    answered: Instant,
    /// `Err` when no HTTP answer came at all.
    status: Result<u16, String>,
    body: String,
}

/// When a token's revocation was asked for and when its response arrived.
#[derive(Clone, Copy)]
struct Revocation {
    asked: Instant,
    confirmed: Instant,
}

/// What every task shares.
struct Race {
    origin: String,
    client: reqwest::Client,
    secrets: Vec<String>,
    ids: Vec<i64>,
    /// Requests handed out / answered so far.
    issued: AtomicUsize,
    answered: AtomicUsize,
    /// Tokens a revoker is working on now (one slot per revoker): half of the
    /// load goes to them, so that many requests race each revocation.
    hot: Mutex<[Vec<usize>; 5]>,
    revocations: Mutex<HashMap<usize, Revocation>>,
    /// Statuses and bodies of the revoking requests that were not what we expected.
    revoke_problems: Mutex<Vec<String>>,
}

impl Race {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.origin)
    }

    /// Waits until `n` load requests have been answered (or all of them are).
    async fn progress(&self, n: usize) {
        while self.answered.load(Ordering::SeqCst) < n.min(REQUESTS) {
            actix_web::rt::time::sleep(Duration::from_millis(1)).await;
        }
    }

    fn set_hot(&self, slot: usize, tokens: Vec<usize>) {
        self.hot.lock().unwrap()[slot] = tokens;
    }

    fn pick(&self, rng: &mut rand::rngs::StdRng) -> usize {
        if rng.random_bool(0.5) {
            let hot: Vec<usize> = self.hot.lock().unwrap().iter().flatten().copied().collect();
            if !hot.is_empty() {
                return hot[rng.random_range(0..hot.len())];
            }
        }
        rng.random_range(0..TOKENS)
    }

    fn revoked(&self, tokens: &[usize], asked: Instant, confirmed: Instant) {
        let mut all = self.revocations.lock().unwrap();
        for &t in tokens {
            all.insert(t, Revocation { asked, confirmed });
        }
    }

    /// Notes an unexpected revoke answer (checked at the end, so that a failing
    /// revoker never leaves the load waiting).
    async fn check_answer(&self, what: &str, res: reqwest::Response, expected: StatusCode) {
        let status = res.status();
        let body = res.text().await.unwrap_or_default();
        if status != expected || body.contains("database is locked") {
            self.revoke_problems
                .lock()
                .unwrap()
                .push(format!("{what}: {status} {body:.300}"));
        }
    }
}

/// One load task: sends `GET /api/v1/me` until the total is reached.
async fn load(race: Arc<Race>, seed: u64) -> Vec<Use> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut uses = Vec::new();
    while race.issued.fetch_add(1, Ordering::SeqCst) < REQUESTS {
        let token = race.pick(&mut rng);
        let request = race
            .client
            .get(race.url("/api/v1/me"))
            .bearer_auth(&race.secrets[token]);
        let sent = Instant::now();
        let outcome = match request.send().await {
            Ok(res) => {
                let status = res.status().as_u16();
                match res.text().await {
                    Ok(body) => (Ok(status), body),
                    Err(err) => (Err(format!("body: {err}")), String::new()),
                }
            }
            Err(err) => (Err(err.to_string()), String::new()),
        };
        let answered = Instant::now();
        race.answered.fetch_add(1, Ordering::SeqCst);
        uses.push(Use {
            token,
            sent,
            answered,
            status: outcome.0,
            body: outcome.1,
        });
    }
    uses
}

/// The owner revokes `BY_PROFILE` one by one, spread over the load.
async fn revoke_by_profile(race: Arc<Race>, owner: Visitor) {
    let csrf = csrf_in(&owner.get_html("/profile/tokens").await);
    for (k, token) in BY_PROFILE.enumerate() {
        race.progress(300 + k * 70).await;
        race.set_hot(0, vec![token]);
        let asked = Instant::now();
        let res = owner
            .post_form(
                &format!("/profile/tokens/{}/revoke", race.ids[token]),
                &[("csrf_token", &csrf)],
            )
            .await;
        race.revoked(&[token], asked, Instant::now());
        race.check_answer("profile revoke", res, StatusCode::SEE_OTHER)
            .await;
    }
}

/// `DELETE /api/v1/tokens/{id}` for `BY_API`, with a `tokens:write` token.
async fn revoke_by_api(race: Arc<Race>, writer: String) {
    for (k, token) in BY_API.enumerate() {
        race.progress(350 + k * 100).await;
        race.set_hot(1, vec![token]);
        let request = race
            .client
            .delete(race.url(&format!("/api/v1/tokens/{}", race.ids[token])))
            .bearer_auth(&writer);
        let asked = Instant::now();
        let res = request.send().await.expect("DELETE /api/v1/tokens/{id}");
        race.revoked(&[token], asked, Instant::now());
        race.check_answer("API revoke", res, StatusCode::NO_CONTENT)
            .await;
    }
}

/// Anyone revokes `BY_VALUE` by the token itself, one by one.
async fn revoke_by_value(race: Arc<Race>) {
    for (k, token) in BY_VALUE.enumerate() {
        race.progress(380 + k * 120).await;
        race.set_hot(3, vec![token]);
        let request = race
            .client
            .post(race.url("/api/v1/revoke"))
            .form(&[("token", race.secrets[token].as_str())]);
        let asked = Instant::now();
        let res = request.send().await.expect("POST /api/v1/revoke");
        race.revoked(&[token], asked, Instant::now());
        race.check_answer("revoke by value", res, StatusCode::OK)
            .await;
    }
}

/// The mobile sessions `BY_SIGN_OUT` sign themselves out, one by one.
async fn sign_out(race: Arc<Race>) {
    for (k, token) in BY_SIGN_OUT.enumerate() {
        race.progress(420 + k * 180).await;
        race.set_hot(4, vec![token]);
        let request = race
            .client
            .delete(race.url("/api/v1/sessions/current"))
            .bearer_auth(&race.secrets[token]);
        let asked = Instant::now();
        let res = request
            .send()
            .await
            .expect("DELETE /api/v1/sessions/current");
        race.revoked(&[token], asked, Instant::now());
        race.check_answer("mobile sign-out", res, StatusCode::NO_CONTENT)
            .await;
    }
}

/// The administrator revokes `BY_BULK` in groups: selection, confirmation page,
/// then the confirmation itself.
async fn revoke_in_bulk(race: Arc<Race>, admin: Visitor) {
    let csrf = csrf_in(&admin.get_html("/profile").await);
    let groups: Vec<Vec<usize>> = BY_BULK
        .collect::<Vec<_>>()
        .chunks(GROUP)
        .map(<[usize]>::to_vec)
        .collect();
    for (g, group) in groups.into_iter().enumerate() {
        race.progress(500 + g * 800).await;
        race.set_hot(2, group.clone());
        let mut fields: Vec<(&str, String)> = group
            .iter()
            .map(|&t| ("ids", race.ids[t].to_string()))
            .collect();
        fields.push(("csrf_token", csrf.clone()));
        let form: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let confirm = admin.post_form("/admin/tokens/bulk-revoke", &form).await;
        let status = confirm.status();
        let page = confirm.text().await.unwrap_or_default();
        if status != StatusCode::OK
            || text_of(&page, "h1").as_deref() != Some(&*format!("Revoke {GROUP} tokens?"))
        {
            race.revoke_problems
                .lock()
                .unwrap()
                .push(format!("bulk confirmation page: {status} {page:.300}"));
        }
        let asked = Instant::now();
        let res = admin
            .post_form("/admin/tokens/bulk-revoke/confirm", &form)
            .await;
        race.revoked(&group, asked, Instant::now());
        race.check_answer("bulk revoke", res, StatusCode::SEE_OTHER)
            .await;
    }
}

#[actix_web::test]
async fn revocation_is_final_under_concurrent_use() {
    let started = Instant::now();
    // Refused tokens count as failed authentications; the per-address limiter
    // (its own test covers it) would otherwise turn the rest of the load into 429s.
    let app = common::spawn_app_with(|c| c.api_failures_per_minute = 1_000_000).await;
    app.create_user("root", true);
    let ada = app.create_user("ada", false);
    let writer_role = app.grant(ada.id, "Writer", "devices:read tokens:read tokens:write");
    let seeded: Vec<_> = (0..TOKENS)
        .map(|i| {
            let kind = if BY_SIGN_OUT.contains(&i) {
                "session"
            } else {
                "personal"
            };
            app.insert_token(ada.id, kind, &format!("t{i:03}"), None)
        })
        .collect();
    let writer = app.insert_token(ada.id, "client", "revoker", Some(writer_role));

    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    // In use before the race: on SQLite the cache now holds every token.
    for t in seeded.iter().chain([&writer]) {
        let res = client
            .get(app.url("/api/v1/me"))
            .bearer_auth(&t.token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
    }
    let owner = app.visitor();
    owner.login_ok("ada").await;
    let admin = app.visitor();
    admin.login_ok("root").await;

    let race = Arc::new(Race {
        origin: app.address.clone(),
        client,
        secrets: seeded.iter().map(|t| t.token.clone()).collect(),
        ids: seeded.iter().map(|t| t.id).collect(),
        issued: AtomicUsize::new(0),
        answered: AtomicUsize::new(0),
        hot: Mutex::new(Default::default()),
        revocations: Mutex::new(HashMap::new()),
        revoke_problems: Mutex::new(Vec::new()),
    });
    let loads: Vec<_> = (0..CLIENTS)
        .map(|i| actix_web::rt::spawn(load(race.clone(), i as u64)))
        .collect();
    let revokers = [
        actix_web::rt::spawn(revoke_by_profile(race.clone(), owner)),
        actix_web::rt::spawn(revoke_by_api(race.clone(), writer.token.clone())),
        actix_web::rt::spawn(revoke_in_bulk(race.clone(), admin)),
        actix_web::rt::spawn(revoke_by_value(race.clone())),
        actix_web::rt::spawn(sign_out(race.clone())),
    ];
    let mut uses = Vec::new();
    for task in loads {
        uses.extend(task.await.expect("a load task"));
    }
    for task in revokers {
        task.await.expect("a revoker");
    }
    let load_done = Instant::now();

    // Every revoking request did what it should.
    let problems = race.revoke_problems.lock().unwrap().clone();
    assert!(problems.is_empty(), "revoke requests failed: {problems:#?}");
    let revocations = race.revocations.lock().unwrap().clone();
    let revoked_tokens = BY_PROFILE.chain(BY_API).chain(BY_BULK);
    assert_eq!(
        revocations.len(),
        revoked_tokens.clone().count() + BY_VALUE.len() + BY_SIGN_OUT.len()
    );

    // Every load request got an answer: 200, or 401 for a token being revoked.
    assert_eq!(uses.len(), REQUESTS);
    let mut by_status: BTreeMap<String, usize> = BTreeMap::new();
    let mut violations = Vec::new();
    let mut early_refusals = Vec::new();
    let mut locked = 0;
    let (mut raced, mut refused_after) = (0, 0);
    let mut tried_after = std::collections::HashSet::new();
    for u in &uses {
        let key = match &u.status {
            Ok(code) => code.to_string(),
            Err(err) => format!("no answer ({err})"),
        };
        *by_status.entry(key).or_default() += 1;
        if u.body.contains("database is locked") {
            locked += 1;
        }
        let Some(rev) = revocations.get(&u.token) else {
            continue;
        };
        if u.sent > rev.confirmed {
            refused_after += 1;
            tried_after.insert(u.token);
            if u.status == Ok(200) {
                violations.push(format!(
                    "token {} accepted {:?} after its revocation was confirmed",
                    u.token,
                    u.sent - rev.confirmed
                ));
            }
        } else if u.answered > rev.asked {
            raced += 1;
        }
        if u.status == Ok(401) && u.answered < rev.asked {
            early_refusals.push(u.token);
        }
    }
    eprintln!(
        "{REQUESTS} requests in {:.2?} (whole test {:.2?}) on {}: {by_status:?}; \
         {raced} overlapped their token's revocation, {refused_after} came after it \
         (for {} of {} revoked tokens)",
        load_done - started,
        started.elapsed(),
        if common::on_postgres() {
            "PostgreSQL"
        } else {
            "SQLite"
        },
        tried_after.len(),
        revocations.len(),
    );
    assert!(
        violations.is_empty(),
        "{} violations: {violations:#?}",
        violations.len()
    );
    assert_eq!(locked, 0, "\"database is locked\" in {locked} answers");
    assert!(
        by_status.keys().all(|k| k == "200" || k == "401"),
        "only 200 and 401 (no 5xx, no 429, no lost request): {by_status:?}"
    );
    assert!(
        early_refusals.is_empty(),
        "refused before anyone asked to revoke them: {early_refusals:?}"
    );
    let kept_refused = uses
        .iter()
        .filter(|u| KEPT.contains(&u.token) && u.status != Ok(200))
        .count();
    assert_eq!(kept_refused, 0, "tokens nobody revoked were refused");
    assert!(refused_after > 0, "the load used revoked tokens afterwards");

    // Afterwards: the database says what the answers said, and every revoked
    // token stays refused while the others keep working.
    for i in 0..TOKENS {
        let revoked = revocations.contains_key(&i);
        assert_eq!(
            app.is_revoked(race.ids[i]),
            revoked,
            "token {i} in the database"
        );
        let expected = if revoked {
            StatusCode::UNAUTHORIZED
        } else {
            StatusCode::OK
        };
        assert_eq!(
            app.api_me(&race.secrets[i]).await.status(),
            expected,
            "token {i}"
        );
    }
    assert_eq!(
        app.audit("token_revoked").len(),
        revoked_tokens.count(),
        "one audit row per revocation"
    );
    assert_eq!(app.audit("token_revoked_by_value").len(), BY_VALUE.len());
    assert_eq!(app.audit("mobile_logout").len(), BY_SIGN_OUT.len());
    assert_eq!(app.api_me(&writer.token).await.status(), StatusCode::OK);
}

// ---------------------------------------------------------------------------
// 2. Several instances, one PostgreSQL database
// ---------------------------------------------------------------------------

#[actix_web::test]
async fn several_instances_share_one_postgres() {
    if !common::on_postgres() {
        eprintln!("skipped several_instances_share_one_postgres: needs TEST_DATABASE_URL");
        return;
    }
    let started = Instant::now();
    // Declared first, dropped last: the instances stop before their schema goes.
    let db = common::fresh_database();

    // Both start at once on an empty database, as a fresh deployment would:
    // migrations and the shared cookie key must cope with that.
    let args = ["--log-format", "json", "--cookie-secure", "false"];
    let (a, b) = (
        Server::spawn(&db.url, &args, &[]),
        Server::spawn(&db.url, &args, &[]),
    );
    let (a, b) = (a.listening(), b.listening());
    assert_ne!(a.address, b.address);
    process::create_admin(&db.url, "root", PASSWORD, &[]);

    // Signed in on A, the same cookie is a session on B.
    let jar = Arc::new(reqwest::cookie::Jar::default());
    let browser = reqwest::Client::builder()
        .cookie_provider(jar.clone())
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let (on_a, on_b) = (a.visitor(&browser), b.visitor(&browser));
    on_a.login_ok("root").await;
    let cookie = {
        use reqwest::cookie::CookieStore as _;
        let header = jar
            .cookies(&a.address.parse().unwrap())
            .expect("a session cookie from A");
        header.to_str().unwrap().to_owned()
    };
    assert!(cookie.contains("tessera_session="), "{cookie}");
    let res = bare_client()
        .get(b.url("/profile"))
        .header(reqwest::header::COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK, "A's session works on B");
    let profile = res.text().await.unwrap();
    assert!(profile.contains("<dd>root</dd>"), "B knows who signed in");

    // Tokens made on A work on B.
    let (ops_id, ops) = on_a
        .new_access_token("ops", &["tokens:read", "tokens:write", "devices:read"])
        .await;
    let mut made = Vec::new();
    for i in 0..5 {
        let res = browser
            .post(a.url("/api/v1/tokens"))
            .bearer_auth(&ops)
            .json(&serde_json::json!({
                "name": format!("job {i}"),
                "scopes": ["devices:read"],
                "expires_in_days": 30,
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::CREATED);
        let issued: serde_json::Value = res.json().await.unwrap();
        made.push((
            issued["id"].as_i64().unwrap(),
            issued["token"].as_str().unwrap().to_owned(),
        ));
    }
    for (_, token) in made.iter().chain([&(ops_id, ops.clone())]) {
        assert_eq!(b.me(token).await, StatusCode::OK, "made on A, used on B");
        assert_eq!(a.me(token).await, StatusCode::OK);
    }

    // Revoked on A (profile page): refused on B at its very next request.
    let (one_id, one) = &made[0];
    let res = on_a.token_action(*one_id, "revoke").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        b.me(one).await,
        StatusCode::UNAUTHORIZED,
        "revoked on A, refused on B"
    );

    // Bulk revoke on B (A's session, B's confirmation form): refused on A.
    let bulk: Vec<&(i64, String)> = made[1..4].iter().collect();
    let mut fields: Vec<(&str, String)> =
        bulk.iter().map(|(id, _)| ("ids", id.to_string())).collect();
    let csrf = csrf_in(&on_b.get_html("/admin/tokens").await);
    fields.push(("csrf_token", csrf));
    let form: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let confirm = on_b.post_form("/admin/tokens/bulk-revoke", &form).await;
    assert_eq!(confirm.status(), StatusCode::OK);
    assert_eq!(
        text_of(&confirm.text().await.unwrap(), "h1").as_deref(),
        Some("Revoke 3 tokens?")
    );
    let res = on_b
        .post_form("/admin/tokens/bulk-revoke/confirm", &form)
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    for (_, token) in &bulk {
        assert_eq!(
            a.me(token).await,
            StatusCode::UNAUTHORIZED,
            "bulk revoked on B, refused on A"
        );
    }
    // What nobody revoked still works on both.
    let (_, spare) = &made[4];
    assert_eq!(a.me(spare).await, StatusCode::OK);
    assert_eq!(b.me(spare).await, StatusCode::OK);

    // Mobile sign-in on A, used on B, signed out on B: refused on A.
    let res = bare_client()
        .post(a.url("/api/v1/sessions"))
        .json(&serde_json::json!({
            "username": "root",
            "password": PASSWORD,
            "device_name": "Pixel 9",
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let mobile = res.json::<serde_json::Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let me = bare_client()
        .get(b.url("/api/v1/me"))
        .bearer_auth(&mobile)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::OK);
    assert_eq!(
        me.json::<serde_json::Value>().await.unwrap()["kind"],
        "session"
    );
    let res = bare_client()
        .delete(b.url("/api/v1/sessions/current"))
        .bearer_auth(&mobile)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        a.me(&mobile).await,
        StatusCode::UNAUTHORIZED,
        "signed out on B, refused on A"
    );

    // Signed out on B: the session is over on A too.
    let res = on_b.logout().await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let res = bare_client()
        .get(a.url("/profile"))
        .header(reqwest::header::COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::SEE_OTHER,
        "signed out on B, not signed in on A"
    );
    assert!(common::location(res.headers()).starts_with("/login"));
    eprintln!(
        "two instances on one PostgreSQL database: {:.2?}",
        started.elapsed()
    );
    drop((a, b));
    drop(db);
}

// ---------------------------------------------------------------------------
// 3. Live token names, checked by the database
// ---------------------------------------------------------------------------

/// A user to own tokens, straight through the db layer.
fn owner(conn: &mut tessera::db::DbConn, username: &str) -> i64 {
    let now = tessera::db::now();
    tessera::db::users::create(
        conn,
        &tessera::db::users::NewUser {
            username,
            email: &format!("{username}@example.com"),
            display_name: username,
            password_hash: "",
            is_admin: false,
            status: tessera::db::users::STATUS_ACTIVE,
            created_at: now,
            updated_at: now,
        },
    )
    .expect("create user")
    .id
}

/// Inserts tokens of `owner` in ONE statement: (kind, name, revoked).
fn insert_tokens(
    conn: &mut tessera::db::DbConn,
    owner: i64,
    rows: &[(&str, &str, bool)],
) -> diesel::QueryResult<usize> {
    use diesel::prelude::*;
    use tessera::db::schema::tokens::dsl as t;
    use tessera::domain::token::{PlainToken, TokenKind};
    let now = tessera::db::now();
    let values: Vec<_> = rows
        .iter()
        .map(|&(kind, name, revoked)| {
            let secret = PlainToken::generate("tsr", TokenKind::parse(kind).unwrap());
            (
                t::kind.eq(kind),
                t::name.eq(name),
                t::name_key.eq(tessera::domain::policy::token_name_key(name)),
                t::owner_id.eq(owner),
                t::display_prefix.eq(secret.display_prefix()),
                t::sha256.eq(secret.sha256().to_vec()),
                t::created_at.eq(now),
                t::updated_at.eq(now),
                t::revoked_at.eq(revoked.then_some(now)),
            )
        })
        .collect();
    let insert = diesel::insert_into(t::tokens).values(&values);
    match conn {
        tessera::db::DbConn::Pg(pg) => insert.execute(pg),
        tessera::db::DbConn::Sqlite(sqlite) => insert.execute(sqlite),
    }
}

fn live_named(conn: &mut tessera::db::DbConn, owner: i64, name_key: &str) -> i64 {
    common::scalar(
        conn,
        &format!(
            "SELECT COUNT(*) FROM tokens WHERE owner_id = {owner} AND name_key = '{name_key}' \
             AND revoked_at IS NULL"
        ),
    )
}

/// One statement of many rows (a seed's batch, a COPY) is checked as a whole:
/// two live rows of one name in it clash with each other, a row clashes with
/// a live one already there, and nothing of a refused statement stays.
/// Revoked rows, mobile sessions and other kinds or owners never clash.
#[test]
fn live_names_are_checked_for_a_whole_statement() {
    let db = common::fresh_database();
    let mut conn = db.connect();
    let (ada, bob) = (owner(&mut conn, "ada"), owner(&mut conn, "bob"));
    let refused = |result: diesel::QueryResult<usize>| match result {
        Err(err) => assert!(tessera::db::is_unique_violation(&err), "{err}"),
        Ok(n) => panic!("{n} rows inserted"),
    };

    refused(insert_tokens(
        &mut conn,
        ada,
        &[("personal", "Deploy", false), ("personal", "DEPLOY", false)],
    ));
    assert_eq!(live_named(&mut conn, ada, "deploy"), 0);

    let fine = [
        ("personal", "Deploy", false),
        ("personal", "deploy", true),
        ("client", "deploy", false),
        ("session", "Pixel 9", false),
        ("session", "Pixel 9", false),
    ];
    assert_eq!(insert_tokens(&mut conn, ada, &fine).unwrap(), fine.len());
    assert_eq!(
        insert_tokens(&mut conn, bob, &[("personal", "deploy", false)]).unwrap(),
        1
    );

    refused(insert_tokens(
        &mut conn,
        ada,
        &[
            ("personal", "Backup", false),
            ("personal", "deploy ", false),
        ],
    ));
    assert_eq!(live_named(&mut conn, ada, "backup"), 0, "all or nothing");
    refused(insert_tokens(
        &mut conn,
        ada,
        &[("client", "DEPLOY", false)],
    ));
    assert_eq!(
        insert_tokens(&mut conn, ada, &[("personal", "deploy", true)]).unwrap(),
        1,
        "a revoked row takes no name"
    );
    assert_eq!(
        live_named(&mut conn, ada, "deploy"),
        2,
        "one personal, one client"
    );
}

/// Two creators of one name for one owner, the second waiting for the first
/// (on PostgreSQL for the owner's row lock the check takes, on SQLite for the
/// write lock): once the first commits, the second sees its row and is refused.
#[test]
fn a_creator_that_waits_for_another_sees_its_name() {
    let db = common::fresh_database();
    let mut first = db.connect();
    let ada = owner(&mut first, "ada");
    let mut second = db.connect();
    let second_pid = match common::on_postgres() {
        true => common::scalar(&mut second, "SELECT pg_backend_pid()::BIGINT"),
        false => 0,
    };
    let (started, waiting) = std::sync::mpsc::channel();
    let result = tessera::db::transaction(&mut first, |first| -> diesel::QueryResult<_> {
        insert_tokens(first, ada, &[("personal", "Deploy", false)])?;
        let other = std::thread::spawn(move || {
            started.send(()).unwrap();
            insert_tokens(&mut second, ada, &[("personal", "deploy", false)])
        });
        waiting.recv().unwrap();
        if common::on_postgres() {
            // Commit only once the other statement waits for a lock (our
            // owner's row), so that the test proves the wait, not a race.
            let mut watcher = db.connect();
            let deadline = Instant::now() + Duration::from_secs(20);
            while common::scalar(
                &mut watcher,
                &format!(
                    "SELECT COUNT(*) FROM pg_stat_activity \
                     WHERE pid = {second_pid} AND wait_event_type = 'Lock'"
                ),
            ) == 0
            {
                assert!(Instant::now() < deadline, "the second creator never waited");
                std::thread::sleep(Duration::from_millis(20));
            }
        } else {
            // SQLite: the other connection waits in its busy timeout, however
            // long this takes; this only gives it time to get there.
            std::thread::sleep(Duration::from_millis(200));
        }
        Ok(other)
    });
    let other = result.expect("the first creation commits");
    match other.join().unwrap() {
        Err(err) => assert!(tessera::db::is_unique_violation(&err), "{err}"),
        Ok(n) => panic!("the second creator inserted {n} rows"),
    }
    assert_eq!(live_named(&mut first, ada, "deploy"), 1);
}

/// On PostgreSQL an insert's own foreign-key check takes FOR KEY SHARE on the
/// owner's row before the name check locks it. Two creators that both hold
/// that share (taken here on purpose, before either inserts) must still take
/// turns, not deadlock: one creates, the other gets the name error.
#[test]
fn creators_that_already_reference_the_owner_do_not_deadlock() {
    use diesel::Connection as _;
    use diesel::connection::SimpleConnection as _;
    if !common::on_postgres() {
        eprintln!(
            "skipped creators_that_already_reference_the_owner_do_not_deadlock: row locks are PostgreSQL's"
        );
        return;
    }
    let db = Arc::new(common::fresh_database());
    let ada = owner(&mut db.connect(), "ada");
    let both_share = Arc::new(std::sync::Barrier::new(2));
    let creators: Vec<_> = ["Deploy", "DEPLOY"]
        .into_iter()
        .map(|name| {
            let (db, both_share) = (db.clone(), both_share.clone());
            std::thread::spawn(move || {
                let mut conn = db.connect();
                conn.transaction(|conn| {
                    conn.batch_execute(&format!(
                        "SELECT 1 FROM users WHERE id = {ada} FOR KEY SHARE"
                    ))?;
                    both_share.wait();
                    insert_tokens(conn, ada, &[("personal", name, false)])
                })
            })
        })
        .collect();
    let results: Vec<_> = creators.into_iter().map(|c| c.join().unwrap()).collect();
    let created = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(created, 1, "{results:?}");
    for result in &results {
        if let Err(err) = result {
            assert!(tessera::db::is_unique_violation(err), "{err}");
        }
    }
    assert_eq!(live_named(&mut db.connect(), ada, "deploy"), 1);
}
