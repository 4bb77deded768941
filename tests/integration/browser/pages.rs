//! The pages as a whole, in a real browser: every GET page of the route table
//! (`common::site`) opened as a member and as an administrator fits a 400 px
//! wide window and passes axe-core; row buttons name their token, confirmations
//! start on Cancel, disabling a user asks first, every dialog can be closed, and
//! the colours follow the system's dark mode.
//!
//! axe-core is the npm package `axe-core` (`.ci/run` installs it with
//! `npm install --prefix tests/browser-deps axe-core@4`); `TESSERA_AXE_JS`
//! names another `axe.min.js`. Without it the axe tests skip like the other
//! browser tests, and fail when `TESSERA_BROWSER_TESTS=1`.

use super::*;

use common::site::{self, Site, Viewer};

/// The narrow window: a small phone held upright.
const NARROW: u32 = 400;

/// A fresh server with the rows of [`common::site`], and a browser signed in
/// as `viewer`, showing the sign-in page first to `visit`.
async fn signed_in_site(
    binaries: &BrowserBinaries,
    viewer: Viewer,
    mut visit: impl AsyncFnMut(&Browser, &str),
) -> (TestApp, Site, Browser) {
    let app = spawn_app().await;
    let site = site::arrange(&app);
    let browser = Browser::launch(binaries, &app).await;
    browser.goto("/login").await;
    visit(&browser, "/login").await;
    browser.sign_in(viewer.username()).await;
    // Stepped up, so that the pages behind the step-up are opened too.
    browser.step_up().await;
    (app, site, browser)
}

/// Opens every page `viewer` sees and hands it to `visit`; the pages that
/// failed to load as themselves are problems too.
async fn walk(
    binaries: &BrowserBinaries,
    viewer: Viewer,
    mut visit: impl AsyncFnMut(&Browser, &str),
) -> Vec<String> {
    let (_app, site, browser) = signed_in_site(binaries, viewer, &mut visit).await;
    let paths = site::pages(&site, viewer);
    assert!(paths.len() > 5, "{paths:?}");
    let mut visited = Vec::new();
    for path in paths {
        browser.goto(&path).await;
        let landed = browser.path().await;
        let wanted = path.split('?').next().unwrap_or_default();
        assert_eq!(landed, wanted, "GET {path} as {viewer:?} ended elsewhere");
        visit(&browser, &path).await;
        visited.push(path);
    }
    visited
}

// ---------------------------------------------------------------------------
// 1. Nothing overflows at 400 px

/// Whether the page scrolls sideways, and if so the outermost elements that
/// reach past the window's right edge.
const OVERFLOW: &str = "const root = document.documentElement; \
    const edge = root.clientWidth; \
    const past = (e) => e.getBoundingClientRect().right > edge + 0.5; \
    const culprits = Array.from(document.body.querySelectorAll('*')) \
      .filter((e) => past(e) && !(e.parentElement && e.parentElement !== document.body && past(e.parentElement))) \
      .slice(0, 6) \
      .map((e) => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') \
        + (typeof e.className === 'string' && e.className.trim() ? '.' + e.className.trim().split(/\\s+/).join('.') : '') \
        + ' (right edge ' + Math.round(e.getBoundingClientRect().right) + ')'); \
    return { scroll: root.scrollWidth, client: edge, inner: window.innerWidth, culprits };";

async fn overflow_problems(browser: &Browser, path: &str) -> Option<String> {
    let seen = browser.js(OVERFLOW, vec![]).await;
    let (scroll, client) = (
        seen["scroll"].as_i64().unwrap(),
        seen["client"].as_i64().unwrap(),
    );
    assert!(
        seen["inner"].as_i64().unwrap() <= i64::from(NARROW),
        "the window is not narrow: {seen}"
    );
    (scroll > client).then(|| {
        format!(
            "{path}: the page is {scroll} px wide in a {client} px window; reaching past: {}",
            seen["culprits"]
        )
    })
}

async fn nothing_overflows_for(test: &str, viewer: Viewer) {
    let Some(binaries) = browser_or_skip(test) else {
        return;
    };
    let mut problems = Vec::new();
    let visited = walk(&binaries, viewer, async |browser, path| {
        if path == "/login" {
            browser
                .client
                .set_window_size(NARROW, 900)
                .await
                .expect("a 400 px window");
            browser.goto(path).await;
        }
        problems.extend(overflow_problems(browser, path).await);
    })
    .await;
    assert!(
        problems.is_empty(),
        "pages wider than {NARROW} px as {viewer:?}:\n{}",
        problems.join("\n")
    );
    assert!(
        visited.iter().any(|p| p == "/profile/tokens"),
        "{visited:?}"
    );
}

#[actix_web::test]
async fn no_page_scrolls_sideways_at_400px_for_a_member() {
    nothing_overflows_for(
        "no_page_scrolls_sideways_at_400px_for_a_member",
        Viewer::Member,
    )
    .await;
}

#[actix_web::test]
async fn no_page_scrolls_sideways_at_400px_for_an_administrator() {
    nothing_overflows_for(
        "no_page_scrolls_sideways_at_400px_for_an_administrator",
        Viewer::Admin,
    )
    .await;
}

/// The check itself sees a page that is too wide.
#[actix_web::test]
async fn the_overflow_check_sees_a_page_that_is_too_wide() {
    let Some(binaries) = browser_or_skip("the_overflow_check_sees_a_page_that_is_too_wide") else {
        return;
    };
    let app = spawn_app().await;
    let browser = Browser::launch(&binaries, &app).await;
    browser
        .client
        .set_window_size(NARROW, 900)
        .await
        .expect("a 400 px window");
    browser.goto("/login").await;
    assert_eq!(overflow_problems(&browser, "/login").await, None);
    browser
        .js(
            "const wide = document.createElement('div'); wide.id = 'wide'; \
             wide.style.width = '600px'; wide.textContent = 'x'; \
             document.querySelector('main').append(wide);",
            vec![],
        )
        .await;
    let problem = overflow_problems(&browser, "/login")
        .await
        .expect("a problem");
    assert!(problem.contains("div#wide"), "{problem}");
}

// ---------------------------------------------------------------------------
// 7. axe-core

/// axe-core's `axe.min.js`: `TESSERA_AXE_JS`, else the copy npm put into
/// `tests/browser-deps`. `None` after saying that `test` is skipped; a panic
/// instead when `TESSERA_BROWSER_TESTS=1`.
pub(super) fn axe_or_skip(test: &str) -> Option<String> {
    let path = std::env::var_os("TESSERA_AXE_JS")
        .filter(|v| !v.is_empty())
        .map_or_else(
            || {
                Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("tests/browser-deps/node_modules/axe-core/axe.min.js")
            },
            PathBuf::from,
        );
    if let Ok(source) = std::fs::read_to_string(&path) {
        return Some(source);
    }
    assert!(
        !browser_required(),
        "browser test {test}: axe-core not found at {} and TESSERA_BROWSER_TESTS=1 requires it; \
         install it with `npm install --prefix tests/browser-deps axe-core@4` (Debian: nodejs npm) \
         or name an axe.min.js in TESSERA_AXE_JS",
        path.display()
    );
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED browser test {test}: axe-core not found at {} (npm install --prefix \
         tests/browser-deps axe-core@4; TESSERA_BROWSER_TESTS=1 makes this a failure)",
        path.display()
    );
    None
}

/// Runs axe-core on the current page (injecting it first when the page has
/// none); its serious and critical violations, one line each with the nodes.
pub(super) async fn axe_problems(
    browser: &Browser,
    axe: &str,
    path: &str,
    only: Option<&str>,
) -> Vec<String> {
    if browser.js("return typeof window.axe;", vec![]).await != json!("object") {
        browser.js(axe, vec![]).await;
    }
    let options = match only {
        Some(rule) => json!({ "resultTypes": ["violations"], "runOnly": [rule] }),
        None => json!({ "resultTypes": ["violations"] }),
    };
    let found = browser
        .client
        .execute_async(
            "const done = arguments[arguments.length - 1]; \
             axe.run(document, arguments[0]).then( \
               (r) => done(r.violations \
                 .filter((v) => v.impact === 'serious' || v.impact === 'critical') \
                 .map((v) => v.impact + ' ' + v.id + ' (' + v.help + '): ' \
                   + v.nodes.slice(0, 5).map((n) => n.target.join(' ') + ' [' \
                     + (n.failureSummary || '').replace(/\\s+/g, ' ') + ']').join('; '))), \
               (e) => done(['axe failed: ' + e]));",
            vec![options],
        )
        .await
        .unwrap_or_else(|e| panic!("axe.run on {path}: {e}"));
    found
        .as_array()
        .expect("a list")
        .iter()
        .map(|v| format!("{path}: {}", v.as_str().unwrap_or_default()))
        .collect()
}

async fn axe_passes_for(test: &str, viewer: Viewer) {
    let Some(binaries) = browser_or_skip(test) else {
        return;
    };
    let Some(axe) = axe_or_skip(test) else {
        return;
    };
    let mut problems = Vec::new();
    walk(&binaries, viewer, async |browser, path| {
        problems.extend(axe_problems(browser, &axe, path, None).await);
    })
    .await;
    assert!(
        problems.is_empty(),
        "axe-core, as {viewer:?}:\n{}",
        problems.join("\n")
    );
}

#[actix_web::test]
async fn axe_finds_nothing_serious_for_a_member() {
    axe_passes_for("axe_finds_nothing_serious_for_a_member", Viewer::Member).await;
}

#[actix_web::test]
async fn axe_finds_nothing_serious_for_an_administrator() {
    axe_passes_for(
        "axe_finds_nothing_serious_for_an_administrator",
        Viewer::Admin,
    )
    .await;
}

/// The check itself reports what axe finds.
#[actix_web::test]
async fn the_axe_check_reports_a_violation() {
    let test = "the_axe_check_reports_a_violation";
    let Some(binaries) = browser_or_skip(test) else {
        return;
    };
    let Some(axe) = axe_or_skip(test) else {
        return;
    };
    let app = spawn_app().await;
    let browser = Browser::launch(&binaries, &app).await;
    browser.goto("/login").await;
    assert_eq!(
        axe_problems(&browser, &axe, "/login", None).await,
        Vec::<String>::new()
    );
    browser
        .js(
            "const field = document.createElement('input'); field.id = 'unlabelled'; \
             document.querySelector('main').append(field);",
            vec![],
        )
        .await;
    let problems = axe_problems(&browser, &axe, "/login", None).await;
    assert!(
        problems
            .iter()
            .any(|p| p.contains("label") && p.contains("#unlabelled")),
        "{problems:?}"
    );
}

// ---------------------------------------------------------------------------
// 6. Dark mode

/// Switches `prefers-color-scheme` through the DevTools protocol.
async fn emulate_color_scheme(browser: &Browser, scheme: &str) {
    let session = browser
        .driver
        .session
        .as_deref()
        .expect("a WebDriver session");
    let body = json!({
        "cmd": "Emulation.setEmulatedMedia",
        "params": { "features": [{ "name": "prefers-color-scheme", "value": scheme }] },
    })
    .to_string();
    let path = format!("/session/{session}/goog/cdp/execute");
    let response = http(browser.driver.port, "POST", &path, &body, WAIT)
        .unwrap_or_else(|| panic!("chromedriver did not answer POST {path}"));
    assert!(!response.contains("\"error\""), "{scheme}: {response}");
    let matches = format!("return matchMedia('(prefers-color-scheme: {scheme})').matches;");
    assert_eq!(browser.js(&matches, vec![]).await, json!(true), "{scheme}");
}

/// The page's background, a card's, and the text colour, as computed.
const COLOURS: &str = "const style = (e) => getComputedStyle(e); \
    const card = document.querySelector('.card'); \
    return { page: style(document.documentElement).backgroundColor, \
             card: card ? style(card).backgroundColor : null, \
             text: style(document.documentElement).color };";

/// Relative luminance of `rgb(r, g, b)`, 0 (black) to 1 (white).
fn luminance(css: &Value) -> f64 {
    let text = css.as_str().unwrap_or_else(|| panic!("a colour: {css}"));
    let parts: Vec<f64> = text
        .trim_start_matches("rgba(")
        .trim_start_matches("rgb(")
        .trim_end_matches(')')
        .split(',')
        .take(3)
        .map(|c| c.trim().parse::<f64>().unwrap() / 255.0)
        .collect();
    let linear = |c: f64| {
        if c <= 0.039_28 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    0.2126 * linear(parts[0]) + 0.7152 * linear(parts[1]) + 0.0722 * linear(parts[2])
}

#[actix_web::test]
async fn dark_mode_follows_the_system_and_keeps_contrast() {
    let test = "dark_mode_follows_the_system_and_keeps_contrast";
    let Some(binaries) = browser_or_skip(test) else {
        return;
    };
    let axe = axe_or_skip(test);
    let (_app, site, browser) = signed_in_site(&binaries, Viewer::Admin, async |_, _| {}).await;
    browser.goto("/profile/tokens").await;
    emulate_color_scheme(&browser, "light").await;
    let light = browser.js(COLOURS, vec![]).await;
    emulate_color_scheme(&browser, "dark").await;
    let dark = browser.js(COLOURS, vec![]).await;
    assert!(luminance(&light["page"]) > 0.8, "light: {light}");
    assert!(luminance(&light["card"]) > 0.8, "light: {light}");
    assert!(luminance(&light["text"]) < 0.1, "light: {light}");
    assert!(luminance(&dark["page"]) < 0.05, "dark: {dark}");
    assert!(luminance(&dark["card"]) < 0.05, "dark: {dark}");
    assert!(luminance(&dark["text"]) > 0.6, "dark: {dark}");

    // Every page keeps its contrast in the dark (the emulation lasts while
    // the browser moves from page to page).
    let Some(axe) = axe else { return };
    let mut problems = Vec::new();
    for path in site::pages(&site, Viewer::Admin) {
        browser.goto(&path).await;
        problems.extend(axe_problems(&browser, &axe, &path, Some("color-contrast")).await);
    }
    assert!(
        problems.is_empty(),
        "in dark mode:\n{}",
        problems.join("\n")
    );
}

// ---------------------------------------------------------------------------
// 3. Names, focus and dialogs

/// The accessible name Chromium computes for `element` (WebDriver's Get
/// Computed Label).
async fn accessible_name(browser: &Browser, element: &fantoccini::elements::Element) -> String {
    let session = browser
        .driver
        .session
        .as_deref()
        .expect("a WebDriver session");
    let path = format!(
        "/session/{session}/element/{}/computedlabel",
        element.element_id()
    );
    let response = http(browser.driver.port, "GET", &path, "", WAIT)
        .unwrap_or_else(|| panic!("chromedriver did not answer GET {path}"));
    let value: Value = serde_json::from_str(&response).expect("JSON from chromedriver");
    value["value"]
        .as_str()
        .unwrap_or_else(|| panic!("no computed label: {response}"))
        .to_owned()
}

/// The text of `arguments[0]` that is seen: without its visually hidden parts.
const VISIBLE_TEXT: &str = "const copy = arguments[0].cloneNode(true); \
    copy.querySelectorAll('.visually-hidden').forEach((e) => e.remove()); \
    return copy.textContent.trim();";

#[actix_web::test]
async fn row_buttons_name_their_token() {
    let Some(binaries) = browser_or_skip("row_buttons_name_their_token") else {
        return;
    };
    let (_app, site, browser) = signed_in_site(&binaries, Viewer::Member, async |_, _| {}).await;
    browser.goto("/profile/tokens").await;
    let row = format!("tr[data-token-id=\"{}\"]", site.ada_personal.id);
    let controls = browser
        .client
        .find_all(Locator::Css(&format!(
            "{row} .row-actions a, {row} .row-actions button"
        )))
        .await
        .expect("find_all");
    let mut names = Vec::new();
    for control in &controls {
        let shown = browser.js(VISIBLE_TEXT, vec![json!(control)]).await;
        let shown = shown.as_str().expect("a text");
        let name = accessible_name(&browser, control).await;
        assert_eq!(
            name,
            format!("{shown} CI deploy"),
            "what is shown: {shown:?}"
        );
        names.push(name);
    }
    for expected in ["Edit CI deploy", "Disable CI deploy", "Revoke CI deploy"] {
        assert!(names.iter().any(|n| n == expected), "{expected}: {names:?}");
    }
}

/// The text of the focused element.
async fn focused_text(browser: &Browser) -> String {
    let text = browser
        .js(
            "return document.activeElement ? document.activeElement.textContent.trim() : '';",
            vec![],
        )
        .await;
    text.as_str().unwrap_or_default().to_owned()
}

/// Clicks Revoke in the row of token `id` and waits for the confirmation dialog.
async fn open_revoke_dialog(browser: &Browser, id: i64) {
    let link = format!("tr[data-token-id=\"{id}\"] a[data-confirm-dialog]");
    browser.click(&link, "Revoke").await;
    browser.wait_dialog_open("confirm-dialog").await;
}

#[actix_web::test]
async fn confirmations_start_on_cancel_with_and_without_javascript() {
    let Some(binaries) =
        browser_or_skip("confirmations_start_on_cancel_with_and_without_javascript")
    else {
        return;
    };
    let (_app, site, browser) = signed_in_site(&binaries, Viewer::Admin, async |_, _| {}).await;
    let revoke = format!("/profile/tokens/{}/revoke", site.personal.id);

    // The dialog, opened from the row.
    browser.goto("/profile/tokens").await;
    open_revoke_dialog(&browser, site.personal.id).await;
    assert_eq!(focused_text(&browser).await, "Cancel");
    browser.cancel_confirmation().await;

    // The bulk confirmation, in its dialog.
    browser.goto("/admin/tokens?tab=api").await;
    browser
        .click(&format!("#select-{}", site.api.id), "a row's checkbox")
        .await;
    browser
        .button("#bulk-form", "Delete selected")
        .await
        .click()
        .await
        .expect("click Delete selected");
    browser.wait_dialog_open("confirm-dialog").await;
    assert_eq!(browser.confirm_heading().await, "Delete 1 token?");
    assert_eq!(focused_text(&browser).await, "Cancel");
    browser.cancel_confirmation().await;

    // The same pages without the dialog.
    let users = format!("/admin/users/{}", site.ada.id);
    for page in [revoke.clone(), format!("{users}/disable")] {
        browser.goto(&page).await;
        browser
            .until_js(
                "the page to load",
                "return document.readyState === 'complete';",
            )
            .await;
        assert_eq!(focused_text(&browser).await, "Cancel", "{page}");
    }
}

#[actix_web::test]
async fn disabling_a_user_asks_first() {
    let Some(binaries) = browser_or_skip("disabling_a_user_asks_first") else {
        return;
    };
    let (app, site, browser) = signed_in_site(&binaries, Viewer::Admin, async |_, _| {}).await;
    let page = format!("/admin/users/{}", site.ada.id);
    browser.goto(&page).await;
    let disable = format!("a[href=\"{page}/disable\"]");
    browser.click(&disable, "Disable").await;
    browser.wait_dialog_open("confirm-dialog").await;
    assert_eq!(browser.confirm_heading().await, "Disable ada?");
    assert_eq!(browser.path().await, page, "no navigation");
    assert!(
        app.audit("user_disabled").is_empty(),
        "nothing happened yet"
    );
    browser.cancel_confirmation().await;
    assert!(
        app.audit("user_disabled").is_empty(),
        "Cancel changed nothing"
    );

    browser.click(&disable, "Disable").await;
    browser.wait_dialog_open("confirm-dialog").await;
    browser
        .press_to_new_page("#confirm-dialog form.confirm", "Disable")
        .await;
    assert_eq!(browser.path().await, page);
    assert_eq!(app.audit("user_disabled").len(), 1);
    assert!(browser.body_text().await.contains("Disabled ada"));
}

#[actix_web::test]
async fn every_dialog_has_a_close_button_that_closes_it() {
    let Some(binaries) = browser_or_skip("every_dialog_has_a_close_button_that_closes_it") else {
        return;
    };
    let (_app, site, browser) = signed_in_site(&binaries, Viewer::Admin, async |_, _| {}).await;
    let mut dialogs = 0;
    for path in site::pages(&site, Viewer::Admin) {
        browser.goto(&path).await;
        for dialog in browser
            .client
            .find_all(Locator::Css("dialog"))
            .await
            .expect("find_all")
        {
            dialogs += 1;
            let id = dialog.attr("id").await.unwrap().unwrap_or_default();
            let close = dialog
                .find(Locator::Css("button[data-dialog-close]"))
                .await
                .unwrap_or_else(|_| panic!("{path}: <dialog id={id}> has no Close button"));
            // (A closed dialog is not rendered: it has no computed name yet.)
            let label = close.attr("aria-label").await.unwrap();
            assert_eq!(label.as_deref(), Some("Close"), "{path} #{id}");
        }
    }
    assert!(dialogs >= 6, "{dialogs} dialogs seen");

    // Close closes the create dialog and the confirmation alike.
    browser.goto("/profile/tokens").await;
    browser
        .open_dialog("create-token-dialog", "Create access token")
        .await;
    browser
        .click("#create-token-dialog button[data-dialog-close]", "Close")
        .await;
    browser
        .until_js(
            "the dialog to close",
            "return !document.getElementById('create-token-dialog').open;",
        )
        .await;
    open_revoke_dialog(&browser, site.personal.id).await;
    browser
        .click("#confirm-dialog button[data-dialog-close]", "Close")
        .await;
    browser
        .until_js(
            "the confirmation to close",
            "return !document.getElementById('confirm-dialog').open;",
        )
        .await;
}
