//! `TESSERA_TRUSTED_PROXIES`: the forwarding headers name the client only when
//! the TCP peer is a trusted proxy; then throttling, the API limiter, audit rows,
//! last use and the request log all see the real client. Any other peer's
//! forwarding headers change nothing. (the proxy module puts a real nginx in front.)

use crate::common;
use crate::process;

use std::time::Duration;

use common::{PASSWORD, TestApp, app_with_user, csrf_in, eventually, spawn_app_with};
use reqwest::StatusCode;
use tessera::domain::proxy::TrustedProxies;

async fn behind_a_proxy_on_loopback() -> TestApp {
    spawn_app_with(|config| {
        config.trusted_proxies = TrustedProxies::parse("127.0.0.1").unwrap();
        config.api_failures_per_minute = 5;
    })
    .await
}

/// Signs in through a proxy that says the client is `forwarded_for`.
async fn login_via(
    app: &TestApp,
    visitor: &common::Visitor,
    headers: &[(&str, &str)],
    password: &str,
) -> StatusCode {
    let csrf = csrf_in(&visitor.get_html("/login").await);
    let mut req = visitor.client.post(app.url("/login")).form(&[
        ("username", "ada"),
        ("password", password),
        ("csrf_token", csrf.as_str()),
    ]);
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    req.send().await.expect("POST /login").status()
}

#[actix_web::test]
async fn a_trusted_proxy_names_the_client_and_each_client_is_throttled_alone() {
    let app = behind_a_proxy_on_loopback().await;
    app.create_user("ada", false);
    let guesser = app.visitor();
    // The proxy appends the address it saw; what the client forged stays left.
    let from_guesser = [("x-forwarded-for", "198.51.100.66, 203.0.113.9")];
    for _ in 0..5 {
        let status = login_via(&app, &guesser, &from_guesser, "wrong password").await;
        assert_eq!(status, StatusCode::OK);
    }
    assert_eq!(
        login_via(&app, &guesser, &from_guesser, PASSWORD).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    let ips = app.audit_ips("login_failure");
    assert_eq!(ips.len(), 6);
    assert!(
        ips.iter().all(|ip| ip.as_deref() == Some("203.0.113.9")),
        "{ips:?}"
    );
    // Another client behind the same proxy (same TCP peer) is not held back;
    // RFC 7239's Forwarded serves when there is no X-Forwarded-For.
    let owner = app.visitor();
    let from_owner = [("forwarded", "for=\"[2001:db8::7]:4711\";proto=https")];
    assert_eq!(
        login_via(&app, &owner, &from_owner, PASSWORD).await,
        StatusCode::SEE_OTHER
    );
    assert_eq!(app.audit_ips("login"), [Some("2001:db8::7".to_owned())]);
}

#[actix_web::test]
async fn a_trusted_proxy_names_the_client_to_the_api_limiter_and_last_use() {
    let app = behind_a_proxy_on_loopback().await;
    let ada = app.create_user("ada", false);
    let seeded = app.insert_token(ada.id, "personal", "ci", None);
    let (id, token) = (seeded.id, seeded.token);
    let client = common::bare_client();
    let me = |forwarded_for: &'static str, token: String| {
        client
            .get(app.url("/api/v1/me"))
            .bearer_auth(token)
            .header("x-forwarded-for", forwarded_for)
            .send()
    };
    // The same token with its last character changed: a checksum that fails.
    let last = if token.ends_with('x') { "y" } else { "x" };
    let bad = format!("{}{last}", &token[..token.len() - 1]);
    for _ in 0..5 {
        let res = me("203.0.113.9", bad.clone()).await.unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    let res = me("203.0.113.9", token.clone()).await.unwrap();
    assert_eq!(
        res.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "that client used up its failures"
    );
    let res = me("203.0.113.10", token.clone()).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "its neighbour did not");
    // Last use records the client, once the buffer is written.
    let last_ip = || {
        use diesel::prelude::*;
        use tessera::db::schema::tokens::dsl as t;
        app.db(|conn| {
            t::tokens
                .find(id)
                .select(t::last_used_ip)
                .first::<Option<String>>(conn)
                .unwrap()
        })
    };
    assert!(
        eventually(|| last_ip().as_deref() == Some("203.0.113.10")).await,
        "last use from {:?}",
        last_ip()
    );
}

#[actix_web::test]
async fn forwarding_headers_from_an_untrusted_peer_change_nothing() {
    // Trusted: 127.0.0.1 only. This client connects from 127.0.0.2.
    let app = behind_a_proxy_on_loopback().await;
    app.create_user("ada", false);
    let stranger = app.visitor_from("127.0.0.2");
    for i in 0..5 {
        // A different forged address each time cannot dodge the count.
        let forged = format!("203.0.113.{i}");
        let status = login_via(
            &app,
            &stranger,
            &[
                ("x-forwarded-for", forged.as_str()),
                ("forwarded", "for=192.0.2.1"),
            ],
            "wrong password",
        )
        .await;
        assert_eq!(status, StatusCode::OK);
    }
    let status = login_via(
        &app,
        &stranger,
        &[("x-forwarded-for", "203.0.113.200")],
        PASSWORD,
    )
    .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    let ips = app.audit_ips("login_failure");
    assert!(
        ips.iter().all(|ip| ip.as_deref() == Some("127.0.0.2")),
        "{ips:?}"
    );

    // And with no trusted proxy at all (the default), not even loopback is believed.
    let (app, _) = app_with_user("ada").await;
    let status = login_via(
        &app,
        &app.visitor(),
        &[("x-forwarded-for", "203.0.113.9")],
        "wrong password",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        app.audit_ips("login_failure"),
        [Some("127.0.0.1".to_owned())]
    );
}

#[actix_web::test]
async fn the_scheme_a_trusted_proxy_reports_decides_the_own_origin() {
    // No public URL: the own origin is the Host header's, and the scheme the
    // proxy reports (open when none does).
    let app = behind_a_proxy_on_loopback().await;
    app.create_user("ada", false);
    let host = format!("127.0.0.1:{}", app.port);
    let sign_in = |origin: String, proto: &'static str| {
        let visitor = app.visitor();
        async move {
            let csrf = csrf_in(&visitor.get_html("/login").await);
            let mut req = visitor
                .client
                .post(visitor.url("/login"))
                .header("origin", origin)
                .form(&[
                    ("username", "ada"),
                    ("password", PASSWORD),
                    ("csrf_token", csrf.as_str()),
                ]);
            if !proto.is_empty() {
                req = req.header("x-forwarded-proto", proto);
            }
            req.send().await.unwrap().status()
        }
    };
    assert_eq!(
        sign_in(format!("https://{host}"), "https").await,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        sign_in(format!("http://{host}"), "https").await,
        StatusCode::FORBIDDEN,
        "the page was served over https: an http origin is another one"
    );
    assert_eq!(
        sign_in(format!("http://{host}"), "").await,
        StatusCode::SEE_OTHER
    );
}

#[test]
fn the_request_log_names_the_request_id_the_real_client_route_user_and_status() {
    let db = common::fresh_database();
    process::create_admin(&db.url, "root", PASSWORD, &[]);
    let server = process::Server::start(
        &db.url,
        &[process::SMALL_SERVER, &["--trusted-proxies", "127.0.0.1/8"]].concat(),
        &[],
    );
    let rt = actix_web::rt::System::new();
    let request_id = rt.block_on(async {
        let client = common::new_client();
        let visitor = server.visitor(&client);
        visitor.login_ok("root").await;
        let res = client
            .get(server.url("/profile/tokens?secret=do-not-log"))
            .header("x-forwarded-for", "203.0.113.9")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        res.headers()
            .get("x-request-id")
            .expect("an X-Request-Id")
            .to_str()
            .unwrap()
            .to_owned()
    });
    let line = (0..50)
        .find_map(|_| {
            let log = server.log();
            let line = log
                .lines()
                .find(|line| line.contains(&request_id) && line.contains("request finished"))
                .map(str::to_owned);
            if line.is_none() {
                std::thread::sleep(Duration::from_millis(100));
            }
            line
        })
        .unwrap_or_else(|| panic!("no log line for {request_id}:\n{}", server.log()));
    let json: serde_json::Value = serde_json::from_str(&line).expect("a JSON log line");
    let span = &json["span"];
    assert_eq!(span["request_id"], request_id.as_str(), "{line}");
    assert_eq!(span["client"], "203.0.113.9", "{line}");
    assert_eq!(span["method"], "GET", "{line}");
    assert_eq!(span["path"], "/profile/tokens", "{line}");
    assert_eq!(span["route"], "/profile/tokens", "{line}");
    assert_eq!(span["user"], 1, "{line}");
    assert_eq!(json["status"], 200, "{line}");
    assert!(span["latency_ms"].as_f64().is_some(), "{line}");
    assert!(
        !server.log().contains("do-not-log"),
        "no query string is logged"
    );
}
