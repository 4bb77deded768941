//! Email against a real SMTP server: aiosmtpd on a loopback port
//! (`tests/smtp/server.py`, which writes each message it accepts, decoded, to
//! a folder). Reminders at each threshold once, opt-outs, the API token's
//! creating administrator, security notices, the new-device notice, the
//! digest, and no secret in any message.
//!
//! The periodic jobs are made due at once by setting their `run_at` in the
//! `jobs` table; time moves with the app clock, never by sleeping.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{NaiveDateTime, TimeDelta};
use diesel::prelude::*;
use reqwest::StatusCode;
use tokio::io::AsyncBufReadExt as _;

use crate::common::python::python_or_skip;
use crate::common::{self, PASSWORD, TestApp, Visitor, spawn_app_with};
use tessera::db::users::User;

/// One message the server accepted, as the script decoded it.
#[derive(Debug, serde::Deserialize)]
#[allow(dead_code)]
struct Mail {
    rcpt_tos: Vec<String>,
    from: String,
    subject: String,
    message_id: String,
    date: String,
    content_type: String,
    text: String,
    html: String,
    raw: String,
    tls: bool,
}

impl Mail {
    fn to(&self) -> &str {
        self.rcpt_tos.first().map_or("", String::as_str)
    }

    fn contains(&self, needle: &str) -> bool {
        self.raw.contains(needle)
            || self.text.contains(needle)
            || self.html.contains(needle)
            || self.subject.contains(needle)
    }
}

/// The SMTP server, stopped when dropped.
struct Smtp {
    _child: tokio::process::Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Smtp {
    async fn start(test: &str) -> Option<Self> {
        Self::start_with(test, None).await
    }

    /// With `tls` (certificate and key files), STARTTLS is offered and required.
    async fn start_with(test: &str, tls: Option<(&Path, &Path)>) -> Option<Self> {
        let python = python_or_skip(test, &["aiosmtpd"])?;
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/smtp/server.py");
        let dir = tempfile::tempdir().unwrap();
        let mut command = tokio::process::Command::new(python);
        command.arg(&script).arg(dir.path());
        if let Some((cert, key)) = tls {
            command.arg("--tls").arg(cert).arg(key);
        }
        let mut child = command
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("start the SMTP server");
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        tokio::time::timeout(
            Duration::from_secs(20),
            tokio::io::BufReader::new(stdout).read_line(&mut line),
        )
        .await
        .expect("the SMTP server says its port")
        .unwrap();
        let port = line.trim().parse().expect("a port");
        Some(Self {
            _child: child,
            port,
            dir,
        })
    }

    fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Every message so far, in the order accepted.
    fn messages(&self) -> Vec<Mail> {
        let mut names: Vec<PathBuf> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        names.sort();
        names
            .iter()
            .map(|p| serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap())
            .collect()
    }

    fn to(&self, address: &str) -> Vec<Mail> {
        self.messages()
            .into_iter()
            .filter(|m| m.to() == address)
            .collect()
    }
}

async fn app_with_mail(smtp: &Smtp) -> TestApp {
    let url = smtp.url();
    spawn_app_with(move |config| {
        config.smtp_url = Some(url);
        config.mail_from = Some("Tessera <tessera@example.com>".to_owned());
    })
    .await
}

/// Makes the periodic job `kind` due now and waits until it ran, and then
/// until no email or event job is left to run.
async fn run_periodic(app: &TestApp, kind: &str) {
    use tessera::db::schema::jobs::dsl as j;
    let due = app.now() - TimeDelta::seconds(1);
    app.db(|conn| {
        diesel::update(j::jobs.filter(j::kind.eq(kind)))
            .set((
                j::run_at.eq(due),
                j::last_finished_at.eq(None::<NaiveDateTime>),
            ))
            .execute(conn)
            .unwrap()
    });
    let ran = common::eventually(|| {
        app.db(|conn| {
            j::jobs
                .filter(j::kind.eq(kind))
                .select(j::last_finished_at)
                .first::<Option<NaiveDateTime>>(conn)
                .unwrap()
                .is_some()
        })
    })
    .await;
    assert!(ran, "the {kind} job ran");
    settle(app).await;
}

/// Waits until every email and event job queued so far has run.
async fn settle(app: &TestApp) {
    use tessera::db::schema::jobs::dsl as j;
    let idle = common::eventually(|| {
        app.db(|conn| {
            j::jobs
                .filter(j::kind.eq_any(["email", "event"]))
                .filter(j::state.eq("pending"))
                .count()
                .get_result::<i64>(conn)
                .unwrap()
        }) == 0
    })
    .await;
    assert!(idle, "the email and event jobs ran");
}

/// A token of `kind` for `owner`, created by `created_by`, expiring at `expires_at`.
fn token(
    app: &TestApp,
    owner: &User,
    created_by: &User,
    kind: &str,
    name: &str,
    expires_at: NaiveDateTime,
) -> common::Seeded {
    use tessera::domain::token::{PlainToken, TokenKind};
    let kind: TokenKind = kind.parse().unwrap();
    let secret = PlainToken::generate("tsr", kind);
    let new = tessera::db::tokens::NewToken::new(
        kind,
        name,
        owner.id,
        &secret.sha256(),
        &secret.display_prefix(),
        tessera::db::now(),
    )
    .created_by(Some(created_by.id))
    .scopes(if kind == TokenKind::Personal {
        "devices:read"
    } else {
        ""
    })
    .expires_at(Some(expires_at));
    let id = app.db(|conn| tessera::db::tokens::insert(conn, &new).unwrap());
    common::Seeded {
        id,
        token: secret.expose().to_owned(),
    }
}

fn display_prefix(app: &TestApp, id: i64) -> String {
    app.db(|conn| {
        tessera::db::tokens::find_any(conn, id)
            .unwrap()
            .unwrap()
            .display_prefix
    })
}

/// A signed-in visitor with its own user agent.
async fn signed_in(app: &TestApp, username: &str, user_agent: &str) -> Visitor {
    let visitor = Visitor {
        address: app.address.clone(),
        client: common::browser_like()
            .user_agent(user_agent)
            .build()
            .unwrap(),
    };
    visitor.login_ok(username).await;
    visitor
}

async fn set_preferences(visitor: &Visitor, fields: &[(&str, &str)]) {
    let res = visitor
        .submit("/profile", "/profile/notifications", fields)
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(common::location(res.headers()), "/profile#notifications");
}

/// No message holds any of `secrets` (nor the test password).
fn assert_no_secret(smtp: &Smtp, secrets: &[&str]) {
    for mail in smtp.messages() {
        for secret in secrets.iter().chain([&PASSWORD]) {
            assert!(
                !mail.contains(secret),
                "a message to {} holds a secret: {}",
                mail.to(),
                mail.subject
            );
        }
    }
}

#[actix_web::test]
async fn each_reminder_is_sent_once_to_the_owner_and_the_creating_administrator() {
    let Some(smtp) = Smtp::start("email::reminders").await else {
        return;
    };
    let app = app_with_mail(&smtp).await;
    let root = app.create_user("root", true);
    let alice = app.create_user("alice", false);
    let bob = app.create_user("bob", false);
    let carol = app.create_user("carol", false);
    let t0 = app.now();
    let (in20, in40) = (t0 + TimeDelta::days(20), t0 + TimeDelta::days(40));
    let deploy = token(&app, &alice, &alice, "personal", "deploy", in40);
    let ingest = token(&app, &bob, &root, "api", "ingest", in40);
    let quiet = token(&app, &carol, &carol, "personal", "quiet", in40);
    let gone = token(&app, &alice, &alice, "personal", "gone", in20);
    app.db(|conn| tessera::db::tokens::revoke(conn, gone.id, Some(alice.id)).unwrap());
    // Carol turns expiry reminders off on her profile.
    let carols = signed_in(&app, "carol", "Carol's browser").await;
    set_preferences(&carols, &[]).await;
    let profile = carols.get_html("/profile").await;
    assert!(!profile.contains(
        "id=\"notify_expiry\" name=\"notify_expiry\" type=\"checkbox\" value=\"on\" checked"
    ));
    assert!(
        !profile.contains("expiry_digest"),
        "only administrators get the digest"
    );

    run_periodic(&app, "expiry_scan").await;
    assert!(smtp.messages().is_empty(), "40 days ahead, nothing is due");

    // Made with five days left (at the next scan): the 7-day reminder only.
    let short = token(
        &app,
        &alice,
        &alice,
        "personal",
        "short",
        t0 + TimeDelta::days(16),
    );
    let mut expected: Vec<(String, &str, &str)> = Vec::new();
    let steps = [
        (TimeDelta::days(11), "expires within 30 days"),
        (TimeDelta::days(23), "expires within 7 days"),
        (
            TimeDelta::days(5) + TimeDelta::hours(12),
            "expires within a day",
        ),
        (TimeDelta::days(1), "has expired"),
    ];
    for (n, (by, phrase)) in steps.into_iter().enumerate() {
        app.advance_clock(by.to_std().unwrap());
        run_periodic(&app, "expiry_scan").await;
        for (to, name) in [
            ("alice@example.com", "deploy"),
            ("bob@example.com", "ingest"),
            ("root@example.com", "ingest"),
        ] {
            expected.push((to.to_owned(), name, phrase));
        }
        if n == 0 {
            expected.push((
                "alice@example.com".to_owned(),
                "short",
                "expires within 7 days",
            ));
        }
        // Once more: nothing new.
        run_periodic(&app, "expiry_scan").await;
        let mut got: Vec<(String, &str, &str)> = smtp
            .messages()
            .iter()
            .map(|m| {
                let name = ["deploy", "ingest", "short", "quiet", "gone"]
                    .into_iter()
                    .find(|name| m.subject.contains(&format!("\"{name}\"")))
                    .unwrap_or("?");
                let phrase = steps
                    .iter()
                    .map(|(_, p)| *p)
                    .find(|p| m.subject.ends_with(p))
                    .unwrap_or("?");
                (m.to().to_owned(), name, phrase)
            })
            .collect();
        got.sort();
        let mut want = expected.clone();
        want.sort();
        assert_eq!(got, want, "after step {n}");
    }

    // What the messages say, and where they link.
    let base = app.address.clone();
    let alices = smtp.to("alice@example.com");
    let first = alices
        .iter()
        .find(|m| m.subject.contains("\"deploy\""))
        .unwrap();
    assert_eq!(first.content_type, "multipart/alternative");
    assert!(first.message_id.starts_with('<') && first.message_id.contains("@127.0.0.1>"));
    assert!(!first.date.is_empty());
    assert!(first.from.contains("tessera@example.com"));
    let deploy_prefix = display_prefix(&app, deploy.id);
    let regenerate = format!("{base}/profile/tokens/{}/regenerate", deploy.id);
    for part in [&first.text, &first.html] {
        assert!(
            part.contains("deploy") && part.contains(&deploy_prefix),
            "{part}"
        );
        assert!(part.contains(&regenerate), "{part}");
    }
    let roots = smtp.to("root@example.com");
    let detail = format!("{base}/admin/tokens/{}", ingest.id);
    assert!(
        roots
            .iter()
            .all(|m| m.text.contains(&detail) && m.text.contains("bob"))
    );
    let bobs = smtp.to("bob@example.com");
    assert!(
        bobs.iter()
            .all(|m| m.text.contains("An administrator can regenerate it"))
    );

    // token.expiring events for every threshold reached, opted out or not
    // (webhooks follow them): deploy, ingest and quiet 4 each, short 1.
    let events = app.db(|conn| {
        common::scalar(
            conn,
            "SELECT COUNT(*) FROM jobs WHERE kind = 'event' AND unique_key LIKE 'token.expiring:%'",
        )
    });
    assert_eq!(events, 13);
    let secrets = [
        deploy.token,
        ingest.token,
        quiet.token,
        gone.token,
        short.token,
    ];
    assert_no_secret(
        &smtp,
        &secrets.iter().map(String::as_str).collect::<Vec<_>>(),
    );
}

#[actix_web::test]
async fn a_token_changed_by_someone_else_or_presented_after_revocation_is_told_to_its_owner() {
    let Some(smtp) = Smtp::start("email::security_notices").await else {
        return;
    };
    let app = app_with_mail(&smtp).await;
    let root = app.create_user("root", true);
    app.login_ok("root").await;
    app.step_up().await;
    let alice = app.create_user("alice", false);
    let bob = app.create_user("bob", false);
    let dan = app.create_user("refused-dan", false);
    let later = app.now() + TimeDelta::days(60);
    let one = token(&app, &alice, &alice, "personal", "one", later);
    let two = token(&app, &alice, &alice, "personal", "two", later);
    let three = token(&app, &alice, &alice, "personal", "three", later);
    let ingest = token(&app, &bob, &root, "api", "ingest", later);
    let dans = token(&app, &dan, &dan, "personal", "dans", later);

    // An administrator regenerates Bob's API token.
    let detail = format!("/admin/tokens/{}", ingest.id);
    let res = app
        .submit(&detail, &format!("{detail}/regenerate"), &[])
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let fresh = common::new_token_in(&res.text().await.unwrap());
    // Alice's "one" and Dan's token are revoked by value (a leaked secret
    // reported), by nobody signed in.
    for secret in [&one.token, &dans.token] {
        let res = reqwest::Client::new()
            .post(app.url("/api/v1/revoke"))
            .form(&[("token", secret.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
    }
    assert!(app.is_revoked(one.id) && app.is_revoked(dans.id));
    // The administrator revokes Alice's "three" in bulk.
    let csrf = common::csrf_in(&app.get_html("/admin/tokens").await);
    let three_id = three.id.to_string();
    let res = app
        .post_form(
            "/admin/tokens/bulk-revoke/confirm",
            &[("ids", three_id.as_str()), ("csrf_token", csrf.as_str())],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(app.is_revoked(three.id));
    // Alice revokes "two" herself: no notice.
    let alices = signed_in(&app, "alice", "Alice's browser").await;
    let res = alices.token_action(two.id, "revoke").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(app.is_revoked(two.id));
    // "one" is presented twice in a day. (The once-a-day event is queued by
    // token authentication; queued here as it would be.)
    let now = app.now();
    for ip in ["203.0.113.7", "203.0.113.8"] {
        use tessera::domain::events::{Event, EventType};
        let event = Event::new(EventType::RevokedTokenUsed, now)
            .token(one.id)
            .extra("reason", "revoked")
            .extra("ip", ip)
            .extra("user_agent", "curl/8.5.0");
        app.db(|conn| {
            tessera::jobs::enqueue(conn, tessera::jobs::Job::Event(event).to_new(now), now).unwrap()
        });
    }
    settle(&app).await;

    let to_alice = smtp.to("alice@example.com");
    let subjects: Vec<&str> = to_alice.iter().map(|m| m.subject.as_str()).collect();
    assert_eq!(to_alice.len(), 3, "{subjects:?}");
    let in_bulk = to_alice
        .iter()
        .find(|m| m.subject.contains("\"three\" was revoked by someone else"))
        .expect("the notice of the bulk revocation");
    assert!(in_bulk.text.contains("by root"));
    let revoked = to_alice
        .iter()
        .find(|m| m.subject.contains("\"one\" was revoked by someone else"))
        .expect("the revocation notice");
    assert!(revoked.subject.contains("\"one\""));
    assert!(revoked.text.contains("someone not signed in"));
    assert!(revoked.text.contains(&display_prefix(&app, one.id)));
    let to_bob = smtp.to("bob@example.com");
    assert_eq!(to_bob.len(), 1);
    assert!(
        to_bob[0]
            .subject
            .contains("\"ingest\" was regenerated by someone else")
    );
    assert!(to_bob[0].text.contains("by root"));
    assert!(smtp.to("root@example.com").is_empty(), "root did it");
    let presented = to_alice
        .iter()
        .find(|m| m.subject.contains("was presented"))
        .expect("the notice of the revoked token presented");
    // Either use may be the one told (two workers may take the events at once).
    for part in [&presented.text, &presented.html] {
        assert!(
            part.contains("203.0.113.") && part.contains("curl/8.5.0"),
            "{part}"
        );
    }
    assert!(!to_alice.iter().any(|m| m.subject.contains("\"two\"")));
    // The server refused Dan's address: given up at once, not retried.
    let (state, attempts, error): (String, i32, Option<String>) = app.db(|conn| {
        use tessera::db::schema::jobs::dsl as j;
        j::jobs
            .filter(j::kind.eq("email"))
            .filter(j::payload.like("%refused-dan@example.com%"))
            .select((j::state, j::attempts, j::last_error))
            .first(conn)
            .unwrap()
    });
    assert_eq!((state.as_str(), attempts), ("failed", 1), "{error:?}");
    assert!(error.unwrap_or_default().contains("550"));
    assert_no_secret(
        &smtp,
        &[
            &one.token,
            &two.token,
            &three.token,
            &dans.token,
            &ingest.token,
            &fresh,
        ],
    );
}

#[actix_web::test]
async fn a_sign_in_from_a_new_device_is_told_to_those_who_asked() {
    let Some(smtp) = Smtp::start("email::new_device").await else {
        return;
    };
    let app = app_with_mail(&smtp).await;
    app.create_user("alice", false);
    app.create_user("bob", false);
    // First sign-ins: nothing to compare with, no notice.
    let laptop = signed_in(&app, "alice", "Laptop Firefox/140").await;
    set_preferences(
        &laptop,
        &[("notify_expiry", "on"), ("notify_new_device", "on")],
    )
    .await;
    signed_in(&app, "bob", "Laptop Firefox/140").await;
    // A new device: Alice asked, Bob did not.
    signed_in(&app, "alice", "Phone Safari/19").await;
    signed_in(&app, "bob", "Phone Safari/19").await;
    // The same devices again: nothing.
    signed_in(&app, "alice", "Phone Safari/19").await;
    signed_in(&app, "alice", "Laptop Firefox/140").await;
    settle(&app).await;
    let messages = smtp.messages();
    assert_eq!(
        messages.len(),
        1,
        "{:?}",
        messages.iter().map(|m| &m.subject).collect::<Vec<_>>()
    );
    let notice = &messages[0];
    assert_eq!(notice.to(), "alice@example.com");
    assert!(notice.subject.contains("new device"));
    assert!(notice.text.contains("Phone Safari/19") && notice.text.contains("127.0.0.1"));
    assert!(
        notice
            .text
            .contains(&format!("{}/profile#password", app.address))
    );
    assert_eq!(app.count("sign_in_devices"), 4);
    assert_no_secret(&smtp, &[]);
}

#[actix_web::test]
async fn administrators_who_asked_get_a_daily_digest_of_what_expires_this_week() {
    let Some(smtp) = Smtp::start("email::digest").await else {
        return;
    };
    let app = app_with_mail(&smtp).await;
    let root = app.create_user("root", true);
    app.create_user("ops", true);
    let alice = app.create_user("alice", false);
    let roots = signed_in(&app, "root", "Root's browser").await;
    roots.step_up().await;
    let settings = roots.get_html("/admin/settings").await;
    assert!(
        settings.contains("SMTP server at 127.0.0.1"),
        "the settings page names the server"
    );
    run_periodic(&app, "expiry_digest").await;
    assert!(
        smtp.messages().is_empty(),
        "nobody asked for the digest yet"
    );
    set_preferences(&roots, &[("notify_expiry", "on"), ("expiry_digest", "on")]).await;
    let now = app.now();
    let (in3, in20) = (now + TimeDelta::days(3), now + TimeDelta::days(20));
    let soon = token(&app, &alice, &root, "personal", "soon", in3);
    let later = token(&app, &alice, &root, "personal", "later", in20);
    run_periodic(&app, "expiry_digest").await;
    run_periodic(&app, "expiry_digest").await;
    let messages = smtp.messages();
    assert_eq!(messages.len(), 1, "one digest a day, to root only");
    let digest = &messages[0];
    assert_eq!(digest.to(), "root@example.com");
    assert!(digest.subject.contains("1 token expires this week"));
    assert!(digest.text.contains("soon") && digest.text.contains("alice"));
    assert!(
        digest
            .text
            .contains(&format!("{}/admin/tokens/{}", app.address, soon.id))
    );
    assert!(!digest.text.contains("later"));
    // The next day, again (the day's move also brings Alice her reminders).
    app.advance_clock(Duration::from_secs(86_400));
    run_periodic(&app, "expiry_digest").await;
    assert_eq!(smtp.to("root@example.com").len(), 2);
    assert!(smtp.to("ops@example.com").is_empty());
    assert_no_secret(&smtp, &[&soon.token, &later.token]);
}

#[actix_web::test]
async fn without_smtp_settings_the_pages_say_email_is_off() {
    let app = common::spawn_app().await;
    app.create_user("root", true);
    app.login_ok("root").await;
    app.step_up().await;
    let settings = app.get_html("/admin/settings").await;
    assert!(settings.contains("Email is off: set TESSERA_SMTP_URL and TESSERA_MAIL_FROM"));
    let profile = app.get_html("/profile").await;
    assert!(profile.contains("sends no email at all"));
    assert!(profile.contains("Security notices are always sent"));
    // Preferences are kept all the same.
    set_preferences(&app, &[("expiry_digest", "on")]).await;
    let (expiry, digest): (bool, bool) = app.db(|conn| {
        use tessera::db::schema::users::dsl as u;
        u::users
            .filter(u::username.eq("root"))
            .select((u::notify_expiry, u::expiry_digest))
            .first(conn)
            .unwrap()
    });
    assert_eq!((expiry, digest), (false, true));
    assert_eq!(
        app.audit("notification_preferences_changed").len(),
        1,
        "the change is audited"
    );
}

#[actix_web::test]
async fn one_mail_setting_without_the_other_stops_start_up_without_showing_the_password() {
    let db = common::fresh_database();
    for (url, from, says) in [
        (
            Some("smtp://mailer:s3cretpass@127.0.0.1:25"),
            None,
            "TESSERA_MAIL_FROM",
        ),
        (None, Some("tessera@example.com"), "TESSERA_SMTP_URL"),
        (
            Some("smtp://mailer:s3cretpass@127.0.0.1:25?tls=maybe"),
            Some("tessera@example.com"),
            "tls=maybe",
        ),
        (
            Some("smtp://127.0.0.1:25"),
            Some("not an address"),
            "TESSERA_MAIL_FROM",
        ),
    ] {
        let mut config = common::test_config(&db.url);
        config.secret_key_file = Some(db.key_file.clone());
        config.smtp_url = url.map(str::to_owned);
        config.mail_from = from.map(str::to_owned);
        let Err(error) = tessera::startup::Application::build(&config).await else {
            panic!("{url:?} and {from:?} start");
        };
        let error = format!("{error:#}");
        assert!(error.contains(says), "{error}");
        assert!(!error.contains("s3cretpass"), "{error}");
    }
}

/// A test CA and a certificate it signed for 127.0.0.1 (openssl), in `dir`:
/// (CA, certificate, key); `None` without openssl.
fn certificates(dir: &Path) -> Option<(PathBuf, PathBuf, PathBuf)> {
    let openssl = ["/usr/bin/openssl", "/usr/local/bin/openssl"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.exists())?;
    let run = |args: &[&str]| {
        let out = std::process::Command::new(&openssl)
            .current_dir(dir)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    run(&[
        &["req", "-x509"][..],
        &ec,
        &[
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=Tessera test CA",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign",
        ],
    ]
    .concat());
    run(&[
        &["req"][..],
        &ec,
        &[
            "-keyout",
            "leaf.key",
            "-out",
            "leaf.csr",
            "-subj",
            "/CN=127.0.0.1",
        ],
    ]
    .concat());
    std::fs::write(
        dir.join("leaf.ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        "leaf.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "leaf.pem",
        "-days",
        "2",
        "-extfile",
        "leaf.ext",
    ]);
    Some((
        dir.join("ca.pem"),
        dir.join("leaf.pem"),
        dir.join("leaf.key"),
    ))
}

fn queue_test_email(app: &TestApp, to: &str) {
    let now = app.now();
    let email = tessera::mail::OutgoingEmail {
        to: to.to_owned(),
        subject: "STARTTLS check".to_owned(),
        text: "Hello".to_owned(),
        html: "<p>Hello</p>".to_owned(),
    };
    app.db(|conn| {
        tessera::jobs::enqueue(conn, tessera::jobs::Job::Email(email).to_new(now), now).unwrap()
    });
}

#[actix_web::test]
async fn starttls_is_required_and_the_server_certificate_checked() {
    let certs = tempfile::tempdir().unwrap();
    let Some((ca, cert, key)) = certificates(certs.path()) else {
        eprintln!("SKIPPED email::starttls: openssl not found");
        return;
    };
    let Some(smtp) = Smtp::start_with("email::starttls", Some((&cert, &key))).await else {
        return;
    };
    let url = format!("{}?tls=starttls", smtp.url());
    // Trusting the test CA: sent over TLS.
    let (trusting_url, trusted_ca) = (url.clone(), ca.clone());
    let app = spawn_app_with(move |config| {
        config.smtp_url = Some(trusting_url);
        config.mail_from = Some("tessera@example.com".to_owned());
        config.smtp_ca_file = Some(trusted_ca);
    })
    .await;
    queue_test_email(&app, "alice@example.com");
    settle(&app).await;
    let messages = smtp.messages();
    assert_eq!(messages.len(), 1);
    assert!(messages[0].tls, "the message came over STARTTLS");
    // Without the CA, the certificate is refused: nothing is sent, the job
    // waits for its retry.
    let app = spawn_app_with(move |config| {
        config.smtp_url = Some(url);
        config.mail_from = Some("tessera@example.com".to_owned());
    })
    .await;
    queue_test_email(&app, "bob@example.com");
    let failed = common::eventually(|| {
        app.db(|conn| {
            common::scalar(
                conn,
                "SELECT COUNT(*) FROM jobs WHERE kind = 'email' AND last_error IS NOT NULL",
            )
        }) == 1
    })
    .await;
    assert!(failed, "the send failed");
    let error = app
        .db(|conn| common::text_scalar(conn, "SELECT last_error FROM jobs WHERE kind = 'email'"));
    assert!(error.to_lowercase().contains("certificate"), "{error}");
    assert_eq!(smtp.messages().len(), 1);
}
