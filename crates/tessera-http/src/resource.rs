//! For resource servers: an extractor that admits a request only with an access token that a
//! `tessera_crypto::Verifier` accepts, offline, and answers 401 in Tessera's error shape otherwise.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};
use tessera_crypto::Verifier;
use tessera_domain::claims::AccessClaims;

use crate::error::ApiError;
use crate::extract::bearer_token;

/// The verified claims of the request's bearer token. Register the verifier with
/// `App::app_data(web::Data::new(verifier))` (a `web::Data<Verifier>`).
#[derive(Debug, Clone)]
pub struct Verified(pub AccessClaims);

impl Verified {
    /// Whether the token carries this global role.
    pub fn has_role(&self, role: &str) -> bool {
        self.0.roles.iter().any(|r| r == role)
    }
}

impl FromRequest for Verified {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let verifier: Option<Arc<Verifier>> = req
            .app_data::<web::Data<Verifier>>()
            .map(|d| d.clone().into_inner());
        let token = bearer_token(req).map(str::to_owned);
        Box::pin(async move {
            let verifier = verifier.ok_or_else(|| {
                ApiError::Internal(anyhow::anyhow!("no Verifier registered as app data"))
            })?;
            let token = token.ok_or_else(ApiError::missing_token)?;
            Ok(Verified(verifier.verify(&token).await?))
        })
    }
}
