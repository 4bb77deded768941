//! The expiry control in a real browser: presets and "Custom date…" (the date
//! input shown only then), the live "Expires on …" line, the 12-month warning
//! of the API token form, and that the token made expires on the day the line
//! said.

use super::*;

use chrono::{Months, NaiveDate, TimeDelta, Utc};

/// "Thursday, 7 January 2027": how the line writes a day.
fn line_for(day: NaiveDate) -> String {
    format!("Expires on {}.", day.format("%A, %-d %B %Y"))
}

fn utc_today() -> NaiveDate {
    Utc::now().date_naive()
}

/// The text of the line `#{id}` once it is `expected` (the script updates it
/// on `change` and `input`).
async fn wait_line(browser: &Browser, id: &str, expected: &str) {
    let element = browser.find(&format!("#{id}")).await;
    browser
        .eventually(&format!("#{id} to say {expected:?}"), async || {
            Ok((element.text().await?.trim() == expected).then_some(()))
        })
        .await;
}

/// Chooses `value` in the select `css`, as a person would (a click on the option).
async fn choose(browser: &Browser, css: &str, value: &str) {
    browser
        .find(css)
        .await
        .select_by_value(value)
        .await
        .unwrap_or_else(|e| panic!("choose {value} in {css}: {e}"));
}

/// Types `day` into the date input `css` with the keyboard, in the order the
/// browser's locale shows the parts (Chromium's date input is not YYYY-MM-DD).
async fn type_date(browser: &Browser, css: &str, day: NaiveDate) {
    let order = browser
        .js(
            "return new Intl.DateTimeFormat(navigator.language, \
               { year: 'numeric', month: '2-digit', day: '2-digit' }) \
             .formatToParts(new Date(Date.UTC(2027, 0, 7))) \
             .filter((p) => ['year', 'month', 'day'].includes(p.type)).map((p) => p.type);",
            vec![],
        )
        .await;
    let keys: String = order
        .as_array()
        .expect("the parts of a date")
        .iter()
        .map(|part| match part.as_str() {
            Some("year") => day.format("%Y").to_string(),
            Some("month") => day.format("%m").to_string(),
            _ => day.format("%d").to_string(),
        })
        .collect();
    let input = browser.find(css).await;
    // Focused afresh, the input starts at its first part.
    browser
        .js(
            "const i = document.querySelector(arguments[0]); i.blur(); i.focus();",
            vec![json!(css)],
        )
        .await;
    input.send_keys(&keys).await.expect("type the date");
    let expected = day.format("%Y-%m-%d").to_string();
    browser
        .eventually(&format!("{css} to hold {expected}"), async || {
            Ok((input.prop("value").await?.as_deref() == Some(expected.as_str())).then_some(()))
        })
        .await;
}

async fn displayed(browser: &Browser, css: &str) -> bool {
    browser
        .find(css)
        .await
        .is_displayed()
        .await
        .expect("is it displayed")
}

#[actix_web::test]
async fn the_line_follows_presets_and_a_custom_date_and_the_token_expires_then() {
    let Some(binaries) =
        browser_or_skip("the_line_follows_presets_and_a_custom_date_and_the_token_expires_then")
    else {
        return;
    };
    let (app, _) = app_with_member("ada").await;
    let browser = Browser::launch(&binaries, &app).await;
    browser.sign_in("ada").await;
    browser.goto("/profile/tokens").await;
    browser
        .open_dialog("create-token-dialog", "Create access token")
        .await;
    let select = "#create-token-dialog select#token-expires-in";
    let date = "#create-token-dialog input#token-expires-at";
    let line = "token-expiry-line";

    // The default preset, and no date input until "Custom date…".
    wait_line(&browser, line, &line_for(utc_today() + TimeDelta::days(90))).await;
    assert!(!displayed(&browser, date).await, "the date input waits");
    for days in [7, 365, 30] {
        choose(&browser, select, &days.to_string()).await;
        wait_line(
            &browser,
            line,
            &line_for(utc_today() + TimeDelta::days(days)),
        )
        .await;
    }
    assert!(!displayed(&browser, date).await);

    // "Custom date…": the date input appears, focused; the line asks for a day.
    choose(&browser, select, "custom").await;
    wait_line(&browser, line, "Choose a date.").await;
    assert!(displayed(&browser, date).await, "the date input appears");
    assert_eq!(
        browser
            .js("return document.activeElement.id;", vec![])
            .await,
        "token-expires-at",
        "and has the focus"
    );
    // The hint says in words what the picker allows.
    let hint = browser
        .find("#create-token-dialog #token-expiry-hint")
        .await
        .text()
        .await
        .unwrap();
    let last = utc_today() + TimeDelta::days(365);
    assert!(
        hint.contains(&last.format("%-d %B %Y").to_string()),
        "{hint}"
    );
    let max = browser.find(date).await.attr("max").await.unwrap();
    assert_eq!(max, Some(last.format("%Y-%m-%d").to_string()));

    let day = utc_today() + TimeDelta::days(45);
    type_date(&browser, date, day).await;
    wait_line(&browser, line, &line_for(day)).await;

    // Created: it expires on the day the line said.
    browser
        .find("#create-token-dialog input[name=name]")
        .await
        .send_keys("by date")
        .await
        .expect("type the name");
    browser
        .click(
            "#create-token-dialog input[name=scopes][value=\"devices:read\"]",
            "devices:read",
        )
        .await;
    browser
        .click("#create-token-dialog button[type=submit]", "Create")
        .await;
    let token = browser
        .find("#create-token-dialog #new-token")
        .await
        .text()
        .await
        .unwrap();
    let (status, me) = app.me(token.trim()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        me["expires_at"],
        format!("{}T23:59:59Z", day.format("%Y-%m-%d")),
        "{me}"
    );

    // A preset chosen after a date was typed: the preset counts (the hidden
    // date is not sent).
    browser.goto("/profile/tokens/new").await;
    let select = "select#token-expires-in";
    let date = "input#token-expires-at";
    choose(&browser, select, "custom").await;
    type_date(&browser, date, day).await;
    choose(&browser, select, "7").await;
    let week = utc_today() + TimeDelta::days(7);
    wait_line(&browser, line, &line_for(week)).await;
    assert!(!displayed(&browser, date).await);
    browser
        .find("input[name=name]")
        .await
        .send_keys("weekly")
        .await
        .expect("type the name");
    browser
        .click("input[name=scopes][value=\"devices:read\"]", "devices:read")
        .await;
    browser.mark_page().await;
    browser
        .click(
            "form[action=\"/profile/tokens\"] button[type=submit]",
            "Create",
        )
        .await;
    browser.wait_new_page("the new token").await;
    let token = browser.find("#new-token").await.text().await.unwrap();
    let (_, me) = app.me(token.trim()).await;
    let stored = me["expires_at"].as_str().unwrap().to_owned();
    assert!(
        stored.starts_with(&week.format("%Y-%m-%d").to_string()),
        "{stored}"
    );
}

#[actix_web::test]
async fn the_api_token_form_warns_beyond_12_months_and_not_before() {
    let Some(binaries) =
        browser_or_skip("the_api_token_form_warns_beyond_12_months_and_not_before")
    else {
        return;
    };
    let (app, ada) = root_and_ada().await;
    let (dept, user_type) = app.grant(ada.id, "Field integrator", "devices:read");
    app.set_settings(
        "default_lifetime_days = 90, max_lifetime_days = 730, allow_non_expiring = TRUE",
    );
    let browser = Browser::launch(&binaries, &app).await;
    browser.sign_in("root").await;
    browser
        .goto(&format!("/admin/tokens/new?user_id={}", ada.id))
        .await;
    let (select, date, line) = (
        "select#api-expires-in",
        "input#api-expires-at",
        "api-expiry-line",
    );
    let warning = "#expiry-warning";
    let twelve_months = utc_today().checked_add_months(Months::new(12)).unwrap();

    // The suggested 365 days: no warning.
    wait_line(
        &browser,
        line,
        &line_for(utc_today() + TimeDelta::days(365)),
    )
    .await;
    assert!(!displayed(&browser, warning).await);

    // A custom date a day past twelve months warns; twelve months exactly does not.
    choose(&browser, select, "custom").await;
    let beyond = twelve_months + TimeDelta::days(1);
    type_date(&browser, date, beyond).await;
    wait_line(&browser, line, &line_for(beyond)).await;
    assert!(displayed(&browser, warning).await, "beyond 12 months");
    type_date(&browser, date, twelve_months).await;
    wait_line(&browser, line, &line_for(twelve_months)).await;
    assert!(!displayed(&browser, warning).await, "within 12 months");

    // No expiration is beyond it too; a preset is not.
    choose(&browser, select, "never").await;
    wait_line(&browser, line, "Never expires.").await;
    assert!(displayed(&browser, warning).await);
    choose(&browser, select, "180").await;
    wait_line(
        &browser,
        line,
        &line_for(utc_today() + TimeDelta::days(180)),
    )
    .await;
    assert!(!displayed(&browser, warning).await);

    // Beyond again, and saved: the token expires on that day.
    choose(&browser, select, "custom").await;
    type_date(&browser, date, beyond).await;
    wait_line(&browser, line, &line_for(beyond)).await;
    assert!(displayed(&browser, warning).await);
    browser
        .find("input#api-name")
        .await
        .send_keys("ERP")
        .await
        .expect("type the name");
    choose(
        &browser,
        "select#api-membership",
        &format!("{dept}:{user_type}"),
    )
    .await;
    browser.mark_page().await;
    browser
        .click("#api-token-form button[type=submit]", "Save")
        .await;
    browser.wait_new_page("the new API token").await;
    let token = browser.find("#new-token").await.text().await.unwrap();
    let (status, me) = app.me(token.trim()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        me["expires_at"],
        format!("{}T23:59:59Z", beyond.format("%Y-%m-%d")),
        "{me}"
    );
}

#[actix_web::test]
async fn regenerate_in_its_dialog_offers_the_same_control() {
    let Some(binaries) = browser_or_skip("regenerate_in_its_dialog_offers_the_same_control") else {
        return;
    };
    let (app, _) = app_with_member("ada").await;
    app.login_ok("ada").await;
    let (id, _) = app.new_access_token("deploy", &["devices:read"]).await;
    let browser = Browser::launch(&binaries, &app).await;
    browser.sign_in("ada").await;
    browser.step_up().await;
    browser.goto("/profile/tokens").await;
    browser
        .click(
            &format!("tr[data-token-id=\"{id}\"] a[href$=\"/regenerate\"]"),
            "Regenerate",
        )
        .await;
    browser.wait_dialog_open("confirm-dialog").await;
    let line = "regenerate-expiry-line";
    // Keeping the lifetime (30 days) first; the line follows a preset.
    wait_line(&browser, line, &line_for(utc_today() + TimeDelta::days(30))).await;
    assert!(!displayed(&browser, "#confirm-dialog input#regenerate-expires").await);
    choose(
        &browser,
        "#confirm-dialog select#regenerate-expires-in",
        "7",
    )
    .await;
    wait_line(&browser, line, &line_for(utc_today() + TimeDelta::days(7))).await;
    browser.mark_page().await;
    browser
        .click("#confirm-dialog button[type=submit]", "Regenerate")
        .await;
    browser.wait_new_page("the new secret").await;
    let token = browser.find("#new-token").await.text().await.unwrap();
    let (_, me) = app.me(token.trim()).await;
    let week = (utc_today() + TimeDelta::days(7))
        .format("%Y-%m-%d")
        .to_string();
    assert!(
        me["expires_at"].as_str().unwrap().starts_with(&week),
        "{me}"
    );
}
