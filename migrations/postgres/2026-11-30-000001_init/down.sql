DROP TABLE mfa_challenges, backup_codes, user_mfa, password_resets, audit_log, login_failures,
    opaque_tokens, api_keys, person_service_roles, service_roles, role_permissions, permissions,
    roles, services, session_revocations, refresh_tokens, sessions, user_roles, users, tenants;
