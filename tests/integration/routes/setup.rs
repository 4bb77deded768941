//! First run: the one-time setup page (`/setup`) and its code.

use crate::common;

use common::{PASSWORD, input_value, location, refused_page, spawn_app, text_of};
use reqwest::StatusCode;

fn setup_fields<'a>(
    code: &'a str,
    username: &'a str,
    password: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("code", code),
        ("username", username),
        ("email", "root@example.com"),
        ("display_name", "Root"),
        ("password", password),
    ]
}

#[actix_web::test]
async fn setup_creates_the_first_admin_once_then_disappears() {
    let app = spawn_app().await;
    let code = app
        .setup_code()
        .expect("a fresh install has a setup code")
        .to_owned();

    // The link printed at start-up fills the code in.
    let page = app.get_html(&format!("/setup?code={code}")).await;
    assert_eq!(input_value(&page, "code").as_deref(), Some(code.as_str()));
    assert_eq!(text_of(&page, "h1").as_deref(), Some("First administrator"));

    let res = app
        .submit("/setup", "/setup", &setup_fields(&code, "root", PASSWORD))
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(res.headers()), "/");

    // Signed in as the new administrator.
    let admin = app.get_html("/admin").await;
    assert!(admin.contains("Administrator"));
    assert!(
        admin.contains("First administrator set up"),
        "the audit shows the setup"
    );
    assert_eq!(
        app.audit("setup"),
        vec![(Some("root".into()), "success".into())]
    );

    // The page no longer exists, for anyone, with or without the code.
    assert_eq!(app.get("/setup").await.status(), StatusCode::NOT_FOUND);
    let stranger = app.visitor();
    assert_eq!(
        stranger.get(&format!("/setup?code={code}")).await.status(),
        StatusCode::NOT_FOUND
    );
    let csrf = common::csrf_in(&stranger.get_html("/login").await);
    let mut fields = setup_fields(&code, "root2", PASSWORD);
    fields.push(("csrf_token", &csrf));
    assert_eq!(
        stranger.post_form("/setup", &fields).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(app.count("users"), 1);
}

#[actix_web::test]
async fn setup_refuses_a_wrong_code_and_keeps_what_was_typed() {
    let app = spawn_app().await;
    let page = refused_page(
        app.submit(
            "/setup",
            "/setup",
            &setup_fields("not-the-code", "root", PASSWORD),
        )
        .await,
    )
    .await;
    assert!(text_of(&page, "#code-error").unwrap().contains("not valid"));
    assert_eq!(input_value(&page, "username").as_deref(), Some("root"));
    assert_eq!(
        input_value(&page, "email").as_deref(),
        Some("root@example.com")
    );
    assert!(!page.contains(PASSWORD), "the password is never echoed");
    assert_eq!(app.count("users"), 0);
    assert_eq!(app.audit("setup"), vec![(None, "denied".to_owned())]);
    assert!(!app.database_dump().contains("not-the-code"));
}

/// The first administrator's password is held to the common-password rule,
/// beside the field; whoever lacks the setup code gets no verdict on it.
#[actix_web::test]
async fn setup_refuses_a_common_password() {
    let app = spawn_app().await;
    let code = app.setup_code().unwrap().to_owned();
    for (common, message) in [
        ("password", tessera::domain::account::TOO_COMMON),
        ("12345678", tessera::domain::account::TOO_COMMON),
        ("qwerty123", tessera::domain::account::TOO_COMMON),
        ("root@example.com", tessera::domain::account::TOO_EASY),
    ] {
        let page = refused_page(
            app.submit("/setup", "/setup", &setup_fields(&code, "root", common))
                .await,
        )
        .await;
        assert_eq!(
            text_of(&page, "input#password + #password-error").as_deref(),
            Some(message),
            "{common}: right after the field"
        );
        assert_eq!(input_value(&page, "username").as_deref(), Some("root"));
        assert_eq!(input_value(&page, "password"), None, "never echoed");
    }
    assert!(tessera::domain::account::TOO_COMMON.contains("lists of leaked passwords"));
    assert_eq!(app.count("users"), 0);
    assert!(app.setup_code().is_some());

    let res = app
        .submit(
            "/setup",
            "/setup",
            &setup_fields("not-the-code", "root", "password"),
        )
        .await;
    let page = res.text().await.unwrap();
    assert!(text_of(&page, "#code-error").is_some());
    assert_eq!(text_of(&page, "#password-error"), None);
    assert_eq!(app.count("users"), 0);
}

#[actix_web::test]
async fn setup_validates_fields() {
    let app = spawn_app().await;
    let code = app.setup_code().unwrap().to_owned();
    let page = refused_page(
        app.submit(
            "/setup",
            "/setup",
            &[
                ("code", &code),
                ("username", "<b>x y</b>"),
                ("email", "nope"),
                ("password", "short"),
            ],
        )
        .await,
    )
    .await;
    assert!(text_of(&page, "#username-error").is_some());
    assert!(text_of(&page, "#email-error").is_some());
    assert!(
        text_of(&page, "#password-error")
            .unwrap()
            .contains("8 characters")
    );
    assert_eq!(
        input_value(&page, "username").as_deref(),
        Some("<b>x y</b>"),
        "what was typed comes back"
    );
    assert!(!page.contains("<b>x y</b>"));
    assert_eq!(app.count("users"), 0);
}

/// 129 characters are refused beside the field and create nothing; 128 (most of
/// them outside ASCII, more than 128 UTF-16 units) are the password, whole.
#[actix_web::test]
async fn setup_keeps_a_128_character_password_whole_and_refuses_129() {
    let app = spawn_app().await;
    let code = app.setup_code().unwrap().to_owned();
    let form = app.get_html("/setup").await;
    assert!(
        !form.contains("maxlength"),
        "no browser-side cut of a pasted password"
    );
    let longest = common::long_password(128);
    let too_long = format!("{longest}!");

    let page = refused_page(
        app.submit("/setup", "/setup", &setup_fields(&code, "root", &too_long))
            .await,
    )
    .await;
    assert_eq!(
        text_of(&page, "input#password + #password-error").as_deref(),
        Some("Use at most 128 characters."),
        "right after the field"
    );
    assert_eq!(input_value(&page, "username").as_deref(), Some("root"));
    assert!(!page.contains(&longest), "the password is never echoed");
    assert_eq!(app.count("users"), 0, "nothing was created");
    assert!(app.setup_code().is_some());

    let res = app
        .submit("/setup", "/setup", &setup_fields(&code, "root", &longest))
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.count("users"), 1);
    let other = app.visitor();
    let shorter: String = longest.chars().take(127).collect();
    assert_eq!(other.login("root", &shorter).await.status(), StatusCode::OK);
    assert_eq!(
        other.login("root", &longest).await.status(),
        StatusCode::SEE_OTHER
    );
}

#[actix_web::test]
async fn no_setup_code_once_an_admin_exists() {
    let app = spawn_app().await;
    app.create_user("root", true);
    let config = common::test_config(&app.database_url);
    let again = tessera::startup::Application::build(&config).await.unwrap();
    assert!(again.setup_code().is_none());
    assert_eq!(app.get("/setup").await.status(), StatusCode::NOT_FOUND);
}
