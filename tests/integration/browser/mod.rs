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
        Browser::launch_at(binaries, &app.address).await
    }

    /// A browser for the server at `base` (say, a `tessera serve` process).
    async fn launch_at(binaries: &BrowserBinaries, base: &str) -> Browser {
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
            base: base.to_owned(),
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

    /// Clicks the link that opens the dialog `id` (`data-open-dialog` or
    /// `data-dialog-page`), labelled `what`, and waits until it is open.
    async fn open_dialog(&self, id: &str, what: &str) {
        self.click(
            &format!("a[data-open-dialog=\"{id}\"], a[data-dialog-page=\"{id}\"]"),
            what,
        )
        .await;
        self.wait_dialog_open(id).await;
    }

    /// Clicks what `css` finds and waits for the page it leads to.
    async fn click_to_new_page(&self, css: &str, what: &str) {
        self.mark_page().await;
        self.click(css, what).await;
        self.wait_new_page(&format!("the page after {what}")).await;
    }

    /// Presses the button labelled `label` in `scope` and waits for the page
    /// it leads to.
    async fn press_to_new_page(&self, scope: &str, label: &str) {
        self.mark_page().await;
        self.button(scope, label)
            .await
            .click()
            .await
            .unwrap_or_else(|e| panic!("click {label}: {e}"));
        self.wait_new_page(&format!("the page after {label}")).await;
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

    /// Steps up through `/sudo` (the password once more), which comes back to `/`.
    async fn step_up(&self) {
        self.goto("/sudo?next=%2F").await;
        self.find("input[name=password]")
            .await
            .send_keys(PASSWORD)
            .await
            .expect("type the password");
        self.click_to_new_page("form[action=\"/sudo\"] button[type=submit]", "Confirm")
            .await;
        assert_ne!(self.path().await, "/sudo", "stepped up");
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

mod acting_as_me;
mod expiry;
mod inventory;
mod pages;
mod passkeys;
mod secrets;
mod sso;
mod tokens;
