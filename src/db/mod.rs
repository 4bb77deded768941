//! The database: one `DbConn` over SQLite or PostgreSQL, its pool, embedded
//! migrations, and the query modules (one per table).
//!
//! The backend is chosen from the URL scheme here rather than by the derived
//! `MultiConnection::establish`, which tries each backend in turn and so hides the
//! real PostgreSQL error behind SQLite's.

pub mod audit;
pub mod departments;
pub mod health;
pub mod jobs;
pub mod memberships;
pub mod notifications;
pub mod passkeys;
pub mod password_codes;
pub mod recovery_codes;
pub mod schema;
pub mod scopes;
pub mod second_factors;
pub mod sessions;
pub mod settings;
pub mod sso_settings;
pub mod throttle;
pub mod token_search;
pub mod token_stats;
pub mod tokens;
pub mod totp_secrets;
pub mod user_identities;
pub mod user_types;
pub mod users;
pub mod validity;
pub mod webhooks;

mod text_code;

use std::time::Duration;

use anyhow::Context as _;
use chrono::{NaiveDateTime, SubsecRound as _, Utc};
use diesel::connection::SimpleConnection as _;
use diesel::prelude::*;
use diesel::{PgConnection, SqliteConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness as _, embed_migrations};

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const PG_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

diesel::define_sql_function! {
    /// SQL `lower()`, which both backends have (ASCII-only on SQLite; usernames
    /// are ASCII so the two agree).
    fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

/// A connection to whichever database the URL names.
#[derive(diesel::MultiConnection)]
pub enum DbConn {
    Pg(PgConnection),
    Sqlite(SqliteConnection),
}

/// The backend type of `DbConn`, for boxed queries.
pub type Db = <DbConn as diesel::Connection>::Backend;

pub type DbPool = r2d2::Pool<ConnectionManager>;
pub type PooledConn = r2d2::PooledConnection<ConnectionManager>;

/// Which backend a database URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

/// A parsed database URL: the backend and what its driver is given.
#[derive(Clone)]
pub struct DatabaseUrl {
    backend: Backend,
    target: String,
}

impl DatabaseUrl {
    /// Accepts `sqlite://path`, `sqlite:path`, `postgres://…` and `postgresql://…`.
    pub fn parse(url: &str) -> anyhow::Result<Self> {
        let (backend, target) = if url.starts_with("postgres://")
            || url.starts_with("postgresql://")
        {
            // Without a connect timeout libpq waits for the OS (minutes) on an
            // unreachable host; start-up should fail within seconds instead.
            let target = if url.contains("connect_timeout=") {
                url.to_owned()
            } else {
                let sep = if url.contains('?') { '&' } else { '?' };
                format!("{url}{sep}connect_timeout=5")
            };
            (Backend::Postgres, target)
        } else if let Some(path) = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
        {
            anyhow::ensure!(
                !path.is_empty(),
                "the SQLite URL names no file: use sqlite://path/to/file.db"
            );
            (Backend::Sqlite, path.to_owned())
        } else {
            anyhow::bail!(
                "unsupported database URL scheme (expected sqlite://path or postgres://user@host/db)"
            );
        };
        Ok(Self { backend, target })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Where the secret key file goes when none is configured: beside a
    /// SQLite file (its name plus `.key`); none for PostgreSQL.
    pub fn default_key_file(&self) -> Option<std::path::PathBuf> {
        match self.backend {
            Backend::Sqlite if !self.target.contains(':') && !self.target.contains('?') => {
                Some(format!("{}.key", self.target).into())
            }
            _ => None,
        }
    }

    /// What the driver is given (may hold a password: never log it).
    pub(crate) fn target(&self) -> &str {
        &self.target
    }

    /// A description that is safe to log: no password, whether it sits in the
    /// user-info part (even with an unencoded `@` in it) or in a `password=`
    /// parameter.
    pub fn redacted(&self) -> String {
        match self.backend {
            Backend::Sqlite => format!("sqlite://{}", self.target),
            Backend::Postgres => {
                let (scheme, rest) = self.target.split_once("://").unwrap_or(("postgres", ""));
                let (location, query) = match rest.split_once('?') {
                    Some((location, query)) => (location, Some(query)),
                    None => (rest, None),
                };
                let location = match location.rsplit_once('@') {
                    Some((creds, host)) => match creds.split_once(':') {
                        Some((user, _)) => format!("{user}:***@{host}"),
                        None => format!("{creds}@{host}"),
                    },
                    None => location.to_owned(),
                };
                let query = query.map(|query| {
                    query
                        .split('&')
                        .map(|pair| match pair.split_once('=') {
                            Some((key, _)) if key.eq_ignore_ascii_case("password") => {
                                format!("{key}=***")
                            }
                            _ => pair.to_owned(),
                        })
                        .collect::<Vec<_>>()
                        .join("&")
                });
                match query {
                    Some(query) => format!("{scheme}://{location}?{query}"),
                    None => format!("{scheme}://{location}"),
                }
            }
        }
    }

    /// For `serve` on SQLite: an exclusive lock that one process holds while it
    /// serves this database file, so that a second one refuses to start: SQLite
    /// has one writer at a time, and several instances belong on PostgreSQL.
    /// `None` on PostgreSQL. The lock
    /// sits beside the file itself, symbolic links resolved, so that the same
    /// file reached by another path is the same lock.
    pub fn lock_for_serving(&self) -> anyhow::Result<Option<ServeLock>> {
        if self.backend != Backend::Sqlite {
            return Ok(None);
        }
        let file = std::fs::canonicalize(&self.target)
            .with_context(|| format!("cannot find the database file {}", self.target))?;
        let path = format!("{}-serve.lock", file.display());
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .with_context(|| format!("cannot open the lock file {path}"))?;
        match file.try_lock() {
            Ok(()) => Ok(Some(ServeLock(file))),
            Err(std::fs::TryLockError::WouldBlock) => anyhow::bail!(
                "another Tessera server is already serving {}: one SQLite database \
                 has one server (run several instances on PostgreSQL)",
                self.redacted()
            ),
            Err(std::fs::TryLockError::Error(err)) => {
                Err(err).with_context(|| format!("cannot lock {path}"))
            }
        }
    }

    /// A new connection outside the pool, with the SQLite pragmas set.
    pub(crate) fn establish(&self) -> ConnectionResult<DbConn> {
        self.establish_at(&self.target)
    }

    /// [`Self::establish`], except that a missing SQLite file is an error
    /// rather than created empty: the pool's connections, made after start-up
    /// created the file, must never put an empty database where one went away.
    fn establish_existing(&self) -> ConnectionResult<DbConn> {
        match self.backend {
            Backend::Postgres => self.establish(),
            Backend::Sqlite => self.establish_at(&format!(
                "file:{}?mode=rw",
                health::uri_escape(&self.target)
            )),
        }
    }

    fn establish_at(&self, target: &str) -> ConnectionResult<DbConn> {
        match self.backend {
            Backend::Postgres => PgConnection::establish(target).map(DbConn::Pg),
            Backend::Sqlite => {
                let mut conn = SqliteConnection::establish(target)?;
                // WAL lets readers run beside the one writer; busy_timeout makes a
                // writer wait for the lock instead of failing with "database is locked".
                // synchronous=FULL: a confirmed revocation must survive a power cut.
                // A 32 MiB page cache (the default is 2 MiB) holds what a bulk
                // revoke of thousands of tokens changes until it commits, instead
                // of spilling pages to the log halfway and reading them back.
                conn.batch_execute(
                    "PRAGMA journal_mode = WAL;
                     PRAGMA busy_timeout = 10000;
                     PRAGMA foreign_keys = ON;
                     PRAGMA synchronous = FULL;
                     PRAGMA wal_autocheckpoint = 10000;
                     PRAGMA cache_size = -32768;",
                )
                .map_err(ConnectionError::CouldntSetupConfiguration)?;
                Ok(DbConn::Sqlite(conn))
            }
        }
    }
}

/// Held while a `serve` process owns a SQLite database; released when dropped
/// or when the process ends, however it ends.
pub struct ServeLock(#[allow(dead_code)] std::fs::File);

/// r2d2 manager that establishes connections by URL scheme and sets SQLite pragmas.
pub struct ConnectionManager {
    url: DatabaseUrl,
    /// Says when checked-out PostgreSQL connections are to be tested first.
    health: std::sync::Arc<health::DbHealth>,
    /// Lives as long as the pool; the SQLite checkpointer stops when it is gone.
    _alive: std::sync::Arc<()>,
}

impl r2d2::ManageConnection for ConnectionManager {
    type Connection = DbConn;
    type Error = ConnectionError;

    fn connect(&self) -> Result<DbConn, ConnectionError> {
        self.url.establish_existing()
    }

    /// A PostgreSQL connection may have died (a restart, a network cut); after
    /// such trouble (`DbHealth::check_connections`) each one is tested before
    /// use, so that the pool replaces the dead ones and Tessera recovers on its
    /// own. When all is well no round trip is spent on it: a connection that
    /// fails anyway makes its request fail as unavailable, which starts the
    /// checking. A SQLite connection is a file handle that cannot die so.
    fn is_valid(&self, conn: &mut DbConn) -> Result<(), ConnectionError> {
        match conn {
            DbConn::Pg(_) if self.health.check_connections() => conn
                .batch_execute("SELECT 1")
                .map_err(ConnectionError::CouldntSetupConfiguration),
            _ => Ok(()),
        }
    }

    fn has_broken(&self, _conn: &mut DbConn) -> bool {
        false
    }
}

/// Connects once directly (so an unreachable database fails with its real message),
/// runs the migrations, and builds the pool.
pub fn connect_and_migrate(url: &DatabaseUrl, pool_size: u32) -> anyhow::Result<DbPool> {
    connect_and_migrate_watched(url, pool_size, std::sync::Arc::default())
}

/// [`connect_and_migrate`] for a server, whose `health` decides when pooled
/// connections are tested before use.
pub fn connect_and_migrate_watched(
    url: &DatabaseUrl,
    pool_size: u32,
    health: std::sync::Arc<health::DbHealth>,
) -> anyhow::Result<DbPool> {
    let mut conn = url
        .establish()
        .with_context(|| format!("cannot connect to the database at {}", url.redacted()))?;
    run_migrations(&mut conn)?;
    drop(conn);
    let alive = std::sync::Arc::new(());
    let pool = r2d2::Pool::builder()
        .max_size(pool_size)
        .min_idle(Some(pool_size.min(2)))
        .connection_timeout(Duration::from_secs(5))
        // `is_valid` decides whether a test is worth its round trip.
        .test_on_check_out(true)
        .build(ConnectionManager {
            url: url.clone(),
            health,
            _alive: alive.clone(),
        })
        .context("cannot build the database pool")?;
    if url.backend == Backend::Sqlite {
        spawn_checkpointer(url.clone(), std::sync::Arc::downgrade(&alive));
    }
    Ok(pool)
}

/// Copies the SQLite write-ahead log back into the database file once a second,
/// on its own connection, so that no request pays for a checkpoint (connections
/// only checkpoint themselves past 10,000 pages, as a safety net).
fn spawn_checkpointer(url: DatabaseUrl, alive: std::sync::Weak<()>) {
    let spawned = std::thread::Builder::new()
        .name("sqlite-checkpoint".into())
        .spawn(move || {
            let Ok(mut conn) = url.establish() else {
                return;
            };
            while alive.upgrade().is_some() {
                crate::background::pause(Duration::from_secs(1));
                if let Err(err) = conn.batch_execute("PRAGMA wal_checkpoint(PASSIVE);") {
                    tracing::warn!(error = %err, "WAL checkpoint failed");
                }
            }
        });
    if let Err(err) = spawned {
        tracing::warn!(error = %err, "cannot start the WAL checkpointer; connections checkpoint themselves");
    }
}

/// Serialises migrations of one PostgreSQL schema: instances that start
/// together would otherwise both apply the same migration, and all but one fail.
const PG_MIGRATION_LOCK: &str = "hashtext('tessera migrations ' || coalesce(current_schema(), ''))";

/// Applies every pending migration of the connection's backend.
pub fn run_migrations(conn: &mut DbConn) -> anyhow::Result<()> {
    fn owned<V: std::fmt::Display>(
        applied: diesel::migration::Result<Vec<V>>,
    ) -> anyhow::Result<Vec<String>> {
        applied
            .map(|versions| versions.iter().map(ToString::to_string).collect())
            .map_err(|e| anyhow::anyhow!("migration failed: {e}"))
    }
    let applied = match conn {
        DbConn::Pg(pg) => {
            pg.batch_execute(&format!("SELECT pg_advisory_lock({PG_MIGRATION_LOCK})"))
                .context("cannot take the migration lock")?;
            let applied = owned(pg.run_pending_migrations(PG_MIGRATIONS));
            // Also released when the connection closes, whatever happened.
            let _ = pg.batch_execute(&format!("SELECT pg_advisory_unlock({PG_MIGRATION_LOCK})"));
            applied
        }
        DbConn::Sqlite(sqlite) => owned(sqlite.run_pending_migrations(SQLITE_MIGRATIONS)),
    }?;
    for version in applied {
        tracing::info!(%version, "applied migration");
    }
    Ok(())
}

/// The current UTC time at the precision both backends store (microseconds).
/// Session deadlines and token uses go by the application's
/// [`crate::clock::Clock`] instead: this plus an offset that tests move.
pub fn now() -> NaiveDateTime {
    Utc::now().naive_utc().trunc_subsecs(6)
}

/// `SELECT COUNT(*) FROM (<query>)`: counts the rows of a query as it is,
/// `LIMIT` included (diesel's `count()` would count before the limit).
#[derive(Debug, Clone, Copy)]
pub struct CountRows<Q>(pub Q);

impl<Q> diesel::query_builder::QueryId for CountRows<Q> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q> diesel::query_builder::Query for CountRows<Q> {
    type SqlType = diesel::sql_types::BigInt;
}

impl<Q: diesel::query_builder::QueryFragment<Db>> diesel::query_builder::QueryFragment<Db>
    for CountRows<Q>
{
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, Db>,
    ) -> QueryResult<()> {
        out.push_sql("SELECT COUNT(*) FROM (");
        self.0.walk_ast(out.reborrow())?;
        out.push_sql(") AS counted");
        Ok(())
    }
}

impl<Q> RunQueryDsl<DbConn> for CountRows<Q> {}

/// What the trigger that keeps live token names unique says on SQLite (whose
/// driver reports a trigger's refusal as an unknown error).
const LIVE_NAME_TAKEN: &str = "live token name taken";

/// Runs `f` in a transaction that holds the write lock from its start.
///
/// On SQLite (WAL) a transaction that reads first and writes later cannot wait
/// for the lock: if another connection committed in between, its first write
/// fails at once with SQLITE_BUSY, whatever the busy timeout, and the request
/// became a 500. Taking the write lock first (as `BEGIN IMMEDIATE` does) makes it
/// wait its turn instead. On PostgreSQL this is a plain transaction.
/// Every transaction that writes goes through here.
pub fn transaction<T, E, F>(conn: &mut DbConn, f: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConn) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    conn.transaction(|conn| {
        if matches!(conn, DbConn::Sqlite(_)) {
            // A write that changes nothing, yet takes the lock.
            conn.batch_execute("UPDATE settings SET id = id WHERE id = 0")?;
        }
        f(conn)
    })
}

/// Whether a diesel error is a unique-constraint violation (a name clash),
/// including the live-token-name trigger's refusal.
pub fn is_unique_violation(err: &diesel::result::Error) -> bool {
    use diesel::result::{DatabaseErrorKind, Error};
    match err {
        Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => true,
        Error::DatabaseError(_, info) => info.message() == LIVE_NAME_TAKEN,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::DatabaseUrl;

    /// A transaction that reads, lets another connection try to write, then
    /// writes itself: both must succeed (the other one waits).
    #[test]
    #[allow(
        clippy::disallowed_methods,
        reason = "the other writer must try while this transaction is open, and nothing tells when it has"
    )]
    fn a_transaction_that_reads_first_still_writes_under_concurrency() {
        use diesel::connection::SimpleConnection as _;
        let dir = tempfile::tempdir().unwrap();
        let url =
            DatabaseUrl::parse(&format!("sqlite://{}", dir.path().join("t.db").display())).unwrap();
        let pool = super::connect_and_migrate(&url, 2).unwrap();
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let other_pool = pool.clone();
        let other = std::thread::spawn(move || {
            rx.recv().unwrap();
            let mut conn = other_pool.get().unwrap();
            conn.batch_execute("UPDATE settings SET tenant_id = 'other'")
        });
        let mut conn = pool.get().unwrap();
        let mine: diesel::QueryResult<()> = super::transaction(&mut conn, |conn| {
            conn.batch_execute("SELECT COUNT(*) FROM tokens")?;
            tx.send(()).unwrap();
            std::thread::sleep(std::time::Duration::from_millis(300));
            conn.batch_execute("UPDATE settings SET retention_days = 30")
        });
        mine.expect("the transaction that read first commits");
        other
            .join()
            .unwrap()
            .expect("the other writer waited its turn");
    }

    #[test]
    fn redaction_hides_every_password() {
        for (url, shown) in [
            (
                "postgres://ada:secret@db.example/tessera",
                "postgres://ada:***@db.example/tessera?connect_timeout=5",
            ),
            (
                "postgres://ada:p@ss@db.example/tessera",
                "postgres://ada:***@db.example/tessera?connect_timeout=5",
            ),
            (
                "postgresql://ada@db.example/t?password=secret&sslmode=require",
                "postgresql://ada@db.example/t?password=***&sslmode=require&connect_timeout=5",
            ),
            (
                "postgres://db.example/t",
                "postgres://db.example/t?connect_timeout=5",
            ),
        ] {
            let redacted = DatabaseUrl::parse(url).unwrap().redacted();
            assert_eq!(redacted, shown);
            assert!(!redacted.contains("secret") && !redacted.contains("ss@"));
        }
    }
}
