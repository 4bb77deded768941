//! What acts as me, in a real browser: signing out a mobile device and every
//! other browser from Token Management, without JavaScript dialogs in the way.

use super::*;

#[actix_web::test]
async fn a_device_and_the_other_browsers_are_signed_out_from_token_management() {
    let Some(binaries) =
        browser_or_skip("a_device_and_the_other_browsers_are_signed_out_from_token_management")
    else {
        return;
    };
    let (app, _) = app_with_user("ada").await;
    let res = reqwest::Client::new()
        .post(app.url("/api/v1/sessions"))
        .json(&json!({ "username": "ada", "password": PASSWORD, "device_name": "Pixel 9" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let phone: Value = res.json().await.unwrap();
    let phone = phone["token"].as_str().unwrap().to_owned();
    let elsewhere = app.visitor();
    elsewhere.login_ok("ada").await;

    let browser = Browser::launch(&binaries, &app).await;
    browser.sign_in("ada").await;
    browser.goto("/profile/tokens").await;
    let this = browser
        .find("#web-sessions tr[data-current]")
        .await
        .text()
        .await
        .unwrap();
    assert!(this.contains("Chrome on Linux"), "{this}");
    assert!(this.contains("This browser"), "{this}");
    assert_eq!(browser.row_ids("#devices tr[data-token-id]").await.len(), 1);

    // The device's button is named after it.
    browser
        .press_to_new_page("#devices", "Sign out Pixel 9")
        .await;
    assert_eq!(browser.path().await, "/profile/tokens");
    assert!(browser.body_text().await.contains("Signed out “Pixel 9”"));
    assert!(
        browser
            .row_ids("#devices tr[data-token-id]")
            .await
            .is_empty()
    );
    assert_eq!(app.me(&phone).await.0, StatusCode::UNAUTHORIZED);

    browser
        .press_to_new_page("#web-sessions", "Sign out everywhere else")
        .await;
    assert!(
        browser
            .body_text()
            .await
            .contains("Signed out 1 other session.")
    );
    assert!(
        !browser
            .exists("#web-sessions tr:not([data-current]) td")
            .await
    );
    let res = elsewhere.get("/profile/tokens").await;
    assert_eq!(
        res.status(),
        StatusCode::SEE_OTHER,
        "the other browser is out"
    );
    browser.goto("/profile/tokens").await;
    assert!(
        browser.exists("#web-sessions tr[data-current]").await,
        "this one stays"
    );
}
