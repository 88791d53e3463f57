//! The audit log, for global admins.

use actix_web::{web, HttpResponse};
use tessera_domain::audit::{AuditQuery, Event, Outcome};
use tessera_domain::user::UserId;

use crate::dto::{parse_rfc3339, AuditQueryParams, AuditResponse, PageResponse};
use crate::error::ApiError;
use crate::extract::Caller;
use crate::AppState;

/// `GET /audit?user_id=&event=&outcome=&since=&until=&limit=&after=`.
pub async fn list(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    params: web::Query<AuditQueryParams>,
) -> Result<HttpResponse, ApiError> {
    let p = params.into_inner();
    let bad =
        |field: &str, rule: &str, message: &str| ApiError::field(field, rule, message.to_owned());
    let time = |field: &str, raw: Option<String>| match raw {
        None => Ok(None),
        Some(t) => parse_rfc3339(&t)
            .map(Some)
            .ok_or_else(|| bad(field, "invalid_format", "times are RFC 3339")),
    };
    let query = AuditQuery {
        user_id: p.user_id.map(UserId),
        event: match p.event {
            None => None,
            Some(e) => {
                Some(Event::parse(&e).ok_or_else(|| bad("event", "unknown", "no such event"))?)
            }
        },
        outcome: match p.outcome {
            None => None,
            Some(o) => Some(
                Outcome::parse(&o)
                    .ok_or_else(|| bad("outcome", "unknown", "outcome is success or failure"))?,
            ),
        },
        since: time("since", p.since)?,
        until: time("until", p.until)?,
        after: p.after,
        limit: 0,
        ..AuditQuery::default()
    };
    let limit = p.limit;
    let page = state
        .run(move |c| c.audit.list_audit(&caller, query, limit))
        .await?;
    Ok(HttpResponse::Ok().json(PageResponse {
        items: page.items.iter().map(AuditResponse::from).collect(),
        next_after: page.next_after,
    }))
}
