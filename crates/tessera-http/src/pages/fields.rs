//! The fields of a posted form or a query string, as the pages read them: one reader for the
//! sign-in, consent and logout forms, the authorization request posted as a form, the account
//! pages and the console.

use actix_web::{web, HttpRequest};

use crate::error::ApiError;
use crate::extract::read_body;

/// The fields of a form or a query string, in order, every value as sent (a name repeated as
/// often as it was sent).
#[derive(Debug, Default)]
pub(crate) struct Fields(Vec<(String, String)>);

impl Fields {
    /// The query string of `req`.
    pub(crate) fn of_query(req: &HttpRequest) -> Self {
        Self(
            form_urlencoded::parse(req.query_string().as_bytes())
                .into_owned()
                .collect(),
        )
    }

    /// A form-encoded body, within the limits every body has.
    ///
    /// # Errors
    /// 400 for a body that is not text (`what` says which form); 408 and 413 as for any body.
    pub(crate) async fn of_body(
        req: &HttpRequest,
        payload: web::Payload,
        what: &str,
    ) -> Result<Self, ApiError> {
        let body = read_body(req, payload.into_inner()).await?;
        if std::str::from_utf8(&body).is_err() {
            return Err(ApiError::MalformedBody(format!("{what} could not be read")));
        }
        Ok(Self(form_urlencoded::parse(&body).into_owned().collect()))
    }

    /// Every field, in order: what a request's reader of named parameters takes.
    pub(crate) fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// The first value of `name`.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first value of `name`, or the empty string.
    pub(crate) fn text(&self, name: &str) -> &str {
        self.get(name).unwrap_or_default()
    }

    /// The first value of `name`, or the empty string, as a `String` of its own (for a use case
    /// that takes the value with it).
    pub(crate) fn owned(&self, name: &str) -> String {
        self.text(name).to_owned()
    }

    /// Every value of `name` (checkboxes).
    pub(crate) fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first value of `name` trimmed, `None` when it is absent or blank.
    pub(crate) fn filled(&self, name: &str) -> Option<&str> {
        self.get(name).map(str::trim).filter(|v| !v.is_empty())
    }

    /// The first value of `name` as a whole number; `None` when absent, blank or not a number.
    pub(crate) fn number(&self, name: &str) -> Option<i64> {
        self.filled(name).and_then(|v| v.parse().ok())
    }

    /// Whether a checkbox `name` was ticked.
    pub(crate) fn checked(&self, name: &str) -> bool {
        self.filled(name).is_some()
    }
}
