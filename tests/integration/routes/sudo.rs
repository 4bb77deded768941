//! `/sudo`: the step-up before Show. The password once more, throttled and
//! audited; ten minutes of elevation by the application's clock; only local
//! paths are followed afterwards.

use crate::common;

use std::time::Duration;

use common::{PASSWORD, app_with_member, location, text_of};
use reqwest::StatusCode;

#[actix_web::test]
async fn the_password_again_elevates_the_session_for_ten_minutes() {
    let (app, ada) = app_with_member("ada").await;
    app.login_ok("ada").await;
    let client = app.new_client_token("BI").await;
    let show = format!("/profile/tokens/{}/show", client.0);

    // Signing in does not elevate: Show sends the user to /sudo first.
    let res = app.submit(&show, &show, &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let sudo = location(res.headers()).to_owned();
    assert_eq!(sudo, format!("/sudo?next={}", show.replace('/', "%2F")));
    let page = app.get_html(&sudo).await;
    assert_eq!(
        common::input_value(&page, "next").as_deref(),
        Some(show.as_str())
    );

    // A wrong password: the form again, the message beside the field, audited.
    let res = app
        .submit(&sudo, "/sudo", &[("password", "not-it"), ("next", &show)])
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = res.text().await.unwrap();
    assert_eq!(
        text_of(&page, "#sudo-password-error").as_deref(),
        Some("This is not your password.")
    );
    assert_eq!(app.audit_rows("step_up_failure").len(), 1);
    let res = app.submit(&show, &show, &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "still not elevated");

    // The right one: back to where it was going, audited, elevated.
    let res = app
        .submit(&sudo, "/sudo", &[("password", PASSWORD), ("next", &show)])
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(res.headers()), show);
    let rows = app.audit_rows("step_up");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].actor_name.as_deref(), Some(ada.username.as_str()));
    let res = app.submit(&show, &show, &[]).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        text_of(&res.text().await.unwrap(), "#shown-token").as_deref(),
        Some(client.1.as_str())
    );

    // Nine minutes on it still holds; eleven, and it has lapsed.
    app.advance_clock(Duration::from_secs(9 * 60));
    assert_eq!(app.submit(&show, &show, &[]).await.status(), StatusCode::OK);
    app.advance_clock(Duration::from_secs(2 * 60));
    assert_eq!(
        app.submit(&show, &show, &[]).await.status(),
        StatusCode::SEE_OTHER
    );
}

#[actix_web::test]
async fn only_local_paths_are_followed_after_the_step_up() {
    let (app, _) = app_with_member("ada").await;
    app.login_ok("ada").await;
    for next in ["https://evil.example/", "//evil.example/", "/\tevil"] {
        let res = app
            .submit("/sudo", "/sudo", &[("password", PASSWORD), ("next", next)])
            .await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{next}");
        assert_eq!(location(res.headers()), "/", "{next}");
    }
    // And only a signed-in user reaches it.
    let stranger = app.visitor();
    let res = stranger.get("/sudo").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(location(res.headers()).starts_with("/login"));
}
