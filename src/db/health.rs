//! Whether the database answers, as this process last found out.
//!
//! Work that finds the database gone (a pool that cannot connect, a connection
//! that closed, an I/O error from SQLite) marks it down; while it is down every
//! piece of database work fails at once with 503 instead of waiting for a
//! connection, and no token is accepted from memory. The background thread
//! probes with a fresh connection (about once a second) and marks it up again as
//! soon as that works: no restart is needed. On SQLite the probe also runs while
//! it is up, because connections already open keep reading a file that was
//! removed or replaced; only a fresh open notices.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection as _;
use diesel::prelude::*;

use super::{Backend, DatabaseUrl};

/// How long after an outage pooled PostgreSQL connections are checked before use.
const CHECK_CONNECTIONS_FOR: Duration = Duration::from_secs(60);

#[derive(Debug)]
pub struct DbHealth {
    up: AtomicBool,
    /// Probes that failed in a row; one alone (a file briefly busy) is not an outage.
    failed_probes: AtomicU32,
    since: Instant,
    /// Until when (milliseconds after `since`) pooled connections are checked
    /// with a query before use: after trouble, some may be dead.
    check_until_ms: AtomicU64,
}

impl Default for DbHealth {
    fn default() -> Self {
        Self {
            up: AtomicBool::new(true),
            failed_probes: AtomicU32::new(0),
            since: Instant::now(),
            check_until_ms: AtomicU64::new(0),
        }
    }
}

impl DbHealth {
    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::SeqCst)
    }

    /// Whether a pooled connection should be checked before use: only while
    /// the database is in trouble or shortly after, so that a request does not
    /// pay a round trip for `SELECT 1` when all is well.
    pub fn check_connections(&self) -> bool {
        !self.is_up() || self.elapsed_ms() < self.check_until_ms.load(Ordering::SeqCst)
    }

    fn elapsed_ms(&self) -> u64 {
        u64::try_from(self.since.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn check_connections_for_a_while(&self) {
        let until = self
            .elapsed_ms()
            .saturating_add(u64::try_from(CHECK_CONNECTIONS_FOR.as_millis()).unwrap_or(u64::MAX));
        self.check_until_ms.fetch_max(until, Ordering::SeqCst);
    }

    pub fn mark_down(&self, why: &str) {
        self.check_connections_for_a_while();
        if self.up.swap(false, Ordering::SeqCst) {
            tracing::error!(
                why,
                "the database does not answer; refusing work until it does"
            );
        }
    }

    /// Marks the database up; `before_up` runs first when it was down, so that
    /// whatever was remembered from before the outage is forgotten before anything
    /// may use it again (the database may have changed meanwhile).
    fn mark_up(&self, before_up: impl FnOnce()) {
        if self.is_up() {
            return;
        }
        before_up();
        self.check_connections_for_a_while();
        if !self.up.swap(true, Ordering::SeqCst) {
            tracing::warn!("the database answers again");
        }
    }

    /// Probes with a fresh connection when that is how to learn something new
    /// (see the module comment), and records the answer; `on_recovery` runs when
    /// the database answers again after an outage, before it counts as up.
    pub fn probe(&self, url: &DatabaseUrl, on_recovery: impl FnOnce()) {
        if self.is_up() && url.backend() == Backend::Postgres {
            return;
        }
        match probe(url) {
            Ok(()) => {
                self.failed_probes.store(0, Ordering::SeqCst);
                self.mark_up(on_recovery);
            }
            Err(why) => {
                if self.failed_probes.fetch_add(1, Ordering::SeqCst) >= 1 {
                    self.mark_down(&why);
                }
            }
        }
    }
}

/// Opens a new connection (never creating a SQLite file) and reads a table.
fn probe(url: &DatabaseUrl) -> Result<(), String> {
    let mut conn = match url.backend() {
        Backend::Postgres => {
            super::DbConn::Pg(PgConnection::establish(url.target()).map_err(|e| e.to_string())?)
        }
        Backend::Sqlite => {
            let uri = format!("file:{}?mode=rw", uri_escape(url.target()));
            let mut conn = SqliteConnection::establish(&uri).map_err(|e| e.to_string())?;
            conn.batch_execute("PRAGMA busy_timeout = 1000")
                .map_err(|e| e.to_string())?;
            super::DbConn::Sqlite(conn)
        }
    };
    conn.batch_execute("SELECT id FROM settings LIMIT 1")
        .map_err(|e| e.to_string())
}

/// A path as the path part of a SQLite `file:` URI.
pub(super) fn uri_escape(path: &str) -> String {
    path.chars()
        .map(|c| match c {
            '?' => "%3f".to_owned(),
            '#' => "%23".to_owned(),
            '%' => "%25".to_owned(),
            c => c.to_string(),
        })
        .collect()
}

/// Whether a database error means the database itself is gone (as opposed to
/// a problem with one statement).
pub fn is_unavailable(err: &diesel::result::Error) -> bool {
    use diesel::result::{DatabaseErrorKind, Error};
    match err {
        Error::DatabaseError(DatabaseErrorKind::ClosedConnection, _) => true,
        Error::DatabaseError(_, info) => {
            let message = info.message();
            [
                // SQLite
                "disk I/O error",
                "unable to open database file",
                "file is not a database",
                "database disk image is malformed",
                "attempt to write a readonly database",
                // PostgreSQL: a pooled connection that died (pooled connections
                // are only tested before use after trouble, so this is how
                // trouble is first noticed).
                "server closed the connection unexpectedly",
                "no connection to the server",
                "could not receive data from server",
                "could not send data to server",
                "terminating connection due to administrator command",
                "the database system is shutting down",
                "the database system is starting up",
            ]
            .iter()
            .any(|m| message.contains(m))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_sqlite_file_is_down_and_never_created() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gone?.db");
        let url = DatabaseUrl::parse(&format!("sqlite://{}", path.display())).unwrap();
        let health = DbHealth::default();
        let recoveries = std::cell::Cell::new(0);
        let recovered = || recoveries.set(recoveries.get() + 1);
        health.probe(&url, recovered);
        assert!(health.is_up(), "one failed probe is not an outage");
        health.probe(&url, recovered);
        assert!(!health.is_up());
        assert!(!path.exists(), "the probe creates no file");
        super::super::connect_and_migrate(&url, 1).unwrap();
        health.probe(&url, recovered);
        assert!(health.is_up());
        health.probe(&url, recovered);
        assert_eq!(
            recoveries.get(),
            1,
            "once per outage, before it counts as up"
        );
    }
}
