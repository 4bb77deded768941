//! Webhooks against a real receiver (`tests/webhooks/receiver.py`), which
//! verifies every delivery with the Standard Webhooks reference library: the
//! signature and body of each event type, retries after 500s and a timeout on
//! the app's clock, redelivery by hand, the test button, SSRF refusals at
//! save time and at delivery, redirects not followed, auto-disable after a
//! day of failures, the secret shown once and sealed; and, on PostgreSQL, two
//! real instances on one database: each event delivered once, and a delivery
//! held by a killed instance sent by the other once its lease lapses.

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use diesel::prelude::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{self, PASSWORD, TestApp, attr_of, python::python_or_skip, text_of};
use crate::process::{self, SMALL_SERVER, Server};

/// The receiver, a child process on a loopback port.
struct Receiver {
    child: Child,
    port: u16,
    http: reqwest::Client,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Receiver {
    /// Starts it, or `None` (the test says it is skipped) without the
    /// virtualenv.
    fn start(test: &str) -> Option<Receiver> {
        let python = python_or_skip(test, &["standardwebhooks"])?;
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/webhooks/receiver.py");
        let mut child = Command::new(python)
            .arg(script)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the webhook receiver");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .expect("the receiver says where it listens");
        let port = line
            .trim()
            .strip_prefix("listening ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("the receiver said {line:?}"));
        Some(Receiver {
            child,
            port,
            http: common::bare_client(),
        })
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    async fn control(&self, what: &str, body: Value) {
        let res = self
            .http
            .post(self.url(&format!("/_control/{what}")))
            .json(&body)
            .send()
            .await
            .expect("the receiver answers");
        assert_eq!(res.status(), StatusCode::OK, "/_control/{what}");
    }

    /// Verifies deliveries with `secret` too.
    async fn trust(&self, secret: &str) {
        self.control("secret", json!({ "secret": secret })).await;
    }

    /// How the next deliveries are answered: "ok", "500", "hang", "redirect".
    async fn plan(&self, plan: &[&str]) {
        self.control("plan", json!({ "plan": plan })).await;
    }

    /// Lets every hung delivery be answered.
    async fn release(&self) {
        self.control("release", json!({})).await;
    }

    /// Every delivery so far, in arrival order.
    async fn requests(&self) -> Vec<Value> {
        self.http
            .get(self.url("/_control/requests"))
            .send()
            .await
            .expect("the receiver answers")
            .json()
            .await
            .expect("JSON")
    }

    /// Waits (up to `within`) until `n` deliveries arrived; all of them.
    async fn wait_for(&self, n: usize, within: Duration) -> Vec<Value> {
        let deadline = Instant::now() + within;
        loop {
            let seen = self.requests().await;
            if seen.len() >= n {
                return seen;
            }
            assert!(
                Instant::now() < deadline,
                "{n} deliveries expected within {within:?}, {} arrived: {seen:#?}",
                seen.len()
            );
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Asserts that no more than `n` deliveries arrive while the runner polls
    /// a few times (it runs every 200 ms in tests).
    async fn still(&self, n: usize) {
        actix_web::rt::time::sleep(Duration::from_millis(700)).await;
        assert_eq!(self.requests().await.len(), n, "no further delivery");
    }
}

/// The body of a delivery, parsed.
fn body_of(request: &Value) -> Value {
    serde_json::from_str(request["body"].as_str().unwrap()).unwrap()
}

/// A server whose webhooks may go to loopback (where the receiver is), with
/// `root` signed in.
async fn admin_app_allowing_private() -> TestApp {
    let app = common::spawn_app_with(|c| c.webhooks_allow_private = true).await;
    app.create_user("root", true);
    app.login_ok("root").await;
    app
}

/// Submits the new-endpoint form as `who`; the response.
async fn submit_endpoint(who: &common::Visitor, url: &str, events: &[&str]) -> reqwest::Response {
    let mut fields = vec![("url", url), ("description", "Receiver")];
    fields.extend(events.iter().map(|e| ("events", *e)));
    who.submit("/admin/webhooks/new", "/admin/webhooks", &fields)
        .await
}

/// Adds an endpoint for `events`; (its id, its secret), which the receiver
/// now trusts.
async fn add_endpoint(
    who: &common::Visitor,
    receiver: &Receiver,
    events: &[&str],
) -> (i64, String) {
    let res = submit_endpoint(who, &receiver.url("/hook"), events).await;
    assert_eq!(res.status(), StatusCode::OK, "the endpoint is added");
    let html = res.text().await.unwrap();
    let secret = text_of(&html, "#webhook-secret").expect("the secret, once");
    assert!(secret.starts_with("whsec_"), "{secret}");
    let done = attr_of(&html, "a.button.primary", "href").unwrap();
    let id = done
        .strip_prefix("/admin/webhooks/")
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("a link to the endpoint: {done}"));
    receiver.trust(&secret).await;
    (id, secret)
}

/// One delivery row as the tests read it.
#[derive(Debug, Queryable)]
struct Row {
    id: i64,
    message_id: String,
    state: String,
    attempts: i32,
    response_code: Option<i32>,
    last_error: Option<String>,
    next_attempt_at: Option<chrono::NaiveDateTime>,
}

fn deliveries(conn: &mut tessera::db::DbConn, endpoint: i64) -> Vec<Row> {
    use tessera::db::schema::webhook_deliveries::dsl as d;
    d::webhook_deliveries
        .filter(d::endpoint_id.eq(endpoint))
        .order(d::id.asc())
        .select((
            d::id,
            d::message_id,
            d::state,
            d::attempts,
            d::response_code,
            d::last_error,
            d::next_attempt_at,
        ))
        .load(conn)
        .unwrap()
}

/// Waits until the endpoint's only (or last) delivery row satisfies `check`.
async fn row_until(app: &TestApp, endpoint: i64, check: impl Fn(&Row) -> bool) -> Row {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let rows = app.db(|c| deliveries(c, endpoint));
        if let Some(last) = rows.into_iter().last()
            && check(&last)
        {
            return last;
        }
        assert!(
            Instant::now() < deadline,
            "the delivery row never got there"
        );
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Presses "Send test event".
async fn send_test(app: &TestApp, endpoint: i64) {
    let page = format!("/admin/webhooks/{endpoint}");
    let res = app.submit(&page, &format!("{page}/test"), &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(common::location(res.headers()), page);
}

/// Queues an event as the other parts of Tessera do (the expiry scan, a
/// refused use), for the types no page of this test makes.
fn publish(app: &TestApp, event: tessera::domain::events::Event) {
    let now = app.now();
    app.db(|conn| {
        let job = tessera::jobs::Job::Event(event).to_new(now);
        tessera::jobs::enqueue(conn, job, now).unwrap();
    });
}

#[actix_web::test]
async fn every_event_type_arrives_signed_with_its_documented_body() {
    let Some(receiver) = Receiver::start("every_event_type_arrives_signed") else {
        return;
    };
    use tessera::domain::events::{Event, EventType};
    let app = admin_app_allowing_private().await;
    let all: Vec<&str> = EventType::ALL.iter().map(|t| t.as_str()).collect();
    let (endpoint, _) = add_endpoint(&app, &receiver, &all).await;

    let (token, secret) = app.new_access_token("ci", &["devices:read"]).await;
    assert_eq!(
        app.token_action(token, "disable").await.status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        app.token_action(token, "enable").await.status(),
        StatusCode::SEE_OTHER
    );
    app.step_up().await;
    let regenerate = format!("/profile/tokens/{token}/regenerate");
    let res = app
        .submit(&regenerate, &regenerate, &[("overlap", "0")])
        .await;
    assert_eq!(res.status(), StatusCode::OK, "regenerated");
    let regenerated = common::new_token_in(&res.text().await.unwrap());
    assert_eq!(
        app.token_action(token, "revoke").await.status(),
        StatusCode::SEE_OTHER
    );
    let ada = app.create_user("ada", false);
    let disable = format!("/admin/users/{}/disable", ada.id);
    let res = app.submit(&disable, &disable, &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "ada disabled");
    assert_eq!(app.save_settings(&[]).await.status(), StatusCode::SEE_OTHER);
    let now = app.now();
    let seeded = app.insert_token(ada.id, "personal", "laptop", None);
    publish(
        &app,
        Event::new(EventType::TokenExpiring, now)
            .token(seeded.id)
            .extra("threshold", "7d"),
    );
    publish(
        &app,
        Event::new(EventType::RevokedTokenUsed, now)
            .token(seeded.id)
            .extra("reason", "revoked")
            .extra("ip", "192.0.2.7"),
    );

    let seen = receiver.wait_for(9, Duration::from_secs(10)).await;
    receiver.still(9).await;
    let by_type = |kind: &str| -> (Value, Value) {
        let found: Vec<&Value> = seen.iter().filter(|r| r["type"] == kind).collect();
        assert_eq!(found.len(), 1, "one {kind}: {seen:#?}");
        (found[0].clone(), body_of(found[0]))
    };
    for request in &seen {
        assert_eq!(request["verified"], true, "signature verified: {request:#}");
        assert_eq!(request["attempt"], 1);
        let headers = &request["headers"];
        assert_eq!(headers["user-agent"], "Tessera-Webhooks");
        assert_eq!(headers["content-type"], "application/json");
        assert!(request["id"].as_str().unwrap().starts_with("msg_"));
        let body = request["body"].as_str().unwrap();
        assert!(
            !body.contains(&secret)
                && !body.contains(&regenerated)
                && !body.contains(&seeded.token)
        );
        let parsed = body_of(request);
        assert_eq!(parsed["type"], request["type"]);
        let stamp = parsed["timestamp"].as_str().unwrap();
        assert!(
            chrono::DateTime::parse_from_rfc3339(stamp).is_ok(),
            "{stamp}"
        );
    }
    let (_, created) = by_type("token.created");
    let data = &created["data"];
    assert_eq!(data["token"]["id"], token);
    assert_eq!(data["token"]["name"], "ci");
    assert_eq!(data["token"]["kind"], "personal");
    // Read when the event is sent: the first secret's prefix, or, once
    // regenerated, the new one's.
    let prefix = data["token"]["display_prefix"].as_str().unwrap();
    assert!(
        secret.starts_with(prefix) || regenerated.starts_with(prefix),
        "{prefix}"
    );
    assert!(data["token"]["expires_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(data["token"]["owner"]["username"], "root");
    assert_eq!(data["actor"]["username"], "root");
    assert_eq!(data["actor"]["ip"], "127.0.0.1");
    let status = data["token"]["status"].as_str().unwrap();
    assert!(
        ["active", "disabled", "revoked"].contains(&status),
        "{status}"
    );
    for kind in [
        "token.disabled",
        "token.enabled",
        "token.regenerated",
        "token.revoked",
    ] {
        let (_, body) = by_type(kind);
        assert_eq!(body["data"]["token"]["id"], token, "{kind}");
        assert_eq!(body["data"]["actor"]["username"], "root", "{kind}");
    }
    let (_, revoked) = by_type("token.revoked");
    assert_eq!(revoked["data"]["token"]["status"], "revoked");
    let (_, disabled) = by_type("user.disabled");
    assert_eq!(disabled["data"]["user"]["id"], ada.id);
    assert_eq!(disabled["data"]["user"]["username"], "ada");
    assert!(disabled["data"]["user"].get("display_name").is_some());
    let (_, settings) = by_type("settings.changed");
    assert!(settings["data"]["detail"].is_string(), "{settings:#}");
    let (_, expiring) = by_type("token.expiring");
    assert_eq!(expiring["data"]["token"]["name"], "laptop");
    assert_eq!(expiring["data"]["threshold"], "7d");
    assert_eq!(expiring["data"]["actor"], Value::Null);
    let (_, used) = by_type("token.revoked_token_used");
    assert_eq!(used["data"]["reason"], "revoked");
    assert_eq!(used["data"]["token"]["owner"]["username"], "ada");

    // The log says so, newest first.
    let log = app.get_html(&format!("/admin/webhooks/{endpoint}")).await;
    assert_eq!(log.matches("Delivered").count(), 9, "{log}");
    let list = app.get_html("/admin/webhooks").await;
    assert!(list.contains(&receiver.url("/hook")) && list.contains("Delivered"));
}

#[actix_web::test]
async fn a_deleted_token_is_named_by_its_id() {
    use tessera::domain::events::{Event, EventType};
    let Some(receiver) = Receiver::start("a_deleted_token_is_named_by_its_id") else {
        return;
    };
    let app = admin_app_allowing_private().await;
    add_endpoint(&app, &receiver, &["token.revoked"]).await;
    publish(
        &app,
        Event::new(EventType::TokenRevoked, app.now()).token(987_654),
    );
    let seen = receiver.wait_for(1, Duration::from_secs(5)).await;
    assert_eq!(body_of(&seen[0])["data"]["token"], json!({ "id": 987_654 }));
}

#[actix_web::test]
async fn failed_deliveries_are_retried_on_schedule_after_a_500_and_a_timeout() {
    let Some(receiver) = Receiver::start("failed_deliveries_are_retried") else {
        return;
    };
    let app = admin_app_allowing_private().await;
    let (endpoint, _) = add_endpoint(&app, &receiver, &["token.created"]).await;
    receiver.plan(&["500", "hang"]).await;
    send_test(&app, endpoint).await;

    let first = receiver.wait_for(1, Duration::from_secs(5)).await;
    assert_eq!(first[0]["type"], "webhook.test");
    let row = row_until(&app, endpoint, |r| r.attempts == 1).await;
    assert_eq!(
        (row.state.as_str(), row.response_code),
        ("pending", Some(500))
    );
    let wait = row.next_attempt_at.unwrap() - app.now();
    assert!(
        wait <= chrono::TimeDelta::seconds(5) && wait > chrono::TimeDelta::zero(),
        "{wait}"
    );
    receiver.still(1).await;

    // 5 s later (on the app's clock): the second try, which gets no answer
    // within the 5 s timeout.
    app.advance_clock(Duration::from_secs(6));
    receiver.wait_for(2, Duration::from_secs(5)).await;
    let row = row_until(&app, endpoint, |r| r.attempts == 2).await;
    assert_eq!(row.state, "pending");
    assert_eq!(row.response_code, None);
    assert!(
        row.last_error
            .as_deref()
            .unwrap()
            .contains("no answer within 5 s"),
        "{row:?}"
    );
    let wait = row.next_attempt_at.unwrap() - app.now();
    assert!(
        wait > chrono::TimeDelta::minutes(4),
        "then 5 minutes: {wait}"
    );
    receiver.release().await;
    receiver.still(2).await;

    app.advance_clock(Duration::from_secs(5 * 60 + 1));
    let seen = receiver.wait_for(3, Duration::from_secs(5)).await;
    let row = row_until(&app, endpoint, |r| r.state == "delivered").await;
    assert_eq!((row.attempts, row.response_code), (3, Some(200)));
    assert_eq!(row.next_attempt_at, None);
    for (n, request) in seen.iter().enumerate() {
        assert_eq!(
            request["id"],
            row.message_id.as_str(),
            "the same webhook-id every time"
        );
        assert_eq!(request["attempt"], n + 1);
        assert_eq!(request["verified"], true);
    }
    // A success ends the endpoint's run of failures.
    let failing: Option<chrono::NaiveDateTime> = app.db(|c| {
        use tessera::db::schema::webhook_endpoints::dsl as e;
        e::webhook_endpoints
            .find(endpoint)
            .select(e::failing_since)
            .first(c)
            .unwrap()
    });
    assert_eq!(failing, None);
}

#[actix_web::test]
async fn a_delivery_is_sent_again_by_hand_with_the_same_id() {
    let Some(receiver) = Receiver::start("a_delivery_is_sent_again_by_hand") else {
        return;
    };
    let app = admin_app_allowing_private().await;
    let (endpoint, _) = add_endpoint(&app, &receiver, &["token.revoked"]).await;
    send_test(&app, endpoint).await;
    receiver.wait_for(1, Duration::from_secs(5)).await;
    let row = row_until(&app, endpoint, |r| r.state == "delivered").await;
    let page = format!("/admin/webhooks/{endpoint}");
    let again = format!("{page}/deliveries/{}/redeliver", row.id);
    let res = app.submit(&page, &again, &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let seen = receiver.wait_for(2, Duration::from_secs(5)).await;
    assert_eq!(seen[1]["id"], seen[0]["id"]);
    assert_eq!(seen[1]["attempt"], 2);
    assert_eq!(seen[1]["body"], seen[0]["body"]);
    assert_eq!(seen[1]["verified"], true);
    let rows = app.db(|c| deliveries(c, endpoint));
    assert_eq!(rows.len(), 2, "the log has both");
    assert_eq!(app.audit("webhook_redelivered").len(), 1);
    assert_eq!(app.audit("webhook_test_sent").len(), 1);
    // Another endpoint's delivery is not this one's to send.
    let other = format!(
        "/admin/webhooks/{}/deliveries/{}/redeliver",
        endpoint + 1,
        row.id
    );
    assert_eq!(
        app.submit(&page, &other, &[]).await.status(),
        StatusCode::NOT_FOUND
    );
}

#[actix_web::test]
async fn the_secret_is_shown_once_and_kept_sealed() {
    let Some(receiver) = Receiver::start("the_secret_is_shown_once") else {
        return;
    };
    let app = admin_app_allowing_private().await;
    let (endpoint, secret) = add_endpoint(&app, &receiver, &["token.created"]).await;
    let key = secret.strip_prefix("whsec_").unwrap();
    for page in [
        "/admin/webhooks".to_owned(),
        format!("/admin/webhooks/{endpoint}"),
        "/admin/audit".into(),
    ] {
        let html = app.get_html(&page).await;
        assert!(!html.contains(key), "{page} shows the secret");
    }
    send_test(&app, endpoint).await;
    receiver.wait_for(1, Duration::from_secs(5)).await;
    row_until(&app, endpoint, |r| r.state == "delivered").await;
    let dump = app.database_dump();
    assert!(
        !dump.contains(key),
        "the database holds the secret in clear"
    );
    let hex = key.bytes().fold(String::new(), |mut hex, b| {
        use std::fmt::Write as _;
        let _ = write!(hex, "{b:02x}");
        hex
    });
    assert!(!dump.to_lowercase().contains(&hex), "nor its text in hex");
    let rows = app.audit_rows("webhook_created");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].target_type.as_deref(), Some("webhook"));
    assert_eq!(rows[0].target_id, Some(endpoint));
}

#[actix_web::test]
async fn inside_addresses_are_refused_when_an_endpoint_is_saved() {
    let (app, _) = common::admin_app().await;
    for url in [
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://10.0.0.5/hook",
        "http://192.168.1.20/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://100.64.0.1/hook",
        "http://0.0.0.0/hook",
        "ftp://hooks.example.com/",
        "not a url",
    ] {
        let res = submit_endpoint(&app, url, &["token.revoked"]).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{url}");
        let html = res.text().await.unwrap();
        assert!(
            text_of(&html, "#url-error").is_some(),
            "{url}: an error beside url"
        );
        assert_eq!(
            attr_of(&html, "#webhook-url", "value").as_deref(),
            Some(url),
            "what was typed is kept"
        );
        assert!(
            html.contains(r#"value="token.revoked" checked"#),
            "{url}: the events kept"
        );
    }
    let res = submit_endpoint(&app, "http://169.254.169.254/", &["token.revoked"]).await;
    let html = res.text().await.unwrap();
    let error = text_of(&html, "#url-error").unwrap();
    assert!(error.contains("link-local"), "{error}");
    let res = submit_endpoint(&app, "https://hooks.example.com/", &[]).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text_of(&res.text().await.unwrap(), "#events-error").is_some());
    assert_eq!(app.count("webhook_endpoints"), 0);
}

#[actix_web::test]
async fn a_delivery_to_an_inside_address_is_refused_when_sent() {
    let Some(receiver) = Receiver::start("a_delivery_to_an_inside_address_is_refused") else {
        return;
    };
    // The endpoint was saved when the address was allowed (or its name
    // resolved elsewhere); this server does not allow it.
    let (app, root) = common::admin_app().await;
    let sealer = tessera::sealing::Sealer::open_or_create(&app.key_file).unwrap();
    let secret = tessera::webhooks::WebhookSecret::generate();
    let url = receiver.url("/hook");
    let endpoint = app.db(|conn| {
        tessera::db::webhooks::insert_endpoint(
            conn,
            &url,
            "",
            "token.revoked",
            app.now(),
            Some(root.id),
            |id| sealer.seal(secret.expose(), &tessera::db::webhooks::secret_binding(id)),
        )
        .unwrap()
        .unwrap()
    });
    send_test(&app, endpoint).await;
    let row = row_until(&app, endpoint, |r| r.attempts == 1).await;
    let error = row.last_error.unwrap();
    assert!(
        error.contains("refused") && error.contains("loopback"),
        "{error}"
    );
    receiver.still(0).await;
}

#[actix_web::test]
async fn a_redirect_is_a_failure_and_is_not_followed() {
    let Some(receiver) = Receiver::start("a_redirect_is_not_followed") else {
        return;
    };
    let app = admin_app_allowing_private().await;
    let (endpoint, _) = add_endpoint(&app, &receiver, &["token.revoked"]).await;
    receiver.plan(&["redirect"]).await;
    send_test(&app, endpoint).await;
    let row = row_until(&app, endpoint, |r| r.attempts == 1).await;
    assert_eq!(
        (row.state.as_str(), row.response_code),
        ("pending", Some(302))
    );
    assert!(row.last_error.unwrap().contains("redirect"));
    receiver.still(1).await;
    let seen = receiver.requests().await;
    assert!(
        seen.iter().all(|r| r["path"] == "/hook"),
        "not followed: {seen:#?}"
    );
}

#[actix_web::test]
async fn an_endpoint_that_fails_for_a_day_is_switched_off() {
    let Some(receiver) = Receiver::start("an_endpoint_that_fails_for_a_day") else {
        return;
    };
    let app = admin_app_allowing_private().await;
    let (endpoint, _) = add_endpoint(&app, &receiver, &["token.revoked"]).await;
    receiver.plan(&["500", "500"]).await;
    send_test(&app, endpoint).await;
    row_until(&app, endpoint, |r| r.attempts == 1).await;
    let failing_since = |app: &TestApp| -> Option<chrono::NaiveDateTime> {
        app.db(|c| {
            use tessera::db::schema::webhook_endpoints::dsl as e;
            e::webhook_endpoints
                .find(endpoint)
                .select(e::failing_since)
                .first(c)
                .unwrap()
        })
    };
    assert!(failing_since(&app).is_some(), "the run of failures starts");
    // The retries of a day fail on (each attempt's wait is tested above):
    // past 24 hours of failures, the next one switches the endpoint off and
    // gives the delivery up.
    app.advance_clock(Duration::from_secs(24 * 3600 + 60));
    receiver.wait_for(2, Duration::from_secs(5)).await;
    let off = row_until(&app, endpoint, |r| r.state == "failed").await;
    assert_eq!((off.attempts, off.next_attempt_at), (2, None));
    // A day later the session is over too.
    app.login_ok("root").await;
    let html = app.get_html(&format!("/admin/webhooks/{endpoint}")).await;
    let status = text_of(&html, "#webhook-status").unwrap();
    assert!(
        status.starts_with("Off") && status.contains("automatically"),
        "{status}"
    );
    // A delivery still queued for it is given up without being sent.
    let now = app.now();
    app.db(|conn| {
        tessera::webhooks::queue(conn, now, endpoint, None, "webhook.test", "{}").unwrap();
    });
    let given_up = row_until(&app, endpoint, |r| r.state == "failed" && r.attempts == 0).await;
    assert_eq!(
        given_up.last_error.as_deref(),
        Some("the endpoint is disabled")
    );
    receiver.still(2).await;
    // No email server here: nothing is queued for the administrators.
    assert_eq!(app.count("jobs WHERE kind = 'email'"), 0);
    // Switched on again by hand, it starts afresh.
    let page = format!("/admin/webhooks/{endpoint}");
    let res = app.submit(&page, &format!("{page}/enable"), &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(failing_since(&app), None);
    send_test(&app, endpoint).await;
    receiver.wait_for(3, Duration::from_secs(5)).await;
    assert_eq!(app.audit("webhook_enabled").len(), 1);
}

#[actix_web::test]
async fn endpoints_are_switched_off_and_deleted_by_hand() {
    let Some(receiver) = Receiver::start("endpoints_are_switched_off_and_deleted") else {
        return;
    };
    let app = admin_app_allowing_private().await;
    let (endpoint, _) = add_endpoint(&app, &receiver, &["token.revoked"]).await;
    let page = format!("/admin/webhooks/{endpoint}");
    let res = app.submit(&page, &format!("{page}/disable"), &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    // Events are not sent to it, nor is the test button.
    let (token, _) = app.new_access_token("ci", &["devices:read"]).await;
    assert_eq!(
        app.token_action(token, "revoke").await.status(),
        StatusCode::SEE_OTHER
    );
    let res = app.submit(&page, &format!("{page}/test"), &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let html = app.get_html(&page).await;
    assert!(html.contains("Switch the endpoint on first"), "{html}");
    receiver.still(0).await;
    assert_eq!(app.count("webhook_deliveries"), 0);
    let res = app.submit(&page, &format!("{page}/delete"), &[]).await;
    assert_eq!(common::location(res.headers()), "/admin/webhooks");
    assert_eq!(app.count("webhook_endpoints"), 0);
    assert_eq!(app.get(&page).await.status(), StatusCode::NOT_FOUND);
    for action in ["webhook_created", "webhook_disabled", "webhook_deleted"] {
        assert_eq!(app.audit(action).len(), 1, "{action}");
    }
}

#[actix_web::test]
async fn without_a_key_file_webhooks_are_unavailable() {
    if !common::on_postgres() {
        // SQLite makes a key file beside the database when none is named.
        eprintln!("SKIPPED without_a_key_file_webhooks_are_unavailable: on PostgreSQL only");
        return;
    }
    let app = common::spawn_app_with(|c| c.secret_key_file = None).await;
    app.create_user("root", true);
    app.login_ok("root").await;
    let list = app.get_html("/admin/webhooks").await;
    assert!(
        text_of(&list, "#webhooks-need-key").is_some(),
        "the page says so"
    );
    assert!(!list.contains(r#"href="/admin/webhooks/new""#));
    let res = submit_endpoint(&app, "https://hooks.example.com/", &["token.revoked"]).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let error = text_of(&res.text().await.unwrap(), "#url-error").unwrap();
    assert!(error.contains("TESSERA_SECRET_KEY_FILE"), "{error}");
    assert_eq!(app.count("webhook_endpoints"), 0);
}

// --- Several instances on one PostgreSQL ----------------------------------

const LEASE: Duration = Duration::from_secs(2);

/// Two `tessera serve` processes on one PostgreSQL database with a shared key
/// file, a short job lease, and `root` created; `None` on SQLite.
fn two_instances(test: &str) -> Option<(common::TestDb, Server, Server)> {
    if !common::on_postgres() {
        eprintln!(
            "SKIPPED {test}: several instances share a database on PostgreSQL only (set TEST_DATABASE_URL)"
        );
        return None;
    }
    let db = common::fresh_database();
    process::create_admin(&db.url, "root", PASSWORD, &[]);
    let key = db.key_file.to_str().unwrap().to_owned();
    let env = [
        ("TESSERA_JOB_LEASE", "2s"),
        ("TESSERA_JOB_POLL_INTERVAL", "100ms"),
        ("TESSERA_WEBHOOKS_ALLOW_PRIVATE", "true"),
        ("TESSERA_SECRET_KEY_FILE", key.as_str()),
    ];
    // One after the other: the first creates the key file.
    let a = Server::start(&db.url_for("hooks_a"), SMALL_SERVER, &env);
    let b = Server::start(&db.url_for("hooks_b"), SMALL_SERVER, &env);
    Some((db, a, b))
}

/// `root`, signed in on `server`.
async fn root_on(server: &Server) -> common::Visitor {
    let visitor = server.visitor(&common::new_client());
    visitor.login_ok("root").await;
    visitor
}

#[actix_web::test]
async fn two_instances_deliver_each_event_exactly_once() {
    let test = "two_instances_deliver_each_event_exactly_once";
    let Some(receiver) = Receiver::start(test) else {
        return;
    };
    let Some((db, a, b)) = two_instances(test) else {
        return;
    };
    let (on_a, on_b) = (root_on(&a).await, root_on(&b).await);
    add_endpoint(&on_a, &receiver, &["token.revoked"]).await;
    let mut conn = db.connect();
    let root: i64 = common::scalar(&mut conn, "SELECT id FROM users WHERE username = 'root'");
    let tokens: Vec<i64> = (0..30)
        .map(|n| common::insert_token_on(&mut conn, root, "personal", &format!("t{n}"), None).id)
        .collect();
    for (n, id) in tokens.iter().enumerate() {
        let who = if n % 2 == 0 { &on_a } else { &on_b };
        let res = who.token_action(*id, "revoke").await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
    }
    receiver.wait_for(30, Duration::from_secs(30)).await;
    // Longer than a lease and a few polls: any second delivery would be here.
    actix_web::rt::time::sleep(LEASE + Duration::from_secs(1)).await;
    let seen = receiver.requests().await;
    let mut ids: Vec<&str> = seen.iter().map(|r| r["id"].as_str().unwrap()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(
        (seen.len(), ids.len()),
        (30, 30),
        "each event once: {seen:#?}"
    );
    let mut revoked: Vec<i64> = seen
        .iter()
        .map(|r| body_of(r)["data"]["token"]["id"].as_i64().unwrap())
        .collect();
    revoked.sort_unstable();
    assert_eq!(revoked, tokens);
    assert!(seen.iter().all(|r| r["verified"] == true));
}

#[actix_web::test]
async fn a_delivery_held_by_a_killed_instance_is_sent_by_the_other() {
    let test = "a_delivery_held_by_a_killed_instance_is_sent_by_the_other";
    let Some(receiver) = Receiver::start(test) else {
        return;
    };
    let Some((db, a, b)) = two_instances(test) else {
        return;
    };
    let on_a = root_on(&a).await;
    let (endpoint, _) = add_endpoint(&on_a, &receiver, &["token.revoked"]).await;
    receiver.plan(&["hang"]).await;
    let mut conn = db.connect();
    let root: i64 = common::scalar(&mut conn, "SELECT id FROM users WHERE username = 'root'");
    let token = common::insert_token_on(&mut conn, root, "personal", "leaked", None).id;
    let res = on_a.token_action(token, "revoke").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    // The first delivery hangs at the receiver: the instance that sent it
    // holds its job.
    let first = receiver.wait_for(1, Duration::from_secs(10)).await;
    let holder = common::text_scalar(
        &mut conn,
        "SELECT locked_by FROM jobs WHERE kind = 'webhook_delivery' AND locked_by IS NOT NULL",
    );
    let (mut victim, survivor) = if holder.contains(&format!(":{}:", a.pid())) {
        (a, b)
    } else {
        assert!(holder.contains(&format!(":{}:", b.pid())), "{holder}");
        (b, a)
    };
    victim.kill();
    let killed = Instant::now();
    let seen = receiver.wait_for(2, LEASE + Duration::from_secs(8)).await;
    let takeover = killed.elapsed();
    println!(
        "takeover: the other instance sent the delivery {takeover:?} after the kill (lease {LEASE:?})"
    );
    assert!(takeover < LEASE + Duration::from_secs(3), "{takeover:?}");
    assert_eq!(seen[1]["id"], first[0]["id"], "the same message");
    assert_eq!(seen[1]["attempt"], 2);
    assert_eq!(seen[1]["verified"], true);
    let state = common::text_scalar(
        &mut conn,
        &format!("SELECT state FROM webhook_deliveries WHERE endpoint_id = {endpoint}"),
    );
    assert_eq!(state, "delivered");
    receiver.release().await;
    drop(survivor);
}
