//! The token inventory as `/metrics` reports it: how many tokens of each kind
//! are in each state, and how many active ones expire soon. The database
//! groups by the stored columns (kind, status) and counts the time-dependent
//! cases in the same pass; [`TokenStats::from_groups`] folds those counts into
//! one state per token.

use super::codes::text_codes;
use super::token::{TokenKind, TokenStatus};

text_codes! {
    /// The one state a token is counted in. A token may be both disabled and
    /// expired (its badges show both); here it counts once, in the first state
    /// that applies: revoked, then expired, then disabled, else active, so that
    /// the states of one kind add up to its rows. `as_str` is the `status`
    /// label of the gauge and the CSS class of a page's badge; `label` its text.
    pub enum TokenState {
        Active = "active",
        Disabled = "disabled",
        Expired = "expired",
        Revoked = "revoked",
    }
}

impl TokenState {
    /// As pages show it.
    pub fn label(self) -> &'static str {
        match self {
            TokenState::Active => "Active",
            TokenState::Disabled => "Disabled",
            TokenState::Expired => "Expired",
            TokenState::Revoked => "Revoked",
        }
    }
}

/// One group of the database's count: the rows of one kind and stored status,
/// and how many of them are revoked, expired (not revoked, expiry passed) and
/// expiring soon (not revoked, expiry within the window ahead).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupCount {
    pub kind: TokenKind,
    pub status: TokenStatus,
    pub rows: i64,
    pub revoked: i64,
    pub expired: i64,
    pub expiring_soon: i64,
}

impl GroupCount {
    /// A group and its counts: `[rows, revoked, expired, expiring_soon]`.
    pub fn new(kind: TokenKind, status: TokenStatus, counts: [i64; 4]) -> Self {
        let [rows, revoked, expired, expiring_soon] = counts;
        Self {
            kind,
            status,
            rows,
            revoked,
            expired,
            expiring_soon,
        }
    }
}

/// Tokens by kind and state, and active tokens expiring soon by kind, indexed
/// by the enums' declaration order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenStats {
    counts: [[i64; TokenState::ALL.len()]; TokenKind::ALL.len()],
    expiring_soon: [i64; TokenKind::ALL.len()],
}

impl TokenStats {
    /// Folds the database's groups.
    pub fn from_groups(groups: impl IntoIterator<Item = GroupCount>) -> Self {
        let mut stats = Self::default();
        for group in groups {
            let k = group.kind as usize;
            let stored_active = group.status == TokenStatus::Active;
            let unrevoked_state = if stored_active {
                TokenState::Active
            } else {
                TokenState::Disabled
            };
            let counts = &mut stats.counts[k];
            counts[TokenState::Revoked as usize] += group.revoked;
            counts[TokenState::Expired as usize] += group.expired;
            counts[unrevoked_state as usize] += group.rows - group.revoked - group.expired;
            if stored_active {
                stats.expiring_soon[k] += group.expiring_soon;
            }
        }
        stats
    }

    /// Tokens of `kind` in `state`.
    pub fn count(&self, kind: TokenKind, state: TokenState) -> i64 {
        self.counts[kind as usize][state as usize]
    }

    /// Active tokens of `kind` (not revoked, not disabled) whose expiry is
    /// after now and within the window ahead.
    pub fn expiring_soon(&self, kind: TokenKind) -> i64 {
        self.expiring_soon[kind as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_token_counts_in_exactly_one_state() {
        let stats = TokenStats::from_groups([
            GroupCount::new(TokenKind::Personal, TokenStatus::Active, [10, 2, 3, 4]),
            GroupCount::new(TokenKind::Personal, TokenStatus::Disabled, [5, 1, 2, 1]),
            GroupCount::new(TokenKind::Session, TokenStatus::Active, [7, 0, 0, 0]),
        ]);
        use TokenKind::*;
        use TokenState::*;
        assert_eq!(stats.count(Personal, Active), 5);
        assert_eq!(stats.count(Personal, Disabled), 2);
        assert_eq!(stats.count(Personal, Expired), 3 + 2);
        assert_eq!(stats.count(Personal, Revoked), 2 + 1);
        let total: i64 = TokenState::ALL
            .iter()
            .map(|&s| stats.count(Personal, s))
            .sum();
        assert_eq!(total, 15);
        assert_eq!(stats.count(Session, Active), 7);
        for state in TokenState::ALL {
            assert_eq!(stats.count(Client, state), 0);
            assert_eq!(stats.count(Api, state), 0);
        }
    }

    #[test]
    fn only_active_tokens_count_as_expiring_soon() {
        let stats = TokenStats::from_groups([
            GroupCount::new(TokenKind::Api, TokenStatus::Active, [3, 0, 0, 2]),
            GroupCount::new(TokenKind::Api, TokenStatus::Disabled, [4, 0, 0, 4]),
            GroupCount::new(TokenKind::Client, TokenStatus::Disabled, [1, 0, 0, 1]),
        ]);
        assert_eq!(stats.expiring_soon(TokenKind::Api), 2);
        assert_eq!(stats.expiring_soon(TokenKind::Client), 0);
        assert_eq!(stats.count(TokenKind::Api, TokenState::Disabled), 4);
    }
}
