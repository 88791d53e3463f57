//! Diesel table definitions, written with portable types so one schema serves SQLite and PostgreSQL.

diesel::table! {
    users (id) {
        id -> BigInt,
        username -> Text,
        username_normalized -> Text,
        email -> Nullable<Text>,
        email_normalized -> Nullable<Text>,
        display_name -> Nullable<Text>,
        password_hash -> Text,
        active -> Bool,
        tenant_id -> Nullable<BigInt>,
        created_at -> BigInt,
        updated_at -> BigInt,
        attributes -> Text,
    }
}

diesel::table! {
    user_roles (user_id, role) {
        user_id -> BigInt,
        role -> Text,
    }
}

diesel::table! {
    sessions (id) {
        id -> BigInt,
        user_id -> BigInt,
        created_at -> BigInt,
        last_used_at -> BigInt,
        expires_at -> BigInt,
        ip -> Nullable<Text>,
        user_agent -> Nullable<Text>,
        revoked_at -> Nullable<BigInt>,
        revoked_reason -> Nullable<Text>,
        api_key_id -> Nullable<BigInt>,
        scope -> Nullable<Text>,
        amr -> Nullable<Text>,
        client_id -> Nullable<Text>,
        sso_session_id -> Nullable<BigInt>,
    }
}

diesel::table! {
    refresh_tokens (id) {
        id -> BigInt,
        session_id -> BigInt,
        token_hash -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
        rotated_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    session_revocations (id) {
        id -> BigInt,
        session_id -> BigInt,
        revoked_at -> BigInt,
    }
}

diesel::table! {
    tenants (id) {
        id -> BigInt,
        name -> Text,
        description -> Nullable<Text>,
        active -> Bool,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    services (id) {
        id -> BigInt,
        name -> Text,
        description -> Nullable<Text>,
        active -> Bool,
        secret_hash -> Nullable<Text>,
        secret_created_at -> Nullable<BigInt>,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    roles (id) {
        id -> BigInt,
        name -> Text,
        description -> Nullable<Text>,
        scope_person_id -> Nullable<BigInt>,
        scope_service_id -> Nullable<BigInt>,
        active -> Bool,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    permissions (id) {
        id -> BigInt,
        name -> Text,
        description -> Nullable<Text>,
        active -> Bool,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    role_permissions (role_id, permission_id) {
        role_id -> BigInt,
        permission_id -> BigInt,
    }
}

diesel::table! {
    service_roles (service_id, role_id) {
        service_id -> BigInt,
        role_id -> BigInt,
    }
}

diesel::table! {
    person_service_roles (person_id, service_id, role_id) {
        person_id -> BigInt,
        service_id -> BigInt,
        role_id -> BigInt,
    }
}

diesel::table! {
    api_keys (id) {
        id -> BigInt,
        user_id -> BigInt,
        name -> Text,
        prefix -> Text,
        key_hash -> Text,
        scopes -> Text,
        created_at -> BigInt,
        expires_at -> Nullable<BigInt>,
        last_used_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    opaque_tokens (id) {
        id -> BigInt,
        session_id -> BigInt,
        token_hash -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
        ttl -> BigInt,
    }
}

diesel::table! {
    service_tokens (id) {
        id -> BigInt,
        service_id -> BigInt,
        token_hash -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
    }
}

diesel::table! {
    login_failures (key) {
        key -> Text,
        failures -> BigInt,
        locked_until -> Nullable<BigInt>,
        updated_at -> BigInt,
    }
}

diesel::table! {
    audit_log (id) {
        id -> BigInt,
        at -> BigInt,
        event -> Text,
        outcome -> Text,
        actor_id -> Nullable<BigInt>,
        subject_id -> Nullable<BigInt>,
        target -> Nullable<Text>,
        ip -> Nullable<Text>,
        user_agent -> Nullable<Text>,
        request_id -> Nullable<Text>,
        details -> Text,
    }
}

diesel::table! {
    password_resets (id) {
        id -> BigInt,
        user_id -> BigInt,
        token_hash -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
        used_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    user_mfa (user_id) {
        user_id -> BigInt,
        secret -> Text,
        enabled -> Bool,
        last_step -> Nullable<BigInt>,
        created_at -> BigInt,
        enabled_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    backup_codes (id) {
        id -> BigInt,
        user_id -> BigInt,
        code_hash -> Text,
        used_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    mfa_challenges (id) {
        id -> BigInt,
        user_id -> BigInt,
        token_hash -> Text,
        expires_at -> BigInt,
        used_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    oauth_clients (id) {
        id -> BigInt,
        client_id -> Text,
        tenant_id -> Nullable<BigInt>,
        client_name -> Text,
        secret_hash -> Nullable<Text>,
        token_endpoint_auth_method -> Text,
        redirect_uris -> Text,
        post_logout_redirect_uris -> Text,
        grant_types -> Text,
        response_types -> Text,
        scope -> Text,
        first_party -> Bool,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    authorization_codes (id) {
        id -> BigInt,
        code_hash -> Text,
        client_pk -> BigInt,
        user_id -> BigInt,
        sso_session_id -> Nullable<BigInt>,
        redirect_uri -> Text,
        scope -> Text,
        nonce -> Nullable<Text>,
        code_challenge -> Text,
        auth_time -> BigInt,
        amr -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
        used_at -> Nullable<BigInt>,
        issued_session_id -> Nullable<BigInt>,
        replayed_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    consents (user_id, client_pk) {
        user_id -> BigInt,
        client_pk -> BigInt,
        scope -> Text,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::joinable!(user_roles -> users (user_id));
diesel::joinable!(password_resets -> users (user_id));
diesel::joinable!(users -> tenants (tenant_id));
diesel::joinable!(role_permissions -> roles (role_id));
diesel::joinable!(role_permissions -> permissions (permission_id));
diesel::joinable!(service_roles -> services (service_id));
diesel::joinable!(service_roles -> roles (role_id));
diesel::joinable!(person_service_roles -> users (person_id));
diesel::joinable!(person_service_roles -> services (service_id));
diesel::joinable!(person_service_roles -> roles (role_id));
diesel::joinable!(api_keys -> users (user_id));
diesel::joinable!(opaque_tokens -> sessions (session_id));
diesel::joinable!(service_tokens -> services (service_id));
diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(refresh_tokens -> sessions (session_id));
diesel::joinable!(oauth_clients -> tenants (tenant_id));
diesel::joinable!(authorization_codes -> oauth_clients (client_pk));
diesel::joinable!(authorization_codes -> users (user_id));
diesel::joinable!(consents -> oauth_clients (client_pk));
diesel::joinable!(consents -> users (user_id));

diesel::allow_tables_to_appear_in_same_query!(
    users,
    user_roles,
    sessions,
    refresh_tokens,
    session_revocations,
    login_failures,
    audit_log,
    password_resets,
    user_mfa,
    backup_codes,
    mfa_challenges,
    tenants,
    services,
    roles,
    permissions,
    role_permissions,
    service_roles,
    person_service_roles,
    api_keys,
    opaque_tokens,
    service_tokens,
    oauth_clients,
    authorization_codes,
    consents,
);
