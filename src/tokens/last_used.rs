//! Last use of tokens (time, IP, user agent), written at most once a minute per
//! token and never on the request path: uses are buffered here and written by
//! the background thread (`crate::background`) about once a second, in one
//! transaction, and once more when the server shuts down gracefully.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use chrono::{NaiveDateTime, TimeDelta};

use crate::db::tokens::{self as token_rows, Use};
use crate::db::{DbConn, DbPool};

/// Last use is written at most this often per token.
pub const GRANULARITY: TimeDelta = TimeDelta::seconds(60);

#[derive(Debug, Default)]
struct Inner {
    /// When each token's use was last recorded (buffered or written), for the
    /// once-a-minute rule; entries older than a minute are dropped at each flush.
    recorded: HashMap<i64, NaiveDateTime>,
    /// Uses waiting to be written.
    pending: HashMap<i64, Use>,
}

#[derive(Debug, Default)]
pub struct LastUseBuffer {
    inner: Mutex<Inner>,
}

impl LastUseBuffer {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Notes a use of token `token_id`, whose row says it was last used at
    /// `stored`, unless one was recorded within the minute.
    pub fn record(
        &self,
        token_id: i64,
        stored: Option<NaiveDateTime>,
        at: NaiveDateTime,
        ip: &str,
        user_agent: Option<&str>,
    ) {
        let mut inner = self.lock();
        let last = inner.recorded.get(&token_id).copied().max(stored);
        if last.is_some_and(|last| at - last < GRANULARITY) {
            return;
        }
        inner.recorded.insert(token_id, at);
        inner.pending.insert(
            token_id,
            Use {
                token_id,
                at,
                ip: ip.to_owned(),
                user_agent: user_agent.map(str::to_owned),
            },
        );
    }

    pub fn has_pending(&self) -> bool {
        !self.lock().pending.is_empty()
    }

    /// Writes every pending use. On failure they are put back for the next try.
    pub fn flush(&self, conn: &mut DbConn) -> diesel::QueryResult<usize> {
        let uses: Vec<Use> = {
            let mut inner = self.lock();
            let now = crate::db::now();
            inner.recorded.retain(|_, at| now - *at < GRANULARITY);
            inner.pending.drain().map(|(_, used)| used).collect()
        };
        if uses.is_empty() {
            return Ok(0);
        }
        // What was not written (all of it, on an error) waits for the next flush.
        let outcome = token_rows::record_uses(conn, &uses);
        let left: HashSet<i64> = match &outcome {
            Ok(left) => left.iter().copied().collect(),
            Err(_) => uses.iter().map(|used| used.token_id).collect(),
        };
        let written = uses.len() - left.len();
        let mut inner = self.lock();
        for used in uses
            .into_iter()
            .filter(|used| left.contains(&used.token_id))
        {
            inner.pending.entry(used.token_id).or_insert(used);
        }
        outcome.map(|_| written)
    }

    /// Flushes on a pooled connection; failures are logged (the next flush retries).
    pub fn flush_with(&self, pool: &DbPool) {
        let result = pool
            .get()
            .map_err(|e| e.to_string())
            .and_then(|mut conn| self.flush(&mut conn).map_err(|e| e.to_string()));
        if let Err(error) = result {
            tracing::warn!(%error, "cannot write the last use of tokens yet");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> NaiveDateTime {
        chrono::DateTime::from_timestamp(1_000_000 + secs, 0)
            .unwrap()
            .naive_utc()
    }

    fn pending(buffer: &LastUseBuffer) -> Vec<(i64, NaiveDateTime)> {
        let mut uses: Vec<_> = buffer
            .lock()
            .pending
            .values()
            .map(|u| (u.token_id, u.at))
            .collect();
        uses.sort();
        uses
    }

    #[test]
    fn at_most_one_use_a_minute_per_token() {
        let buffer = LastUseBuffer::default();
        buffer.record(1, None, at(0), "192.0.2.1", None);
        buffer.record(1, None, at(30), "192.0.2.1", None);
        buffer.record(2, Some(at(-10)), at(30), "192.0.2.1", None);
        buffer.record(3, Some(at(-90)), at(30), "192.0.2.1", Some("curl"));
        assert_eq!(pending(&buffer), vec![(1, at(0)), (3, at(30))]);
        buffer.record(1, None, at(60), "192.0.2.9", None);
        assert_eq!(pending(&buffer), vec![(1, at(60)), (3, at(30))]);
    }
}
