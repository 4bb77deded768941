//! The profile's notification preferences (`POST /profile/notifications`),
//! and what every web sign-in tells the notices (a new device).

use actix_web::{HttpResponse, web};

use crate::auth::extract::{ClientInfo, CurrentUser};
use crate::db::audit::{self, AuditAction, Event, Outcome, TargetType};
use crate::db::notifications::{self as rows, Preferences};
use crate::error::AppError;
use crate::notifications::{self, SignInDevice};
use crate::page::{FlashKind, HtmlForm, flash, redirect};
use crate::routes::acting::Acting;
use crate::state::AppState;

/// The checkboxes; a missing one is off.
#[derive(serde::Deserialize)]
pub struct NotificationsForm {
    #[serde(default)]
    notify_expiry: Option<String>,
    #[serde(default)]
    notify_new_device: Option<String>,
    #[serde(default)]
    expiry_digest: Option<String>,
}

/// What the preferences say, for the audit row.
fn describe(prefs: Preferences, is_admin: bool) -> String {
    let on_off = |on: bool| if on { "on" } else { "off" };
    let mut detail = format!(
        "expiry reminders {}, new-device notices {}",
        on_off(prefs.notify_expiry),
        on_off(prefs.notify_new_device)
    );
    if is_admin {
        detail.push_str(&format!(
            ", daily expiry digest {}",
            on_off(prefs.expiry_digest)
        ));
    }
    detail
}

pub async fn update_notifications(
    state: web::Data<AppState>,
    Acting {
        who: user,
        actor,
        session,
    }: Acting<CurrentUser>,
    HtmlForm(form): HtmlForm<NotificationsForm>,
) -> Result<HttpResponse, AppError> {
    let user = user.0;
    let prefs = Preferences {
        notify_expiry: form.notify_expiry.is_some(),
        notify_new_device: form.notify_new_device.is_some(),
        // Only administrators get the digest.
        expiry_digest: user.is_admin && form.expiry_digest.is_some(),
    };
    state
        .db(move |conn| {
            crate::db::transaction(conn, |conn| {
                if rows::preferences(conn, user.id)? == prefs {
                    return Ok(());
                }
                rows::set_preferences(conn, user.id, &prefs)?;
                let detail = describe(prefs, user.is_admin);
                let event = Event::new(
                    AuditAction::NotificationPreferencesChanged,
                    Outcome::Success,
                )
                .target(TargetType::User, Some(user.id), Some(&user.username))
                .detail(&detail);
                audit::record(conn, &actor, &event)?;
                Ok(())
            })
        })
        .await?;
    flash(
        &session,
        FlashKind::Success,
        "Notification preferences saved.",
    );
    Ok(redirect("/profile#notifications"))
}

/// Notes the device of a web sign-in that just succeeded (and queues the
/// new-device notice the user may have asked for). A failure here is logged,
/// never the sign-in's.
pub async fn note_web_sign_in(state: &AppState, user_id: i64, client: &ClientInfo) {
    let public_url = state.public_url.clone();
    let mail_on = state.mail_server.is_some();
    let (ip, user_agent) = (client.ip.clone(), client.user_agent.clone());
    let now = state.clock.now();
    let noted = state
        .db(move |conn| {
            let from = SignInDevice {
                ip: &ip,
                user_agent: user_agent.as_deref(),
            };
            notifications::note_sign_in(conn, &public_url, mail_on, user_id, &from, now)
                .map_err(AppError::Internal)
        })
        .await;
    if let Err(error) = noted {
        tracing::warn!(%error, "cannot note the device of a sign-in");
    }
}
