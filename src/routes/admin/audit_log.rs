//! `/admin/audit`: the audit log, newest first, keyset-paginated, filtered by
//! actor, action, token (id or display prefix) and time range;
//! `/admin/audit.csv` exports the same rows.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::{Datelike as _, NaiveDate, NaiveDateTime};

use diesel::QueryResult;

use crate::auth::extract::CurrentAdmin;
use crate::db::audit::{self, AuditAction, AuditEvent, AuditFilter, TargetType};
use crate::db::{DbConn, token_search};
use crate::domain::audit_filter::{ActionQuery, MAX_PREFIX_MATCHES, TokenQuery, no_token_note};
use crate::domain::token_filter::Cursor;
use crate::error::AppError;
use crate::page::{PageCtx, render};
use crate::state::AppState;

const PAGE: i64 = 100;
/// Most rows one CSV export carries.
const CSV_LIMIT: i64 = 100_000;

#[derive(Debug, Default, Clone, serde::Deserialize, serde::Serialize)]
pub struct AuditQuery {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    actor: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    action: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    token: String,
    /// YYYY-MM-DD, inclusive.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    from: String,
    /// YYYY-MM-DD, inclusive.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    until: String,
    #[serde(default, skip_serializing)]
    before: String,
}

impl AuditQuery {
    fn filter(&self) -> AuditFilter {
        let text = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty() && s.len() <= 100);
        // Years 1 to 9999 only: PostgreSQL refuses some dates chrono reads.
        let date = |s: &str| {
            NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
                .ok()
                .filter(|d| (1..=9999).contains(&d.year()))
        };
        AuditFilter {
            actor: text(&self.actor),
            action: text(&self.action).map(|action| ActionQuery::parse(&action)),
            // Resolved against the database by `token_ids`.
            token_ids: None,
            from: date(&self.from).map(|d| d.and_time(chrono::NaiveTime::MIN)),
            // Up to the start of the next day (checked: no overflow panic).
            until: date(&self.until)
                .and_then(|d| d.succ_opt())
                .map(|d| d.and_time(chrono::NaiveTime::MIN)),
        }
    }

    fn token(&self) -> Option<TokenQuery> {
        TokenQuery::parse(&self.token)
    }

    fn before(&self) -> Option<(NaiveDateTime, i64)> {
        Cursor::decode(self.before.trim()).and_then(|c| Some((c.value?, c.id)))
    }

    /// The filter as a query string (no cursor).
    fn to_query(&self) -> String {
        serde_urlencoded::to_string(self).unwrap_or_default()
    }
}

/// The token ids the `token` field stands for (`None`: no token filter; empty:
/// no token, so no events), and why nothing can match, if so.
fn token_ids(
    conn: &mut DbConn,
    token: Option<&TokenQuery>,
) -> QueryResult<(Option<Vec<i64>>, Option<String>)> {
    let Some(token) = token else {
        return Ok((None, None));
    };
    let ids = match token {
        TokenQuery::Id(id) => vec![*id],
        TokenQuery::Prefix(prefix) => {
            token_search::ids_with_display_prefix(conn, prefix, MAX_PREFIX_MATCHES + 1)?
        }
        TokenQuery::Invalid(_) => Vec::new(),
    };
    let note = no_token_note(token, ids.len());
    Ok(match note {
        Some(note) => (Some(Vec::new()), Some(note)),
        None => (Some(ids), None),
    })
}

#[derive(Template)]
#[template(path = "admin/audit.html")]
struct AuditPage {
    ctx: PageCtx,
    query: AuditQuery,
    filter_query: String,
    events: Vec<AuditEvent>,
    actions: Vec<AuditAction>,
    next: Option<String>,
    /// Why the token filter matches nothing.
    token_note: Option<String>,
}

impl AuditPage {
    #[allow(
        clippy::trivially_copy_pass_by_ref,
        reason = "askama templates pass loop items by reference"
    )]
    fn is_action(&self, action: &AuditAction) -> bool {
        self.query.action == action.as_str()
    }
}

pub async fn show_audit(
    req: HttpRequest,
    state: web::Data<AppState>,
    _admin: CurrentAdmin,
    query: web::Query<AuditQuery>,
) -> Result<HttpResponse, AppError> {
    let query = query.into_inner();
    let (mut filter, before, token) = (query.filter(), query.before(), query.token());
    let (mut events, actions, token_note) = state
        .db(move |conn| {
            let (ids, note) = token_ids(conn, token.as_ref())?;
            filter.token_ids = ids;
            Ok((
                audit::page(conn, &filter, before, PAGE + 1)?,
                audit::actions(conn)?,
                note,
            ))
        })
        .await?;
    // One event more than a page was read: it says whether a next page exists.
    let full = events.len() as i64 > PAGE;
    events.truncate(PAGE as usize);
    let next = events.last().filter(|_| full).map(|last| {
        Cursor {
            value: Some(last.occurred_at),
            id: last.id,
        }
        .encode()
    });
    let page = AuditPage {
        ctx: PageCtx::from_request(&req),
        filter_query: query.to_query(),
        query,
        events,
        actions,
        next,
        token_note,
    };
    Ok(render(&req, StatusCode::OK, page))
}

/// Characters that make a spreadsheet read a cell as a formula when they start
/// it (OWASP's CSV injection list).
const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// Quotes a CSV field (RFC 4180) and defuses spreadsheet formulas: a value that
/// starts like one gets a leading `'`, so it shows as text.
fn csv_field(value: &str) -> String {
    let value = if value.starts_with(FORMULA_STARTS) {
        format!("'{value}")
    } else {
        value.to_owned()
    };
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}

pub async fn export_audit(
    state: web::Data<AppState>,
    _admin: CurrentAdmin,
    query: web::Query<AuditQuery>,
) -> Result<HttpResponse, AppError> {
    let (mut filter, token) = (query.filter(), query.token());
    let events = state
        .db(move |conn| {
            filter.token_ids = token_ids(conn, token.as_ref())?.0;
            Ok(audit::page(conn, &filter, None, CSV_LIMIT)?)
        })
        .await?;
    let mut csv = String::from(
        "time_utc,actor,ip,user_agent,action,target_type,target_id,target,outcome,detail\r\n",
    );
    for e in &events {
        let fields = [
            e.occurred_at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
            e.actor_name.clone().unwrap_or_default(),
            e.ip.clone().unwrap_or_default(),
            e.user_agent.clone().unwrap_or_default(),
            e.action.as_str().to_owned(),
            e.target_type
                .map(TargetType::as_str)
                .unwrap_or_default()
                .to_owned(),
            e.target_id.map(|id| id.to_string()).unwrap_or_default(),
            e.target_label.clone().unwrap_or_default(),
            e.outcome.as_str().to_owned(),
            e.detail.clone().unwrap_or_default(),
        ];
        csv.push_str(
            &fields
                .iter()
                .map(|f| csv_field(f))
                .collect::<Vec<_>>()
                .join(","),
        );
        csv.push_str("\r\n");
    }
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            "attachment; filename=\"tessera-audit.csv\"",
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(csv))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_defused() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field(""), "");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("two\nlines"), "\"two\nlines\"");
        assert_eq!(csv_field("two\r\nlines"), "\"two\r\nlines\"");
        // Inside a value, formula characters are harmless and left alone.
        assert_eq!(csv_field("a=b+c-d@e\tf"), "a=b+c-d@e\tf");
        // Every formula start is defused, and quoted where it needs to be.
        assert_eq!(csv_field("=cmd()"), "'=cmd()");
        assert_eq!(csv_field("+1+1"), "'+1+1");
        assert_eq!(csv_field("-1+1"), "'-1+1");
        assert_eq!(csv_field("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_field("\t=cmd()"), "'\t=cmd()");
        assert_eq!(csv_field("\r=cmd()"), "\"'\r=cmd()\"");
        assert_eq!(
            csv_field("=HYPERLINK(\"http://x\",\"y\")"),
            "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\""
        );
        assert_eq!(csv_field("-a,b\nc"), "\"'-a,b\nc\"");
        for start in FORMULA_STARTS {
            let field = csv_field(&format!("{start}x"));
            let unquoted = field.strip_prefix('"').unwrap_or(&field);
            assert!(unquoted.starts_with('\''), "{start:?}: {field:?}");
        }
    }
}
