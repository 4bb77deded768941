//! Diesel table definitions shared by the SQLite and PostgreSQL backends.
//!
//! Written by hand rather than by `diesel print-schema`: ids are `BigInt` on both
//! backends and every timestamp is a UTC `Timestamp`.

diesel::table! {
    users (id) {
        id -> BigInt,
        username -> Text,
        email -> Text,
        display_name -> Text,
        password_hash -> Text,
        is_admin -> Bool,
        status -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        last_login_at -> Nullable<Timestamp>,
        notify_expiry -> Bool,
        notify_new_device -> Bool,
        expiry_digest -> Bool,
    }
}

diesel::table! {
    departments (id) {
        id -> BigInt,
        name -> Text,
        description -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    user_types (id) {
        id -> BigInt,
        name -> Text,
        description -> Text,
        scopes -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    memberships (id) {
        id -> BigInt,
        user_id -> BigInt,
        department_id -> BigInt,
        user_type_id -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::table! {
    scopes (id) {
        id -> BigInt,
        name -> Text,
        resource -> Text,
        description -> Text,
        retired_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    tokens (id) {
        id -> BigInt,
        kind -> Text,
        name -> Text,
        description -> Text,
        owner_id -> BigInt,
        created_by -> Nullable<BigInt>,
        department_id -> Nullable<BigInt>,
        user_type_id -> Nullable<BigInt>,
        scopes -> Text,
        display_prefix -> Text,
        sha256 -> Binary,
        status -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        expires_at -> Nullable<Timestamp>,
        last_used_at -> Nullable<Timestamp>,
        last_used_ip -> Nullable<Text>,
        last_used_user_agent -> Nullable<Text>,
        device_name -> Nullable<Text>,
        revoked_at -> Nullable<Timestamp>,
        revoked_by -> Nullable<BigInt>,
        /// The name folded for uniqueness (`domain::policy::token_name_key`).
        name_key -> Text,
        /// When the current secret was issued (creation or regeneration).
        issued_at -> Timestamp,
        /// The secret sealed under the key file (`sealing`), for Show.
        sealed_secret -> Nullable<Binary>,
        /// After a regeneration with an overlap: the replaced secret's hash,
        /// when it stops working, and its last use meanwhile.
        previous_sha256 -> Nullable<Binary>,
        previous_valid_until -> Nullable<Timestamp>,
        previous_last_used_at -> Nullable<Timestamp>,
        /// The last presentation of this token after it was revoked, disabled
        /// or expired, from where, and when its owner was last told.
        refused_use_at -> Nullable<Timestamp>,
        refused_use_ip -> Nullable<Text>,
        refused_use_alerted_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    audit_events (id) {
        id -> BigInt,
        occurred_at -> Timestamp,
        actor_id -> Nullable<BigInt>,
        actor_name -> Nullable<Text>,
        ip -> Nullable<Text>,
        user_agent -> Nullable<Text>,
        action -> Text,
        target_type -> Nullable<Text>,
        target_id -> Nullable<BigInt>,
        target_label -> Nullable<Text>,
        outcome -> Text,
        detail -> Nullable<Text>,
    }
}

diesel::table! {
    settings (id) {
        id -> Integer,
        default_lifetime_days -> Integer,
        max_lifetime_days -> Integer,
        allow_non_expiring -> Bool,
        retention_days -> Integer,
        mobile_session_days -> Integer,
        token_creation_enabled -> Bool,
        tenant_id -> Text,
        cookie_key -> Nullable<Text>,
        setup_code_sha256 -> Nullable<Text>,
        updated_at -> Timestamp,
        show_clients -> Bool,
        show_api_tokens -> Bool,
        max_overlap_hours -> Integer,
        require_second_factor -> Text,
        audit_retention_days -> Integer,
    }
}

diesel::table! {
    sessions (key_sha256) {
        key_sha256 -> Binary,
        user_id -> Nullable<BigInt>,
        state -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        absolute_expires_at -> Timestamp,
        id -> BigInt,
        user_agent -> Nullable<Text>,
        ip -> Nullable<Text>,
        last_seen_at -> Timestamp,
    }
}

diesel::table! {
    throttle_events (id) {
        id -> BigInt,
        bucket -> Text,
        occurred_at -> Timestamp,
    }
}

diesel::table! {
    password_codes (id) {
        id -> BigInt,
        user_id -> BigInt,
        code_sha256 -> Binary,
        created_by -> Nullable<BigInt>,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    sso_settings (id) {
        id -> BigInt,
        enabled -> Bool,
        issuer -> Text,
        client_id -> Text,
        client_secret_sealed -> Nullable<Binary>,
        admin_claim -> Text,
        admin_claim_value -> Text,
        auto_create -> Bool,
        password_sign_in -> Text,
        updated_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    user_identities (id) {
        id -> BigInt,
        user_id -> BigInt,
        issuer -> Text,
        subject -> Text,
        created_at -> Timestamp,
    }
}

diesel::joinable!(user_identities -> users (user_id));

diesel::table! {
    /// A user's TOTP secret, sealed; pending until `confirmed_at`.
    totp_secrets (user_id) {
        user_id -> BigInt,
        sealed_secret -> Binary,
        created_at -> Timestamp,
        confirmed_at -> Nullable<Timestamp>,
        last_step -> Nullable<BigInt>,
    }
}

diesel::table! {
    recovery_codes (id) {
        id -> BigInt,
        user_id -> BigInt,
        code_sha256 -> Binary,
        created_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::joinable!(memberships -> users (user_id));
diesel::table! {
    /// Passkeys and security keys (WebAuthn): the webauthn-rs `Passkey` as JSON.
    passkeys (id) {
        id -> BigInt,
        user_id -> BigInt,
        name -> Text,
        credential_id -> Text,
        credential -> Text,
        passwordless -> Bool,
        created_at -> Timestamp,
        last_used_at -> Nullable<Timestamp>,
    }
}

diesel::joinable!(passkeys -> users (user_id));
diesel::table! {
    /// Background work shared by every instance (`crate::jobs`).
    jobs (id) {
        id -> BigInt,
        kind -> Text,
        payload -> Text,
        unique_key -> Nullable<Text>,
        state -> Text,
        run_at -> Timestamp,
        attempts -> Integer,
        locked_by -> Nullable<Text>,
        locked_until -> Nullable<Timestamp>,
        last_started_at -> Nullable<Timestamp>,
        last_finished_at -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    webhook_endpoints (id) {
        id -> BigInt,
        url -> Text,
        description -> Text,
        /// Event types, space separated.
        events -> Text,
        /// The signing secret sealed under the key file (`sealing`).
        sealed_secret -> Binary,
        enabled -> Bool,
        disabled_reason -> Nullable<Text>,
        failing_since -> Nullable<Timestamp>,
        created_at -> Timestamp,
        created_by -> Nullable<BigInt>,
    }
}

diesel::table! {
    webhook_deliveries (id) {
        id -> BigInt,
        endpoint_id -> BigInt,
        message_id -> Text,
        event_type -> Text,
        payload -> Text,
        state -> Text,
        attempts -> Integer,
        response_code -> Nullable<Integer>,
        latency_ms -> Nullable<Integer>,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
        last_attempt_at -> Nullable<Timestamp>,
        next_attempt_at -> Nullable<Timestamp>,
    }
}

diesel::joinable!(webhook_deliveries -> webhook_endpoints (endpoint_id));

diesel::table! {
    sign_in_devices (user_id, device_sha256) {
        user_id -> BigInt,
        device_sha256 -> Text,
        first_seen_at -> Timestamp,
        last_seen_at -> Timestamp,
    }
}

diesel::joinable!(sign_in_devices -> users (user_id));

diesel::table! {
    /// Moved by triggers whenever something a token's validity depends on changes.
    validity_epoch (id) {
        id -> Integer,
        epoch -> BigInt,
    }
}

diesel::joinable!(memberships -> departments (department_id));
diesel::joinable!(memberships -> user_types (user_type_id));
diesel::joinable!(tokens -> departments (department_id));
diesel::joinable!(tokens -> user_types (user_type_id));
diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(tokens -> users (owner_id));

diesel::allow_tables_to_appear_in_same_query!(
    users,
    departments,
    user_types,
    memberships,
    scopes,
    tokens,
    audit_events,
    settings,
    sessions,
    throttle_events,
    password_codes,
    validity_epoch,
    sso_settings,
    user_identities,
    totp_secrets,
    recovery_codes,
    passkeys,
    jobs,
    webhook_endpoints,
    webhook_deliveries,
    sign_in_devices,
);
