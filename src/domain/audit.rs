//! The codes an audit row is written with: what was done (`AuditAction`), how
//! it ended (`Outcome`) and what kind of thing it was done to (`TargetType`).
//! The texts are what the `audit_events` table, the audit page and its CSV
//! export show, so changing one rewrites history: add, never rename.

use super::codes::text_codes;

text_codes! {
    /// What an audit row records. A new action is one line here.
    pub enum AuditAction {
        // Signing in and out, the first administrator.
        Login = "login",
        LoginFailure = "login_failure",
        MobileLogin = "mobile_login",
        MobileLoginFailure = "mobile_login_failure",
        MobileLogout = "mobile_logout",
        Logout = "logout",
        /// A user ended web sessions of theirs from the profile.
        SessionsRevoked = "sessions_revoked",
        Setup = "setup",
        CreateAdmin = "create_admin",
        // Passwords.
        PasswordChange = "password_change",
        PasswordLinkIssued = "password_link_issued",
        PasswordCodeRefused = "password_code_refused",
        PasswordSet = "password_set",
        // Passkeys and security keys (WebAuthn).
        PasskeyRegistered = "passkey_registered",
        PasskeyRenamed = "passkey_renamed",
        PasskeyRemoved = "passkey_removed",
        /// A passkey assertion that did not verify (sign-in or second factor).
        PasskeyFailure = "passkey_failure",
        // Step-up (re-entering the password before Show and the like).
        StepUp = "step_up",
        StepUpFailure = "step_up_failure",
        // Second factors (TOTP, recovery codes).
        SecondFactorAsked = "second_factor_asked",
        TotpEnabled = "totp_enabled",
        TotpDisabled = "totp_disabled",
        RecoveryCodeUsed = "recovery_code_used",
        SecondFactorsReset = "second_factors_reset",
        // Requests the gate refused.
        AuthorizationFailure = "authorization_failure",
        CsrfFailure = "csrf_failure",
        CrossSiteRequestDenied = "cross_site_request_denied",
        // Tokens.
        TokenCreated = "token_created",
        TokenEdited = "token_edited",
        TokenRegenerated = "token_regenerated",
        TokenShown = "token_shown",
        PreviousSecretUsed = "previous_secret_used",
        TokenEnabled = "token_enabled",
        TokenDisabled = "token_disabled",
        TokenRevoked = "token_revoked",
        TokenRevokedByValue = "token_revoked_by_value",
        TokenAccessDenied = "token_access_denied",
        TokenScopeDenied = "token_scope_denied",
        UnknownTokenUsed = "unknown_token_used",
        RevokedTokenUsed = "revoked_token_used",
        DisabledTokenUsed = "disabled_token_used",
        ExpiredTokenUsed = "expired_token_used",
        TokenOfDisabledUserUsed = "token_of_disabled_user_used",
        // Users and their memberships.
        UserCreated = "user_created",
        UserUpdated = "user_updated",
        UserDisabled = "user_disabled",
        UserEnabled = "user_enabled",
        /// A user changed which notices they get by email.
        NotificationPreferencesChanged = "notification_preferences_changed",
        MembershipAdded = "membership_added",
        MembershipRemoved = "membership_removed",
        // The catalog.
        DepartmentCreated = "department_created",
        DepartmentUpdated = "department_updated",
        DepartmentDeleted = "department_deleted",
        UserTypeCreated = "user_type_created",
        UserTypeUpdated = "user_type_updated",
        UserTypeDeleted = "user_type_deleted",
        ScopeCreated = "scope_created",
        ScopeUpdated = "scope_updated",
        ScopeRetired = "scope_retired",
        ScopeRestored = "scope_restored",
        // Administration.
        SettingsUpdated = "settings_updated",
        // Single sign-on (OpenID Connect).
        SsoSettingsUpdated = "sso_settings_updated",
        SsoIdentityLinked = "sso_identity_linked",
        SecretKeyRotated = "secret_key_rotated",
        Purge = "purge",
        // Webhook endpoints.
        WebhookCreated = "webhook_created",
        WebhookEnabled = "webhook_enabled",
        WebhookDisabled = "webhook_disabled",
        WebhookDeleted = "webhook_deleted",
        WebhookTestSent = "webhook_test_sent",
        WebhookRedelivered = "webhook_redelivered",
    }
}

impl AuditAction {
    /// The event webhooks and notices follow when this is recorded with
    /// success (a presented revoked token is published once a day by
    /// `tokens::authenticate` instead, not on every use).
    pub fn event_type(self) -> Option<super::events::EventType> {
        use super::events::EventType;
        Some(match self {
            Self::TokenCreated => EventType::TokenCreated,
            Self::TokenRegenerated => EventType::TokenRegenerated,
            Self::TokenDisabled => EventType::TokenDisabled,
            Self::TokenEnabled => EventType::TokenEnabled,
            Self::TokenRevoked | Self::TokenRevokedByValue => EventType::TokenRevoked,
            Self::UserDisabled => EventType::UserDisabled,
            Self::SettingsUpdated | Self::SsoSettingsUpdated => EventType::SettingsChanged,
            _ => return None,
        })
    }

    /// What the row records, as a sentence for people: the audit page, Recent
    /// activity and a token's trail show this; the CSV export and the `action`
    /// filter keep the stored code. A new action needs one here too (the match
    /// is exhaustive).
    pub fn sentence(self) -> &'static str {
        match self {
            Self::Login => "Signed in",
            Self::LoginFailure => "Sign-in failed",
            Self::MobileLogin => "Signed in on a mobile device",
            Self::MobileLoginFailure => "Mobile sign-in failed",
            Self::MobileLogout => "Signed out on a mobile device",
            Self::Logout => "Signed out",
            Self::Setup => "First administrator set up",
            Self::CreateAdmin => "Administrator created from the command line",
            Self::PasswordChange => "Password changed",
            Self::NotificationPreferencesChanged => "Notification preferences changed",
            Self::PasswordLinkIssued => "Set-password link issued",
            Self::PasswordCodeRefused => "Set-password link refused",
            Self::PasswordSet => "Password set from a link",
            Self::PasskeyRegistered => "Passkey added",
            Self::PasskeyRenamed => "Passkey renamed",
            Self::PasskeyRemoved => "Passkey removed",
            Self::PasskeyFailure => "Passkey check failed",
            Self::StepUp => "Password confirmed for a sensitive action",
            Self::StepUpFailure => "Password confirmation failed",
            Self::SecondFactorAsked => "Password accepted; second factor asked",
            Self::TotpEnabled => "Authenticator app turned on",
            Self::TotpDisabled => "Authenticator app turned off",
            Self::RecoveryCodeUsed => "Recovery code used",
            Self::SecondFactorsReset => "Two-factor sign-in reset by an administrator",
            Self::SessionsRevoked => "Web sessions signed out",
            Self::AuthorizationFailure => "Access denied",
            Self::CsrfFailure => "Form check failed",
            Self::CrossSiteRequestDenied => "Cross-site request refused",
            Self::TokenCreated => "Token created",
            Self::TokenEdited => "Token edited",
            Self::TokenRegenerated => "Token regenerated",
            Self::TokenShown => "Token shown",
            Self::PreviousSecretUsed => "Previous secret used during its overlap",
            Self::TokenEnabled => "Token enabled",
            Self::TokenDisabled => "Token disabled",
            Self::TokenRevoked => "Token revoked",
            Self::TokenRevokedByValue => "Token revoked by its value",
            Self::TokenAccessDenied => "Token refused",
            Self::TokenScopeDenied => "Token lacked a scope",
            Self::UnknownTokenUsed => "Unknown token used",
            Self::RevokedTokenUsed => "Revoked token used",
            Self::DisabledTokenUsed => "Disabled token used",
            Self::ExpiredTokenUsed => "Expired token used",
            Self::TokenOfDisabledUserUsed => "Token of a disabled user used",
            Self::UserCreated => "User created",
            Self::UserUpdated => "User changed",
            Self::UserDisabled => "User disabled",
            Self::UserEnabled => "User enabled",
            Self::MembershipAdded => "Membership added",
            Self::MembershipRemoved => "Membership removed",
            Self::DepartmentCreated => "Department created",
            Self::DepartmentUpdated => "Department changed",
            Self::DepartmentDeleted => "Department deleted",
            Self::UserTypeCreated => "User type created",
            Self::UserTypeUpdated => "User type changed",
            Self::UserTypeDeleted => "User type deleted",
            Self::ScopeCreated => "Scope added",
            Self::ScopeUpdated => "Scope changed",
            Self::ScopeRetired => "Scope retired",
            Self::ScopeRestored => "Scope restored",
            Self::SettingsUpdated => "Settings changed",
            Self::SsoSettingsUpdated => "Single sign-on settings changed",
            Self::SsoIdentityLinked => "Account linked to the identity provider",
            Self::Purge => "Old tokens and records purged",
            Self::SecretKeyRotated => "Secret key rotated",
            Self::WebhookCreated => "Webhook endpoint added",
            Self::WebhookEnabled => "Webhook endpoint switched on",
            Self::WebhookDisabled => "Webhook endpoint switched off",
            Self::WebhookDeleted => "Webhook endpoint deleted",
            Self::WebhookTestSent => "Webhook test event sent",
            Self::WebhookRedelivered => "Webhook delivery sent again",
        }
    }
}

text_codes! {
    /// How an audited attempt ended; also the CSS class of its badge.
    pub enum Outcome {
        Success = "success",
        Failure = "failure",
        Denied = "denied",
    }
}

impl Outcome {
    /// As pages show it.
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Success => "Success",
            Outcome::Failure => "Failed",
            Outcome::Denied => "Denied",
        }
    }
}

text_codes! {
    /// What kind of thing an audit row's target is.
    pub enum TargetType {
        User = "user",
        Token = "token",
        Department = "department",
        UserType = "user_type",
        Scope = "scope",
        /// A request path the gate refused.
        Path = "path",
        Passkey = "passkey",
        /// A webhook endpoint.
        Webhook = "webhook",
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn every_code_reads_back_from_its_text_and_no_text_is_used_twice() {
        fn check<T>(all: &[T], as_str: fn(T) -> &'static str)
        where
            T: Copy + PartialEq + std::fmt::Debug + std::str::FromStr,
            T::Err: std::fmt::Debug,
        {
            let mut seen = HashSet::new();
            for &code in all {
                assert_eq!(as_str(code).parse::<T>().unwrap(), code);
                assert!(seen.insert(as_str(code)), "{code:?} twice");
            }
        }
        check(&AuditAction::ALL, AuditAction::as_str);
        check(&Outcome::ALL, Outcome::as_str);
        check(&TargetType::ALL, TargetType::as_str);
    }

    #[test]
    fn an_unknown_text_is_an_error() {
        let err = "login_later".parse::<AuditAction>().unwrap_err();
        assert_eq!(err.to_string(), "unknown AuditAction \"login_later\"");
        assert!("Success".parse::<Outcome>().is_err());
        assert!("".parse::<TargetType>().is_err());
        assert_eq!(AuditAction::TokenRevoked.to_string(), "token_revoked");
    }

    #[test]
    fn every_action_has_its_own_sentence_and_no_code_shows_through() {
        let mut seen = HashSet::new();
        for action in AuditAction::ALL {
            let sentence = action.sentence();
            assert!(seen.insert(sentence), "{action:?}: {sentence:?} twice");
            assert!(
                sentence.starts_with(|c: char| c.is_ascii_uppercase()),
                "{action:?}: {sentence:?}"
            );
            assert!(!sentence.contains('_'), "{action:?}: {sentence:?}");
        }
        assert_eq!(AuditAction::TokenRevoked.sentence(), "Token revoked");
    }
}
