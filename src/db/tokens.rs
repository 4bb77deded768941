//! Tokens: every kind of bearer credential, one table. Only the SHA-256 of a
//! token is stored; rows name a token by its display prefix.

use chrono::{NaiveDateTime, TimeDelta};
use diesel::prelude::*;

use super::DbConn;
use super::schema::{departments, tokens, user_types, users};
use super::users::User;
use crate::domain::policy::{EXPIRING_SOON_DAYS, token_name_key};
use crate::domain::signals::{self, TokenTimes};
use crate::domain::token::{TokenKind, TokenStatus};
use crate::domain::token_stats::TokenState;

super::text_code::stored_as_text!(TokenKind, TokenStatus);

/// A token row, without its hash.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = tokens)]
pub struct Token {
    pub id: i64,
    pub kind: TokenKind,
    pub name: String,
    pub description: String,
    pub owner_id: i64,
    pub created_by: Option<i64>,
    pub department_id: Option<i64>,
    pub user_type_id: Option<i64>,
    pub scopes: String,
    pub display_prefix: String,
    pub status: TokenStatus,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub expires_at: Option<NaiveDateTime>,
    /// When the current secret was issued: creation, or the last regeneration.
    pub issued_at: NaiveDateTime,
    pub last_used_at: Option<NaiveDateTime>,
    pub last_used_ip: Option<String>,
    pub last_used_user_agent: Option<String>,
    pub device_name: Option<String>,
    pub revoked_at: Option<NaiveDateTime>,
    pub revoked_by: Option<i64>,
    /// Whether a sealed copy of the secret is kept (Show); never the copy.
    #[diesel(select_expression = tokens::sealed_secret.is_not_null())]
    #[diesel(select_expression_type = diesel::dsl::IsNotNull<tokens::sealed_secret>)]
    pub kept: bool,
    /// Until when the secret a regeneration replaced still works (the overlap).
    pub previous_valid_until: Option<NaiveDateTime>,
    pub previous_last_used_at: Option<NaiveDateTime>,
    /// The last time it was presented and refused as revoked, disabled or
    /// expired, and from which address (`note_refused_use`).
    pub refused_use_at: Option<NaiveDateTime>,
    pub refused_use_ip: Option<String>,
}

impl Token {
    pub fn is_active(&self) -> bool {
        self.status == TokenStatus::Active
    }

    pub fn is_expired(&self, now: NaiveDateTime) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }

    /// The end of the previous secret's overlap, while it lasts.
    pub fn overlap_until(&self, now: NaiveDateTime) -> Option<NaiveDateTime> {
        self.previous_valid_until
            .filter(|until| *until > now && self.revoked_at.is_none())
    }

    /// How audit rows and pages name a token: never by its secret.
    pub fn label(&self) -> String {
        format!("{} ({}…)", self.name, self.display_prefix)
    }

    /// Every state that applies, as pages show them: a revoked token is only
    /// revoked; otherwise expired and disabled may both apply; else active.
    pub fn badges(&self, now: &NaiveDateTime) -> Vec<TokenState> {
        if self.revoked_at.is_some() {
            return vec![TokenState::Revoked];
        }
        let mut badges = Vec::with_capacity(2);
        if self.is_expired(*now) {
            badges.push(TokenState::Expired);
        }
        if !self.is_active() {
            badges.push(TokenState::Disabled);
        }
        if badges.is_empty() {
            badges.push(TokenState::Active);
        }
        badges
    }

    /// The words of its refused-use mark ("Used after it was revoked"), if
    /// it was presented while revoked, disabled or expired.
    pub fn refused_use_wording(&self) -> Option<&'static str> {
        let times = TokenTimes {
            revoked_at: self.revoked_at,
            expires_at: self.expires_at,
            disabled: !self.is_active(),
            previous_valid_until: self.previous_valid_until,
        };
        self.refused_use_at
            .map(|at| signals::refused_use_wording(&times, at))
    }

    /// Live (unrevoked, unexpired) and expiring within [`EXPIRING_SOON_DAYS`].
    pub fn expires_soon(&self, now: &NaiveDateTime) -> bool {
        self.revoked_at.is_none()
            && self
                .expires_at
                .is_some_and(|at| at > *now && at - *now <= TimeDelta::days(EXPIRING_SOON_DAYS))
    }
}

/// A token row to insert. Built with [`NewToken::new`] and its setters, so
/// that a new column changes this module and the code that sets it, not
/// every place that inserts a token. The fields are visible in the crate for
/// the seed's COPY, which writes them one by one; build one with `new`.
///
/// `None` is written as NULL rather than left to the column's default (the
/// nullable columns default to NULL anyway): every insert then has the same
/// SQL, and many rows insert in one statement on SQLite too.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = tokens, treat_none_as_default_value = false)]
pub struct NewToken {
    pub(crate) kind: TokenKind,
    pub(crate) name: String,
    /// `domain::policy::token_name_key(name)`: what the unique index compares.
    pub(crate) name_key: String,
    pub(crate) description: String,
    pub(crate) owner_id: i64,
    pub(crate) created_by: Option<i64>,
    pub(crate) department_id: Option<i64>,
    pub(crate) user_type_id: Option<i64>,
    pub(crate) scopes: String,
    pub(crate) display_prefix: String,
    pub(crate) sha256: Vec<u8>,
    pub(crate) status: TokenStatus,
    pub(crate) created_at: NaiveDateTime,
    pub(crate) updated_at: NaiveDateTime,
    pub(crate) expires_at: Option<NaiveDateTime>,
    pub(crate) device_name: Option<String>,
    pub(crate) issued_at: NaiveDateTime,
    pub(crate) sealed_secret: Option<Vec<u8>>,
}

impl NewToken {
    /// An active token of `kind` called `name`, owned and created by
    /// `owner_id` at `now`, stored as its hash and display prefix; no
    /// description, scopes, department, user type, expiry or device until a
    /// setter gives one.
    pub fn new(
        kind: TokenKind,
        name: &str,
        owner_id: i64,
        sha256: &[u8],
        display_prefix: &str,
        now: NaiveDateTime,
    ) -> Self {
        Self {
            kind,
            name: name.to_owned(),
            name_key: token_name_key(name),
            description: String::new(),
            owner_id,
            created_by: Some(owner_id),
            department_id: None,
            user_type_id: None,
            scopes: String::new(),
            display_prefix: display_prefix.to_owned(),
            sha256: sha256.to_vec(),
            status: TokenStatus::Active,
            created_at: now,
            updated_at: now,
            expires_at: None,
            device_name: None,
            issued_at: now,
            sealed_secret: None,
        }
    }

    pub fn description(mut self, description: &str) -> Self {
        description.clone_into(&mut self.description);
        self
    }

    /// Who created it, if not its owner (`None`: nobody signed in, as at setup).
    pub fn created_by(mut self, user_id: Option<i64>) -> Self {
        self.created_by = user_id;
        self
    }

    /// The stored scopes, space-separated (`domain::scopes::join`).
    pub fn scopes(mut self, scopes: &str) -> Self {
        scopes.clone_into(&mut self.scopes);
        self
    }

    pub fn department_id(mut self, id: Option<i64>) -> Self {
        self.department_id = id;
        self
    }

    pub fn user_type_id(mut self, id: Option<i64>) -> Self {
        self.user_type_id = id;
        self
    }

    pub fn status(mut self, status: TokenStatus) -> Self {
        self.status = status;
        self
    }

    pub fn expires_at(mut self, at: Option<NaiveDateTime>) -> Self {
        self.expires_at = at;
        self
    }

    pub fn device_name(mut self, name: Option<&str>) -> Self {
        self.device_name = name.map(str::to_owned);
        self
    }

    /// The sealed copy of the secret (`sealing::Sealer::seal`), kept for Show.
    pub fn sealed(mut self, sealed: Option<Vec<u8>>) -> Self {
        self.sealed_secret = sealed;
        self
    }

    /// How audit rows name the token once inserted, as [`Token::label`] does.
    pub fn label(&self) -> String {
        format!("{} ({}…)", self.name, self.display_prefix)
    }

    /// The row this insert makes, with the id the database gave it: for unit
    /// tests that need a [`Token`] without a database.
    pub fn into_row(self, id: i64) -> Token {
        Token {
            id,
            kind: self.kind,
            name: self.name,
            description: self.description,
            owner_id: self.owner_id,
            created_by: self.created_by,
            department_id: self.department_id,
            user_type_id: self.user_type_id,
            scopes: self.scopes,
            display_prefix: self.display_prefix,
            status: self.status,
            created_at: self.created_at,
            updated_at: self.updated_at,
            expires_at: self.expires_at,
            issued_at: self.issued_at,
            last_used_at: None,
            last_used_ip: None,
            last_used_user_agent: None,
            device_name: self.device_name,
            revoked_at: None,
            revoked_by: None,
            kept: self.sealed_secret.is_some(),
            previous_valid_until: None,
            previous_last_used_at: None,
            refused_use_at: None,
            refused_use_ip: None,
        }
    }
}

/// Inserts a token; a live name clash for the same owner and kind is a
/// `UniqueViolation`.
pub fn insert(conn: &mut DbConn, new: &NewToken) -> QueryResult<i64> {
    diesel::insert_into(tokens::table)
        .values(new)
        .returning(tokens::id)
        .get_result(conn)
}

/// The token whose whole value hashes to `sha256`, revoked or not.
pub fn find_by_hash(conn: &mut DbConn, sha256: &[u8]) -> QueryResult<Option<Token>> {
    tokens::table
        .filter(tokens::sha256.eq(sha256))
        .select(Token::as_select())
        .first(conn)
        .optional()
}

/// What authentication needs of a token, read in one query.
#[derive(Debug, Clone)]
pub struct ForAuth {
    pub token: Token,
    pub owner: User,
    /// The user type's name and scopes, if the token has one.
    pub user_type: Option<(String, String)>,
    pub department: Option<String>,
    /// Found by its previous secret (see `previous_valid_until`).
    pub via_previous: bool,
}

/// The token whose whole value hashes to `sha256` (revoked or not), joined with
/// its owner, user type and department; failing that, the token whose previous
/// secret (replaced by a regeneration with an overlap) it is.
pub fn find_for_auth(conn: &mut DbConn, sha256: &[u8]) -> QueryResult<Option<ForAuth>> {
    if let Some(found) = find_for_auth_by(conn, sha256, false)? {
        return Ok(Some(found));
    }
    find_for_auth_by(conn, sha256, true)
}

fn find_for_auth_by(
    conn: &mut DbConn,
    sha256: &[u8],
    via_previous: bool,
) -> QueryResult<Option<ForAuth>> {
    let query = tokens::table
        .inner_join(users::table)
        .left_join(user_types::table)
        .left_join(departments::table)
        .select((
            Token::as_select(),
            User::as_select(),
            (user_types::name, user_types::scopes).nullable(),
            departments::name.nullable(),
        ))
        .into_boxed::<super::Db>();
    let query = if via_previous {
        query.filter(tokens::previous_sha256.eq(sha256))
    } else {
        query.filter(tokens::sha256.eq(sha256))
    };
    query
        .first::<(Token, User, Option<(String, String)>, Option<String>)>(conn)
        .optional()
        .map(|row| {
            row.map(|(token, owner, user_type, department)| ForAuth {
                token,
                owner,
                user_type,
                department,
                via_previous,
            })
        })
}

/// A live (unrevoked) token of `owner`'s, of one of `kinds`; anyone else's id,
/// or a token of another kind, is `NotFound`.
pub fn find_owned(
    conn: &mut DbConn,
    id: i64,
    owner_id: i64,
    kinds: &[TokenKind],
) -> QueryResult<Token> {
    tokens::table
        .find(id)
        .filter(tokens::owner_id.eq(owner_id))
        .filter(tokens::kind.eq_any(kinds))
        .filter(tokens::revoked_at.is_null())
        .select(Token::as_select())
        .first(conn)
}

/// Any token with this id, whoever owns it, revoked or not.
pub fn find_any(conn: &mut DbConn, id: i64) -> QueryResult<Option<Token>> {
    tokens::table
        .find(id)
        .select(Token::as_select())
        .first(conn)
        .optional()
}

/// An owner's live tokens of one kind, newest first, with the name of the user
/// type (client role) where there is one.
pub fn list_for_owner(
    conn: &mut DbConn,
    owner_id: i64,
    kind: TokenKind,
) -> QueryResult<Vec<(Token, Option<String>)>> {
    tokens::table
        .left_join(user_types::table)
        .filter(tokens::owner_id.eq(owner_id))
        .filter(tokens::kind.eq(kind))
        .filter(tokens::revoked_at.is_null())
        .order((tokens::created_at.desc(), tokens::id.desc()))
        .select((Token::as_select(), user_types::name.nullable()))
        .load(conn)
}

pub fn update_scopes_and_description(
    conn: &mut DbConn,
    id: i64,
    scopes: &str,
    description: &str,
) -> QueryResult<()> {
    diesel::update(tokens::table.find(id))
        .set((
            tokens::scopes.eq(scopes),
            tokens::description.eq(description),
            tokens::updated_at.eq(super::now()),
        ))
        .execute(conn)
        .map(drop)
}

/// A regeneration: the new secret's hash and display prefix, when it is
/// issued and expires, its sealed copy, and the previous secret's hash with the
/// end of its overlap (`None`: it stops working at once).
pub struct NewSecret<'a> {
    pub sha256: &'a [u8],
    pub display_prefix: &'a str,
    pub issued_at: NaiveDateTime,
    pub expires_at: Option<NaiveDateTime>,
    pub sealed: Option<Vec<u8>>,
    pub previous: Option<(&'a [u8], NaiveDateTime)>,
}

/// Gives a live token a new secret (the old one stops matching at once, or at
/// the end of the overlap) and a new expiry.
pub fn replace_secret(conn: &mut DbConn, id: i64, new: &NewSecret<'_>) -> QueryResult<usize> {
    diesel::update(tokens::table.find(id).filter(tokens::revoked_at.is_null()))
        .set((
            tokens::sha256.eq(new.sha256),
            tokens::display_prefix.eq(new.display_prefix),
            tokens::issued_at.eq(new.issued_at),
            tokens::expires_at.eq(new.expires_at),
            tokens::updated_at.eq(new.issued_at),
            tokens::sealed_secret.eq(new.sealed.as_deref()),
            tokens::previous_sha256.eq(new.previous.map(|(hash, _)| hash)),
            tokens::previous_valid_until.eq(new.previous.map(|(_, until)| until)),
            tokens::previous_last_used_at.eq(None::<NaiveDateTime>),
        ))
        .execute(conn)
}

/// The hash of a token's current secret.
pub fn sha256_of(conn: &mut DbConn, id: i64) -> QueryResult<Vec<u8>> {
    tokens::table.find(id).select(tokens::sha256).first(conn)
}

/// The sealed copy of a live token's secret and the hash it is bound to.
pub fn sealed_of(conn: &mut DbConn, id: i64) -> QueryResult<Option<(Vec<u8>, Vec<u8>)>> {
    tokens::table
        .find(id)
        .filter(tokens::revoked_at.is_null())
        .filter(tokens::sealed_secret.is_not_null())
        .select((tokens::sealed_secret.assume_not_null(), tokens::sha256))
        .first(conn)
        .optional()
}

/// Erases every sealed copy of tokens of `kind` (Show switched off); returns how many.
pub fn erase_sealed(conn: &mut DbConn, kind: TokenKind) -> QueryResult<usize> {
    diesel::update(
        tokens::table
            .filter(tokens::kind.eq(kind))
            .filter(tokens::sealed_secret.is_not_null()),
    )
    .set(tokens::sealed_secret.eq(None::<Vec<u8>>))
    .execute(conn)
}

/// Erases one token's sealed copy (it no longer opens).
pub fn erase_sealed_of(conn: &mut DbConn, id: i64) -> QueryResult<usize> {
    diesel::update(tokens::table.find(id))
        .set(tokens::sealed_secret.eq(None::<Vec<u8>>))
        .execute(conn)
}

/// A token id, its sealed copy and the hash the copy is bound to.
pub type SealedCopy = (i64, Vec<u8>, Vec<u8>);

/// Every sealed copy (`tessera rotate-key`).
pub fn all_sealed(conn: &mut DbConn) -> QueryResult<Vec<SealedCopy>> {
    tokens::table
        .filter(tokens::sealed_secret.is_not_null())
        .order(tokens::id)
        .select((
            tokens::id,
            tokens::sealed_secret.assume_not_null(),
            tokens::sha256,
        ))
        .load(conn)
}

/// Replaces one sealed copy (re-sealed under a new key).
pub fn set_sealed(conn: &mut DbConn, id: i64, sealed: &[u8]) -> QueryResult<usize> {
    diesel::update(tokens::table.find(id))
        .set(tokens::sealed_secret.eq(sealed))
        .execute(conn)
}

/// Records that a revoked, disabled or expired token was presented at `now`
/// from `ip` (shown on its row), then claims the day's alert about it: true
/// for the first such use of its UTC day (`signals::alert_due`), in one
/// conditional update, so that of two instances only one claims it. Two
/// statements, on refusals only; the columns are not watched by the validity
/// epoch (nothing a token may do depends on them).
pub fn note_refused_use(
    conn: &mut DbConn,
    id: i64,
    now: NaiveDateTime,
    ip: &str,
) -> QueryResult<bool> {
    diesel::update(tokens::table.find(id))
        .set((
            tokens::refused_use_at.eq(now),
            tokens::refused_use_ip.eq(ip),
        ))
        .execute(conn)?;
    let today = signals::start_of_utc_day(now);
    let claimed = diesel::update(
        tokens::table.find(id).filter(
            tokens::refused_use_alerted_at
                .is_null()
                .or(tokens::refused_use_alerted_at.lt(today)),
        ),
    )
    .set(tokens::refused_use_alerted_at.eq(now))
    .execute(conn)?;
    Ok(claimed == 1)
}

/// The owner's revoked tokens (not sessions) presented after they were
/// revoked, most recently presented first: Token Management lists them, as
/// it lists no other revoked token.
pub fn list_used_after_revoked(
    conn: &mut DbConn,
    owner_id: i64,
    limit: i64,
) -> QueryResult<Vec<Token>> {
    tokens::table
        .filter(tokens::owner_id.eq(owner_id))
        .filter(tokens::kind.ne(TokenKind::Session))
        .filter(tokens::revoked_at.is_not_null())
        .filter(tokens::refused_use_at.ge(tokens::revoked_at))
        .order((tokens::refused_use_at.desc(), tokens::id.desc()))
        .limit(limit)
        .select(Token::as_select())
        .load(conn)
}

/// Records a use of a token's previous secret during its overlap.
pub fn record_previous_use(conn: &mut DbConn, id: i64, at: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(tokens::table.find(id))
        .set(tokens::previous_last_used_at.eq(at))
        .execute(conn)
}

pub fn set_status(conn: &mut DbConn, id: i64, status: TokenStatus) -> QueryResult<usize> {
    diesel::update(tokens::table.find(id).filter(tokens::revoked_at.is_null()))
        .set((
            tokens::status.eq(status),
            tokens::updated_at.eq(super::now()),
        ))
        .execute(conn)
}

/// Marks a live token revoked; returns 0 if it already was.
pub fn revoke(conn: &mut DbConn, id: i64, by: Option<i64>) -> QueryResult<usize> {
    let now = super::now();
    diesel::update(tokens::table.find(id).filter(tokens::revoked_at.is_null()))
        .set((
            tokens::revoked_at.eq(now),
            tokens::revoked_by.eq(by),
            tokens::updated_at.eq(now),
            // Revoking ends the previous secret's overlap too, and nothing of
            // a revoked token is shown again.
            tokens::previous_valid_until.eq(None::<NaiveDateTime>),
            tokens::sealed_secret.eq(None::<Vec<u8>>),
        ))
        .execute(conn)
}

/// One recorded use of a token.
#[derive(Debug, Clone)]
pub struct Use {
    pub token_id: i64,
    pub at: NaiveDateTime,
    pub ip: String,
    pub user_agent: Option<String>,
}

/// Writes buffered last uses in one transaction (see `tokens::last_used`, which
/// keeps this to at most once a minute per token); returns the ids of the
/// tokens whose use it left for the next flush.
///
/// On PostgreSQL it never waits for a row another transaction holds: the rows
/// are locked first, in id order, skipping locked ones, which are written next
/// time. Waiting would hold the rows locked so far while another writer (a
/// bulk revoke on this or another instance) waits for them in turn: a
/// deadlock, and one of the two fails. SQLite has one writer at a time.
pub fn record_uses(conn: &mut DbConn, uses: &[Use]) -> QueryResult<Vec<i64>> {
    super::transaction(conn, |conn| {
        let mut uses: Vec<&Use> = uses.iter().collect();
        uses.sort_by_key(|used| used.token_id);
        let mut left = Vec::new();
        if let DbConn::Pg(pg) = conn {
            let ids: Vec<i64> = uses.iter().map(|used| used.token_id).collect();
            let locked: std::collections::HashSet<i64> = tokens::table
                .filter(tokens::id.eq_any(&ids))
                .order(tokens::id)
                .select(tokens::id)
                .for_update()
                .skip_locked()
                .load::<i64>(pg)?
                .into_iter()
                .collect();
            let (mine, busy): (Vec<&Use>, Vec<&Use>) = uses
                .into_iter()
                .partition(|used| locked.contains(&used.token_id));
            uses = mine;
            left = busy.iter().map(|used| used.token_id).collect();
        }
        for used in &uses {
            diesel::update(tokens::table.find(used.token_id))
                .set((
                    tokens::last_used_at.eq(used.at),
                    tokens::last_used_ip.eq(&used.ip),
                    tokens::last_used_user_agent.eq(used.user_agent.as_deref()),
                ))
                .execute(conn)?;
        }
        Ok(left)
    })
}

/// Deletes tokens revoked, or expired, before `cutoff`; returns how many.
pub fn purge_before(conn: &mut DbConn, cutoff: NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(
        tokens::table.filter(
            tokens::revoked_at
                .lt(cutoff)
                .or(tokens::expires_at.lt(cutoff)),
        ),
    )
    .execute(conn)
}

/// A live API token as its associated user sees it on the profile: what it
/// acts with, and which administrator issued it.
#[derive(Debug, Clone)]
pub struct IssuedForUser {
    pub token: Token,
    pub department: Option<String>,
    pub user_type: Option<String>,
    /// The issuing administrator's username (none once they are deleted).
    pub issued_by: Option<String>,
}

/// The live API tokens administrators issued for `owner_id`, newest first.
pub fn list_issued_for(conn: &mut DbConn, owner_id: i64) -> QueryResult<Vec<IssuedForUser>> {
    let rows: Vec<(Token, Option<String>, Option<String>)> = tokens::table
        .left_join(departments::table)
        .left_join(user_types::table)
        .filter(tokens::owner_id.eq(owner_id))
        .filter(tokens::kind.eq(TokenKind::Api))
        .filter(tokens::revoked_at.is_null())
        .order((tokens::created_at.desc(), tokens::id.desc()))
        .select((
            Token::as_select(),
            departments::name.nullable(),
            user_types::name.nullable(),
        ))
        .load(conn)?;
    let issuers: Vec<i64> = rows.iter().filter_map(|(t, _, _)| t.created_by).collect();
    let names: Vec<(i64, String)> = users::table
        .filter(users::id.eq_any(issuers))
        .select((users::id, users::username))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(token, department, user_type)| IssuedForUser {
            issued_by: names
                .iter()
                .find(|(id, _)| Some(*id) == token.created_by)
                .map(|(_, name)| name.clone()),
            token,
            department,
            user_type,
        })
        .collect())
}
