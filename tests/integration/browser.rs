//! Real-browser tests: headless Chromium, driven through chromedriver (WebDriver),
//! against the real server. They cover what the HTTP tests cannot see: the
//! JavaScript dialogs of Token Management, the Copy button, and the administrator
//! inventory's row selection and bulk revocation.
//!
//! Each test starts its own server, its own `chromedriver` on a free port and its
//! own Chromium profile, so they run in parallel like every other test. They need
//! the Debian packages `chromium` and `chromium-driver`; without them each test
//! prints `SKIPPED browser test …` and passes, unless `TESSERA_BROWSER_TESTS=1`
//! is set (as CI does), which turns a missing browser into a failure.
//! `TESSERA_CHROMEDRIVER` and `TESSERA_CHROMIUM` override where the two binaries
//! are looked for (otherwise: `chromedriver` and `chromium` on `PATH`).

use crate::common;

use std::collections::HashSet;
use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{PASSWORD, TestApp, app_with_member, app_with_user, spawn_app};
use fantoccini::error::CmdError;
use fantoccini::{Client, ClientBuilder, Locator};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tessera::domain::token_filter::PAGE_SIZE;

/// How long any wait for the browser lasts before the test fails.
const WAIT: Duration = Duration::from_secs(10);
/// How often a wait looks again.
const POLL: Duration = Duration::from_millis(100);

// ---------------------------------------------------------------------------
// Finding the browser, or skipping

/// Where chromedriver and Chromium are.
struct BrowserBinaries {
    chromedriver: PathBuf,
    chromium: PathBuf,
}

/// `$override_var` if set (even when it points nowhere: that hides the binary),
/// otherwise the first `name` on `PATH`.
fn find_binary(override_var: &str, name: &str) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(override_var).filter(|v| !v.is_empty()) {
        let path = PathBuf::from(path);
        return common::is_executable(&path).then_some(path);
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|path| common::is_executable(path))
}

/// A fresh server with the administrator `root` and the user `ada`, neither
/// signed in (the browser signs in).
async fn root_and_ada() -> (common::TestApp, tessera::db::users::User) {
    let app = spawn_app().await;
    app.create_user("root", true);
    let ada = app.create_user("ada", false);
    (app, ada)
}

/// Whether a missing browser fails the test instead of skipping it.
fn browser_required() -> bool {
    std::env::var("TESSERA_BROWSER_TESTS").is_ok_and(|v| matches!(v.trim(), "1" | "true" | "yes"))
}

/// The browser binaries, or `None` after saying loudly that `test` is skipped.
/// Panics instead when `TESSERA_BROWSER_TESTS=1`.
fn browser_or_skip(test: &str) -> Option<BrowserBinaries> {
    let chromedriver = find_binary("TESSERA_CHROMEDRIVER", "chromedriver");
    let chromium = find_binary("TESSERA_CHROMIUM", "chromium");
    if let (Some(chromedriver), Some(chromium)) = (chromedriver.clone(), chromium.clone()) {
        return Some(BrowserBinaries {
            chromedriver,
            chromium,
        });
    }
    let missing = match (chromedriver, chromium) {
        (None, None) => "chromedriver and chromium",
        (None, Some(_)) => "chromedriver",
        _ => "chromium",
    };
    assert!(
        !browser_required(),
        "browser test {test}: {missing} not found (looked at $TESSERA_CHROMEDRIVER / \
         $TESSERA_CHROMIUM, then PATH), and TESSERA_BROWSER_TESTS=1 requires the browser; \
         install the Debian packages chromium chromium-driver"
    );
    // Straight to the process's stderr: the test harness captures `eprintln!` of
    // passing tests, and this line must be seen.
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED browser test {test}: chromedriver/chromium not found ({missing} missing); \
         install Debian packages chromium chromium-driver to run it \
         (TESSERA_BROWSER_TESTS=1 makes this a failure)"
    );
    None
}

// ---------------------------------------------------------------------------
// chromedriver and the WebDriver session

/// A running chromedriver; on drop it ends the browser session and is killed.
struct Driver {
    child: Child,
    port: u16,
    session: Option<String>,
    log: PathBuf,
}

impl Driver {
    /// Starts chromedriver on a free port and waits until it is ready.
    async fn start(binary: &Path, log: &Path) -> Driver {
        let mut last = String::new();
        // A port found free can be taken by someone else before chromedriver binds
        // it; then chromedriver exits and another port is tried.
        for _ in 0..5 {
            let port = free_port();
            let mut command = Command::new(binary);
            command
                .arg(format!("--port={port}"))
                .arg(format!("--log-path={}", log.display()))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            #[cfg(unix)]
            {
                // Its own process group, so that Chromium can be killed with it.
                use std::os::unix::process::CommandExt as _;
                command.process_group(0);
            }
            let child = command
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
            let mut driver = Driver {
                child,
                port,
                session: None,
                log: log.to_owned(),
            };
            match driver.wait_ready().await {
                Ok(()) => return driver,
                Err(e) => last = e,
            }
        }
        panic!("chromedriver did not start: {last}");
    }

    async fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("chromedriver exited with {status}"));
            }
            if let Some(body) = http(self.port, "GET", "/status", "", Duration::from_secs(2))
                && body.contains("\"ready\":true")
                && matches!(self.child.try_wait(), Ok(None))
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!("not ready on port {} after {WAIT:?}", self.port));
            }
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // Ending the session makes chromedriver quit Chromium cleanly. This is
        // plain blocking HTTP because drop cannot await, and it runs on failure too.
        if let Some(session) = self.session.take() {
            let _ = http(
                self.port,
                "DELETE",
                &format!("/session/{session}"),
                "",
                Duration::from_secs(15),
            );
        }
        if std::thread::panicking() {
            print_log_tail(&self.log);
        }
        // Whatever is left of this chromedriver's process group (Chromium, if the
        // session did not end), then chromedriver itself.
        #[cfg(unix)]
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn print_log_tail(log: &Path) {
    let Ok(text) = std::fs::read_to_string(log) else {
        return;
    };
    let lines: Vec<&str> = text.lines().collect();
    let tail = &lines[lines.len().saturating_sub(40)..];
    eprintln!(
        "--- last lines of the chromedriver log ({}) ---\n{}\n---",
        log.display(),
        tail.join("\n")
    );
}

/// A port that was free a moment ago.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A minimal blocking HTTP/1.1 request to chromedriver with a JSON `body`; the
/// response body, if any. (chromedriver keeps the connection open, so the body is
/// read by its length.)
fn http(port: u16, method: &str, path: &str, body: &str, timeout: Duration) -> Option<String> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = TcpStream::connect_timeout(&addr, timeout).ok()?;
    stream.set_read_timeout(Some(timeout)).ok()?;
    stream.set_write_timeout(Some(timeout)).ok()?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut response = Vec::new();
    let mut buf = [0; 4096];
    loop {
        let n = stream.read(&mut buf).ok()?;
        response.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&response);
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length = head.lines().find_map(|line| {
                let (name, value) = line.split_once(':')?;
                name.trim()
                    .eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse::<usize>().ok())?
            });
            if n == 0 || length.is_some_and(|len| body.len() >= len) {
                return Some(body.to_owned());
            }
        }
        if n == 0 {
            return None;
        }
    }
}

/// Headless Chromium in a WebDriver session, with its own chromedriver and profile.
struct Browser {
    client: Client,
    /// The server under test, e.g. `http://127.0.0.1:41234`.
    base: String,
    // Dropped in this order: the session and chromedriver, then the profile.
    driver: Driver,
    _dir: tempfile::TempDir,
}

impl Browser {
    async fn launch(binaries: &BrowserBinaries, app: &TestApp) -> Browser {
        let dir = tempfile::tempdir().expect("temp dir");
        let profile = dir.path().join("profile");
        std::fs::create_dir(&profile).expect("profile dir");
        let mut driver =
            Driver::start(&binaries.chromedriver, &dir.path().join("chromedriver.log")).await;

        let args = [
            "--headless=new".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            // The network is closed on CI machines: without these Chromium waits
            // for Google's services.
            "--disable-quic".to_owned(),
            "--no-first-run".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            format!("--user-data-dir={}", profile.display()),
            "--window-size=1280,1000".to_owned(),
        ];
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": binaries.chromium,
                "args": args,
            },
            "timeouts": { "implicit": 0, "pageLoad": 20_000, "script": 10_000 },
        });
        let Value::Object(capabilities) = capabilities else {
            unreachable!()
        };
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities)
            .connect(&driver.url())
            .await
            // (On this panic, dropping `driver` prints the end of its log.)
            .unwrap_or_else(|e| panic!("no WebDriver session with headless Chromium: {e}"));
        driver.session = client.session_id().await.ok().flatten();
        Browser {
            client,
            base: app.address.clone(),
            driver,
            _dir: dir,
        }
    }

    async fn goto(&self, path: &str) {
        self.client
            .goto(&format!("{}{path}", self.base))
            .await
            .unwrap_or_else(|e| panic!("GET {path} in the browser: {e}"));
    }

    async fn path(&self) -> String {
        self.client
            .current_url()
            .await
            .map(|url| url.path().to_owned())
            .unwrap_or_default()
    }

    /// Runs `script` (a function body; `arguments` are `args`) in the page.
    async fn js(&self, script: &str, args: Vec<Value>) -> Value {
        self.client
            .execute(script, args)
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// Grants the current page's origin a permission (the W3C Permissions
    /// extension command, which chromedriver implements).
    fn grant_permission(&self, name: &str) {
        let session = self.driver.session.as_deref().expect("a WebDriver session");
        let body = json!({ "descriptor": { "name": name }, "state": "granted" }).to_string();
        let path = format!("/session/{session}/permissions");
        let response = http(self.driver.port, "POST", &path, &body, WAIT)
            .unwrap_or_else(|| panic!("chromedriver did not answer POST {path}"));
        assert!(
            !response.contains("\"error\""),
            "granting {name}: {response}"
        );
    }

    /// The text on the clipboard (needs the `clipboard-read` permission).
    async fn clipboard(&self) -> String {
        let text = self
            .client
            .execute_async(
                "const done = arguments[arguments.length - 1]; \
                 navigator.clipboard.readText().then(done, (e) => done({ error: String(e) }));",
                vec![],
            )
            .await
            .expect("read the clipboard");
        match text {
            Value::String(text) => text,
            other => panic!("cannot read the clipboard: {other}"),
        }
    }

    /// Polls `probe` until it yields a value; fails the test after [`WAIT`],
    /// showing where the browser is and what the page says.
    async fn eventually<T>(
        &self,
        what: &str,
        mut probe: impl AsyncFnMut() -> Result<Option<T>, CmdError>,
    ) -> T {
        let deadline = Instant::now() + WAIT;
        let mut last_error = None;
        loop {
            match probe().await {
                Ok(Some(value)) => return value,
                Ok(None) => {}
                Err(e) => last_error = Some(e),
            }
            if Instant::now() > deadline {
                let url = self.client.current_url().await.map(|u| u.to_string());
                let text = match self.client.find(Locator::Css("body")).await {
                    Ok(body) => body.text().await.unwrap_or_default(),
                    Err(e) => format!("({e})"),
                };
                panic!(
                    "timed out after {WAIT:?} waiting for {what}\n  last error: {last_error:?}\n  \
                     at: {url:?}\n  page text:\n{text}"
                );
            }
            actix_web::rt::time::sleep(POLL).await;
        }
    }

    /// The first element matching `css`, once there is one.
    async fn find(&self, css: &str) -> fantoccini::elements::Element {
        self.eventually(&format!("an element `{css}`"), async || {
            match self.client.find(Locator::Css(css)).await {
                Ok(element) => Ok(Some(element)),
                Err(e) if e.is_no_such_element() => Ok(None),
                Err(e) => Err(e),
            }
        })
        .await
    }

    /// Clicks the first element matching `css`, once there is one; `what`
    /// names it in a failure.
    async fn click(&self, css: &str, what: &str) {
        self.find(css)
            .await
            .click()
            .await
            .unwrap_or_else(|e| panic!("click {what}: {e}"));
    }

    /// Clicks Cancel in the confirmation dialog and waits until it closes.
    async fn cancel_confirmation(&self) {
        self.click("#confirm-dialog a[data-dialog-close]", "Cancel")
            .await;
        self.until_js(
            "the confirmation to close",
            "return !document.getElementById('confirm-dialog').open;",
        )
        .await;
    }

    /// The heading of the open confirmation dialog.
    async fn confirm_heading(&self) -> String {
        self.find("#confirm-dialog [data-confirm-content] h1")
            .await
            .text()
            .await
            .expect("the dialog's heading")
    }

    /// Whether any element matches `css` right now.
    async fn exists(&self, css: &str) -> bool {
        !self
            .client
            .find_all(Locator::Css(css))
            .await
            .expect("find_all")
            .is_empty()
    }

    /// Waits until `script` returns `true`.
    async fn until_js(&self, what: &str, script: &str) {
        self.eventually(what, async || {
            Ok((self.client.execute(script, vec![]).await? == Value::Bool(true)).then_some(()))
        })
        .await;
    }

    /// Whether `<dialog id=…>` is open as a modal dialog.
    async fn dialog_is_modal(&self, id: &str) -> bool {
        self.js(
            "const d = document.getElementById(arguments[0]); \
             return !!d && d.open && d.matches(':modal');",
            vec![json!(id)],
        )
        .await
            == Value::Bool(true)
    }

    async fn wait_dialog_open(&self, id: &str) {
        self.eventually(
            &format!("<dialog id={id}> to open as a modal"),
            async || Ok(self.dialog_is_modal(id).await.then_some(())),
        )
        .await;
    }

    /// Marks the current document, so that a later [`Self::wait_new_page`] can
    /// tell a navigation (even to the same URL) from no navigation.
    async fn mark_page(&self) {
        self.js("window.__tesseraOldPage = true;", vec![]).await;
    }

    /// Waits until the marked document was replaced by a loaded one.
    async fn wait_new_page(&self, what: &str) {
        self.until_js(
            what,
            "return window.__tesseraOldPage === undefined && document.readyState === 'complete';",
        )
        .await;
    }

    /// The `data-token-id` of every row matching `css`, right now.
    async fn row_ids(&self, css: &str) -> HashSet<i64> {
        let mut ids = HashSet::new();
        for row in self
            .client
            .find_all(Locator::Css(css))
            .await
            .expect("find_all")
        {
            let id = row
                .attr("data-token-id")
                .await
                .expect("read data-token-id")
                .unwrap_or_else(|| panic!("a `{css}` row without data-token-id"));
            ids.insert(id.parse().expect("a numeric data-token-id"));
        }
        ids
    }

    /// The `<button>` inside `scope` whose text is `label`, once there is one.
    /// (Matched on `textContent`, so hidden buttons are found too.)
    async fn button(&self, scope: &str, label: &str) -> fantoccini::elements::Element {
        let css = format!("{scope} button");
        self.eventually(&format!("a button `{label}` in `{scope}`"), async || {
            for button in self.client.find_all(Locator::Css(&css)).await? {
                let text = button.prop("textContent").await?.unwrap_or_default();
                if text.trim() == label {
                    return Ok(Some(button));
                }
            }
            Ok(None)
        })
        .await
    }

    /// The body text of the current page.
    async fn body_text(&self) -> String {
        self.find("body").await.text().await.expect("the body text")
    }

    /// Waits until the inventory's selection is `expected` (see [`selection`]).
    async fn wait_selection(&self, what: &str, expected: Value) {
        self.eventually(what, async || {
            let state = self.client.execute(SELECTION_STATE, vec![]).await?;
            Ok((state == expected).then_some(()))
        })
        .await;
    }

    /// Signs in through the /login form.
    async fn sign_in(&self, username: &str) {
        self.goto("/login").await;
        self.find("input[name=username]")
            .await
            .send_keys(username)
            .await
            .expect("type the username");
        self.find("input[name=password]")
            .await
            .send_keys(PASSWORD)
            .await
            .expect("type the password");
        self.mark_page().await;
        self.find("form[action=\"/login\"] button[type=submit]")
            .await
            .click()
            .await
            .expect("click Sign in");
        self.wait_new_page("the page after sign-in").await;
        assert_ne!(self.path().await, "/login", "signed in");
        assert!(
            self.exists("form[action=\"/logout\"]").await,
            "the page shows Sign out"
        );
    }
}

/// The administrator's inventory: whether the header checkbox is ticked and
/// indeterminate, and how many of the page's `input[name=ids]` are ticked.
const SELECTION_STATE: &str = "const master = document.getElementById('select-all'); \
     const boxes = Array.from(document.querySelectorAll('input[name=ids]')); \
     return { checked: master.checked, indeterminate: master.indeterminate, \
              ticked: boxes.filter((box) => box.checked).length, boxes: boxes.length };";

/// What [`SELECTION_STATE`] returns for that state.
fn selection(checked: bool, indeterminate: bool, ticked: usize, boxes: usize) -> Value {
    json!({ "checked": checked, "indeterminate": indeterminate, "ticked": ticked, "boxes": boxes })
}

// ---------------------------------------------------------------------------
// The tests

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
        .click(
            "a[data-open-dialog=\"create-token-dialog\"]",
            "Create access token",
        )
        .await;
    browser.wait_dialog_open("create-token-dialog").await;
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
    browser.mark_page().await;
    browser
        .click("#create-token-dialog a[data-dialog-close]", "Done")
        .await;
    browser.wait_new_page("the list to reload").await;
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
    let revoke_link = format!("tr[data-token-id=\"{id}\"] a[data-confirm-dialog]");

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
        .click(
            "a[data-open-dialog=\"provision-client-dialog\"]",
            "Provision client",
        )
        .await;
    browser.wait_dialog_open("provision-client-dialog").await;
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
    browser.mark_page().await;
    browser
        .click("#provision-client-dialog a[data-dialog-close]", "Done")
        .await;
    browser.wait_new_page("the list to reload").await;
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
    assert_eq!(heading.trim(), "Revoke 3 tokens?");
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
        .button("#confirm-dialog form.confirm", "Revoke 3 tokens")
        .await;
    browser.mark_page().await;
    confirm.click().await.expect("click Revoke 3 tokens");
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
    assert_eq!(heading.trim(), format!("Revoke {PAGE_SIZE} tokens?"));
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
    assert_eq!(browser.row_ids("tr[data-token-id]").await.len(), 3);
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

    let browser = Browser::launch(&binaries, &app).await;
    browser.sign_in("root").await;
    browser.goto("/admin/tokens?tab=api").await;

    // "Create API token" opens its form in a dialog instead of navigating.
    browser
        .click(
            "a[data-dialog-page=\"create-api-token-dialog\"]",
            "Create API token",
        )
        .await;
    browser.wait_dialog_open("create-api-token-dialog").await;
    assert_eq!(browser.path().await, "/admin/tokens", "no navigation");
    // Typed before the user is chosen, and kept when the form reloads for them.
    browser
        .find("#create-api-token-dialog #api-name")
        .await
        .send_keys("ERP sync")
        .await
        .expect("type the name");
    assert!(
        !browser
            .find("#create-api-token-dialog form.user-pick button[type=submit]")
            .await
            .is_displayed()
            .await
            .unwrap(),
        "the no-JS button to load the departments is hidden"
    );
    browser
        .find(&format!(
            "#create-api-token-dialog #pick-user option[value=\"{}\"]",
            ada.id
        ))
        .await
        .click()
        .await
        .expect("choose ada");
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
    browser.mark_page().await;
    browser
        .click("#create-api-token-dialog a[data-dialog-close]", "Done")
        .await;
    browser.wait_new_page("the list to reload").await;
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
    assert_eq!(heading.trim(), "Revoke 2 tokens?");
    let confirm = browser
        .button("#confirm-dialog form.confirm", "Revoke 2 tokens")
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
    browser.mark_page().await;
    browser
        .button("#bulk-form", "Delete selected")
        .await
        .click()
        .await
        .expect("click Delete selected with nothing ticked");
    browser.wait_new_page("the list with the message").await;
    let message = browser.find("#bulk-error").await.text().await.unwrap();
    assert!(message.contains("Nothing was selected"), "{message}");
    assert!(!browser.dialog_is_modal("confirm-dialog").await);
}
