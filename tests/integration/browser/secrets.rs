//! Regenerate and Show in a real browser: the step-up asked for in the
//! dialog, the confirmation dialog with an overlap (Cancel focused first), and
//! Show, with the README's screenshots of both.

use super::*;

#[actix_web::test]
async fn regenerate_in_a_dialog_with_an_overlap_then_show_after_the_step_up() {
    let Some(binaries) =
        browser_or_skip("regenerate_in_a_dialog_with_an_overlap_then_show_after_the_step_up")
    else {
        return;
    };
    let (app, _) = app_with_member("ada").await;
    app.login_ok("ada").await;
    let (id, old) = app.new_client_token("JDBC").await;
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    std::fs::create_dir_all(&out).expect("screenshot folder");

    let browser = Browser::launch(&binaries, &app).await;
    browser.sign_in("ada").await;
    browser.goto("/profile/tokens").await;
    let regenerate = format!("tr[data-token-id=\"{id}\"] a[href$=\"/regenerate\"]");
    // Not stepped up yet: the dialog asks for the password first, in its field,
    // and the step-up comes back to the regeneration.
    browser.click(&regenerate, "Regenerate").await;
    browser.wait_dialog_open("confirm-dialog").await;
    assert_eq!(browser.confirm_heading().await, "Confirm it is you");
    let focused = browser
        .js("return document.activeElement.name;", vec![])
        .await;
    assert_eq!(focused, "password");
    browser
        .find("#confirm-dialog input[name=password]")
        .await
        .send_keys(PASSWORD)
        .await
        .expect("type the password");
    browser
        .click_to_new_page(
            "#confirm-dialog form[action=\"/sudo\"] button[type=submit]",
            "Confirm",
        )
        .await;
    assert_eq!(
        browser.path().await,
        format!("/profile/tokens/{id}/regenerate")
    );

    // Stepped up: the confirmation itself opens in the dialog.
    browser.goto("/profile/tokens").await;
    browser.click(&regenerate, "Regenerate").await;
    browser.wait_dialog_open("confirm-dialog").await;
    assert!(browser.confirm_heading().await.contains("JDBC"));
    // The safe choice has the focus.
    let focused = browser
        .js("return document.activeElement.textContent.trim();", vec![])
        .await;
    assert_eq!(focused, "Cancel");
    browser
        .js(
            "const s = document.querySelector('#confirm-dialog select[name=overlap]'); \
             s.value = '1d'; s.dispatchEvent(new Event('change'));",
            vec![],
        )
        .await;
    let png = browser.client.screenshot().await.expect("screenshot");
    std::fs::write(out.join("regenerate-dialog.png"), png).expect("write png");
    browser
        .click_to_new_page("#confirm-dialog button[type=submit]", "Regenerate")
        .await;
    let new = browser.find("#new-token").await.text().await.unwrap();
    assert_ne!(new, old);
    // A day of overlap: both work.
    assert_eq!(app.api_me(&new).await.status(), StatusCode::OK);
    assert_eq!(app.api_me(&old).await.status(), StatusCode::OK);

    // Show, within the same ten minutes: the offer, then the secret.
    browser.goto(&format!("/profile/tokens/{id}/show")).await;
    assert_eq!(browser.path().await, format!("/profile/tokens/{id}/show"));
    browser
        .click_to_new_page("form[action$=\"/show\"] button[type=submit]", "Show secret")
        .await;
    let shown = browser.find("#shown-token").await.text().await.unwrap();
    assert_eq!(shown, new);
    assert!(
        browser
            .find("button[data-copy=\"shown-token\"]")
            .await
            .is_displayed()
            .await
            .unwrap(),
        "the Copy button is shown"
    );
    let png = browser.client.screenshot().await.expect("screenshot");
    std::fs::write(out.join("show.png"), png).expect("write png");
    assert_eq!(app.audit_rows("token_shown").len(), 1);
}
