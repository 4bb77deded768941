//! The integration API: mobile sessions, introspection and revocation by value.

use crate::common;

use common::{
    PASSWORD, app_with_member, app_with_user, each_str, json_field_error, spawn_app, spawn_app_with,
};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

async fn mobile_sign_in(
    app: &common::TestApp,
    username: &str,
    password: &str,
) -> reqwest::Response {
    reqwest::Client::new()
        .post(app.url("/api/v1/sessions"))
        .json(&json!({ "username": username, "password": password, "device_name": "Pixel 9" }))
        .send()
        .await
        .unwrap()
}

async fn introspect(app: &common::TestApp, caller: &str, token: &str) -> (StatusCode, Value) {
    let res = reqwest::Client::new()
        .post(app.url("/api/v1/introspect"))
        .bearer_auth(caller)
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn revoke_by_value(app: &common::TestApp, token: &str) -> StatusCode {
    reqwest::Client::new()
        .post(app.url("/api/v1/revoke"))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap()
        .status()
}

#[actix_web::test]
async fn a_mobile_client_signs_in_uses_its_token_and_signs_out() {
    let (app, _) = app_with_member("ada").await;

    let res = mobile_sign_in(&app, "ada", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let body: Value = res.json().await.unwrap();
    let token = body["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("tsrs_"));
    assert!(body["expires_at"].as_str().unwrap().ends_with('Z'));

    let me: Value = app.api_me(&token).await.json().await.unwrap();
    assert_eq!(me["kind"], "session");
    assert_eq!(me["name"], "Pixel 9");
    assert_eq!(me["department"], "Dept Field");
    assert_eq!(me["scopes"], json!(["devices:read"]));
    assert_eq!(app.audit("mobile_login").len(), 1);

    // It shows under "Mobile Users Logged In", with the device.
    app.create_user("root", true);
    app.login_ok("root").await;
    let tab = app.get_html("/admin/tokens?tab=sessions").await;
    assert!(tab.contains("ada@example.com") && tab.contains("Pixel 9"));

    let res = app
        .api_send(Method::DELETE, "/api/v1/sessions/current", &token, None)
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.api_me(&token).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(app.audit("mobile_logout").len(), 1);
}

#[actix_web::test]
async fn mobile_sign_in_failures_look_alike_and_are_throttled() {
    let (app, _) = app_with_user("ada").await;
    let wrong = mobile_sign_in(&app, "ada", "wrong password").await;
    let unknown = mobile_sign_in(&app, "nobody", "wrong password").await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        wrong.json::<Value>().await.unwrap(),
        unknown.json::<Value>().await.unwrap()
    );
    for _ in 0..4 {
        mobile_sign_in(&app, "ada", "wrong password").await;
    }
    let res = mobile_sign_in(&app, "ada", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(res.headers().contains_key("retry-after"));
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"],
        "too_many_requests"
    );

    let res = reqwest::Client::new()
        .post(app.url("/api/v1/sessions"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"],
        "invalid_request"
    );
    assert_eq!(app.count("tokens"), 0);
}

#[actix_web::test]
async fn only_a_session_token_signs_itself_out() {
    let (app, ada) = app_with_user("ada").await;
    let personal = app.insert_token(ada.id, "personal", "ci", None);
    let res = app
        .api_send(
            Method::DELETE,
            "/api/v1/sessions/current",
            &personal.token,
            None,
        )
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "not_found");
    assert_eq!(app.api_me(&personal.token).await.status(), StatusCode::OK);
}

#[actix_web::test]
async fn introspection_reports_each_token_state() {
    let (app, rs) = app_with_user("resource-server").await;
    app.grant(rs.id, "Introspector", "introspect");
    let caller = introspecting_token(&app, rs.id);
    let ada = app.create_user("ada", false);
    let (department, user_type) = app.grant(ada.id, "Field", "devices:read");
    let api = app.insert_token(ada.id, "api", "ERP", Some((department, user_type)));

    let (status, body) = introspect(&app, &caller.token, &api.token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["active"], true);
    assert_eq!(body["scope"], "devices:read");
    assert_eq!(body["username"], "ada");
    assert_eq!(body["sub"], ada.id.to_string());
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["department"], "Dept Field");
    assert_eq!(body["user_type"], "Field");
    for field in ["exp", "iat", "client_id", "tenant"] {
        assert!(!body[field].is_null(), "{field}");
    }

    let inactive = json!({ "active": false });
    // Malformed and unknown.
    assert_eq!(introspect(&app, &caller.token, "garbage").await.1, inactive);
    let unknown =
        tessera::domain::token::PlainToken::generate("tsr", tessera::domain::token::TokenKind::Api);
    assert_eq!(
        introspect(&app, &caller.token, unknown.expose()).await.1,
        inactive
    );
    // Disabled, expired, revoked.
    app.db(|c| {
        tessera::db::tokens::set_status(c, api.id, tessera::domain::token::TokenStatus::Disabled)
    })
    .unwrap();
    assert_eq!(
        introspect(&app, &caller.token, &api.token).await.1,
        inactive
    );
    app.db(|c| {
        tessera::db::tokens::set_status(c, api.id, tessera::domain::token::TokenStatus::Active)
    })
    .unwrap();
    app.db(|conn| {
        use diesel::prelude::*;
        use tessera::db::schema::tokens::dsl as t;
        diesel::update(t::tokens.find(api.id))
            .set(t::expires_at.eq(Some(tessera::db::now() - chrono::TimeDelta::seconds(1))))
            .execute(conn)
    })
    .unwrap();
    assert_eq!(
        introspect(&app, &caller.token, &api.token).await.1,
        inactive
    );
    let other = app.insert_token(ada.id, "personal", "other", None);
    app.db(|c| tessera::db::tokens::revoke(c, other.id, None))
        .unwrap();
    assert_eq!(
        introspect(&app, &caller.token, &other.token).await.1,
        inactive
    );
}

#[actix_web::test]
async fn introspection_needs_the_introspect_scope() {
    let (app, ada) = app_with_member("ada").await;
    let plain = app.insert_token(ada.id, "personal", "ci", None);
    let res = reqwest::Client::new()
        .post(app.url("/api/v1/introspect"))
        .bearer_auth(&plain.token)
        .form(&[("token", &plain.token)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let challenge = res.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        challenge.contains("error=\"insufficient_scope\"")
            && challenge.contains("scope=\"introspect\""),
        "{challenge}"
    );
    let res = reqwest::Client::new()
        .post(app.url("/api/v1/introspect"))
        .form(&[("token", &plain.token)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

#[actix_web::test]
async fn anyone_can_revoke_a_leaked_token_by_value() {
    let (app, ada) = app_with_user("ada").await;
    let leaked = app.insert_token(ada.id, "personal", "leaked", None);
    assert_eq!(app.api_me(&leaked.token).await.status(), StatusCode::OK);
    assert_eq!(revoke_by_value(&app, &leaked.token).await, StatusCode::OK);
    assert_eq!(
        app.api_me(&leaked.token).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let audit = app.audit("token_revoked_by_value");
    assert_eq!(audit, vec![(None, "success".to_owned())]);
    // Again, or garbage, or unknown: still 200, and nothing else happens.
    assert_eq!(revoke_by_value(&app, &leaked.token).await, StatusCode::OK);
    assert_eq!(revoke_by_value(&app, "garbage").await, StatusCode::OK);
    assert!(!app.database_dump().contains(&leaked.token[9..]));
}

#[actix_web::test]
async fn revocation_by_value_is_rate_limited_per_address() {
    let app = spawn_app().await;
    for _ in 0..30 {
        assert_eq!(revoke_by_value(&app, "garbage").await, StatusCode::OK);
    }
    let res = reqwest::Client::new()
        .post(app.url("/api/v1/revoke"))
        .form(&[("token", "garbage")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(res.headers().contains_key("retry-after"));
}

/// A personal token of a fresh user holding `held`, with `scopes` of its own.
/// A personal token of `owner` with the `introspect` scope only.
fn introspecting_token(app: &common::TestApp, owner: i64) -> common::Seeded {
    use diesel::prelude::*;
    use tessera::db::schema::tokens::dsl as t;
    let caller = app.insert_token(owner, "personal", "rs", None);
    app.db(|conn| {
        diesel::update(t::tokens.find(caller.id))
            .set(t::scopes.eq("introspect"))
            .execute(conn)
    })
    .unwrap();
    caller
}

/// A token of ada with `tokens:write` and `devices:read`, while ada also
/// holds `devices:write`: what a token may grant is bounded by its own scopes.
async fn caller_without_devices_write(app: &common::TestApp) -> String {
    personal_token(
        app,
        "ada",
        "tokens:read tokens:write devices:read devices:write",
        &["tokens:write", "devices:read"],
    )
    .await
}

async fn personal_token(
    app: &common::TestApp,
    username: &str,
    held: &str,
    scopes: &[&str],
) -> String {
    let user = app.create_user(username, false);
    app.grant(user.id, &format!("{username}-type"), held);
    let visitor = app.visitor();
    visitor.login_ok(username).await;
    visitor.new_access_token("api caller", scopes).await.1
}

#[actix_web::test]
async fn the_token_api_manages_the_callers_own_tokens() {
    let app = spawn_app().await;
    let caller = personal_token(
        &app,
        "ada",
        "tokens:read tokens:write devices:read devices:write",
        &["tokens:read", "tokens:write", "devices:read"],
    )
    .await;

    let res = app.api_send(Method::POST, "/api/v1/tokens", &caller, Some(json!({ "name": "from the API", "scopes": ["devices:read"], "expires_in_days": 30 }))).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let created: Value = res.json().await.unwrap();
    let new_token = created["token"].as_str().unwrap().to_owned();
    let id = created["id"].as_i64().unwrap();
    assert_eq!(app.api_me(&new_token).await.status(), StatusCode::OK);

    let list: Value = app
        .api_send(Method::GET, "/api/v1/tokens", &caller, None)
        .await
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = each_str(&list["tokens"], "name");
    assert!(names.contains(&"from the API") && names.contains(&"api caller"));
    assert!(
        !list.to_string().contains(&new_token),
        "no secret in listings"
    );

    let one: Value = app
        .api_send(Method::GET, &format!("/api/v1/tokens/{id}"), &caller, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(one["scopes"], json!(["devices:read"]));

    let res = app
        .api_send(
            Method::PATCH,
            &format!("/api/v1/tokens/{id}"),
            &caller,
            Some(json!({ "description": "patched" })),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await.unwrap()["description"], "patched");

    let res = app
        .api_send(
            Method::POST,
            &format!("/api/v1/tokens/{id}/regenerate"),
            &caller,
            None,
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let regenerated = res.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        app.api_me(&new_token).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(app.api_me(&regenerated).await.status(), StatusCode::OK);

    let res = app
        .api_send(
            Method::DELETE,
            &format!("/api/v1/tokens/{id}"),
            &caller,
            None,
        )
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        app.api_me(&regenerated).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let res = app
        .api_send(Method::GET, &format!("/api/v1/tokens/{id}"), &caller, None)
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(res.json::<Value>().await.unwrap()["error"], "not_found");
}

#[actix_web::test]
async fn the_token_api_regenerates_with_an_overlap_and_a_new_lifetime() {
    let app = spawn_app().await;
    let caller = personal_token(
        &app,
        "ada",
        "tokens:read tokens:write devices:read",
        &["tokens:read", "tokens:write", "devices:read"],
    )
    .await;
    let res = app
        .api_send(
            Method::POST,
            "/api/v1/tokens",
            &caller,
            Some(json!({ "name": "deploy", "scopes": ["devices:read"], "expires_in_days": 30 })),
        )
        .await;
    let created: Value = res.json().await.unwrap();
    let (old, id) = (
        created["token"].as_str().unwrap().to_owned(),
        created["id"].as_i64().unwrap(),
    );
    let regenerate = format!("/api/v1/tokens/{id}/regenerate");

    // What the policy or the format does not allow changes nothing.
    app.set_settings("max_overlap_hours = 24");
    for (body, field) in [
        (json!({ "overlap": "7d" }), "overlap"),
        (json!({ "overlap": "2w" }), "overlap"),
        (json!({ "expires_at": "soon" }), "expires_at"),
        (json!({ "expires_in_days": 31 }), "expires_at"),
    ] {
        let res = app
            .api_send(Method::POST, &regenerate, &caller, Some(body.clone()))
            .await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        let answer: Value = res.json().await.unwrap();
        assert!(answer["fields"][field].is_string(), "{body}: {answer}");
    }
    assert_eq!(app.api_me(&old).await.status(), StatusCode::OK);

    // A day of overlap and a week's lifetime: both secrets work, the old one
    // until the overlap ends.
    let res = app
        .api_send(
            Method::POST,
            &regenerate,
            &caller,
            Some(json!({ "overlap": "1d", "expires_in_days": 7 })),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let issued: Value = res.json().await.unwrap();
    let new = issued["token"].as_str().unwrap();
    let week = (chrono::Utc::now() + chrono::TimeDelta::days(7))
        .format("%Y-%m-%d")
        .to_string();
    assert!(
        issued["expires_at"].as_str().unwrap().starts_with(&week),
        "{issued}"
    );
    assert_eq!(app.api_me(new).await.status(), StatusCode::OK);
    assert_eq!(app.api_me(&old).await.status(), StatusCode::OK);
    assert_eq!(app.audit_rows("previous_secret_used").len(), 1);
    app.advance_clock(std::time::Duration::from_secs(25 * 3600));
    assert_eq!(app.api_me(&old).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(app.api_me(new).await.status(), StatusCode::OK);
}

#[actix_web::test]
async fn the_token_api_never_escalates() {
    let app = spawn_app().await;
    // The owner holds devices:write, but the calling token does not.
    let caller = caller_without_devices_write(&app).await;
    let res = app
        .api_send(
            Method::POST,
            "/api/v1/tokens",
            &caller,
            Some(json!({ "name": "wider", "scopes": ["devices:read", "devices:write"] })),
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = res.json().await.unwrap();
    assert!(
        json_field_error(&body, "scopes").contains("devices:write"),
        "{body}"
    );

    let res = app
        .api_send(
            Method::POST,
            "/api/v1/tokens",
            &caller,
            Some(json!({ "name": "", "scopes": [] })),
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = res.json().await.unwrap();
    assert!(
        body["fields"]["name"].is_string() && body["fields"]["scopes"].is_string(),
        "{body}"
    );

    // tokens:read is missing: listing is refused with insufficient_scope.
    let res = app
        .api_send(Method::GET, "/api/v1/tokens", &caller, None)
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(
        res.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("insufficient_scope")
    );

    // Another user's token id is a 404.
    let bob = app.create_user("bob", false);
    let bobs = app.insert_token(bob.id, "personal", "bob's", None);
    let res = app
        .api_send(
            Method::DELETE,
            &format!("/api/v1/tokens/{}", bobs.id),
            &caller,
            None,
        )
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert!(!app.is_revoked(bobs.id));
    let res = app
        .api_send(Method::DELETE, "/api/v1/tokens/not-a-number", &caller, None)
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(app.count("tokens"), 2);
}

/// Twenty creations of one name (in any case) at once: the database's check
/// of live names (a statement trigger on PostgreSQL, which locks the owner and
/// then looks) lets exactly one through, and the others get the name error,
/// never a 5xx or a deadlock.
#[actix_web::test]
async fn concurrent_creations_of_one_name_make_one_token() {
    let app = spawn_app().await;
    let caller = personal_token(
        &app,
        "ada",
        "tokens:read tokens:write devices:read",
        &["tokens:write", "devices:read"],
    )
    .await;
    for (round, name) in ["Nightly deploy", "Ärger"].into_iter().enumerate() {
        let creations: Vec<_> = (0..20)
            .map(|i| {
                let (url, caller) = (app.url("/api/v1/tokens"), caller.clone());
                // Alternate the case: the names clash all the same.
                let name = if i % 2 == 0 {
                    name.to_owned()
                } else {
                    name.to_uppercase()
                };
                actix_web::rt::spawn(async move {
                    let res = reqwest::Client::new()
                        .post(url)
                        .bearer_auth(caller)
                        .json(&json!({ "name": name, "scopes": ["devices:read"] }))
                        .send()
                        .await
                        .unwrap();
                    let status = res.status();
                    (status, res.json::<Value>().await.unwrap_or(Value::Null))
                })
            })
            .collect();
        let mut answers = Vec::new();
        for creation in creations {
            answers.push(creation.await.unwrap());
        }
        let created = answers
            .iter()
            .filter(|(status, _)| *status == StatusCode::CREATED)
            .count();
        assert_eq!(created, 1, "round {round}: {answers:?}");
        for (status, body) in &answers {
            if *status != StatusCode::CREATED {
                assert_eq!(*status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
                assert!(
                    body["fields"]["name"]
                        .as_str()
                        .is_some_and(|m| m.contains("already have")),
                    "{body}"
                );
            }
        }
        let key = tessera::domain::policy::token_name_key(name);
        let live = app.db(|conn| {
            common::scalar(
                conn,
                &format!(
                    "SELECT COUNT(*) FROM tokens WHERE name_key = '{key}' AND revoked_at IS NULL"
                ),
            )
        });
        assert_eq!(live, 1, "round {round}");
    }
    // The caller's token and the two winners.
    assert_eq!(app.count("tokens"), 3);
}

#[actix_web::test]
async fn guessing_tokens_from_one_address_is_cut_off() {
    let (app, ada) = app_with_user("ada").await;
    let good = app.insert_token(ada.id, "personal", "ci", None);
    for i in 0..100 {
        let guess = if i % 2 == 0 {
            "tsrp_guess".to_owned()
        } else {
            tessera::domain::token::PlainToken::generate(
                "tsr",
                tessera::domain::token::TokenKind::Personal,
            )
            .expose()
            .to_owned()
        };
        assert_eq!(
            app.api_me(&guess).await.status(),
            StatusCode::UNAUTHORIZED,
            "guess {i}"
        );
    }
    let res = app.api_me("tsrp_one_more").await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry));
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"],
        "too_many_requests"
    );
    // The address is refused outright for the rest of the minute, even with a good token.
    assert_eq!(
        app.api_me(&good.token).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    // Unknown well-formed guesses were audited; malformed ones never reached the database.
    assert_eq!(app.audit("unknown_token_used").len(), 50);
}

/// Every (method, path) the router registers under `/api/v1/`, read from the
/// route table (`tessera::routes::table`).
fn router_routes() -> std::collections::BTreeSet<(String, String)> {
    common::route_table()
        .into_iter()
        .filter(|(_, path)| path.starts_with("/api/v1/"))
        .map(|(method, path)| (method.to_lowercase(), path))
        .collect()
}

#[actix_web::test]
async fn the_openapi_document_lists_every_route() {
    let app = spawn_app().await;
    let res = app.get("/api/openapi.json").await;
    assert_eq!(res.status(), StatusCode::OK);
    let doc: Value = res.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let mut documented = std::collections::BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            documented.insert((method.clone(), path.clone()));
            assert!(
                item[method]["responses"]
                    .as_object()
                    .is_some_and(|r| !r.is_empty()),
                "{method} {path} has responses"
            );
        }
    }
    let routed = router_routes();
    assert!(routed.len() >= 11, "{routed:?}");
    assert_eq!(documented, routed);
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    assert!(doc["components"]["schemas"]["ErrorBody"].is_object());

    // And every documented route answers (no 404 or 405 without credentials).
    let http = reqwest::Client::new();
    for (method, path) in &documented {
        let url = app.url(&path.replace("{id}", "1"));
        let req = http.request(method.to_uppercase().parse().expect("an HTTP method"), url);
        let status = req.send().await.unwrap().status();
        assert!(
            status != StatusCode::NOT_FOUND && status != StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}: {status}"
        );
    }
}

#[actix_web::test]
async fn oversized_api_bodies_get_413_with_a_json_error() {
    let app = spawn_app().await;
    let client = reqwest::Client::new();
    let big = "x".repeat(100 * 1024);
    let responses = [
        client
            .post(app.url("/api/v1/sessions"))
            .header("content-type", "application/json")
            .body(format!(
                r#"{{"username":"{big}","password":"p","device_name":"d"}}"#
            ))
            .send()
            .await
            .unwrap(),
        client
            .post(app.url("/api/v1/revoke"))
            .form(&[("token", big.as_str())])
            .send()
            .await
            .unwrap(),
    ];
    for res in responses {
        assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"], "invalid_request");
    }
}

#[actix_web::test]
async fn unknown_api_routes_and_methods_answer_in_json() {
    let app = spawn_app().await;
    let res = reqwest::get(app.url("/api/v1/nothing")).await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "not_found");
    let res = reqwest::Client::new()
        .put(app.url("/api/v1/me"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert!(res.headers().contains_key("allow"));
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request");
}

/// The documented routes that need a bearer token, with the scope each needs.
async fn bearer_routes(app: &common::TestApp) -> Vec<(String, String, Option<String>)> {
    let doc: Value = app.get("/api/openapi.json").await.json().await.unwrap();
    let mut routes = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if op["security"].is_null() {
                continue;
            }
            let described = op["responses"]["403"]["description"].as_str().is_some();
            let scope = match (path.as_str(), method.as_str()) {
                ("/api/v1/introspect", _) => Some("introspect"),
                (p, "get") if p.starts_with("/api/v1/tokens") => Some("tokens:read"),
                (p, _) if p.starts_with("/api/v1/tokens") => Some("tokens:write"),
                _ => None,
            };
            assert_eq!(
                described,
                scope.is_some(),
                "{method} {path} documents its 403"
            );
            routes.push((method.clone(), path.clone(), scope.map(str::to_owned)));
        }
    }
    assert_eq!(routes.len(), 9, "{routes:?}");
    routes
}

fn request(app: &common::TestApp, method: &str, path: &str) -> reqwest::RequestBuilder {
    let url = app.url(&path.replace("{id}", "1"));
    let http = reqwest::Client::new();
    let req = http.request(method.to_uppercase().parse().expect("an HTTP method"), url);
    match (method, path) {
        ("post", "/api/v1/introspect") => req.form(&[("token", "tsrp_x")]),
        ("post" | "patch", _) => req.json(&json!({})),
        _ => req,
    }
}

/// A 400 `invalid_request` of RFC 6750 §3.1: the challenge names the error
/// and the body is the JSON error.
async fn assert_invalid_request(res: reqwest::Response, what: &str) {
    assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{what}");
    assert_eq!(
        res.headers()["www-authenticate"],
        r#"Bearer realm="tessera", error="invalid_request""#,
        "{what}"
    );
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request", "{what}");
    assert!(body["error_description"].is_string(), "{what}");
}

#[actix_web::test]
async fn every_bearer_route_speaks_rfc_6750() {
    // About ten refused authentications per route: far from the address limit.
    let app = spawn_app_with(|config| config.api_failures_per_minute = 10_000).await;
    let ada = app.create_user("ada", false);
    app.grant(ada.id, "Reader", "devices:read");
    let plain = app.insert_token(ada.id, "personal", "plain", None).token;
    let revoked = app.insert_token(ada.id, "personal", "gone", None);
    app.db(|c| tessera::db::tokens::revoke(c, revoked.id, None))
        .unwrap();
    let unknown = tessera::domain::token::PlainToken::generate(
        "tsr",
        tessera::domain::token::TokenKind::Personal,
    );
    for (method, path, scope) in bearer_routes(&app).await {
        let what = format!("{method} {path}");
        // No credentials: a bare challenge.
        let res = request(&app, &method, &path).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{what}");
        assert_eq!(
            res.headers()["www-authenticate"],
            r#"Bearer realm="tessera""#,
            "{what}"
        );
        let body: Value = res.json().await.unwrap();
        assert!(body["error_description"].is_string(), "{what}");

        // A token in the query string is never read: alone it is no
        // credentials; beside a header it is a second way of sending one.
        let query = format!("{path}?access_token={plain}");
        let res = request(&app, &method, &query).send().await.unwrap();
        assert_eq!(
            res.status(),
            StatusCode::UNAUTHORIZED,
            "{what} ?access_token"
        );
        assert_eq!(
            res.headers()["www-authenticate"],
            r#"Bearer realm="tessera""#,
            "{what} ?access_token"
        );
        for header in [&plain, &revoked.token] {
            let res = request(&app, &method, &query)
                .bearer_auth(header)
                .send()
                .await
                .unwrap();
            assert_invalid_request(res, &format!("{what} header and ?access_token")).await;
        }

        // Malformed, unknown and revoked tokens: invalid_token.
        for bad in ["not-a-token", unknown.expose(), &revoked.token] {
            let res = request(&app, &method, &path)
                .bearer_auth(bad)
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{what}");
            let challenge = res.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .to_owned();
            assert!(
                challenge.starts_with(r#"Bearer realm="tessera""#)
                    && challenge.contains(r#"error="invalid_token""#),
                "{what}: {challenge}"
            );
            let body: Value = res.json().await.unwrap();
            assert_eq!(body["error"], "invalid_token", "{what}");
        }

        // Another scheme is no credentials.
        let res = request(&app, &method, &path)
            .header("authorization", format!("Basic {plain}"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{what} Basic");
        assert_eq!(
            res.headers()["www-authenticate"],
            r#"Bearer realm="tessera""#,
            "{what} Basic"
        );
        // RFC 6750 §3.1: two headers, no token, or more than one word.
        let res = request(&app, &method, &path)
            .bearer_auth(&plain)
            .header("authorization", format!("Bearer {plain}"))
            .send()
            .await
            .unwrap();
        assert_invalid_request(res, &format!("{what} two headers")).await;
        for malformed in [
            "Bearer".to_owned(),
            "Bearer ".to_owned(),
            format!("Bearer {plain} {plain}"),
            format!("Bearer {plain} extra"),
        ] {
            let res = request(&app, &method, &path)
                .header("authorization", &malformed)
                .send()
                .await
                .unwrap();
            assert_invalid_request(res, &format!("{what} {malformed:?}")).await;
        }

        // A valid token without the scope the route needs.
        if let Some(scope) = scope {
            let res = request(&app, &method, &path)
                .bearer_auth(&plain)
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), StatusCode::FORBIDDEN, "{what}");
            let challenge = res.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .to_owned();
            assert!(
                challenge.contains(r#"error="insufficient_scope""#)
                    && challenge.contains(&format!(r#"scope="{scope}""#)),
                "{what}: {challenge}"
            );
            let body: Value = res.json().await.unwrap();
            assert_eq!(body["error"], "insufficient_scope", "{what}");
        }
    }
    // Nothing above changed the token that was used without its scope.
    assert_eq!(app.api_me(&plain).await.status(), StatusCode::OK);
}

#[actix_web::test]
async fn the_token_api_touches_only_access_tokens_and_clients() {
    let app = spawn_app().await;
    let caller = personal_token(
        &app,
        "ada",
        "tokens:read tokens:write",
        &["tokens:read", "tokens:write"],
    )
    .await;
    let ada = app
        .db(|c| tessera::db::users::find_by_username(c, "ada"))
        .unwrap()
        .unwrap();
    let (department, user_type) = app.grant(ada.id, "Field", "devices:read");
    let api = app.insert_token(ada.id, "api", "ERP", Some((department, user_type)));
    let session = app.insert_token(ada.id, "session", "Pixel", Some((department, user_type)));
    let bob = app.create_user("bob", false);
    let bobs = app.insert_token(bob.id, "personal", "bob's", None);
    let http = reqwest::Client::new();
    let listed: Value = app
        .api_send(Method::GET, "/api/v1/tokens", &caller, None)
        .await
        .json()
        .await
        .unwrap();
    let kinds: Vec<&str> = each_str(&listed["tokens"], "kind");
    assert!(
        kinds.iter().all(|k| *k == "personal" || *k == "client"),
        "{kinds:?}"
    );
    for id in [api.id, session.id, bobs.id] {
        for req in [
            http.get(app.url(&format!("/api/v1/tokens/{id}"))),
            http.delete(app.url(&format!("/api/v1/tokens/{id}"))),
            http.post(app.url(&format!("/api/v1/tokens/{id}/regenerate"))),
        ] {
            let res = req.bearer_auth(&caller).send().await.unwrap();
            assert_eq!(res.status(), StatusCode::NOT_FOUND, "token {id}");
        }
    }
    for token in [&api.token, &session.token, &bobs.token] {
        assert_eq!(app.api_me(token).await.status(), StatusCode::OK);
    }
    let denied = app.audit_rows("token_access_denied");
    assert_eq!(denied.len(), 9);
    assert!(
        denied
            .iter()
            .all(|r| r.actor_name.as_deref() == Some("ada"))
    );
}

/// Days from now to an RFC 3339 instant, rounded.
fn days_until(at: &Value) -> i64 {
    let at = chrono::DateTime::parse_from_rfc3339(at.as_str().expect("a time")).unwrap();
    let seconds = (at.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_seconds();
    (seconds as f64 / 86_400.0).round() as i64
}

#[actix_web::test]
async fn expiries_follow_the_policy_settings() {
    let (app, ada) = app_with_user("ada").await;
    app.grant(ada.id, "Field", "devices:read tokens:write");
    let caller = app.insert_token(ada.id, "personal", "caller", None);
    app.db(|conn| {
        use diesel::prelude::*;
        use tessera::db::schema::tokens::dsl as t;
        diesel::update(t::tokens.find(caller.id))
            .set(t::scopes.eq("devices:read tokens:write"))
            .execute(conn)
    })
    .unwrap();

    // A mobile session lives 30 days by default.
    let body: Value = mobile_sign_in(&app, "ada", PASSWORD)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(days_until(&body["expires_at"]), 30, "{body}");

    app.set_settings("default_lifetime_days = 20, max_lifetime_days = 45, mobile_session_days = 7");
    let body: Value = mobile_sign_in(&app, "ada", PASSWORD)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(days_until(&body["expires_at"]), 7, "the setting: {body}");

    // The token API without an expiry takes the policy's default lifetime, not a
    // fixed 90 days (which this policy's maximum would refuse).
    let create = |name: &'static str, extra: Value| {
        let mut body = json!({ "name": name, "scopes": ["devices:read"] });
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        reqwest::Client::new()
            .post(app.url("/api/v1/tokens"))
            .bearer_auth(&caller.token)
            .json(&body)
            .send()
    };
    let res = create("default", json!({})).await.unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let body: Value = res.json().await.unwrap();
    assert_eq!(days_until(&body["expires_at"]), 20, "{body}");
    // A preset beyond the maximum is refused beside the field, as on the form.
    let res = create("long", json!({ "expires_in_days": 60 }))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        body["fields"]["expires_at"], "The policy allows at most 45 days; choose an earlier date.",
        "{body}"
    );
}

#[actix_web::test]
async fn a_patch_never_widens_and_speaks_like_the_form() {
    let app = spawn_app().await;
    // The owner holds devices:write; the calling token does not.
    let caller = caller_without_devices_write(&app).await;
    let http = reqwest::Client::new();
    let res = app
        .api_send(
            Method::POST,
            "/api/v1/tokens",
            &caller,
            Some(json!({ "name": "narrow", "scopes": ["devices:read"] })),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let id = res.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let patch = |body: Value, id: i64| {
        http.patch(app.url(&format!("/api/v1/tokens/{id}")))
            .bearer_auth(&caller)
            .json(&body)
            .send()
    };

    let res = patch(json!({ "scopes": ["devices:read", "devices:write"] }), id)
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        body["fields"]["scopes"], "You cannot grant devices:write: you do not hold it.",
        "the form's words: {body}"
    );
    // A scope the owner does not hold either: one message, each scope once.
    let res = patch(json!({ "scopes": ["users:write", "devices:write"] }), id)
        .await
        .unwrap();
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        body["fields"]["scopes"],
        "You cannot grant devices:write, users:write: you do not hold it.",
        "{body}"
    );
    let stored = app.db(|conn| {
        use diesel::prelude::*;
        use tessera::db::schema::tokens::dsl as t;
        t::tokens.find(id).select(t::scopes).first::<String>(conn)
    });
    assert_eq!(stored.unwrap(), "devices:read", "nothing changed");

    // Narrowing and the description are fine.
    let res = patch(json!({ "description": "nightly" }), id)
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await.unwrap()["description"], "nightly");

    // A client's scopes come from its role: a patch is a field error, not a 400.
    let ada = app
        .db(|c| tessera::db::users::find_by_username(c, "ada"))
        .unwrap()
        .unwrap();
    let (_, role) = app.grant(ada.id, "BI", "devices:read");
    let client = app.insert_token(ada.id, "client", "BI", None);
    app.db(|conn| {
        use diesel::prelude::*;
        use tessera::db::schema::tokens::dsl as t;
        diesel::update(t::tokens.find(client.id))
            .set(t::user_type_id.eq(Some(role)))
            .execute(conn)
    })
    .unwrap();
    let res = patch(json!({ "description": "x" }), client.id)
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(!res.headers().contains_key("www-authenticate"));
    let body: Value = res.json().await.unwrap();
    assert!(body["fields"]["token"].is_string(), "{body}");
}

#[actix_web::test]
async fn a_missing_scope_is_audited_and_bad_bodies_carry_no_challenge() {
    let (app, ada) = app_with_member("ada").await;
    let plain = app.insert_token(ada.id, "personal", "ci", None);
    let res = app
        .api_send(Method::GET, "/api/v1/tokens", &plain.token, None)
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let rows = app.audit_rows("token_scope_denied");
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].target_id, Some(plain.id));
    assert_eq!(rows[0].actor_name.as_deref(), Some("ada"));
    assert_eq!(rows[0].outcome, "denied");
    assert_eq!(rows[0].detail.as_deref(), Some("needs tokens:read"));
    let label = rows[0].target_label.clone().unwrap();
    assert!(label.starts_with("ci (tsrp_") && !label.contains(&plain.token[9..]));

    // A body that is not what the route takes is not about the token: no
    // WWW-Authenticate challenge on routes that need none.
    let res = reqwest::Client::new()
        .post(app.url("/api/v1/sessions"))
        .header("content-type", "application/json")
        .body("[1]")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(!res.headers().contains_key("www-authenticate"));
    let res = reqwest::Client::new()
        .post(app.url("/api/v1/revoke"))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(!res.headers().contains_key("www-authenticate"));
}

#[actix_web::test]
async fn revocation_by_value_records_the_callers_address() {
    let (app, ada) = app_with_user("ada").await;
    let leaked = app.insert_token(ada.id, "personal", "leaked", None);
    let res = reqwest::Client::new()
        .post(app.url("/api/v1/revoke"))
        .header("user-agent", "leak-scanner/1.0")
        .form(&[("token", leaked.token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let (ip, agent, target): (Option<String>, Option<String>, Option<i64>) = app
        .db(|conn| {
            use diesel::prelude::*;
            use tessera::db::schema::audit_events::dsl as a;
            a::audit_events
                .filter(a::action.eq("token_revoked_by_value"))
                .select((a::ip, a::user_agent, a::target_id))
                .first(conn)
        })
        .unwrap();
    assert_eq!(ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(agent.as_deref(), Some("leak-scanner/1.0"));
    assert_eq!(target, Some(leaked.id));

    // A user agent that is not UTF-8 is kept as far as it can be read.
    let res = reqwest::Client::new()
        .post(app.url("/api/v1/revoke"))
        .header(
            "user-agent",
            reqwest::header::HeaderValue::from_bytes(b"Scanner (Z\xfcrich)").unwrap(),
        )
        .form(&[("token", leaked.token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let agents: Vec<Option<String>> = app
        .db(|conn| {
            use diesel::prelude::*;
            use tessera::db::schema::audit_events::dsl as a;
            a::audit_events
                .filter(a::action.eq("token_revoked_by_value"))
                .order(a::id.asc())
                .select(a::user_agent)
                .load(conn)
        })
        .unwrap();
    assert_eq!(agents[1].as_deref(), Some("Scanner (Z\u{fffd}rich)"));
}

#[actix_web::test]
async fn introspection_of_a_disabled_users_token_is_inactive() {
    let app = spawn_app().await;
    let rs = app.create_user("resource-server", true);
    let caller = introspecting_token(&app, rs.id);
    let ada = app.create_user("ada", false);
    app.grant(ada.id, "Field", "devices:read");
    let token = app.insert_token(ada.id, "personal", "ci", None);
    assert_eq!(
        introspect(&app, &caller.token, &token.token).await.1["active"],
        true
    );

    // Disabled through the admin page, so the server learns of it as it would.
    let admin = app.visitor();
    admin.login_ok("resource-server").await;
    let res = admin
        .submit(
            &format!("/admin/users/{}", ada.id),
            &format!("/admin/users/{}/disable", ada.id),
            &[],
        )
        .await;
    assert!(res.status().is_redirection(), "{}", res.status());
    assert_eq!(
        introspect(&app, &caller.token, &token.token).await.1,
        json!({ "active": false })
    );
}

#[actix_web::test]
async fn a_mobile_session_acts_with_everything_a_user_of_several_memberships_holds() {
    let (app, ada) = app_with_member("ada").await;
    app.grant(ada.id, "Office", "policies:read");
    let body: Value = mobile_sign_in(&app, "ada", PASSWORD)
        .await
        .json()
        .await
        .unwrap();
    let me: Value = app
        .api_me(body["token"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        me["scopes"],
        json!(["devices:read", "policies:read"]),
        "{me}"
    );
    assert_eq!(me["department"], Value::Null);
}

#[actix_web::test]
async fn the_openapi_document_names_the_shared_errors_of_every_operation() {
    let app = spawn_app().await;
    let doc: Value = app.get("/api/openapi.json").await.json().await.unwrap();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let responses = op["responses"].as_object().unwrap();
            let has = |status: &str| responses.contains_key(status);
            assert!(has("503"), "{method} {path}");
            if op.get("security").is_some() {
                for status in ["400", "401", "429"] {
                    assert!(has(status), "{method} {path} {status}");
                }
            }
            if op.get("requestBody").is_some() {
                assert!(has("400") && has("413"), "{method} {path}");
            }
        }
    }
}

#[actix_web::test]
async fn last_use_shows_on_the_profile_the_inventory_and_the_detail_page() {
    let app = spawn_app().await;
    app.create_user("root", true);
    let ada = app.create_user("ada", false);
    app.grant(ada.id, "Field", "devices:read");
    let token = app.insert_token(ada.id, "personal", "ci", None);
    let session = app.insert_token(ada.id, "session", "Pixel 9", None);
    for (t, agent) in [
        (&token, "deploy-bot/2.1"),
        (&session, "TesseraMobile/3.0 (Android 15)"),
    ] {
        let res = reqwest::Client::new()
            .get(app.url("/api/v1/me"))
            .bearer_auth(&t.token)
            .header("user-agent", agent)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
    }
    // Buffered, then written within the flush interval (1 s).
    let written = || {
        app.db(|conn| {
            use diesel::prelude::*;
            use tessera::db::schema::tokens::dsl as t;
            t::tokens
                .filter(t::last_used_user_agent.is_not_null())
                .count()
                .get_result::<i64>(conn)
        })
        .unwrap()
            == 2
    };
    assert!(common::eventually(written).await, "last uses are written");

    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let visitor = app.visitor();
    visitor.login_ok("ada").await;
    let page = visitor.get_html("/profile/tokens").await;
    let row = scraper::Html::parse_document(&page);
    let cell = row
        .select(&scraper::Selector::parse(&format!("tr[data-token-id='{}']", token.id)).unwrap())
        .next()
        .expect("the token's row")
        .html();
    assert!(
        cell.contains(&today) && cell.contains("127.0.0.1"),
        "{cell}"
    );
    assert!(cell.contains("deploy-bot/2.1"), "{cell}");

    app.login_ok("root").await;
    let list = app.get_html("/admin/tokens?tab=api").await;
    assert!(list.contains(&today), "the inventory's last used column");
    let detail = app.get_html(&format!("/admin/tokens/{}", token.id)).await;
    assert!(detail.contains("from 127.0.0.1") && detail.contains("deploy-bot/2.1"));
    let detail = app.get_html(&format!("/admin/tokens/{}", session.id)).await;
    assert!(
        detail.contains("from 127.0.0.1") && detail.contains("TesseraMobile/3.0 (Android 15)"),
        "{detail}"
    );
}

/// Expiry is judged by the server's clock, on the cached path (the first use
/// keeps the token in memory) as on the database's: moved past the expiry, the
/// same token is refused and the refusal audited.
#[actix_web::test]
async fn a_token_is_refused_once_the_servers_clock_passes_its_expiry() {
    let (app, _) = common::admin_app().await;
    let (_, token) = app.new_access_token("short-lived", &["tokens:read"]).await;
    assert_eq!(app.api_me(&token).await.status(), StatusCode::OK);
    let expires_at = app.db(|conn| {
        use diesel::prelude::*;
        use tessera::db::schema::tokens::dsl as t;
        t::tokens
            .filter(t::name.eq("short-lived"))
            .select(t::expires_at)
            .first::<Option<chrono::NaiveDateTime>>(conn)
    });
    let left = expires_at.unwrap().expect("the default lifetime") - tessera::db::now();

    app.advance_clock((left - chrono::TimeDelta::minutes(1)).to_std().unwrap());
    assert_eq!(
        app.api_me(&token).await.status(),
        StatusCode::OK,
        "a minute left"
    );
    app.advance_clock(std::time::Duration::from_secs(120));
    assert_eq!(app.api_me(&token).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(app.audit("expired_token_used").len(), 1);
}
