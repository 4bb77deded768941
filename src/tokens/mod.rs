//! Token lifecycle shared by the web pages and the JSON API: create, edit,
//! regenerate, disable, enable, revoke; authenticating a presented token lives in
//! `authenticate`, with its cache and the last-use buffer beside it. Every change
//! and every refused use writes an audit row that names the token by id and
//! display prefix only. Blocking code: run it through `AppState::db`.

mod authenticate;
pub mod cache;
pub mod epoch;
pub mod last_used;

pub use authenticate::{
    Authenticated, Refusal, UseContext, authenticate, load_context, record_scope_denied,
};

use chrono::NaiveDateTime;
use diesel::QueryResult;

use crate::db::audit::{self, Actor, Event, Outcome};
use crate::db::tokens::{self as token_rows, NewToken, Token};
use crate::db::users::User;
use crate::db::{self, DbConn, memberships, scopes as catalog, settings, user_types};
use crate::domain::form::FieldErrors;
use crate::domain::policy::{ExpiryChoice, Overlap, check_description, check_token_name};
use crate::domain::scopes::{self, ScopeSet};
use crate::domain::token::{PlainToken, TokenKind, TokenStatus};
use crate::error::AppError;
use crate::sealing::Sealer;

/// What new secrets are made with: the deployment's token prefix, and the key
/// their kept copies (Show) are sealed with.
pub struct Issuer {
    pub prefix: String,
    pub sealer: Sealer,
}

impl Issuer {
    /// A new secret of `kind`, with its sealed copy when Show keeps that kind.
    fn issue(
        &self,
        kind: TokenKind,
        settings: &settings::Settings,
    ) -> (PlainToken, Option<Vec<u8>>) {
        let secret = PlainToken::generate(&self.prefix, kind);
        let sealed = settings
            .shows(kind)
            .then(|| self.sealer.seal(secret.expose(), &secret.sha256()))
            .flatten();
        (secret, sealed)
    }
}

/// A token just created or regenerated: the only moment its secret exists.
#[derive(Debug)]
pub struct Issued {
    pub id: i64,
    pub kind: TokenKind,
    pub name: String,
    pub secret: PlainToken,
    pub expires_at: Option<NaiveDateTime>,
}

/// What a create form or API call asks for.
#[derive(Debug, Clone)]
pub struct CreateRequest {
    pub kind: TokenKind,
    pub name: String,
    pub description: String,
    /// The chosen scopes (personal tokens).
    pub scopes: ScopeSet,
    /// The client role / user type (client and api tokens).
    pub user_type_id: Option<i64>,
    /// A client may take any user type, not only those its owner may assign:
    /// an administrator provisions it for someone else.
    pub any_user_type: bool,
    /// The department (api tokens, tied to one membership).
    pub department_id: Option<i64>,
    /// The expiry asked for, or why the form's expiry fields could not be read.
    pub expiry: Result<ExpiryChoice, &'static str>,
    /// Scopes the caller may grant beyond the owner's holdings check (a token
    /// creating a token never grants more than it has itself).
    pub grant_ceiling: Option<ScopeSet>,
}

/// The kinds of token the profile pages manage; `api` tokens (issued by an
/// administrator) and mobile sessions are out of their reach.
pub const PROFILE_KINDS: [TokenKind; 2] = [TokenKind::Personal, TokenKind::Client];

/// Why a lifecycle change was refused while token creation is switched off.
pub const CREATION_OFF: &str = "Token creation is switched off by the administrators.";

/// The caller's live token `id` of one of `kinds`, as the profile pages look it
/// up. Anything else is `NotFound`; when the token exists but belongs to someone
/// else, or is of a kind outside `kinds`, the attempt is audited first as
/// `token_access_denied` (naming the token by id and display prefix).
pub fn find_for_caller(
    conn: &mut DbConn,
    id: i64,
    caller: &Actor,
    kinds: &[TokenKind],
) -> Result<Token, AppError> {
    let owner = caller.user_id.ok_or(AppError::NotFound)?;
    match token_rows::find_owned(conn, id, owner, kinds) {
        Ok(token) => Ok(token),
        Err(diesel::result::Error::NotFound) => {
            if let Some(token) = token_rows::find_any(conn, id)?
                && (token.owner_id != owner || !kinds.contains(&token.kind))
            {
                record(
                    conn,
                    caller,
                    audit::AuditAction::TokenAccessDenied,
                    Outcome::Denied,
                    &token,
                )?;
            }
            Err(AppError::NotFound)
        }
        Err(err) => Err(err.into()),
    }
}

/// The error beside the scopes when one of `wanted` is not in the active catalog.
fn check_catalog<'a>(
    conn: &mut DbConn,
    wanted: impl IntoIterator<Item = &'a String>,
) -> Result<Result<(), String>, AppError> {
    let active: ScopeSet = catalog::active_names(conn)?;
    Ok(match scopes::first_unknown(wanted, &active) {
        Some(unknown) => Err(format!("There is no scope called {unknown}.")),
        None => Ok(()),
    })
}

/// Why some of `wanted` cannot be granted: beyond what the owner holds now, or
/// beyond the ceiling (the scopes of the token making the call).
fn ungrantable(
    wanted: &ScopeSet,
    holdings: &scopes::Holdings,
    ceiling: Option<&ScopeSet>,
) -> Option<String> {
    let mut denied: ScopeSet = scopes::beyond(wanted, holdings).into_iter().collect();
    if let Some(ceiling) = ceiling {
        denied.extend(wanted.difference(ceiling).cloned());
    }
    (!denied.is_empty()).then(|| {
        let denied: Vec<&str> = denied.iter().map(String::as_str).collect();
        format!(
            "You cannot grant {}: you do not hold it.",
            denied.join(", ")
        )
    })
}

/// Writes an audit row about `token`, named by id and display prefix.
fn record(
    conn: &mut DbConn,
    actor: &Actor,
    action: audit::AuditAction,
    outcome: Outcome,
    token: &Token,
) -> Result<(), AppError> {
    let label = token.label();
    let event =
        Event::new(action, outcome).target(audit::TargetType::Token, Some(token.id), Some(&label));
    audit::record(conn, actor, &event)?;
    Ok(())
}

/// Creates a token for `owner`. Bad input comes back as field errors, nothing stored.
pub fn create(
    conn: &mut DbConn,
    issuer: &Issuer,
    owner: &User,
    actor: &Actor,
    mut req: CreateRequest,
) -> Result<Result<Issued, FieldErrors>, AppError> {
    let settings = settings::load(conn)?;
    let policy = settings.policy();
    let now = db::now();
    req.name = req.name.trim().to_owned();
    req.description = req.description.trim().to_owned();

    let mut errors = FieldErrors::new();
    if !policy.creation_enabled {
        errors.add("name", CREATION_OFF);
        return Ok(Err(errors));
    }
    errors.check("name", check_token_name(&req.name));
    errors.check("description", check_description(&req.description));
    let expires_at = match req
        .expiry
        .as_ref()
        .map(|choice| policy.resolve_expiry(choice, now))
    {
        Ok(Ok(at)) => at,
        Ok(Err(message)) => {
            errors.add("expires_at", message);
            None
        }
        Err(message) => {
            errors.add("expires_at", *message);
            None
        }
    };
    let holdings = memberships::holdings(conn, owner.id, owner.is_admin)?;
    match req.kind {
        TokenKind::Personal => {
            if req.scopes.is_empty() {
                errors.add("scopes", "Choose at least one scope.");
            } else if let Err(message) = check_catalog(conn, &req.scopes)? {
                errors.add("scopes", message);
            } else if let Some(message) =
                ungrantable(&req.scopes, &holdings, req.grant_ceiling.as_ref())
            {
                errors.add("scopes", message);
            }
        }
        TokenKind::Client => match req.user_type_id {
            None => errors.add("role_id", "Choose a client role."),
            Some(id) => {
                let allowed = if req.any_user_type {
                    user_types::all(conn)?
                } else {
                    user_types::assignable_by(conn, owner.id, owner.is_admin)?
                };
                if !allowed.iter().any(|t| t.id == id) {
                    errors.add(
                        "role_id",
                        if req.any_user_type {
                            "Choose one of the user types."
                        } else {
                            "Choose one of your client roles."
                        },
                    );
                }
            }
        },
        TokenKind::Api => match (req.department_id, req.user_type_id) {
            (Some(department), Some(user_type))
                if memberships::holds(conn, owner.id, department, user_type)? => {}
            _ => errors.add(
                "membership",
                "Choose one of this user's department and user type pairs.",
            ),
        },
        TokenKind::Session => {}
    }
    if !errors.is_empty() {
        return Ok(Err(errors));
    }

    let (secret, sealed) = issuer.issue(req.kind, &settings);
    let hash = secret.sha256();
    let display_prefix = secret.display_prefix();
    let stored_scopes = match req.kind {
        TokenKind::Personal => scopes::join(&req.scopes),
        _ => String::new(),
    };
    let new = NewToken::new(req.kind, &req.name, owner.id, &hash, &display_prefix, now)
        .description(&req.description)
        .created_by(actor.user_id)
        .department_id(req.department_id)
        .user_type_id(req.user_type_id)
        .scopes(&stored_scopes)
        .expires_at(expires_at)
        // A mobile session is named by its device, written with the row: a
        // later update would move the validity epoch and empty every
        // instance's token cache at each mobile sign-in.
        .device_name((req.kind == TokenKind::Session).then_some(req.name.as_str()))
        .sealed(sealed);
    // The row and its audit row together, or neither. A name clash rolls
    // back too (on PostgreSQL the failed insert has ended the transaction).
    let label = new.label();
    let inserted = db::transaction(conn, |conn| {
        let id = token_rows::insert(conn, &new)?;
        let event = Event::new(audit::AuditAction::TokenCreated, Outcome::Success).target(
            audit::TargetType::Token,
            Some(id),
            Some(&label),
        );
        audit::record(conn, actor, &event)?;
        QueryResult::Ok(id)
    });
    let id = match inserted {
        Ok(id) => id,
        Err(err) if db::is_unique_violation(&err) => {
            errors.add(
                "name",
                format!(
                    "You already have {} named “{}”. Choose another name.",
                    req.kind.in_sentence(),
                    req.name
                ),
            );
            return Ok(Err(errors));
        }
        Err(err) => return Err(err.into()),
    };
    Ok(Ok(Issued {
        id,
        kind: req.kind,
        name: req.name,
        secret,
        expires_at,
    }))
}

/// Changes a personal token's scopes and description; scopes stay within the
/// owner's holdings (and, through the API, within the calling token's).
pub fn edit(
    conn: &mut DbConn,
    token: &Token,
    owner: &User,
    actor: &Actor,
    wanted: &ScopeSet,
    description: &str,
    grant_ceiling: Option<&ScopeSet>,
) -> Result<Result<(), FieldErrors>, AppError> {
    let mut errors = FieldErrors::new();
    let description = description.trim();
    errors.check("description", check_description(description));
    let holdings = memberships::holdings(conn, owner.id, owner.is_admin)?;
    let current = scopes::parse(&token.scopes);
    if wanted.is_empty() {
        errors.add("scopes", "Choose at least one scope.");
    }
    // Narrowing is always allowed; whatever is added must be in the catalog (as
    // on create) and held now.
    let added: ScopeSet = wanted.difference(&current).cloned().collect();
    if let Err(message) = check_catalog(conn, &added)? {
        errors.add("scopes", message);
    }
    if let Some(message) = ungrantable(&added, &holdings, grant_ceiling) {
        errors.add("scopes", message);
    }
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    token_rows::update_scopes_and_description(conn, token.id, &scopes::join(wanted), description)?;
    record(
        conn,
        actor,
        audit::AuditAction::TokenEdited,
        Outcome::Success,
        token,
    )?;
    Ok(Ok(()))
}

/// What a regeneration asks for: how long the previous secret keeps working,
/// and an expiry (`None`: the lifetime the token had, from now).
#[derive(Debug, Clone)]
pub struct Regeneration {
    pub overlap: Overlap,
    pub expiry: Option<ExpiryChoice>,
}

impl Regeneration {
    /// The old secret stops at once; the lifetime is kept.
    pub const AT_ONCE: Regeneration = Regeneration {
        overlap: Overlap::None,
        expiry: None,
    };
}

/// A new secret for the same record. The old one stops working at once, or at
/// the end of the overlap asked for (within the policy's maximum). Refused,
/// changing nothing, for a mobile session, and while token creation is switched
/// off (a new secret is a new credential): the message comes back under the
/// field `token`; a bad overlap or expiry under `overlap` / `expires_at`.
pub fn regenerate(
    conn: &mut DbConn,
    issuer: &Issuer,
    token: &Token,
    actor: &Actor,
    ask: &Regeneration,
) -> Result<Result<Issued, FieldErrors>, AppError> {
    let kind = token.kind;
    let settings = settings::load(conn)?;
    let policy = settings.policy();
    let now = db::now();
    let mut errors = FieldErrors::new();
    if kind == TokenKind::Session {
        errors.add("token", SESSION_NOT_REGENERATED);
        return Ok(Err(errors));
    }
    if !policy.creation_enabled {
        errors.add(
            "token",
            format!(
                "{CREATION_OFF} Regenerating is refused until they switch it on again; \
                 the current secret keeps working."
            ),
        );
        return Ok(Err(errors));
    }
    if ask.overlap.hours() > policy.max_overlap.hours() {
        errors.add(
            "overlap",
            format!(
                "The policy keeps an old secret working for at most {}.",
                policy.max_overlap.label()
            ),
        );
    }
    let expires_at = match &ask.expiry {
        None => policy.regenerated_expiry(now, token.issued_at, token.expires_at),
        Some(choice) => policy
            .resolve_expiry(choice, now)
            .unwrap_or_else(|message| {
                errors.add("expires_at", message);
                None
            }),
    };
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    let (secret, sealed) = issuer.issue(kind, &settings);
    let previous_until = (ask.overlap != Overlap::None).then(|| now + ask.overlap.duration());
    // The change and its audit row together, or neither.
    db::transaction(conn, |conn| {
        // The secret being replaced, as stored now, keeps working meanwhile.
        let previous_sha256 = match previous_until {
            Some(_) => Some(token_rows::sha256_of(conn, token.id)?),
            None => None,
        };
        let hash = secret.sha256();
        let display_prefix = secret.display_prefix();
        let changed = token_rows::replace_secret(
            conn,
            token.id,
            &token_rows::NewSecret {
                sha256: &hash,
                display_prefix: &display_prefix,
                issued_at: now,
                expires_at,
                sealed,
                previous: previous_sha256.as_deref().zip(previous_until),
            },
        )?;
        if changed == 0 {
            return Err(AppError::NotFound);
        }
        let label = format!("{} ({display_prefix}…)", token.name);
        let detail = match previous_until {
            Some(until) => format!(
                "previous secret {}… works until {} UTC",
                token.display_prefix,
                until.format("%Y-%m-%d %H:%M")
            ),
            None => format!("previous secret {}…", token.display_prefix),
        };
        audit::record(
            conn,
            actor,
            &Event::new(audit::AuditAction::TokenRegenerated, Outcome::Success)
                .target(audit::TargetType::Token, Some(token.id), Some(&label))
                .detail(&detail),
        )?;
        Ok(())
    })?;
    Ok(Ok(Issued {
        id: token.id,
        kind,
        name: token.name.clone(),
        secret,
        expires_at,
    }))
}

/// Why a mobile session has no Regenerate.
pub const SESSION_NOT_REGENERATED: &str =
    "A mobile session is not regenerated: sign it out (revoke it) and sign in again.";

/// Why a token's secret cannot be shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotShown {
    /// Personal tokens and mobile sessions are never shown again.
    NeverForKind,
    /// Created (or regenerated) while Show was off, or Show was switched off since.
    NotKept,
    /// No key file on this instance, or the key does not open the copy.
    NoKey,
}

impl NotShown {
    pub fn message(self) -> &'static str {
        match self {
            NotShown::NeverForKind => {
                "Access tokens and mobile sessions are shown once, when they are made, and never again."
            }
            NotShown::NotKept => "This token was not kept; regenerate it to get a new secret.",
            NotShown::NoKey => {
                "This server cannot open the kept secret: its secret key file is missing or \
                 different (TESSERA_SECRET_KEY_FILE). Ask the operator, or regenerate the token."
            }
        }
    }
}

/// The secret of `token`, opened from its sealed copy, with a `token_shown`
/// audit row; or why not (audited too, as denied, except for a kind that is
/// never shown).
pub fn show(
    conn: &mut DbConn,
    sealer: &Sealer,
    token: &Token,
    actor: &Actor,
) -> Result<Result<String, NotShown>, AppError> {
    if !token.kind.is_shown() {
        return Ok(Err(NotShown::NeverForKind));
    }
    let outcome = match token_rows::sealed_of(conn, token.id)? {
        None => Err(NotShown::NotKept),
        Some((sealed, sha256)) => sealer.open(&sealed, &sha256).map_err(|err| {
            tracing::error!(token_id = token.id, error = %err, "a kept secret did not open");
            NotShown::NoKey
        }),
    };
    let result = if outcome.is_ok() {
        Outcome::Success
    } else {
        Outcome::Failure
    };
    record(conn, actor, audit::AuditAction::TokenShown, result, token)?;
    Ok(outcome)
}

pub fn set_enabled(
    conn: &mut DbConn,
    token: &Token,
    actor: &Actor,
    enabled: bool,
) -> Result<(), AppError> {
    let (status, action) = if enabled {
        (TokenStatus::Active, audit::AuditAction::TokenEnabled)
    } else {
        (TokenStatus::Disabled, audit::AuditAction::TokenDisabled)
    };
    db::transaction(conn, |conn| {
        token_rows::set_status(conn, token.id, status)?;
        record(conn, actor, action, Outcome::Success, token)
    })
}

/// Revokes for good. Returns false if it already was.
pub fn revoke(
    conn: &mut DbConn,
    token: &Token,
    actor: &Actor,
    action: audit::AuditAction,
) -> Result<bool, AppError> {
    db::transaction(conn, |conn| {
        let revoked = token_rows::revoke(conn, token.id, actor.user_id)? == 1;
        if revoked {
            record(conn, actor, action, Outcome::Success, token)?;
        }
        Ok(revoked)
    })
}
