//! Web sessions on Token Management: the list (browser, address, signed in,
//! last seen, this browser), `POST /profile/sessions/others/revoke` ("Sign
//! out everywhere else") and `POST /profile/sessions/{id}/revoke`.

use crate::common;

use std::time::Duration;

use common::{TestApp, Visitor, app_with_user, browser_like, location, text_of};
use reqwest::StatusCode;
use scraper::{Html, Selector};

const CHROME: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) \
                      Chrome/131.0.0.0 Safari/537.36";
const FIREFOX: &str =
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0";

/// A visitor whose browser says `agent`, connecting from `ip`.
fn browser(app: &TestApp, agent: &str, ip: &str) -> Visitor {
    Visitor {
        address: app.address.clone(),
        client: browser_like()
            .user_agent(agent)
            .local_address(ip.parse::<std::net::IpAddr>().unwrap())
            .build()
            .unwrap(),
    }
}

/// One row of the web sessions list.
#[derive(Debug)]
struct Row {
    id: i64,
    text: String,
    current: bool,
}

fn session_rows(html: &str) -> Vec<Row> {
    let doc = Html::parse_document(html);
    let rows = Selector::parse("#web-sessions tr[data-session-id]").unwrap();
    doc.select(&rows)
        .map(|r| Row {
            id: r.value().attr("data-session-id").unwrap().parse().unwrap(),
            text: r.text().collect::<String>(),
            current: r.value().attr("data-current").is_some(),
        })
        .collect()
}

/// Ada signed in on a laptop (Chrome on Linux, 127.0.0.1) and a desktop
/// (Firefox on Windows, 127.0.0.2); Bob in a browser of his own.
async fn ada_twice_and_bob() -> (TestApp, [Visitor; 3]) {
    let (app, _) = app_with_user("ada").await;
    app.create_user("bob", false);
    let laptop = browser(&app, CHROME, "127.0.0.1");
    laptop.login_ok("ada").await;
    let desktop = browser(&app, FIREFOX, "127.0.0.2");
    desktop.login_ok("ada").await;
    let bobs = app.visitor();
    bobs.login_ok("bob").await;
    (app, [laptop, desktop, bobs])
}

/// Asserts `who` is signed out: its next page sends it to /login.
async fn assert_signed_out(who: &Visitor) {
    let res = who.get("/profile/tokens").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(location(res.headers()).starts_with("/login"));
}

#[actix_web::test]
async fn my_browsers_are_listed_and_sign_out_everywhere_else_keeps_this_one() {
    let (app, [laptop, desktop, bobs]) = ada_twice_and_bob().await;

    let page = laptop.get_html("/profile/tokens").await;
    let rows = session_rows(&page);
    assert_eq!(rows.len(), 2, "hers only: {rows:?}");
    let this = rows
        .iter()
        .find(|r| r.current)
        .expect("this browser marked");
    assert!(this.text.contains("Chrome on Linux"), "{this:?}");
    assert!(this.text.contains("127.0.0.1"), "{this:?}");
    assert!(this.text.contains("This browser"), "{this:?}");
    let other = rows.iter().find(|r| !r.current).expect("the other one");
    assert!(other.text.contains("Firefox on Windows"), "{other:?}");
    assert!(other.text.contains("127.0.0.2"), "{other:?}");
    // Neither a key nor its hash is on the page.
    let hashes: Vec<Vec<u8>> = app.db(|c| {
        use diesel::prelude::*;
        use tessera::db::schema::sessions::dsl as s;
        s::sessions.select(s::key_sha256).load(c).unwrap()
    });
    for hash in hashes {
        let hex = tessera::auth::hex(&hash);
        assert!(!page.contains(&hex[..12]), "a session hash on the page");
    }

    let res = laptop
        .submit("/profile/tokens", "/profile/sessions/others/revoke", &[])
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(res.headers()), "/profile/tokens");
    let page = laptop.get_html("/profile/tokens").await;
    assert!(
        page.contains("Signed out 1 other session."),
        "the flash says how many"
    );
    let rows = session_rows(&page);
    assert_eq!(rows.len(), 1);
    assert!(rows[0].current);
    assert_signed_out(&desktop).await;
    assert_eq!(
        bobs.get("/profile/tokens").await.status(),
        StatusCode::OK,
        "Bob's stays"
    );
    let audited = app.audit_rows("sessions_revoked");
    assert_eq!(audited.len(), 1);
    assert_eq!(audited[0].actor_name.as_deref(), Some("ada"));
    assert_eq!(audited[0].detail.as_deref(), Some("1 session signed out"));
    // With nothing else signed in, the button is gone.
    assert!(!page.contains("/profile/sessions/others/revoke"));
}

#[actix_web::test]
async fn one_session_is_signed_out_by_its_row_and_another_users_is_a_404() {
    let (app, [laptop, desktop, bobs]) = ada_twice_and_bob().await;

    let bob_rows = session_rows(&bobs.get_html("/profile/tokens").await);
    let bob_row = bob_rows[0].id;
    let res = laptop
        .submit(
            "/profile/tokens",
            &format!("/profile/sessions/{bob_row}/revoke"),
            &[],
        )
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(bobs.get("/profile/tokens").await.status(), StatusCode::OK);

    let rows = session_rows(&laptop.get_html("/profile/tokens").await);
    let this = rows.iter().find(|r| r.current).unwrap().id;
    let other = rows.iter().find(|r| !r.current).unwrap().id;
    // Not this one: that is what "Sign out" in the menu is for.
    let path = format!("/profile/sessions/{this}/revoke");
    let res = laptop.submit("/profile/tokens", &path, &[]).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let path = format!("/profile/sessions/{other}/revoke");
    let res = laptop.submit("/profile/tokens", &path, &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_signed_out(&desktop).await;
    assert_eq!(laptop.get("/profile/tokens").await.status(), StatusCode::OK);
    assert_eq!(app.audit_rows("sessions_revoked").len(), 1);
}

#[actix_web::test]
async fn last_seen_moves_with_use_at_most_once_a_minute() {
    let (app, _) = app_with_user("ada").await;
    let laptop = browser(&app, CHROME, "127.0.0.1");
    laptop.login_ok("ada").await;
    let last_seen = || {
        app.db(|c| {
            common::text_scalar(
                c,
                "SELECT CAST(last_seen_at AS TEXT) FROM sessions WHERE user_id IS NOT NULL",
            )
        })
    };
    let signed_in = last_seen();
    laptop.get_html("/profile").await;
    assert_eq!(last_seen(), signed_in, "no write per request");
    app.advance_clock(Duration::from_secs(5 * 60));
    laptop.get_html("/profile").await;
    let later = last_seen();
    assert!(later > signed_in, "{later} after {signed_in}");
    let page = laptop.get_html("/profile/tokens").await;
    let row = text_of(&page, "#web-sessions tr[data-current]").unwrap();
    assert!(row.contains(&later[..16]), "{row} shows {later}");
}
