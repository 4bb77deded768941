//! What holds for the whole site rather than one route: the security headers
//! of every HTML answer, one `<h1>` and a label per input on every page, `/`
//! leading to Token Management, the admin area closed to non-administrators,
//! the plain pages for unknown routes, wrong methods and oversized bodies, the
//! built-in static files (and a folder that replaces them), `/healthz` and
//! `/readyz`, and the session cookie's Secure flag.

use crate::common;

use common::site::Viewer;
use common::{app_with_user, content_type, location, spawn_app, text_of};
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
    let (app, _) = app_with_user("ada").await;
    for path in ["/login", "/setup", "/nowhere"] {
        let res = app.get(path).await;
        assert_security_headers(&res);
    }
    app.login_ok("ada").await;
    for path in ["/profile", "/profile/tokens", "/admin", "/nowhere"] {
        let res = app.get(path).await;
        assert!(content_type(&res).starts_with("text/html"));
        assert_security_headers(&res);
    }
}

/// What is wrong with a page's headings and labels: not exactly one `<h1>`, an
/// input, select or textarea (other than hidden fields and buttons) that no
/// `<label>` names (by `for` = its id, or by wrapping it), or an id used twice.
fn heading_and_label_problems(html: &str) -> Vec<String> {
    let doc = scraper::Html::parse_document(html);
    let select = |css: &str| scraper::Selector::parse(css).unwrap();
    let mut problems = Vec::new();
    let h1s = doc.select(&select("h1")).count();
    if h1s != 1 {
        problems.push(format!("{h1s} <h1> elements"));
    }
    let fields = select(
        "input:not([type=hidden]):not([type=submit]):not([type=button]):not([type=reset]):not([type=image]), select, textarea",
    );
    for field in doc.select(&fields) {
        let wrapped = field
            .ancestors()
            .filter_map(scraper::ElementRef::wrap)
            .any(|el| el.value().name() == "label");
        let name = field.value().attr("name").unwrap_or("?");
        match field.value().id() {
            Some(id) => {
                let same_id = doc.select(&select(&format!("[id=\"{id}\"]"))).count();
                if same_id != 1 {
                    problems.push(format!("id {id:?} is used {same_id} times"));
                }
                let labels = doc.select(&select(&format!("label[for=\"{id}\"]"))).count();
                if labels != 1 && !wrapped {
                    problems.push(format!("#{id} (name {name:?}) has {labels} labels"));
                }
            }
            None if wrapped => {}
            None => problems.push(format!("a field named {name:?} without id or label")),
        }
    }
    problems
}

/// The stored codes of token kinds and audit actions that `html` shows as the
/// whole text of a cell, a list item or an option (people read "Access token"
/// and "Token revoked"; `personal` and `token_revoked` are for the database,
/// the filters' values and the CSV export).
fn internal_codes_shown(html: &str) -> Vec<String> {
    use tessera::domain::audit::AuditAction;
    use tessera::domain::token::TokenKind;
    let codes: Vec<&str> = TokenKind::ALL
        .iter()
        .map(|k| k.as_str())
        .chain(AuditAction::ALL.iter().map(|a| a.as_str()))
        .collect();
    let doc = scraper::Html::parse_document(html);
    let cells = scraper::Selector::parse("td, th, dd, dt, li, option, h1, h2").unwrap();
    doc.select(&cells)
        .map(|cell| cell.text().collect::<String>().trim().to_owned())
        .filter(|text| codes.contains(&text.as_str()))
        .collect()
}

/// The pages behind every GET route of the route table that serves HTML, to an
/// administrator and to a member, with real rows behind every `{id}`
/// (`common::site`) and a set-password link.
#[actix_web::test]
async fn pages_have_one_h1_and_a_label_for_every_input() {
    // The check itself catches what it is for.
    assert!(heading_and_label_problems("<h1>A</h1><label for=a>A</label><input id=a>").is_empty());
    assert_eq!(
        internal_codes_shown(
            "<table><tr><td>personal</td><td>Access token</td></tr></table>\
             <dl><dd>token_revoked</dd></dl>"
        ),
        ["personal", "token_revoked"]
    );
    assert!(heading_and_label_problems("<h1>A</h1><label>A <select></select></label>").is_empty());
    for bad in [
        "<h1>A</h1><h1>B</h1>",
        "<h1>A</h1><input id=a>",
        "<h1>A</h1><label for=b>B</label><textarea id=a></textarea>",
        "<h1>A</h1><input type=checkbox name=ids>",
        "<h1>A</h1><label for=a>A</label><input id=a><input id=a type=radio>",
    ] {
        assert!(!heading_and_label_problems(bad).is_empty(), "{bad}");
    }
    let app = spawn_app().await;
    // Visited as someone who is not signed in (and /setup while no admin exists).
    let mut pages: Vec<(String, String)> = Vec::new();
    for path in ["/login", "/setup"] {
        pages.push((path.to_owned(), app.get_html(path).await));
    }
    let site = common::site::arrange(&app);
    app.login_ok("root").await;
    // Stepped up, so that the pages behind the step-up are walked too.
    app.step_up().await;
    let ada = site.ada.id;
    let res = app
        .submit(
            &format!("/admin/users/{ada}"),
            &format!("/admin/users/{ada}/password-link"),
            &[],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let link = text_of(&res.text().await.unwrap(), "#password-link").expect("a link");
    let (_, code) = link.split_once("/set-password?code=").unwrap();
    let stranger = app.visitor();
    let set_password = format!("/set-password?code={code}");
    pages.push((set_password.clone(), stranger.get_html(&set_password).await));
    let refused = stranger.get("/set-password?code=no-such-code").await;
    assert_eq!(refused.status(), StatusCode::NOT_FOUND);
    pages.push((
        "/set-password (refused)".into(),
        refused.text().await.unwrap(),
    ));

    let mut visited = Vec::new();
    for path in common::site::pages(&site, Viewer::Admin) {
        let res = app.get(&path).await;
        assert_eq!(res.status(), StatusCode::OK, "GET {path}");
        let kind = res.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(kind.starts_with("text/html"), "GET {path}: {kind}");
        visited.push(path.clone());
        pages.push((path, res.text().await.unwrap()));
    }
    // And what a member sees of them.
    let member = app.visitor();
    member.login_ok("ada").await;
    member.step_up().await;
    for path in common::site::pages(&site, Viewer::Member) {
        let res = member.get(&path).await;
        assert_eq!(res.status(), StatusCode::OK, "GET {path} as a member");
        pages.push((format!("{path} (member)"), res.text().await.unwrap()));
    }
    for expected in [
        "/profile",
        "/profile/tokens",
        "/profile/tokens/new",
        "/profile/clients/new",
        "/admin",
        "/admin/tokens/new",
        "/admin/users",
        "/admin/users/new",
        "/admin/settings",
        "/admin/audit",
        "/admin/departments/new",
        "/admin/user-types/new",
        "/admin/scopes/new",
    ] {
        assert!(
            visited.iter().any(|p| p == expected),
            "{expected} is in the route table: {visited:?}"
        );
    }
    let mut problems = Vec::new();
    for (path, page) in &pages {
        for problem in heading_and_label_problems(page) {
            problems.push(format!("{path}: {problem}"));
        }
        for code in internal_codes_shown(page) {
            problems.push(format!("{path}: shows the code {code:?}"));
        }
        // Browsers count maxlength in UTF-16 units and silently cut what is
        // pasted: the server alone checks a password's length.
        let doc = scraper::Html::parse_document(page);
        let capped = scraper::Selector::parse("input[type=password][maxlength]").unwrap();
        for input in doc.select(&capped) {
            problems.push(format!("{path}: {} has a maxlength", input.html()));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[actix_web::test]
async fn root_leads_to_token_management() {
    let (app, _) = app_with_user("ada").await;
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
    let (app, _) = app_with_user("ada").await;
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
    let (app, _) = app_with_user("ada").await;
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
    app.step_up().await;

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
    assert!(content_type(&res).starts_with("text/css"));
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
    // What browsers ask for whatever the page says: sent on to the SVG icon,
    // with no session.
    let res = app.get("/favicon.ico").await;
    assert_eq!(res.status(), StatusCode::MOVED_PERMANENTLY);
    assert_eq!(location(res.headers()), "/static/favicon.svg");
    assert!(res.headers().get("set-cookie").is_none());
    let icon = app.get("/static/favicon.svg").await;
    assert_eq!(icon.status(), StatusCode::OK);
    assert_eq!(content_type(&icon), "image/svg+xml");
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
}

/// The session cookies a response sets, whole (`name=value; attributes`).
fn session_cookies(res: &reqwest::Response) -> Vec<String> {
    res.headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .filter(|c| c.starts_with("tessera_session="))
        .collect()
}

#[actix_web::test]
async fn cookie_secure_false_leaves_the_flag_off_even_after_sign_in() {
    let config = common::test_config("sqlite://unused.db");
    assert_eq!(
        config.cookie_secure,
        tessera::config::CookieSecure::False,
        "the harness passes --cookie-secure false"
    );
    let app =
        common::spawn_app_with(|c| c.cookie_secure = tessera::config::CookieSecure::False).await;
    app.create_user("ada", false);
    let page = app.get("/login").await;
    let mut cookies = session_cookies(&page);
    let csrf = common::csrf_in(&page.text().await.unwrap());
    let res = app.post_login("ada", &csrf).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let at_sign_in = session_cookies(&res);
    assert_eq!(at_sign_in.len(), 1, "a new cookie at sign-in");
    cookies.extend(at_sign_in);
    assert!(!cookies.is_empty());
    for cookie in cookies {
        let attributes: Vec<String> = cookie
            .split(';')
            .skip(1)
            .map(|a| a.trim().to_ascii_lowercase())
            .collect();
        assert!(!attributes.iter().any(|a| a == "secure"), "{cookie}");
        assert!(attributes.iter().any(|a| a == "httponly"), "{cookie}");
    }
}
