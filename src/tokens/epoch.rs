//! Fresh readings of the validity epoch (`db::validity`), shared by every
//! request that waits for one.
//!
//! A cached token may answer a request only if the epoch it was cached at is
//! still the epoch in a reading that *started after the request arrived*: then
//! any revocation that had answered before the request arrived (on this
//! instance or any other, or by hand with psql) had committed before the
//! reading began, so the reading shows the epoch moved and the entry is not
//! used. One thread with its own connection takes the readings, one at a time:
//! a request asks for "the next reading to start" and waits for it, so every
//! request that arrives while one reading is in flight shares the one after it.
//! Under load one tiny query serves a crowd of requests, and the pool is never
//! involved.
//!
//! On SQLite a reading is a few microseconds of work on a local file, less than
//! handing it to another thread and back (which, with the cores busy hashing
//! passwords, can wait for the scheduler for milliseconds): there each request
//! reads on its own worker, with a connection of the reader's.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use diesel::connection::SimpleConnection as _;
use tokio::sync::watch;

use crate::db::{Backend, DatabaseUrl, DbConn, validity};

/// The longest a request waits for a reading before it looks the token up in
/// the database instead (which then reports whatever is wrong).
const WAIT_AT_MOST: Duration = Duration::from_secs(2);

/// A finished reading: its sequence number and the epoch, `None` when the
/// database could not be read.
#[derive(Debug, Clone, Copy)]
struct Reading {
    id: u64,
    epoch: Option<i64>,
}

#[derive(Debug, Default)]
struct Turns {
    /// The sequence number of the last reading started.
    started: u64,
    /// The highest reading anyone waits for.
    wanted: u64,
    /// The connection is to be opened afresh before the next reading (after
    /// an outage: the database may not be the one it was).
    reconnect: bool,
    stopped: bool,
}

#[derive(Debug)]
struct Shared {
    turns: Mutex<Turns>,
    wake: Condvar,
    done: watch::Sender<Reading>,
}

impl Shared {
    fn turns(&self) -> MutexGuard<'_, Turns> {
        self.turns
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The handle requests use; the reading thread stops when it is dropped.
pub struct EpochReader {
    how: How,
}

enum How {
    /// PostgreSQL: one reading thread, whose readings the waiting requests share.
    Shared(Arc<Shared>),
    /// SQLite: each request reads at once on a connection of these.
    Inline {
        url: DatabaseUrl,
        idle: Mutex<Vec<(u64, DbConn)>>,
        /// Connections opened before the last `reconnect` are not used again.
        generation: AtomicU64,
    },
}

impl EpochReader {
    /// Starts reading the epoch of this database (a thread, on PostgreSQL).
    pub fn spawn(url: DatabaseUrl) -> std::io::Result<Self> {
        if url.backend() == Backend::Sqlite {
            return Ok(Self {
                how: How::Inline {
                    url,
                    idle: Mutex::new(Vec::new()),
                    generation: AtomicU64::new(0),
                },
            });
        }
        let (done, _) = watch::channel(Reading { id: 0, epoch: None });
        let shared = Arc::new(Shared {
            turns: Mutex::new(Turns::default()),
            wake: Condvar::new(),
            done,
        });
        let thread_shared = shared.clone();
        std::thread::Builder::new()
            .name("validity-epoch".into())
            .spawn(move || read_on_demand(&thread_shared, &url))?;
        Ok(Self {
            how: How::Shared(shared),
        })
    }

    /// The epoch in a reading that started after this call; `None` when the
    /// database could not be read in time.
    pub async fn fresh(&self) -> Option<i64> {
        let shared = match &self.how {
            How::Shared(shared) => shared,
            How::Inline {
                url,
                idle,
                generation,
            } => return read_inline(url, idle, generation.load(Ordering::SeqCst)),
        };
        let need = {
            let mut turns = shared.turns();
            // Whatever is in flight now started before this call: wait for the
            // one after it.
            let need = turns.started + 1;
            if turns.wanted < need {
                turns.wanted = need;
                shared.wake.notify_one();
            }
            need
        };
        let mut done = shared.done.subscribe();
        let reading = tokio::time::timeout(WAIT_AT_MOST, done.wait_for(|r| r.id >= need)).await;
        match reading {
            Ok(Ok(reading)) => reading.epoch,
            _ => None,
        }
    }

    /// Opens new connections for the readings that follow.
    pub fn reconnect(&self) {
        match &self.how {
            How::Shared(shared) => shared.turns().reconnect = true,
            How::Inline { generation, .. } => {
                generation.fetch_add(1, Ordering::SeqCst);
            }
        }
    }
}

impl Drop for EpochReader {
    fn drop(&mut self) {
        if let How::Shared(shared) = &self.how {
            shared.turns().stopped = true;
            shared.wake.notify_one();
        }
    }
}

/// A SQLite reading on the request's own thread. The connection waits at most
/// 10 ms for a lock, since it blocks the worker (readers of a WAL database
/// hardly ever wait): a request that cannot read at once looks its token up
/// through the pool instead.
fn read_inline(
    url: &DatabaseUrl,
    idle: &Mutex<Vec<(u64, DbConn)>>,
    generation: u64,
) -> Option<i64> {
    let kept = idle
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .pop();
    let mut conn = match kept {
        Some((opened_at, conn)) if opened_at == generation => conn,
        _ => {
            let mut conn = url.establish().ok()?;
            conn.batch_execute("PRAGMA busy_timeout = 10").ok()?;
            conn
        }
    };
    let epoch = validity::read(&mut conn).ok()?;
    idle.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .push((generation, conn));
    Some(epoch)
}

/// The reading thread: waits until someone wants a reading that has not
/// started, takes it, publishes it.
fn read_on_demand(shared: &Shared, url: &DatabaseUrl) {
    let mut conn: Option<DbConn> = None;
    loop {
        let id = {
            let mut turns = shared.turns();
            while turns.wanted <= turns.started && !turns.stopped {
                turns = shared
                    .wake
                    .wait(turns)
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
            }
            if turns.stopped {
                return;
            }
            if std::mem::take(&mut turns.reconnect) {
                conn = None;
            }
            turns.started += 1;
            turns.started
        };
        let epoch = read_once(url, &mut conn);
        shared.done.send_replace(Reading { id, epoch });
    }
}

/// One reading, on the thread's connection (opened when there is none, and
/// dropped after an error so that the next reading opens a fresh one).
fn read_once(url: &DatabaseUrl, conn: &mut Option<DbConn>) -> Option<i64> {
    if conn.is_none() {
        match url.establish() {
            Ok(fresh) => *conn = Some(fresh),
            Err(err) => {
                tracing::debug!(error = %err, "cannot connect to read the validity epoch");
                return None;
            }
        }
    }
    let read = conn.as_mut().map(validity::read)?;
    match read {
        Ok(epoch) => Some(epoch),
        Err(err) => {
            tracing::debug!(error = %err, "cannot read the validity epoch");
            *conn = None;
            None
        }
    }
}
