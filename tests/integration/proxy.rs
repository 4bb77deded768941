//! Tessera behind a real nginx that terminates TLS, as issue 12's production
//! deployment (README "Deploy behind a reverse proxy"): each test makes a
//! self-signed certificate for 127.0.0.1 with `openssl`, starts the real
//! `tessera serve` (two instances on one database on PostgreSQL, one on SQLite)
//! with `--trusted-proxies 127.0.0.1 --public-url https://127.0.0.1:<port>
//! --cookie-secure true`, and in front of it an nginx configured as a careful
//! operator would (`Host $host`, `X-Forwarded-For $proxy_add_x_forwarded_for`,
//! `X-Forwarded-Proto $scheme`, an `upstream` of the instances). Clients speak
//! HTTPS to nginx from 127.0.0.2, 127.0.0.3, … (all of 127/8 is local on
//! Linux), so that the instances see one peer, nginx's 127.0.0.1, and must tell
//! the clients apart by what nginx forwards, and by nothing an untrusted peer
//! forwards.
//!
//! They need the Debian packages `nginx` and `openssl`; without them each test
//! prints `SKIPPED proxy test …` and passes, unless `TESSERA_PROXY_TESTS=1` is
//! set (as CI does), which turns a missing nginx or openssl into a failure.
//! `TESSERA_NGINX` overrides where nginx is looked for (otherwise `nginx` on
//! `PATH`, then `/usr/sbin/nginx`).

use crate::common;
use crate::process;

use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{PASSWORD, TestDb, Visitor, create_user_on, csrf_in, insert_token_on, text_of};
use diesel::prelude::*;
use process::Server;
use reqwest::StatusCode;
use reqwest::header::{self, HeaderMap};

/// Where the instances see every request through the proxy come from.
const PROXY: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1));
/// A client that guesses passwords and tokens.
const GUESSER: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
/// The owner of the account being guessed at, at another address.
const OWNER: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3));
/// The administrator's browser.
const ADMIN: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 5));

/// Failed API authentications per address and minute, per instance.
const API_FAILURES_PER_MINUTE: usize = 5;
/// Failed sign-ins for one username from one address before it gets 429.
const SIGN_IN_FAILURES: usize = 5;

/// How long nginx may take to listen.
const NGINX_START: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------
// Finding nginx and openssl, or skipping

/// Whether a missing nginx or openssl fails the test instead of skipping it.
fn proxy_required() -> bool {
    std::env::var("TESSERA_PROXY_TESTS").is_ok_and(|v| matches!(v.trim(), "1" | "true" | "yes"))
}

struct Tools {
    nginx: PathBuf,
    openssl: PathBuf,
}

/// nginx and openssl, or `None` after saying loudly that `test` is skipped.
/// Panics instead when `TESSERA_PROXY_TESTS=1`.
fn tools_or_skip(test: &str) -> Option<Tools> {
    // Debian puts nginx in /usr/sbin, which is not on a normal user's PATH.
    let nginx = match std::env::var_os("TESSERA_NGINX").filter(|v| !v.is_empty()) {
        Some(path) => Some(PathBuf::from(path)).filter(|p| common::is_executable(p)),
        None => find_binary("nginx", &["/usr/sbin", "/sbin"]),
    };
    let openssl = find_binary("openssl", &["/usr/bin"]);
    if let (Some(nginx), Some(openssl)) = (nginx.clone(), openssl.clone()) {
        return Some(Tools { nginx, openssl });
    }
    let missing = match (nginx, openssl) {
        (None, None) => "nginx and openssl",
        (None, Some(_)) => "nginx",
        _ => "openssl",
    };
    assert!(
        !proxy_required(),
        "proxy test {test}: {missing} not found (looked at $TESSERA_NGINX, PATH, /usr/sbin), \
         and TESSERA_PROXY_TESTS=1 requires them; install the Debian packages nginx openssl"
    );
    // Straight to the process's stderr: the test harness captures `eprintln!` of
    // passing tests, and this line must be seen.
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED proxy test {test}: {missing} not found; install Debian packages nginx openssl \
         to run it (TESSERA_PROXY_TESTS=1 makes this a failure)"
    );
    None
}

/// The first `name` on `PATH`, then in `fallback` folders.
fn find_binary(name: &str, fallback: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(fallback.iter().map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|path| common::is_executable(path))
}

// ---------------------------------------------------------------------------
// The certificate and nginx

/// A self-signed certificate for `IP:127.0.0.1` (not a CA: a leaf that the
/// clients trust as it is) and its key, as `cert.pem` and `key.pem` in `dir`;
/// returns the certificate's PEM.
fn make_certificate(openssl: &Path, dir: &Path) -> Vec<u8> {
    let config = dir.join("openssl.cnf");
    std::fs::write(
        &config,
        "[req]\n\
         distinguished_name = dn\n\
         x509_extensions = leaf\n\
         prompt = no\n\
         [dn]\n\
         CN = 127.0.0.1\n\
         [leaf]\n\
         subjectAltName = IP:127.0.0.1\n\
         basicConstraints = critical, CA:FALSE\n\
         keyUsage = critical, digitalSignature\n\
         extendedKeyUsage = serverAuth\n",
    )
    .unwrap();
    let out = Command::new(openssl)
        .args(["req", "-x509", "-config"])
        .arg(&config)
        .args([
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "2",
            "-keyout",
        ])
        .arg(dir.join("key.pem"))
        .arg("-out")
        .arg(dir.join("cert.pem"))
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl req: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read(dir.join("cert.pem")).unwrap()
}

/// A running nginx (one process: `master_process off`), all its files in its own
/// temporary folder. Dropping it kills it; during a panic it also prints its
/// error log.
struct Nginx {
    child: Child,
    dir: tempfile::TempDir,
    port: u16,
}

impl Nginx {
    /// Starts nginx on `listener`'s port (closed just before, so that nothing
    /// else takes the port meanwhile) with TLS from `dir`'s `cert.pem` and
    /// `key.pem`, in front of `upstreams`; returns once it accepts connections.
    fn start(
        binary: &Path,
        dir: tempfile::TempDir,
        listener: TcpListener,
        upstreams: &[u16],
    ) -> Nginx {
        let port = listener.local_addr().unwrap().port();
        let root = dir.path().display().to_string();
        // Run as root (CI), nginx would hand its temporary folders to `nobody`;
        // with one process there is no worker to switch user anyway.
        let as_root = {
            use std::os::unix::fs::MetadataExt as _;
            dir.path().metadata().unwrap().uid() == 0
        };
        let user = if as_root { "user root;\n" } else { "" };
        let mut servers = String::new();
        for port in upstreams {
            use std::fmt::Write as _;
            let _ = writeln!(servers, "        server 127.0.0.1:{port};");
        }
        let config = format!(
            r#"daemon off;
master_process off;
{user}pid {root}/nginx.pid;
error_log {root}/error.log info;
events {{ worker_connections 256; }}
http {{
    log_format proxied '$remote_addr host=$host upstream=$upstream_addr $status "$request"';
    access_log {root}/access.log proxied;
    client_body_temp_path {root}/client_body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;

    upstream tessera {{
{servers}    }}

    server {{
        listen 127.0.0.1:{port} ssl default_server;
        server_name _;
        ssl_certificate {root}/cert.pem;
        ssl_certificate_key {root}/key.pem;
        location / {{
            proxy_pass http://tessera;
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
        }}
    }}
}}
"#
        );
        let conf = dir.path().join("nginx.conf");
        std::fs::write(&conf, config).unwrap();
        drop(listener);
        let child = Command::new(binary)
            .arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(&conf)
            .arg("-e")
            .arg(dir.path().join("error.log"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nginx");
        let mut nginx = Nginx { child, dir, port };
        let deadline = Instant::now() + NGINX_START;
        loop {
            if let Some(status) = nginx.child.try_wait().unwrap() {
                panic!("nginx ended ({status}):\n{}", nginx.error_log());
            }
            if TcpStream::connect((PROXY, port)).is_ok() {
                return nginx;
            }
            assert!(
                Instant::now() < deadline,
                "nginx did not listen within {NGINX_START:?}:\n{}",
                nginx.error_log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }

    /// The access log: `client host=… upstream=… status "request"` a line.
    fn access_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("access.log")).unwrap_or_default()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!(
                "--- nginx error log ---\n{}\n--- nginx access log ---\n{}",
                self.error_log(),
                self.access_log()
            );
        }
    }
}

// ---------------------------------------------------------------------------
// The deployment

/// nginx in front of Tessera on one database, with `root` an administrator
/// ([`PASSWORD`]). Fields drop in order: nginx, the instances, the database.
struct Deployment {
    nginx: Nginx,
    servers: Vec<Server>,
    db: TestDb,
    certificate: Vec<u8>,
}

/// Deploys, or `None` when nginx or openssl is missing (see [`tools_or_skip`]).
fn deploy(test: &str) -> Option<Deployment> {
    let tools = tools_or_skip(test)?;
    let dir = tempfile::tempdir().expect("temp dir");
    let certificate = make_certificate(&tools.openssl, dir.path());
    // nginx's port, held until nginx starts: the instances must know their public
    // URL before nginx knows their ports.
    let listener = TcpListener::bind((PROXY, 0)).expect("a free port");
    let public_url = format!(
        "https://127.0.0.1:{}",
        listener.local_addr().unwrap().port()
    );
    let db = common::fresh_database();
    let failures = API_FAILURES_PER_MINUTE.to_string();
    // process::SMALL_SERVER, but with Secure cookies.
    let args = [
        "--log-format",
        "json",
        "--workers",
        "2",
        "--db-pool-size",
        "4",
        "--cookie-secure",
        "true",
        "--public-url",
        &public_url,
        "--trusted-proxies",
        "127.0.0.1",
        "--api-failures-per-minute",
        &failures,
    ];
    // On PostgreSQL two instances, started together as a fresh deployment would;
    // SQLite is for one.
    let instances = if common::on_postgres() { 2 } else { 1 };
    let starting: Vec<_> = (0..instances)
        .map(|i| Server::spawn(&db.url_for(&format!("proxied{i}")), &args, &[]))
        .collect();
    let servers: Vec<Server> = starting
        .into_iter()
        .map(super::process::Starting::listening)
        .collect();
    process::create_admin(&db.url, "root", PASSWORD, &[]);
    let ports: Vec<u16> = servers.iter().map(|s| s.port).collect();
    let nginx = Nginx::start(&tools.nginx, dir, listener, &ports);
    Some(Deployment {
        nginx,
        servers,
        db,
        certificate,
    })
}

impl Deployment {
    /// `https://127.0.0.1:<nginx's port>`, the public URL.
    fn public_url(&self) -> String {
        format!("https://127.0.0.1:{}", self.nginx.port)
    }

    /// An HTTPS client of nginx connecting from `from`, trusting only the
    /// test's certificate, not following redirects; with a cookie store if
    /// `cookies`.
    fn client(&self, from: IpAddr, cookies: bool) -> reqwest::Client {
        reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(&self.certificate).unwrap())
            .https_only(true)
            .local_address(from)
            .cookie_store(cookies)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .expect("an HTTPS client")
    }

    /// A browser-like visitor through nginx from `from`.
    fn visitor(&self, from: IpAddr) -> Visitor {
        Visitor {
            address: self.public_url(),
            client: self.client(from, true),
        }
    }

    /// Every audit row as (action, outcome, ip, target label), oldest first.
    fn audit(&self) -> Vec<AuditRow> {
        use tessera::db::schema::audit_events::dsl as a;
        let mut conn = self.db.connect();
        a::audit_events
            .order(a::id.asc())
            .select((a::action, a::outcome, a::ip, a::target_label))
            .load::<(String, String, Option<String>, Option<String>)>(&mut conn)
            .expect("audit rows")
            .into_iter()
            .map(|(action, outcome, ip, target)| AuditRow {
                action,
                outcome,
                ip,
                target,
            })
            .collect()
    }

    /// Audit rows about the account `username`.
    fn audit_of(&self, username: &str) -> Vec<AuditRow> {
        self.audit()
            .into_iter()
            .filter(|row| row.target.as_deref() == Some(username))
            .collect()
    }

    /// Whether every row holds: no request that came through nginx was taken
    /// for nginx's own.
    fn assert_no_audit_row_from_the_proxy(&self) {
        let audit = self.audit();
        let from_proxy: Vec<_> = audit
            .iter()
            .filter(|row| row.ip.as_deref() == Some(&PROXY.to_string()))
            .collect();
        assert!(
            from_proxy.is_empty(),
            "audited with the proxy's address: {from_proxy:#?}"
        );
    }
}

#[derive(Debug)]
struct AuditRow {
    action: String,
    outcome: String,
    ip: Option<String>,
    target: Option<String>,
}

/// The values of a header, as text.
fn header_values<'h>(headers: &'h HeaderMap, name: &str) -> Vec<&'h str> {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect()
}

/// Asserts that an answer carries HSTS for at least a year.
fn assert_hsts(headers: &HeaderMap, what: &str) {
    let hsts = header_values(headers, "strict-transport-security");
    let max_age = hsts
        .first()
        .and_then(|v| {
            v.split(';')
                .find_map(|part| part.trim().strip_prefix("max-age="))
        })
        .and_then(|age| age.trim().parse::<u64>().ok());
    assert!(
        max_age.is_some_and(|age| age >= 31_536_000),
        "{what}: Strict-Transport-Security {hsts:?}"
    );
}

/// Asserts that an answer is `Cache-Control: no-store`.
fn assert_no_store(headers: &HeaderMap, what: &str) {
    let cache = header_values(headers, "cache-control");
    assert!(
        cache.iter().any(|v| v.contains("no-store")),
        "{what}: Cache-Control {cache:?}"
    );
}

/// A well-formed token that no one was ever issued.
fn unknown_token() -> String {
    use tessera::domain::token::{PlainToken, TokenKind};
    PlainToken::generate("tsr", TokenKind::Personal)
        .expose()
        .to_owned()
}

// ---------------------------------------------------------------------------
// The tests

/// Signed in through nginx over HTTPS, the session cookie is
/// `__Host-tessera_session` (Secure, `Path=/`, no Domain), every answer carries
/// HSTS, a signed-in page is `no-store`, and the session works on every instance.
#[actix_web::test]
async fn a_sign_in_through_the_proxy_is_a_secure_session_on_every_instance() {
    let Some(deployment) =
        deploy("a_sign_in_through_the_proxy_is_a_secure_session_on_every_instance")
    else {
        return;
    };
    let started = Instant::now();
    let browser = deployment.visitor(ADMIN);

    let res = browser.get("/login").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_hsts(res.headers(), "GET /login");
    let csrf = csrf_in(&res.text().await.unwrap());
    let res = browser.post_login("root", &csrf).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "signed in");
    assert_ne!(common::location(res.headers()), "/login");
    assert_hsts(res.headers(), "POST /login");
    let cookies = header_values(res.headers(), "set-cookie");
    let session = cookies
        .iter()
        .find(|c| c.starts_with("__Host-tessera_session="))
        .unwrap_or_else(|| panic!("a __Host- session cookie: {cookies:?}"));
    let attributes: Vec<String> = session
        .split(';')
        .skip(1)
        .map(|a| a.trim().to_ascii_lowercase())
        .collect();
    for wanted in ["secure", "path=/", "httponly"] {
        assert!(
            attributes.iter().any(|a| a == wanted),
            "{wanted} in {session}"
        );
    }
    assert!(
        !attributes.iter().any(|a| a.starts_with("domain")),
        "no Domain in {session}"
    );

    // nginx takes turns: every instance answers some of these with the session.
    let rounds = 3 * deployment.servers.len();
    for _ in 0..rounds {
        let res = browser.get("/profile").await;
        assert_eq!(res.status(), StatusCode::OK, "the session works");
        assert_hsts(res.headers(), "GET /profile");
        assert_no_store(res.headers(), "GET /profile");
        let page = res.text().await.unwrap();
        assert!(page.contains("<dd>root</dd>"), "signed in as root");
    }
    for server in &deployment.servers {
        let upstream = format!("upstream=127.0.0.1:{} 200 \"GET /profile ", server.port);
        assert!(
            common::eventually(|| deployment.nginx.access_log().contains(&upstream)).await,
            "instance {} answered /profile: {}",
            server.address,
            deployment.nginx.access_log()
        );
    }

    let audit = deployment.audit_of("root");
    let sign_in = audit
        .iter()
        .find(|row| row.action == "login")
        .expect("the sign-in is audited");
    assert_eq!(sign_in.ip.as_deref(), Some("127.0.0.5"), "{sign_in:?}");
    deployment.assert_no_audit_row_from_the_proxy();
    eprintln!(
        "secure session through the proxy in {:?}",
        started.elapsed()
    );
}

/// Behind the proxy each client is throttled by its own address, whatever it
/// claims in `X-Forwarded-For` or `Forwarded`: one that keeps guessing a
/// password gets 429 while the account's owner, at another address, still signs
/// in; the failures are audited with the guesser's address. The same for bearer
/// tokens: a guesser gets 429 while a valid token from another address still
/// answers, on every instance.
#[actix_web::test]
async fn clients_behind_the_proxy_are_throttled_by_their_own_address() {
    let Some(deployment) = deploy("clients_behind_the_proxy_are_throttled_by_their_own_address")
    else {
        return;
    };
    let started = Instant::now();
    let (xavier, token) = {
        let mut conn = deployment.db.connect();
        let xavier = create_user_on(&mut conn, "xavier", false);
        let token = insert_token_on(&mut conn, xavier.id, "personal", "ci", None).token;
        (xavier, token)
    };

    // Sign-in: the guesser is throttled within the limit (and one more), though
    // it claims another address each time: nginx appends the real one to
    // `X-Forwarded-For`, and passes `Forwarded` on as it came.
    let guesser = deployment.visitor(GUESSER);
    let csrf = csrf_in(&guesser.get_html("/login").await);
    let mut throttled = None;
    for attempt in 1..=SIGN_IN_FAILURES + 1 {
        let claimed = format!("203.0.113.{attempt}");
        let res = guesser
            .client
            .post(guesser.url("/login"))
            .header("X-Forwarded-For", &claimed)
            .header("Forwarded", format!("for={claimed}"))
            .form(&[
                ("username", xavier.username.as_str()),
                ("password", "not the password"),
                ("csrf_token", &csrf),
            ])
            .send()
            .await
            .unwrap();
        if res.status() == StatusCode::TOO_MANY_REQUESTS {
            throttled = Some(res);
            break;
        }
        assert_eq!(
            res.status(),
            StatusCode::OK,
            "failure {attempt} re-renders /login"
        );
    }
    let throttled = throttled.expect("the guesser gets 429 after five failures");
    let retry_after = header_values(throttled.headers(), "retry-after");
    assert!(
        retry_after
            .first()
            .and_then(|v| v.parse::<u64>().ok())
            .is_some_and(|secs| secs > 0),
        "Retry-After: {retry_after:?}"
    );
    assert!(
        text_of(&throttled.text().await.unwrap(), "form[action=\"/login\"]").is_some(),
        "the sign-in page again"
    );
    // ... while the owner, at an address with no failures, signs in.
    let owner = deployment.visitor(OWNER);
    let res = owner.login(&xavier.username, PASSWORD).await;
    assert_eq!(
        res.status(),
        StatusCode::SEE_OTHER,
        "the owner is not locked out by the guesser"
    );
    assert_ne!(common::location(res.headers()), "/login");
    assert_eq!(owner.get("/profile").await.status(), StatusCode::OK);

    let audit = deployment.audit_of(&xavier.username);
    let failures: Vec<_> = audit
        .iter()
        .filter(|row| row.action == "login_failure")
        .collect();
    assert!(failures.len() >= SIGN_IN_FAILURES, "{audit:#?}");
    for failure in &failures {
        assert_eq!(failure.ip.as_deref(), Some("127.0.0.2"), "{failure:?}");
    }
    let sign_in: Vec<_> = audit.iter().filter(|row| row.action == "login").collect();
    assert_eq!(sign_in.len(), 1, "{audit:#?}");
    assert_eq!(sign_in[0].ip.as_deref(), Some("127.0.0.3"));
    assert_eq!(sign_in[0].outcome, "success");

    // Bearer tokens: each instance counts its own failures, and nginx takes
    // turns, so the guesser is refused within the limit times the instances.
    let instances = deployment.servers.len();
    let url = format!("{}/api/v1/me", deployment.public_url());
    let guessing = deployment.client(GUESSER, false);
    let mut failed = 0;
    loop {
        let claimed = format!("198.51.100.{failed}");
        let res = guessing
            .get(&url)
            .bearer_auth(unknown_token())
            .header("X-Forwarded-For", &claimed)
            .header("Forwarded", format!("for={claimed}"))
            .send()
            .await
            .unwrap();
        if res.status() == StatusCode::TOO_MANY_REQUESTS {
            break;
        }
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        failed += 1;
        assert!(
            failed <= API_FAILURES_PER_MINUTE * instances,
            "still no 429 after {failed} bad tokens"
        );
    }
    assert!(
        failed >= API_FAILURES_PER_MINUTE,
        "429 after {failed} bad tokens"
    );
    // The valid token from another address answers on every instance.
    let using = deployment.client(OWNER, false);
    for round in 0..2 * instances {
        let res = using.get(&url).bearer_auth(&token).send().await.unwrap();
        assert_eq!(
            res.status(),
            StatusCode::OK,
            "request {round} of the owner's valid token, after the guesser's {failed} bad ones"
        );
    }
    deployment.assert_no_audit_row_from_the_proxy();
    eprintln!("throttling through the proxy in {:?}", started.elapsed());
}

/// A client that talks to an instance directly, not through the proxy, cannot
/// choose its address with `X-Forwarded-For` or `Forwarded`: its failures are
/// counted and audited against its own address however the headers vary.
#[actix_web::test]
async fn forwarded_headers_from_an_untrusted_peer_change_nothing() {
    let Some(deployment) = deploy("forwarded_headers_from_an_untrusted_peer_change_nothing") else {
        return;
    };
    let started = Instant::now();
    let yolanda = create_user_on(&mut deployment.db.connect(), "yolanda", false);
    let server = &deployment.servers[0];
    // Plain HTTP straight to the instance: a cookie store would not send the
    // Secure cookie back, so the cookie goes by hand.
    let direct = reqwest::Client::builder()
        .local_address(GUESSER)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let res = direct.get(server.url("/login")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let cookie = header_values(res.headers(), "set-cookie")
        .iter()
        .find(|c| c.starts_with("__Host-tessera_session="))
        .and_then(|c| c.split(';').next())
        .expect("a session cookie for the sign-in form")
        .to_owned();
    let csrf = csrf_in(&res.text().await.unwrap());

    // Each attempt claims another client, or the proxy itself.
    let forged: [&[(&str, &str)]; SIGN_IN_FAILURES + 1] = [
        &[("X-Forwarded-For", "203.0.113.1")],
        &[("X-Forwarded-For", "203.0.113.2, 127.0.0.1")],
        &[("Forwarded", "for=203.0.113.3;proto=https")],
        &[("X-Forwarded-For", "127.0.0.1"), ("X-Real-IP", "127.0.0.1")],
        &[
            ("Forwarded", "for=\"[2001:db8::5]\", for=127.0.0.1"),
            ("X-Forwarded-For", "203.0.113.5"),
        ],
        &[
            ("X-Forwarded-For", "203.0.113.6"),
            ("X-Forwarded-Proto", "https"),
        ],
    ];
    for (attempt, headers) in forged.iter().enumerate() {
        let mut request = direct
            .post(server.url("/login"))
            .header(header::COOKIE, &cookie)
            .form(&[
                ("username", "yolanda"),
                ("password", "not the password"),
                ("csrf_token", &csrf),
            ]);
        for (name, value) in *headers {
            request = request.header(*name, *value);
        }
        let status = request.send().await.unwrap().status();
        let expected = if attempt < SIGN_IN_FAILURES {
            StatusCode::OK
        } else {
            StatusCode::TOO_MANY_REQUESTS
        };
        assert_eq!(status, expected, "attempt {} with {headers:?}", attempt + 1);
    }
    let audit = deployment.audit_of(&yolanda.username);
    assert!(audit.len() >= SIGN_IN_FAILURES, "{audit:#?}");
    for row in &audit {
        assert_eq!(row.action, "login_failure", "{row:?}");
        assert_eq!(row.ip.as_deref(), Some("127.0.0.2"), "{row:?}");
    }

    // Bearer tokens too: the forged addresses all count as the peer's.
    for attempt in 0..=API_FAILURES_PER_MINUTE {
        let status = direct
            .get(server.url("/api/v1/me"))
            .bearer_auth(unknown_token())
            .header("X-Forwarded-For", format!("198.51.100.{attempt}"))
            .header("Forwarded", format!("for=198.51.100.{attempt}"))
            .send()
            .await
            .unwrap()
            .status();
        let expected = if attempt < API_FAILURES_PER_MINUTE {
            StatusCode::UNAUTHORIZED
        } else {
            StatusCode::TOO_MANY_REQUESTS
        };
        assert_eq!(status, expected, "bad token {}", attempt + 1);
    }
    eprintln!("forged forwarding headers in {:?}", started.elapsed());
}

/// The set-password link and the `curl` line start with the public URL, the
/// address of nginx with its port, whatever `Host`, `X-Forwarded-Host` or
/// `Forwarded` the client sends (nginx passes its `$host` on, without the port);
/// and both work through nginx.
#[actix_web::test]
async fn links_through_the_proxy_use_the_public_url_whatever_the_client_sends() {
    let Some(deployment) =
        deploy("links_through_the_proxy_use_the_public_url_whatever_the_client_sends")
    else {
        return;
    };
    let started = Instant::now();
    let public_url = deployment.public_url();
    let browser = deployment.visitor(ADMIN);
    browser.login_ok("root").await;
    let forgeries: [(&str, &[(&str, &str)]); 3] = [
        ("as nginx forwards it", &[]),
        (
            "forged",
            &[
                ("Host", "evil.example"),
                ("X-Forwarded-Host", "evil.example"),
                ("X-Forwarded-Proto", "http"),
                ("Forwarded", "host=evil.example;proto=http"),
            ],
        ),
        (
            "forged with a port",
            &[
                ("Host", "evil.example:8443"),
                ("X-Forwarded-Host", "evil.example:8443"),
                ("X-Forwarded-Port", "8443"),
            ],
        ),
    ];
    for (i, (what, headers)) in forgeries.iter().enumerate() {
        let forged = |mut request: reqwest::RequestBuilder| {
            for (name, value) in *headers {
                request = request.header(*name, *value);
            }
            request
        };
        let (user, api) = {
            let mut conn = deployment.db.connect();
            let user = create_user_on(&mut conn, &format!("member{i}"), false);
            let department =
                tessera::db::departments::create(&mut conn, &format!("Dept {i}"), "").unwrap();
            let user_type = tessera::db::user_types::create(
                &mut conn,
                &format!("Integrator {i}"),
                "",
                "devices:read",
            )
            .unwrap();
            tessera::db::memberships::add(&mut conn, user.id, department, user_type).unwrap();
            let api = insert_token_on(
                &mut conn,
                user.id,
                "api",
                "ERP",
                Some((department, user_type)),
            );
            (user, api)
        };

        let page = forged(
            browser
                .client
                .get(browser.url(&format!("/admin/users/{}", user.id))),
        )
        .send()
        .await
        .unwrap();
        assert_eq!(page.status(), StatusCode::OK, "{what}");
        let csrf = csrf_in(&page.text().await.unwrap());
        let res = forged(
            browser
                .client
                .post(browser.url(&format!("/admin/users/{}/password-link", user.id))),
        )
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{what}");
        let shown = res.text().await.unwrap();
        let link = text_of(&shown, "#password-link").expect("a set-password link");
        assert!(
            link.starts_with(&format!("{public_url}/set-password?code=")),
            "{what}: {link}"
        );

        let res = forged(
            browser
                .client
                .get(browser.url(&format!("/admin/tokens/{}", api.id))),
        )
        .send()
        .await
        .unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{what}");
        let detail = res.text().await.unwrap();
        assert!(
            detail.contains("curl -H") && detail.contains(&format!("{public_url}/api/v1/me")),
            "{what}: the curl line"
        );
        for page in [&shown, &detail] {
            assert!(!page.contains("evil.example"), "{what}");
        }

        // Both work as shown, through nginx.
        let stranger = deployment.client(OWNER, true);
        let res = stranger.get(&link).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{what}: the link opens");
        let res = stranger
            .get(format!("{public_url}/api/v1/me"))
            .bearer_auth(&api.token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{what}: the curl line works");
    }
    // The forged Host did reach Tessera: nginx routed it and passed it on.
    assert!(
        common::eventually(|| deployment.nginx.access_log().contains("host=evil.example ")).await,
        "{}",
        deployment.nginx.access_log()
    );
    deployment.assert_no_audit_row_from_the_proxy();
    eprintln!("links through the proxy in {:?}", started.elapsed());
}
