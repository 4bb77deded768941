//! The events other systems can follow (webhooks) and that notices are sent
//! for: their types as webhooks name them, and the JSON body of each, as the
//! Standard Webhooks specification shapes it:
//! `{"type": ..., "timestamp": ..., "data": {...}}`.

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};

/// An event type, as `type` and an endpoint's subscription name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EventType {
    #[serde(rename = "token.created")]
    TokenCreated,
    #[serde(rename = "token.regenerated")]
    TokenRegenerated,
    #[serde(rename = "token.disabled")]
    TokenDisabled,
    #[serde(rename = "token.enabled")]
    TokenEnabled,
    #[serde(rename = "token.revoked")]
    TokenRevoked,
    #[serde(rename = "token.expiring")]
    TokenExpiring,
    #[serde(rename = "token.revoked_token_used")]
    RevokedTokenUsed,
    #[serde(rename = "user.disabled")]
    UserDisabled,
    #[serde(rename = "settings.changed")]
    SettingsChanged,
}

impl EventType {
    pub const ALL: [EventType; 9] = [
        EventType::TokenCreated,
        EventType::TokenRegenerated,
        EventType::TokenDisabled,
        EventType::TokenEnabled,
        EventType::TokenRevoked,
        EventType::TokenExpiring,
        EventType::RevokedTokenUsed,
        EventType::UserDisabled,
        EventType::SettingsChanged,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::TokenCreated => "token.created",
            EventType::TokenRegenerated => "token.regenerated",
            EventType::TokenDisabled => "token.disabled",
            EventType::TokenEnabled => "token.enabled",
            EventType::TokenRevoked => "token.revoked",
            EventType::TokenExpiring => "token.expiring",
            EventType::RevokedTokenUsed => "token.revoked_token_used",
            EventType::UserDisabled => "user.disabled",
            EventType::SettingsChanged => "settings.changed",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == name)
    }

    /// What the webhook form says of it.
    pub fn label(self) -> &'static str {
        match self {
            EventType::TokenCreated => "A token was created",
            EventType::TokenRegenerated => "A token was regenerated",
            EventType::TokenDisabled => "A token was disabled",
            EventType::TokenEnabled => "A token was enabled",
            EventType::TokenRevoked => "A token was revoked",
            EventType::TokenExpiring => "A token expires soon (30, 7, 1 days) or expired",
            EventType::RevokedTokenUsed => {
                "A revoked, disabled or expired token was presented (once a day per token)"
            }
            EventType::UserDisabled => "A user was disabled",
            EventType::SettingsChanged => "Settings were changed",
        }
    }
}

impl std::fmt::Display for EventType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who caused an event, as the audit log has it (no session, no secret).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventActor {
    pub user_id: Option<i64>,
    pub username: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// One event as it is queued: what happened, when, by whom, to what. The
/// fan-out (`crate::jobs`) reads the token or user it names afresh to fill the
/// body's `data`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    #[serde(rename = "type")]
    pub kind: EventType,
    pub occurred_at: NaiveDateTime,
    pub actor: EventActor,
    /// The token the event is about (last when serialized, so that a bulk
    /// revocation can write one event per token in SQL: see
    /// [`Event::json_before_token_id`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_id: Option<i64>,
    /// The user the event is about (`user.disabled`).
    #[serde(default)]
    pub user_id: Option<i64>,
    /// The audit row that recorded it, when one did.
    #[serde(default)]
    pub audit_id: Option<i64>,
    /// Free text the audit row carries (which settings, which threshold).
    #[serde(default)]
    pub detail: Option<String>,
    /// Extra fields for `data`, by type: `token.expiring` has `threshold`
    /// (`30d`, `7d`, `1d`, `expired`); `token.revoked_token_used` has
    /// `reason`, `ip` and `user_agent`.
    #[serde(default)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl Event {
    pub fn new(kind: EventType, occurred_at: NaiveDateTime) -> Self {
        Self {
            kind,
            occurred_at,
            actor: EventActor::default(),
            token_id: None,
            user_id: None,
            audit_id: None,
            detail: None,
            extra: serde_json::Map::new(),
        }
    }

    pub fn token(mut self, id: i64) -> Self {
        self.token_id = Some(id);
        self
    }

    /// This event as JSON up to where a token id follows: the JSON of an event
    /// about token `id` is this, then `id`, then `}`.
    pub fn json_before_token_id(&self) -> String {
        let mut json = serde_json::to_string(&Event {
            token_id: None,
            ..self.clone()
        })
        .unwrap_or_default();
        json.pop();
        json.push_str(",\"token_id\":");
        json
    }

    pub fn extra(mut self, key: &str, value: impl Into<serde_json::Value>) -> Self {
        self.extra.insert(key.to_owned(), value.into());
        self
    }
}

/// RFC 3339 with `Z`, as `timestamp` and every time in `data` are written.
pub fn rfc3339(at: NaiveDateTime) -> String {
    at.and_utc()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The webhook body: `{"type", "timestamp", "data"}`.
pub fn body(kind: EventType, at: NaiveDateTime, data: serde_json::Value) -> serde_json::Value {
    let mut body = serde_json::Map::new();
    body.insert("type".to_owned(), kind.as_str().into());
    body.insert("timestamp".to_owned(), rfc3339(at).into());
    body.insert("data".to_owned(), data);
    serde_json::Value::Object(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_parses_back_from_its_name() {
        for kind in EventType::ALL {
            assert_eq!(EventType::parse(kind.as_str()), Some(kind));
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
        }
        assert_eq!(EventType::parse("token.eaten"), None);
    }

    #[test]
    fn an_event_about_a_token_is_its_json_before_the_id_then_the_id() {
        let event = Event::new(EventType::TokenRevoked, crate::db::now());
        let json = format!("{}42}}", event.json_before_token_id());
        let parsed: Event = serde_json::from_str(&json).unwrap();
        assert_eq!(parsed, event.token(42));
    }

    #[test]
    fn the_body_has_type_timestamp_and_data() {
        let at = chrono::NaiveDate::from_ymd_opt(2026, 12, 7)
            .unwrap()
            .and_hms_milli_opt(10, 0, 0, 250)
            .unwrap();
        let body = body(EventType::TokenRevoked, at, serde_json::json!({"id": 1}));
        assert_eq!(
            body,
            serde_json::json!({"type": "token.revoked", "timestamp": "2026-12-07T10:00:00.250Z", "data": {"id": 1}})
        );
    }
}
