//! The administrator's inventory in a real browser: paging forwards and back,
//! and Create API token's user search and scope preview in its dialog.

use super::*;

/// The text of the first element matching `css`, once there is one.
async fn text(browser: &Browser, css: &str) -> String {
    browser
        .find(css)
        .await
        .text()
        .await
        .unwrap_or_else(|e| panic!("the text of {css}: {e}"))
        .trim()
        .to_owned()
}

/// A browser signed in as `root` on the API Tokens tab, with the Create API
/// token dialog open and `name` typed as the token's name.
pub(super) async fn open_create_api_token(
    binaries: &BrowserBinaries,
    app: &TestApp,
    name: &str,
) -> Browser {
    let browser = Browser::launch(binaries, app).await;
    browser.sign_in("root").await;
    browser.goto("/admin/tokens?tab=api").await;
    // "Create API token" opens its form in a dialog instead of navigating.
    browser
        .open_dialog("create-api-token-dialog", "Create API token")
        .await;
    assert_eq!(browser.path().await, "/admin/tokens", "no navigation");
    browser
        .find("#create-api-token-dialog #api-name")
        .await
        .send_keys(name)
        .await
        .expect("type the name");
    browser
}

/// Types `part` into the Create API token dialog's user search and waits for
/// the choice of the user `id` it should list (the list follows the typing).
pub(super) async fn type_to_find(
    browser: &Browser,
    part: &str,
    id: i64,
) -> fantoccini::elements::Element {
    browser
        .find("#create-api-token-dialog #pick-user-q")
        .await
        .send_keys(part)
        .await
        .expect("type part of the name");
    browser
        .find(&format!("#create-api-token-dialog #pick-user-{id}"))
        .await
}

#[actix_web::test]
async fn next_then_previous_shows_the_first_page_again() {
    let Some(binaries) = browser_or_skip("next_then_previous_shows_the_first_page_again") else {
        return;
    };
    let (app, ada) = root_and_ada().await;
    for i in 0..(PAGE_SIZE + 7) {
        app.insert_token(ada.id, "personal", &format!("token {i:03}"), None);
    }
    let browser = Browser::launch(&binaries, &app).await;
    browser.sign_in("root").await;
    browser.goto("/admin/tokens?tab=api").await;
    let first = browser.row_ids("#bulk-form tr[data-token-id]").await;
    assert_eq!(first.len(), PAGE_SIZE);
    let total = PAGE_SIZE + 7;
    assert_eq!(
        text(&browser, "#row-range").await,
        format!("Rows 1–{PAGE_SIZE} of {total}")
    );
    assert!(!browser.exists("nav.pager a[rel=prev]").await);

    browser.mark_page().await;
    browser.click("nav.pager a[rel=next]", "Next page").await;
    browser.wait_new_page("the second page").await;
    let second = browser.row_ids("#bulk-form tr[data-token-id]").await;
    assert_eq!(second.len(), 7);
    assert!(first.is_disjoint(&second));
    assert_eq!(
        text(&browser, "#row-range").await,
        format!("Rows {}–{total} of {total}", PAGE_SIZE + 1)
    );
    assert_eq!(
        text(&browser, "nav.pager a[rel=prev]").await,
        "« Previous page"
    );

    browser.mark_page().await;
    browser
        .click("nav.pager a[rel=prev]", "Previous page")
        .await;
    browser.wait_new_page("the first page again").await;
    assert_eq!(browser.row_ids("#bulk-form tr[data-token-id]").await, first);
    assert_eq!(
        text(&browser, "#row-range").await,
        format!("Rows 1–{PAGE_SIZE} of {total}")
    );
    assert!(!browser.exists("nav.pager a[rel=prev]").await);
    assert!(browser.path().await.starts_with("/admin/tokens"));
}

#[actix_web::test]
async fn create_api_token_finds_the_user_by_typing_and_shows_the_scopes() {
    let Some(binaries) =
        browser_or_skip("create_api_token_finds_the_user_by_typing_and_shows_the_scopes")
    else {
        return;
    };
    let (app, ada) = root_and_ada().await;
    app.db(|conn| {
        use diesel::prelude::*;
        use tessera::db::schema::users::dsl as u;
        diesel::update(u::users.find(ada.id))
            .set(u::display_name.eq("Ada Lovelace"))
            .execute(conn)
    })
    .unwrap();
    let grace = app.create_user("grace", false);
    let (dept, field_type) = app.grant(ada.id, "Field device", "devices:read devices:write");
    let (stats_dept, stats_type) = app.grant(ada.id, "Statistician", "collections:read");

    let browser = open_create_api_token(&binaries, &app, "Warehouse sync").await;

    // Part of the display name, typed: the list follows without a click.
    let ada_choice = type_to_find(&browser, "LOVE", ada.id).await;
    assert!(
        !browser
            .exists(&format!("#create-api-token-dialog #pick-user-{}", grace.id))
            .await,
        "grace does not match"
    );
    assert_eq!(browser.path().await, "/admin/tokens", "no navigation");
    ada_choice.click().await.expect("choose ada");

    // Her memberships, and the scopes of the first one.
    let field = format!("{dept}:{field_type}");
    let stats = format!("{stats_dept}:{stats_type}");
    browser
        .find(&format!(
            "#create-api-token-dialog select[name=membership] option[value=\"{stats}\"]"
        ))
        .await;
    assert!(
        text(&browser, "#create-api-token-dialog #chosen-user")
            .await
            .contains("ada")
    );
    assert_eq!(
        text(&browser, "#create-api-token-dialog #token-scopes").await,
        "Scopes this token will get: devices:read devices:write"
    );
    let kept = browser
        .js(
            "return document.querySelector('#create-api-token-dialog #api-name').value;",
            vec![],
        )
        .await;
    assert_eq!(kept, json!("Warehouse sync"), "what was typed is kept");
    // Another membership: its scopes, at once.
    browser
        .click(
            &format!("#create-api-token-dialog select[name=membership] option[value=\"{stats}\"]"),
            "the Statistician membership",
        )
        .await;
    browser
        .eventually("the scopes of the Statistician membership", async || {
            let shown = browser
                .find("#create-api-token-dialog #token-scopes")
                .await
                .text()
                .await?;
            Ok((shown.trim() == "Scopes this token will get: collections:read").then_some(()))
        })
        .await;
    assert_ne!(field, stats);

    browser
        .click(
            "#create-api-token-dialog #api-token-form button[type=submit]",
            "Save",
        )
        .await;
    let token = text(&browser, "#create-api-token-dialog #new-token").await;
    let me: Value = app.api_me(&token).await.json().await.unwrap();
    assert_eq!(
        (&me["user"]["username"], &me["name"], &me["scopes"]),
        (
            &json!("ada"),
            &json!("Warehouse sync"),
            &json!(["collections:read"])
        ),
        "the new token acts as ada with the chosen membership's scopes"
    );
}
