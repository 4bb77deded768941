//! The validated-token cache: what a token authenticated as, kept in memory so
//! that a busy integration costs no database round trip per request.
//!
//! Correctness rests on one rule: every piece of work that may change the
//! database through this process (`AppState::db`) ends by moving the
//! *generation* on, from its blocking thread, after its transaction committed
//! and before its response can be sent; an entry is only used while its
//! generation is the current one. An entry stores the generation read *before*
//! its database lookup, so a lookup that raced a change is never trusted. A
//! revocation is therefore refused by every request that starts after its
//! response. Expiry is checked against the cached row at every use.
//!
//! Changes made behind the server's back (another process's `purge`, an edit
//! with the `sqlite3` shell, a database restored while it was away) are not
//! announced: every entry is looked up afresh after [`MAX_AGE`] at the latest,
//! and after every outage (`db::health`).
//!
//! Only for SQLite, which one `serve` process owns (see `db::ServeLock`): several
//! instances on one PostgreSQL database cannot see each other's changes in
//! memory, so there the cache is off and every request reads the database.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use chrono::{NaiveDateTime, TimeDelta};

use super::Authenticated;

/// Most entries kept; past this, stale entries go first, then everything.
const CAPACITY: usize = 20_000;

/// The longest an entry is trusted without a database lookup.
pub const MAX_AGE: TimeDelta = TimeDelta::seconds(30);

#[derive(Debug)]
struct Entry {
    generation: u64,
    looked_up_at: NaiveDateTime,
    auth: Arc<Authenticated>,
}

#[derive(Debug)]
pub struct TokenCache {
    enabled: bool,
    generation: AtomicU64,
    entries: RwLock<HashMap<[u8; 32], Entry>>,
}

impl TokenCache {
    pub fn new(enabled: bool) -> Self {
        Self {
            enabled,
            generation: AtomicU64::new(0),
            entries: RwLock::new(HashMap::new()),
        }
    }

    /// The generation to tag a lookup with: read it before the lookup starts.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// Forgets every entry (in effect): something may have changed.
    pub fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// The cached authentication of a token hash, if still current, younger than
    /// [`MAX_AGE`] and unexpired.
    pub fn get(&self, sha256: &[u8; 32], now: NaiveDateTime) -> Option<Arc<Authenticated>> {
        if !self.enabled {
            return None;
        }
        let current = self.generation();
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        let entry = entries.get(sha256)?;
        (entry.generation == current
            && now < entry.looked_up_at + MAX_AGE
            && !entry.auth.token.is_expired(now))
        .then(|| entry.auth.clone())
    }

    /// Remembers a successful authentication looked up at `generation`, at the
    /// time `looked_up_at` (taken before the lookup).
    pub fn insert(
        &self,
        sha256: [u8; 32],
        generation: u64,
        looked_up_at: NaiveDateTime,
        auth: Arc<Authenticated>,
    ) {
        if !self.enabled || generation != self.generation() {
            return;
        }
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= CAPACITY {
            let current = self.generation();
            entries.retain(|_, entry| entry.generation == current);
            if entries.len() >= CAPACITY {
                entries.clear();
            }
        }
        entries.insert(
            sha256,
            Entry {
                generation,
                looked_up_at,
                auth,
            },
        );
    }
}

/// Moves the generation on when dropped: `AppState::db` holds one while its work
/// runs, so even work that fails or panics half-way invalidates the cache.
pub struct InvalidateOnDrop<'a>(pub &'a TokenCache);

impl Drop for InvalidateOnDrop<'_> {
    fn drop(&mut self) {
        self.0.invalidate();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::tokens::Token;
    use crate::db::users::User;

    fn at(secs: i64) -> NaiveDateTime {
        chrono::DateTime::from_timestamp(secs, 0)
            .unwrap()
            .naive_utc()
    }

    fn auth(expires_at: Option<NaiveDateTime>) -> Arc<Authenticated> {
        let t0 = at(0);
        Arc::new(Authenticated {
            token: Token {
                id: 1,
                kind: "personal".into(),
                name: "ci".into(),
                description: String::new(),
                owner_id: 1,
                created_by: None,
                department_id: None,
                user_type_id: None,
                scopes: String::new(),
                display_prefix: "tsrp_abcd".into(),
                status: "active".into(),
                created_at: t0,
                updated_at: t0,
                expires_at,
                last_used_at: None,
                last_used_ip: None,
                last_used_user_agent: None,
                device_name: None,
                revoked_at: None,
                revoked_by: None,
            },
            owner: User {
                id: 1,
                username: "ada".into(),
                email: "ada@example.com".into(),
                display_name: "Ada".into(),
                password_hash: String::new(),
                is_admin: false,
                status: "active".into(),
                created_at: t0,
                updated_at: t0,
                last_login_at: None,
            },
            scopes: Default::default(),
            department: None,
            user_type: None,
            tenant: String::new(),
        })
    }

    #[test]
    fn an_entry_lives_until_the_next_change() {
        let cache = TokenCache::new(true);
        let generation = cache.generation();
        cache.insert([1; 32], generation, at(0), auth(None));
        assert!(cache.get(&[1; 32], at(10)).is_some());
        assert!(cache.get(&[2; 32], at(10)).is_none());
        cache.invalidate();
        assert!(cache.get(&[1; 32], at(10)).is_none(), "a change ends it");
    }

    #[test]
    fn a_lookup_that_raced_a_change_is_not_kept() {
        let cache = TokenCache::new(true);
        let before = cache.generation();
        cache.invalidate(); // a revocation committed while the lookup ran
        cache.insert([1; 32], before, at(0), auth(None));
        assert!(cache.get(&[1; 32], at(10)).is_none());
    }

    #[test]
    fn expiry_is_checked_at_every_use() {
        let cache = TokenCache::new(true);
        cache.insert([1; 32], cache.generation(), at(90), auth(Some(at(100))));
        assert!(cache.get(&[1; 32], at(99)).is_some());
        assert!(cache.get(&[1; 32], at(100)).is_none());
    }

    #[test]
    fn a_disabled_cache_keeps_nothing() {
        let cache = TokenCache::new(false);
        cache.insert([1; 32], cache.generation(), at(0), auth(None));
        assert!(cache.get(&[1; 32], at(10)).is_none());
    }

    #[test]
    fn an_entry_is_looked_up_again_after_max_age() {
        let cache = TokenCache::new(true);
        cache.insert([1; 32], cache.generation(), at(100), auth(None));
        let age = MAX_AGE.num_seconds();
        assert!(cache.get(&[1; 32], at(100 + age - 1)).is_some());
        assert!(cache.get(&[1; 32], at(100 + age)).is_none());
    }

    #[test]
    fn invalidate_on_drop_fires_on_panic_too() {
        let cache = TokenCache::new(true);
        let before = cache.generation();
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _guard = InvalidateOnDrop(&cache);
            panic!("half-way");
        }));
        assert!(result.is_err());
        assert_ne!(cache.generation(), before);
    }
}
