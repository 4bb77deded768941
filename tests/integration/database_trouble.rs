//! Issue #6, database trouble: with the database gone, /readyz says 503, the API
//! answers 503 and accepts no token (not even one it has just seen), pages show
//! the plain error page; when the database is back, everything works again
//! without a restart. On SQLite the database file is moved away and back; on
//! PostgreSQL a proxy between Tessera and the server cuts every connection and
//! refuses new ones, then lets them through again.

use crate::common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::{TestApp, on_postgres, spawn_app, spawn_app_with, text_of};
use reqwest::StatusCode;
use serde_json::Value;

/// Polls GET /readyz until it answers `expected` (for up to 15 s).
async fn wait_for_readiness(app: &TestApp, expected: StatusCode) {
    for _ in 0..150 {
        if app.get("/readyz").await.status() == expected {
            return;
        }
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("/readyz never answered {expected}");
}

/// What a signed-in user and an integration see while the database is gone.
async fn everything_refuses(app: &TestApp, token: &str) {
    assert_eq!(app.get("/healthz").await.status(), StatusCode::OK);
    for _ in 0..3 {
        let res = app.api_me(token).await;
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"], "temporarily_unavailable");
    }
    for path in ["/profile/tokens", "/profile", "/admin/tokens"] {
        let res = app.get(path).await;
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE, "{path}");
        assert!(res.headers().contains_key("content-security-policy"));
        let page = res.text().await.unwrap();
        assert_eq!(text_of(&page, "h1").as_deref(), Some("Service unavailable"));
        for leak in ["diesel", "sqlite", "postgres", "connection", "panicked"] {
            assert!(!page.to_lowercase().contains(leak), "{path} shows {leak}");
        }
    }
}

/// What works again once the database is back. The token is used last, so the
/// server remembers it when the database goes.
async fn everything_works(app: &TestApp, token: &str) {
    app.get_html("/profile/tokens").await;
    app.get_html("/admin/tokens").await;
    assert_eq!(app.api_me(token).await.status(), StatusCode::OK);
}

#[actix_web::test]
async fn sqlite_file_gone_then_back() {
    if on_postgres() {
        return; // the PostgreSQL variant below covers that run
    }
    let app = spawn_app().await;
    let root = app.create_user("root", true);
    let token = app.insert_token(root.id, "personal", "ci", None).token;
    let other = app.insert_token(root.id, "personal", "other", None);
    app.login_ok("root").await;
    // Seen once, so the server knows the token.
    everything_works(&app, &token).await;
    assert_eq!(app.api_me(&other.token).await.status(), StatusCode::OK);
    // Revoked behind the server's back with plain SQL: the database's triggers
    // move the validity epoch, so the server sees it at once.
    tessera::db::tokens::revoke(&mut app.pool.get().unwrap(), other.id, None).unwrap();
    assert_eq!(
        app.api_me(&other.token).await.status(),
        StatusCode::UNAUTHORIZED,
        "revoked with plain SQL"
    );
    // Changed so that the epoch does not show it, as a restored backup can be
    // (its epoch may be anything): the server still trusts what it remembers,
    // until an outage, after which it trusts nothing from before.
    let restored = app.insert_token(root.id, "personal", "restored", None);
    assert_eq!(app.api_me(&restored.token).await.status(), StatusCode::OK);
    {
        use diesel::connection::SimpleConnection as _;
        let mut conn = app.pool.get().unwrap();
        let trigger = "tokens_validity_epoch_update";
        let sql = common::text_scalar(
            &mut conn,
            &format!("SELECT sql FROM sqlite_master WHERE name = '{trigger}'"),
        );
        conn.batch_execute(&format!(
            "DROP TRIGGER {trigger}; \
             UPDATE tokens SET revoked_at = '2026-01-01 00:00:00' WHERE id = {}; {sql};",
            restored.id
        ))
        .unwrap();
    }
    assert_eq!(
        app.api_me(&restored.token).await.status(),
        StatusCode::OK,
        "remembered: the epoch did not move"
    );

    let path = app
        .database_url
        .strip_prefix("sqlite://")
        .unwrap()
        .to_owned();
    let away = format!("{path}.away");
    std::fs::rename(&path, &away).unwrap();
    wait_for_readiness(&app, StatusCode::SERVICE_UNAVAILABLE).await;
    everything_refuses(&app, &token).await;
    assert!(
        !std::path::Path::new(&path).exists(),
        "no empty database appears in its place"
    );

    std::fs::rename(&away, &path).unwrap();
    wait_for_readiness(&app, StatusCode::OK).await;
    assert_eq!(
        app.api_me(&restored.token).await.status(),
        StatusCode::UNAUTHORIZED,
        "a change the epoch does not show, made before an outage"
    );
    everything_works(&app, &token).await;
}

/// A TCP proxy on its own thread: forwards to `upstream` until cut, then
/// drops every connection and refuses new ones until restored.
struct Proxy {
    addr: SocketAddr,
    open: Arc<AtomicBool>,
    cuts: Arc<tokio::sync::Notify>,
}

impl Proxy {
    fn start(upstream: String) -> Self {
        let (tx, rx) = std::sync::mpsc::channel();
        let open = Arc::new(AtomicBool::new(true));
        let cuts = Arc::new(tokio::sync::Notify::new());
        let (open2, cuts2) = (open.clone(), cuts.clone());
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                tx.send(listener.local_addr().unwrap()).unwrap();
                loop {
                    let (mut client, _) = listener.accept().await.unwrap();
                    if !open2.load(Ordering::SeqCst) {
                        continue; // dropped: refused
                    }
                    let upstream = upstream.clone();
                    let cuts = cuts2.clone();
                    tokio::spawn(async move {
                        let Ok(mut server) = tokio::net::TcpStream::connect(&upstream).await else {
                            return;
                        };
                        tokio::select! {
                            _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                            _ = cuts.notified() => {}
                        }
                    });
                }
            });
        });
        Self {
            addr: rx.recv().unwrap(),
            open,
            cuts,
        }
    }

    fn cut(&self) {
        self.open.store(false, Ordering::SeqCst);
        self.cuts.notify_waiters();
    }

    fn restore(&self) {
        self.open.store(true, Ordering::SeqCst);
    }
}

/// `host:port` of a PostgreSQL URL, and the URL with another `host:port`.
fn split_host(url: &str) -> (String, impl Fn(&str) -> String + '_) {
    let after_scheme = url.find("://").unwrap() + 3;
    let start = url[after_scheme..]
        .find('@')
        .map_or(after_scheme, |at| after_scheme + at + 1);
    let end = start + url[start..].find(['/', '?']).unwrap_or(url.len() - start);
    let host = &url[start..end];
    let host = if host.contains(':') {
        host.to_owned()
    } else {
        format!("{host}:5432")
    };
    (host, move |other: &str| {
        format!("{}{other}{}", &url[..start], &url[end..])
    })
}

#[actix_web::test]
async fn postgres_cut_off_then_back() {
    if !on_postgres() {
        eprintln!("postgres_cut_off_then_back: set TEST_DATABASE_URL to run it");
        return;
    }
    let proxy = Arc::new(std::sync::Mutex::new(None::<Proxy>));
    let slot = proxy.clone();
    let app = spawn_app_with(move |config| {
        let url = config.database_url.clone().unwrap();
        let (upstream, with_host) = split_host(&url);
        let started = Proxy::start(upstream);
        config.database_url = Some(with_host(&started.addr.to_string()));
        *slot.lock().unwrap() = Some(started);
    })
    .await;
    let proxy = proxy.lock().unwrap().take().unwrap();
    let root = app.create_user("root", true);
    let token = app.insert_token(root.id, "personal", "ci", None).token;
    app.login_ok("root").await;
    everything_works(&app, &token).await;

    proxy.cut();
    wait_for_readiness(&app, StatusCode::SERVICE_UNAVAILABLE).await;
    everything_refuses(&app, &token).await;

    proxy.restore();
    wait_for_readiness(&app, StatusCode::OK).await;
    everything_works(&app, &token).await;
}
