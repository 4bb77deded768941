//! Single sign-on in a real browser (SPEC §9): from Tessera's sign-in page to
//! the OpenID provider's own sign-in page (`oidc-provider`'s development
//! pages, see `crate::oidc`) and back, signed in; and an ID token that
//! expired before Tessera processed the callback.

use super::*;

use crate::oidc::{self, OidcProvider, SsoSetup};

/// Signs in at the provider's own page as `login` (it takes any password).
async fn sign_in_at_provider(browser: &Browser, provider: &OidcProvider, login: &str) {
    browser
        .eventually("the provider's sign-in page", async || {
            let url = browser.client.current_url().await?;
            Ok(url.as_str().starts_with(&provider.issuer).then_some(()))
        })
        .await;
    browser
        .find("input[name=login]")
        .await
        .send_keys(login)
        .await
        .expect("type the login");
    browser
        .find("input[name=password]")
        .await
        .send_keys("any password at the provider")
        .await
        .expect("type the password");
    browser.mark_page().await;
    browser
        .find("form button[type=submit]")
        .await
        .click()
        .await
        .expect("click Sign-in at the provider");
}

/// Waits until the browser is back at Tessera on `path`.
async fn back_at(browser: &Browser, path: &str) {
    browser
        .eventually(&format!("Tessera's {path}"), async || {
            let url = browser.client.current_url().await?;
            Ok((url.as_str().starts_with(&browser.base)
                && url.path() == path
                && browser
                    .client
                    .execute("return document.readyState === 'complete';", vec![])
                    .await?
                    == Value::Bool(true))
            .then_some(()))
        })
        .await;
}

#[actix_web::test]
async fn a_person_signs_in_through_the_identity_provider() {
    let test = "a_person_signs_in_through_the_identity_provider";
    let Some(binaries) = browser_or_skip(test) else {
        return;
    };
    if !oidc::provider_or_skip(test) {
        return;
    }
    let accounts = json!({
        "ada.lovelace": {
            "sub": "0f6c2a", "email": "ada@example.com", "email_verified": true,
            "groups": ["staff", "tessera-admins"],
        },
    });
    let setup = SsoSetup {
        admin_claim: Some(("groups", "tessera-admins")),
        ..SsoSetup::default()
    };
    let (app, ada, provider) = oidc::ada_and_provider(&accounts, 3600, &setup).await;

    let browser = Browser::launch(&binaries, &app).await;
    browser.goto("/login").await;
    browser
        .click_to_new_page("#sso-sign-in", "Sign in with single sign-on")
        .await;
    sign_in_at_provider(&browser, &provider, "ada.lovelace").await;
    back_at(&browser, "/profile/tokens").await;
    assert!(
        browser.exists("form[action=\"/logout\"]").await,
        "the page shows Sign out"
    );
    // Linked to ada by the verified email, and made an administrator by the claim.
    browser.goto("/admin/tokens").await;
    assert_eq!(browser.path().await, "/admin/tokens");
    let rows = app.audit_rows("login");
    let last = rows.last().unwrap();
    assert_eq!(last.target_id, Some(ada.id));
    assert_eq!(last.detail.as_deref(), Some("single sign-on"));
    assert_eq!(app.audit_rows("sso_identity_linked").len(), 1);
    assert_eq!(app.count("user_identities"), 1);
}

#[actix_web::test]
async fn an_id_token_that_expired_before_the_callback_is_refused_in_the_browser() {
    let test = "an_id_token_that_expired_before_the_callback_is_refused_in_the_browser";
    let Some(binaries) = browser_or_skip(test) else {
        return;
    };
    if !oidc::provider_or_skip(test) {
        return;
    }
    // ID tokens that live a minute.
    let (app, _, provider) =
        oidc::ada_and_provider(&oidc::ada_account(), 60, &SsoSetup::default()).await;

    let browser = Browser::launch(&binaries, &app).await;
    browser.goto("/login/sso").await;
    // While the person is at the provider, five minutes pass on Tessera's clock.
    app.advance_clock(Duration::from_secs(300));
    sign_in_at_provider(&browser, &provider, "ada").await;
    back_at(&browser, "/login/sso/callback").await;
    let text = browser.body_text().await;
    assert!(text.contains("Single sign-on failed"), "{text}");
    assert!(text.contains("had expired"), "{text}");
    browser.goto("/profile").await;
    assert_eq!(browser.path().await, "/login", "not signed in");
}

#[actix_web::test]
async fn a_nonce_changed_on_the_way_to_the_provider_is_refused_in_the_browser() {
    let test = "a_nonce_changed_on_the_way_to_the_provider_is_refused_in_the_browser";
    let Some(binaries) = browser_or_skip(test) else {
        return;
    };
    if !oidc::provider_or_skip(test) {
        return;
    }
    let (app, _, provider) =
        oidc::ada_and_provider(&oidc::ada_account(), 3600, &SsoSetup::default()).await;
    let browser = Browser::launch(&binaries, &app).await;
    browser.goto("/login").await;
    // The redirect to the provider is intercepted: /login/sso is asked for
    // with the browser's own session cookie, and the browser is then sent to
    // the provider with another nonce in the URL.
    let cookie = browser
        .client
        .get_named_cookie(tessera::startup::SESSION_COOKIE)
        .await
        .expect("the browser's session cookie");
    let res = common::bare_client()
        .get(app.url("/login/sso"))
        .header("cookie", format!("{}={}", cookie.name(), cookie.value()))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let authorize = common::location(res.headers()).to_owned();
    let swapped = oidc::with_param(&authorize, "nonce", "an-attackers-nonce");
    browser
        .client
        .goto(&swapped)
        .await
        .expect("go to the provider");
    sign_in_at_provider(&browser, &provider, "ada").await;
    back_at(&browser, "/login/sso/callback").await;
    let text = browser.body_text().await;
    assert!(text.contains("Single sign-on failed"), "{text}");
    assert!(text.contains("could not be verified"), "{text}");
    browser.goto("/profile").await;
    assert_eq!(browser.path().await, "/login", "not signed in");
    let refused = app.audit_rows("login_failure");
    assert_eq!(
        refused.last().unwrap().detail.as_deref(),
        Some("single sign-on: the ID token's nonce did not match")
    );
}
