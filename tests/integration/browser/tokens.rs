//! The token pages in a real browser: dialogs, Copy, row selection, bulk revocation,
//! and the README's screenshots.

use super::*;

#[actix_web::test]
async fn create_dialog_shows_the_new_token_and_copies_it() {
    let Some(binaries) = browser_or_skip("create_dialog_shows_the_new_token_and_copies_it") else {
        return;
    };
    let (app, ada) = app_with_user("ada").await;
    app.grant(ada.id, "Field", "devices:read devices:write");
    let browser = Browser::launch(&binaries, &app).await;
    browser.sign_in("ada").await;
    browser.goto("/profile/tokens").await;
    // Only to check what Copy put on the clipboard; writing needs no grant.
    browser.grant_permission("clipboard-read");

    // The link opens the dialog instead of navigating, focused on the name.
    browser
        .open_dialog("create-token-dialog", "Create access token")
        .await;
    assert_eq!(browser.path().await, "/profile/tokens", "no navigation");
    assert_eq!(
        browser
            .js("return document.activeElement.id;", vec![])
            .await,
        "token-name"
    );

    browser
        .find("#create-token-dialog input[name=name]")
        .await
        .send_keys("CI deploy")
        .await
        .expect("type the name");
    let scope = browser
        .find("#create-token-dialog input[name=scopes][value=\"devices:read\"]")
        .await;
    scope.click().await.expect("tick devices:read");
    assert!(scope.is_selected().await.unwrap(), "devices:read is ticked");
    browser
        .find("#create-token-dialog button[type=submit]")
        .await
        .click()
        .await
        .expect("submit the dialog form");

    // The result replaces the form inside the still open dialog.
    let shown = browser.find("#create-token-dialog #new-token").await;
    assert!(browser.dialog_is_modal("create-token-dialog").await);
    assert_eq!(browser.path().await, "/profile/tokens", "no navigation");
    let token = shown.text().await.unwrap().trim().to_owned();
    assert!(token.starts_with("tsrp_") && token.len() == 41, "{token:?}");

    let copy = browser
        .find("#create-token-dialog button[data-copy=\"new-token\"]")
        .await;
    assert!(
        copy.is_displayed().await.unwrap(),
        "the Copy button is shown"
    );
    assert_eq!(copy.text().await.unwrap(), "Copy");
    copy.click().await.expect("click Copy");
    browser
        .eventually("the Copy button to say Copied", async || {
            Ok((copy.text().await?.trim() == "Copied").then_some(()))
        })
        .await;
    assert_eq!(browser.clipboard().await, token, "Copy copied the token");

    let res = app.api_me(&token).await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["name"], "CI deploy");
    assert_eq!(body["scopes"], json!(["devices:read"]));

    // Done closes the dialog and reloads the list, which now has the token (but
    // never its secret).
    browser
        .click_to_new_page("#create-token-dialog a[data-dialog-close]", "Done")
        .await;
    assert_eq!(browser.path().await, "/profile/tokens");
    assert!(!browser.dialog_is_modal("create-token-dialog").await);
    let row = browser.find("tr[data-token-id]").await;
    let row_text = row.text().await.unwrap();
    assert!(row_text.contains("CI deploy"), "{row_text}");
    assert!(
        row_text.contains(&token[..9]),
        "the display prefix is listed"
    );
    assert!(!row_text.contains(&token), "the secret is not listed");
}

#[actix_web::test]
async fn revoke_asks_in_a_dialog_then_the_token_is_refused() {
    let Some(binaries) = browser_or_skip("revoke_asks_in_a_dialog_then_the_token_is_refused")
    else {
        return;
    };
    let (app, _) = app_with_member("ada").await;
    app.login_ok("ada").await;
    let (id, token) = app.new_access_token("nightly", &["devices:read"]).await;
    assert_eq!(app.api_me(&token).await.status(), StatusCode::OK);

    let browser = Browser::launch(&binaries, &app).await;
    browser.sign_in("ada").await;
    browser.goto("/profile/tokens").await;
    let revoke_link = format!("tr[data-token-id=\"{id}\"] a.danger-link[data-confirm-dialog]");

    // Cancel closes the dialog and changes nothing.
    browser.click(&revoke_link, "Revoke").await;
    browser.wait_dialog_open("confirm-dialog").await;
    assert_eq!(browser.path().await, "/profile/tokens", "no navigation");
    browser.cancel_confirmation().await;
    assert_eq!(browser.path().await, "/profile/tokens");
    assert_eq!(app.api_me(&token).await.status(), StatusCode::OK);

    // Again, and confirm.
    browser.click(&revoke_link, "Revoke").await;
    browser.wait_dialog_open("confirm-dialog").await;
    let heading = browser
        .find("#confirm-dialog h1")
        .await
        .text()
        .await
        .unwrap();
    assert!(heading.contains("nightly"), "{heading}");
    let confirm = browser.find("#confirm-dialog button[type=submit]").await;
    assert_eq!(confirm.text().await.unwrap().trim(), "Revoke");
    browser.mark_page().await;
    confirm.click().await.expect("confirm Revoke");
    browser.wait_new_page("the list after revoking").await;

    assert_eq!(browser.path().await, "/profile/tokens");
    assert!(
        !browser.exists(&format!("tr[data-token-id=\"{id}\"]")).await,
        "the revoked token is no longer listed"
    );
    assert!(!browser.dialog_is_modal("confirm-dialog").await);
    assert_eq!(app.api_me(&token).await.status(), StatusCode::UNAUTHORIZED);
}

#[actix_web::test]
async fn provision_client_dialog_shows_the_new_token() {
    let Some(binaries) = browser_or_skip("provision_client_dialog_shows_the_new_token") else {
        return;
    };
    let (app, ada) = app_with_user("ada").await;
    let (_, role) = app.grant(ada.id, "BI", "collections:read devices:read");
    let browser = Browser::launch(&binaries, &app).await;
    browser.sign_in("ada").await;
    browser.goto("/profile/tokens").await;

    browser
        .open_dialog("provision-client-dialog", "Provision client")
        .await;
    assert_eq!(browser.path().await, "/profile/tokens", "no navigation");
    assert_eq!(
        browser
            .js("return document.activeElement.id;", vec![])
            .await,
        "client-name"
    );
    browser
        .find("#provision-client-dialog input[name=name]")
        .await
        .send_keys("JDBC")
        .await
        .expect("type the client name");
    browser
        .find("#provision-client-dialog select[name=role_id]")
        .await
        .select_by_value(&role.to_string())
        .await
        .expect("choose the client role");
    let generate = browser.button("#provision-client-dialog", "Generate").await;
    generate.click().await.expect("click Generate");

    // The one-time token replaces the form inside the still open dialog.
    let shown = browser.find("#provision-client-dialog #new-token").await;
    assert!(browser.dialog_is_modal("provision-client-dialog").await);
    assert_eq!(browser.path().await, "/profile/tokens", "no navigation");
    let token = shown.text().await.unwrap().trim().to_owned();
    assert!(token.starts_with("tsrc_") && token.len() == 41, "{token:?}");
    let res = app.api_me(&token).await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["kind"], "client");
    assert_eq!(body["name"], "JDBC");
    assert_eq!(body["user_type"], "BI");
    assert_eq!(body["scopes"], json!(["collections:read", "devices:read"]));

    // Where copying fails, Copy does not claim it worked: it selects the token
    // and says how to copy it.
    browser
        .js(
            "Object.defineProperty(navigator, 'clipboard', { value: { writeText: () => \
               Promise.reject(new Error('denied')) }, configurable: true }); \
             document.execCommand = () => false;",
            vec![],
        )
        .await;
    let copy = browser
        .find("#provision-client-dialog button[data-copy=\"new-token\"]")
        .await;
    copy.click().await.expect("click Copy");
    browser
        .eventually("the Copy button to own up", async || {
            Ok((copy.text().await?.trim() == "Press Ctrl+C to copy").then_some(()))
        })
        .await;
    assert_eq!(
        browser
            .js("return window.getSelection().toString().trim();", vec![])
            .await,
        json!(token),
        "the token is selected for copying by hand"
    );

    // Done reloads the list, which has the client under Clients.
    browser
        .click_to_new_page("#provision-client-dialog a[data-dialog-close]", "Done")
        .await;
    let clients = browser
        .find("section[aria-labelledby=clients-heading]")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        clients.contains("JDBC") && clients.contains("BI"),
        "{clients}"
    );
    assert!(!clients.contains(&token), "the secret is not listed");
}

#[actix_web::test]
async fn bulk_delete_revokes_exactly_the_three_ticked_rows() {
    let Some(binaries) = browser_or_skip("bulk_delete_revokes_exactly_the_three_ticked_rows")
    else {
        return;
    };
    let (app, ada) = root_and_ada().await;
    app.grant(ada.id, "Reader", "devices:read");
    let tokens: Vec<_> = (0..6)
        .map(|i| app.insert_token(ada.id, "personal", &format!("ada token {i}"), None))
        .collect();
    for t in &tokens {
        assert_eq!(
            app.api_me(&t.token).await.status(),
            StatusCode::OK,
            "token {} works before",
            t.id
        );
    }
    let every: HashSet<i64> = tokens.iter().map(|t| t.id).collect();
    let chosen = [tokens[1].id, tokens[2].id, tokens[4].id];
    let chosen_set = HashSet::from(chosen);

    let browser = Browser::launch(&binaries, &app).await;
    browser.sign_in("root").await;
    browser.goto("/admin/tokens?tab=api").await;
    browser.find("#bulk-form tr[data-token-id]").await;
    assert_eq!(
        browser.row_ids("#bulk-form tr[data-token-id]").await,
        every,
        "the inventory lists ada's six tokens"
    );

    for id in chosen {
        let checkbox = browser
            .find(&format!(
                "tr[data-token-id=\"{id}\"] input[name=ids][value=\"{id}\"]"
            ))
            .await;
        assert!(
            !checkbox.is_selected().await.unwrap(),
            "{id} starts unticked"
        );
        checkbox.click().await.expect("tick a row");
        assert!(checkbox.is_selected().await.unwrap(), "{id} is ticked");
    }
    let ticked: HashSet<i64> = serde_json::from_value(
        browser
            .js(
                "return Array.from(document.querySelectorAll('input[name=ids]:checked'), \
                 (box) => Number(box.value));",
                vec![],
            )
            .await,
    )
    .unwrap();
    assert_eq!(ticked, chosen_set, "exactly the three rows are ticked");

    // Delete selected asks in a dialog that lists exactly them.
    let delete = browser.button("#bulk-form", "Delete selected").await;
    delete.click().await.expect("click Delete selected");
    browser.wait_dialog_open("confirm-dialog").await;
    assert_eq!(browser.path().await, "/admin/tokens", "no navigation");
    let heading = browser.confirm_heading().await;
    assert_eq!(heading.trim(), "Delete 3 tokens?");
    assert_eq!(
        browser
            .row_ids("#confirm-dialog [data-confirm-content] tr[data-token-id]")
            .await,
        chosen_set,
        "the confirmation lists exactly the ticked tokens"
    );
    assert!(
        tokens.iter().all(|t| !app.is_revoked(t.id)),
        "nothing is revoked before confirming"
    );

    // Cancel closes the dialog and changes nothing; asking again works.
    browser.cancel_confirmation().await;
    assert!(tokens.iter().all(|t| !app.is_revoked(t.id)));
    browser
        .button("#bulk-form", "Delete selected")
        .await
        .click()
        .await
        .expect("click Delete selected again");
    browser.wait_dialog_open("confirm-dialog").await;

    let confirm = browser
        .button("#confirm-dialog form.confirm", "Delete 3 tokens")
        .await;
    browser.mark_page().await;
    confirm.click().await.expect("click Delete 3 tokens");
    browser.wait_new_page("the inventory after revoking").await;
    browser
        .eventually("to be back on /admin/tokens", async || {
            Ok((browser.path().await == "/admin/tokens").then_some(()))
        })
        .await;
    let page = browser.body_text().await;
    assert!(page.contains("Revoked 3 tokens."), "{page}");
    assert_eq!(
        browser.row_ids("#bulk-form tr[data-token-id]").await,
        &every - &chosen_set,
        "the three revoked rows are gone, the other three are still listed"
    );

    app.assert_refused_exactly(&tokens, &chosen).await;
}

#[actix_web::test]
async fn select_all_selects_the_page() {
    let Some(binaries) = browser_or_skip("select_all_selects_the_page") else {
        return;
    };
    let (app, ada) = root_and_ada().await;
    // More than a page, so that "the page" and "everything" differ.
    let tokens: Vec<_> = (0..PAGE_SIZE + 2)
        .map(|i| app.insert_token(ada.id, "personal", &format!("t{i:03}"), None))
        .collect();

    let browser = Browser::launch(&binaries, &app).await;
    browser.sign_in("root").await;
    browser.goto("/admin/tokens?tab=api").await;
    browser.find("#bulk-form tr[data-token-id]").await;
    let on_page = browser.row_ids("#bulk-form tr[data-token-id]").await;
    assert_eq!(on_page.len(), PAGE_SIZE, "one full page is listed");
    assert!(browser.exists("a[rel=next]").await, "there is a next page");

    // With JavaScript the header checkbox shows, and the no-JS fallback hides.
    let master = browser.find("#select-all").await;
    assert_eq!(
        master.attr("data-select-all").await.unwrap().as_deref(),
        Some("ids")
    );
    browser
        .eventually("the Select all checkbox to show", async || {
            Ok(master.is_displayed().await?.then_some(()))
        })
        .await;
    let fallback = browser
        .button("#bulk-form", "Select all on this page…")
        .await;
    assert!(
        fallback.attr("data-hide-with-js").await.unwrap().is_some(),
        "the fallback is marked data-hide-with-js"
    );
    // tessera.js hides it (that the user then no longer sees it is checked by
    // `the_no_js_select_all_button_disappears_with_javascript`).
    browser
        .eventually(
            "tessera.js to hide the no-JS Select all button",
            async || Ok((fallback.prop("hidden").await?.as_deref() == Some("true")).then_some(())),
        )
        .await;
    browser
        .wait_selection("nothing ticked", selection(false, false, 0, PAGE_SIZE))
        .await;

    master.click().await.expect("click Select all");
    browser
        .wait_selection(
            "every row of the page ticked",
            selection(true, false, PAGE_SIZE, PAGE_SIZE),
        )
        .await;
    for id in &on_page {
        let checkbox = browser
            .find(&format!("tr[data-token-id=\"{id}\"] input[name=ids]"))
            .await;
        assert!(checkbox.is_selected().await.unwrap(), "row {id} is ticked");
    }

    // Unticking one row makes the header checkbox unchecked and indeterminate.
    let one = tokens
        .iter()
        .find(|t| on_page.contains(&t.id))
        .expect("a listed token")
        .id;
    let one_box = browser
        .find(&format!("tr[data-token-id=\"{one}\"] input[name=ids]"))
        .await;
    one_box.click().await.expect("untick one row");
    assert!(!one_box.is_selected().await.unwrap());
    browser
        .wait_selection(
            "the header checkbox to be indeterminate",
            selection(false, true, PAGE_SIZE - 1, PAGE_SIZE),
        )
        .await;
    assert_eq!(
        browser
            .js(
                "return document.getElementById('select-all').indeterminate;",
                vec![]
            )
            .await,
        Value::Bool(true)
    );
    assert!(!master.is_selected().await.unwrap(), "unchecked");

    // Clicking it again ticks every row again.
    master.click().await.expect("click Select all again");
    browser
        .wait_selection(
            "every row ticked again",
            selection(true, false, PAGE_SIZE, PAGE_SIZE),
        )
        .await;
    assert!(one_box.is_selected().await.unwrap());

    // What the server receives is that page, not every matching token.
    let delete = browser.button("#bulk-form", "Delete selected").await;
    delete.click().await.expect("click Delete selected");
    browser.wait_dialog_open("confirm-dialog").await;
    let heading = browser.confirm_heading().await;
    assert_eq!(heading.trim(), format!("Delete {PAGE_SIZE} tokens?"));
    assert_eq!(
        browser
            .row_ids("#confirm-dialog [data-confirm-content] tr[data-token-id]")
            .await,
        on_page
    );
    assert!(tokens.iter().all(|t| !app.is_revoked(t.id)));
}

#[actix_web::test]
async fn the_no_js_select_all_button_disappears_with_javascript() {
    let Some(binaries) = browser_or_skip("the_no_js_select_all_button_disappears_with_javascript")
    else {
        return;
    };
    let (app, ada) = root_and_ada().await;
    app.insert_token(ada.id, "personal", "ada token", None);

    let browser = Browser::launch(&binaries, &app).await;
    browser.sign_in("root").await;
    browser.goto("/admin/tokens?tab=api").await;
    let fallback = browser
        .button("#bulk-form", "Select all on this page…")
        .await;
    assert!(fallback.attr("data-hide-with-js").await.unwrap().is_some());
    browser
        .eventually("the no-JS Select all button to disappear", async || {
            Ok((!fallback.is_displayed().await?).then_some(()))
        })
        .await;
}

/// Renders the main pages with realistic rows and saves them as PNG files in
/// `target/screenshots/` (the README's pictures come from here), checking on
/// the way that each page lays out its table.
#[actix_web::test]
async fn screenshots_of_the_main_pages() {
    let Some(binaries) = browser_or_skip("screenshots_of_the_main_pages") else {
        return;
    };
    let (app, ada) = root_and_ada().await;
    let (department, user_type) =
        app.grant(ada.id, "BI", "collections:read devices:read devices:write");
    let visitor = app.visitor();
    visitor.login_ok("ada").await;
    for (name, scopes) in [
        ("CI deploy", vec!["devices:read", "devices:write"]),
        ("Backup script", vec!["collections:read"]),
    ] {
        visitor.new_access_token(name, &scopes).await;
    }
    let expires = (chrono::Utc::now() + chrono::TimeDelta::days(5))
        .format("%Y-%m-%d")
        .to_string();
    let role = user_type.to_string();
    visitor
        .submit_client(&[
            ("name", "JDBC"),
            ("role_id", &role),
            ("expires_at", &expires),
        ])
        .await;
    for name in ["ERP sync", "Data lake"] {
        app.insert_token(ada.id, "api", name, Some((department, user_type)));
    }
    app.insert_token(ada.id, "session", "Pixel 9", Some((department, user_type)));

    let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    std::fs::create_dir_all(&out).expect("screenshot folder");
    let browser = Browser::launch(&binaries, &app).await;
    browser.sign_in("ada").await;
    browser.goto("/profile/tokens").await;
    // Her token and two clients, the two API tokens issued for her, her phone.
    assert_eq!(browser.row_ids("tr[data-token-id]").await.len(), 6);
    let png = browser.client.screenshot().await.expect("screenshot");
    std::fs::write(out.join("token-management.png"), png).expect("write png");

    let admin = Browser::launch(&binaries, &app).await;
    admin.sign_in("root").await;
    admin.goto("/admin/tokens?tab=api").await;
    assert_eq!(admin.row_ids("tr[data-token-id]").await.len(), 5);
    let png = admin.client.screenshot().await.expect("screenshot");
    std::fs::write(out.join("admin-tokens.png"), png).expect("write png");
}

#[actix_web::test]
async fn create_api_token_and_bulk_confirmation_open_in_dialogs() {
    let Some(binaries) = browser_or_skip("create_api_token_and_bulk_confirmation_open_in_dialogs")
    else {
        return;
    };
    let (app, ada) = root_and_ada().await;
    let (department, user_type) =
        app.grant(ada.id, "Field integrator", "devices:read devices:write");
    let old = app.insert_token(ada.id, "personal", "old one", None);

    // "Create API token" opens its form in a dialog; the name is typed
    // before the user is chosen, and kept when the form reloads for them.
    let browser = super::inventory::open_create_api_token(&binaries, &app, "ERP sync").await;
    // Typing part of the name lists the users it matches, as they are typed.
    let ada_choice = super::inventory::type_to_find(&browser, "ad", ada.id).await;
    assert!(
        !browser
            .button(
                "#create-api-token-dialog form.user-pick",
                "Choose this user"
            )
            .await
            .is_displayed()
            .await
            .unwrap(),
        "the no-JS button to choose the user is hidden"
    );
    ada_choice.click().await.expect("choose ada");
    let membership = format!("{department}:{user_type}");
    browser
        .find(&format!(
            "#create-api-token-dialog select[name=membership] option[value=\"{membership}\"]"
        ))
        .await;
    assert!(browser.dialog_is_modal("create-api-token-dialog").await);
    assert_eq!(browser.path().await, "/admin/tokens", "still no navigation");
    assert_eq!(
        browser
            .find("#create-api-token-dialog #api-name")
            .await
            .prop("value")
            .await
            .unwrap()
            .as_deref(),
        Some("ERP sync"),
        "what was typed is kept"
    );
    browser
        .find("#create-api-token-dialog #api-token-form button[type=submit]")
        .await
        .click()
        .await
        .expect("Save");

    // The token is shown once, inside the dialog, and works.
    let shown = browser.find("#create-api-token-dialog #new-token").await;
    assert!(browser.dialog_is_modal("create-api-token-dialog").await);
    let token = shown.text().await.unwrap().trim().to_owned();
    assert!(token.starts_with("tsra_"), "{token:?}");
    let me: Value = app.api_me(&token).await.json().await.unwrap();
    assert_eq!(me["user"]["username"], "ada");
    assert_eq!(me["scopes"], json!(["devices:read", "devices:write"]));

    // Done closes it and reloads the list, which now has the token.
    browser
        .click_to_new_page("#create-api-token-dialog a[data-dialog-close]", "Done")
        .await;
    assert_eq!(browser.path().await, "/admin/tokens");
    let listed = browser.row_ids("#bulk-form tr[data-token-id]").await;
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert!(listed.contains(&old.id));
    let new_id = *listed.iter().find(|id| **id != old.id).unwrap();

    // "Select all matching this filter" asks in the confirmation dialog too.
    browser
        .button("#bulk-form", "Select all 2 matching this filter…")
        .await
        .click()
        .await
        .expect("click Select all matching");
    browser.wait_dialog_open("confirm-dialog").await;
    assert_eq!(browser.path().await, "/admin/tokens", "no navigation");
    let heading = browser.confirm_heading().await;
    assert_eq!(heading.trim(), "Delete 2 tokens?");
    let confirm = browser
        .button("#confirm-dialog form.confirm", "Delete 2 tokens")
        .await;
    browser.mark_page().await;
    confirm.click().await.expect("confirm");
    browser.wait_new_page("the list after revoking").await;
    assert!(browser.body_text().await.contains("Revoked 2 tokens."));
    assert!(app.is_revoked(old.id) && app.is_revoked(new_id));
    assert_eq!(app.api_me(&token).await.status(), StatusCode::UNAUTHORIZED);

    // Delete selected with nothing ticked: the page explains, no dialog.
    app.insert_token(ada.id, "personal", "another", None);
    browser.goto("/admin/tokens?tab=api").await;
    browser.find("#bulk-form tr[data-token-id]").await;
    browser
        .press_to_new_page("#bulk-form", "Delete selected")
        .await;
    let message = browser.find("#bulk-error").await.text().await.unwrap();
    assert!(message.contains("Nothing was selected"), "{message}");
    assert!(!browser.dialog_is_modal("confirm-dialog").await);
}
