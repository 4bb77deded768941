//! The job runner: the periodic jobs on `/admin/jobs` and "Run now",
//! housekeeping with the audit retention, leases that lapse, and a job that
//! cannot be read ending among the failures. (Exactly-once delivery with two
//! instances and an instance killed mid-delivery are in `webhooks`.)

use chrono::TimeDelta;
use diesel::prelude::*;
use reqwest::StatusCode;
use tessera::db::jobs::{self as rows, Finish, NewJob};
use tessera::db::schema::{audit_events::dsl as a, jobs::dsl as j};

use crate::common::{self, admin_app, eventually, text_of};

#[actix_web::test]
async fn the_jobs_page_lists_the_periodic_jobs_and_runs_one_now() {
    let (app, _) = admin_app().await;
    let html = app.get_html("/admin/jobs").await;
    for kind in ["housekeeping", "expiry_scan", "expiry_digest"] {
        assert!(
            html.contains(&format!("data-job=\"{kind}\"")),
            "{kind} listed: {html}"
        );
    }
    let row = text_of(&html, "tr[data-job=housekeeping]").unwrap();
    assert!(
        row.contains("every 10 minutes") && row.contains("never"),
        "{row}"
    );
    assert_eq!(app.job_last_finished("housekeeping"), None);

    let id: i64 = app.db(|c| {
        j::jobs
            .filter(j::unique_key.eq("housekeeping"))
            .select(j::id)
            .first(c)
            .unwrap()
    });
    let res = app
        .post_form(
            &format!("/admin/jobs/{id}/run"),
            &[("csrf_token", &common::csrf_in(&html))],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(
        eventually(|| app.job_last_finished("housekeeping").is_some()).await,
        "the runner ran it"
    );
    // Done, and due again in ten minutes.
    let (state, run_at): (String, chrono::NaiveDateTime) = app.db(|c| {
        j::jobs
            .filter(j::unique_key.eq("housekeeping"))
            .select((j::state, j::run_at))
            .first(c)
            .unwrap()
    });
    assert_eq!(state, "pending");
    let ahead = run_at - app.now();
    assert!(
        ahead > TimeDelta::minutes(9) && ahead <= TimeDelta::minutes(10),
        "{ahead}"
    );
    let row = text_of(
        &app.get_html("/admin/jobs").await,
        "tr[data-job=housekeeping]",
    )
    .unwrap();
    assert!(!row.contains("never"), "{row}");
    assert!(row.contains("none"), "no failure: {row}");
}

#[actix_web::test]
async fn a_member_cannot_see_or_run_jobs() {
    let (app, _) = common::app_with_user("ada").await;
    app.login_ok("ada").await;
    let res = app.get("/admin/jobs").await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    // With a valid CSRF token (from a page the member may see), still refused,
    // and the job stays where it was.
    let csrf = common::csrf_in(&app.get_html("/profile").await);
    let (id, due): (i64, chrono::NaiveDateTime) = app.db(|c| {
        j::jobs
            .filter(j::unique_key.eq("housekeeping"))
            .select((j::id, j::run_at))
            .first(c)
            .unwrap()
    });
    let res = app
        .post_form(&format!("/admin/jobs/{id}/run"), &[("csrf_token", &csrf)])
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let after: chrono::NaiveDateTime =
        app.db(|c| j::jobs.find(id).select(j::run_at).first(c).unwrap());
    assert_eq!(after, due);
}

#[actix_web::test]
async fn housekeeping_deletes_audit_events_past_the_audit_retention() {
    let (app, _) = admin_app().await;
    let res = app.save_settings(&[("audit_retention_days", "30")]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let html = app.get_html("/admin/settings").await;
    assert_eq!(
        common::input_value(&html, "audit_retention_days").as_deref(),
        Some("30")
    );
    // Two old events and one recent, as of the server's clock.
    let now = app.now();
    app.db(|c| {
        for (label, age) in [("old-1", 40), ("old-2", 31), ("recent", 29)] {
            diesel::insert_into(a::audit_events)
                .values((
                    a::occurred_at.eq(now - TimeDelta::days(age)),
                    a::action.eq(common::known_action("login")),
                    a::outcome.eq(tessera::db::audit::Outcome::Success),
                    a::target_label.eq(label),
                ))
                .execute(c)
                .unwrap();
        }
    });
    app.run_job_now("housekeeping");
    assert!(eventually(|| app.job_last_finished("housekeeping").is_some()).await);
    let labels: Vec<Option<String>> = app.db(|c| {
        a::audit_events
            .filter(a::target_label.eq_any(["old-1", "old-2", "recent"]))
            .select(a::target_label)
            .load(c)
            .unwrap()
    });
    assert_eq!(labels, vec![Some("recent".to_owned())]);
    // The deletion is audited, by the runner.
    let purge = app.audit_rows("purge");
    assert_eq!(purge.len(), 1);
    assert_eq!(purge[0].actor_name.as_deref(), Some("job runner"));
    let detail = purge[0].detail.as_deref().unwrap();
    assert!(
        detail.contains("2 audit events older than 30 days"),
        "{detail}"
    );
    // A bad retention is refused beside its field, with what was typed.
    let res = app.save_settings(&[("audit_retention_days", "0")]).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.unwrap();
    assert_eq!(
        common::input_value(&html, "audit_retention_days").as_deref(),
        Some("0")
    );
    assert!(html.contains("audit_retention_days-error"), "{html}");
}

#[actix_web::test]
async fn a_lease_keeps_a_job_from_others_until_it_lapses() {
    let app = common::spawn_app().await;
    let now = app.now() + TimeDelta::days(400);
    let lease = TimeDelta::seconds(60);
    app.db(|c| {
        // Only this job, due far in the server's future, so that the server's
        // own runner leaves it alone.
        diesel::delete(j::jobs).execute(c).unwrap();
        let job = NewJob {
            kind: "expiry_digest".into(),
            payload: "{}".into(),
            unique_key: Some("test-lease".into()),
            run_at: now,
        };
        assert!(rows::enqueue(c, job.clone(), now).unwrap());
        assert!(!rows::enqueue(c, job, now).unwrap(), "unique: queued once");
        let held = rows::claim(c, "dead", now, now + lease).unwrap().unwrap();
        assert_eq!(held.unique_key.as_deref(), Some("test-lease"));
        // Held: nobody else gets it, until the lease has lapsed.
        assert!(
            rows::claim(c, "other", now + TimeDelta::seconds(59), now + lease)
                .unwrap()
                .is_none()
        );
        let later = now + TimeDelta::seconds(61);
        let taken = rows::claim(c, "other", later, later + lease)
            .unwrap()
            .unwrap();
        assert_eq!(taken.id, held.id);
        // The dead instance's late word does not count; the live one's does.
        assert!(!rows::finish(c, held.id, "dead", later, &Finish::Done).unwrap());
        assert!(rows::finish(c, held.id, "other", later, &Finish::Done).unwrap());
        assert!(
            rows::claim(c, "third", later + lease * 2, later + lease * 3)
                .unwrap()
                .is_none()
        );
    });
}

#[actix_web::test]
async fn a_job_that_cannot_be_read_is_given_up_and_listed_as_failed() {
    let (app, _) = admin_app().await;
    let now = app.now();
    app.db(|c| {
        let job = NewJob {
            kind: "webhook_delivery".into(),
            payload: "{\"nothing\": true}".into(),
            unique_key: None,
            run_at: now,
        };
        assert!(rows::enqueue(c, job, now).unwrap());
    });
    let failed = || {
        app.db(|c| {
            j::jobs
                .filter(j::state.eq("failed"))
                .count()
                .get_result::<i64>(c)
                .unwrap()
        })
    };
    assert!(eventually(|| failed() == 1).await, "given up");
    let html = app.get_html("/admin/jobs").await;
    let failures = text_of(&html, "#failed-jobs").unwrap();
    assert!(
        failures.contains("Deliver a webhook") && failures.contains("given up"),
        "{failures}"
    );
    assert!(failures.contains("unreadable job"), "{failures}");
}
