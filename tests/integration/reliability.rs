//! Reliability: a revocation, and every other change that takes something from
//! a token (its owner disabled, a membership removed, a user type narrowed, a
//! scope retired), is final the moment its response arrives, under concurrent
//! use: on one instance (SQLite or PostgreSQL; each keeps validated tokens in
//! memory) and across two `tessera serve` processes on one PostgreSQL database,
//! which behave as one deployment.

use crate::common;
use crate::process;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{
    PASSWORD, Seeded, Visitor, bare_client, create_user_on, csrf_in, insert_token_on, scalar,
    text_of,
};
use diesel::prelude::*;
use process::Server;
use rand::{Rng as _, SeedableRng as _};
use reqwest::StatusCode;
use tessera::db::{DbConn, DbPool};

// ---------------------------------------------------------------------------
// 1. Revocation races
// ---------------------------------------------------------------------------

/// Tokens in play, and what happens to them (indexes into one list).
const TOKENS: usize = 250;
/// Never touched: must answer 200, with the same scopes, every time.
const KEPT: Range<usize> = 0..40;
/// Revoked one by one by their owner on the profile page.
const BY_PROFILE: Range<usize> = 40..60;
/// Revoked one by one through `DELETE /api/v1/tokens/{id}`.
const BY_API: Range<usize> = 60..75;
/// Revoked one by one by value (`POST /api/v1/revoke`), as a leaked token is.
const BY_VALUE: Range<usize> = 75..90;
/// Mobile sessions that sign themselves out (`DELETE /api/v1/sessions/current`).
const BY_SIGN_OUT: Range<usize> = 90..100;
/// Revoked by the administrator, in groups of `GROUP`.
const BY_BULK: Range<usize> = 100..160;
const GROUP: usize = 20;
/// The four ways below take `PER_CHANGE` consecutive tokens at each change.
const PER_CHANGE: usize = 5;
/// Tokens of people the administrator disables one by one (personal, mobile
/// sessions, api and client tokens): refused afterwards.
const OWNER_DISABLED: Range<usize> = 160..180;
/// Tokens of people who lose their one membership (user type `Member`, which
/// grants `devices:read`) one by one: they keep working, without its scopes.
const MEMBERSHIP_REMOVED: Range<usize> = 180..200;
/// api and client tokens of user types that lose `users:read`, one by one.
const TYPE_NARROWED: Range<usize> = 200..220;
/// Personal tokens holding one of the catalog scopes retired one by one.
const SCOPE_RETIRED: Range<usize> = 220..240;
/// api and client tokens acting with `Member` in a membership nobody removes,
/// favoured by the load while the policy is changed (which must not matter).
const KEPT_TIED: Range<usize> = 240..250;
/// Each change waits for so many answered load requests out of `SCHEDULE`
/// (in proportion to the race's real total).
const SCHEDULE: usize = 4_000;
/// `GET /api/v1/me` requests in total on one instance, and how many tasks send
/// them.
const REQUESTS: usize = 3_000;
const CLIENTS: usize = 32;
/// Tokens favoured by the load: one slot per task that changes something.
const SLOTS: usize = 10;

/// One `GET /api/v1/me`.
struct Use {
    token: usize,
    /// Which of `Race::load` it went to.
    origin: usize,
    /// Taken just before the request was handed to the client.
    sent: Instant,
    answered: Instant,
    answer: Answer,
}

/// What `GET /api/v1/me` answered.
struct Answer {
    /// `Err` when no HTTP answer came at all.
    status: Result<u16, String>,
    body: String,
}

impl Answer {
    async fn of(request: reqwest::RequestBuilder) -> Answer {
        match request.send().await {
            Ok(res) => {
                let status = res.status().as_u16();
                match res.text().await {
                    Ok(body) => Answer {
                        status: Ok(status),
                        body,
                    },
                    Err(err) => Answer {
                        status: Err(format!("body: {err}")),
                        body: String::new(),
                    },
                }
            }
            Err(err) => {
                // With its causes: "error sending request" alone says little.
                let mut text = err.to_string();
                let mut source = std::error::Error::source(&err);
                while let Some(cause) = source {
                    text = format!("{text}: {cause}");
                    source = cause.source();
                }
                Answer {
                    status: Err(text),
                    body: String::new(),
                }
            }
        }
    }

    /// The scopes of a 200 answer.
    fn scopes(&self) -> Vec<String> {
        serde_json::from_str::<serde_json::Value>(&self.body)
            .ok()
            .and_then(|me| serde_json::from_value(me["scopes"].clone()).ok())
            .unwrap_or_default()
    }

    /// 200 with exactly these scopes.
    fn grants_exactly(&self, scopes: &[String]) -> bool {
        self.status == Ok(200) && self.scopes() == scopes
    }
}

/// What a token loses at a change.
#[derive(Clone, Debug, PartialEq)]
enum Lost {
    /// It is refused (revoked, signed out, its owner disabled).
    Everything,
    /// It keeps working without this scope.
    Scope(String),
}

impl Lost {
    /// Whether an answer to `GET /api/v1/me` still grants what was lost.
    fn granted_by(&self, answer: &Answer) -> bool {
        match self {
            Lost::Everything => answer.status == Ok(200),
            Lost::Scope(scope) => answer.status == Ok(200) && answer.scopes().contains(scope),
        }
    }
}

/// When a token's change was asked for and when its response arrived.
#[derive(Clone)]
struct Loss {
    lost: Lost,
    asked: Instant,
    confirmed: Instant,
}

/// What every task shares.
struct Race {
    /// Where the changes go.
    origin: String,
    /// Where the load goes, one origin after the other.
    load: Vec<String>,
    /// How many load requests in all.
    requests: usize,
    client: reqwest::Client,
    secrets: Vec<String>,
    ids: Vec<i64>,
    /// Requests handed out / answered so far.
    issued: AtomicUsize,
    answered: AtomicUsize,
    /// Tokens a changing task is working on now (one slot per task): half of
    /// the load goes to them, so that many requests race each change.
    hot: Mutex<[Vec<usize>; SLOTS]>,
    losses: Mutex<HashMap<usize, Loss>>,
    /// Statuses and bodies of the changing requests that were not what we expected.
    revoke_problems: Mutex<Vec<String>>,
}

impl Race {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.origin)
    }

    /// Waits until `n` load requests of `SCHEDULE` (in proportion) have been
    /// answered, or all of them are.
    async fn progress(&self, n: usize) {
        let n = n.min(SCHEDULE) * self.requests / SCHEDULE;
        while self.answered.load(Ordering::SeqCst) < n {
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

    /// Notes that `tokens` lost `lost` by a change asked for at `asked`, whose
    /// response arrived at `confirmed`.
    fn lost(&self, tokens: &[usize], lost: &Lost, asked: Instant, confirmed: Instant) {
        let mut all = self.losses.lock().unwrap();
        for &t in tokens {
            let loss = Loss {
                lost: lost.clone(),
                asked,
                confirmed,
            };
            assert!(all.insert(t, loss).is_none(), "token {t} changed twice");
        }
    }

    fn revoked(&self, tokens: &[usize], asked: Instant, confirmed: Instant) {
        self.lost(tokens, &Lost::Everything, asked, confirmed);
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
async fn send_load(race: Arc<Race>, seed: u64) -> Vec<Use> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut uses = Vec::new();
    loop {
        let n = race.issued.fetch_add(1, Ordering::SeqCst);
        if n >= race.requests {
            break;
        }
        let token = race.pick(&mut rng);
        let origin = n % race.load.len();
        let request = race
            .client
            .get(format!("{}/api/v1/me", race.load[origin]))
            .bearer_auth(&race.secrets[token]);
        let sent = Instant::now();
        let answer = Answer::of(request).await;
        let answered = Instant::now();
        race.answered.fetch_add(1, Ordering::SeqCst);
        uses.push(Use {
            token,
            origin,
            sent,
            answered,
            answer,
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
            || text_of(&page, "h1").as_deref() != Some(&*format!("Delete {GROUP} tokens?"))
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

/// One change an administrator makes with a form.
struct Change {
    /// Made once this many load requests have been answered.
    at: usize,
    path: String,
    fields: Vec<(String, String)>,
    /// The tokens it takes something from, or (`lost: None`) the ones it must
    /// leave alone; the load favours them meanwhile.
    tokens: Vec<usize>,
    lost: Option<Lost>,
}

/// An administrator makes `changes` (of one kind, `what`) one by one, each
/// answered with a redirect.
async fn change_as_admin(
    race: Arc<Race>,
    admin: Visitor,
    slot: usize,
    what: &'static str,
    changes: Vec<Change>,
) {
    let csrf = csrf_in(&admin.get_html("/profile").await);
    for change in changes {
        race.progress(change.at).await;
        race.set_hot(slot, change.tokens.clone());
        let mut form: Vec<(&str, &str)> = change
            .fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        form.push(("csrf_token", &csrf));
        let asked = Instant::now();
        let res = admin.post_form(&change.path, &form).await;
        if let Some(lost) = &change.lost {
            race.lost(&change.tokens, lost, asked, Instant::now());
        }
        race.check_answer(what, res, StatusCode::SEE_OTHER).await;
    }
}

/// What the race starts from, written straight into the database.
struct Arranged {
    secrets: Vec<String>,
    ids: Vec<i64>,
    /// What each token will lose (`None`: nothing).
    plan: Vec<Option<Lost>>,
    /// ada's client with `tokens:write`, which revokes `BY_API`.
    writer: String,
    /// The administrator's changes of the four other ways, by kind.
    changes: Vec<(&'static str, Vec<Change>)>,
}

/// The tokens of the race so far, and what each will lose.
#[derive(Default)]
struct Seeder {
    tokens: Vec<Seeded>,
    plan: Vec<Option<Lost>>,
}

impl Seeder {
    /// Tokens of `owner`, one per kind (api and client ones acting with the
    /// department and user type `tied`); their indexes.
    fn seed(
        &mut self,
        conn: &mut DbConn,
        owner: i64,
        kinds: &[&str],
        tied: (i64, i64),
        lost: Option<&Lost>,
    ) -> Vec<usize> {
        let first = self.tokens.len();
        for kind in kinds {
            let tied = matches!(*kind, "api" | "client").then_some(tied);
            let name = format!("t{:03}", self.tokens.len());
            self.tokens
                .push(insert_token_on(conn, owner, kind, &name, tied));
            self.plan.push(lost.cloned());
        }
        (first..self.tokens.len()).collect()
    }
}

/// The people, catalog and tokens of the race: ada owns `KEPT` to `BY_BULK`;
/// each of the other ways has people of its own.
fn arrange(conn: &mut DbConn) -> Arranged {
    use tessera::db::schema::tokens::dsl as t;
    use tessera::db::{departments, memberships, scopes, user_types};
    create_user_on(conn, "root", true);
    let ada = create_user_on(conn, "ada", false);
    let dept = departments::create(conn, "Race", "").unwrap();
    let writer_type =
        user_types::create(conn, "Writer", "", "devices:read tokens:read tokens:write").unwrap();
    memberships::add(conn, ada.id, dept, writer_type).unwrap();
    let member = user_types::create(conn, "Member", "", "devices:read devices:write").unwrap();
    let mut seeder = Seeder::default();
    for i in 0..BY_BULK.end {
        let kind = if BY_SIGN_OUT.contains(&i) {
            "session"
        } else {
            "personal"
        };
        let lost = (!KEPT.contains(&i)).then_some(Lost::Everything);
        seeder.seed(conn, ada.id, &[kind], (dept, writer_type), lost.as_ref());
    }
    let writer = insert_token_on(conn, ada.id, "client", "revoker", Some((dept, writer_type)));
    let mut changes: Vec<(&'static str, Vec<Change>)> = Vec::new();
    let ways = OWNER_DISABLED.len() / PER_CHANGE;

    let mut disabled = Vec::new();
    for k in 0..ways {
        let user = create_user_on(conn, &format!("off{k}"), false);
        memberships::add(conn, user.id, dept, member).unwrap();
        let kinds = ["personal", "personal", "session", "api", "client"];
        let lost = Some(Lost::Everything);
        disabled.push(Change {
            at: 450 + k * 800,
            path: format!("/admin/users/{}/disable", user.id),
            fields: Vec::new(),
            tokens: seeder.seed(conn, user.id, &kinds, (dept, member), lost.as_ref()),
            lost,
        });
    }
    changes.push(("user disabled", disabled));

    let mut removed = Vec::new();
    for k in 0..ways {
        let user = create_user_on(conn, &format!("gone{k}"), false);
        memberships::add(conn, user.id, dept, member).unwrap();
        let kinds = ["personal", "personal", "api", "api", "client"];
        let lost = Some(Lost::Scope("devices:read".into()));
        removed.push(Change {
            at: 550 + k * 750,
            path: format!("/admin/users/{}/memberships/remove", user.id),
            fields: vec![("membership".into(), format!("{dept}:{member}"))],
            tokens: seeder.seed(conn, user.id, &kinds, (dept, member), lost.as_ref()),
            lost,
        });
    }
    changes.push(("membership removed", removed));

    let mut narrowed = Vec::new();
    for k in 0..ways {
        let name = format!("Narrow {k}");
        let user_type = user_types::create(conn, &name, "", "devices:read users:read").unwrap();
        let user = create_user_on(conn, &format!("narrow{k}"), false);
        memberships::add(conn, user.id, dept, user_type).unwrap();
        let kinds = ["api", "api", "api", "client", "client"];
        let lost = Some(Lost::Scope("users:read".into()));
        narrowed.push(Change {
            at: 600 + k * 800,
            path: format!("/admin/user-types/{user_type}"),
            fields: vec![
                ("name".into(), name),
                ("description".into(), String::new()),
                ("scopes".into(), "devices:read".into()),
            ],
            tokens: seeder.seed(conn, user.id, &kinds, (dept, user_type), lost.as_ref()),
            lost,
        });
    }
    changes.push(("user type narrowed", narrowed));

    // The racer's user type grants every one of these scopes; each personal
    // token holds one.
    let names: Vec<String> = (0..ways).map(|k| format!("race{k}:use")).collect();
    let racer_type = user_types::create(conn, "Racer", "", &names.join(" ")).unwrap();
    let racer = create_user_on(conn, "racer", false);
    memberships::add(conn, racer.id, dept, racer_type).unwrap();
    let mut retired = Vec::new();
    for (k, name) in names.iter().enumerate() {
        let scope = scopes::create(conn, name, "Race", "").unwrap();
        let lost = Some(Lost::Scope(name.clone()));
        let kinds = ["personal"; PER_CHANGE];
        let tokens = seeder.seed(conn, racer.id, &kinds, (dept, racer_type), lost.as_ref());
        for &i in &tokens {
            diesel::update(t::tokens.find(seeder.tokens[i].id))
                .set(t::scopes.eq(name))
                .execute(conn)
                .unwrap();
        }
        retired.push(Change {
            at: 650 + k * 700,
            path: format!("/admin/scopes/{scope}/retire"),
            fields: Vec::new(),
            tokens,
            lost,
        });
    }
    changes.push(("scope retired", retired));

    let kay = create_user_on(conn, "kay", false);
    memberships::add(conn, kay.id, dept, member).unwrap();
    let kinds = ["api", "client"].repeat(KEPT_TIED.len() / 2);
    seeder.seed(conn, kay.id, &kinds, (dept, member), None);

    assert_eq!(seeder.tokens.len(), TOKENS);
    for (range, first) in [
        (OWNER_DISABLED, "off0"),
        (MEMBERSHIP_REMOVED, "gone0"),
        (TYPE_NARROWED, "narrow0"),
        (SCOPE_RETIRED, "racer"),
        (KEPT_TIED, "kay"),
    ] {
        let owner: i64 = t::tokens
            .find(seeder.tokens[range.start].id)
            .select(t::owner_id)
            .first(conn)
            .unwrap();
        let name = tessera::db::users::find(conn, owner).unwrap().username;
        assert_eq!(name, first, "the ranges match the arrangement");
    }
    Arranged {
        secrets: seeder.tokens.iter().map(|t| t.token.clone()).collect(),
        ids: seeder.tokens.iter().map(|t| t.id).collect(),
        plan: seeder.plan,
        writer: writer.token,
        changes,
    }
}

/// Toggles the policy's token-creation switch off and on during the load: a
/// change that moves the validity epoch but takes nothing from any token.
async fn toggle_token_creation(race: Arc<Race>, admin: Visitor) {
    admin.step_up().await;
    let page = admin.get_html("/admin/settings").await;
    let policy: Vec<(String, String)> = common::form_fields(&page, "/admin/settings")
        .into_iter()
        .filter(|(name, _)| name != "token_creation_enabled" && name != "csrf_token")
        .collect();
    assert!(policy.len() >= 5, "the policy form: {policy:?}");
    let changes = (0..4)
        .map(|k| {
            let mut fields = policy.clone();
            if k % 2 == 1 {
                fields.push(("token_creation_enabled".into(), "on".into()));
            }
            Change {
                at: 400 + k * 900,
                path: "/admin/settings".into(),
                fields,
                tokens: KEPT_TIED.chain(0..10).collect(),
                lost: None,
            }
        })
        .collect();
    change_as_admin(race, admin, 9, "policy changed", changes).await;
}

/// A visitor of `origin` signed in as `username`.
async fn signed_in(origin: &str, username: &str) -> Visitor {
    let visitor = Visitor {
        address: origin.to_owned(),
        client: common::new_client(),
    };
    visitor.login_ok(username).await;
    visitor
}

/// The race: arranges it in `pool`'s database, sends every change to `origin`
/// and `requests` to `load` in turn, checks every answer and what is left; how
/// long it took.
async fn race_every_way(pool: &DbPool, origin: &str, load: &[String], requests: usize) -> String {
    let started = Instant::now();
    let arranged = pool
        .get()
        .unwrap()
        .transaction(|conn| diesel::QueryResult::Ok(arrange(conn)))
        .unwrap();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        // Below the servers' keep-alive (5 s): a connection they are closing
        // is never reused.
        .pool_idle_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let origins: BTreeSet<String> = load.iter().cloned().chain([origin.to_owned()]).collect();
    // In use before the race, on every instance: on SQLite the cache now holds
    // every token.
    let mut initial = Vec::new();
    for (i, answers) in everyones_me(&client, &arranged.secrets, &origins)
        .await
        .into_iter()
        .enumerate()
    {
        let seen: BTreeSet<Vec<String>> = answers.iter().map(Answer::scopes).collect();
        for answer in &answers {
            assert_eq!(answer.status, Ok(200), "token {i}: {}", answer.body);
        }
        assert_eq!(seen.len(), 1, "token {i}: every instance agrees");
        let scopes = seen.into_iter().next().unwrap();
        if let Some(Lost::Scope(scope)) = &arranged.plan[i] {
            assert!(scopes.contains(scope), "token {i} has {scope}: {scopes:?}");
        }
        initial.push(scopes);
    }
    let owner = signed_in(origin, "ada").await;
    let mut admins = Vec::new();
    for _ in 0..arranged.changes.len() + 2 {
        admins.push(signed_in(origin, "root").await);
    }

    let race = Arc::new(Race {
        origin: origin.to_owned(),
        load: load.to_vec(),
        requests,
        client,
        secrets: arranged.secrets,
        ids: arranged.ids,
        issued: AtomicUsize::new(0),
        answered: AtomicUsize::new(0),
        hot: Mutex::new(Default::default()),
        losses: Mutex::new(HashMap::new()),
        revoke_problems: Mutex::new(Vec::new()),
    });
    let arranged_at = Instant::now();
    let loads: Vec<_> = (0..CLIENTS)
        .map(|i| actix_web::rt::spawn(send_load(race.clone(), i as u64)))
        .collect();
    let mut changers = vec![
        actix_web::rt::spawn(revoke_by_profile(race.clone(), owner)),
        actix_web::rt::spawn(revoke_by_api(race.clone(), arranged.writer.clone())),
        actix_web::rt::spawn(revoke_in_bulk(race.clone(), admins.pop().unwrap())),
        actix_web::rt::spawn(revoke_by_value(race.clone())),
        actix_web::rt::spawn(sign_out(race.clone())),
        actix_web::rt::spawn(toggle_token_creation(race.clone(), admins.pop().unwrap())),
    ];
    for (slot, (what, changes)) in (5..).zip(arranged.changes) {
        let admin = admins.pop().unwrap();
        let changer = change_as_admin(race.clone(), admin, slot, what, changes);
        changers.push(actix_web::rt::spawn(changer));
    }
    let mut uses = Vec::new();
    for task in loads {
        uses.extend(task.await.expect("a load task"));
    }
    for task in changers {
        task.await.expect("a changing task");
    }
    let load_time = arranged_at.elapsed();
    judge(&race, &uses, &arranged.plan, &initial);
    check_outcome(&race, pool, &initial, &origins).await;
    let writer = client_me(&race.client, origin, &arranged.writer).await;
    assert_eq!(writer.status, Ok(200), "the revoking client still works");
    format!(
        "{requests} requests to {} instance(s) in {load_time:.2?} (whole race {:.2?})",
        load.len(),
        started.elapsed()
    )
}

/// `GET /api/v1/me` of `origin` with `secret`.
async fn client_me(client: &reqwest::Client, origin: &str, secret: &str) -> Answer {
    let me = client.get(format!("{origin}/api/v1/me"));
    Answer::of(me.bearer_auth(secret)).await
}

/// [`client_me`] with every secret on every origin, `CLIENTS` secrets at a
/// time: the answers by secret, then origin.
async fn everyones_me(
    client: &reqwest::Client,
    secrets: &[String],
    origins: &BTreeSet<String>,
) -> Vec<Vec<Answer>> {
    use futures_util::future::join_all;
    let mut answers = Vec::new();
    for some in secrets.chunks(CLIENTS) {
        let all = some
            .iter()
            .map(|secret| join_all(origins.iter().map(|o| client_me(client, o, secret))));
        answers.extend(join_all(all).await);
    }
    answers
}

/// Checks every answer of the load against the changes (and prints what they were).
fn judge(race: &Race, uses: &[Use], plan: &[Option<Lost>], initial: &[Vec<String>]) {
    // Every changing request did what it should, and took what was planned.
    let problems = race.revoke_problems.lock().unwrap().clone();
    assert!(
        problems.is_empty(),
        "changing requests failed: {problems:#?}"
    );
    let losses = race.losses.lock().unwrap().clone();
    for (i, planned) in plan.iter().enumerate() {
        assert_eq!(
            losses.get(&i).map(|l| &l.lost),
            planned.as_ref(),
            "token {i}"
        );
    }

    // Every load request got an answer: 200, or 401 for a token losing everything.
    assert_eq!(uses.len(), race.requests);
    let mut by_status: BTreeMap<String, usize> = BTreeMap::new();
    let (mut violations, mut early, mut wrong) = (Vec::new(), Vec::new(), Vec::new());
    let mut locked = 0;
    let (mut raced, mut after) = (0, 0);
    let mut tried_after = std::collections::HashSet::new();
    for u in uses {
        let key = match &u.answer.status {
            Ok(code) => code.to_string(),
            Err(err) => format!("no answer ({err})"),
        };
        *by_status.entry(key).or_default() += 1;
        if u.answer.body.contains("database is locked") {
            locked += 1;
        }
        let Some(loss) = losses.get(&u.token) else {
            if !u.answer.grants_exactly(&initial[u.token]) {
                wrong.push(format!(
                    "untouched token {}: {:.200}",
                    u.token, u.answer.body
                ));
            }
            continue;
        };
        if u.sent > loss.confirmed {
            after += 1;
            tried_after.insert(u.token);
            if loss.lost.granted_by(&u.answer) {
                violations.push(format!(
                    "token {} still had {:?} {:?} after the change was confirmed (on {})",
                    u.token,
                    loss.lost,
                    u.sent - loss.confirmed,
                    race.load[u.origin],
                ));
            }
        } else if u.answered > loss.asked {
            raced += 1;
        }
        if u.answered < loss.asked && !u.answer.grants_exactly(&initial[u.token]) {
            early.push(u.token);
        }
        if loss.lost != Lost::Everything && u.answer.status != Ok(200) {
            wrong.push(format!("token {} refused for losing a scope", u.token));
        }
    }
    let summary = format!(
        "{by_status:?}; {raced} overlapped their token's change, {after} came after it \
         (for {} of {} changed tokens)",
        tried_after.len(),
        losses.len(),
    );
    eprintln!("answers of the race: {summary}");
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
        early.is_empty(),
        "changed before anyone asked to change them: {early:?}"
    );
    assert!(wrong.is_empty(), "{wrong:#?}");
    assert!(after > 0, "the load used changed tokens afterwards");
}

/// After the race, the database and every instance say what the answers said:
/// what was lost stays lost, everything else still works as before.
async fn check_outcome(
    race: &Race,
    pool: &DbPool,
    initial: &[Vec<String>],
    origins: &BTreeSet<String>,
) {
    use tessera::db::schema::tokens::dsl as t;
    let losses = race.losses.lock().unwrap().clone();
    let conn = &mut pool.get().unwrap();
    let revoked: BTreeSet<i64> = t::tokens
        .filter(t::revoked_at.is_not_null())
        .select(t::id)
        .load(conn)
        .unwrap()
        .into_iter()
        .collect();
    let answers = everyones_me(&race.client, &race.secrets, origins).await;
    for (i, answers) in answers.iter().enumerate() {
        let ways = [BY_PROFILE, BY_API, BY_VALUE, BY_SIGN_OUT, BY_BULK];
        let expected = ways.iter().any(|way| way.contains(&i));
        assert_eq!(
            revoked.contains(&race.ids[i]),
            expected,
            "token {i} in the database"
        );
        for (answer, origin) in answers.iter().zip(origins) {
            let right = match losses.get(&i).map(|l| &l.lost) {
                None => answer.grants_exactly(&initial[i]),
                Some(Lost::Everything) => answer.status == Ok(401),
                Some(lost) => answer.status == Ok(200) && !lost.granted_by(answer),
            };
            assert!(
                right,
                "token {i} on {origin}: {:?} {}",
                answer.status, answer.body
            );
        }
    }
    let ways = OWNER_DISABLED.len() / PER_CHANGE;
    for (action, count) in [
        (
            "token_revoked",
            BY_PROFILE.len() + BY_API.len() + BY_BULK.len(),
        ),
        ("token_revoked_by_value", BY_VALUE.len()),
        ("mobile_logout", BY_SIGN_OUT.len()),
        ("user_disabled", ways),
        ("membership_removed", ways),
        ("user_type_updated", ways),
        ("scope_retired", ways),
        ("settings_updated", 4),
    ] {
        let sql = format!("SELECT COUNT(*) FROM audit_events WHERE action = '{action}'");
        assert_eq!(
            scalar(conn, &sql),
            count as i64,
            "one audit row per {action}"
        );
    }
}

#[actix_web::test]
async fn revocation_is_final_under_concurrent_use() {
    // Refused tokens count as failed authentications; the per-address limiter
    // (its own test covers it) would otherwise turn the rest of the load into 429s.
    let app = common::spawn_app_with(|c| c.api_failures_per_minute = 1_000_000).await;
    let summary = race_every_way(
        &app.pool,
        &app.address,
        std::slice::from_ref(&app.address),
        REQUESTS,
    )
    .await;
    eprintln!("{summary} on {}", backend());
}

fn backend() -> &'static str {
    if common::on_postgres() {
        "PostgreSQL"
    } else {
        "SQLite"
    }
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
        Some("Delete 3 tokens?")
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

/// The race of `revocation_is_final_under_concurrent_use` with two `tessera
/// serve` processes on one database: every change goes to A, the load to B and
/// A in turn, and nothing sent to either after a change has answered on A is
/// accepted by either.
#[actix_web::test]
async fn a_change_on_one_instance_is_final_on_every_instance_under_concurrent_use() {
    if !common::on_postgres() {
        eprintln!(
            "skipped a_change_on_one_instance_is_final_on_every_instance_under_concurrent_use: \
             needs TEST_DATABASE_URL"
        );
        return;
    }
    // Declared first, dropped last: the instances stop before their schema goes.
    let db = common::fresh_database();
    let args: Vec<&str> = process::SMALL_SERVER
        .iter()
        .copied()
        .chain(["--api-failures-per-minute", "1000000"])
        .collect();
    let (a, b) = (
        Server::spawn(&db.url, &args, &[]),
        Server::spawn(&db.url, &args, &[]),
    );
    let (a, b) = (a.listening(), b.listening());
    let url = tessera::db::DatabaseUrl::parse(&db.url).unwrap();
    let pool = tessera::db::connect_and_migrate(&url, 2).unwrap();
    let load = [b.address.clone(), a.address.clone()];
    // Fewer requests: two debug servers share the machine with the test.
    let summary = race_every_way(&pool, &a.address, &load, REQUESTS * 2 / 3).await;
    eprintln!("{summary} on PostgreSQL");
    drop(pool);
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
            status: tessera::domain::account::UserStatus::Active.as_str(),
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
            let secret = PlainToken::generate("tsr", kind.parse::<TokenKind>().unwrap());
            (
                t::kind.eq(kind),
                t::name.eq(name),
                t::name_key.eq(tessera::domain::policy::token_name_key(name)),
                t::owner_id.eq(owner),
                t::display_prefix.eq(secret.display_prefix()),
                t::sha256.eq(secret.sha256().to_vec()),
                t::created_at.eq(now),
                t::updated_at.eq(now),
                t::issued_at.eq(now),
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
    let second_pid = if common::on_postgres() {
        common::scalar(&mut second, "SELECT pg_backend_pid()::BIGINT")
    } else {
        0
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
