//! The validated-token cache: what a token authenticated as, kept in memory so
//! that a busy integration costs no database lookup per request, on SQLite and
//! on PostgreSQL alike, with any number of instances.
//!
//! Every entry is tagged with the validity epoch (`db::validity`) it was looked
//! up at, read *before* the lookup: a change that committed in between shows
//! as a newer epoch and the entry is never trusted. An entry answers a request
//! only when a reading of the epoch that started after the request arrived
//! (`tokens::epoch`) still shows its tag, so a revocation that answered on any
//! instance is refused by every request that starts later. The epoch is moved
//! by database triggers, so an edit made with psql or the sqlite3 shell is seen
//! at once too. Expiry is checked against the cached row at every use, and an
//! entry is looked up afresh after [`MAX_AGE`] whatever the epoch says.
//!
//! The scope catalog and the tenant id, which every lookup needs, are kept the
//! same way ([`Context`]): a lookup reads them only when the epoch moved.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use chrono::{NaiveDateTime, TimeDelta};

use super::Authenticated;
use crate::domain::scopes::ScopeSet;

/// Most entries kept; past this, entries of older epochs go first, then everything.
const CAPACITY: usize = 20_000;

/// The longest an entry is trusted without a database lookup.
pub const MAX_AGE: TimeDelta = TimeDelta::seconds(30);

/// What every token lookup needs besides the token's own rows, as of one epoch.
#[derive(Debug)]
pub struct Context {
    pub epoch: i64,
    /// The names of the scopes in the catalog that are not retired.
    pub active_scopes: ScopeSet,
    /// The deployment's tenant id (introspection reports it).
    pub tenant: String,
}

#[derive(Debug)]
struct Entry {
    epoch: i64,
    looked_up_at: NaiveDateTime,
    auth: Arc<Authenticated>,
}

#[derive(Debug, Default)]
pub struct TokenCache {
    entries: RwLock<HashMap<[u8; 32], Entry>>,
    context: RwLock<Option<Arc<Context>>>,
}

impl TokenCache {
    /// The cached authentication of a token hash and the epoch it was looked up
    /// at, if younger than [`MAX_AGE`] and unexpired; the caller still has to
    /// check the epoch against a fresh reading.
    pub fn get(&self, sha256: &[u8; 32], now: NaiveDateTime) -> Option<(i64, Arc<Authenticated>)> {
        let entries = self
            .entries
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let entry = entries.get(sha256)?;
        (now < entry.looked_up_at + MAX_AGE && !entry.auth.token.is_expired(now))
            .then(|| (entry.epoch, entry.auth.clone()))
    }

    /// Remembers a successful authentication looked up at `epoch` (read before
    /// the lookup), at the time `looked_up_at` (taken before the lookup).
    pub fn insert(
        &self,
        sha256: [u8; 32],
        epoch: i64,
        looked_up_at: NaiveDateTime,
        auth: Arc<Authenticated>,
    ) {
        let mut entries = self
            .entries
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if entries.len() >= CAPACITY {
            entries.retain(|_, entry| entry.epoch >= epoch);
            if entries.len() >= CAPACITY {
                entries.clear();
            }
        }
        entries.insert(
            sha256,
            Entry {
                epoch,
                looked_up_at,
                auth,
            },
        );
    }

    /// Drops an entry that a fresh reading showed to be out of date.
    pub fn remove(&self, sha256: &[u8; 32]) {
        self.entries
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(sha256);
    }

    /// The catalog and settings as of `epoch`, if that is what is kept.
    pub fn context_at(&self, epoch: i64) -> Option<Arc<Context>> {
        let context = self
            .context
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        context.as_ref().filter(|c| c.epoch == epoch).cloned()
    }

    /// Keeps `context` unless a newer one is kept already.
    pub fn keep_context(&self, context: Arc<Context>) {
        let mut kept = self
            .context
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if kept.as_ref().is_none_or(|k| k.epoch <= context.epoch) {
            *kept = Some(context);
        }
    }

    /// Forgets everything (after an outage: the database may be another one).
    pub fn clear(&self) {
        self.entries
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear();
        *self
            .context
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::tokens::NewToken;
    use crate::db::users::User;
    use crate::domain::token::TokenKind;

    fn at(secs: i64) -> NaiveDateTime {
        chrono::DateTime::from_timestamp(secs, 0)
            .unwrap()
            .naive_utc()
    }

    fn auth(expires_at: Option<NaiveDateTime>) -> Arc<Authenticated> {
        let t0 = at(0);
        Arc::new(Authenticated {
            token: NewToken::new(TokenKind::Personal, "ci", 1, &[0; 32], "tsrp_abcd", t0)
                .created_by(None)
                .expires_at(expires_at)
                .into_row(1),
            owner: User {
                id: 1,
                username: "ada".into(),
                email: "ada@example.com".into(),
                display_name: "Ada".into(),
                password_hash: String::new(),
                is_admin: false,
                status: crate::domain::account::UserStatus::Active,
                created_at: t0,
                updated_at: t0,
                last_login_at: None,
            },
            scopes: std::collections::BTreeSet::new(),
            department: None,
            user_type: None,
            tenant: String::new(),
            previous_until: None,
            me_body: std::sync::OnceLock::new(),
        })
    }

    #[test]
    fn an_entry_keeps_its_epoch() {
        let cache = TokenCache::default();
        cache.insert([1; 32], 7, at(0), auth(None));
        assert_eq!(cache.get(&[1; 32], at(10)).map(|(epoch, _)| epoch), Some(7));
        assert!(cache.get(&[2; 32], at(10)).is_none());
        cache.remove(&[1; 32]);
        assert!(cache.get(&[1; 32], at(10)).is_none());
    }

    #[test]
    fn expiry_is_checked_at_every_use() {
        let cache = TokenCache::default();
        cache.insert([1; 32], 1, at(90), auth(Some(at(100))));
        assert!(cache.get(&[1; 32], at(99)).is_some());
        assert!(cache.get(&[1; 32], at(100)).is_none());
    }

    #[test]
    fn an_entry_is_looked_up_again_after_max_age() {
        let cache = TokenCache::default();
        cache.insert([1; 32], 1, at(100), auth(None));
        let age = MAX_AGE.num_seconds();
        assert!(cache.get(&[1; 32], at(100 + age - 1)).is_some());
        assert!(cache.get(&[1; 32], at(100 + age)).is_none());
    }

    #[test]
    fn a_full_cache_drops_older_epochs_first() {
        let cache = TokenCache::default();
        for i in 0..CAPACITY {
            let mut key = [0; 32];
            key[..8].copy_from_slice(&(i as u64).to_le_bytes());
            cache.insert(key, if i == 0 { 2 } else { 1 }, at(0), auth(None));
        }
        cache.insert([9; 32], 2, at(0), auth(None));
        let mut first = [0; 32];
        first[..8].copy_from_slice(&0u64.to_le_bytes());
        assert!(cache.get(&first, at(1)).is_some(), "same epoch kept");
        assert!(cache.get(&[9; 32], at(1)).is_some());
        let mut second = [0; 32];
        second[..8].copy_from_slice(&1u64.to_le_bytes());
        assert!(cache.get(&second, at(1)).is_none(), "older epoch dropped");
    }

    #[test]
    fn the_context_of_one_epoch_only() {
        let cache = TokenCache::default();
        let context = |epoch| {
            Arc::new(Context {
                epoch,
                active_scopes: ScopeSet::new(),
                tenant: String::new(),
            })
        };
        cache.keep_context(context(3));
        assert!(cache.context_at(3).is_some());
        assert!(cache.context_at(4).is_none());
        cache.keep_context(context(2));
        assert!(
            cache.context_at(3).is_some(),
            "an older one does not replace it"
        );
        cache.clear();
        assert!(cache.context_at(3).is_none());
    }
}
