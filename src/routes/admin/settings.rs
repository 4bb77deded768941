//! `/admin/settings`: the token policy and instance settings.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use crate::auth::extract::CurrentAdmin;
use crate::db;
use crate::db::audit::{self, AuditAction, Event, Outcome};
use crate::db::settings::{self, Settings};
use crate::db::tokens;
use crate::domain::form::FieldErrors;
use crate::domain::policy::Overlap;
use crate::domain::second_factor::SecondFactorPolicy;
use crate::domain::token::TokenKind;
use crate::error::AppError;
use crate::page::{FlashKind, HtmlForm, PageCtx, flash, redirect, render};
use crate::routes::acting::Acting;
use crate::state::AppState;
use diesel::QueryResult;
use std::fmt::Write as _;

/// The form as typed (numbers stay text so a bad value comes back as typed).
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct SettingsForm {
    default_lifetime_days: String,
    max_lifetime_days: String,
    allow_non_expiring: Option<String>,
    retention_days: String,
    mobile_session_days: String,
    token_creation_enabled: Option<String>,
    tenant_id: String,
    show_clients: Option<String>,
    show_api_tokens: Option<String>,
    max_overlap: String,
    require_second_factor: String,
    audit_retention_days: String,
}

impl SettingsForm {
    fn from_settings(s: &settings::Settings) -> Self {
        Self {
            default_lifetime_days: s.default_lifetime_days.to_string(),
            max_lifetime_days: s.max_lifetime_days.to_string(),
            allow_non_expiring: s.allow_non_expiring.then(|| "on".into()),
            retention_days: s.retention_days.to_string(),
            mobile_session_days: s.mobile_session_days.to_string(),
            token_creation_enabled: s.token_creation_enabled.then(|| "on".into()),
            tenant_id: s.tenant_id.clone(),
            show_clients: s.show_clients.then(|| "on".into()),
            show_api_tokens: s.show_api_tokens.then(|| "on".into()),
            max_overlap: Overlap::within_hours(s.max_overlap_hours).to_string(),
            require_second_factor: s.require_second_factor.clone(),
            audit_retention_days: s.audit_retention_days.to_string(),
        }
    }

    /// Whether `overlap` is the one chosen (the select marks it).
    fn is_max_overlap(&self, overlap: Overlap) -> bool {
        self.max_overlap == overlap.as_str()
    }

    /// Whether `policy` is the one chosen (its radio button is checked).
    fn is_second_factor_policy(&self, policy: SecondFactorPolicy) -> bool {
        self.require_second_factor == policy.as_str()
    }

    /// The changes, or field errors.
    fn validate(&self) -> Result<Settings, FieldErrors> {
        let mut errors = FieldErrors::new();
        let mut days = |field: &'static str, value: &str, max: i32| -> i32 {
            match value.trim().parse::<i32>() {
                Ok(n) if (1..=max).contains(&n) => n,
                _ => {
                    errors.add(
                        field,
                        format!("Enter a whole number of days from 1 to {max}."),
                    );
                    0
                }
            }
        };
        let default_lifetime_days =
            days("default_lifetime_days", &self.default_lifetime_days, 3650);
        let max_lifetime_days = days("max_lifetime_days", &self.max_lifetime_days, 3650);
        let retention_days = days("retention_days", &self.retention_days, 3650);
        let mobile_session_days = days("mobile_session_days", &self.mobile_session_days, 365);
        let audit_retention_days = days("audit_retention_days", &self.audit_retention_days, 36500);
        if default_lifetime_days > 0
            && max_lifetime_days > 0
            && default_lifetime_days > max_lifetime_days
        {
            errors.add(
                "default_lifetime_days",
                "The default lifetime cannot exceed the maximum lifetime.",
            );
        }
        let max_overlap = self.max_overlap.parse::<Overlap>().unwrap_or_else(|_| {
            errors.add("max_overlap", "Choose one of the offered overlaps.");
            Overlap::None
        });
        let second_factor = self
            .require_second_factor
            .parse::<SecondFactorPolicy>()
            .unwrap_or_else(|_| {
                errors.add(
                    "require_second_factor",
                    "Choose who must have a second factor.",
                );
                SecondFactorPolicy::Nobody
            });
        let tenant_id = self.tenant_id.trim().to_owned();
        if tenant_id.chars().count() > 100 || tenant_id.chars().any(char::is_control) {
            errors.add("tenant_id", "Use at most 100 printable characters.");
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Settings {
            default_lifetime_days,
            max_lifetime_days,
            allow_non_expiring: self.allow_non_expiring.is_some(),
            retention_days,
            mobile_session_days,
            token_creation_enabled: self.token_creation_enabled.is_some(),
            tenant_id,
            show_clients: self.show_clients.is_some(),
            show_api_tokens: self.show_api_tokens.is_some(),
            max_overlap_hours: max_overlap.hours(),
            require_second_factor: second_factor.as_str().to_owned(),
            audit_retention_days,
        })
    }
}

/// What the `settings_updated` audit row says: every policy value as saved, and
/// the tenant id (with what it was, when it changed). No setting is a secret.
fn audit_detail(changes: &Settings, tenant_before: &str) -> String {
    let tenant = if changes.tenant_id == tenant_before {
        format!("tenant id {:?}", changes.tenant_id)
    } else {
        format!(
            "tenant id {:?} (was {:?})",
            changes.tenant_id, tenant_before
        )
    };
    format!(
        "default {} d, max {} d, non-expiring {}, retention {} d, mobile sessions {} d, creation {}, \
         show clients {}, show API tokens {}, overlap at most {}, second factor required of {}, \
         audit events kept {} d, {tenant}",
        changes.default_lifetime_days,
        changes.max_lifetime_days,
        if changes.allow_non_expiring {
            "allowed"
        } else {
            "refused"
        },
        changes.retention_days,
        changes.mobile_session_days,
        on_off(changes.token_creation_enabled),
        on_off(changes.show_clients),
        on_off(changes.show_api_tokens),
        Overlap::within_hours(changes.max_overlap_hours).label(),
        changes.require_second_factor,
        changes.audit_retention_days,
    )
}

fn on_off(on: bool) -> &'static str {
    if on { "on" } else { "off" }
}

#[derive(Template)]
#[template(path = "admin/settings.html")]
struct SettingsPage {
    ctx: PageCtx,
    form: SettingsForm,
    errors: FieldErrors,
    /// Whether this instance has a key to seal secrets with (Show).
    sealing: bool,
    overlaps: [Overlap; 4],
    second_factor_policies: [SecondFactorPolicy; 3],
    /// The SMTP server's host, when email is on.
    mail_server: Option<String>,
}

pub async fn show_settings(
    req: HttpRequest,
    state: web::Data<AppState>,
    _admin: CurrentAdmin,
) -> Result<HttpResponse, AppError> {
    let current = state.db(|conn| Ok(settings::load(conn)?)).await?;
    let page = SettingsPage {
        ctx: PageCtx::from_request(&req),
        form: SettingsForm::from_settings(&current),
        errors: FieldErrors::new(),
        sealing: state.issuer.sealer.is_configured(),
        overlaps: Overlap::ALL,
        second_factor_policies: SecondFactorPolicy::ALL,
        mail_server: state.mail_server.as_deref().map(str::to_owned),
    };
    Ok(render(&req, StatusCode::OK, page))
}

pub async fn update_settings(
    req: HttpRequest,
    state: web::Data<AppState>,
    Acting { actor, session, .. }: Acting<CurrentAdmin>,
    HtmlForm(mut form): HtmlForm<SettingsForm>,
) -> Result<HttpResponse, AppError> {
    // A client that does not know the second-factor policy or the audit
    // retention keeps them as they are.
    if form.require_second_factor.is_empty() || form.audit_retention_days.is_empty() {
        let current = state.db(|conn| Ok(settings::load(conn)?)).await?;
        if form.require_second_factor.is_empty() {
            form.require_second_factor = current.require_second_factor;
        }
        if form.audit_retention_days.is_empty() {
            form.audit_retention_days = current.audit_retention_days.to_string();
        }
    }
    let changes = match form.validate() {
        Ok(changes) => changes,
        Err(errors) => {
            let page = SettingsPage {
                ctx: PageCtx::from_request(&req),
                form,
                errors,
                sealing: state.issuer.sealer.is_configured(),
                overlaps: Overlap::ALL,
                second_factor_policies: SecondFactorPolicy::ALL,
                mail_server: state.mail_server.as_deref().map(str::to_owned),
            };
            return Ok(render(&req, StatusCode::UNPROCESSABLE_ENTITY, page));
        }
    };
    let at = db::now();
    let erased = state
        .db(move |conn| {
            db::transaction(conn, |conn| {
                let before = settings::load(conn)?;
                let mut detail = audit_detail(&changes, &before.tenant_id);
                settings::update(conn, &changes, at)?;
                // Show switched off for a kind: its kept secrets go at once.
                let mut erased = Vec::new();
                for kind in [TokenKind::Client, TokenKind::Api] {
                    if before.shows(kind) && !changes.shows(kind) {
                        let count = tokens::erase_sealed(conn, kind)?;
                        let _ = write!(detail, "; erased {count} kept {} secrets", kind.plural());
                        erased.push((kind, count));
                    }
                }
                audit::record(
                    conn,
                    &actor,
                    &Event::new(AuditAction::SettingsUpdated, Outcome::Success).detail(&detail),
                )?;
                QueryResult::Ok(erased)
            })
            .map_err(AppError::from)
        })
        .await?;
    let mut message = String::from("Settings saved.");
    for (kind, count) in erased {
        let _ = write!(
            message,
            " Show is off for {}: {count} kept {} erased.",
            kind.plural(),
            if count == 1 { "secret" } else { "secrets" }
        );
    }
    flash(&session, FlashKind::Success, message);
    Ok(redirect("/admin/settings"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form() -> SettingsForm {
        SettingsForm {
            default_lifetime_days: "90".into(),
            max_lifetime_days: "365".into(),
            allow_non_expiring: None,
            retention_days: "90".into(),
            mobile_session_days: "30".into(),
            token_creation_enabled: Some("on".into()),
            tenant_id: "acme".into(),
            show_clients: Some("on".into()),
            show_api_tokens: None,
            max_overlap: "1d".into(),
            require_second_factor: "admins".into(),
            audit_retention_days: "365".into(),
        }
    }

    #[test]
    fn the_audit_detail_names_the_tenant_id_and_its_change() {
        let changes = form().validate().unwrap();
        let same = audit_detail(&changes, "acme");
        assert!(same.ends_with(", tenant id \"acme\""), "{same}");
        let changed = audit_detail(&changes, "");
        assert!(
            changed.ends_with(", tenant id \"acme\" (was \"\")"),
            "{changed}"
        );
    }

    #[test]
    fn validates_ranges_and_order() {
        assert!(form().validate().is_ok());
        let bad = SettingsForm {
            default_lifetime_days: "400".into(),
            ..form()
        };
        assert!(
            bad.validate()
                .unwrap_err()
                .get("default_lifetime_days")
                .is_some()
        );
        let bad = SettingsForm {
            retention_days: "x".into(),
            ..form()
        };
        assert!(bad.validate().unwrap_err().get("retention_days").is_some());
        let bad = SettingsForm {
            mobile_session_days: "0".into(),
            ..form()
        };
        assert!(bad.validate().is_err());
    }
}
