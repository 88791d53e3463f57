//! The second factor: enrolment, backup codes, the second step of a login, and admin reset.

use actix_web::{web, HttpResponse};
use tessera_domain::password::Password;
use tessera_domain::user::UserId;

use crate::dto::{BackupCodesResponse, CodeBody, DisableMfaBody, EnrolmentResponse, MfaLoginBody};
use crate::error::ApiError;
use crate::extract::{Caller, ClientInfo, JsonBody};
use crate::routes::auth::{login_response, session_kind, token_format};
use crate::routes::credentials::no_store;
use crate::routes::no_content;
use crate::AppState;

/// `POST /mfa/setup`: a new secret, its `otpauth://` URI and QR code; nothing is active yet.
pub async fn setup(
    state: web::Data<AppState>,
    Caller(caller): Caller,
) -> Result<HttpResponse, ApiError> {
    let e = state
        .run(move |c| c.second_factor.setup_mfa(&caller))
        .await?;
    Ok(no_store(HttpResponse::Ok()).json(EnrolmentResponse {
        secret: e.secret,
        otpauth_uri: e.otpauth_uri,
        qr_svg: e.qr_svg,
    }))
}

/// `POST /mfa/verify {"code"}`: confirms enrolment; the backup codes are in this answer only.
pub async fn verify(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    JsonBody(body): JsonBody<CodeBody>,
) -> Result<HttpResponse, ApiError> {
    let codes = state
        .run(move |c| c.second_factor.verify_mfa(&caller, &body.code))
        .await?;
    Ok(no_store(HttpResponse::Ok()).json(BackupCodesResponse {
        backup_codes: codes,
    }))
}

/// `POST /mfa/disable {"password", "code"}`.
pub async fn disable(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    JsonBody(body): JsonBody<DisableMfaBody>,
) -> Result<HttpResponse, ApiError> {
    let password = Password::new(body.password);
    state
        .run_hashing(move |c| c.second_factor.disable_mfa(&caller, &password, &body.code))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `GET /mfa/backup-codes`: how many are left.
pub async fn backup_codes_left(
    state: web::Data<AppState>,
    Caller(caller): Caller,
) -> Result<HttpResponse, ApiError> {
    let n = state
        .run(move |c| c.second_factor.backup_codes_left(&caller))
        .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "remaining": n })))
}

/// `POST /mfa/backup-codes`: a fresh set; the old ones die.
pub async fn regenerate_backup_codes(
    state: web::Data<AppState>,
    Caller(caller): Caller,
) -> Result<HttpResponse, ApiError> {
    let codes = state
        .run(move |c| c.second_factor.regenerate_backup_codes(&caller))
        .await?;
    Ok(no_store(HttpResponse::Ok()).json(BackupCodesResponse {
        backup_codes: codes,
    }))
}

/// `DELETE /users/{id}/mfa`: an admin turns a user's MFA off; the user's sessions end.
pub async fn reset(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    no_content(&state, caller, id, |c, p, id| {
        c.second_factor.reset_mfa(p, UserId(id))
    })
    .await
}

/// `POST /auth/login/mfa {"mfa_token", "code", "token_format"?}`: the second step of a login.
pub async fn login(
    state: web::Data<AppState>,
    ClientInfo(context): ClientInfo,
    JsonBody(body): JsonBody<MfaLoginBody>,
) -> Result<HttpResponse, ApiError> {
    let format = token_format(body.token_format.as_deref())?;
    let kind = session_kind(&state, body.session.as_deref(), format)?;
    let (token, code) = (body.mfa_token, body.code);
    let issued = state
        .run(move |c| c.authentication.login_mfa(&token, &code, &context, kind))
        .await?;
    Ok(login_response(&state, kind, issued))
}
