//! `/account/mfa`: two-step sign-in (TOTP). Off: a button starts the enrolment (twin `POST
//! /mfa/setup`, `SecondFactor::setup_mfa`), whose page shows the QR code, the secret in text
//! and a link for an app on the same device, and asks for a code that confirms it (twin `POST
//! /mfa/verify`, `verify_mfa`), after which the backup codes are shown, once. On: how many backup
//! codes are left (twin `GET /mfa/backup-codes`), a fresh set after a confirmation (twin `POST
//! /mfa/backup-codes`), and turning it off with the password and a code (twin `POST
//! /mfa/disable`). Each change is audited by its use case.
//!
//! The QR code is the use case's SVG, drawn by Tessera from the `otpauth://` URI, set inline in
//! the page: the pages' Content-Security-Policy loads images from this server only, and the
//! secret is never stored where a second request could fetch it. The confirmation form carries
//! the secret back (it is on the page already), so that a wrong code shows the same one again,
//! redrawn; the use case checks the code against the secret it stored, never the form's.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use tessera_domain::error::UserError;
use tessera_domain::mfa::TOTP_ISSUER;
use tessera_domain::password::Password;
use tessera_domain::ports::OneTimeCodes as _;

use super::{
    answer, call, call_hashing, notice, page_ui, posted, see_other, Answer, ConfirmPage, Problems,
};
use crate::pages::guard::{signed_in, SignedIn};
use crate::pages::{failure, respond, Brand, Texts, Ui};
use crate::AppState;

/// The page of two-step sign-in: off (with the button that sets it up) or on.
#[derive(Template)]
#[template(path = "account/mfa.html")]
struct MfaPage<'a> {
    t: &'static Texts,
    brand: &'a Brand,
    here: &'static str,
    csrf: &'a str,
    /// When two-step sign-in is on, that it is, with how many backup codes are left.
    on: Option<String>,
    notice: Option<&'a str>,
    password_error: Option<String>,
    code_error: Option<String>,
    message: Option<String>,
}

/// The enrolment under way: scan, or type, and confirm with a code.
#[derive(Template)]
#[template(path = "account/mfa_enrol.html")]
struct EnrolPage<'a> {
    t: &'static Texts,
    brand: &'a Brand,
    here: &'static str,
    csrf: &'a str,
    secret: &'a str,
    otpauth_uri: &'a str,
    /// The QR code's `<svg>` element, drawn by Tessera; empty when there is none to show.
    qr_svg: &'a str,
    code_error: Option<String>,
}

/// The backup codes, shown this once.
#[derive(Template)]
#[template(path = "account/mfa_codes.html")]
struct CodesPage<'a> {
    t: &'static Texts,
    brand: &'a Brand,
    here: &'static str,
    csrf: &'a str,
    codes: &'a [String],
    /// Two-step sign-in was just turned on (else: the codes were replaced).
    turned_on: bool,
}

/// The `<svg>` element of an SVG document (without its XML declaration, which has no place in
/// HTML); nothing when there is no such element.
fn svg_element(svg: &str) -> &str {
    svg.find("<svg")
        .and_then(|start| svg.get(start..))
        .filter(|element| element.trim_end().ends_with("</svg>"))
        .unwrap_or_default()
}

/// `GET /account/mfa`: whether two-step sign-in is on, and what can be done about it.
pub async fn mfa(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    answer(show(&req, &state).await)
}

async fn show(req: &HttpRequest, state: &AppState) -> Answer {
    let me = signed_in(req, state).await?;
    let ui = page_ui(req, state);
    status_page(
        state,
        ui,
        &me,
        StatusCode::OK,
        notice(ui.t, req),
        Problems::default(),
    )
    .await
}

/// The status page, after asking the use case how many backup codes are left (which says
/// whether two-step sign-in is on).
async fn status_page(
    state: &AppState,
    ui: Ui<'_>,
    me: &SignedIn,
    status: StatusCode,
    notice: Option<&str>,
    mut problems: Problems,
) -> Answer {
    let p = me.principal.clone();
    let on = match call(state, ui, move |c| c.second_factor.backup_codes_left(&p)).await? {
        Ok(left) => Some((ui.t.mfa_on)(left)),
        Err(UserError::MfaNotEnabled) => None,
        Err(e) => return Err(failure(ui, e.into())),
    };
    Ok(respond(
        HttpResponse::build(status),
        &MfaPage {
            t: ui.t,
            brand: ui.brand,
            here: "mfa",
            csrf: &me.csrf,
            on,
            notice,
            password_error: problems.take("password"),
            code_error: problems.take("code"),
            message: problems.rest(),
        },
    ))
}

fn enrol_page(
    ui: Ui<'_>,
    me: &SignedIn,
    status: StatusCode,
    secret: &str,
    otpauth_uri: &str,
    qr_svg: &str,
    code_error: Option<String>,
) -> HttpResponse {
    respond(
        HttpResponse::build(status),
        &EnrolPage {
            t: ui.t,
            brand: ui.brand,
            here: "mfa",
            csrf: &me.csrf,
            secret,
            otpauth_uri,
            qr_svg: svg_element(qr_svg),
            code_error,
        },
    )
}

fn codes_page(ui: Ui<'_>, me: &SignedIn, codes: &[String], turned_on: bool) -> HttpResponse {
    respond(
        HttpResponse::Ok(),
        &CodesPage {
            t: ui.t,
            brand: ui.brand,
            here: "mfa",
            csrf: &me.csrf,
            codes,
            turned_on,
        },
    )
}

/// `POST /account/mfa/setup`: starts an enrolment (a new secret; nothing is on yet) and shows
/// it. Already on: back to the status page.
pub async fn start_enrolment(
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> HttpResponse {
    answer(start(&req, &state, payload).await)
}

async fn start(req: &HttpRequest, state: &AppState, payload: web::Payload) -> Answer {
    let (me, _, ui) = posted(req, state, payload).await?;
    let p = me.principal.clone();
    match call(state, ui, move |c| c.second_factor.setup_mfa(&p)).await? {
        Ok(e) => Ok(enrol_page(
            ui,
            &me,
            StatusCode::OK,
            &e.secret,
            &e.otpauth_uri,
            &e.qr_svg,
            None,
        )),
        Err(UserError::MfaAlreadyEnabled) => Ok(see_other("/account/mfa")),
        Err(e) => Err(failure(ui, e.into())),
    }
}

/// `POST /account/mfa/verify` (`code`, and the `secret` the page showed): confirms the
/// enrolment and shows the backup codes, once. A wrong code shows the same enrolment again,
/// saying so beside the code field.
pub async fn verify_enrolment(
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> HttpResponse {
    answer(verify(&req, &state, payload).await)
}

async fn verify(req: &HttpRequest, state: &AppState, payload: web::Payload) -> Answer {
    let (me, form, ui) = posted(req, state, payload).await?;
    let code = form.owned("code");
    let p = me.principal.clone();
    match call(state, ui, move |c| c.second_factor.verify_mfa(&p, &code)).await? {
        Ok(codes) => Ok(codes_page(ui, &me, &codes, true)),
        Err(UserError::Validation(_)) => {
            // Redrawn from the secret the page showed; an altered one shows no QR code.
            let secret = form.owned("secret");
            let (uri, svg) = tessera_crypto::TotpCodes
                .enrolment(&secret, &me.principal.username, TOTP_ISSUER)
                .unwrap_or_default();
            Ok(enrol_page(
                ui,
                &me,
                StatusCode::UNPROCESSABLE_ENTITY,
                &secret,
                &uri,
                &svg,
                Some(ui.t.mfa_wrong_setup_code.to_owned()),
            ))
        }
        // On already, or no enrolment under way (another tab finished it): the status says.
        Err(UserError::MfaAlreadyEnabled | UserError::MfaNotEnabled) => {
            Ok(see_other("/account/mfa"))
        }
        Err(e) => Err(failure(ui, e.into())),
    }
}

/// `GET /account/mfa/backup-codes`: asks before replacing the backup codes.
pub async fn confirm_regenerate(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    answer(ask_regenerate(&req, &state).await)
}

async fn ask_regenerate(req: &HttpRequest, state: &AppState) -> Answer {
    let me = signed_in(req, state).await?;
    let ui = page_ui(req, state);
    let t = ui.t;
    Ok(respond(
        HttpResponse::Ok(),
        &ConfirmPage {
            t,
            brand: ui.brand,
            here: "mfa",
            csrf: &me.csrf,
            title: t.regenerate_question,
            facts: Vec::new(),
            explained: t.regenerate_explained,
            action: "/account/mfa/backup-codes",
            button: t.regenerate_button,
            back: "/account/mfa",
        },
    ))
}

/// `POST /account/mfa/backup-codes`: a fresh set of backup codes, shown once; the old ones
/// stop working. Off: back to the status page.
pub async fn regenerate_codes(
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> HttpResponse {
    answer(regenerate(&req, &state, payload).await)
}

async fn regenerate(req: &HttpRequest, state: &AppState, payload: web::Payload) -> Answer {
    let (me, _, ui) = posted(req, state, payload).await?;
    let p = me.principal.clone();
    match call(state, ui, move |c| {
        c.second_factor.regenerate_backup_codes(&p)
    })
    .await?
    {
        Ok(codes) => Ok(codes_page(ui, &me, &codes, false)),
        Err(UserError::MfaNotEnabled) => Ok(see_other("/account/mfa")),
        Err(e) => Err(failure(ui, e.into())),
    }
}

/// `POST /account/mfa/disable` (`password`, `code`): turns two-step sign-in off. A wrong
/// password or code is said beside its field.
pub async fn disable_mfa(
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> HttpResponse {
    answer(disable(&req, &state, payload).await)
}

async fn disable(req: &HttpRequest, state: &AppState, payload: web::Payload) -> Answer {
    let (me, form, ui) = posted(req, state, payload).await?;
    let t = ui.t;
    let password = Password::new(form.owned("password"));
    let code = form.owned("code");
    let p = me.principal.clone();
    let outcome = call_hashing(state, ui, move |c| {
        c.second_factor.disable_mfa(&p, &password, &code)
    })
    .await?;
    let problems = match outcome {
        Ok(()) => return Ok(see_other("/account/mfa?done=mfa-off")),
        Err(UserError::MfaNotEnabled) => return Ok(see_other("/account/mfa")),
        Err(UserError::WrongCurrentPassword) => Problems::one("password", t.wrong_current_password),
        Err(UserError::Validation(_)) => Problems::one("code", t.wrong_code),
        Err(e) => return Err(failure(ui, e.into())),
    };
    let status = if problems.has("password") {
        StatusCode::FORBIDDEN
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    status_page(state, ui, &me, status, None, problems).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_qr_code_is_set_in_the_page_as_its_svg_element_alone() {
        let document = r#"<?xml version="1.0" standalone="yes"?><svg xmlns="http://www.w3.org/2000/svg"><path d="M0 0h1"/></svg>"#;
        assert_eq!(
            svg_element(document),
            r#"<svg xmlns="http://www.w3.org/2000/svg"><path d="M0 0h1"/></svg>"#
        );
        assert_eq!(svg_element("no image here"), "");
        assert_eq!(svg_element("<svg><script>"), "");
        let (_, svg) = tessera_crypto::TotpCodes
            .enrolment("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", "alice", TOTP_ISSUER)
            .unwrap();
        let element = svg_element(&svg);
        assert!(element.starts_with("<svg") && element.ends_with("</svg>"));
        assert!(!element.contains("<script"));
    }
}
