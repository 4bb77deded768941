//! The portal's shell: security headers, error pages, admin area, body limits.

mod common;

use common::{PASSWORD, location, spawn_app, text_of};
use reqwest::StatusCode;

const CSP: &str = "default-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

fn assert_security_headers(res: &reqwest::Response) {
    let h = res.headers();
    assert_eq!(
        h.get("content-security-policy").unwrap(),
        CSP,
        "{}",
        res.url()
    );
    assert_eq!(h.get("x-content-type-options").unwrap(), "nosniff");
    assert_eq!(h.get("referrer-policy").unwrap(), "same-origin");
}

#[actix_web::test]
async fn every_html_response_carries_the_security_headers() {
    let app = spawn_app().await;
    app.create_user("ada", false);
    for path in ["/login", "/setup", "/nowhere"] {
        let res = app.get(path).await;
        assert_security_headers(&res);
    }
    app.login_ok("ada").await;
    for path in ["/profile", "/profile/tokens", "/admin", "/nowhere"] {
        let res = app.get(path).await;
        assert!(
            res.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        assert_security_headers(&res);
    }
}

#[actix_web::test]
async fn pages_have_one_h1_and_a_label_for_every_input() {
    let app = spawn_app().await;
    let mut pages = vec![app.get_html("/login").await, app.get_html("/setup").await];
    app.create_user("ada", true);
    app.login_ok("ada").await;
    for path in ["/profile", "/profile/tokens", "/admin"] {
        pages.push(app.get_html(path).await);
    }
    for page in pages {
        let doc = scraper::Html::parse_document(&page);
        let h1 = scraper::Selector::parse("h1").unwrap();
        assert_eq!(doc.select(&h1).count(), 1, "{page}");
        let inputs =
            scraper::Selector::parse("input:not([type=hidden]), select, textarea").unwrap();
        for input in doc.select(&inputs) {
            let id = input.value().id().expect("every input has an id");
            let label = scraper::Selector::parse(&format!("label[for=\"{id}\"]")).unwrap();
            assert_eq!(doc.select(&label).count(), 1, "label for #{id}");
        }
    }
}

#[actix_web::test]
async fn root_leads_to_token_management() {
    let app = spawn_app().await;
    app.create_user("ada", false);
    app.login_ok("ada").await;
    let res = app.get("/").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(res.headers()), "/profile/tokens");
    let page = app.get_html("/profile/tokens").await;
    assert_eq!(text_of(&page, "h1").as_deref(), Some("Token Management"));
    assert!(page.contains("Access tokens") && page.contains("Clients"));
}

#[actix_web::test]
async fn the_admin_area_is_for_administrators_only() {
    let app = spawn_app().await;
    app.create_user("ada", false);
    app.create_user("root", true);

    // Anonymous: sign in first.
    let res = app.get("/admin").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(res.headers()), "/login");

    app.login_ok("ada").await;
    let nav = app.get_html("/profile").await;
    assert!(
        !nav.contains("href=\"/admin\""),
        "no Administrator link for users"
    );
    for path in ["/admin", "/admin/users", "/admin/anything/at/all"] {
        let res = app.get(path).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{path}");
        assert!(res.text().await.unwrap().contains("You do not have access"));
    }
    let csrf = common::csrf_in(&app.get_html("/profile").await);
    let res = app
        .post_form("/admin/tokens/bulk-revoke", &[("csrf_token", &csrf)])
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let denials = app.audit("authorization_failure");
    assert_eq!(denials.len(), 4);
    assert!(
        denials
            .iter()
            .all(|(actor, outcome)| actor.as_deref() == Some("ada") && outcome == "denied")
    );

    let admin = app.visitor();
    admin.login_ok("root").await;
    assert!(admin.get_html("/profile").await.contains("href=\"/admin\""));
    assert_eq!(admin.get("/admin").await.status(), StatusCode::OK);
}

#[actix_web::test]
async fn unknown_routes_wrong_methods_and_large_bodies_get_plain_pages() {
    let app = spawn_app().await;
    app.create_user("ada", false);
    assert_eq!(
        app.get("/no/such/page").await.status(),
        StatusCode::NOT_FOUND,
        "before signing in too"
    );
    assert_eq!(
        app.get("/profile").await.status(),
        StatusCode::SEE_OTHER,
        "a real page asks to sign in"
    );
    app.login_ok("ada").await;

    let res = app.get("/no/such/page").await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        text_of(&res.text().await.unwrap(), "h1").as_deref(),
        Some("Not found")
    );

    let res = app.client.delete(app.url("/login")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(
        text_of(&res.text().await.unwrap(), "h1").as_deref(),
        Some("Method not allowed")
    );

    let csrf = common::csrf_in(&app.get_html("/profile").await);
    let huge = "x".repeat(2 * 1024 * 1024);
    let res = app
        .post_form(
            "/profile/password",
            &[
                ("csrf_token", &csrf),
                ("current_password", &huge),
                ("new_password", &huge),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);

    // A malformed form is a 400 page, not a 500.
    let res = app
        .client
        .post(app.url("/profile/password"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("csrf_token={csrf}&current_password=%FF%FE"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let body = res.text().await.unwrap();
    assert!(!body.contains(&csrf) && !body.contains("panicked"));
}

#[actix_web::test]
async fn static_files_are_served_locally() {
    let app = spawn_app().await;
    let res = app.get("/static/css/tessera.css").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/css")
    );
    // Built into the binary: revalidated by entity tag, 304 while unchanged.
    let etag = res.headers()["etag"].to_str().unwrap().to_owned();
    assert_eq!(res.headers()["cache-control"], "no-cache");
    assert!(res.text().await.unwrap().contains("body"));
    let again = app
        .client
        .get(app.url("/static/css/tessera.css"))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    let js = app.get("/static/js/tessera.js").await;
    assert!(
        js.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    assert_eq!(
        app.get("/static/nothing.css").await.status(),
        StatusCode::NOT_FOUND
    );
    let login = app.get_html("/login").await;
    assert!(
        !login.contains("http://") && !login.contains("https://"),
        "no CDN"
    );
}

#[actix_web::test]
async fn a_static_folder_replaces_the_built_in_files() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("css")).unwrap();
    std::fs::write(dir.path().join("css/tessera.css"), "/* restyled */").unwrap();
    let folder = dir.path().to_owned();
    let app = common::spawn_app_with(move |config| config.static_dir = Some(folder)).await;
    let res = app.get("/static/css/tessera.css").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.text().await.unwrap(), "/* restyled */");
}

#[actix_web::test]
async fn health_and_readiness() {
    let app = spawn_app().await;
    assert_eq!(app.get("/healthz").await.status(), StatusCode::OK);
    let res = app.get("/readyz").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.text().await.unwrap(), "ready");
}

#[actix_web::test]
async fn the_secure_cookie_flag_follows_the_setting() {
    let app =
        common::spawn_app_with(|c| c.cookie_secure = tessera::config::CookieSecure::True).await;
    let res = app.get("/login").await;
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.contains("Secure"), "{cookie}");
    let _ = PASSWORD;
}

#[actix_web::test]
async fn metrics_count_requests_validations_and_the_pool() {
    let app = spawn_app().await;
    let ada = app.create_user("ada", false);
    let t = app.insert_token(ada.id, "personal", "ci", None);
    app.api_me(&t.token).await;
    app.api_me("garbage").await;
    app.get("/login").await;
    let res = app.get("/metrics").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = res.text().await.unwrap();
    for needle in [
        "tessera_http_requests_total{method=\"GET\",route=\"/login\",status=\"200\"}",
        "tessera_http_request_duration_seconds_bucket{route=\"/api/v1/me\"",
        "tessera_token_validations_total{outcome=\"valid\"}",
        "tessera_token_validations_total{outcome=\"malformed\"}",
        "tessera_db_pool_connections{state=\"idle\"}",
    ] {
        assert!(text.contains(needle), "{needle} in:\n{text}");
    }
    assert!(!text.contains(&t.token[9..]), "no secret in metrics");
}
