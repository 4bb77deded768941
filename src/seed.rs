//! `tessera seed-demo`: fills a database with realistic users, departments,
//! memberships and tokens of every kind and status, for demos and benchmarks.
//! The seeded tokens' secrets are thrown away; only their hashes are stored.

use std::time::{Duration, Instant};

use chrono::{NaiveDateTime, TimeDelta};
use diesel::connection::SimpleConnection as _;
use diesel::prelude::*;
use indicatif::{ProgressBar, ProgressStyle};
use rand::rngs::SmallRng;
use rand::{Rng as _, SeedableRng as _};

use crate::auth::password::Hasher;
use crate::db::schema::tokens::dsl as t;
use crate::db::tokens::NewToken;
use crate::db::{self, DbConn, departments, schema, user_types, users};
use crate::domain::account::{Password, UserStatus};
use crate::domain::token::{PlainToken, TokenKind, TokenStatus};

/// The password of every demo user.
pub const DEMO_PASSWORD: &str = "tessera-demo";

/// What every demo user's name looks like (`demo` + six hex digits of the run,
/// `-` + six digits), as an SQL `LIKE` pattern.
pub const DEMO_USERNAMES: &str = "demo______-______";

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
        "collections:read devices:read policies:read tokens:read users:read",
    ),
    ("BI", "collections:read devices:read policies:read"),
    (
        "Operator",
        "devices:read devices:write collections:read tokens:read tokens:write",
    ),
    (
        "Integrator",
        "collections:read collections:write devices:read devices:write policies:read policies:write",
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
            // A constant template: the plain bar would only stand in for a typo.
            .unwrap_or_else(|_| ProgressStyle::default_bar())
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
    let mut rng = SmallRng::seed_from_u64(0x07e5_5e7a);
    let now = db::now();
    let password_hash = hasher.hash(&Password::new(DEMO_PASSWORD.to_owned()))?;

    let (department_ids, type_ids) = crate::db::transaction(conn, |conn| -> QueryResult<_> {
        // Plain names ("Engineering"), found again when the seed runs again.
        let departments: Vec<i64> = DEPARTMENTS
            .iter()
            .map(|name| departments::find_or_create(conn, name, "Demo department"))
            .collect::<QueryResult<_>>()?;
        let types: Vec<i64> = USER_TYPES
            .iter()
            .map(|(name, scopes)| user_types::find_or_create(conn, name, "Demo user type", scopes))
            .collect::<QueryResult<_>>()?;
        Ok((departments, types))
    })?;

    // Users with one or two memberships each, a thousand to a statement (one
    // at a time, 10,000 users took three seconds on PostgreSQL, in round trips).
    let bar = progress(user_count as u64, "users", show_progress);
    let mut people: Vec<(i64, Vec<(i64, i64)>)> = Vec::with_capacity(user_count);
    let batch = format!("{:06x}", rng.random::<u32>() & 0xff_ffff);
    let mut first = 0;
    while first < user_count {
        let chunk = first..(first + 1000).min(user_count);
        // Drawn in the order one user at a time drew them, so the data stays the same.
        let drawn: Vec<DemoUser> = chunk
            .clone()
            .map(|i| {
                let username = format!("demo{batch}-{i:06}");
                let display_name = format!(
                    "{} {}",
                    FIRST[rng.random_range(0..FIRST.len())],
                    LAST[rng.random_range(0..LAST.len())]
                );
                let disabled = rng.random_bool(0.03);
                let created_at = now - TimeDelta::days(rng.random_range(30..900));
                let mut held = Vec::new();
                for _ in 0..rng.random_range(1..=2) {
                    let pair = (
                        department_ids[rng.random_range(0..department_ids.len())],
                        type_ids[rng.random_range(0..type_ids.len())],
                    );
                    if !held.contains(&pair) {
                        held.push(pair);
                    }
                }
                DemoUser {
                    email: format!("{username}@example.com"),
                    username,
                    display_name,
                    disabled,
                    created_at,
                    held,
                }
            })
            .collect();
        crate::db::transaction(conn, |conn| -> QueryResult<()> {
            let ids = insert_users(conn, &drawn, &password_hash, now)?;
            let mut rows = Vec::new();
            for (user, id) in drawn.into_iter().zip(ids) {
                rows.extend(user.held.iter().map(|&(department, user_type)| {
                    (
                        schema::memberships::user_id.eq(id),
                        schema::memberships::department_id.eq(department),
                        schema::memberships::user_type_id.eq(user_type),
                        schema::memberships::created_at.eq(now),
                    )
                }));
                people.push((id, user.held));
            }
            let insert = diesel::insert_into(schema::memberships::table).values(&rows);
            match conn {
                DbConn::Pg(pg) => insert.execute(pg),
                DbConn::Sqlite(sqlite) => insert.execute(sqlite),
            }?;
            Ok(())
        })?;
        bar.inc(chunk.len() as u64);
        first = chunk.end;
    }
    bar.finish();

    let bar = progress(token_count as u64, "tokens", show_progress);
    let rows = (0..token_count).map(|i| seed_token(&mut rng, prefix, now, &people, i, token_count));
    let (inserted, indexed) = match conn {
        DbConn::Sqlite(sqlite) => insert_tokens_sqlite(sqlite, rows, &bar, show_progress)?,
        DbConn::Pg(pg) => copy_tokens_pg(pg, rows, &bar, show_progress)?,
    };
    Ok(Summary {
        users: user_count,
        tokens: token_count,
        token_insert_secs: inserted.as_secs_f64(),
        token_index_secs: indexed.as_secs_f64(),
    })
}

/// A demo user as drawn, before it has an id.
struct DemoUser {
    username: String,
    email: String,
    display_name: String,
    disabled: bool,
    created_at: NaiveDateTime,
    /// (department, user type) pairs, distinct.
    held: Vec<(i64, i64)>,
}

/// Inserts the users in one statement and returns their ids, in order.
fn insert_users(
    conn: &mut DbConn,
    drawn: &[DemoUser],
    password_hash: &str,
    now: NaiveDateTime,
) -> QueryResult<Vec<i64>> {
    let rows: Vec<users::NewUser<'_>> = drawn
        .iter()
        .map(|user| users::NewUser {
            username: &user.username,
            email: &user.email,
            display_name: &user.display_name,
            password_hash,
            is_admin: false,
            status: if user.disabled {
                UserStatus::Disabled
            } else {
                UserStatus::Active
            }
            .as_str(),
            created_at: user.created_at,
            updated_at: now,
        })
        .collect();
    let insert = diesel::insert_into(schema::users::table)
        .values(&rows)
        .returning((schema::users::id, schema::users::username));
    let inserted: Vec<(i64, String)> = match conn {
        DbConn::Pg(pg) => insert.get_results(pg),
        DbConn::Sqlite(sqlite) => insert.get_results(sqlite),
    }?;
    // Matched by name: neither backend promises RETURNING in VALUES order.
    let ids: std::collections::HashMap<String, i64> =
        inserted.into_iter().map(|(id, name)| (name, id)).collect();
    drawn
        .iter()
        .map(|user| ids.get(&user.username).copied().ok_or(diesel::NotFound))
        .collect()
}

/// SQLite: a thousand rows to a statement, with the secondary indexes and the
/// triggers of `tokens` dropped meanwhile and rebuilt at the end (building an
/// index once beats updating ten B-trees per row by an order of magnitude; the
/// definitions come from the schema itself, so nothing here repeats the
/// migrations). The live-name trigger goes too: seeded names are unique by
/// construction (the validity-epoch triggers stay). Returns the time spent
/// inserting and rebuilding.
fn insert_tokens_sqlite(
    sqlite: &mut diesel::SqliteConnection,
    mut rows: impl Iterator<Item = SeedToken>,
    bar: &ProgressBar,
    show_progress: bool,
) -> QueryResult<(Duration, Duration)> {
    let started = Instant::now();
    let saved_indexes = drop_token_indexes(sqlite)?;
    loop {
        let chunk: Vec<SeedToken> = rows.by_ref().take(1_000).collect();
        if chunk.is_empty() {
            break;
        }
        diesel::insert_into(schema::tokens::table)
            .values(&chunk)
            .execute(sqlite)?;
        bar.inc(chunk.len() as u64);
    }
    bar.finish();
    let inserted = started.elapsed();
    let indexing = progress(saved_indexes.len() as u64, "indexes", show_progress);
    for sql in &saved_indexes {
        sqlite.batch_execute(sql)?;
        indexing.inc(1);
    }
    indexing.finish();
    // Statistics for the planner, from a sample (a full ANALYZE takes seconds).
    sqlite.batch_execute("PRAGMA analysis_limit = 1000; ANALYZE tokens;")?;
    Ok((inserted, started.elapsed().saturating_sub(inserted)))
}

/// PostgreSQL: every row in one binary COPY, streamed as it is drawn, in one
/// transaction with the secondary indexes and foreign keys of `tokens` dropped
/// and rebuilt, so that a failure leaves the table as it was. Returns the time
/// spent copying and rebuilding.
///
/// Where the time went (20,000 tokens took 25 s before): the row trigger's
/// cached plan read every live token of the row's kind for each row (see
/// migration 2026-12-04-000002). With that fixed, INSERTs of a thousand rows
/// still spent some 55 % of their time updating the ten secondary indexes and
/// 25 % in foreign-key checks (one query per key per row). Built once at the
/// end, the indexes take about 8 s for a million rows and each key is one
/// join (under a second for all five). The live-name trigger stays: it checks
/// the whole COPY once, as one statement (about 2 s for a million).
///
/// The transaction holds `tokens` (and, for the keys, `users`, `departments`
/// and `user_types`) exclusively until it commits: other connections wait.
fn copy_tokens_pg(
    pg: &mut diesel::PgConnection,
    rows: impl Iterator<Item = SeedToken>,
    bar: &ProgressBar,
    show_progress: bool,
) -> QueryResult<(Duration, Duration)> {
    let started = Instant::now();
    let inserted = pg.transaction(|pg| {
        // For this transaction only. Memory: the live-name check hashes the new
        // rows (some 60 MB at a million), the index builds sort. Plans: with
        // `tokens_owner` dropped, the check's only sane plan is one hash join
        // of the new rows with the table; planned without statistics it could
        // pick a nested loop over both (hours) or a merge join that sorts both
        // by collated text (5 s instead of 1.3 s).
        pg.batch_execute(
            "SET LOCAL work_mem = '128MB'; SET LOCAL maintenance_work_mem = '256MB'; \
             SET LOCAL enable_nestloop = off; SET LOCAL enable_mergejoin = off;",
        )?;
        let rebuild = drop_token_indexes_pg(pg)?;
        let rows = std::cell::RefCell::new(rows);
        diesel::copy_from(schema::tokens::table)
            .from_raw_data(SEED_COLUMNS, |out| {
                write_binary_copy(out, &mut *rows.borrow_mut(), bar)
            })
            .with_format(diesel::pg::CopyFormat::Binary)
            .execute(pg)?;
        bar.finish();
        let inserted = started.elapsed();
        let indexing = progress(rebuild.len() as u64, "indexes", show_progress);
        for sql in &rebuild {
            pg.batch_execute(sql)?;
            indexing.inc(1);
        }
        indexing.finish();
        QueryResult::Ok(inserted)
    })?;
    // Statistics for the planner, and the visibility map (VACUUM cannot run
    // in a transaction): until a vacuum marks the new pages all-visible, an
    // index-only scan reads the table too, and the inventory's count of live
    // tokens took 3 to 8 ms instead of well under one. Autovacuum would get
    // there some minutes later.
    pg.batch_execute("VACUUM (ANALYZE) tokens")?;
    Ok((inserted, started.elapsed().saturating_sub(inserted)))
}

/// Drops the secondary indexes and the foreign keys of `tokens` and returns
/// the SQL that recreates them, indexes first. The primary key stays (the
/// copy draws ids from its sequence), and so do the triggers.
fn drop_token_indexes_pg(pg: &mut diesel::PgConnection) -> QueryResult<Vec<String>> {
    #[derive(QueryableByName)]
    struct Object {
        #[diesel(sql_type = diesel::sql_types::Text)]
        drop_sql: String,
        #[diesel(sql_type = diesel::sql_types::Text)]
        create_sql: String,
    }
    let objects: Vec<Object> = diesel::sql_query(
        "SELECT drop_sql, create_sql FROM ( \
           SELECT 1 AS pass, format('DROP INDEX %I.%I', n.nspname, i.relname) AS drop_sql, \
                  pg_get_indexdef(x.indexrelid) AS create_sql \
           FROM pg_index x \
           JOIN pg_class i ON i.oid = x.indexrelid \
           JOIN pg_namespace n ON n.oid = i.relnamespace \
           WHERE x.indrelid = 'tokens'::regclass \
             AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid) \
           UNION ALL \
           SELECT 2, format('ALTER TABLE %s DROP CONSTRAINT %I', conrelid::regclass, conname), \
                  format('ALTER TABLE %s ADD CONSTRAINT %I %s', conrelid::regclass, conname, \
                         pg_get_constraintdef(oid)) \
           FROM pg_constraint WHERE conrelid = 'tokens'::regclass AND contype = 'f' \
         ) AS objects ORDER BY pass, create_sql",
    )
    .load(pg)?;
    for object in &objects {
        pg.batch_execute(&object.drop_sql)?;
    }
    Ok(objects.into_iter().map(|o| o.create_sql).collect())
}

/// Drops the secondary indexes and the live-name trigger of `tokens` (the
/// seeded names are unique by construction) and returns the SQL that recreates
/// them, indexes first. The validity-epoch triggers stay: inserts do not fire
/// them, and a server on the same file must keep seeing every change meanwhile.
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
         WHERE (type = 'index' OR name = 'tokens_live_name_unique') \
           AND tbl_name = 'tokens' AND sql IS NOT NULL \
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

/// A seeded token row: a [`NewToken`] and the columns of its later life (last
/// use, revocation), every one given so that rows insert many to a statement.
#[derive(Insertable)]
#[diesel(table_name = schema::tokens, treat_none_as_default_value = false)]
struct SeedToken {
    #[diesel(embed)]
    token: NewToken,
    last_used_at: Option<NaiveDateTime>,
    last_used_ip: Option<String>,
    /// A `Cow` rather than a `&str`: the derive would borrow the latter as
    /// `&Option<&str>`, which clippy (`ref_option_ref`) refuses.
    last_used_user_agent: Option<std::borrow::Cow<'static, str>>,
    revoked_at: Option<NaiveDateTime>,
}

/// Names the columns of [`SeedToken`] once, as a type and as a value.
macro_rules! seed_columns {
    ($($column:ident),* $(,)?) => {
        /// The columns of [`SeedToken`], in its order: what the COPY names.
        type SeedColumns = ($(t::$column,)*);
        const SEED_COLUMNS: SeedColumns = ($(t::$column,)*);
    };
}
seed_columns!(
    kind,
    name,
    name_key,
    description,
    owner_id,
    created_by,
    department_id,
    user_type_id,
    scopes,
    display_prefix,
    sha256,
    status,
    created_at,
    updated_at,
    expires_at,
    last_used_at,
    last_used_ip,
    last_used_user_agent,
    device_name,
    revoked_at,
    issued_at,
);

/// Writes `rows` in PostgreSQL's binary COPY format, a megabyte at a time
/// (every write is a message to the server), advancing `bar` as they go.
fn write_binary_copy(
    out: &mut dyn std::io::Write,
    rows: &mut dyn Iterator<Item = SeedToken>,
    bar: &ProgressBar,
) -> QueryResult<()> {
    const FLUSH_AT: usize = 1 << 20;
    let mut buf = BinaryCopy(Vec::with_capacity(FLUSH_AT + 4096));
    // Signature, flags, header extension length.
    buf.0.extend_from_slice(b"PGCOPY\n\xff\r\n\0");
    buf.0.extend_from_slice(&0i32.to_be_bytes());
    buf.0.extend_from_slice(&0i32.to_be_bytes());
    let mut pending = 0;
    let send = |buf: &mut BinaryCopy, out: &mut dyn std::io::Write| {
        out.write_all(&buf.0)
            .map_err(|err| diesel::result::Error::SerializationError(Box::new(err)))?;
        buf.0.clear();
        QueryResult::Ok(())
    };
    for row in rows {
        row.write_binary(&mut buf)?;
        pending += 1;
        if buf.0.len() >= FLUSH_AT {
            send(&mut buf, out)?;
            bar.inc(pending);
            pending = 0;
        }
    }
    buf.0.extend_from_slice(&(-1i16).to_be_bytes());
    send(&mut buf, out)?;
    bar.inc(pending);
    Ok(())
}

/// A buffer of binary COPY tuples: each field is its length (-1 for NULL) and
/// its value in the type's binary send format.
struct BinaryCopy(Vec<u8>);

impl BinaryCopy {
    /// Microseconds from the Unix epoch to PostgreSQL's, 2000-01-01.
    const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;

    fn fields(&mut self, count: i16) {
        self.0.extend_from_slice(&count.to_be_bytes());
    }

    fn null(&mut self) {
        self.0.extend_from_slice(&(-1i32).to_be_bytes());
    }

    fn bytes(&mut self, value: &[u8]) -> QueryResult<()> {
        let len = i32::try_from(value.len())
            .map_err(|err| diesel::result::Error::SerializationError(Box::new(err)))?;
        self.0.extend_from_slice(&len.to_be_bytes());
        self.0.extend_from_slice(value);
        Ok(())
    }

    fn text(&mut self, value: Option<&str>) -> QueryResult<()> {
        if let Some(value) = value {
            self.bytes(value.as_bytes())
        } else {
            self.null();
            Ok(())
        }
    }

    fn bigint(&mut self, value: Option<i64>) {
        match value {
            Some(value) => {
                self.0.extend_from_slice(&8i32.to_be_bytes());
                self.0.extend_from_slice(&value.to_be_bytes());
            }
            None => self.null(),
        }
    }

    fn timestamp(&mut self, value: Option<NaiveDateTime>) {
        // chrono's range (about 262,000 years) fits i64 microseconds.
        self.bigint(value.map(|at| at.and_utc().timestamp_micros() - Self::PG_EPOCH_MICROS));
    }
}

impl SeedToken {
    /// One COPY tuple, in [`SEED_COLUMNS`] order.
    fn write_binary(&self, out: &mut BinaryCopy) -> QueryResult<()> {
        let token = &self.token;
        out.fields(21);
        out.text(Some(token.kind.as_str()))?;
        out.text(Some(&token.name))?;
        out.text(Some(&token.name_key))?;
        out.text(Some(&token.description))?;
        out.bigint(Some(token.owner_id));
        out.bigint(token.created_by);
        out.bigint(token.department_id);
        out.bigint(token.user_type_id);
        out.text(Some(&token.scopes))?;
        out.text(Some(&token.display_prefix))?;
        out.bytes(&token.sha256)?;
        out.text(Some(token.status.as_str()))?;
        out.timestamp(Some(token.created_at));
        out.timestamp(Some(token.updated_at));
        out.timestamp(token.expires_at);
        out.timestamp(self.last_used_at);
        out.text(self.last_used_ip.as_deref())?;
        out.text(self.last_used_user_agent.as_deref())?;
        out.text(token.device_name.as_deref())?;
        out.timestamp(self.revoked_at);
        out.timestamp(Some(token.issued_at));
        Ok(())
    }
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
    let token = NewToken::new(
        kind,
        &name,
        *owner,
        &secret.sha256(),
        &secret.display_prefix(),
        created_at,
    )
    .department_id(department_id)
    .user_type_id(user_type_id)
    .scopes(if kind == TokenKind::Personal {
        "devices:read collections:read"
    } else {
        ""
    })
    .status(if rng.random_bool(0.05) {
        TokenStatus::Disabled
    } else {
        TokenStatus::Active
    })
    .expires_at(Some(expires_at))
    .device_name(device);
    SeedToken {
        token,
        last_used_at,
        last_used_ip,
        last_used_user_agent: last_used_at.map(|_| "demo-client/1.0".into()),
        revoked_at,
    }
}
