//! `/admin/audit` and `/admin/audit.csv`: the audit log, its filters, pages and
//! export.

use crate::common;

use common::{admin_app, content_type, text_of, urlencode};
use reqwest::StatusCode;

#[actix_web::test]
async fn the_audit_log_filters_pages_and_exports() {
    let (app, _) = admin_app().await;
    // 120 failed sign-ins by a stranger, written as audit rows directly (no
    // throttle stands in the way of the rows).
    for i in 0..120 {
        app.db(|conn| {
            let actor = tessera::db::audit::Actor {
                username: Some(format!("user{i}")),
                ip: Some("10.0.0.9".into()),
                ..Default::default()
            };
            tessera::db::audit::record(
                conn,
                &actor,
                &tessera::db::audit::Event::new(
                    tessera::db::audit::AuditAction::LoginFailure,
                    tessera::db::audit::Outcome::Failure,
                ),
            )
        })
        .unwrap();
    }
    let first = app.get_html("/admin/audit?action=login_failure").await;
    let rows = first.matches("data-event-id").count();
    assert_eq!(rows, 100);
    // People read sentences; the filter and the export keep the codes.
    assert_eq!(first.matches("<td>Sign-in failed</td>").count(), 100);
    assert!(!first.contains(">login_failure<"));
    assert!(first.contains("<option value=\"login_failure\" selected>Sign-in failed</option>"));
    let next = {
        let doc = scraper::Html::parse_document(&first);
        let link = scraper::Selector::parse("a[rel=next]").unwrap();
        doc.select(&link)
            .next()
            .unwrap()
            .value()
            .attr("href")
            .unwrap()
            .to_owned()
    };
    let second = app.get_html(&next).await;
    assert_eq!(second.matches("data-event-id").count(), 20);
    assert!(second.contains("user0") && !second.contains(">user119<"));

    let only = app.get_html("/admin/audit?actor=USER7").await;
    assert_eq!(only.matches("data-event-id").count(), 1);
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let ranged = app
        .get_html(&format!(
            "/admin/audit?action=login_failure&from={today}&until={today}"
        ))
        .await;
    assert_eq!(ranged.matches("data-event-id").count(), 100);
    let none = app
        .get_html("/admin/audit?action=login_failure&until=2000-01-01")
        .await;
    assert_eq!(none.matches("data-event-id").count(), 0);

    let res = app.get("/admin/audit.csv?action=login_failure").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(content_type(&res).starts_with("text/csv"));
    let csv = res.text().await.unwrap();
    assert!(csv.starts_with("time_utc,actor,ip,user_agent,action"));
    assert!(csv.contains(",login_failure,"), "the export keeps the code");
    assert_eq!(csv.lines().count(), 121);
}

/// The token each listed audit row links to (`None` for rows about no token).
fn event_targets(html: &str) -> Vec<Option<i64>> {
    let doc = scraper::Html::parse_document(html);
    let rows = scraper::Selector::parse("tr[data-event-id]").unwrap();
    let link = scraper::Selector::parse("a[href^=\"/admin/tokens/\"]").unwrap();
    doc.select(&rows)
        .map(|row| {
            row.select(&link).next().map(|a| {
                a.value().attr("href").unwrap()["/admin/tokens/".len()..]
                    .parse()
                    .unwrap()
            })
        })
        .collect()
}

#[actix_web::test]
async fn the_audit_log_filters_by_token_id_or_display_prefix() {
    let (app, root) = admin_app().await;
    let ada = app.create_user("ada", false);
    let (dept, user_type) = app.grant(ada.id, "Ops", "devices:read");
    let personal = app.insert_token(ada.id, "personal", "laptop", None);
    let api = app.insert_token(ada.id, "api", "ERP", Some((dept, user_type)));
    // Audited changes: personal twice, api once, and an event about no token.
    for (id, action) in [
        (personal.id, "disable"),
        (api.id, "disable"),
        (personal.id, "enable"),
    ] {
        let res = app
            .submit(
                &format!("/admin/tokens/{id}"),
                &format!("/admin/tokens/{id}/{action}"),
                &[],
            )
            .await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
    }
    app.submit(
        &format!("/admin/users/{}", ada.id),
        &format!("/admin/users/{}", ada.id),
        &[("email", "ada@example.com"), ("display_name", "Ada L.")],
    )
    .await;
    let all = app.get_html("/admin/audit").await;
    assert!(event_targets(&all).contains(&None), "events about no token");

    let prefix = |t: &common::Seeded| t.token[..9].to_owned();
    let cases: Vec<(String, Vec<Option<i64>>)> = vec![
        (personal.id.to_string(), vec![Some(personal.id); 2]),
        (format!("#{}", api.id), vec![Some(api.id)]),
        (prefix(&personal), vec![Some(personal.id); 2]),
        (
            format!("{}…", prefix(&personal)),
            vec![Some(personal.id); 2],
        ),
        (format!(" {}... ", prefix(&api)), vec![Some(api.id)]),
        // The start of a display prefix, if few tokens have it.
        (personal.token[..7].to_owned(), vec![Some(personal.id); 2]),
        ("tsra_".into(), vec![Some(api.id)]),
    ];
    for (token, expected) in &cases {
        let path = format!("/admin/audit?token={}", urlencode(token));
        let page = app.get_html(&path).await;
        assert_eq!(&event_targets(&page), expected, "{token:?}");
        assert!(text_of(&page, "#token-note").is_none(), "{token:?}");
        // The export takes the same filter: a header, then the same rows.
        let csv = app
            .get(&format!("/admin/audit.csv?token={}", urlencode(token)))
            .await
            .text()
            .await
            .unwrap();
        assert_eq!(csv.lines().count(), 1 + expected.len(), "{token:?}: {csv}");
    }

    // An id that names no token (any more) just has no events.
    let page = app.get_html("/admin/audit?token=999999").await;
    assert!(event_targets(&page).is_empty());
    assert!(text_of(&page, "#token-note").is_none());

    // A prefix no token has, or garbage: no rows and a note, never an error.
    for (token, note) in [
        ("tsrp_zzzz", "No token has a display prefix"),
        ("tsrp_zzzz…", "No token has a display prefix"),
        ("laptop", "Enter a token id"),
        ("' OR 1=1 --", "Enter a token id"),
        ("-1", "Enter a token id"),
        ("99999999999999999999999", "Enter a token id"),
        ("tsrp_4Fq0x", "Enter a token id"),
        ("%", "Enter a token id"),
    ] {
        let path = format!("/admin/audit?token={}", urlencode(token));
        let res = app.get(&path).await;
        assert_eq!(res.status(), StatusCode::OK, "{token:?}");
        let page = res.text().await.unwrap();
        assert!(event_targets(&page).is_empty(), "{token:?}");
        let shown = text_of(&page, "#token-note").unwrap_or_default();
        assert!(shown.contains(note), "{token:?}: {shown}");
        let doc = scraper::Html::parse_document(&page);
        let field = scraper::Selector::parse("input#a-token").unwrap();
        assert_eq!(
            doc.select(&field).next().unwrap().value().attr("value"),
            Some(token),
            "the field keeps what was typed"
        );
        let csv = app
            .get(&format!("/admin/audit.csv?token={}", urlencode(token)))
            .await;
        assert_eq!(csv.status(), StatusCode::OK, "{token:?}");
        assert_eq!(csv.text().await.unwrap().lines().count(), 1, "{token:?}");
    }

    // A prefix so short that many tokens have it asks for more of it.
    for i in 0..tessera::domain::audit_filter::MAX_PREFIX_MATCHES {
        app.insert_token(root.id, "personal", &format!("many {i}"), None);
    }
    let page = app.get_html("/admin/audit?token=tsrp_").await;
    assert!(event_targets(&page).is_empty());
    assert!(
        text_of(&page, "#token-note")
            .unwrap_or_default()
            .contains("More than")
    );
    // The whole display prefix still finds its token among them.
    let page = app
        .get_html(&format!("/admin/audit?token={}", prefix(&personal)))
        .await;
    assert_eq!(event_targets(&page), vec![Some(personal.id); 2]);
}

/// A stored action the code does not know is an error, never shown as some
/// other action; typed into the filter, it simply matches nothing.
#[actix_web::test]
async fn an_unknown_audit_action_is_an_error_when_stored_and_matches_nothing_when_asked() {
    use diesel::connection::SimpleConnection as _;
    let (app, _) = admin_app().await;
    let page = app.get_html("/admin/audit?action=no_such_action").await;
    assert!(page.contains("No events match."));
    app.db(|conn| {
        conn.batch_execute(
            "INSERT INTO audit_events (occurred_at, action, outcome) \
             VALUES ('2026-01-01 00:00:00', 'no_such_action', 'success')",
        )
    })
    .unwrap();
    for path in ["/admin/audit", "/admin/audit.csv"] {
        let status = app.get(path).await.status();
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{path}");
    }
}
