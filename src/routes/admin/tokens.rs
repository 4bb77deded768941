//! Administrator / Tokens: the inventory of every token (tab "API Tokens": kinds
//! personal, client, api; tab "Mobile Users Logged In": sessions), with filters,
//! keyset pagination and bulk revocation.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::auth::extract::CurrentAdmin;
use crate::db::DbConn;
use crate::db::audit::AuditAction;
use crate::db::schema::{departments, user_types, users};
use crate::db::token_search::{self, Selection};
use crate::db::tokens::Token;
use crate::domain::token_filter::{
    COUNT_CAP, CappedCount, FilterQuery, Position, Sort, StatusFilter, Tab, TokenFilter, thousands,
};
use crate::error::AppError;
use crate::page::{FlashKind, HtmlForm, PageCtx, flash, redirect, render};
use crate::routes::acting::Acting;
use crate::state::AppState;

/// One inventory row with the names it refers to.
pub struct InventoryRow {
    pub token: Token,
    pub owner: String,
    pub email: String,
    pub department: Option<String>,
    pub user_type: Option<String>,
}

/// Names for a page of tokens: three small lookups instead of a join per row.
pub fn with_names(conn: &mut DbConn, tokens: Vec<Token>) -> QueryResult<Vec<InventoryRow>> {
    let owner_ids: Vec<i64> = tokens.iter().map(|t| t.owner_id).collect();
    let department_ids: Vec<i64> = tokens.iter().filter_map(|t| t.department_id).collect();
    let type_ids: Vec<i64> = tokens.iter().filter_map(|t| t.user_type_id).collect();
    let owners: HashMap<i64, (String, String)> = users::table
        .filter(users::id.eq_any(&owner_ids))
        .select((users::id, users::username, users::email))
        .load::<(i64, String, String)>(conn)?
        .into_iter()
        .map(|(id, name, email)| (id, (name, email)))
        .collect();
    let departments: HashMap<i64, String> = departments::table
        .filter(departments::id.eq_any(&department_ids))
        .select((departments::id, departments::name))
        .load(conn)?
        .into_iter()
        .collect();
    let types: HashMap<i64, String> = user_types::table
        .filter(user_types::id.eq_any(&type_ids))
        .select((user_types::id, user_types::name))
        .load(conn)?
        .into_iter()
        .collect();
    Ok(tokens
        .into_iter()
        .map(|token| {
            let (owner, email) = owners.get(&token.owner_id).cloned().unwrap_or_default();
            InventoryRow {
                department: token
                    .department_id
                    .and_then(|id| departments.get(&id).cloned()),
                user_type: token.user_type_id.and_then(|id| types.get(&id).cloned()),
                owner,
                email,
                token,
            }
        })
        .collect())
}

/// The departments for the filter's select.
pub fn department_choices(conn: &mut DbConn) -> QueryResult<Vec<(i64, String)>> {
    departments::table
        .order(departments::name.asc())
        .select((departments::id, departments::name))
        .load(conn)
}

#[derive(Template)]
#[template(path = "admin/tokens/list.html")]
struct TokensPage {
    ctx: PageCtx,
    filter: TokenFilter,
    filter_query: String,
    rows: Vec<InventoryRow>,
    /// The query of the next page's link (`after=…&from=…`), if there is more.
    next: Option<String>,
    /// The query of the previous page's link (`before=…&to=…`), unless this
    /// page starts the list.
    previous: Option<String>,
    /// A name search that looked at this many tokens without filling the page.
    searched: Option<usize>,
    /// Whether the page was found walking backwards ("Previous").
    backward: bool,
    /// Where the page starts, as its URL said (kept by the bulk form).
    position: Vec<(&'static str, String)>,
    /// The number of the page's first row, when known: 1 on the first page,
    /// otherwise as the link that led here said.
    first_row: Option<i64>,
    /// How many tokens the filter matches, counted up to a cap.
    matching: CappedCount,
    departments: Vec<(i64, String)>,
    now: NaiveDateTime,
    /// Why the bulk form was sent back (nothing was selected).
    bulk_error: Option<&'static str>,
}

impl TokensPage {
    fn is_sessions(&self) -> bool {
        self.filter.tab == Tab::Sessions
    }

    fn is_first_page(&self) -> bool {
        self.previous.is_none()
    }

    /// "Rows 51–100 of 12,345" (the count as [`CappedCount`] says it), or
    /// "50 rows of 12,345" when the link did not say where the page starts.
    fn range(&self) -> String {
        let shown = self.rows.len() as i64;
        match self.first_row {
            Some(first) if shown == 1 => format!("Row {} of {}", thousands(first), self.matching),
            Some(first) if shown > 0 => format!(
                "Rows {}–{} of {}",
                thousands(first),
                thousands(first + shown - 1),
                self.matching
            ),
            _ if shown == 1 => format!("1 row of {}", self.matching),
            _ => format!("{} rows of {}", thousands(shown), self.matching),
        }
    }

    fn statuses(&self) -> [StatusFilter; 6] {
        StatusFilter::ALL
    }

    fn sorts(&self) -> [Sort; 6] {
        Sort::ALL
    }

    #[allow(
        clippy::trivially_copy_pass_by_ref,
        reason = "askama templates pass loop items by reference"
    )]
    fn is_department(&self, id: &i64) -> bool {
        self.filter.department_id == Some(*id)
    }

    #[allow(
        clippy::trivially_copy_pass_by_ref,
        reason = "askama templates pass loop items by reference"
    )]
    fn is_status(&self, status: &StatusFilter) -> bool {
        self.filter.status == Some(*status)
    }

    #[allow(
        clippy::trivially_copy_pass_by_ref,
        reason = "askama templates pass loop items by reference"
    )]
    fn is_sort(&self, sort: &Sort) -> bool {
        self.filter.sort == *sort
    }
}

/// The inventory page of a filter at a position.
async fn inventory_page(
    req: &HttpRequest,
    state: &AppState,
    filter: TokenFilter,
    position: Position,
    bulk_error: Option<&'static str>,
) -> Result<TokensPage, AppError> {
    let f = filter.clone();
    let now = state.clock.now();
    let (rows, page, matching, departments) = state
        .db(move |conn| {
            let plan = token_search::plan(conn, &f)?;
            let mut page = token_search::page(conn, &f, &plan, position, now)?;
            // A first page that holds every match (of the whole list, or of
            // the window a name search looked at) is its own count.
            let holds_all = !page.backward && (page.next.is_none() || page.searched.is_some());
            let matching = if page.at_start && holds_all {
                let listed = page.tokens.len() as i64;
                CappedCount::at_least(listed, page.searched.is_some(), COUNT_CAP)
            } else {
                token_search::count_capped(conn, &f, &plan, now, COUNT_CAP)?
            };
            let rows = with_names(conn, std::mem::take(&mut page.tokens))?;
            Ok((rows, page, matching, department_choices(conn)?))
        })
        .await?;
    let shown = rows.len() as i64;
    let first_row = match position {
        _ if page.at_start => Some(1),
        Position::After(_, from) => from,
        Position::Before(_, to) => to.map(|to| to - shown + 1).filter(|first| *first >= 1),
        Position::Start => None,
    };
    let link = |pairs: Vec<(&str, String)>| serde_urlencoded::to_string(pairs).unwrap_or_default();
    let next = page.next.map(|c| {
        let mut pairs = vec![("after", c.encode())];
        if let Some(first) = first_row {
            pairs.push(("from", (first + shown).to_string()));
        }
        link(pairs)
    });
    let previous = page.previous.map(|c| {
        let mut pairs = vec![("before", c.encode())];
        if let Some(to) = first_row.map(|first| first - 1).filter(|to| *to >= 1) {
            pairs.push(("to", to.to_string()));
        }
        link(pairs)
    });
    Ok(TokensPage {
        ctx: PageCtx::from_request(req),
        filter_query: filter.to_query(),
        filter,
        rows,
        next,
        previous,
        searched: page.searched,
        backward: page.backward,
        position: if page.at_start {
            Vec::new()
        } else {
            position.to_pairs()
        },
        first_row,
        matching,
        departments,
        now,
        bulk_error,
    })
}

pub async fn list_tokens(
    req: HttpRequest,
    state: web::Data<AppState>,
    _admin: CurrentAdmin,
    query: web::Query<FilterQuery>,
) -> Result<HttpResponse, AppError> {
    let (filter, position) = TokenFilter::from_query(&query);
    let page = inventory_page(&req, &state, filter, position, None).await?;
    Ok(render(&req, StatusCode::OK, page))
}

/// The bulk form: either chosen ids, or "everything this filter matches".
#[derive(Debug, Default, serde::Deserialize)]
pub struct BulkForm {
    #[serde(default)]
    ids: Vec<String>,
    /// "1" when the administrator chose every token matching the filter.
    #[serde(default)]
    all_matching: String,
    /// "1" when the administrator chose every row of the page (works without JS).
    #[serde(default)]
    all_on_page: String,
    #[serde(default)]
    page_ids: Vec<String>,
    #[serde(flatten)]
    filter: FilterQuery,
}

impl BulkForm {
    /// The filter the form was sent from, and either the chosen ids (sorted,
    /// without duplicates) or `Err(())` for "everything matching the filter".
    fn parts(&self) -> (TokenFilter, Result<Vec<i64>, ()>) {
        let (filter, _) = TokenFilter::from_query(&self.filter);
        if self.all_matching == "1" {
            return (filter, Err(()));
        }
        let chosen = if self.all_on_page == "1" {
            &self.page_ids
        } else {
            &self.ids
        };
        let mut ids: Vec<i64> = chosen
            .iter()
            .filter_map(|id| id.trim().parse().ok())
            .collect();
        ids.sort_unstable();
        ids.dedup();
        (filter, Ok(ids))
    }
}

#[derive(Template)]
#[template(path = "admin/tokens/bulk_confirm.html")]
struct BulkConfirmPage {
    ctx: PageCtx,
    filter: TokenFilter,
    filter_query: String,
    /// Chosen ids (None: everything matching the filter).
    ids: Option<Vec<i64>>,
    rows: Vec<InventoryRow>,
    count: i64,
    /// Ids that are already revoked or do not exist (the first ones).
    skipped: Vec<String>,
    /// How many more were skipped than `skipped` lists.
    more_skipped: usize,
}

/// Most rows listed on the confirmation page; the count covers the rest.
const CONFIRM_LISTED: i64 = 200;

/// Most "skipped" ids listed by name on the confirmation page.
const SKIPPED_LISTED: usize = 100;

/// The live tokens among those ticked (`ids`), a sample of them named, and
/// why the others are skipped: what the confirmation of a ticked bulk
/// revocation shows.
fn selected_rows(
    conn: &mut DbConn,
    ids: &[i64],
) -> Result<(Vec<InventoryRow>, i64, Vec<String>, usize), AppError> {
    let found = token_search::by_ids(conn, ids)?;
    let by_id: HashMap<i64, &Token> = found.iter().map(|t| (t.id, t)).collect();
    let mut skipped = Vec::new();
    let mut more_skipped = 0;
    for id in ids {
        let reason = match by_id.get(id) {
            Some(t) if t.revoked_at.is_none() => continue,
            Some(t) => format!("{} (already revoked)", t.label()),
            None => format!("#{id} (does not exist)"),
        };
        if skipped.len() < SKIPPED_LISTED {
            skipped.push(reason);
        } else {
            more_skipped += 1;
        }
    }
    let live: Vec<Token> = found
        .iter()
        .filter(|t| t.revoked_at.is_none())
        .cloned()
        .collect();
    let count = live.len() as i64;
    let shown = live.into_iter().take(CONFIRM_LISTED as usize).collect();
    Ok((with_names(conn, shown)?, count, skipped, more_skipped))
}

pub async fn confirm_bulk_revoke(
    req: HttpRequest,
    state: web::Data<AppState>,
    _admin: CurrentAdmin,
    HtmlForm(form): HtmlForm<BulkForm>,
) -> Result<HttpResponse, AppError> {
    let (filter, chosen) = form.parts();
    if matches!(&chosen, Ok(ids) if ids.is_empty()) {
        // Back to the same list, saying why nothing happened.
        let (_, position) = TokenFilter::from_query(&form.filter);
        let page = inventory_page(
            &req,
            &state,
            filter,
            position,
            Some("Nothing was selected: tick the tokens to delete first, or choose \"Select all matching this filter\"."),
        )
        .await?;
        return Ok(render(&req, StatusCode::UNPROCESSABLE_ENTITY, page));
    }
    let f = filter.clone();
    let now = state.clock.now();
    let ids = chosen.clone().ok();
    let (rows, count, skipped, more_skipped) = state
        .db(move |conn| {
            if let Ok(ids) = &chosen {
                selected_rows(conn, ids)
            } else {
                let count = token_search::count_live(conn, &f, now)?;
                let sample = token_search::sample(conn, &f, now, CONFIRM_LISTED)?;
                Ok((with_names(conn, sample)?, count, Vec::new(), 0))
            }
        })
        .await?;
    let page = BulkConfirmPage {
        ctx: PageCtx::from_request(&req),
        filter_query: filter.to_query(),
        filter,
        ids,
        rows,
        count,
        skipped,
        more_skipped,
    };
    Ok(render(&req, StatusCode::OK, page))
}

pub async fn bulk_revoke(
    state: web::Data<AppState>,
    Acting { actor, session, .. }: Acting<CurrentAdmin>,
    HtmlForm(form): HtmlForm<BulkForm>,
) -> Result<HttpResponse, AppError> {
    let (filter, chosen) = form.parts();
    let f = filter.clone();
    let outcome = state
        .db(move |conn| {
            let selection = match &chosen {
                Ok(ids) => Selection::Ids(ids),
                Err(()) => Selection::Filter(&f),
            };
            Ok(token_search::revoke(
                conn,
                selection,
                &actor,
                AuditAction::TokenRevoked,
            )?)
        })
        .await?;
    flash(&session, FlashKind::Success, outcome.summary());
    Ok(redirect(&format!("/admin/tokens?{}", filter.to_query())))
}
