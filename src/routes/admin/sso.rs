//! `/admin/sso`: single sign-on with OpenID Connect (SPEC §9). The client
//! secret is sealed with the key file and never shown again: its field is
//! always empty, and saving it empty keeps the stored one. Saving with single
//! sign-on on checks that the issuer's discovery document answers.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use crate::auth::extract::CurrentAdmin;
use crate::db;
use crate::db::audit::{self, AuditAction, Event, Outcome};
use crate::db::sso_settings::{self, SECRET_BINDING, SsoSettings};
use crate::domain::account::Password;
use crate::domain::form::FieldErrors;
use crate::domain::sso::{PasswordSignIn, check_issuer};
use crate::error::AppError;
use crate::page::{FlashKind, HtmlForm, PageCtx, flash, redirect, render};
use crate::routes::acting::Acting;
use crate::state::AppState;

/// The form as typed. Derives no `Debug`: it holds the client secret.
#[derive(Default, serde::Deserialize)]
#[serde(default)]
pub struct SsoForm {
    enabled: Option<String>,
    issuer: String,
    client_id: String,
    client_secret: Option<Password>,
    admin_claim: String,
    admin_claim_value: String,
    auto_create: Option<String>,
    password_sign_in: String,
}

/// What the page shows in its fields: never the secret.
pub struct Shown {
    enabled: bool,
    issuer: String,
    client_id: String,
    admin_claim: String,
    admin_claim_value: String,
    auto_create: bool,
    password_sign_in: String,
}

impl Shown {
    fn of(s: &SsoSettings) -> Self {
        Self {
            enabled: s.enabled,
            issuer: s.issuer.clone(),
            client_id: s.client_id.clone(),
            admin_claim: s.admin_claim.clone(),
            admin_claim_value: s.admin_claim_value.clone(),
            auto_create: s.auto_create,
            password_sign_in: s.password_sign_in.as_str().to_owned(),
        }
    }

    fn typed(form: &SsoForm) -> Self {
        Self {
            enabled: form.enabled.is_some(),
            issuer: form.issuer.clone(),
            client_id: form.client_id.clone(),
            admin_claim: form.admin_claim.clone(),
            admin_claim_value: form.admin_claim_value.clone(),
            auto_create: form.auto_create.is_some(),
            password_sign_in: form.password_sign_in.clone(),
        }
    }

    /// Whether `choice` is the one chosen (the radio button is checked).
    fn is_rule(&self, choice: PasswordSignIn) -> bool {
        self.password_sign_in == choice.as_str()
    }
}

#[derive(Template)]
#[template(path = "admin/sso.html")]
struct SsoPage {
    ctx: PageCtx,
    form: Shown,
    errors: FieldErrors,
    /// Whether this server has a key to seal the client secret with.
    sealing: bool,
    /// Whether a client secret is stored.
    secret_stored: bool,
    /// What to register at the provider as the redirect URI.
    callback_url: String,
    rules: [PasswordSignIn; 3],
}

fn page(
    req: &HttpRequest,
    state: &AppState,
    form: Shown,
    errors: FieldErrors,
    secret_stored: bool,
) -> SsoPage {
    SsoPage {
        ctx: PageCtx::from_request(req),
        form,
        errors,
        sealing: state.issuer.sealer.is_configured(),
        secret_stored,
        callback_url: format!(
            "{}{}",
            state.public_url.trim_end_matches('/'),
            crate::sso::CALLBACK_PATH
        ),
        rules: PasswordSignIn::ALL,
    }
}

pub async fn show_sso(
    req: HttpRequest,
    state: web::Data<AppState>,
    _admin: CurrentAdmin,
) -> Result<HttpResponse, AppError> {
    let current = state.db(|conn| Ok(sso_settings::load(conn)?)).await?;
    let stored = current.client_secret_sealed.is_some();
    let page = page(
        &req,
        &state,
        Shown::of(&current),
        FieldErrors::new(),
        stored,
    );
    Ok(render(&req, StatusCode::OK, page))
}

/// A short text field: at most `max` characters, none of them control characters.
fn short_text(errors: &mut FieldErrors, field: &'static str, value: &str, max: usize) -> String {
    let value = value.trim();
    if value.chars().count() > max || value.chars().any(char::is_control) {
        errors.add(field, format!("Use at most {max} printable characters."));
    }
    value.to_owned()
}

/// The changes as typed, checked (all but the discovery document), with the
/// new secret if one was typed.
fn validate(
    form: &SsoForm,
    stored_secret: bool,
    sealing: bool,
) -> Result<(SsoSettings, Option<String>), FieldErrors> {
    let mut errors = FieldErrors::new();
    let enabled = form.enabled.is_some();
    let issuer = if enabled || !form.issuer.trim().is_empty() {
        match check_issuer(&form.issuer) {
            Ok(issuer) => issuer,
            Err(message) => {
                errors.add("issuer", message);
                String::new()
            }
        }
    } else {
        String::new()
    };
    let client_id = short_text(&mut errors, "client_id", &form.client_id, 200);
    if enabled && client_id.is_empty() {
        errors.add(
            "client_id",
            "Enter the client id the provider gave Tessera.",
        );
    }
    let secret = form
        .client_secret
        .as_ref()
        .map(|secret| secret.expose().trim().to_owned())
        .filter(|secret| !secret.is_empty());
    if let Some(secret) = &secret {
        if secret.chars().count() > 500 || secret.chars().any(char::is_control) {
            errors.add("client_secret", "Use at most 500 printable characters.");
        } else if !sealing {
            errors.add(
                "client_secret",
                "This server has no secret key file (TESSERA_SECRET_KEY_FILE) to keep the \
                 client secret sealed with.",
            );
        }
    } else if enabled && !stored_secret {
        errors.add(
            "client_secret",
            "Enter the client secret the provider gave Tessera.",
        );
    }
    if enabled && !sealing && errors.get("client_secret").is_none() {
        errors.add(
            "client_secret",
            "Single sign-on needs a secret key file (TESSERA_SECRET_KEY_FILE) to open the \
             client secret with.",
        );
    }
    let admin_claim = short_text(&mut errors, "admin_claim", &form.admin_claim, 100);
    let admin_claim_value = short_text(
        &mut errors,
        "admin_claim_value",
        &form.admin_claim_value,
        200,
    );
    if admin_claim.is_empty() != admin_claim_value.is_empty() {
        let field = if admin_claim.is_empty() {
            "admin_claim"
        } else {
            "admin_claim_value"
        };
        errors.add(
            field,
            "Fill in both the claim and its value, or neither (then the provider makes no \
             administrators).",
        );
    }
    let password_sign_in = form
        .password_sign_in
        .parse::<PasswordSignIn>()
        .unwrap_or_else(|_| {
            errors.add(
                "password_sign_in",
                "Choose who may sign in with a password.",
            );
            PasswordSignIn::Everyone
        });
    if !errors.is_empty() {
        return Err(errors);
    }
    let changes = SsoSettings {
        enabled,
        issuer,
        client_id,
        client_secret_sealed: None,
        admin_claim,
        admin_claim_value,
        auto_create: form.auto_create.is_some(),
        password_sign_in,
        updated_at: None,
    };
    Ok((changes, secret))
}

/// What the `sso_settings_updated` row says: every setting but the secret,
/// of which only whether it changed.
fn audit_detail(changes: &SsoSettings, secret: &str) -> String {
    let admin = if changes.admin_claim.is_empty() {
        "no administrator claim".to_owned()
    } else {
        format!(
            "administrator claim {:?} = {:?}",
            changes.admin_claim, changes.admin_claim_value
        )
    };
    format!(
        "single sign-on {}, issuer {:?}, client id {:?}, client secret {secret}, {admin}, \
         accounts created on first sign-in {}, password sign-in: {}",
        if changes.enabled { "on" } else { "off" },
        changes.issuer,
        changes.client_id,
        if changes.auto_create { "on" } else { "off" },
        changes.password_sign_in.as_str(),
    )
}

pub async fn update_sso(
    req: HttpRequest,
    state: web::Data<AppState>,
    Acting { actor, session, .. }: Acting<CurrentAdmin>,
    HtmlForm(form): HtmlForm<SsoForm>,
) -> Result<HttpResponse, AppError> {
    let current = state.db(|conn| Ok(sso_settings::load(conn)?)).await?;
    let stored = current.client_secret_sealed.is_some();
    let sealing = state.issuer.sealer.is_configured();
    let refuse = |errors: FieldErrors| -> Result<HttpResponse, AppError> {
        let page = page(&req, &state, Shown::typed(&form), errors, stored);
        Ok(render(&req, StatusCode::UNPROCESSABLE_ENTITY, page))
    };
    let (mut changes, secret) = match validate(&form, stored, sealing) {
        Ok(valid) => valid,
        Err(errors) => return refuse(errors),
    };
    if changes.enabled
        && let Err(why) = crate::sso::discover(&changes.issuer).await
    {
        let mut errors = FieldErrors::new();
        errors.add(
            "issuer",
            format!(
                "The issuer's discovery document ({}/.well-known/openid-configuration) did not \
                 check out: {why}. Nothing was saved.",
                changes.issuer.trim_end_matches('/')
            ),
        );
        return refuse(errors);
    }
    let secret_note = match &secret {
        Some(secret) => {
            changes.client_secret_sealed = state.issuer.sealer.seal(secret, SECRET_BINDING);
            if changes.client_secret_sealed.is_none() {
                let mut errors = FieldErrors::new();
                errors.add(
                    "client_secret",
                    "The client secret could not be sealed with the secret key file.",
                );
                return refuse(errors);
            }
            "changed"
        }
        None if stored => "kept",
        None => "not set",
    };
    changes.updated_at = Some(db::now());
    let detail = audit_detail(&changes, secret_note);
    state
        .db(move |conn| {
            db::transaction(conn, |conn| {
                sso_settings::update(conn, &changes)?;
                audit::record(
                    conn,
                    &actor,
                    &Event::new(AuditAction::SsoSettingsUpdated, Outcome::Success).detail(&detail),
                )
            })
            .map_err(AppError::from)
        })
        .await?;
    flash(
        &session,
        FlashKind::Success,
        "Single sign-on settings saved.",
    );
    Ok(redirect("/admin/sso"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form() -> SsoForm {
        SsoForm {
            enabled: Some("on".into()),
            issuer: "https://login.example.com".into(),
            client_id: "tessera".into(),
            client_secret: Some(Password::new("s3cret-value".into())),
            admin_claim: "groups".into(),
            admin_claim_value: "tessera-admins".into(),
            auto_create: None,
            password_sign_in: "admins".into(),
        }
    }

    #[test]
    fn a_complete_form_is_accepted_and_its_audit_detail_hides_the_secret() {
        let (changes, secret) = validate(&form(), false, true).unwrap();
        assert_eq!(secret.as_deref(), Some("s3cret-value"));
        assert_eq!(changes.password_sign_in, PasswordSignIn::Admins);
        let detail = audit_detail(&changes, "changed");
        assert!(!detail.contains("s3cret"), "{detail}");
        assert!(detail.contains("client secret changed"), "{detail}");
    }

    #[test]
    fn an_empty_secret_keeps_the_stored_one_and_is_needed_without_one() {
        let empty = SsoForm {
            client_secret: Some(Password::new(String::new())),
            ..form()
        };
        let (_, secret) = validate(&empty, true, true).unwrap();
        assert!(secret.is_none());
        let errors = validate(&empty, false, true).err().unwrap();
        assert!(errors.get("client_secret").is_some());
    }

    #[test]
    fn without_a_key_file_single_sign_on_cannot_be_switched_on() {
        let errors = validate(&form(), true, false).err().unwrap();
        assert!(
            errors
                .get("client_secret")
                .unwrap()
                .contains("TESSERA_SECRET_KEY_FILE")
        );
        let off = SsoForm {
            enabled: None,
            client_secret: None,
            ..form()
        };
        assert!(validate(&off, false, false).is_ok());
    }

    #[test]
    fn bad_fields_are_named() {
        let bad = SsoForm {
            issuer: "http://login.example.com".into(),
            client_id: String::new(),
            admin_claim_value: String::new(),
            password_sign_in: "sometimes".into(),
            ..form()
        };
        let errors = validate(&bad, true, true).err().unwrap();
        for field in [
            "issuer",
            "client_id",
            "admin_claim_value",
            "password_sign_in",
        ] {
            assert!(errors.get(field).is_some(), "{field}");
        }
    }
}
