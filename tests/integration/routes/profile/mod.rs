//! The profile page and changing one's password.

pub mod security;
mod sessions;
mod tokens;

use crate::common;

use common::{PASSWORD, app_with_user, location, long_password, refused_page, text_of};
use reqwest::StatusCode;
use tessera::domain::account::{TOO_COMMON, TOO_EASY};

const NEW_PASSWORD: &str = "a much better passphrase";

#[actix_web::test]
async fn the_profile_shows_who_you_are() {
    let (app, _) = app_with_user("ada").await;
    app.login_ok("ada").await;
    let page = app.get_html("/profile").await;
    assert_eq!(text_of(&page, "h1").as_deref(), Some("Profile"));
    assert!(page.contains("ada@example.com"));
    // The password form waits for a step-up, which comes back to it.
    assert!(!page.contains("name=\"new_password\""));
    assert!(page.contains("href=\"/sudo?next=%2Fprofile%23password\""));
    app.step_up().await;
    let page = app.get_html("/profile").await;
    assert!(page.contains("name=\"current_password\"") && page.contains("name=\"new_password\""));
}

#[actix_web::test]
async fn changing_the_password_needs_the_current_one() {
    let (app, _) = app_with_user("ada").await;
    app.login_ok("ada").await;
    app.step_up().await;

    let page = refused_page(app.change_password("wrong one!", NEW_PASSWORD).await).await;
    assert!(text_of(&page, "#current_password-error").is_some());
    assert!(!page.contains(NEW_PASSWORD) && !page.contains("wrong one!"));

    let res = app.change_password(PASSWORD, "short").await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        text_of(&res.text().await.unwrap(), "#new_password-error")
            .unwrap()
            .contains("8 characters")
    );

    // A common password, or one built on the account's own name, is refused
    // beside the field; with a wrong current password only that is said.
    for (new_password, current, field, message) in [
        ("password", PASSWORD, "#new_password-error", TOO_COMMON),
        ("qwerty123", PASSWORD, "#new_password-error", TOO_COMMON),
        ("ada@example.com", PASSWORD, "#new_password-error", TOO_EASY),
        (
            "12345678",
            "wrong one!",
            "#current_password-error",
            "This is not your current password.",
        ),
    ] {
        let res = app.change_password(current, new_password).await;
        assert_eq!(
            res.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{new_password}"
        );
        let page = res.text().await.unwrap();
        assert_eq!(
            text_of(&page, field).as_deref(),
            Some(message),
            "{new_password}"
        );
        if current != PASSWORD {
            assert_eq!(text_of(&page, "#new_password-error"), None);
        }
    }

    let res = app.change_password(PASSWORD, NEW_PASSWORD).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(res.headers()), "/profile");
    assert!(app.get_html("/profile").await.contains("Password changed."));
    let outcomes: Vec<String> = app
        .audit("password_change")
        .into_iter()
        .map(|(_, o)| o)
        .collect();
    assert_eq!(outcomes, [&["failure"; 6][..], &["success"]].concat());

    // The old password no longer works; the new one does.
    let other = app.visitor();
    assert_eq!(other.login("ada", PASSWORD).await.status(), StatusCode::OK);
    assert_eq!(
        other.login("ada", NEW_PASSWORD).await.status(),
        StatusCode::SEE_OTHER
    );
    // No password, old or new, is stored or audited in clear.
    let hash = app
        .db(|c| tessera::db::users::find_by_username(c, "ada"))
        .unwrap()
        .unwrap()
        .password_hash;
    assert!(hash.starts_with("$argon2id$") && !hash.contains(NEW_PASSWORD));
}

#[actix_web::test]
async fn sign_out_my_other_sessions() {
    let (app, _) = app_with_user("ada").await;
    app.login_ok("ada").await;
    app.step_up().await;
    let laptop = app.visitor();
    laptop.login_ok("ada").await;
    let phone = app.visitor();
    phone.login_ok("ada").await;

    // Without the option, other sessions live on.
    let res = app.change_password(PASSWORD, NEW_PASSWORD).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(laptop.get("/profile").await.status(), StatusCode::OK);

    let res = app
        .submit(
            "/profile",
            "/profile/password",
            &[
                ("current_password", NEW_PASSWORD),
                ("new_password", PASSWORD),
                ("sign_out_others", "on"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(
        app.get_html("/profile")
            .await
            .contains("other sessions were signed out")
    );
    for other in [&laptop, &phone] {
        let res = other.get("/profile").await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        assert_eq!(location(res.headers()), "/login");
    }
}

#[actix_web::test]
async fn guesses_of_the_current_password_are_throttled() {
    let (app, _) = app_with_user("ada").await;
    app.login_ok("ada").await;
    app.step_up().await;
    let fields = |password| {
        [
            ("current_password", password),
            ("new_password", "a brand new password"),
        ]
    };
    for _ in 0..5 {
        let res = app
            .submit("/profile", "/profile/password", &fields("not my password"))
            .await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }
    let res = app
        .submit("/profile", "/profile/password", &fields(PASSWORD))
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("Too many wrong passwords")
    );
    let denied = app.audit("password_change");
    assert_eq!(denied.last().unwrap().1, "denied");
    // The password did not change: it still signs in.
    app.visitor().login_ok("ada").await;
}

#[actix_web::test]
async fn a_128_character_password_is_kept_whole_and_129_are_refused() {
    let (app, _) = app_with_user("ada").await;
    app.login_ok("ada").await;
    app.step_up().await;
    let form = app.get_html("/profile").await;
    assert!(
        !form.contains("maxlength"),
        "no browser-side cut of a pasted password"
    );
    let hash = || {
        app.db(|c| tessera::db::users::find_by_username(c, "ada"))
            .unwrap()
            .unwrap()
            .password_hash
    };

    let longest = long_password(128);
    let res = app.change_password(PASSWORD, &longest).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    // All of it is the password: neither less nor the old one signs in.
    let other = app.visitor();
    let shorter: String = longest.chars().take(127).collect();
    assert_eq!(other.login("ada", &shorter).await.status(), StatusCode::OK);
    assert_eq!(other.login("ada", PASSWORD).await.status(), StatusCode::OK);
    assert_eq!(
        other.login("ada", &longest).await.status(),
        StatusCode::SEE_OTHER
    );

    let before = hash();
    let too_long = long_password(129);
    let page = refused_page(app.change_password(&longest, &too_long).await).await;
    assert_eq!(
        text_of(&page, "input#new_password + #new_password-error").as_deref(),
        Some("Use at most 128 characters."),
        "right after the field"
    );
    assert!(text_of(&page, "#current_password-error").is_none());
    assert!(!page.contains(&too_long) && !page.contains(&longest));
    assert_eq!(hash(), before, "nothing changed");
    let outcomes: Vec<String> = app
        .audit("password_change")
        .into_iter()
        .map(|(_, o)| o)
        .collect();
    assert_eq!(outcomes, ["success", "failure"]);
    // The password is still the 128 characters.
    let third = app.visitor();
    assert_eq!(third.login("ada", &too_long).await.status(), StatusCode::OK);
    assert_eq!(
        third.login("ada", &longest).await.status(),
        StatusCode::SEE_OTHER
    );
}
