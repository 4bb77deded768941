//! `tessera seed-demo`: fills a database with realistic users, departments,
//! memberships and tokens of every kind and status, for demos and benchmarks.
//! The seeded tokens' secrets are thrown away; only their hashes are stored.

use chrono::{NaiveDateTime, TimeDelta};
use diesel::connection::SimpleConnection as _;
use diesel::prelude::*;
use indicatif::{ProgressBar, ProgressStyle};
use rand::rngs::SmallRng;
use rand::{Rng as _, SeedableRng as _};

use crate::auth::password::Hasher;
use crate::db::{self, DbConn, departments, memberships, schema, tokens, user_types, users};
use crate::domain::account::Password;
use crate::domain::token::{PlainToken, TokenKind};

/// The password of every demo user.
pub const DEMO_PASSWORD: &str = "tessera-demo";

const DEPARTMENTS: [&str; 8] = [
    "Finance",
    "Field Ops",
    "Engineering",
    "Sales",
    "Support",
    "Logistics",
    "HR",
    "Legal",
];
const USER_TYPES: [(&str, &str); 6] = [
    (
        "Manager",
        "collections:read collections:write devices:read devices:write policies:read policies:write users:read tokens:read tokens:write",
    ),
    (
        "Read-only",
        "collections:read devices:read policies:read users:read",
    ),
    ("BI", "collections:read devices:read policies:read"),
    (
        "Operator",
        "devices:read devices:write collections:read tokens:read tokens:write",
    ),
    (
        "Integrator",
        "collections:read collections:write devices:read devices:write introspect",
    ),
    ("Auditor", "policies:read users:read tokens:read introspect"),
];
const FIRST: [&str; 12] = [
    "Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Margaret", "Ken", "Frances", "John",
    "Radia", "Linus",
];
const LAST: [&str; 12] = [
    "Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Hamilton", "Thompson", "Allen",
    "Backus", "Perlman", "Torvalds",
];
const PERSONAL: [&str; 6] = [
    "ci-deploy",
    "backup-script",
    "laptop-cli",
    "grafana",
    "terraform",
    "notebook",
];
const CLIENTS: [&str; 5] = ["BI", "JDBC", "Test runner", "Analysis", "ETL"];
const APIS: [&str; 5] = [
    "ERP sync",
    "Webhook relay",
    "Data lake",
    "Monitoring",
    "Billing export",
];
const DEVICES: [&str; 6] = [
    "Pixel 9",
    "iPhone 16",
    "Galaxy S25",
    "iPad Air",
    "Fairphone 5",
    "Moto G",
];

/// What was created.
#[derive(Debug, Default)]
pub struct Summary {
    pub users: usize,
    pub tokens: usize,
    /// Seconds spent inserting token rows, and building their indexes afterwards.
    pub token_insert_secs: f64,
    pub token_index_secs: f64,
}

fn progress(len: u64, what: &str, visible: bool) -> ProgressBar {
    if !visible {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template("{msg:>8} [{bar:40}] {pos}/{len} ({per_sec}, {eta} left)")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar.set_message(what.to_owned());
    bar
}

/// Seeds `user_count` users and `token_count` tokens (with a progress bar when
/// `show_progress`). Uses a fixed random seed, so two runs make the same shapes.
pub fn seed_demo(
    conn: &mut DbConn,
    hasher: &Hasher,
    prefix: &str,
    user_count: usize,
    token_count: usize,
    show_progress: bool,
) -> anyhow::Result<Summary> {
    if let DbConn::Sqlite(sqlite) = conn {
        // A seed can be re-run from scratch: trade durability for speed here only,
        // and keep the random-keyed index pages (SHA-256, names) in memory.
        sqlite.batch_execute(
            "PRAGMA synchronous = OFF; PRAGMA cache_size = -524288; PRAGMA threads = 4;",
        )?;
    }
    let mut rng = SmallRng::seed_from_u64(0x7e55e7a);
    let now = db::now();
    let password_hash = hasher.hash(&Password::new(DEMO_PASSWORD.to_owned()))?;

    let (department_ids, type_ids) = crate::db::transaction(conn, |conn| -> QueryResult<_> {
        let run = rng.random::<u32>();
        let departments: Vec<i64> = DEPARTMENTS
            .iter()
            .map(|name| departments::create(conn, &format!("{name} {run:08x}"), "Demo department"))
            .collect::<QueryResult<_>>()?;
        let types: Vec<(i64, &str)> = USER_TYPES
            .iter()
            .map(|(name, scopes)| {
                Ok((
                    user_types::create(
                        conn,
                        &format!("{name} {run:08x}"),
                        "Demo user type",
                        scopes,
                    )?,
                    *scopes,
                ))
            })
            .collect::<QueryResult<_>>()?;
        Ok((departments, types))
    })?;

    // Users with one or two memberships each.
    let bar = progress(user_count as u64, "users", show_progress);
    let mut people: Vec<(i64, Vec<(i64, i64)>)> = Vec::with_capacity(user_count);
    let batch = format!("{:06x}", rng.random::<u32>() & 0xff_ffff);
    for chunk in (0..user_count).collect::<Vec<_>>().chunks(1000) {
        crate::db::transaction(conn, |conn| -> anyhow::Result<()> {
            for &i in chunk {
                let username = format!("demo{batch}-{i:06}");
                let display = format!(
                    "{} {}",
                    FIRST[rng.random_range(0..FIRST.len())],
                    LAST[rng.random_range(0..LAST.len())]
                );
                let email = format!("{username}@example.com");
                let user = users::create(
                    conn,
                    &users::NewUser {
                        username: &username,
                        email: &email,
                        display_name: &display,
                        password_hash: &password_hash,
                        is_admin: false,
                        status: if rng.random_bool(0.03) {
                            users::STATUS_DISABLED
                        } else {
                            users::STATUS_ACTIVE
                        },
                        created_at: now - TimeDelta::days(rng.random_range(30..900)),
                        updated_at: now,
                    },
                )?;
                let mut held = Vec::new();
                for _ in 0..rng.random_range(1..=2) {
                    let pair = (
                        department_ids[rng.random_range(0..department_ids.len())],
                        type_ids[rng.random_range(0..type_ids.len())].0,
                    );
                    if !held.contains(&pair) {
                        memberships::add(conn, user.id, pair.0, pair.1)?;
                        held.push(pair);
                    }
                }
                people.push((user.id, held));
            }
            Ok(())
        })?;
        bar.inc(chunk.len() as u64);
    }
    bar.finish();

    let bar = progress(token_count as u64, "tokens", show_progress);
    let started = std::time::Instant::now();
    // Building the token indexes once at the end beats updating ten B-trees per
    // row by an order of magnitude on SQLite; the definitions come from the
    // schema itself, so nothing here repeats the migrations. (The trigger that
    // checks live names goes too: seeded names are unique by construction.)
    let saved_indexes = match conn {
        DbConn::Sqlite(sqlite) => drop_token_indexes(sqlite)?,
        DbConn::Pg(_) => Vec::new(),
    };
    let mut made = 0;
    while made < token_count {
        let n = (token_count - made).min(1_000);
        let rows: Vec<SeedToken> = (made..made + n)
            .map(|i| seed_token(&mut rng, prefix, now, &people, i, token_count))
            .collect();
        match conn {
            DbConn::Sqlite(sqlite) => {
                diesel::insert_into(schema::tokens::table)
                    .values(&rows)
                    .execute(sqlite)?;
            }
            DbConn::Pg(pg) => {
                diesel::insert_into(schema::tokens::table)
                    .values(&rows)
                    .execute(pg)?;
            }
        }
        made += n;
        bar.inc(n as u64);
    }
    bar.finish();
    let inserted = started.elapsed();
    if let DbConn::Sqlite(sqlite) = conn {
        let indexing = progress(saved_indexes.len() as u64, "indexes", show_progress);
        for sql in &saved_indexes {
            sqlite.batch_execute(sql)?;
            indexing.inc(1);
        }
        indexing.finish();
        // Statistics for the planner, from a sample (a full ANALYZE takes seconds).
        sqlite.batch_execute("PRAGMA analysis_limit = 1000; ANALYZE tokens;")?;
    }
    Ok(Summary {
        users: user_count,
        tokens: token_count,
        token_insert_secs: inserted.as_secs_f64(),
        token_index_secs: (started.elapsed() - inserted).as_secs_f64(),
    })
}

/// Drops the secondary indexes and the triggers of `tokens` (the seeded names
/// are unique by construction) and returns the SQL that recreates them,
/// indexes first.
fn drop_token_indexes(sqlite: &mut diesel::SqliteConnection) -> QueryResult<Vec<String>> {
    #[derive(QueryableByName)]
    struct Object {
        #[diesel(sql_type = diesel::sql_types::Text)]
        kind: String,
        #[diesel(sql_type = diesel::sql_types::Text)]
        name: String,
        #[diesel(sql_type = diesel::sql_types::Text)]
        sql: String,
    }
    let objects: Vec<Object> = diesel::sql_query(
        "SELECT type AS kind, name, sql FROM sqlite_master \
         WHERE type IN ('index', 'trigger') AND tbl_name = 'tokens' AND sql IS NOT NULL \
         ORDER BY type",
    )
    .load(sqlite)?;
    for object in &objects {
        let what = if object.kind == "trigger" {
            "TRIGGER"
        } else {
            "INDEX"
        };
        sqlite.batch_execute(&format!("DROP {what} \"{}\"", object.name.replace('"', "")))?;
    }
    Ok(objects.into_iter().map(|o| o.sql).collect())
}

/// A seeded token row: every column given, so rows insert many to a statement.
#[derive(Insertable)]
#[diesel(table_name = schema::tokens, treat_none_as_default_value = false)]
struct SeedToken {
    kind: &'static str,
    name: String,
    name_key: String,
    description: &'static str,
    owner_id: i64,
    created_by: Option<i64>,
    department_id: Option<i64>,
    user_type_id: Option<i64>,
    scopes: &'static str,
    display_prefix: String,
    sha256: Vec<u8>,
    status: &'static str,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    expires_at: Option<NaiveDateTime>,
    last_used_at: Option<NaiveDateTime>,
    last_used_ip: Option<String>,
    last_used_user_agent: Option<&'static str>,
    device_name: Option<&'static str>,
    revoked_at: Option<NaiveDateTime>,
}

fn seed_token(
    rng: &mut SmallRng,
    prefix: &str,
    now: NaiveDateTime,
    people: &[(i64, Vec<(i64, i64)>)],
    i: usize,
    total: usize,
) -> SeedToken {
    let (owner, held) = &people[rng.random_range(0..people.len())];
    let kind = match rng.random_range(0..100) {
        0..40 => TokenKind::Personal,
        40..55 => TokenKind::Client,
        55..70 => TokenKind::Api,
        _ => TokenKind::Session,
    };
    let pick = |rng: &mut SmallRng, names: &[&'static str]| names[rng.random_range(0..names.len())];
    let (name, device) = match kind {
        TokenKind::Personal => (format!("{}-{i}", pick(rng, &PERSONAL)), None),
        TokenKind::Client => (format!("{} {i}", pick(rng, &CLIENTS)), None),
        TokenKind::Api => (format!("{} {i}", pick(rng, &APIS)), None),
        TokenKind::Session => {
            let device = pick(rng, &DEVICES);
            (device.to_owned(), Some(device))
        }
    };
    let membership = held[rng.random_range(0..held.len())];
    let (department_id, user_type_id) = match kind {
        TokenKind::Personal => (None, None),
        TokenKind::Client => (None, Some(membership.1)),
        TokenKind::Api | TokenKind::Session => (Some(membership.0), Some(membership.1)),
    };
    // Oldest first, as a real table fills: index inserts then land near each other.
    let age = 730 * 86_400 * (total - i) as i64 / total.max(1) as i64;
    let created_at = now - TimeDelta::seconds(age + rng.random_range(60..3_600));
    let lifetime = match kind {
        TokenKind::Session => TimeDelta::days(30),
        _ => TimeDelta::days([30, 60, 90, 180, 365][rng.random_range(0..5)]),
    };
    let expires_at = created_at + lifetime;
    let used_until = expires_at.min(now);
    let last_used_at = (rng.random_bool(0.7) && used_until > created_at).then(|| {
        let span = (used_until - created_at).num_seconds().max(1);
        created_at + TimeDelta::seconds(rng.random_range(0..span))
    });
    let last_used_ip = last_used_at.map(|_| {
        format!(
            "10.{}.{}.{}",
            rng.random_range(0..255),
            rng.random_range(0..255),
            rng.random_range(1..255)
        )
    });
    let revoked_at = rng
        .random_bool(0.08)
        .then(|| (last_used_at.unwrap_or(created_at) + TimeDelta::hours(1)).min(now));
    let secret = PlainToken::generate(prefix, kind);
    SeedToken {
        kind: kind.as_str(),
        name_key: crate::domain::policy::token_name_key(&name),
        name,
        description: "",
        owner_id: *owner,
        created_by: Some(*owner),
        department_id,
        user_type_id,
        scopes: if kind == TokenKind::Personal {
            "devices:read collections:read"
        } else {
            ""
        },
        display_prefix: secret.display_prefix(),
        sha256: secret.sha256().to_vec(),
        status: if rng.random_bool(0.05) {
            tokens::STATUS_DISABLED
        } else {
            tokens::STATUS_ACTIVE
        },
        created_at,
        updated_at: created_at,
        expires_at: Some(expires_at),
        last_used_at,
        last_used_ip,
        last_used_user_agent: last_used_at.map(|_| "demo-client/1.0"),
        device_name: device,
        revoked_at,
    }
}
