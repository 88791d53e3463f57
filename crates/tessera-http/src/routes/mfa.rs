//! The second factor: enrolment, backup codes, the second step of a login, and admin reset.

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use tessera_domain::credentials::TokenFormat;
use tessera_domain::password::Password;
use tessera_domain::user::UserId;

use crate::dto::{
    AccessResponse, BackupCodesResponse, CodeBody, DisableMfaBody, EnrolmentResponse, MfaLoginBody,
    TokenResponse,
};
use crate::error::ApiError;
use crate::extract::{Caller, ClientInfo, JsonBody};
use crate::routes::auth::{browser_session, token_format, wants_cookie};
use crate::routes::credentials::no_store;
use crate::AppState;

/// `POST /mfa/setup`: a new secret, its `otpauth://` URI and QR code; nothing is active yet.
pub async fn setup(
    state: web::Data<AppState>,
    Caller(caller): Caller,
) -> Result<HttpResponse, ApiError> {
    let e = web::block(move || state.service.setup_mfa(&caller)).await??;
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
    let codes = web::block(move || state.service.verify_mfa(&caller, &body.code)).await??;
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
    web::block(move || state.service.disable_mfa(&caller, &password, &body.code)).await??;
    Ok(HttpResponse::NoContent().finish())
}

/// `GET /mfa/backup-codes`: how many are left.
pub async fn backup_codes_left(
    state: web::Data<AppState>,
    Caller(caller): Caller,
) -> Result<HttpResponse, ApiError> {
    let n = web::block(move || state.service.backup_codes_left(&caller)).await??;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "remaining": n })))
}

/// `POST /mfa/backup-codes`: a fresh set; the old ones die.
pub async fn regenerate_backup_codes(
    state: web::Data<AppState>,
    Caller(caller): Caller,
) -> Result<HttpResponse, ApiError> {
    let codes = web::block(move || state.service.regenerate_backup_codes(&caller)).await??;
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
    let id = UserId(id.into_inner());
    web::block(move || state.service.reset_mfa(&caller, id)).await??;
    Ok(HttpResponse::NoContent().finish())
}

/// `POST /auth/login/mfa {"mfa_token", "code", "token_format"?}`: the second step of a login.
pub async fn login(
    state: web::Data<AppState>,
    ClientInfo(context): ClientInfo,
    JsonBody(body): JsonBody<MfaLoginBody>,
) -> Result<HttpResponse, ApiError> {
    let format = state
        .service
        .login_format(token_format(body.token_format.as_deref())?);
    let (token, code) = (body.mfa_token, body.code);
    if wants_cookie(body.session.as_deref())? {
        let service = std::sync::Arc::clone(&state.service);
        let issued =
            web::block(move || service.login_mfa_opaque(&token, &code, &context, true)).await??;
        return Ok(browser_session(&state, issued));
    }
    Ok(match format {
        TokenFormat::Jwt => {
            let issued =
                web::block(move || state.service.login_mfa(&token, &code, &context)).await??;
            no_store(HttpResponse::Ok()).json(TokenResponse::from(issued))
        }
        TokenFormat::Opaque => {
            let issued = web::block(move || {
                state
                    .service
                    .login_mfa_opaque(&token, &code, &context, false)
            })
            .await??;
            no_store(HttpResponse::Ok())
                .insert_header((header::PRAGMA, "no-cache"))
                .json(AccessResponse::from(issued))
        }
    })
}
