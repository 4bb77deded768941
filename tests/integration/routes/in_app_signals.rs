//! The in-app signals (issue 16): a token presented while revoked, disabled
//! or expired is marked (its row, its page, the overview's count) and queues
//! one `token.revoked_token_used` event per token and UTC day; the banners
//! while tokens expire within 7 days, on Token Management and the
//! administrator overview, and the filtered lists they lead to.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::common;

use common::{Seeded, TestApp, admin_app, app_with_user, attr_of, text_of};
use diesel::prelude::*;
use reqwest::StatusCode;
use scraper::{Html, Selector};
use serde_json::Value;
use tessera::db::schema::{jobs, tokens};
use tessera::domain::token::{PlainToken, TokenKind, TokenStatus};

const DAY: Duration = Duration::from_secs(24 * 3600);

/// Moves the server's clock to 01:00 UTC of the next day, so that what a
/// test does within an hour stays within one UTC day wherever it starts.
fn to_early_morning(app: &TestApp) {
    let now = app.now();
    let next = (now.date() + chrono::TimeDelta::days(1))
        .and_hms_opt(1, 0, 0)
        .unwrap();
    app.advance_clock((next - now).to_std().unwrap());
}

/// The `token.revoked_token_used` events queued about `token_id`: their
/// payloads, oldest first.
fn refused_events(app: &TestApp, token_id: i64) -> Vec<Value> {
    let payloads: Vec<String> = app.db(|conn| {
        jobs::table
            .filter(jobs::kind.eq("event"))
            .order(jobs::id.asc())
            .select(jobs::payload)
            .load(conn)
            .unwrap()
    });
    payloads
        .iter()
        .map(|p| serde_json::from_str::<Value>(p).unwrap())
        .filter(|e| e["type"] == "token.revoked_token_used" && e["token_id"] == token_id)
        .collect()
}

/// Every `token.revoked_token_used` event queued.
fn all_refused_events(app: &TestApp) -> usize {
    app.db(|conn| {
        jobs::table
            .filter(jobs::kind.eq("event"))
            .select(jobs::payload)
            .load::<String>(conn)
            .unwrap()
    })
    .iter()
    .filter(|p| p.contains("\"token.revoked_token_used\""))
    .count()
}

/// A token's recorded refused use: when and from where.
fn refused_use(app: &TestApp, id: i64) -> (Option<chrono::NaiveDateTime>, Option<String>) {
    app.db(|conn| {
        tokens::table
            .find(id)
            .select((tokens::refused_use_at, tokens::refused_use_ip))
            .first(conn)
            .unwrap()
    })
}

fn set_expiry(app: &TestApp, id: i64, at: chrono::NaiveDateTime) {
    app.db(|conn| {
        diesel::update(tokens::table.find(id))
            .set(tokens::expires_at.eq(at))
            .execute(conn)
            .unwrap()
    });
}

fn disable(app: &TestApp, id: i64) {
    app.db(|conn| tessera::db::tokens::set_status(conn, id, TokenStatus::Disabled))
        .unwrap();
}

fn revoke(app: &TestApp, id: i64) {
    assert_eq!(
        app.db(|conn| tessera::db::tokens::revoke(conn, id, None))
            .unwrap(),
        1
    );
}

/// A token of `owner`'s expiring `days` from the server's now.
fn expiring_in(app: &TestApp, owner: i64, kind: &str, name: &str, days: i64) -> Seeded {
    let token = app.insert_token(owner, kind, name, None);
    set_expiry(app, token.id, app.now() + chrono::TimeDelta::days(days));
    token
}

/// The `data-token-id`s of the rows `css` finds.
fn ids_in(html: &str, css: &str) -> BTreeSet<i64> {
    let doc = Html::parse_document(html);
    let rows = Selector::parse(css).unwrap();
    doc.select(&rows)
        .map(|r| r.value().attr("data-token-id").unwrap().parse().unwrap())
        .collect()
}

/// The text of the refused-use mark in the row of token `id`.
fn mark_of(html: &str, id: i64) -> Option<String> {
    text_of(
        html,
        &format!("tr[data-token-id=\"{id}\"] [data-refused-use]"),
    )
}

async fn present(app: &TestApp, token: &str) {
    assert_eq!(app.api_me(token).await.status(), StatusCode::UNAUTHORIZED);
}

#[actix_web::test]
async fn a_revoked_token_presented_is_marked_and_alerted_once_a_day() {
    let (app, ada) = app_with_user("ada").await;
    to_early_morning(&app);
    let ci = app.insert_token(ada.id, "personal", "ci", None);
    // Valid, it is neither marked nor alerted.
    assert_eq!(app.api_me(&ci.token).await.status(), StatusCode::OK);
    revoke(&app, ci.id);
    assert_eq!(refused_use(&app, ci.id), (None, None));

    let before = app.now();
    present(&app, &ci.token).await;
    present(&app, &ci.token).await;
    let after = app.now();
    let events = refused_events(&app, ci.id);
    assert_eq!(events.len(), 1, "one event a day: {events:#?}");
    let event = &events[0];
    assert_eq!(event["extra"]["reason"], "revoked");
    assert_eq!(event["extra"]["ip"], "127.0.0.1");
    assert_eq!(event["extra"]["user_agent"], Value::Null);
    // Nobody's act: no actor.
    assert_eq!(event["actor"]["user_id"], Value::Null);
    assert_eq!(event["actor"]["username"], Value::Null);
    let (at, ip) = refused_use(&app, ci.id);
    let at = at.unwrap();
    assert!(
        before <= at && at <= after,
        "the app clock's time of the last use"
    );
    assert_eq!(ip.as_deref(), Some("127.0.0.1"));

    // Later the same UTC day: marked again, not alerted again.
    app.advance_clock(Duration::from_secs(3 * 3600));
    present(&app, &ci.token).await;
    assert_eq!(refused_events(&app, ci.id).len(), 1);
    assert!(refused_use(&app, ci.id).0.unwrap() >= at + chrono::TimeDelta::hours(3));

    // The next day: once more, with the user agent it came with.
    app.advance_clock(DAY);
    let res = reqwest::Client::new()
        .get(app.url("/api/v1/me"))
        .bearer_auth(&ci.token)
        .header("user-agent", "deploy-bot/1.0")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    present(&app, &ci.token).await;
    let events = refused_events(&app, ci.id);
    assert_eq!(events.len(), 2, "{events:#?}");
    assert_eq!(events[1]["extra"]["user_agent"], "deploy-bot/1.0");
    // Every refusal is still audited.
    assert_eq!(app.audit("revoked_token_used").len(), 5);
}

#[actix_web::test]
async fn disabled_and_expired_tokens_likewise_but_not_unknown_ones_or_a_disabled_owner() {
    let (app, ada) = app_with_user("ada").await;
    to_early_morning(&app);
    let bob = app.create_user("bob", false);
    let off = app.insert_token(ada.id, "personal", "off", None);
    let old = app.insert_token(ada.id, "client", "old", None);
    let bobs = app.insert_token(bob.id, "personal", "bobs", None);
    // A phone presenting its lapsed mobile session: routine, not a leak.
    let phone = app.insert_token(ada.id, "session", "phone", None);
    disable(&app, off.id);
    set_expiry(&app, old.id, app.now() - chrono::TimeDelta::hours(1));
    set_expiry(&app, phone.id, app.now() - chrono::TimeDelta::hours(1));
    app.disable_user(bob.id);
    let unknown = PlainToken::generate("tsr", TokenKind::Personal);

    for _ in 0..2 {
        for token in [
            &off.token,
            &old.token,
            &bobs.token,
            &phone.token,
            unknown.expose(),
        ] {
            present(&app, token).await;
        }
    }
    for (token, reason) in [(&off, "disabled"), (&old, "expired")] {
        let events = refused_events(&app, token.id);
        assert_eq!(events.len(), 1, "{reason}: {events:#?}");
        assert_eq!(events[0]["extra"]["reason"], reason);
        assert!(refused_use(&app, token.id).0.is_some(), "{reason}");
    }
    // A disabled owner's token is refused for its owner, not for itself; an
    // unknown token has no row to mark.
    assert_eq!(refused_use(&app, bobs.id), (None, None));
    // The lapsed session is marked, but nobody is told.
    assert!(refused_use(&app, phone.id).0.is_some());
    assert_eq!(all_refused_events(&app), 2);

    app.advance_clock(DAY);
    for token in [&off.token, &old.token, &bobs.token, unknown.expose()] {
        present(&app, token).await;
    }
    assert_eq!(refused_events(&app, off.id).len(), 2);
    assert_eq!(refused_events(&app, old.id).len(), 2);
    assert_eq!(all_refused_events(&app), 4);
}

#[actix_web::test]
async fn token_management_says_how_many_tokens_expire_this_week_and_lists_them() {
    let (app, ada) = app_with_user("ada").await;
    let bob = app.create_user("bob", false);
    app.login_ok("ada").await;
    let later = expiring_in(&app, ada.id, "personal", "later", 30);
    let page = app.get_html("/profile/tokens").await;
    assert!(page.contains("data-token-id"), "{page}");
    assert_eq!(text_of(&page, "#expiry-banner"), None, "none: no banner");

    let soon = expiring_in(&app, ada.id, "personal", "soon", 3);
    let page = app.get_html("/profile/tokens").await;
    assert_eq!(
        text_of(&page, "#expiry-banner").as_deref(),
        Some("1 of your tokens expires this week. See which")
    );
    assert_eq!(
        attr_of(&page, "#expiry-banner", "role").as_deref(),
        Some("status")
    );

    let client = expiring_in(&app, ada.id, "client", "bi", 6);
    let issued = expiring_in(&app, ada.id, "api", "erp", 1);
    // Not counted: revoked, already expired, a mobile session, someone else's.
    let gone = expiring_in(&app, ada.id, "personal", "gone", 2);
    revoke(&app, gone.id);
    expiring_in(&app, ada.id, "personal", "past", -1);
    expiring_in(&app, ada.id, "session", "phone", 2);
    expiring_in(&app, bob.id, "personal", "bobs", 2);
    let page = app.get_html("/profile/tokens").await;
    assert_eq!(
        text_of(&page, "#expiry-banner").as_deref(),
        Some("3 of your tokens expire this week. See which")
    );
    let link = attr_of(&page, "#expiry-banner a", "href").unwrap();
    assert_eq!(link, "/profile/tokens?status=expiring");

    let filtered = app.get_html(&link).await;
    assert_eq!(
        ids_in(&filtered, "tr[data-token-id]"),
        BTreeSet::from([soon.id, client.id, issued.id]),
        "exactly the tokens the banner counts"
    );
    assert!(text_of(&filtered, "#expiry-filter").is_some());
    assert_eq!(
        attr_of(&filtered, "#expiry-filter a", "href").as_deref(),
        Some("/profile/tokens")
    );
    let all = app.get_html("/profile/tokens").await;
    assert!(ids_in(&all, "tr[data-token-id]").contains(&later.id));

    // A week on, they have expired: no banner.
    app.advance_clock(7 * DAY);
    app.login_ok("ada").await;
    let page = app.get_html("/profile/tokens").await;
    assert_eq!(text_of(&page, "#expiry-banner"), None);
}

#[actix_web::test]
async fn the_overview_says_how_many_tokens_expire_this_week_and_links_to_them() {
    let (app, _root) = admin_app().await;
    let ada = app.create_user("ada", false);
    let bob = app.create_user("bob", false);
    expiring_in(&app, ada.id, "personal", "later", 30);
    let page = app.get_html("/admin").await;
    assert_eq!(text_of(&page, "#expiry-banner"), None, "none: no banner");

    let first = expiring_in(&app, ada.id, "personal", "soon", 3);
    let page = app.get_html("/admin").await;
    assert_eq!(
        text_of(&page, "#expiry-banner").as_deref(),
        Some("1 token expires this week. Review them in the inventory")
    );
    let second = expiring_in(&app, bob.id, "api", "erp", 1);
    let third = expiring_in(&app, bob.id, "client", "bi", 7);
    let gone = expiring_in(&app, bob.id, "personal", "gone", 2);
    revoke(&app, gone.id);
    expiring_in(&app, bob.id, "session", "phone", 2);
    let page = app.get_html("/admin").await;
    assert_eq!(
        text_of(&page, "#expiry-banner").as_deref(),
        Some("3 tokens expire this week. Review them in the inventory")
    );
    let link = attr_of(&page, "#expiry-banner a", "href").unwrap();
    assert_eq!(link, "/admin/tokens?tab=api&status=expiring");
    let listed = app.get_html(&link).await;
    assert_eq!(
        ids_in(&listed, "table.inventory tbody tr[data-token-id]"),
        BTreeSet::from([first.id, second.id, third.id])
    );
}

#[actix_web::test]
async fn a_token_presented_while_not_valid_is_marked_on_its_rows_pages_and_the_overview() {
    let (app, _root) = admin_app().await;
    let ada = app.create_user("ada", false);
    let ada_browser = app.visitor();
    ada_browser.login_ok("ada").await;
    let leaked = app.insert_token(ada.id, "personal", "leaked", None);
    let off = app.insert_token(ada.id, "personal", "off", None);
    let fine = app.insert_token(ada.id, "personal", "fine", None);
    let phone = app.insert_token(ada.id, "session", "phone", None);
    revoke(&app, leaked.id);
    disable(&app, off.id);
    revoke(&app, phone.id);

    let overview = app.get_html("/admin").await;
    assert_eq!(
        text_of(&overview, "#refused-uses .empty").as_deref(),
        Some("No revoked, disabled or expired token was presented in the last 7 days.")
    );
    let profile = ada_browser.get_html("/profile/tokens").await;
    assert_eq!(text_of(&profile, "#used-after-revoked"), None);
    assert_eq!(mark_of(&profile, off.id), None);

    for token in [&leaked, &off, &phone] {
        present(&app, &token.token).await;
    }
    assert_eq!(app.api_me(&fine.token).await.status(), StatusCode::OK);
    let day = app.now().format("%-d %b %Y").to_string();

    // Token Management: the disabled token's row, and the revoked one in a
    // list of its own (revoked tokens are not listed otherwise).
    let profile = ada_browser.get_html("/profile/tokens").await;
    let mark = mark_of(&profile, off.id).expect("the disabled token is marked");
    assert!(
        mark.starts_with("Used while it was disabled · ") && mark.contains(&day),
        "{mark}"
    );
    assert!(mark.ends_with("UTC from 127.0.0.1"), "{mark}");
    assert_eq!(mark_of(&profile, fine.id), None);
    assert_eq!(
        ids_in(&profile, "#used-after-revoked tr[data-token-id]"),
        BTreeSet::from([leaked.id])
    );
    let mark = mark_of(&profile, leaked.id).unwrap();
    assert!(
        mark.starts_with("Used after it was revoked · ") && mark.ends_with("from 127.0.0.1"),
        "{mark}"
    );
    // The token's own page (edit).
    let edit = ada_browser
        .get_html(&format!("/profile/tokens/{}/edit", off.id))
        .await;
    assert!(
        text_of(&edit, "#refused-use")
            .unwrap()
            .starts_with("Used while it was disabled · ")
    );

    // The inventory's rows and the detail pages.
    let inventory = app.get_html("/admin/tokens?tab=api").await;
    assert!(mark_of(&inventory, off.id).is_some());
    assert_eq!(mark_of(&inventory, fine.id), None);
    let revoked = app.get_html("/admin/tokens?tab=api&status=revoked").await;
    assert!(
        mark_of(&revoked, leaked.id)
            .unwrap()
            .starts_with("Used after it was revoked")
    );
    for (token, wording) in [
        (&leaked, "Used after it was revoked"),
        (&off, "Used while it was disabled"),
    ] {
        let detail = app.get_html(&format!("/admin/tokens/{}", token.id)).await;
        let text = text_of(&detail, "#refused-use").unwrap();
        assert!(
            text.starts_with(wording) && text.ends_with("from 127.0.0.1"),
            "{text}"
        );
    }
    let detail = app.get_html(&format!("/admin/tokens/{}", fine.id)).await;
    assert_eq!(text_of(&detail, "#refused-use"), None);

    // The overview counts them and links to exactly them; mobile sessions apart.
    let overview = app.get_html("/admin").await;
    let line = text_of(&overview, "#refused-uses .notice").unwrap();
    assert!(
        line.starts_with("2 revoked, disabled or expired tokens were presented in the last 7 days"),
        "{line}"
    );
    let link = attr_of(&overview, "#refused-uses-link", "href").unwrap();
    assert_eq!(link, "/admin/tokens?tab=api&status=refused_use");
    let listed = app.get_html(&link).await;
    assert_eq!(
        ids_in(&listed, "table.inventory tbody tr[data-token-id]"),
        BTreeSet::from([leaked.id, off.id])
    );
    assert!(text_of(&listed, "#row-range").unwrap().ends_with("of 2"));
    let sessions = attr_of(&overview, "#refused-sessions-link", "href").unwrap();
    let listed = app.get_html(&sessions).await;
    assert_eq!(
        ids_in(&listed, "table.inventory tbody tr[data-token-id]"),
        BTreeSet::from([phone.id])
    );

    // A week later they no longer count (the marks stay on the rows).
    app.advance_clock(8 * DAY);
    app.login_ok("root").await;
    let overview = app.get_html("/admin").await;
    assert!(text_of(&overview, "#refused-uses .empty").is_some());
    let detail = app.get_html(&format!("/admin/tokens/{}", off.id)).await;
    assert!(text_of(&detail, "#refused-use").is_some());
}

/// The pages the site-wide and browser walks open (`common::site`) show
/// every signal, so that axe and the layout checks see their markup.
#[actix_web::test]
async fn the_site_walks_see_every_signal() {
    let app = common::spawn_app().await;
    let site = common::site::arrange(&app);
    app.login_ok("root").await;
    let overview = app.get_html("/admin").await;
    assert!(text_of(&overview, "#expiry-banner").is_some());
    assert!(text_of(&overview, "#refused-uses-link").is_some());
    let mine = app.get_html("/profile/tokens").await;
    assert!(mark_of(&mine, site.client.id).is_some());
    let detail = app
        .get_html(&format!("/admin/tokens/{}", site.client.id))
        .await;
    assert!(text_of(&detail, "#refused-use").is_some());
    let ada = app.visitor();
    ada.login_ok("ada").await;
    let theirs = ada.get_html("/profile/tokens").await;
    assert!(text_of(&theirs, "#expiry-banner").is_some());
    assert!(text_of(&theirs, "#used-after-revoked").is_some());
    let edit = ada
        .get_html(&format!("/profile/tokens/{}/edit", site.ada_personal.id))
        .await;
    assert!(text_of(&edit, "#refused-use").is_some());
    let expiring = ada.get_html("/profile/tokens?status=expiring").await;
    assert_eq!(
        ids_in(&expiring, "tr[data-token-id]"),
        BTreeSet::from([site.ada_client.id])
    );
}
