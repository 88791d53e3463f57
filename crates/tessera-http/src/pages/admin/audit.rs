//! The audit log, `/admin/audit`, with the filters of `GET /audit` (event, outcome, a user as
//! actor or subject, `since` and `until` as RFC 3339 times) and its paging, through
//! `AuditTrail::list_audit`: global admins only, as the API (a tenant admin gets the use case's
//! refusal, a 403 page).

use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use tessera_domain::audit::{AuditQuery, AuditRecord, Event, Outcome};
use tessera_domain::user::UserId;

use crate::dto::parse_rfc3339;
use crate::pages::admin::users::Choice;
use crate::pages::admin::{paging, when, Admin, Answer, Errors, Fields, Nav, PAGE_SIZE};
use crate::pages::{Brand, Texts};
use crate::AppState;

/// The filters the errors can be said beside.
const FILTERS: [&str; 5] = ["event", "outcome", "user_id", "since", "until"];

/// One entry of the log.
#[derive(Debug)]
struct EntryRow {
    at: String,
    event: &'static str,
    success: bool,
    actor: Option<UserRef>,
    subject: Option<UserRef>,
    target: String,
    ip: String,
    details: String,
}

/// The filters as the form holds them.
#[derive(Debug, Default)]
struct Filters {
    user_id: String,
    since: String,
    until: String,
}

#[derive(Template)]
#[template(path = "admin/audit.html")]
struct AuditPage<'a> {
    t: &'static Texts,
    brand: &'a Brand,
    nav: Nav,
    events: Vec<Choice>,
    outcomes: Vec<Choice>,
    f: Filters,
    rows: Vec<EntryRow>,
    errors: Errors,
    next: Option<String>,
    first: Option<String>,
}

/// A user an entry names, with the link to their page.
#[derive(Debug)]
struct UserRef {
    link: String,
    id: i64,
}

fn user_link(user: Option<UserId>) -> Option<UserRef> {
    user.map(|u| UserRef {
        link: format!("/admin/users/{}", u.0),
        id: u.0,
    })
}

fn row(record: &AuditRecord) -> EntryRow {
    let e = &record.entry;
    EntryRow {
        at: when(e.at),
        event: e.event.as_str(),
        success: e.outcome == Outcome::Success,
        actor: user_link(e.actor),
        subject: user_link(e.subject),
        target: e.target.clone().unwrap_or_default(),
        ip: e.context.ip.clone().unwrap_or_default(),
        details: e
            .details
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(", "),
    }
}

/// `GET /admin/audit?event=&outcome=&user_id=&since=&until=&after=`: a page of the log, oldest
/// first, as `GET /audit` lists it.
pub async fn list(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    audit_page(&req, &state).await.unwrap_or_else(|r| r)
}

async fn audit_page(req: &HttpRequest, state: &AppState) -> Answer {
    let admin = Admin::enter(req, state).await?;
    let t = admin.t();
    let q = Fields::of_query(req);
    let mut errors = Errors::default();
    let mut bad = |field: &str, rule: &str| errors.add_rule(t.admin, field, rule);
    let event = q.filled("event").and_then(|raw| {
        let parsed = Event::parse(raw);
        if parsed.is_none() {
            bad("event", "unknown");
        }
        parsed
    });
    let outcome = q.filled("outcome").and_then(|raw| {
        let parsed = Outcome::parse(raw);
        if parsed.is_none() {
            bad("outcome", "unknown");
        }
        parsed
    });
    let user_id = q.filled("user_id").and_then(|raw| {
        let parsed = raw.parse::<i64>().ok();
        if parsed.is_none() {
            bad("user_id", "invalid_format");
        }
        parsed
    });
    let mut time = |field: &str| {
        q.filled(field).and_then(|raw| {
            let parsed = parse_rfc3339(raw);
            if parsed.is_none() {
                bad(field, "invalid_format");
            }
            parsed
        })
    };
    let since = time("since");
    let until = time("until");
    let after = q.number("after");
    let query = AuditQuery {
        user_id: user_id.map(UserId),
        event,
        outcome,
        since,
        until,
        after,
        limit: 0,
        subject: None,
        events: Vec::new(),
        newest_first: false,
    };
    let mut rows = Vec::new();
    let mut next_after = None;
    if !errors.any() {
        let found = admin
            .run(state, move |c, p| {
                c.audit.list_audit(p, query, Some(PAGE_SIZE))
            })
            .await?;
        match found {
            Ok(page) => {
                rows = page.items.iter().map(row).collect();
                next_after = page.next_after;
            }
            Err(e) => errors = admin.form_errors(e, &FILTERS)?,
        }
    }
    let filters = [
        ("event", q.filled("event")),
        ("outcome", q.filled("outcome")),
        ("user_id", q.filled("user_id")),
        ("since", q.filled("since")),
        ("until", q.filled("until")),
    ];
    let (next, first) = paging("/admin/audit", &filters, after, next_after);
    let chosen_event = q.text("event");
    let chosen_outcome = q.text("outcome");
    Ok(admin.render(
        errors.status(),
        &AuditPage {
            t,
            brand: admin.brand(),
            nav: admin.nav("audit", None),
            events: Event::ALL
                .iter()
                .map(|e| Choice {
                    value: e.as_str().to_owned(),
                    label: e.as_str().to_owned(),
                    selected: e.as_str() == chosen_event,
                })
                .collect(),
            outcomes: [
                (Outcome::Success, t.admin.success),
                (Outcome::Failure, t.admin.failure),
            ]
            .into_iter()
            .map(|(o, label)| Choice {
                value: o.as_str().to_owned(),
                label: label.to_owned(),
                selected: o.as_str() == chosen_outcome,
            })
            .collect(),
            f: Filters {
                user_id: q.text("user_id").to_owned(),
                since: q.text("since").to_owned(),
                until: q.text("until").to_owned(),
            },
            rows,
            errors,
            next,
            first,
        },
    ))
}
