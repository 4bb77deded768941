//! `/admin/jobs`: the job runner's periodic jobs with their last runs, what is
//! queued, and the failures; "Run now" makes a waiting job due at once.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use crate::auth::extract::CurrentAdmin;
use crate::db::jobs::{self as rows, JobRow};
use crate::error::AppError;
use crate::jobs::{self, PERIODIC};
use crate::page::{FlashKind, PageCtx, flash, redirect, render};
use crate::routes::acting::Acting;
use crate::state::AppState;

/// How many queued and failed jobs the page lists.
const LISTED: i64 = 50;

/// A periodic job with how often it runs.
struct Periodic {
    row: JobRow,
    every: String,
}

#[derive(Template)]
#[template(path = "admin/jobs.html")]
struct JobsPage {
    ctx: PageCtx,
    periodic: Vec<Periodic>,
    queued: Vec<JobRow>,
    failures: Vec<JobRow>,
    counts: Vec<(String, i64)>,
}

impl JobsPage {
    fn describe(&self, kind: &str) -> &'static str {
        jobs::describe(kind)
    }
}

fn periodic_kinds() -> Vec<&'static str> {
    PERIODIC.iter().map(|(job, _)| job.kind()).collect()
}

pub async fn show_jobs(
    req: HttpRequest,
    state: web::Data<AppState>,
    _admin: CurrentAdmin,
) -> Result<HttpResponse, AppError> {
    let (rows, queued, failures, counts) = state
        .db(|conn| {
            let kinds = periodic_kinds();
            Ok((
                rows::of_kinds(conn, &kinds)?,
                rows::pending_except(conn, &kinds, LISTED)?,
                rows::failures(conn, LISTED)?,
                rows::count_by_state(conn)?,
            ))
        })
        .await?;
    let periodic = rows
        .into_iter()
        .map(|row| {
            let every = PERIODIC
                .iter()
                .find(|(job, _)| job.kind() == row.kind)
                .map(|(_, every)| jobs::every_label(*every))
                .unwrap_or_default();
            Periodic { row, every }
        })
        .collect();
    let page = JobsPage {
        ctx: PageCtx::from_request(&req),
        periodic,
        queued,
        failures,
        counts,
    };
    Ok(render(&req, StatusCode::OK, page))
}

pub async fn run_now(
    state: web::Data<AppState>,
    Acting { session, .. }: Acting<CurrentAdmin>,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let now = state.clock.now();
    let queued = state
        .db(move |conn| Ok(rows::run_now(conn, id, now)?))
        .await?;
    if queued {
        flash(
            &session,
            FlashKind::Success,
            "The job runs within moments: reload this page to see its run.",
        );
    } else {
        flash(
            &session,
            FlashKind::Error,
            "That job is not waiting to run (it has ended, or is no longer listed).",
        );
    }
    Ok(redirect("/admin/jobs"))
}
