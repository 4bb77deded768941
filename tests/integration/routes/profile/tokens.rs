//! Token Management on the profile page: personal access tokens and clients that
//! really authenticate `/api/v1/me`, and every way they stop doing so.

use crate::common;

use common::{
    PASSWORD, admin_app, app_with_member, app_with_user, content_type, eventually, input_value,
    json_field_error, location, new_token_in, refused_page, spawn_app, text_of,
};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const WARNING: &str = "Make sure to copy your token now. You won't be able to see it again.";

/// The `data-token-id` of the first token row of a page.
fn first_token_id(html: &str) -> &str {
    html.split("data-token-id=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a token row")
}

/// The scopes `/api/v1/me` reports for a token.
async fn scopes_of(app: &common::TestApp, token: &str) -> Value {
    app.me(token).await.1["scopes"].clone()
}

#[actix_web::test]
async fn a_new_access_token_is_shown_once_and_authenticates() {
    let (app, ada) = app_with_user("ada").await;
    app.grant(
        ada.id,
        "Field",
        "devices:read devices:write collections:read",
    );
    app.login_ok("ada").await;

    let res = app.create_access_token("ci", &["devices:read"]).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let page = res.text().await.unwrap();
    assert!(page.contains(WARNING));
    let token = new_token_in(&page);
    // {prefix}{kind}_ + 30 body + 6 check characters (the token format).
    assert!(token.starts_with("tsrp_") && token.len() == 41, "{token}");

    let (status, body) = app.me(&token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["user"]["username"], "ada");
    assert_eq!(body["kind"], "personal");
    assert_eq!(body["name"], "ci");
    assert_eq!(body["scopes"], serde_json::json!(["devices:read"]));
    assert!(body["expires_at"].as_str().unwrap().ends_with('Z'));

    // Afterwards the token appears nowhere: not in the list, not on its edit page,
    // not in the audit log, not anywhere in the database.
    let list = app.get_html("/profile/tokens").await;
    assert!(!list.contains(&token));
    assert!(list.contains(&token[..9]), "the display prefix is shown");
    let id = first_token_id(&list);
    assert!(
        !app.get_html(&format!("/profile/tokens/{id}/edit"))
            .await
            .contains(&token)
    );
    assert!(!app.database_dump().contains(&token[9..]));
    assert_eq!(app.audit("token_created").len(), 1);
}

#[actix_web::test]
async fn scopes_offered_and_granted_are_limited_to_what_the_user_holds() {
    let (app, ada) = app_with_user("ada").await;
    app.grant(ada.id, "Reader", "devices:read");
    app.login_ok("ada").await;

    let form = app.get_html("/profile/tokens/new").await;
    assert!(form.contains("value=\"devices:read\""));
    assert!(
        !form.contains("value=\"users:write\""),
        "only held scopes are offered"
    );

    let page = refused_page(
        app.create_access_token("sneaky", &["devices:read", "users:write"])
            .await,
    )
    .await;
    assert!(
        text_of(&page, "#scopes-error")
            .unwrap()
            .contains("users:write")
    );
    assert_eq!(input_value(&page, "name").as_deref(), Some("sneaky"));
    assert_eq!(app.count("tokens"), 0);

    let res = app.create_access_token("nothing", &[]).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.count("tokens"), 0);
}

#[actix_web::test]
async fn a_name_clash_keeps_what_was_typed() {
    let (app, ada) = app_with_user("ada").await;
    app.grant(ada.id, "Field", "devices:read collections:read");
    app.login_ok("ada").await;
    app.new_access_token("Deploy", &["devices:read"]).await;

    let page = refused_page(
        app.submit_access_token(&[
            ("name", "deploy"),
            ("description", "second one"),
            ("scopes", "collections:read"),
            ("expires_in_days", "60"),
        ])
        .await,
    )
    .await;
    assert_eq!(
        text_of(&page, "#name-error").as_deref(),
        Some("You already have an access token named “deploy”. Choose another name.")
    );
    assert_eq!(input_value(&page, "name").as_deref(), Some("deploy"));
    assert_eq!(
        text_of(&page, "#token-description").as_deref(),
        Some("second one")
    );
    assert!(page.contains("value=\"collections:read\" checked"));
    assert!(page.contains("value=\"60\" selected"));
    assert_eq!(app.count("tokens"), 1);

    // Another user may use the same name; so may the same user after revoking.
    let bob = app.create_user("bob", false);
    app.grant(bob.id, "Other", "devices:read");
    let other = app.visitor();
    other.login_ok("bob").await;
    other.new_access_token("deploy", &["devices:read"]).await;

    let (first, old) = app.new_access_token("Reused", &["devices:read"]).await;
    assert_eq!(
        app.create_access_token("reused", &["devices:read"])
            .await
            .status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        app.token_action(first, "revoke").await.status(),
        StatusCode::SEE_OTHER
    );
    let (second, new) = app.new_access_token("reused", &["devices:read"]).await;
    assert_ne!(first, second, "a new record under the freed name");
    assert_eq!(app.me(&new).await.0, StatusCode::OK);
    assert_eq!(app.me(&old).await.0, StatusCode::UNAUTHORIZED);
}

/// SQLite's lower() folds ASCII only; names must clash whatever their letters.
#[actix_web::test]
async fn names_clash_case_insensitively_beyond_ascii() {
    let (app, ada) = app_with_user("ada").await;
    let (_, role) = app.grant(ada.id, "Field", "devices:read");
    app.login_ok("ada").await;
    app.new_access_token("Ärger", &["devices:read"]).await;

    let page = refused_page(
        app.submit_access_token(&[
            ("name", "ärger"),
            ("description", "typed"),
            ("scopes", "devices:read"),
            ("expires_in_days", "30"),
        ])
        .await,
    )
    .await;
    assert_eq!(
        text_of(&page, "#name-error").as_deref(),
        Some("You already have an access token named “ärger”. Choose another name.")
    );
    assert_eq!(input_value(&page, "name").as_deref(), Some("ärger"));
    assert_eq!(
        text_of(&page, "#token-description").as_deref(),
        Some("typed")
    );
    assert_eq!(app.count("tokens"), 1);

    // Clients too, with their own article; a different kind may share the name.
    let role = role.to_string();
    let expires = (chrono::Utc::now() + chrono::TimeDelta::days(30))
        .format("%Y-%m-%d")
        .to_string();
    let provision = async |name: &str| {
        app.submit_client(&[("name", name), ("role_id", &role), ("expires_at", &expires)])
            .await
    };
    assert_eq!(provision("ÖL-Export").await.status(), StatusCode::OK);
    let page = refused_page(provision("öl-export").await).await;
    assert_eq!(
        text_of(&page, "#name-error").as_deref(),
        Some("You already have a client named “öl-export”. Choose another name.")
    );
    assert_eq!(input_value(&page, "name").as_deref(), Some("öl-export"));
    assert_eq!(provision("ärger").await.status(), StatusCode::OK);
    assert_eq!(app.count("tokens"), 3);
}

#[actix_web::test]
async fn expiry_is_bounded_by_the_policy() {
    let (app, _) = app_with_member("ada").await;
    app.login_ok("ada").await;
    let too_far = (chrono::Utc::now() + chrono::TimeDelta::days(400))
        .format("%Y-%m-%d")
        .to_string();
    for (days, date) in [
        ("never", ""),
        ("31", ""),
        ("30", too_far.as_str()),
        ("30", "yesterday"),
    ] {
        let res = app
            .submit_access_token(&[
                ("name", "t"),
                ("scopes", "devices:read"),
                ("expires_in_days", days),
                ("expires_at", date),
            ])
            .await;
        assert_eq!(
            res.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{days} {date}"
        );
        assert!(text_of(&res.text().await.unwrap(), "#expires_at-error").is_some());
    }
    let soon = (chrono::Utc::now() + chrono::TimeDelta::days(3))
        .format("%Y-%m-%d")
        .to_string();
    let res = app
        .submit_access_token(&[
            ("name", "t"),
            ("scopes", "devices:read"),
            ("expires_in_days", "90"),
            ("expires_at", &soon),
        ])
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let list = app.get_html("/profile/tokens").await;
    assert!(list.contains(&soon) && list.contains("Expires soon"));
}

#[actix_web::test]
async fn a_client_acts_with_its_role() {
    let (app, ada) = app_with_user("ada").await;
    let (_, role) = app.grant(ada.id, "BI", "collections:read devices:read");
    let (_, other_role) = {
        let bob = app.create_user("bob", false);
        app.grant(bob.id, "Admin-ish", "users:write")
    };
    app.login_ok("ada").await;

    let form = app.get_html("/profile/clients/new").await;
    assert!(
        form.contains(">BI<") && !form.contains("Admin-ish"),
        "only held roles are offered"
    );

    let expires = (chrono::Utc::now() + chrono::TimeDelta::days(30))
        .format("%Y-%m-%d")
        .to_string();
    let res = app
        .submit_client(&[
            ("name", "JDBC"),
            ("role_id", &other_role.to_string()),
            ("expires_at", &expires),
        ])
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text_of(&res.text().await.unwrap(), "#role_id-error").is_some());

    let res = app
        .submit_client(&[
            ("name", "JDBC"),
            ("role_id", &role.to_string()),
            ("expires_at", &expires),
        ])
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let token = new_token_in(&res.text().await.unwrap());
    assert!(token.starts_with("tsrc_"));
    let (status, body) = app.me(&token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["kind"], "client");
    assert_eq!(body["user_type"], "BI");
    assert_eq!(
        body["scopes"],
        serde_json::json!(["collections:read", "devices:read"])
    );

    let list = app.get_html("/profile/tokens").await;
    let clients = list.split("id=\"clients-heading\"").nth(1).unwrap();
    assert!(clients.contains("JDBC") && clients.contains("BI"));
    assert!(!clients.contains("/edit\""), "clients have no Edit action");
}

#[actix_web::test]
async fn edit_narrows_freely_and_never_widens_beyond_the_owner() {
    let (app, ada) = app_with_user("ada").await;
    app.grant(ada.id, "Field", "devices:read devices:write");
    app.login_ok("ada").await;
    let (id, token) = app
        .new_access_token("ci", &["devices:read", "devices:write"])
        .await;

    let res = app
        .edit_token(
            id,
            &[("scopes", "devices:read"), ("description", "narrowed")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(scopes_of(&app, &token).await, json!(["devices:read"]));

    let res = app
        .edit_token(
            id,
            &[
                ("scopes", "devices:read"),
                ("scopes", "users:write"),
                ("description", "wider"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(scopes_of(&app, &token).await, json!(["devices:read"]));
    let list = app.get_html("/profile/tokens").await;
    assert!(list.contains("narrowed") && !list.contains("wider"));
    assert_eq!(app.audit("token_edited").len(), 1);
}

#[actix_web::test]
async fn regenerate_disable_enable_and_revoke() {
    let (app, _) = app_with_member("ada").await;
    app.login_ok("ada").await;
    app.step_up().await;
    let (id, old) = app.new_access_token("ci", &["devices:read"]).await;

    // Regenerate: a new secret, shown once; the old one is refused at once.
    let created = issue_of(&app, id);
    assert_eq!(expiry_of(&app, id) - created, chrono::TimeDelta::days(30));
    let res = app.token_action(id, "regenerate").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let new = new_token_in(&res.text().await.unwrap());
    assert_ne!(old, new);
    assert_eq!(app.me(&old).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(app.me(&new).await.0, StatusCode::OK);
    // The new secret keeps the token's 30-day lifetime, counted from its
    // issue, not the policy's 90-day default.
    let issued = issue_of(&app, id);
    assert!(issued > created, "issued again at regeneration");
    assert_eq!(expiry_of(&app, id) - issued, chrono::TimeDelta::days(30));

    // Disable and enable.
    let res = app.token_action(id, "disable").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.me(&new).await.0, StatusCode::UNAUTHORIZED);
    assert!(
        app.get_html("/profile/tokens")
            .await
            .contains("badge-disabled")
    );
    app.token_action(id, "enable").await;
    assert_eq!(app.me(&new).await.0, StatusCode::OK);

    // Revoke asks first, then the row leaves the list and the secret is refused.
    let confirm = app.get_html(&format!("/profile/tokens/{id}/revoke")).await;
    assert_eq!(
        text_of(&confirm, "form.confirm button").as_deref(),
        Some("Revoke")
    );
    let res = app.token_action(id, "revoke").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(res.headers()), "/profile/tokens");
    assert!(
        !app.get_html("/profile/tokens")
            .await
            .contains(&format!("data-token-id=\"{id}\""))
    );
    assert_eq!(app.me(&new).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(app.audit("revoked_token_used").len(), 1);
    assert_eq!(
        app.token_action(id, "enable").await.status(),
        StatusCode::NOT_FOUND,
        "revoked is final"
    );

    app.assert_audited_once(&[
        "token_created",
        "token_regenerated",
        "token_disabled",
        "token_enabled",
        "token_revoked",
    ]);
    let dump = app.database_dump();
    assert!(
        !dump.contains(&old[9..]) && !dump.contains(&new[9..]),
        "no secret is stored or audited"
    );
}

#[actix_web::test]
async fn users_see_and_touch_only_their_own_tokens() {
    let (app, _) = app_with_member("ada").await;
    let mallory = app.create_user("mallory", false);
    app.grant(mallory.id, "Other", "devices:read");
    app.login_ok("ada").await;
    let (id, token) = app.new_access_token("mine", &["devices:read"]).await;

    let intruder = app.visitor();
    intruder.login_ok("mallory").await;
    // Stepped up, so that what refuses below is the ownership, not the step-up.
    intruder.step_up().await;
    assert!(!intruder.get_html("/profile/tokens").await.contains("mine"));
    for path in [
        format!("/profile/tokens/{id}/edit"),
        format!("/profile/tokens/{id}/revoke"),
    ] {
        assert_eq!(
            intruder.get(&path).await.status(),
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    for action in ["regenerate", "disable", "enable", "revoke"] {
        assert_eq!(
            intruder.token_action(id, action).await.status(),
            StatusCode::NOT_FOUND,
            "{action}"
        );
    }
    let res = intruder
        .submit(
            "/profile/tokens",
            &format!("/profile/tokens/{id}"),
            &[("scopes", "devices:read"), ("description", "pwned")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(app.me(&token).await.0, StatusCode::OK, "nothing changed");
    assert!(!app.get_html("/profile/tokens").await.contains("pwned"));

    // Every attempt is audited: the intruder as actor, the token by id and label.
    let denied = app.audit_rows("token_access_denied");
    assert_eq!(denied.len(), 7, "2 pages, 4 actions, 1 edit: {denied:?}");
    for row in &denied {
        assert_eq!(row.actor_name.as_deref(), Some("mallory"));
        assert_eq!(row.outcome, "denied");
        assert_eq!(row.target_type.as_deref(), Some("token"));
        assert_eq!(row.target_id, Some(id));
        let label = row.target_label.as_deref().unwrap();
        assert!(
            label.contains("mine") && label.contains(&token[..9]),
            "{label}"
        );
        assert!(!label.contains(&token[9..]), "no secret in the audit row");
    }
    // An id that is nobody's token is a plain 404, with nothing to audit.
    assert_eq!(
        intruder.token_action(id + 1000, "disable").await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(app.audit_rows("token_access_denied").len(), 7);
}

/// API tokens (issued by an administrator) and mobile sessions belong to the
/// user but are not the profile's to manage: the API token is only listed, the
/// session only signed out (its revoke); every other profile route is a 404
/// that changes nothing, and is audited.
#[actix_web::test]
async fn profile_routes_leave_api_tokens_and_sessions_alone() {
    let (app, ada) = app_with_user("ada").await;
    let membership = app.grant(ada.id, "Field", "devices:read");
    let api = app.insert_token(ada.id, "api", "ERP sync", Some(membership));
    let session = app.insert_token(ada.id, "session", "Pixel 9", Some(membership));
    app.login_ok("ada").await;
    app.step_up().await;
    let page = app.get_html("/profile/tokens").await;
    assert_eq!(rows_in(&page, "issued-for-you"), [api.id]);
    assert_eq!(rows_in(&page, "devices"), [session.id]);
    for managed in ["access-tokens-heading", "clients-heading"] {
        let section = text_of(&page, &format!("section[aria-labelledby={managed}]")).unwrap();
        assert!(!section.contains("ERP sync") && !section.contains("Pixel 9"));
    }

    let before = |id: i64| {
        use diesel::prelude::*;
        use tessera::db::schema::tokens::dsl as t;
        app.db(|conn| {
            t::tokens
                .find(id)
                .select((
                    t::display_prefix,
                    t::status,
                    t::scopes,
                    t::description,
                    t::expires_at,
                    t::revoked_at,
                ))
                .first::<(
                    String,
                    String,
                    String,
                    String,
                    Option<chrono::NaiveDateTime>,
                    Option<chrono::NaiveDateTime>,
                )>(conn)
                .unwrap()
        })
    };
    for seeded in [&api, &session] {
        let id = seeded.id;
        let row = before(id);
        for path in [
            format!("/profile/tokens/{id}/edit"),
            format!("/profile/tokens/{id}/revoke"),
        ] {
            assert_eq!(
                app.get(&path).await.status(),
                StatusCode::NOT_FOUND,
                "{path}"
            );
        }
        // Used before each attempt, so a cached success cannot hide a change.
        let actions: &[&str] = if id == session.id {
            &["regenerate", "disable", "enable"]
        } else {
            &["regenerate", "disable", "enable", "revoke"]
        };
        for action in actions {
            assert_eq!(app.me(&seeded.token).await.0, StatusCode::OK);
            assert_eq!(
                app.token_action(id, action).await.status(),
                StatusCode::NOT_FOUND,
                "{action} of {id}"
            );
            assert_eq!(app.me(&seeded.token).await.0, StatusCode::OK, "{action}");
        }
        let res = app
            .submit(
                "/profile/tokens",
                &format!("/profile/tokens/{id}"),
                &[("scopes", "devices:read"), ("description", "mine now")],
            )
            .await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
        assert_eq!(before(id), row, "the row did not change");
        assert_eq!(app.me(&seeded.token).await.0, StatusCode::OK);

        let denied: Vec<_> = app
            .audit_rows("token_access_denied")
            .into_iter()
            .filter(|r| r.target_id == Some(id))
            .collect();
        assert_eq!(denied.len(), 3 + actions.len(), "{denied:?}");
        assert!(
            denied
                .iter()
                .all(|r| r.actor_name.as_deref() == Some("ada") && r.outcome == "denied")
        );
    }
    for action in [
        "token_regenerated",
        "token_disabled",
        "token_enabled",
        "token_revoked",
        "token_edited",
    ] {
        assert!(app.audit(action).is_empty(), "{action}");
    }
}

#[actix_web::test]
async fn tokens_stop_working_with_their_owner() {
    let (app, ada) = app_with_user("ada").await;
    let (department, user_type) = app.grant(ada.id, "Field", "devices:read devices:write");
    app.login_ok("ada").await;
    let (_, token) = app
        .new_access_token("ci", &["devices:read", "devices:write"])
        .await;

    // Demoted out of a scope: the next request is narrower.
    app.db(|c| tessera::db::user_types::set_scopes(c, user_type, "devices:read"))
        .unwrap();
    assert_eq!(scopes_of(&app, &token).await, json!(["devices:read"]));
    // Out of every membership: no scopes, but still a valid token.
    app.db(|c| tessera::db::memberships::remove(c, ada.id, department, user_type))
        .unwrap();
    assert_eq!(app.me(&token).await.1["scopes"], serde_json::json!([]));
    // Disabled owner: refused.
    app.disable_user(ada.id);
    assert_eq!(app.me(&token).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(app.audit("token_of_disabled_user_used").len(), 1);
}

#[actix_web::test]
async fn an_expired_token_is_refused() {
    let (app, _) = app_with_member("ada").await;
    app.login_ok("ada").await;
    let (id, token) = app.new_access_token("ci", &["devices:read"]).await;
    let (fresh, _) = app.new_access_token("fresh", &["devices:read"]).await;
    assert_eq!(app.me(&token).await.0, StatusCode::OK);
    app.db(|conn| {
        use diesel::prelude::*;
        use tessera::db::schema::tokens::dsl as t;
        diesel::update(t::tokens.find(id))
            .set(t::expires_at.eq(Some(tessera::db::now() - chrono::TimeDelta::seconds(1))))
            .execute(conn)
    })
    .unwrap();
    assert_eq!(app.me(&token).await.0, StatusCode::UNAUTHORIZED);
    // The badge is on that token's row, and on no other.
    let list = app.get_html("/profile/tokens").await;
    let badges = |id: i64| -> Vec<String> {
        select_all(&list, &format!("tr[data-token-id=\"{id}\"] .badge"))
            .into_iter()
            .map(|(text, _)| text)
            .collect()
    };
    assert!(
        badges(id).iter().any(|b| b == "Expired"),
        "{:?}",
        badges(id)
    );
    assert!(
        !badges(id).iter().any(|b| b == "Active"),
        "an expired token is not called active: {:?}",
        badges(id)
    );
    assert!(!badges(fresh).iter().any(|b| b == "Expired"));
    assert_eq!(
        select_all(&list, ".badge")
            .iter()
            .filter(|(text, _)| text == "Expired")
            .count(),
        1
    );
    assert_eq!(app.audit("expired_token_used").len(), 1);
}

#[actix_web::test]
async fn api_me_speaks_rfc_6750() {
    let (app, _) = app_with_member("ada").await;
    app.login_ok("ada").await;
    let (_, token) = app.new_access_token("ci", &["devices:read"]).await;
    let client = reqwest::Client::new();

    // No credentials (and the session cookie does not count).
    let res = app.get("/api/v1/me").await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        res.headers()["www-authenticate"],
        "Bearer realm=\"tessera\""
    );
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"],
        "invalid_request"
    );

    // ?access_token= is never read.
    let res = client
        .get(app.url(&format!("/api/v1/me?access_token={token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);

    // Malformed: wrong checksum, wrong prefix, garbage. Refused without a database lookup (no audit row).
    let mut flipped = token.clone().into_bytes();
    flipped[12] = if flipped[12] == b'A' { b'B' } else { b'A' };
    let flipped = String::from_utf8(flipped).unwrap();
    for bad in [
        flipped.as_str(),
        "tsrp_short",
        "garbage",
        &token.replacen("tsr", "xyz", 1),
    ] {
        let res = app.api_me(bad).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{bad}");
        let challenge = res.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"], "invalid_token");
        assert!(body["error_description"].is_string());
    }
    assert_eq!(app.audit("unknown_token_used").len(), 0);

    // Well-formed but unknown: refused and audited by display prefix.
    let unknown = tessera::domain::token::PlainToken::generate(
        "tsr",
        tessera::domain::token::TokenKind::Personal,
    );
    assert_eq!(
        app.api_me(unknown.expose()).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(app.audit("unknown_token_used").len(), 1);
}

#[actix_web::test]
async fn last_use_is_recorded_at_most_once_a_minute() {
    let (app, _) = app_with_member("ada").await;
    app.login_ok("ada").await;
    let (id, token) = app.new_access_token("ci", &["devices:read"]).await;
    let (other, other_token) = app.new_access_token("other", &["devices:read"]).await;
    let last_used = |id: i64| {
        app.db(|conn| {
            use diesel::prelude::*;
            use tessera::db::schema::tokens::dsl as t;
            t::tokens
                .find(id)
                .select((t::last_used_at, t::last_used_ip))
                .first::<(Option<chrono::NaiveDateTime>, Option<String>)>(conn)
        })
        .unwrap()
    };
    assert_eq!(last_used(id).0, None);
    app.api_me(&token).await;
    // Uses are buffered and written about once a second.
    assert!(eventually(|| last_used(id).0.is_some()).await);
    let (first, ip) = last_used(id);
    assert_eq!(ip.as_deref(), Some("127.0.0.1"));
    app.api_me(&token).await;
    // A use of another token after it: once that one is written, a write of
    // the second use, had there been one, would be there too (one buffer, one
    // transaction per flush).
    app.api_me(&other_token).await;
    assert!(eventually(|| last_used(other).0.is_some()).await);
    assert_eq!(last_used(id).0, first, "no write within the minute");
    assert!(app.get_html("/profile/tokens").await.contains("127.0.0.1"));
    // A minute later, a use is written again.
    app.advance_clock(std::time::Duration::from_secs(61));
    app.api_me(&token).await;
    assert!(eventually(|| last_used(id).0 > first).await);
}

#[actix_web::test]
async fn hostile_names_are_shown_escaped() {
    let (app, _) = app_with_member("ada").await;
    app.login_ok("ada").await;
    let payload = "<script>alert(1)</script>";
    let res = app.create_access_token(payload, &["devices:read"]).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(!res.text().await.unwrap().contains(payload));
    let list = app.get_html("/profile/tokens").await;
    assert!(!list.contains(payload));
    assert!(list.contains("&#60;script&#62;") || list.contains("&lt;script&gt;"));
}

#[actix_web::test]
async fn every_token_form_needs_the_csrf_token() {
    let (app, ada) = app_with_user("ada").await;
    let (_, role) = app.grant(ada.id, "Field", "devices:read");
    app.login_ok("ada").await;
    let (id, token) = app.new_access_token("ci", &["devices:read"]).await;
    // A disabled one, for the enable route.
    let (off, off_token) = app.new_access_token("off", &["devices:read"]).await;
    assert_eq!(
        app.token_action(off, "disable").await.status(),
        StatusCode::SEE_OTHER
    );
    let tokens_before = app.count("tokens");
    let role = role.to_string();
    let posts: Vec<(String, Vec<(&str, &str)>)> = vec![
        (
            "/profile/tokens".into(),
            vec![
                ("name", "x"),
                ("scopes", "devices:read"),
                ("expires_in_days", "30"),
            ],
        ),
        (
            "/profile/clients".into(),
            vec![
                ("name", "x"),
                ("role_id", &role),
                ("expires_at", "2099-01-01"),
            ],
        ),
        (
            format!("/profile/tokens/{id}"),
            vec![("scopes", "devices:read"), ("description", "x")],
        ),
        (format!("/profile/tokens/{id}/regenerate"), vec![]),
        (format!("/profile/tokens/{id}/disable"), vec![]),
        (format!("/profile/tokens/{off}/enable"), vec![]),
        (format!("/profile/tokens/{id}/revoke"), vec![]),
    ];
    for (path, fields) in posts {
        let mut with_bad = fields.clone();
        with_bad.push(("csrf_token", "forged"));
        assert_eq!(
            app.post_form(&path, &fields).await.status(),
            StatusCode::FORBIDDEN,
            "{path}"
        );
        assert_eq!(
            app.post_form(&path, &with_bad).await.status(),
            StatusCode::FORBIDDEN,
            "{path}"
        );
    }
    assert_eq!(app.count("tokens"), tokens_before);
    assert_eq!(
        app.me(&token).await.0,
        StatusCode::OK,
        "still works, unchanged"
    );
    assert_eq!(
        app.me(&off_token).await.0,
        StatusCode::UNAUTHORIZED,
        "still disabled"
    );
    assert_eq!(app.audit("token_enabled").len(), 0);
    let _ = PASSWORD;
}

#[actix_web::test]
async fn creation_can_be_switched_off() {
    let (app, _) = app_with_member("ada").await;
    app.set_settings("token_creation_enabled = FALSE");
    app.login_ok("ada").await;
    let form = app.get_html("/profile/tokens/new").await;
    assert!(form.contains("switched off"));
    let res = app.create_access_token("ci", &["devices:read"]).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.count("tokens"), 0);
}

/// Edit checks added scopes against the active catalog, as create does: even an
/// administrator (who holds everything) cannot store a scope that does not exist.
#[actix_web::test]
async fn edit_refuses_scopes_outside_the_catalog() {
    let (app, _) = admin_app().await;
    let (id, token) = app.new_access_token("ci", &["devices:read"]).await;

    let page = refused_page(
        app.edit_token(
            id,
            &[
                ("scopes", "devices:read"),
                ("scopes", "bogus:scope"),
                ("description", "typed here"),
            ],
        )
        .await,
    )
    .await;
    assert_eq!(
        text_of(&page, "#scopes-error").as_deref(),
        Some("There is no scope called bogus:scope.")
    );
    assert_eq!(
        text_of(&page, "#token-description").as_deref(),
        Some("typed here")
    );
    assert!(page.contains("value=\"devices:read\" checked"));
    assert_eq!(scopes_of(&app, &token).await, json!(["devices:read"]));
    let stored: String = app.db(|conn| {
        use diesel::prelude::*;
        use tessera::db::schema::tokens::dsl as t;
        t::tokens.find(id).select(t::scopes).first(conn).unwrap()
    });
    assert_eq!(stored, "devices:read");
    assert!(app.audit("token_edited").is_empty());
}

/// The expiry of a token row, straight from the database.
fn expiry_of(app: &common::TestApp, id: i64) -> chrono::NaiveDateTime {
    use diesel::prelude::*;
    use tessera::db::schema::tokens::dsl as t;
    app.db(|conn| {
        t::tokens
            .find(id)
            .select(t::expires_at)
            .first::<Option<chrono::NaiveDateTime>>(conn)
            .unwrap()
            .expect("an expiry")
    })
}

/// When a token's current secret was issued.
fn issue_of(app: &common::TestApp, id: i64) -> chrono::NaiveDateTime {
    use diesel::prelude::*;
    use tessera::db::schema::tokens::dsl as t;
    app.db(|conn| t::tokens.find(id).select(t::issued_at).first(conn))
        .unwrap()
}

/// The whole lifecycle of a client over HTTP, the token used right before and
/// right after every change.
#[actix_web::test]
async fn a_client_lives_its_whole_lifecycle_over_http() {
    let (app, ada) = app_with_user("ada").await;
    let (_, role) = app.grant(ada.id, "BI", "collections:read devices:read");
    app.login_ok("ada").await;
    app.step_up().await;
    let expires = (chrono::Utc::now() + chrono::TimeDelta::days(30))
        .format("%Y-%m-%d")
        .to_string();
    let res = app
        .submit_client(&[
            ("name", "Test runner"),
            ("role_id", &role.to_string()),
            ("expires_at", &expires),
        ])
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let first = new_token_in(&res.text().await.unwrap());
    let list = app.get_html("/profile/tokens").await;
    let clients = list.split("id=\"clients-heading\"").nth(1).unwrap();
    let id: i64 = first_token_id(clients).parse().unwrap();

    // Regenerate: shorten the expiry first; the new secret keeps that
    // lifetime (issue to expiry), counted from the regeneration, rather than
    // the policy's default.
    app.db(|conn| {
        use diesel::prelude::*;
        use tessera::db::schema::tokens::dsl as t;
        diesel::update(t::tokens.find(id))
            .set(t::expires_at.eq(Some(tessera::db::now() + chrono::TimeDelta::days(2))))
            .execute(conn)
    })
    .unwrap();
    let lifetime = expiry_of(&app, id) - issue_of(&app, id);
    assert!(lifetime <= chrono::TimeDelta::days(2) + chrono::TimeDelta::minutes(1));
    assert_eq!(app.me(&first).await.0, StatusCode::OK);
    let res = app.token_action(id, "regenerate").await;
    assert_eq!(res.status(), StatusCode::OK);
    let second = new_token_in(&res.text().await.unwrap());
    assert!(second.starts_with("tsrc_") && second != first);
    assert_eq!(app.me(&first).await.0, StatusCode::UNAUTHORIZED);
    let (status, body) = app.me(&second).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["kind"], "client");
    assert_eq!(expiry_of(&app, id) - issue_of(&app, id), lifetime);

    // Disable, enable, revoke: each refused or accepted at once.
    assert_eq!(app.me(&second).await.0, StatusCode::OK);
    assert_eq!(
        app.token_action(id, "disable").await.status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(app.me(&second).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.token_action(id, "enable").await.status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(app.me(&second).await.0, StatusCode::OK);
    assert_eq!(
        app.token_action(id, "revoke").await.status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(app.me(&second).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(app.audit("revoked_token_used").len(), 1);
    app.assert_audited_once(&[
        "token_regenerated",
        "token_disabled",
        "token_enabled",
        "token_revoked",
    ]);
}

/// An administrator changes the owner through the admin pages; the owner's token,
/// used right before each change, is narrowed or refused right after it.
#[actix_web::test]
async fn demotion_and_disabling_through_the_admin_pages_reach_the_tokens() {
    let (app, _) = admin_app().await;
    let ada = app.create_user("ada", true);
    let (department, user_type) = app.grant(ada.id, "Field", "devices:read");
    let owner = app.visitor();
    owner.login_ok("ada").await;
    let (_, token) = owner
        .new_access_token("ci", &["devices:read", "users:write"])
        .await;
    let user_page = format!("/admin/users/{}", ada.id);

    // The administrator flag taken away: users:write goes, devices:read stays.
    assert_eq!(
        scopes_of(&app, &token).await,
        json!(["devices:read", "users:write"])
    );
    let res = app
        .submit(
            &user_page,
            &user_page,
            &[("email", "ada@example.com"), ("display_name", "Ada")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(scopes_of(&app, &token).await, json!(["devices:read"]));

    // The membership that gave devices:read removed: nothing left.
    let res = app
        .submit(
            &user_page,
            &format!("{user_page}/memberships/remove"),
            &[("membership", &format!("{department}:{user_type}"))],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.me(&token).await.1["scopes"], serde_json::json!([]));

    // Disabled: refused.
    assert_eq!(app.me(&token).await.0, StatusCode::OK);
    let res = app
        .submit(&user_page, &format!("{user_page}/disable"), &[])
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.me(&token).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(app.audit("token_of_disabled_user_used").len(), 1);
}

/// Regenerating makes a new credential, so it stops with token creation: on the
/// profile, on the administrator's token page and in the JSON API. Nothing changes.
#[actix_web::test]
async fn regenerate_is_refused_while_creation_is_switched_off() {
    let app = spawn_app().await;
    app.create_user("root", true);
    let ada = app.create_user("ada", false);
    app.grant(ada.id, "Field", "devices:read tokens:write");
    app.login_ok("ada").await;
    app.step_up().await;
    let (id, token) = app
        .new_access_token("ci", &["devices:read", "tokens:write"])
        .await;
    let prefix_and_expiry = || {
        use diesel::prelude::*;
        use tessera::db::schema::tokens::dsl as t;
        app.db(|conn| {
            t::tokens
                .find(id)
                .select((t::display_prefix, t::expires_at))
                .first::<(String, Option<chrono::NaiveDateTime>)>(conn)
                .unwrap()
        })
    };
    let before = prefix_and_expiry();
    app.set_settings("token_creation_enabled = FALSE");

    // Profile: back to the list with the reason.
    let res = app.token_action(id, "regenerate").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(res.headers()), "/profile/tokens");
    let list = app.get_html("/profile/tokens").await;
    assert!(
        text_of(&list, ".flash-error")
            .unwrap()
            .contains("Token creation is switched off"),
        "{list}"
    );
    assert_eq!(app.me(&token).await.0, StatusCode::OK);

    // Administrator's token page (a client: the console does not regenerate
    // a member's access token at all).
    let client = app.insert_token(ada.id, "client", "backup job", None);
    let admin = app.visitor();
    admin.login_ok("root").await;
    admin.step_up().await;
    let detail = format!("/admin/tokens/{}", client.id);
    let res = admin
        .submit(&detail, &format!("{detail}/regenerate"), &[])
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(res.headers()), detail);
    let page = admin.get_html(&detail).await;
    assert!(
        text_of(&page, ".flash-error")
            .unwrap()
            .contains("Token creation is switched off")
    );
    assert_eq!(app.me(&client.token).await.0, StatusCode::OK);
    assert_eq!(app.me(&token).await.0, StatusCode::OK);

    // JSON API.
    let res = app
        .api_send(
            Method::POST,
            &format!("/api/v1/tokens/{id}/regenerate"),
            &token,
            None,
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = res.json().await.unwrap();
    assert!(
        json_field_error(&body, "token").contains("Token creation is switched off"),
        "{body}"
    );
    assert!(body.get("token").is_none());

    assert_eq!(app.me(&token).await.0, StatusCode::OK);
    assert_eq!(prefix_and_expiry(), before, "nothing changed");
    assert!(app.audit("token_regenerated").is_empty());
}

/// The revoke confirmation loaded into a dialog (the script says so with a
/// header) leaves a pending message for the page the person sees next.
#[actix_web::test]
async fn the_confirmation_dialog_does_not_eat_a_pending_message() {
    let (app, _) = app_with_member("ada").await;
    app.login_ok("ada").await;
    let (id, _) = app.new_access_token("ci", &["devices:read"]).await;
    // Leaves "Disabled “ci”…" for the next page, without following the redirect.
    assert_eq!(
        app.token_action(id, "disable").await.status(),
        StatusCode::SEE_OTHER
    );
    let res = app
        .client
        .get(app.url(&format!("/profile/tokens/{id}/revoke")))
        .header("X-Tessera-Dialog", "1")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(!res.text().await.unwrap().contains("Disabled “ci”"));
    let list = app.get_html("/profile/tokens").await;
    assert!(
        text_of(&list, ".flash-success")
            .unwrap()
            .contains("Disabled “ci”"),
        "{list}"
    );
    // Shown once.
    assert!(
        !app.get_html("/profile/tokens")
            .await
            .contains("Disabled “ci”")
    );
}

/// The elements matching `css` in a page, as (their text, their HTML).
fn select_all(html: &str, css: &str) -> Vec<(String, String)> {
    let doc = scraper::Html::parse_document(html);
    let selector = scraper::Selector::parse(css).unwrap();
    doc.select(&selector)
        .map(|el| {
            let text: String = el.text().collect();
            (
                text.split_whitespace().collect::<Vec<_>>().join(" "),
                el.html(),
            )
        })
        .collect()
}

/// The dates `days` from today (UTC), as a form takes them.
fn date_in(days: i64) -> String {
    (chrono::Utc::now() + chrono::TimeDelta::days(days))
        .format("%Y-%m-%d")
        .to_string()
}

#[actix_web::test]
async fn a_new_user_sees_what_each_empty_section_is_for() {
    let (app, _) = app_with_user("ada").await;
    app.login_ok("ada").await;
    let page = app.get_html("/profile/tokens").await;
    assert_eq!(
        text_of(
            &page,
            "section[aria-labelledby=access-tokens-heading] p.empty"
        )
        .as_deref(),
        Some(
            "You have no access tokens. An access token lets a script or tool call Tessera's API \
             as you, limited to the scopes you choose, until it expires or you revoke it."
        )
    );
    assert_eq!(
        text_of(&page, "section[aria-labelledby=clients-heading] p.empty").as_deref(),
        Some(
            "You have no clients. A client is a named machine connection (for example \"BI\" or \
             \"JDBC\") whose token acts with the permissions of its client role."
        )
    );
    assert!(select_all(&page, "tr[data-token-id]").is_empty());
    assert!(
        select_all(&page, "table.tokens:not(.web-sessions)").is_empty(),
        "no empty tables (the web sessions always list this browser)"
    );
    for section in ["issued-for-you", "devices"] {
        assert!(
            text_of(&page, &format!("#{section} p.empty")).is_some(),
            "{section} says what it is for"
        );
    }
}

/// What `/api/v1/me` answers a token that is no longer valid: exactly the RFC
/// 6750 challenge and error body.
async fn assert_invalid_token(app: &common::TestApp, token: &str, why: &str) {
    let res = app.api_me(token).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{why}");
    assert_eq!(
        res.headers()["www-authenticate"],
        "Bearer realm=\"tessera\", error=\"invalid_token\"",
        "{why}"
    );
    assert!(content_type(&res).starts_with("application/json"), "{why}");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "invalid_token", "{why}: {body}");
    assert!(
        body["error_description"]
            .as_str()
            .is_some_and(|d| !d.is_empty()),
        "{why}: {body}"
    );
    assert!(!body.to_string().contains(&token[9..]), "{why}: no secret");
}

#[actix_web::test]
async fn expired_disabled_and_orphaned_tokens_get_the_rfc_6750_answer_and_an_audit_row() {
    let (app, _) = app_with_member("ada").await;
    let bob = app.create_user("bob", false);
    app.grant(bob.id, "Other", "devices:read");
    app.login_ok("ada").await;
    let (expired_id, expired) = app.new_access_token("old", &["devices:read"]).await;
    let (disabled_id, disabled) = app.new_access_token("paused", &["devices:read"]).await;
    let bobs = app.insert_token(bob.id, "personal", "bobs", None);
    for token in [&expired, &disabled, &bobs.token] {
        assert_eq!(app.me(token).await.0, StatusCode::OK);
    }

    app.db(|conn| {
        use diesel::prelude::*;
        use tessera::db::schema::tokens::dsl as t;
        diesel::update(t::tokens.find(expired_id))
            .set(t::expires_at.eq(Some(tessera::db::now() - chrono::TimeDelta::seconds(1))))
            .execute(conn)
    })
    .unwrap();
    assert_eq!(
        app.token_action(disabled_id, "disable").await.status(),
        StatusCode::SEE_OTHER
    );
    app.disable_user(bob.id);

    assert_invalid_token(&app, &expired, "expired").await;
    assert_invalid_token(&app, &disabled, "disabled").await;
    assert_invalid_token(&app, &bobs.token, "disabled owner").await;
    for (action, id) in [
        ("expired_token_used", expired_id),
        ("disabled_token_used", disabled_id),
        ("token_of_disabled_user_used", bobs.id),
    ] {
        let rows = app.audit_rows(action);
        assert_eq!(rows.len(), 1, "{action}: {rows:?}");
        assert_eq!(rows[0].target_id, Some(id), "{action}");
        assert_eq!(rows[0].outcome, "denied", "{action}");
    }
}

#[actix_web::test]
async fn past_and_too_distant_dates_are_refused_beside_the_field_keeping_what_was_typed() {
    let (app, ada) = app_with_user("ada").await;
    let (_, role) = app.grant(ada.id, "Field", "devices:read devices:write");
    app.login_ok("ada").await;
    let (yesterday, too_far) = (date_in(-1), date_in(366));
    for (date, message) in [
        (yesterday.as_str(), "Choose a date after today."),
        (
            too_far.as_str(),
            "The policy allows at most 365 days; choose an earlier date.",
        ),
    ] {
        let page = refused_page(
            app.submit_access_token(&[
                ("name", "nightly backup"),
                ("description", "typed by hand"),
                ("scopes", "devices:write"),
                ("expires_in_days", "30"),
                ("expires_at", date),
            ])
            .await,
        )
        .await;
        assert_eq!(
            text_of(&page, "#expires_at-error").as_deref(),
            Some(message),
            "{date}"
        );
        assert_eq!(
            input_value(&page, "expires_at").as_deref(),
            Some(date),
            "the date typed stays"
        );
        assert_eq!(
            input_value(&page, "name").as_deref(),
            Some("nightly backup")
        );
        assert_eq!(
            text_of(&page, "#token-description").as_deref(),
            Some("typed by hand")
        );
        assert!(page.contains("value=\"devices:write\" checked"), "{date}");
        assert!(!page.contains("value=\"devices:read\" checked"), "{date}");

        let page = refused_page(
            app.submit_client(&[
                ("name", "JDBC"),
                ("role_id", &role.to_string()),
                ("expires_at", date),
            ])
            .await,
        )
        .await;
        assert_eq!(
            text_of(&page, "input#client-expires-at + #expires_at-error").as_deref(),
            Some(message),
            "{date}, right after the field"
        );
        assert_eq!(input_value(&page, "expires_at").as_deref(), Some(date));
        assert_eq!(input_value(&page, "name").as_deref(), Some("JDBC"));
        assert_eq!(
            select_all(&page, "#client-role option[selected]")
                .into_iter()
                .map(|(text, _)| text)
                .collect::<Vec<_>>(),
            ["Field"],
            "the role chosen stays"
        );
    }
    assert_eq!(app.count("tokens"), 0);
    // The last allowed day is fine, on both forms.
    let last = date_in(365);
    let res = app
        .submit_client(&[
            ("name", "JDBC"),
            ("role_id", &role.to_string()),
            ("expires_at", &last),
        ])
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = app
        .submit_access_token(&[
            ("name", "nightly backup"),
            ("scopes", "devices:write"),
            ("expires_in_days", "30"),
            ("expires_at", &last),
        ])
        .await;
    assert_eq!(res.status(), StatusCode::OK);
}

#[actix_web::test]
async fn a_preset_longer_than_the_maximum_lifetime_is_refused() {
    let (app, _) = app_with_member("ada").await;
    app.set_settings("max_lifetime_days = 364, default_lifetime_days = 90");
    app.login_ok("ada").await;
    let form = app.get_html("/profile/tokens/new").await;
    assert!(form.contains("<option value=\"180\""));
    assert!(
        !form.contains("<option value=\"365\""),
        "a preset beyond the maximum is not offered"
    );
    // A hand-made POST asks for it anyway.
    let page = refused_page(
        app.submit_access_token(&[
            ("name", "ci"),
            ("scopes", "devices:read"),
            ("expires_in_days", "365"),
            ("expires_at", ""),
        ])
        .await,
    )
    .await;
    assert_eq!(
        text_of(&page, "#expires_at-error").as_deref(),
        Some("The policy allows at most 364 days; choose an earlier date.")
    );
    assert_eq!(input_value(&page, "name").as_deref(), Some("ci"));
    assert_eq!(app.count("tokens"), 0);
    assert!(app.audit("token_created").is_empty());
    let res = app.create_access_token("ci", &["devices:read"]).await;
    assert_eq!(res.status(), StatusCode::OK, "a preset within it is fine");
}

#[actix_web::test]
async fn an_admin_provisions_a_client_with_any_user_type_a_user_only_with_a_held_role() {
    let app = spawn_app().await;
    app.create_user("root", true);
    let ada = app.create_user("ada", false);
    let (department, held) = app.grant(ada.id, "BI", "collections:read");
    let bob = app.create_user("bob", false);
    let (_, bobs) = app.grant(bob.id, "Ops", "devices:write");
    let nobodys = app
        .db(|c| tessera::db::user_types::create(c, "Auditor", "", "users:read"))
        .unwrap();
    let expires = date_in(30);

    // The administrator holds no membership at all, and may use every user type.
    let admin = app.visitor();
    admin.login_ok("root").await;
    let form = admin.get_html("/profile/clients/new").await;
    for name in ["Auditor", "BI", "Ops"] {
        assert!(
            form.contains(&format!(">{name}</option>")),
            "{name} offered"
        );
    }
    let res = admin
        .submit_client(&[
            ("name", "Audit export"),
            ("role_id", &nobodys.to_string()),
            ("expires_at", &expires),
        ])
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let token = new_token_in(&res.text().await.unwrap());
    let (status, body) = app.me(&token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["user_type"], "Auditor");
    assert_eq!(body["scopes"], serde_json::json!(["users:read"]));

    // A user: only a role held through a membership, whatever the POST says.
    app.login_ok("ada").await;
    let provision = |role: String| {
        let expires = expires.clone();
        let app = &app;
        async move {
            app.submit_client(&[
                ("name", "JDBC"),
                ("role_id", &role),
                ("expires_at", &expires),
            ])
            .await
        }
    };
    let before = app.count("tokens");
    for role in [
        bobs.to_string(),
        nobodys.to_string(),
        "999999".to_owned(),
        String::new(),
    ] {
        let res = provision(role.clone()).await;
        assert_eq!(
            res.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "role {role:?}"
        );
        let page = res.text().await.unwrap();
        assert!(text_of(&page, "#role_id-error").is_some(), "role {role:?}");
        assert_eq!(input_value(&page, "name").as_deref(), Some("JDBC"));
    }
    assert_eq!(app.count("tokens"), before, "nothing was created");
    let res = provision(held.to_string()).await;
    assert_eq!(res.status(), StatusCode::OK);
    // Out of the membership, the role is no longer hers to give.
    app.db(|c| tessera::db::memberships::remove(c, ada.id, department, held))
        .unwrap();
    let res = provision(held.to_string()).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.count("tokens"), before + 1);
}

#[actix_web::test]
async fn scope_checkboxes_are_grouped_by_resource() {
    let (app, ada) = app_with_user("ada").await;
    app.grant(
        ada.id,
        "Field",
        "users:read devices:write collections:read devices:read",
    );
    app.login_ok("ada").await;
    for path in ["/profile/tokens/new", "/profile/tokens"] {
        let page = app.get_html(path).await;
        let doc = scraper::Html::parse_document(&page);
        let sel = |css: &str| scraper::Selector::parse(css).unwrap();
        let legend = doc.select(&sel("form fieldset > legend")).next().unwrap();
        assert_eq!(legend.text().collect::<String>(), "Scopes", "{path}");
        let groups: Vec<(String, Vec<String>)> = doc
            .select(&sel("fieldset .scope-group"))
            .map(|group| {
                let name = group
                    .select(&sel(".scope-group-name"))
                    .next()
                    .expect("a group heading")
                    .text()
                    .collect::<String>();
                let scopes = group
                    .select(&sel("input[type=checkbox][name=scopes]"))
                    .map(|input| input.value().attr("value").unwrap().to_owned())
                    .collect();
                (name, scopes)
            })
            .collect();
        assert_eq!(
            groups,
            [
                ("Collection".to_owned(), vec!["collections:read".to_owned()]),
                (
                    "Device".to_owned(),
                    vec!["devices:read".to_owned(), "devices:write".to_owned()]
                ),
                ("User".to_owned(), vec!["users:read".to_owned()]),
            ],
            "{path}"
        );
        let all = doc.select(&sel("input[name=scopes]")).count();
        assert_eq!(all, 4, "{path}: every checkbox is in a group");
    }
}

/// The rows (`data-token-id`) of the section `#section` of a page.
fn rows_in(html: &str, section: &str) -> Vec<i64> {
    let doc = scraper::Html::parse_document(html);
    let rows = scraper::Selector::parse(&format!("#{section} tr[data-token-id]")).unwrap();
    doc.select(&rows)
        .map(|r| r.value().attr("data-token-id").unwrap().parse().unwrap())
        .collect()
}

/// Signs `username` in through the mobile API; the session's token.
async fn mobile_sign_in(app: &common::TestApp, username: &str, device: &str) -> String {
    let res = reqwest::Client::new()
        .post(app.url("/api/v1/sessions"))
        .json(&json!({ "username": username, "password": PASSWORD, "device_name": device }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    res.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[actix_web::test]
async fn api_tokens_issued_for_me_are_listed_read_only_with_who_issued_them() {
    let (app, _root) = admin_app().await;
    let ada = app.create_user("ada", false);
    let (dept, user_type) = app.grant(ada.id, "Field", "devices:read");
    let ada_visitor = app.visitor();
    ada_visitor.login_ok("ada").await;
    let empty = ada_visitor.get_html("/profile/tokens").await;
    assert!(rows_in(&empty, "issued-for-you").is_empty());
    assert!(
        text_of(&empty, "#issued-for-you .empty").is_some(),
        "an empty state says what would be here"
    );

    let (user, membership) = (ada.id.to_string(), format!("{dept}:{user_type}"));
    let expires = (chrono::Utc::now() + chrono::TimeDelta::days(30))
        .format("%Y-%m-%d")
        .to_string();
    let res = app
        .submit_api_token(&[
            ("name", "ERP"),
            ("expires_at", &expires),
            ("user_id", &user),
            ("membership", &membership),
            ("description", ""),
        ])
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let secret = new_token_in(&res.text().await.unwrap());
    // Another user's API token is not hers.
    let bob = app.create_user("bob", false);
    let of_bob = app.insert_token(bob.id, "api", "bob's", Some((dept, user_type)));

    let page = ada_visitor.get_html("/profile/tokens").await;
    let rows = rows_in(&page, "issued-for-you");
    assert_eq!(rows.len(), 1, "her API token only");
    assert!(!rows.contains(&of_bob.id));
    let section = text_of(&page, "#issued-for-you").unwrap();
    assert!(section.contains("ERP"), "{section}");
    assert!(
        text_of(&page, "#issued-for-you td.issued-by")
            .unwrap()
            .starts_with("root"),
        "{section}"
    );
    assert!(section.contains("Dept Field — Field"), "{section}");
    assert!(!page.contains(&secret));
    let doc = scraper::Html::parse_document(&page);
    let forms = scraper::Selector::parse("#issued-for-you form, #issued-for-you button").unwrap();
    assert_eq!(doc.select(&forms).count(), 0, "read-only");
    // Nor can she act on it through the profile's routes.
    let res = ada_visitor.token_action(rows[0], "revoke").await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(app.me(&secret).await.0, StatusCode::OK);
}

#[actix_web::test]
async fn my_mobile_sessions_are_listed_and_signed_out_from_the_profile() {
    let (app, ada) = app_with_user("ada").await;
    let bob = app.create_user("bob", false);
    let phone = mobile_sign_in(&app, "ada", "Pixel 9").await;
    let bobs = mobile_sign_in(&app, "bob", "Bob's iPhone").await;
    app.login_ok("ada").await;
    app.step_up().await;
    let page = app.get_html("/profile/tokens").await;
    let rows = rows_in(&page, "devices");
    assert_eq!(rows.len(), 1, "her device only");
    let section = text_of(&page, "#devices").unwrap();
    assert!(
        section.contains("Pixel 9") && !section.contains("Bob"),
        "{section}"
    );
    let doc = scraper::Html::parse_document(&page);
    let button = scraper::Selector::parse(&format!(
        "#devices form[action='/profile/tokens/{}/revoke'] button",
        rows[0]
    ))
    .unwrap();
    let name: String = doc
        .select(&button)
        .next()
        .expect("a sign-out button")
        .text()
        .collect();
    assert_eq!(name.trim(), "Sign out Pixel 9", "its accessible name");

    // Bob's session, by its id, is a 404 for her and stays.
    let bob_session = app.db(|c| {
        common::scalar(
            c,
            &format!(
                "SELECT id FROM tokens WHERE kind = 'session' AND owner_id = {}",
                bob.id
            ),
        )
    });
    let res = app.token_action(bob_session, "revoke").await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert!(!app.is_revoked(bob_session));
    assert_eq!(app.me(&bobs).await.0, StatusCode::OK);
    // Signing her own out ends it.
    assert_eq!(app.me(&phone).await.0, StatusCode::OK);
    let res = app.token_action(rows[0], "revoke").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.me(&phone).await.0, StatusCode::UNAUTHORIZED);
    assert!(app.is_revoked(rows[0]));
    let page = app.get_html("/profile/tokens").await;
    assert!(rows_in(&page, "devices").is_empty());
    assert!(page.contains("Signed out “Pixel 9”"));
    let revoked = app.audit_rows("token_revoked");
    assert_eq!(revoked.len(), 1);
    assert_eq!(revoked[0].target_id, Some(rows[0]));
    // Still no edit or regenerate of a session.
    let id = rows[0];
    let fresh = mobile_sign_in(&app, "ada", "Pixel 9").await;
    let fresh_id = app.db(|c| {
        common::scalar(
            c,
            &format!(
                "SELECT id FROM tokens WHERE kind = 'session' AND owner_id = {} AND revoked_at IS NULL",
                ada.id
            ),
        )
    });
    assert_ne!(fresh_id, id);
    for action in ["regenerate", "disable"] {
        let res = app.token_action(fresh_id, action).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{action}");
    }
    assert_eq!(
        app.get(&format!("/profile/tokens/{fresh_id}/edit"))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(app.me(&fresh).await.0, StatusCode::OK);
}

/// The fields "Create access token" posts as the page stands, with a name and
/// a scope: what a browser sends when only those are filled in.
fn access_token_fields(form: &str, name: &str) -> Vec<(String, String)> {
    let mut fields: Vec<(String, String)> = common::form_fields(form, "/profile/tokens")
        .into_iter()
        .filter(|(field, _)| field != "csrf_token" && field != "name")
        .collect();
    fields.push(("name".into(), name.into()));
    fields.push(("scopes".into(), "devices:read".into()));
    fields
}

fn borrowed(fields: &[(String, String)]) -> Vec<(&str, &str)> {
    fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

#[actix_web::test]
async fn the_expiry_line_names_the_day_a_preset_token_is_stored_to_expire() {
    let (app, _) = app_with_member("ada").await;
    app.login_ok("ada").await;
    let form = app.get_html("/profile/tokens/new").await;
    // The default preset, its day said by the server (no script needed).
    assert_eq!(
        common::selected_value(&form, "token-expires-in").as_deref(),
        Some("90")
    );
    let said = common::expiry_line_date(&form, "token-expiry-line").expect("a day in the line");
    assert_eq!(said, common::utc_day_in(90));
    // The hint writes the last day out, as the picker's max does; no format
    // the browser would not show.
    let last = common::utc_day_in(365);
    assert_eq!(
        text_of(&form, "#token-expiry-hint").as_deref(),
        Some(
            format!(
                "The policy allows at most 365 days ahead, until {}.",
                last.format("%-d %B %Y")
            )
            .as_str()
        )
    );
    assert!(!form.contains("YYYY-MM-DD"));
    let max = common::attr_of(&form, "input#token-expires-at", "max");
    assert_eq!(max, Some(last.format("%Y-%m-%d").to_string()));
    let min = common::attr_of(&form, "input#token-expires-at", "min");
    assert_eq!(
        min,
        Some(common::utc_day_in(1).format("%Y-%m-%d").to_string())
    );

    // Submitted as it stands: the list shows the day the line said.
    let res = app
        .submit_access_token(&borrowed(&access_token_fields(&form, "nightly")))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let list = app.get_html("/profile/tokens").await;
    let id = common::token_row_id(&list, "nightly");
    assert_eq!(
        text_of(
            &list,
            &format!("tr[data-token-id=\"{id}\"] td:nth-child(4) time")
        ),
        Some(said.format("%Y-%m-%d").to_string())
    );
    assert_eq!(expiry_of(&app, id).date(), said);

    // Every other preset: the form sent back (no name) keeps it and says its
    // day; submitted, that is the day stored.
    for days in ["7", "30", "365"] {
        let page = refused_page(
            app.submit_access_token(&[
                ("name", ""),
                ("scopes", "devices:read"),
                ("expires_in_days", days),
                ("expires_at", ""),
            ])
            .await,
        )
        .await;
        assert_eq!(
            common::selected_value(&page, "token-expires-in").as_deref(),
            Some(days)
        );
        let said = common::expiry_line_date(&page, "token-expiry-line").expect("a day");
        assert_eq!(said, common::utc_day_in(days.parse().unwrap()), "{days}");
        let name = format!("preset {days}");
        let res = app
            .submit_access_token(&borrowed(&access_token_fields(&page, &name)))
            .await;
        assert_eq!(res.status(), StatusCode::OK, "{days}");
        let id = common::token_row_id(&app.get_html("/profile/tokens").await, &name);
        assert_eq!(expiry_of(&app, id).date(), said, "{days}");
    }
}

#[actix_web::test]
async fn a_custom_date_counts_and_custom_without_one_comes_back_beside_the_field() {
    let (app, _) = app_with_member("ada").await;
    app.login_ok("ada").await;
    let day = common::utc_day_in(45);
    let date = day.format("%Y-%m-%d").to_string();
    let res = app
        .submit_access_token(&[
            ("name", "by date"),
            ("scopes", "devices:read"),
            ("expires_in_days", "custom"),
            ("expires_at", &date),
        ])
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let id = common::token_row_id(&app.get_html("/profile/tokens").await, "by date");
    assert_eq!(expiry_of(&app, id), day.and_hms_opt(23, 59, 59).unwrap());

    // "Custom date…" and no date: the form again, as typed, the error beside
    // the date input, which says it is invalid.
    let page = refused_page(
        app.submit_access_token(&[
            ("name", "kept"),
            ("description", "typed"),
            ("scopes", "devices:read"),
            ("expires_in_days", "custom"),
            ("expires_at", ""),
        ])
        .await,
    )
    .await;
    assert_eq!(
        text_of(&page, "input#token-expires-at + #expires_at-error").as_deref(),
        Some("Choose an expiry, or enter a date.")
    );
    assert_eq!(
        common::selected_value(&page, "token-expires-in").as_deref(),
        Some("custom")
    );
    assert_eq!(
        text_of(&page, "#token-expiry-line").as_deref(),
        Some("Choose a date.")
    );
    let input = "input#token-expires-at";
    assert_eq!(
        common::attr_of(&page, input, "aria-invalid").as_deref(),
        Some("true")
    );
    assert!(
        common::attr_of(&page, input, "aria-describedby")
            .unwrap()
            .contains("expires_at-error")
    );
    assert_eq!(input_value(&page, "name").as_deref(), Some("kept"));
    assert_eq!(
        text_of(&page, "#token-description").as_deref(),
        Some("typed")
    );

    // A choice not offered (the policy wants an expiry): the form asks for
    // a date, saying why.
    let page = refused_page(
        app.submit_access_token(&[
            ("name", "never"),
            ("scopes", "devices:read"),
            ("expires_in_days", "never"),
        ])
        .await,
    )
    .await;
    assert!(
        text_of(&page, "input#token-expires-at + #expires_at-error")
            .unwrap()
            .contains("Tokens must expire")
    );
    assert_eq!(
        common::selected_value(&page, "token-expires-in").as_deref(),
        Some("custom")
    );
}

#[actix_web::test]
async fn a_client_takes_a_preset_or_a_plain_date() {
    let (app, ada) = app_with_user("ada").await;
    let (_, role) = app.grant(ada.id, "BI", "collections:read");
    let role = role.to_string();
    app.login_ok("ada").await;
    let form = app.get_html("/profile/clients/new").await;
    assert_eq!(
        common::selected_value(&form, "client-expires-in").as_deref(),
        Some("90"),
        "the default lifetime"
    );
    assert_eq!(
        common::expiry_line_date(&form, "client-expiry-line"),
        Some(common::utc_day_in(90))
    );
    assert!(
        !common::option_values(&form, "expires_in_days").contains(&"never".to_owned()),
        "a client always expires"
    );

    let res = app
        .submit_client(&[
            ("name", "BI"),
            ("role_id", &role),
            ("expires_in_days", "60"),
        ])
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let (_, me) = app.me(&new_token_in(&res.text().await.unwrap())).await;
    let expected = common::utc_day_in(60).format("%Y-%m-%d").to_string();
    assert!(
        me["expires_at"].as_str().unwrap().starts_with(&expected),
        "{me}"
    );

    // The plain date of the form as it was (and of API users) still counts.
    let date = date_in(20);
    let res = app
        .submit_client(&[("name", "JDBC"), ("role_id", &role), ("expires_at", &date)])
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let (_, me) = app.me(&new_token_in(&res.text().await.unwrap())).await;
    assert_eq!(me["expires_at"], format!("{date}T23:59:59Z"), "{me}");

    // "No expiration" is not a client's, however it is posted.
    app.set_settings("allow_non_expiring = TRUE");
    let page = refused_page(
        app.submit_client(&[
            ("name", "forever"),
            ("role_id", &role),
            ("expires_in_days", "never"),
        ])
        .await,
    )
    .await;
    assert_eq!(
        text_of(&page, "#expires_at-error").as_deref(),
        Some("Choose one of the offered expiry periods.")
    );
    assert_eq!(input_value(&page, "name").as_deref(), Some("forever"));
}
