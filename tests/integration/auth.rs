//! Sign-in, sign-out, sessions, throttling and CSRF, against the real server.

use crate::common;
use crate::process;

use std::time::Duration;

use common::{
    PASSWORD, app_with_user, csrf_in, location, new_client, spawn_app, spawn_app_with, text_of,
    urlencode,
};
use reqwest::StatusCode;

#[actix_web::test]
async fn sign_in_then_sign_out_and_the_old_cookie_is_dead() {
    let (app, _) = app_with_user("ada").await;

    let res = app.get("/profile").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(res.headers()), "/login");

    let res = app.login("ada", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(res.headers()), "/");
    let cookie = res
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("tessera_session="))
        .expect("a session cookie is set at sign-in");
    assert!(cookie.contains("HttpOnly"));
    assert!(cookie.contains("SameSite=Lax"));
    let cookie_pair = cookie.split(';').next().unwrap().to_owned();

    let profile = app.get_html("/profile").await;
    assert!(profile.contains("ada@example.com"));
    assert_eq!(
        app.audit("login"),
        vec![(Some("ada".into()), "success".into())]
    );

    let res = app.logout().await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(res.headers()), "/login");
    assert_eq!(app.audit("logout").len(), 1);

    // Replaying the cookie from before sign-out lands on the sign-in page.
    let replay = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(app.url("/profile"))
        .header(reqwest::header::COOKIE, cookie_pair)
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(replay.headers()), "/login");
}

#[actix_web::test]
async fn the_session_id_changes_at_sign_in() {
    let (app, _) = app_with_user("ada").await;
    let login_page = app.get("/login").await;
    let before = login_page
        .cookies()
        .find(|c| c.name() == "tessera_session")
        .map(|c| c.value().to_owned())
        .expect("the sign-in page starts a session for its CSRF token");
    let csrf = csrf_in(&login_page.text().await.unwrap());
    let res = app.post_login("ada", &csrf).await;
    let after = res
        .cookies()
        .find(|c| c.name() == "tessera_session")
        .map(|c| c.value().to_owned())
        .expect("a new cookie at sign-in");
    assert_ne!(before, after);
}

/// The `tessera_session` value a response sets, if any.
fn session_cookie(res: &reqwest::Response) -> Option<String> {
    res.cookies()
        .find(|c| c.name() == "tessera_session")
        .map(|c| c.value().to_owned())
}

/// Where `GET /profile` leads with nothing but this session cookie: the
/// signed-in user's email on the page, or `None` if it asks to sign in.
async fn who_has(app: &common::TestApp, cookie: &str) -> Option<String> {
    let res = common::bare_client()
        .get(app.url("/profile"))
        .header(reqwest::header::COOKIE, format!("tessera_session={cookie}"))
        .send()
        .await
        .unwrap();
    if res.status() == StatusCode::SEE_OTHER {
        assert_eq!(location(res.headers()), "/login");
        return None;
    }
    assert_eq!(res.status(), StatusCode::OK);
    let page = res.text().await.unwrap();
    ["ada@example.com", "bob@example.com"]
        .into_iter()
        .find(|email| page.contains(email))
        .map(str::to_owned)
}

/// A session that already has its row (signed in) gets a new id at the next
/// sign-in too, as another user or the same one, and the old id stops working.
#[actix_web::test]
async fn a_signed_in_session_gets_a_new_id_at_the_next_sign_in() {
    let (app, _) = app_with_user("ada").await;
    app.create_user("bob", false);
    let res = app.login("ada", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let as_ada = session_cookie(&res).expect("a cookie at sign-in");
    assert_eq!(
        who_has(&app, &as_ada).await.as_deref(),
        Some("ada@example.com")
    );
    assert_eq!(app.count("sessions"), 1, "the session has its row");

    // Signed in, /login redirects: the form is posted with this session's token.
    let visitor: &common::Visitor = &app;
    let sign_in_again = |username: &'static str| async move {
        let csrf = csrf_in(&visitor.get_html("/profile").await);
        visitor
            .post_form(
                "/login",
                &[
                    ("username", username),
                    ("password", PASSWORD),
                    ("csrf_token", &csrf),
                ],
            )
            .await
    };
    // Signing in as bob replaces the session id, and the old id and its row
    // are gone; bob again gets a new id all the same.
    let app = &app;
    let renewed = |old: String| async move {
        let res = sign_in_again("bob").await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        let new = session_cookie(&res).expect("a new cookie at each sign-in");
        assert_ne!(new, old);
        assert_eq!(who_has(app, &old).await, None, "the old id is dead");
        assert_eq!(who_has(app, &new).await.as_deref(), Some("bob@example.com"));
        assert_eq!(app.count("sessions"), 1, "the old row is gone");
        new
    };
    let as_bob = renewed(as_ada).await;
    renewed(as_bob).await;
}

#[actix_web::test]
async fn unknown_user_and_wrong_password_get_the_same_answer() {
    let (app, _) = app_with_user("ada").await;

    let wrong = app.login("ada", "not the password").await;
    let wrong_status = wrong.status();
    let wrong_body = wrong.text().await.unwrap();
    let unknown = app.login("nobody", "not the password").await;
    let unknown_status = unknown.status();
    let unknown_body = unknown.text().await.unwrap();

    assert_eq!(wrong_status, StatusCode::OK);
    assert_eq!(wrong_status, unknown_status);
    let message = |body: &str| text_of(body, ".form-error").unwrap();
    assert_eq!(message(&wrong_body), "Incorrect username or password.");
    assert_eq!(message(&wrong_body), message(&unknown_body));
    // The pages differ only in the username echoed back and the CSRF token.
    let normalise =
        |body: &str, name: &str| body.replace(&csrf_in(body), "CSRF").replace(name, "NAME");
    assert_eq!(
        normalise(&wrong_body, "ada"),
        normalise(&unknown_body, "nobody")
    );
    assert_eq!(app.audit("login_failure").len(), 2);
}

/// `tessera_password_verifications_total` of a server, from `/metrics`.
async fn password_verifications(server: &process::Server) -> u64 {
    let text = common::get_text(&server.url("/metrics")).await;
    text.lines()
        .find_map(|line| line.strip_prefix("tessera_password_verifications_total "))
        .unwrap_or_else(|| panic!("the counter is exposed:\n{text}"))
        .trim()
        .parse()
        .unwrap()
}

/// An unknown username costs one argon2 verification (against the dummy hash),
/// exactly as a wrong password does, on the web and in the API. A server of its
/// own, so that no other test's sign-ins move its counter.
#[actix_web::test]
async fn an_unknown_user_costs_one_password_verification_like_a_wrong_password() {
    let db = common::fresh_database();
    process::create_admin(&db.url, "ada", PASSWORD, &[]);
    let server = process::Server::start(&db.url, process::SMALL_SERVER, &[]);
    let web = server.visitor(&new_client());
    let api = |username: &'static str, password: &'static str| {
        let url = server.url("/api/v1/sessions");
        async move {
            common::bare_client()
                .post(url)
                .json(&serde_json::json!({
                    "username": username,
                    "password": password,
                    "device_name": "Pixel 9",
                }))
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    let mut count = password_verifications(&server).await;
    let web_wrong = web.login("ada", "not the password").await.status();
    let web_unknown = web.login("nobody", "not the password").await.status();
    assert_eq!((web_wrong, web_unknown), (StatusCode::OK, StatusCode::OK));
    let after_web = password_verifications(&server).await;
    assert_eq!(after_web, count + 2, "one verification each on /login");
    count = after_web;
    let wrong_only = {
        web.login("ada", "still not it").await;
        password_verifications(&server).await
    };
    assert_eq!(wrong_only, count + 1, "a wrong password: one");
    let unknown_only = {
        web.login("nobody", "still not it").await;
        password_verifications(&server).await
    };
    assert_eq!(unknown_only, wrong_only + 1, "an unknown user: one too");
    count = unknown_only;

    assert_eq!(
        api("ada", "not the password").await,
        StatusCode::UNAUTHORIZED
    );
    let after_wrong = password_verifications(&server).await;
    assert_eq!(after_wrong, count + 1, "a wrong password in the API: one");
    assert_eq!(
        api("nobody", "not the password").await,
        StatusCode::UNAUTHORIZED
    );
    let after_unknown = password_verifications(&server).await;
    assert_eq!(
        after_unknown,
        after_wrong + 1,
        "an unknown user in the API: one"
    );
    // And a right one, of course, is one too.
    web.login_ok("ada").await;
    assert_eq!(password_verifications(&server).await, after_unknown + 1);
}

#[actix_web::test]
async fn a_disabled_user_cannot_sign_in() {
    let (app, user) = app_with_user("ada").await;
    app.disable_user(user.id);
    let res = app.login("ada", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("Incorrect username or password.")
    );
}

#[actix_web::test]
async fn repeated_failures_throttle_that_account_from_that_address_only() {
    let (app, _) = app_with_user("ada").await;
    app.create_user("bob", false);

    app.fail_free_sign_ins("ada").await;
    // Now even the right password is refused for a while, with a clear message.
    let res = app.login("ada", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(res.headers().contains_key(reqwest::header::RETRY_AFTER));
    let body = res.text().await.unwrap();
    assert!(body.contains("Too many failed sign-in attempts"), "{body}");

    // Another account from the same address is unaffected.
    let other = app.visitor();
    assert_eq!(
        other.login("bob", PASSWORD).await.status(),
        StatusCode::SEE_OTHER
    );
}

#[actix_web::test]
async fn failures_from_one_address_do_not_lock_the_owner_out_from_another() {
    let (app, _) = app_with_user("ada").await;
    let guesser = app.visitor_from("127.0.0.2");
    guesser.fail_free_sign_ins("ada").await;
    // The guesser now waits, even with the right password...
    let res = guesser.login("ada", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    // ...but the owner, from an address with no failures, signs in.
    let owner = app.visitor_from("127.0.0.3");
    let res = owner.login("ada", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    // The audit log names the address the failures came from.
    let ips = app.audit_ips("login_failure");
    assert_eq!(ips.len(), 6, "five failures and one throttled attempt");
    assert!(
        ips.iter().all(|ip| ip.as_deref() == Some("127.0.0.2")),
        "{ips:?}"
    );
    assert_eq!(app.audit_ips("login"), [Some("127.0.0.3".to_owned())]);
}

/// `Retry-After` as a number of seconds.
fn retry_after(res: &reqwest::Response) -> u64 {
    res.headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("a Retry-After in seconds")
}

#[actix_web::test]
async fn the_wait_doubles_with_every_failure_and_a_success_ends_it() {
    let (app, _) = app_with_user("ada").await;
    let visitor = app.visitor();
    visitor.fail_free_sign_ins("ada").await;
    let res = visitor.login("ada", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait = retry_after(&res);
    assert!((25..=30).contains(&wait), "the first wait is 30 s: {wait}");
    let body = res.text().await.unwrap();
    assert!(
        body.contains("Wait 30 seconds") || body.contains(&format!("Wait {wait} seconds")),
        "{body}"
    );

    // Once the wait is over one more guess is checked, and the next wait doubles.
    app.age_throttle_records(Duration::from_secs(31));
    assert_eq!(
        visitor.login("ada", "wrong again").await.status(),
        StatusCode::OK
    );
    let res = visitor.login("ada", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait = retry_after(&res);
    assert!((55..=60).contains(&wait), "the second wait is 60 s: {wait}");

    // After it, the right password signs in and clears the count.
    app.age_throttle_records(Duration::from_secs(61));
    visitor.login_ok("ada").await;
    let fresh = app.visitor();
    // Five free failures again.
    fresh.fail_free_sign_ins("ada").await;
}

#[actix_web::test]
async fn forms_without_the_right_csrf_token_change_nothing() {
    let (app, _) = app_with_user("ada").await;

    // Sign-in itself is protected: no token, or a wrong one, is refused.
    app.get("/login").await;
    let res = app
        .post_form("/login", &[("username", "ada"), ("password", PASSWORD)])
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = app
        .post_form(
            "/login",
            &[
                ("username", "ada"),
                ("password", PASSWORD),
                ("csrf_token", "forged"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.get("/profile").await.status(), StatusCode::SEE_OTHER);

    app.login_ok("ada").await;
    let users_before = app.count("users");
    let audit_login_failures = app.audit("login_failure").len();
    let hash_before = app
        .db(|c| tessera::db::users::find_by_username(c, "ada"))
        .unwrap()
        .unwrap()
        .password_hash;
    for csrf in [None, Some("forged"), Some("")] {
        let mut fields = vec![
            ("current_password", PASSWORD),
            ("new_password", "another password"),
        ];
        if let Some(csrf) = csrf {
            fields.push(("csrf_token", csrf));
        }
        let res = app.post_form("/profile/password", &fields).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
        assert!(res.text().await.unwrap().contains("nothing was changed"));
    }
    let hash_after = app
        .db(|c| tessera::db::users::find_by_username(c, "ada"))
        .unwrap()
        .unwrap()
        .password_hash;
    assert_eq!(hash_before, hash_after);
    assert_eq!(app.count("users"), users_before);
    assert_eq!(app.audit("login_failure").len(), audit_login_failures);

    // Sign-out needs the token too: without it the session lives on.
    assert_eq!(
        app.post_form("/logout", &[]).await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(app.get("/profile").await.status(), StatusCode::OK);
    assert_eq!(app.audit("csrf_failure").len(), 6);
}

#[actix_web::test]
async fn a_token_from_another_session_is_refused() {
    let (app, _) = app_with_user("ada").await;
    app.create_user("eve", false);
    app.login_ok("ada").await;

    let eve = app.visitor();
    eve.login("eve", PASSWORD).await;
    let eves_token = csrf_in(&eve.get_html("/profile").await);
    let res = app
        .post_form(
            "/profile/password",
            &[
                ("current_password", PASSWORD),
                ("new_password", "another password"),
                ("csrf_token", &eves_token),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
}

#[actix_web::test]
async fn an_idle_session_expires() {
    // The default timeouts (30 minutes idle, 12 hours in all), reached by
    // moving the server's clock.
    let (app, _) = app_with_user("ada").await;
    app.login_ok("ada").await;
    assert_eq!(app.get("/profile").await.status(), StatusCode::OK);
    // Activity keeps it alive past the idle timeout...
    for _ in 0..3 {
        app.advance_clock(Duration::from_secs(25 * 60));
        assert_eq!(app.get("/profile").await.status(), StatusCode::OK);
    }
    // ...and idleness ends it.
    app.advance_clock(Duration::from_secs(31 * 60));
    let res = app.get("/profile").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(res.headers()), "/login");
}

#[actix_web::test]
async fn a_session_ends_at_its_absolute_timeout_however_active() {
    let (app, _) = app_with_user("ada").await;
    app.login_ok("ada").await;
    // A request every 25 minutes for 11 hours 40 minutes...
    for _ in 0..28 {
        app.advance_clock(Duration::from_secs(25 * 60));
        assert_eq!(app.get("/profile").await.status(), StatusCode::OK);
    }
    // ...and the next, 12 hours 5 minutes after sign-in, finds it ended.
    app.advance_clock(Duration::from_secs(25 * 60));
    assert_eq!(app.get("/profile").await.status(), StatusCode::SEE_OTHER);
}

#[actix_web::test]
async fn disabling_a_user_ends_their_sessions_at_once() {
    let (app, user) = app_with_user("ada").await;
    app.login_ok("ada").await;
    assert_eq!(
        app.db(|c| tessera::db::sessions::count_for_user(c, user.id))
            .unwrap(),
        1
    );

    app.disable_user(user.id);
    assert_eq!(
        app.db(|c| tessera::db::sessions::count_for_user(c, user.id))
            .unwrap(),
        0
    );
    let res = app.get("/profile").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(res.headers()), "/login");
}

#[actix_web::test]
async fn sign_in_returns_to_a_local_next_page_only() {
    let (app, _) = app_with_user("ada").await;
    let client = new_client();
    for (next, expected) in [
        ("/profile", "/profile"),
        ("https://evil.example/", "/"),
        ("//evil.example", "/"),
        ("/\t/evil.example", "/"),
        ("/\\evil.example", "/"),
    ] {
        let page = client
            .get(app.url(&format!("/login?next={}", urlencode(next))))
            .send()
            .await
            .unwrap();
        let csrf = csrf_in(&page.text().await.unwrap());
        let res = client
            .post(app.url("/login"))
            .form(&[
                ("username", "ada"),
                ("password", PASSWORD),
                ("next", next),
                ("csrf_token", &csrf),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(location(res.headers()), expected, "next={next}");
        let csrf = csrf_in(
            &client
                .get(app.url("/profile"))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap(),
        );
        client
            .post(app.url("/logout"))
            .form(&[("csrf_token", csrf)])
            .send()
            .await
            .unwrap();
    }
}

#[actix_web::test]
async fn many_failures_from_one_address_throttle_that_address() {
    let (app, _) = app_with_user("ada").await;
    // Fewer than five per account, so only the per-address limit (50) can trip.
    for i in 0..50 {
        let res = app
            .login(&format!("guess{}", i % 13), "wrong password")
            .await;
        assert_eq!(res.status(), StatusCode::OK, "attempt {i}");
    }
    let res = app.visitor().login("ada", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("Too many failed sign-in attempts")
    );
    let throttled = app
        .audit("login_failure")
        .into_iter()
        .filter(|(_, outcome)| outcome == "denied")
        .count();
    assert_eq!(throttled, 1);
}

#[actix_web::test]
async fn a_burst_of_guesses_at_once_gets_no_more_than_the_limit() {
    let (app, _) = app_with_user("victim").await;
    // Twenty visitors, each with its own session and CSRF token, guess at once.
    let mut guesses = Vec::new();
    for i in 0..20 {
        let visitor = app.visitor();
        let csrf = csrf_in(&visitor.get_html("/login").await);
        guesses.push(actix_web::rt::spawn(async move {
            let password = format!("wrong guess {i}");
            visitor
                .post_form(
                    "/login",
                    &[
                        ("username", "victim"),
                        ("password", &password),
                        ("csrf_token", &csrf),
                    ],
                )
                .await
                .status()
        }));
    }
    let mut statuses = Vec::new();
    for guess in guesses {
        statuses.push(guess.await.unwrap());
    }
    let checked = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    let refused = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!(checked + refused, 20, "{statuses:?}");
    assert!(checked <= 5, "at most five passwords checked: {statuses:?}");
    let failures = app.audit("login_failure");
    let verified = failures.iter().filter(|(_, o)| o == "failure").count();
    assert_eq!(verified, checked);
    // Refusals of attempts in flight beside a check may leave fewer than five
    // checked; one by one, the rest of the five free failures are checked...
    let visitor = app.visitor();
    for _ in checked..5 {
        assert_eq!(
            visitor.login("victim", "one more guess").await.status(),
            StatusCode::OK
        );
    }
    // ...and then even the right password waits.
    assert_eq!(
        visitor.login("victim", PASSWORD).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[actix_web::test]
async fn many_people_signing_in_at_once_from_one_address_are_never_throttled() {
    // An office behind one address: twenty people sign in at the same moment,
    // three times over. No failure, so no wait, however the attempts interleave.
    let app = spawn_app().await;
    let mut sign_ins = Vec::new();
    for i in 0..20 {
        let name = format!("colleague{i}");
        app.create_user(&name, false);
        let visitors = [app.visitor(), app.visitor(), app.visitor()];
        sign_ins.push(actix_web::rt::spawn(async move {
            let mut statuses = Vec::new();
            for visitor in visitors {
                statuses.push(visitor.login(&name, PASSWORD).await.status());
            }
            statuses
        }));
    }
    for sign_in in sign_ins {
        let statuses = sign_in.await.unwrap();
        assert!(
            statuses.iter().all(|s| *s == StatusCode::SEE_OTHER),
            "{statuses:?}"
        );
    }
}

#[actix_web::test]
async fn visitors_who_are_not_signed_in_leave_no_session_rows() {
    let (app, _) = app_with_user("ada").await;
    for _ in 0..20 {
        app.visitor().get_html("/login").await;
    }
    assert_eq!(app.count("sessions"), 0, "a GET stores nothing");
    // The anonymous session's CSRF token still works, failed attempts included.
    assert_eq!(
        app.login("ada", "wrong password").await.status(),
        StatusCode::OK
    );
    app.login_ok("ada").await;
    assert_eq!(app.count("sessions"), 1);
    app.get_html("/profile").await;
    app.logout().await;
    assert_eq!(app.count("sessions"), 0);
}

/// Login success, login failure and logout rows carry who asked from where: the
/// client's address, the user agent it sent, and the time in UTC.
#[actix_web::test]
async fn sign_in_and_sign_out_audit_rows_carry_address_agent_and_utc_time() {
    use diesel::prelude::*;
    use tessera::db::schema::audit_events::dsl as a;
    const AGENT: &str = "AuditCheck/1.0 (X11; tessera tests)";
    let (app, _) = app_with_user("ada").await;
    let browser = common::Visitor {
        address: app.address.clone(),
        client: reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(AGENT)
            .build()
            .unwrap(),
    };
    let started = chrono::Utc::now().naive_utc();
    assert_eq!(
        browser.login("ada", "wrong password").await.status(),
        StatusCode::OK
    );
    browser.login_ok("ada").await;
    assert_eq!(browser.logout().await.status(), StatusCode::SEE_OTHER);
    let finished = chrono::Utc::now().naive_utc();

    let slack = chrono::TimeDelta::seconds(2);
    for (action, actor) in [
        ("login_failure", None),
        ("login", Some("ada")),
        ("logout", Some("ada")),
    ] {
        type Row = (
            Option<String>,
            Option<String>,
            Option<String>,
            chrono::NaiveDateTime,
        );
        let rows: Vec<Row> = app.db(|conn| {
            a::audit_events
                .filter(a::action.eq(action))
                .select((a::actor_name, a::ip, a::user_agent, a::occurred_at))
                .load(conn)
                .unwrap()
        });
        assert_eq!(rows.len(), 1, "{action}");
        let (actor_name, ip, user_agent, at) = rows.into_iter().next().unwrap();
        assert_eq!(actor_name.as_deref(), actor, "{action}");
        assert_eq!(ip.as_deref(), Some("127.0.0.1"), "{action}");
        assert_eq!(user_agent.as_deref(), Some(AGENT), "{action}");
        assert!(
            at >= started - slack && at <= finished + slack,
            "{action} at {at}, between {started} and {finished} UTC"
        );
    }
}

/// With Secure cookies (a deployment reached over HTTPS) the session cookie has
/// the `__Host-` prefix and its rules (Secure, `Path=/`, no `Domain`), and every
/// answer carries HSTS for a year or more; over plain HTTP the cookie keeps its
/// plain name and no answer carries HSTS. (The test client speaks plain HTTP:
/// it reads the headers, it does not need the Secure cookie back.)
#[actix_web::test]
async fn secure_cookies_get_the_host_prefix_and_hsts() {
    use tessera::config::CookieSecure;
    for secure in [true, false] {
        let app = spawn_app_with(|config| {
            config.cookie_secure = if secure {
                CookieSecure::True
            } else {
                CookieSecure::False
            }
        })
        .await;
        let client = common::bare_client();
        let res = client.get(app.url("/login")).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let cookies: Vec<String> = res
            .headers()
            .get_all(reqwest::header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect();
        assert_eq!(cookies.len(), 1, "{cookies:?}");
        let attributes: Vec<String> = cookies[0]
            .split(';')
            .map(|part| part.trim().to_ascii_lowercase())
            .collect();
        let name = cookies[0].split('=').next().unwrap();
        assert_eq!(
            name,
            if secure {
                "__Host-tessera_session"
            } else {
                "tessera_session"
            }
        );
        assert_eq!(name, tessera::startup::session_cookie_name(secure));
        assert_eq!(
            attributes.contains(&"secure".to_owned()),
            secure,
            "{attributes:?}"
        );
        assert!(attributes.contains(&"path=/".to_owned()), "{attributes:?}");
        assert!(
            attributes.contains(&"httponly".to_owned()),
            "{attributes:?}"
        );
        assert!(
            !attributes.iter().any(|a| a.starts_with("domain")),
            "{attributes:?}"
        );

        // Every answer: a page, a probe, the API, a static file, a 404.
        for path in [
            "/login",
            "/healthz",
            "/api/v1/me",
            "/static/css/tessera.css",
            "/nothing",
        ] {
            let res = client.get(app.url(path)).send().await.unwrap();
            let hsts = res.headers().get("strict-transport-security");
            if !secure {
                assert!(hsts.is_none(), "{path}: {hsts:?}");
                continue;
            }
            let hsts = hsts
                .unwrap_or_else(|| panic!("{path}: no HSTS"))
                .to_str()
                .unwrap();
            let max_age: u64 = hsts
                .split(';')
                .find_map(|d| d.trim().strip_prefix("max-age="))
                .and_then(|age| age.parse().ok())
                .unwrap_or_else(|| panic!("{path}: {hsts}"));
            assert!(max_age >= 31_536_000, "{path}: {hsts}");
        }
    }
}

/// Everything a signed-in user is sent is `no-store`: pages, redirects, the
/// CSV export, error pages, and the sign-in and sign-out answers themselves.
#[actix_web::test]
async fn every_answer_to_a_signed_in_user_is_no_store() {
    let app = spawn_app().await;
    app.create_user("root", true);
    app.create_user("ada", false);
    let no_store = |res: &reqwest::Response, what: &str| {
        assert_eq!(
            res.headers()
                .get("cache-control")
                .map(|v| v.to_str().unwrap()),
            Some("no-store"),
            "{what}: {}",
            res.status()
        );
    };
    let res = app.login("root", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    no_store(&res, "the sign-in redirect");
    for path in [
        "/",
        "/profile",
        "/profile/tokens",
        "/admin/audit",
        "/admin/audit.csv",
        "/admin/tokens",
        "/admin/users",
        "/nothing-here",
        "/login?next=/profile",
    ] {
        let res = app.get(path).await;
        assert!(res.status() != StatusCode::INTERNAL_SERVER_ERROR, "{path}");
        no_store(&res, path);
    }
    let ada = app.visitor();
    ada.login_ok("ada").await;
    let res = ada.get("/admin/users").await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    no_store(&res, "a forbidden page");
    let res = ada.logout().await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    no_store(&res, "the sign-out redirect");
}

/// A sign-out a test can send with chosen `Origin` and `Sec-Fetch-Site`
/// headers and the session's valid CSRF token: its status.
async fn sign_out_from(visitor: &common::Visitor, headers: &[(&str, &str)]) -> StatusCode {
    let csrf = csrf_in(&visitor.get_html("/profile").await);
    let mut req = visitor
        .client
        .post(visitor.url("/logout"))
        .form(&[("csrf_token", csrf.as_str())]);
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    req.send().await.unwrap().status()
}

/// A state-changing request that a browser marks as cross-site (a foreign or
/// `null` Origin, or `Sec-Fetch-Site: cross-site`) is refused with 403 and
/// audited, even with a valid CSRF token; the server's own origin, same-origin
/// or user-initiated fetch metadata, and no such headers at all still work.
#[actix_web::test]
async fn cross_site_requests_are_refused_even_with_a_valid_csrf_token() {
    let (app, _) = app_with_user("ada").await;
    app.login_ok("ada").await;
    let own = app.address.clone();
    let other_port = format!("http://127.0.0.1:{}", app.port.wrapping_add(1));
    let refused: [&[(&str, &str)]; 6] = [
        &[("origin", "https://evil.example")],
        &[("origin", "null")],
        &[("origin", other_port.as_str())],
        &[("origin", own.as_str()), ("sec-fetch-site", "cross-site")],
        &[("sec-fetch-site", "cross-site")],
        &[
            ("origin", "https://evil.example"),
            ("sec-fetch-site", "same-origin"),
        ],
    ];
    for headers in refused {
        assert_eq!(
            sign_out_from(&app, headers).await,
            StatusCode::FORBIDDEN,
            "{headers:?}"
        );
        assert_eq!(
            app.get("/profile").await.status(),
            StatusCode::OK,
            "still signed in after {headers:?}"
        );
    }
    let rows = app.audit_rows("cross_site_request_denied");
    assert_eq!(rows.len(), refused.len());
    for row in &rows {
        assert_eq!(row.actor_name.as_deref(), Some("ada"));
        assert_eq!(row.outcome, "denied");
        assert_eq!(row.target_label.as_deref(), Some("/logout"));
    }
    let details: Vec<&str> = rows.iter().filter_map(|r| r.detail.as_deref()).collect();
    assert!(
        details[0].contains("Origin: https://evil.example"),
        "{details:?}"
    );
    assert!(details[1].contains("Origin: null"), "{details:?}");
    assert!(
        details[3].contains("Sec-Fetch-Site: cross-site"),
        "{details:?}"
    );
    assert!(
        app.audit("csrf_failure").is_empty(),
        "refused before the CSRF check"
    );
    assert!(
        !app.database_dump()
            .contains(&csrf_in(&app.get_html("/profile").await))
    );

    // Sign-in from another site (login CSRF) is refused too.
    let visitor = app.visitor();
    let csrf = csrf_in(&visitor.get_html("/login").await);
    let res = visitor
        .client
        .post(visitor.url("/login"))
        .header("origin", "https://evil.example")
        .form(&[
            ("username", "ada"),
            ("password", PASSWORD),
            ("csrf_token", &csrf),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(res.text().await.unwrap().contains("another site"));
    assert_eq!(
        visitor.get("/profile").await.status(),
        StatusCode::SEE_OTHER
    );

    // What a browser sends from Tessera's own pages, and what scripts send.
    let allowed: [&[(&str, &str)]; 4] = [
        &[("origin", own.as_str()), ("sec-fetch-site", "same-origin")],
        &[("sec-fetch-site", "none")],
        &[("origin", own.as_str())],
        &[],
    ];
    for headers in allowed {
        let visitor = app.visitor();
        visitor.login_ok("ada").await;
        assert_eq!(
            sign_out_from(&visitor, headers).await,
            StatusCode::SEE_OTHER,
            "{headers:?}"
        );
        assert_eq!(
            visitor.get("/profile").await.status(),
            StatusCode::SEE_OTHER
        );
    }
    assert_eq!(
        app.audit_rows("cross_site_request_denied").len(),
        rows.len() + 1
    );

    // The bearer-token API has no cookies to ride on: no Origin rule there.
    let res = common::bare_client()
        .post(app.url("/api/v1/sessions"))
        .header("origin", "https://evil.example")
        .header("sec-fetch-site", "cross-site")
        .json(&serde_json::json!({"username": "ada", "password": PASSWORD, "device_name": "Pixel"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let res = common::bare_client()
        .post(app.url("/api/v1/revoke"))
        .header("origin", "null")
        .form(&[("token", "tsrp_nothing")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}
