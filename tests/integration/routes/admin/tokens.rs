//! Administrator / Tokens: the inventory, filters, keyset pagination, bulk
//! revocation, token detail and Create API token.

use crate::common;

use std::collections::HashSet;

use common::{
    admin_app, app_with_user, location, new_token_in, refused_page, spawn_app, text_of, urlencode,
};
use reqwest::StatusCode;
use scraper::{Html, Selector};
use tessera::domain::token_filter::PAGE_SIZE as PAGE;

/// The token ids of the inventory's rows.
fn row_ids(html: &str) -> Vec<i64> {
    ids_in(html, "table.inventory tbody tr[data-token-id]")
}

/// The `data-token-id` of each element `rows` finds.
fn ids_in(html: &str, rows: &str) -> Vec<i64> {
    let doc = Html::parse_document(html);
    let rows = Selector::parse(rows).unwrap();
    doc.select(&rows)
        .map(|r| r.value().attr("data-token-id").unwrap().parse().unwrap())
        .collect()
}

fn next_link(html: &str) -> Option<String> {
    let doc = Html::parse_document(html);
    let next = Selector::parse("a[rel=next]").unwrap();
    doc.select(&next)
        .next()
        .map(|a| a.value().attr("href").unwrap().to_owned())
}

#[actix_web::test]
async fn non_admins_get_403_on_every_admin_route() {
    let (app, ada) = app_with_user("ada").await;
    let t = app.insert_token(ada.id, "personal", "mine", None);
    app.login_ok("ada").await;
    for path in [
        "/admin",
        "/admin/tokens",
        "/admin/tokens?tab=sessions",
        "/admin/tokens/new",
        &format!("/admin/tokens/{}", t.id),
    ] {
        assert_eq!(
            app.get(path).await.status(),
            StatusCode::FORBIDDEN,
            "GET {path}"
        );
    }
    let csrf = common::csrf_in(&app.get_html("/profile").await);
    let id = t.id.to_string();
    for path in [
        "/admin/tokens".to_owned(),
        "/admin/tokens/bulk-revoke".into(),
        "/admin/tokens/bulk-revoke/confirm".into(),
        format!("/admin/tokens/{id}/regenerate"),
        format!("/admin/tokens/{id}/disable"),
        format!("/admin/tokens/{id}/enable"),
    ] {
        let res = app
            .post_form(&path, &[("csrf_token", &csrf), ("ids", &id)])
            .await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "POST {path}");
    }
    assert!(!app.is_revoked(t.id));
}

#[actix_web::test]
async fn the_inventory_lists_every_users_tokens_and_filters_them() {
    let (app, _) = admin_app().await;
    let ada = app.create_user("ada", false);
    let bob = app.create_user("bob", false);
    let (field, reader) = app.grant(ada.id, "Reader", "devices:read");
    let personal = app.insert_token(ada.id, "personal", "ada deploy", None);
    let client = app.insert_token(ada.id, "client", "BI", Some((field, reader)));
    let api = app.insert_token(ada.id, "api", "ERP sync", Some((field, reader)));
    let bobs = app.insert_token(bob.id, "personal", "bob backup", None);
    let session = app.insert_token(bob.id, "session", "Pixel 9", None);

    let all = app.get_html("/admin/tokens?tab=api").await;
    let ids: HashSet<i64> = row_ids(&all).into_iter().collect();
    assert_eq!(
        ids,
        HashSet::from([personal.id, client.id, api.id, bobs.id]),
        "no sessions on the API tab"
    );
    let sessions = app.get_html("/admin/tokens?tab=sessions").await;
    assert_eq!(row_ids(&sessions), vec![session.id]);
    assert!(sessions.contains("bob@example.com") && sessions.contains("Pixel 9"));

    let cases: Vec<(&str, Vec<i64>)> = vec![
        ("kind=client", vec![client.id]),
        ("user=BOB", vec![bobs.id]),
        (
            &*Box::leak(format!("department={field}").into_boxed_str()),
            vec![api.id, client.id],
        ),
        ("q=DEPLOY", vec![personal.id]),
        (
            &*Box::leak(format!("q={}", &personal.token[..9]).into_boxed_str()),
            vec![personal.id],
        ),
        ("q=%25", vec![]),
        ("status=expiring", vec![]),
    ];
    for (query, expected) in cases {
        let mut got = row_ids(
            &app.get_html(&format!("/admin/tokens?tab=api&{query}"))
                .await,
        );
        got.sort_unstable();
        let mut expected = expected;
        expected.sort_unstable();
        assert_eq!(got, expected, "{query}");
    }

    // Revoked tokens leave the default view and appear under status=revoked.
    app.db(|c| tessera::db::tokens::revoke(c, bobs.id, None))
        .unwrap();
    assert!(!row_ids(&app.get_html("/admin/tokens?tab=api").await).contains(&bobs.id));
    assert_eq!(
        row_ids(&app.get_html("/admin/tokens?tab=api&status=revoked").await),
        vec![bobs.id]
    );
}

#[actix_web::test]
async fn keyset_pages_cover_every_row_once_in_order() {
    let (app, root) = admin_app().await;
    let mut made = Vec::new();
    for i in 0..123 {
        made.push(
            app.insert_token(root.id, "personal", &format!("t{i:03}"), None)
                .id,
        );
    }
    // Give some tokens a last use, some not, to exercise the NULL segment.
    let uses: Vec<_> = made
        .iter()
        .enumerate()
        .filter(|(n, _)| n % 3 == 0)
        .map(|(n, id)| tessera::db::tokens::Use {
            token_id: *id,
            at: tessera::db::now() - chrono::TimeDelta::minutes(n as i64),
            ip: "10.0.0.1".into(),
            user_agent: None,
        })
        .collect();
    app.db(|conn| tessera::db::tokens::record_uses(conn, &uses).unwrap());
    for sort in ["created", "expires", "last_used"] {
        let mut seen = Vec::new();
        let mut url = format!("/admin/tokens?tab=api&sort={sort}");
        let mut pages = 0;
        loop {
            let page = app.get_html(&url).await;
            let ids = row_ids(&page);
            assert!(ids.len() <= 50);
            seen.extend(ids);
            pages += 1;
            match next_link(&page) {
                Some(next) => url = next.replace("&amp;", "&"),
                None => break,
            }
        }
        assert_eq!(pages, 3, "{sort}");
        let unique: HashSet<i64> = seen.iter().copied().collect();
        assert_eq!(seen.len(), 123, "{sort}: every row once");
        assert_eq!(unique.len(), 123, "{sort}");
        if sort == "created" {
            let mut newest_first = made.clone();
            newest_first.reverse();
            assert_eq!(seen, newest_first);
        }
        if sort == "last_used" {
            let used: Vec<i64> = made.iter().step_by(3).copied().collect();
            assert_eq!(
                &seen[..used.len()],
                &used[..],
                "most recently used first, never-used last"
            );
        }
    }
}

#[actix_web::test]
async fn bulk_revoke_revokes_exactly_the_selection() {
    let (app, root) = admin_app().await;
    let ada = app.create_user("ada", false);
    app.grant(ada.id, "Reader", "devices:read");
    let tokens: Vec<_> = (0..5)
        .map(|i| app.insert_token(ada.id, "personal", &format!("t{i}"), None))
        .collect();
    let already = app.insert_token(ada.id, "personal", "old", None);
    app.db(|c| tessera::db::tokens::revoke(c, already.id, Some(root.id)))
        .unwrap();

    // In use before: the revocation must also end what the server remembers.
    for t in &tokens {
        assert_eq!(app.api_me(&t.token).await.status(), StatusCode::OK);
    }

    let chosen = [tokens[0].id, tokens[2].id, tokens[4].id];
    let mut fields: Vec<(&str, String)> = chosen.iter().map(|id| ("ids", id.to_string())).collect();
    fields.push(("ids", already.id.to_string()));
    fields.push(("ids", "999999".into()));
    let borrowed: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let res = app
        .submit("/admin/tokens", "/admin/tokens/bulk-revoke", &borrowed)
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let confirm = res.text().await.unwrap();
    assert_eq!(text_of(&confirm, "h1").as_deref(), Some("Delete 3 tokens?"));
    assert!(confirm.contains("already revoked") && confirm.contains("#999999 (does not exist)"));
    let listed: HashSet<i64> = ids_in(&confirm, "tr[data-token-id]").into_iter().collect();
    assert_eq!(listed, HashSet::from(chosen));
    assert!(
        chosen.iter().all(|id| !app.is_revoked(*id)),
        "nothing happens before confirming"
    );

    // Confirm with the form the page rendered.
    let form = confirm_form(&confirm);
    let res = app.post("/admin/tokens/bulk-revoke/confirm", &form).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(location(res.headers()).starts_with("/admin/tokens?"));
    assert!(
        app.get_html("/admin/tokens")
            .await
            .contains("Revoked 3 tokens.")
    );

    app.assert_refused_exactly(&tokens, &chosen).await;
    for t in &tokens {
        assert_eq!(app.is_revoked(t.id), chosen.contains(&t.id));
    }
    assert_eq!(
        app.audit("token_revoked").len(),
        3,
        "one audit row per revoked token"
    );
    // And one token.revoked event per token, by the administrator, for
    // webhooks and notices.
    let mut revoked: Vec<i64> = app
        .queued_events()
        .into_iter()
        .filter(|e| e.kind == tessera::domain::events::EventType::TokenRevoked)
        .map(|e| {
            assert_eq!(e.actor.username.as_deref(), Some("root"));
            e.token_id.unwrap()
        })
        .collect();
    revoked.sort_unstable();
    assert_eq!(revoked, chosen);
}

#[actix_web::test]
async fn bulk_revoke_is_all_or_nothing() {
    let (app, root) = admin_app().await;
    let tokens: Vec<_> = (0..20)
        .map(|i| app.insert_token(root.id, "personal", &format!("t{i}"), None))
        .collect();
    // Make the audit insert for one token in the middle of the batch fail.
    let poison = tokens[10].id;
    app.db(|conn| {
        use diesel::connection::SimpleConnection as _;
        if common::on_postgres() {
            conn.batch_execute(&format!(
                "CREATE FUNCTION fail_audit() RETURNS trigger AS $$ BEGIN
                   IF NEW.target_id = {poison} THEN RAISE EXCEPTION 'injected failure'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql;
                 CREATE TRIGGER fail_audit BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION fail_audit();"
            ))
        } else {
            conn.batch_execute(&format!(
                "CREATE TRIGGER fail_audit BEFORE INSERT ON audit_events WHEN NEW.target_id = {poison}
                 BEGIN SELECT RAISE(ABORT, 'injected failure'); END;"
            ))
        }
    })
    .unwrap();
    let ids: Vec<String> = tokens.iter().map(|t| t.id.to_string()).collect();
    let mut fields: Vec<(&str, &str)> = ids.iter().map(|id| ("ids", id.as_str())).collect();
    fields.push(("tab", "api"));
    let res = app
        .submit(
            "/admin/tokens",
            "/admin/tokens/bulk-revoke/confirm",
            &fields,
        )
        .await;
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let body = res.text().await.unwrap();
    assert!(
        !body.contains("injected failure"),
        "no database detail in the page"
    );
    assert!(
        tokens.iter().all(|t| !app.is_revoked(t.id)),
        "nothing revoked"
    );
    assert!(app.api_me(&tokens[0].token).await.status() == StatusCode::OK);
}

#[actix_web::test]
async fn revoke_everything_a_filter_matches() {
    let (app, _) = admin_app().await;
    let ada = app.create_user("ada", false);
    let bob = app.create_user("bob", false);
    let (dept, user_type) = app.grant(ada.id, "Ops", "devices:read");
    let in_dept: Vec<_> = (0..3)
        .map(|i| app.insert_token(ada.id, "api", &format!("a{i}"), Some((dept, user_type))))
        .collect();
    let outside = app.insert_token(bob.id, "personal", "keep", None);
    // In use before (and so remembered by the server).
    for t in in_dept.iter().chain([&outside]) {
        assert_eq!(app.api_me(&t.token).await.status(), StatusCode::OK);
    }

    let department = dept.to_string();
    let res = app
        .submit(
            "/admin/tokens",
            "/admin/tokens/bulk-revoke",
            &[
                ("tab", "api"),
                ("department", &department),
                ("all_matching", "1"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let confirm = res.text().await.unwrap();
    assert_eq!(text_of(&confirm, "h1").as_deref(), Some("Delete 3 tokens?"));
    let res = app
        .submit(
            "/admin/tokens",
            "/admin/tokens/bulk-revoke/confirm",
            &[
                ("tab", "api"),
                ("department", &department),
                ("all_matching", "1"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    // Refused right after the confirm response, every one of them.
    app.assert_refused(&in_dept).await;
    assert_eq!(app.api_me(&outside.token).await.status(), StatusCode::OK);
    assert!(in_dept.iter().all(|t| app.is_revoked(t.id)));
    assert!(!app.is_revoked(outside.id));

    // Tokens unused for 90 days: none here, so nothing to revoke.
    let res = ask_to_revoke_unused_for_90_days(&app).await;
    assert_eq!(
        text_of(&res.text().await.unwrap(), "h1").as_deref(),
        Some("Delete 0 tokens?")
    );
}

#[actix_web::test]
async fn create_an_api_token_for_a_users_membership() {
    let (app, _) = admin_app().await;
    let ada = app.create_user("ada", false);
    let (dept, user_type) = app.grant(ada.id, "Field integrator", "devices:read devices:write");
    let bob = app.create_user("bob", false);
    let (bob_dept, bob_type) = app.grant(bob.id, "Other", "users:write");

    let form = app
        .get_html(&format!("/admin/tokens/new?user_id={}", ada.id))
        .await;
    assert!(form.contains(&format!("value=\"{dept}:{user_type}\"")));
    assert!(
        !form.contains(&format!("value=\"{bob_dept}:{bob_type}\"")),
        "only this user's memberships"
    );

    let user_id = ada.id.to_string();
    let expires = (chrono::Utc::now() + chrono::TimeDelta::days(200))
        .format("%Y-%m-%d")
        .to_string();
    let foreign = format!("{bob_dept}:{bob_type}");
    let page = refused_page(
        app.submit_api_token(&[
            ("name", "ERP"),
            ("expires_at", &expires),
            ("user_id", &user_id),
            ("membership", &foreign),
            ("description", ""),
        ])
        .await,
    )
    .await;
    assert!(text_of(&page, "#membership-error").is_some());
    assert_eq!(common::input_value(&page, "name").as_deref(), Some("ERP"));

    let own = format!("{dept}:{user_type}");
    let res = app
        .submit_api_token(&[
            ("name", "ERP"),
            ("expires_at", &expires),
            ("user_id", &user_id),
            ("membership", &own),
            ("description", "nightly sync"),
        ])
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let token = new_token_in(&res.text().await.unwrap());
    assert!(token.starts_with("tsra_"));
    let me: serde_json::Value = app.api_me(&token).await.json().await.unwrap();
    assert_eq!(me["user"]["username"], "ada");
    assert_eq!(me["department"], "Dept Field integrator");
    assert_eq!(me["user_type"], "Field integrator");
    assert_eq!(
        me["scopes"],
        serde_json::json!(["devices:read", "devices:write"])
    );

    // Demoting the user narrows the token on the next request.
    app.db(|c| tessera::db::user_types::set_scopes(c, user_type, "devices:read"))
        .unwrap();
    let me: serde_json::Value = app.api_me(&token).await.json().await.unwrap();
    assert_eq!(me["scopes"], serde_json::json!(["devices:read"]));
    // Leaving the membership empties it.
    app.db(|c| tessera::db::memberships::remove(c, ada.id, dept, user_type))
        .unwrap();
    let me: serde_json::Value = app.api_me(&token).await.json().await.unwrap();
    assert_eq!(me["scopes"], serde_json::json!([]));

    // Beyond the policy maximum: refused.
    let too_far = (chrono::Utc::now() + chrono::TimeDelta::days(400))
        .format("%Y-%m-%d")
        .to_string();
    let res = app
        .submit_api_token(&[
            ("name", "ERP2"),
            ("expires_at", &too_far),
            ("user_id", &user_id),
            ("membership", &own),
        ])
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

#[actix_web::test]
async fn token_detail_and_its_actions() {
    let (app, _) = admin_app().await;
    app.step_up().await;
    let ada = app.create_user("ada", false);
    let (dept, user_type) = app.grant(ada.id, "Field integrator", "devices:read");
    let api = app.insert_token(ada.id, "api", "ERP", Some((dept, user_type)));
    let session = app.insert_token(ada.id, "session", "Phone", None);

    let page = app.get_html(&format!("/admin/tokens/{}", api.id)).await;
    for label in [
        "Token name",
        "API token",
        "Tenant Id",
        "Description of use",
        "Expiry date",
        "Associated user",
        "Department and user type",
        "Audit trail",
    ] {
        assert!(page.contains(label), "{label}");
    }
    assert!(page.contains(&api.token[..9]) && !page.contains(&api.token[9..]));
    assert!(page.contains("curl -H"));

    let page = app.get_html(&format!("/admin/tokens/{}", session.id)).await;
    for label in [
        "User name",
        "Email",
        "Department",
        "User type",
        "Last active",
        "Expiry date",
        "Pixel 9",
    ] {
        assert!(page.contains(label), "{label}");
    }

    let res = app
        .submit(
            &format!("/admin/tokens/{}", api.id),
            &format!("/admin/tokens/{}/disable", api.id),
            &[],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        app.api_me(&api.token).await.status(),
        StatusCode::UNAUTHORIZED
    );
    app.submit(
        &format!("/admin/tokens/{}", api.id),
        &format!("/admin/tokens/{}/enable", api.id),
        &[],
    )
    .await;
    assert_eq!(app.api_me(&api.token).await.status(), StatusCode::OK);
    let res = app
        .submit(
            &format!("/admin/tokens/{}", api.id),
            &format!("/admin/tokens/{}/regenerate", api.id),
            &[],
        )
        .await;
    let fresh = new_token_in(&res.text().await.unwrap());
    assert_eq!(
        app.api_me(&api.token).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(app.api_me(&fresh).await.status(), StatusCode::OK);
    let trail = app.get_html(&format!("/admin/tokens/{}", api.id)).await;
    for action in ["Token disabled", "Token enabled", "Token regenerated"] {
        assert!(trail.contains(action), "{action} in the trail");
    }
    assert_eq!(
        app.get(&format!("/admin/tokens/{}", 999_999))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
}

#[actix_web::test]
async fn hostile_names_are_escaped_on_admin_pages() {
    let (app, _) = admin_app().await;
    let payload = "<img src=x onerror=alert(1)>";
    let ada = app.create_user("ada", false);
    let (dept, user_type) = app.db(|conn| {
        let d = tessera::db::departments::create(conn, payload, "").unwrap();
        let t = tessera::db::user_types::create(conn, &format!("{payload}t"), "", "devices:read")
            .unwrap();
        tessera::db::memberships::add(conn, ada.id, d, t).unwrap();
        (d, t)
    });
    let t = app.insert_token(ada.id, "api", payload, Some((dept, user_type)));
    for path in [
        "/admin/tokens".to_owned(),
        format!("/admin/tokens?q={}", "%3Cimg"),
        format!("/admin/tokens/{}", t.id),
        format!("/admin/tokens/new?user_id={}", ada.id),
        "/admin".into(),
    ] {
        let page = app.get_html(&path).await;
        assert!(!page.contains("<img src=x"), "{path}");
    }
}

#[actix_web::test]
async fn the_default_expiry_respects_a_short_policy_maximum() {
    let (app, _) = admin_app().await;
    let ada = app.create_user("ada", false);
    let (dept, user_type) = app.grant(ada.id, "Field integrator", "devices:read");
    app.set_settings("max_lifetime_days = 90, default_lifetime_days = 30");
    let form = app
        .get_html(&format!("/admin/tokens/new?user_id={}", ada.id))
        .await;
    let today = chrono::Utc::now().date_naive();
    let in_90_days = (today + chrono::TimeDelta::days(90))
        .format("%Y-%m-%d")
        .to_string();
    // The earlier of 12 months and the maximum: here the 90-day preset, with
    // the date input (for a custom date) empty and bounded by the maximum.
    assert_eq!(
        text_of(&form, "#api-expires-in option[selected]").as_deref(),
        Some("90 days"),
        "the earlier of 12 months and the maximum"
    );
    let doc = Html::parse_document(&form);
    let date = Selector::parse("input#api-expires-at").unwrap();
    let date = doc.select(&date).next().unwrap().value();
    assert_eq!(date.attr("value"), Some(""));
    assert_eq!(date.attr("max"), Some(in_90_days.as_str()));
    assert!(
        text_of(&form, "#expiry-warning").is_some()
            && form.contains("id=\"expiry-warning\" hidden"),
        "no warning for the default"
    );

    // Submitting the untouched form (only the required choices made) works.
    // (What a browser sends: the inputs, and each select's selected option,
    // the 90-day preset among them; the empty date input adds nothing.)
    let fields: Vec<(String, String)> = {
        let mut fields: Vec<(String, String)> = common::form_fields(&form, "/admin/tokens")
            .into_iter()
            .filter(|(name, _)| !["csrf_token", "name", "membership"].contains(&name.as_str()))
            .collect();
        assert!(
            fields.contains(&("expires_in_days".into(), "90".into())),
            "{fields:?}"
        );
        fields.push(("name".into(), "ERP".into()));
        fields.push(("membership".into(), format!("{dept}:{user_type}")));
        fields
    };
    let borrowed: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let res = app
        .submit("/admin/tokens/new", "/admin/tokens", &borrowed)
        .await;
    assert_eq!(res.status(), StatusCode::OK, "{borrowed:?}");
    let token = new_token_in(&res.text().await.unwrap());
    let me: serde_json::Value = app.api_me(&token).await.json().await.unwrap();
    assert!(
        me["expires_at"].as_str().unwrap().starts_with(&in_90_days),
        "{me}"
    );
    let created = app.audit_rows("token_created");
    assert_eq!(created.len(), 1, "an admin-created token is audited");
    assert_eq!(created[0].actor_name.as_deref(), Some("root"));
    assert_eq!(created[0].target_type.as_deref(), Some("token"));
    assert!(
        created[0]
            .target_label
            .as_deref()
            .unwrap()
            .contains(&token[..9])
    );
    assert!(!format!("{created:?}").contains(&token));
}

/// A bulk form with these ids (and the API tab).
fn ids_form(ids: &[i64]) -> Vec<(&'static str, String)> {
    let mut form: Vec<(&str, String)> = ids.iter().map(|id| ("ids", id.to_string())).collect();
    form.push(("tab", "api".into()));
    form
}

#[actix_web::test]
async fn bulk_revoke_takes_forty_thousand_ids() {
    let (app, root) = admin_app().await;
    let tokens: Vec<_> = (0..5)
        .map(|i| app.insert_token(root.id, "personal", &format!("t{i}"), None))
        .collect();
    let keep = app.insert_token(root.id, "personal", "keep", None);
    // Five real ids among 40,000 (the rest do not exist).
    let mut ids: Vec<i64> = (1_000_000..1_039_995).collect();
    ids.extend(tokens.iter().map(|t| t.id));
    assert_eq!(ids.len(), 40_000);
    let csrf = common::csrf_in(&app.get_html("/admin/tokens").await);
    let mut form = ids_form(&ids);
    form.push(("csrf_token", csrf));

    let res = app.post("/admin/tokens/bulk-revoke", &form).await;
    assert_eq!(res.status(), StatusCode::OK);
    let page = res.text().await.unwrap();
    assert_eq!(text_of(&page, "h1").as_deref(), Some("Delete 5 tokens?"));
    assert!(page.contains("#1000000 (does not exist)"));
    assert!(
        page.contains("…and 39895 more."),
        "the skipped list is cut short"
    );

    let res = app.post("/admin/tokens/bulk-revoke/confirm", &form).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(
        app.get_html("/admin/tokens")
            .await
            .contains("Revoked 5 tokens.")
    );
    assert!(tokens.iter().all(|t| app.is_revoked(t.id)));
    assert!(!app.is_revoked(keep.id));
    assert_eq!(app.audit("token_revoked").len(), 5);
}

#[actix_web::test]
async fn select_all_matching_shows_how_many_first() {
    let (app, root) = admin_app().await;
    let ada = app.create_user("ada", false);
    for i in 0..(PAGE + 7) {
        app.insert_token(ada.id, "personal", &format!("t{i:03}"), None);
    }
    app.insert_token(root.id, "personal", "other", None);
    let matching = |html: &str| {
        let doc = Html::parse_document(html);
        let button = Selector::parse("button[name=all_matching]").unwrap();
        doc.select(&button)
            .next()
            .map(|b| b.text().collect::<String>())
            .unwrap_or_default()
    };
    let page = app.get_html("/admin/tokens?tab=api&user=ada").await;
    assert_eq!(
        matching(&page),
        format!("Select all {} matching this filter…", PAGE + 7),
        "counted although the page lists only {PAGE}"
    );
    // The next page says the same.
    let next = next_link(&page).unwrap().replace("&amp;", "&");
    assert!(matching(&app.get_html(&next).await).contains(&format!("all {} matching", PAGE + 7)));
    let page = app.get_html("/admin/tokens?tab=api&q=t00").await;
    assert_eq!(matching(&page), "Select all 10 matching this filter…");
    let page = app.get_html("/admin/tokens?tab=api").await;
    assert!(matching(&page).contains(&format!("all {} matching", PAGE + 8)));
}

#[actix_web::test]
async fn delete_selected_without_a_selection_explains_itself() {
    let (app, root) = admin_app().await;
    let t = app.insert_token(root.id, "personal", "ci", None);
    let page = refused_page(
        app.submit(
            "/admin/tokens",
            "/admin/tokens/bulk-revoke",
            &[("tab", "api"), ("kind", "personal")],
        )
        .await,
    )
    .await;
    assert!(
        text_of(&page, "#bulk-error")
            .unwrap()
            .contains("Nothing was selected")
    );
    assert_eq!(row_ids(&page), vec![t.id], "the list is shown again");
    assert_eq!(
        text_of(&page, "h1").as_deref(),
        Some("Administrator / Tokens")
    );
    let doc = Html::parse_document(&page);
    let kind = Selector::parse("#f-kind option[selected]").unwrap();
    assert_eq!(
        doc.select(&kind)
            .next()
            .and_then(|o| o.value().attr("value")),
        Some("personal"),
        "with its filter"
    );
    assert!(!app.is_revoked(t.id));
}

#[actix_web::test]
async fn a_display_prefix_finds_its_token_and_nothing_else() {
    let (app, root) = admin_app().await;
    let tokens: Vec<_> = (0..30)
        .map(|i| app.insert_token(root.id, "personal", &format!("t{i}"), None))
        .collect();
    let wanted = &tokens[17];
    let prefix = &wanted.token[..9];
    for q in [
        prefix.to_owned(),
        format!("{prefix}…"),
        wanted.token[..7].to_owned(),
    ] {
        let ids = row_ids(
            &app.get_html(&format!("/admin/tokens?tab=api&q={}", urlencode(&q)))
                .await,
        );
        assert!(ids.contains(&wanted.id), "{q}");
        assert!(
            ids.iter().all(|id| tokens
                .iter()
                .find(|t| t.id == *id)
                .is_some_and(|t| t.token.starts_with(q.trim_end_matches('…')))),
            "{q}: only tokens with that prefix"
        );
    }
    assert!(
        row_ids(&app.get_html("/admin/tokens?tab=api&q=tsra_").await).is_empty(),
        "no api token has a personal token's prefix"
    );
    // Revoked tokens are found the same way.
    app.db(|c| tessera::db::tokens::revoke(c, wanted.id, None))
        .unwrap();
    let ids = row_ids(
        &app.get_html(&format!("/admin/tokens?tab=api&status=revoked&q={prefix}"))
            .await,
    );
    assert_eq!(ids, vec![wanted.id]);
}

/// A server with `tokens` demo tokens of 20 users, `root` signed in.
async fn demo_app(tokens: usize) -> common::TestApp {
    let app = spawn_app().await;
    app.create_user("root", true);
    let hasher = tessera::auth::password::Hasher::new(64, 1).unwrap();
    app.db(|conn| tessera::seed::seed_demo(conn, &hasher, "tsr", 20, tokens, false))
        .unwrap();
    // Signed in after the (slow) seed, so that no idle connection is reused.
    app.login_ok("root").await;
    app
}

/// How many live tokens the API Tokens tab lists.
fn live_api_tokens(app: &common::TestApp) -> i64 {
    use diesel::prelude::*;
    use tessera::db::schema::tokens::dsl as tk;
    app.db(|conn| {
        tk::tokens
            .filter(tk::kind.ne("session"))
            .filter(tk::revoked_at.is_null())
            .count()
            .get_result(conn)
            .unwrap()
    })
}

#[actix_web::test]
async fn a_name_search_walks_a_big_list_one_window_at_a_time() {
    use diesel::prelude::*;
    use tessera::db::schema::tokens::dsl as tk;
    use tessera::db::token_search::WINDOW;
    let app = demo_app(12_000).await;
    // The oldest live token of the API tab gets a name nothing else has.
    let needle: i64 = app
        .db(|conn| {
            let id = tk::tokens
                .filter(tk::kind.ne("session"))
                .filter(tk::revoked_at.is_null())
                .order((tk::created_at.asc(), tk::id.asc()))
                .select(tk::id)
                .first(conn)?;
            diesel::update(tk::tokens.find(id))
                .set(tk::name.eq("Needle in a haystack"))
                .execute(conn)?;
            QueryResult::Ok(id)
        })
        .unwrap();
    let live_api = live_api_tokens(&app);
    assert!(
        live_api > WINDOW as i64,
        "{live_api} tokens: more than one window"
    );

    let first = app.get_html("/admin/tokens?tab=api&q=NEEDLE").await;
    assert!(row_ids(&first).is_empty(), "not among the newest {WINDOW}");
    assert!(
        text_of(&first, "#search-window")
            .unwrap()
            .contains(&WINDOW.to_string())
    );
    let doc = Html::parse_document(&first);
    let next = Selector::parse("a[rel=next]").unwrap();
    assert_eq!(
        doc.select(&next).next().unwrap().text().collect::<String>(),
        "Search further »"
    );
    let button = Selector::parse("button[name=all_matching]").unwrap();
    assert_eq!(
        doc.select(&button)
            .next()
            .unwrap()
            .text()
            .collect::<String>(),
        "Select all matching this filter…",
        "no match yet: no number to show"
    );
    // Searching further finds it, within a few windows.
    let mut url = next_link(&first).unwrap().replace("&amp;", "&");
    let mut found = Vec::new();
    for _ in 0..(live_api as usize / WINDOW + 1) {
        let page = app.get_html(&url).await;
        found.extend(row_ids(&page));
        match next_link(&page) {
            Some(next) => url = next.replace("&amp;", "&"),
            None => break,
        }
    }
    assert_eq!(found, vec![needle]);
    // A name that matches nothing ends the same way, one window at a time.
    let nothing = app.get_html("/admin/tokens?tab=api&q=no-such-name").await;
    assert!(row_ids(&nothing).is_empty() && next_link(&nothing).is_some());

    // A common name fills its pages, newest first, and counts "at least".
    let page = app.get_html("/admin/tokens?tab=api&q=deploy").await;
    let ids = row_ids(&page);
    assert_eq!(ids.len(), PAGE);
    let doc = Html::parse_document(&page);
    let label = doc
        .select(&button)
        .next()
        .unwrap()
        .text()
        .collect::<String>();
    assert!(label.contains("+ matching"), "{label}");
    // The confirmation page counts exactly.
    let res = app
        .submit(
            "/admin/tokens",
            "/admin/tokens/bulk-revoke",
            &[("tab", "api"), ("q", "deploy"), ("all_matching", "1")],
        )
        .await;
    let confirm = res.text().await.unwrap();
    let exact: i64 = app.db(|conn| {
        tk::tokens
            .filter(tk::kind.ne("session"))
            .filter(tk::revoked_at.is_null())
            .filter(tk::name.like("%deploy%"))
            .count()
            .get_result(conn)
            .unwrap()
    });
    assert_eq!(
        text_of(&confirm, "h1"),
        Some(format!("Delete {exact} tokens?"))
    );
    // The unfiltered list counts exactly through an index.
    let page = app.get_html("/admin/tokens?tab=api").await;
    let shown = tessera::domain::token_filter::CappedCount::exact(live_api as usize);
    assert!(
        page.contains(&format!("Select all {shown} matching")),
        "{shown}"
    );
}

#[actix_web::test]
async fn revoking_a_session_from_its_page_returns_to_the_sessions_tab() {
    let (app, _) = admin_app().await;
    let ada = app.create_user("ada", false);
    let session = app.insert_token(ada.id, "session", "Phone", None);
    let detail = format!("/admin/tokens/{}", session.id);
    let page = app.get_html(&detail).await;
    // The page's Delete form, as it is.
    let form = common::hidden_fields(
        &page,
        "form[action=\"/admin/tokens/bulk-revoke\"] input[type=hidden]",
    );
    let res = app.post("/admin/tokens/bulk-revoke", &form).await;
    let confirm = res.text().await.unwrap();
    assert_eq!(text_of(&confirm, "h1").as_deref(), Some("Delete 1 token?"));
    let form = confirm_form(&confirm);
    let res = app.post("/admin/tokens/bulk-revoke/confirm", &form).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(res.headers()), "/admin/tokens?tab=sessions");
    assert!(app.is_revoked(session.id));
    assert_eq!(
        app.api_me(&session.token).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[actix_web::test]
async fn status_badges_say_expired_and_revoked_rows_are_not_expiring() {
    let (app, root) = admin_app().await;
    let now = tessera::db::now();
    let expired_disabled = app.insert_token(root.id, "personal", "expired and disabled", None);
    let soon = app.insert_token(root.id, "personal", "expires soon", None);
    let soon_revoked = app.insert_token(root.id, "personal", "revoked early", None);
    app.db(|conn| {
        use diesel::prelude::*;
        use tessera::db::schema::tokens::dsl as tk;
        diesel::update(tk::tokens.find(expired_disabled.id))
            .set((
                tk::expires_at.eq(Some(now - chrono::TimeDelta::days(1))),
                tk::status.eq("disabled"),
            ))
            .execute(conn)?;
        diesel::update(tk::tokens.filter(tk::id.eq_any([soon.id, soon_revoked.id])))
            .set(tk::expires_at.eq(Some(now + chrono::TimeDelta::days(2))))
            .execute(conn)
    })
    .unwrap();
    app.db(|c| tessera::db::tokens::revoke(c, soon_revoked.id, Some(root.id)))
        .unwrap();
    // The badges of a row, in words (the token names above hold the same
    // words, so the row's whole text would prove nothing).
    let badges = |html: &str, id: i64| -> Vec<String> {
        let doc = Html::parse_document(html);
        let badge = Selector::parse(&format!("tr[data-token-id=\"{id}\"] .badge")).unwrap();
        doc.select(&badge)
            .map(|b| b.text().collect::<String>())
            .collect()
    };
    let page = app.get_html("/admin/tokens?tab=api&status=expired").await;
    assert_eq!(row_ids(&page), vec![expired_disabled.id]);
    assert_eq!(badges(&page, expired_disabled.id), ["Expired", "Disabled"]);
    let detail = app
        .get_html(&format!("/admin/tokens/{}", expired_disabled.id))
        .await;
    assert!(detail.contains("badge-expired"));

    let page = app.get_html("/admin/tokens?tab=api").await;
    assert_eq!(badges(&page, soon.id), ["Expires soon", "Active"]);
    let page = app.get_html("/admin/tokens?tab=api&status=revoked").await;
    assert_eq!(badges(&page, soon_revoked.id), ["Revoked"]);
}

/// Every (method, path) of the route table under `/admin`.
fn admin_routes() -> Vec<(&'static str, String)> {
    common::route_table()
        .into_iter()
        .filter(|(_, path)| path == "/admin" || path.starts_with("/admin/"))
        .collect()
}

#[actix_web::test]
async fn non_admins_get_403_on_every_admin_route_of_the_route_table() {
    let (app, ada) = app_with_user("ada").await;
    let root = app.create_user("root", true);
    let (department, user_type) = app.grant(ada.id, "Reader", "devices:read");
    let t = app.insert_token(ada.id, "personal", "mine", None);
    app.login_ok("ada").await;
    let routes = admin_routes();
    for expected in [
        ("GET", "/admin"),
        ("GET", "/admin/tokens"),
        ("POST", "/admin/tokens/bulk-revoke/confirm"),
        ("POST", "/admin/users/{id}"),
        ("POST", "/admin/users/{id}/enable"),
        ("POST", "/admin/users/{id}/disable"),
        ("POST", "/admin/users/{id}/memberships/remove"),
        ("POST", "/admin/users/{id}/password-link"),
        ("GET", "/admin/audit.csv"),
        ("POST", "/admin/scopes/{id}/restore"),
        ("POST", "/admin/departments/{id}/delete"),
    ] {
        assert!(
            routes.contains(&(expected.0, expected.1.to_owned())),
            "{expected:?} is found in the route table: {routes:?}"
        );
    }
    assert!(routes.len() >= 40, "{}", routes.len());

    let csrf = common::csrf_in(&app.get_html("/profile").await);
    let membership = format!("{department}:{user_type}");
    let (token_id, root_id) = (t.id.to_string(), root.id.to_string());
    for (method, pattern) in &routes {
        // An id that exists for whichever kind of thing the path names.
        let id = if pattern.starts_with("/admin/tokens/") {
            token_id.clone()
        } else if pattern.starts_with("/admin/users/") {
            root_id.clone()
        } else if pattern.starts_with("/admin/departments/") {
            department.to_string()
        } else if pattern.starts_with("/admin/user-types/") {
            user_type.to_string()
        } else {
            "1".to_owned()
        };
        let path = pattern.replace("{id}", &id);
        let res = match *method {
            "GET" => app.get(&path).await,
            _ => {
                app.post_form(
                    &path,
                    &[
                        ("csrf_token", &csrf),
                        ("ids", &token_id),
                        ("all_matching", "1"),
                        ("is_admin", "on"),
                        ("email", "x@example.com"),
                        ("display_name", "x"),
                        ("membership", &membership),
                        ("name", "x"),
                        ("initial", "link"),
                    ],
                )
                .await
            }
        };
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{method} {path}");
    }
    // Nothing changed.
    assert!(!app.is_revoked(t.id));
    let ada_now = app.db(|c| tessera::db::users::find(c, ada.id)).unwrap();
    assert!(!ada_now.is_admin && ada_now.is_active());
    let root_now = app.db(|c| tessera::db::users::find(c, root.id)).unwrap();
    assert!(root_now.is_admin && root_now.is_active());
    assert_eq!(app.count("password_codes"), 0);
    assert_eq!(
        app.audit("authorization_failure").len(),
        routes.len(),
        "every refusal is audited"
    );
}

#[actix_web::test]
async fn filter_and_pagination_in_expiry_order_across_pages() {
    let (app, root) = admin_app().await;
    let ada = app.create_user("ada", false);
    let (dept, user_type) = app.grant(ada.id, "Ops", "devices:read");
    let now = tessera::db::now();
    // 120 api tokens in the department with scattered expiries (some never),
    // plus tokens the filter must leave out.
    let mut made = Vec::new();
    for i in 0..120i64 {
        let t = app.insert_token(
            ada.id,
            "api",
            &format!("api {i:03}"),
            Some((dept, user_type)),
        );
        let expires = match i % 7 {
            0 => None,
            _ => Some(now + chrono::TimeDelta::hours((i * 37) % 500 + 1)),
        };
        made.push((t.id, expires));
    }
    app.db(|conn| {
        use diesel::prelude::*;
        use tessera::db::schema::tokens::dsl as tk;
        for (id, expires) in &made {
            diesel::update(tk::tokens.find(id))
                .set(tk::expires_at.eq(*expires))
                .execute(conn)?;
        }
        diesel::QueryResult::Ok(())
    })
    .unwrap();
    app.insert_token(ada.id, "personal", "not api", None);
    app.insert_token(root.id, "api", "elsewhere", None);
    let revoked = app.insert_token(ada.id, "api", "revoked api", Some((dept, user_type)));
    app.db(|c| tessera::db::tokens::revoke(c, revoked.id, None))
        .unwrap();

    let url = format!("/admin/tokens?tab=api&department={dept}&kind=api&sort=expires");
    let keeps = [format!("department={dept}"), "sort=expires".to_owned()];
    let (seen, pages) = walk_keeping(&app, &url, &keeps).await;
    assert_eq!(pages, 3);
    // Soonest expiry first, ties by id; never-expiring last, by id.
    let mut expected = made.clone();
    expected.sort_by_key(|(id, expires)| (expires.is_none(), *expires, *id));
    let expected: Vec<i64> = expected.into_iter().map(|(id, _)| id).collect();
    assert_eq!(seen, expected);
}

#[actix_web::test]
async fn unused_for_days_finds_the_tokens_it_should() {
    let (app, root) = admin_app().await;
    let now = tessera::db::now();
    let old_used = app.insert_token(root.id, "personal", "used long ago", None);
    let never_old = app.insert_token(root.id, "personal", "never used, old", None);
    let recent = app.insert_token(root.id, "personal", "used yesterday", None);
    let never_new = app.insert_token(root.id, "personal", "never used, new", None);
    app.db(|conn| {
        use diesel::prelude::*;
        use tessera::db::schema::tokens::dsl as tk;
        diesel::update(tk::tokens.find(old_used.id))
            .set((
                tk::created_at.eq(now - chrono::TimeDelta::days(300)),
                tk::last_used_at.eq(Some(now - chrono::TimeDelta::days(120))),
            ))
            .execute(conn)?;
        diesel::update(tk::tokens.find(never_old.id))
            .set(tk::created_at.eq(now - chrono::TimeDelta::days(100)))
            .execute(conn)?;
        diesel::update(tk::tokens.find(recent.id))
            .set((
                tk::created_at.eq(now - chrono::TimeDelta::days(300)),
                tk::last_used_at.eq(Some(now - chrono::TimeDelta::days(1))),
            ))
            .execute(conn)
    })
    .unwrap();
    let _ = never_new;
    let mut got = row_ids(&app.get_html("/admin/tokens?tab=api&unused_days=90").await);
    got.sort_unstable();
    assert_eq!(got, vec![old_used.id, never_old.id]);
    assert_eq!(
        row_ids(&app.get_html("/admin/tokens?tab=api&unused_days=110").await),
        vec![old_used.id]
    );

    // Revoke them by that filter: exactly those two, one audit row each.
    let res = ask_to_revoke_unused_for_90_days(&app).await;
    assert_eq!(
        text_of(&res.text().await.unwrap(), "h1").as_deref(),
        Some("Delete 2 tokens?")
    );
    let res = app
        .submit(
            "/admin/tokens",
            "/admin/tokens/bulk-revoke/confirm",
            &[("tab", "api"), ("unused_days", "90"), ("all_matching", "1")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(app.is_revoked(old_used.id) && app.is_revoked(never_old.id));
    assert!(!app.is_revoked(recent.id) && !app.is_revoked(never_new.id));
    let rows = app.audit_rows("token_revoked");
    let mut targets: Vec<i64> = rows.iter().map(|r| r.target_id.unwrap()).collect();
    targets.sort_unstable();
    assert_eq!(targets, vec![old_used.id, never_old.id]);
    for row in &rows {
        assert_eq!(row.actor_name.as_deref(), Some("root"));
        assert_eq!(row.outcome, "success");
        assert_eq!(row.target_type.as_deref(), Some("token"));
        assert!(row.target_label.as_deref().unwrap().contains("tsrp_"));
    }
}

/// The hidden fields of the confirmation page's form, as the browser would post them.
fn confirm_form(confirm: &str) -> Vec<(String, String)> {
    common::hidden_fields(confirm, "form.confirm input[type=hidden]")
}

/// The success message the next page shows.
async fn flash_message(app: &common::TestApp) -> String {
    let page = app.get_html("/admin/tokens").await;
    let doc = Html::parse_document(&page);
    let flash = Selector::parse(".flash, [role=status], [role=alert]").unwrap();
    doc.select(&flash)
        .map(|e| e.text().collect::<String>().trim().to_owned())
        .find(|t| t.contains("Revoked"))
        .unwrap_or_else(|| panic!("no flash in {page}"))
}

#[actix_web::test]
async fn the_confirm_post_reports_tokens_revoked_or_gone_since_the_confirmation_page() {
    let (app, root) = admin_app().await;
    let ada = app.create_user("ada", false);
    let tokens: Vec<_> = (0..5)
        .map(|i| app.insert_token(ada.id, "personal", &format!("t{i}"), None))
        .collect();
    let ids: Vec<i64> = tokens.iter().map(|t| t.id).collect();
    let res = app
        .client
        .post(app.url("/admin/tokens/bulk-revoke"))
        .form(&{
            let mut form = ids_form(&ids);
            form.push((
                "csrf_token",
                common::csrf_in(&app.get_html("/admin/tokens").await),
            ));
            form
        })
        .send()
        .await
        .unwrap();
    let confirm = res.text().await.unwrap();
    assert_eq!(text_of(&confirm, "h1").as_deref(), Some("Delete 5 tokens?"));

    // Between the page and the confirmation: another administrator revokes
    // one, and two are deleted (a purge, say).
    app.db(|c| tessera::db::tokens::revoke(c, tokens[1].id, Some(root.id)))
        .unwrap();
    app.db(|conn| {
        use diesel::prelude::*;
        use tessera::db::schema::tokens::dsl as tk;
        diesel::delete(tk::tokens.filter(tk::id.eq_any([tokens[3].id, tokens[4].id]))).execute(conn)
    })
    .unwrap();
    let revoked_before = app.audit("token_revoked").len();

    assert_eq!(
        confirm_revoke(&app, &confirm).await,
        "Revoked 2 tokens. 1 was already revoked; 2 no longer exist."
    );
    assert!(app.is_revoked(tokens[0].id) && app.is_revoked(tokens[2].id));
    assert_eq!(
        app.audit("token_revoked").len() - revoked_before,
        2,
        "audit rows for the two it revoked only"
    );

    // Nothing left to revoke: said as plainly.
    assert_eq!(
        confirm_revoke(&app, &confirm).await,
        "Revoked 0 tokens. 3 were already revoked; 2 no longer exist."
    );
    // Without anything skipped, the message is as before.
    let fresh = app.insert_token(ada.id, "personal", "fresh", None);
    let mut form = ids_form(&[fresh.id, fresh.id]);
    form.push((
        "csrf_token",
        common::csrf_in(&app.get_html("/admin/tokens").await),
    ));
    app.client
        .post(app.url("/admin/tokens/bulk-revoke/confirm"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(
        flash_message(&app).await,
        "Revoked 1 token.",
        "a repeated id counts once"
    );
}

/// A row's sort columns: (id, created, expires, last used).
type SortRow = (
    i64,
    chrono::NaiveDateTime,
    Option<chrono::NaiveDateTime>,
    Option<chrono::NaiveDateTime>,
);

/// `rows` in the inventory's order for a `sort=` value, written out here
/// independently of the server's code: the column and then the id in the
/// same direction, NULL rows (never expires, never used) by id, oldest first,
/// after every expiry and before every last use.
fn in_expected_order(mut rows: Vec<SortRow>, sort: &str) -> Vec<i64> {
    use std::cmp::Ordering;
    type Key = fn(&SortRow) -> Option<chrono::NaiveDateTime>;
    let (key, desc, nulls_first): (Key, bool, bool) = match sort {
        "created" => (|r| Some(r.1), true, false),
        "created_asc" => (|r| Some(r.1), false, false),
        "expires" => (|r| r.2, false, false),
        "expires_desc" => (|r| r.2, true, true),
        "last_used" => (|r| r.3, true, false),
        "last_used_asc" => (|r| r.3, false, true),
        other => panic!("{other}"),
    };
    rows.sort_by(|a, b| match (key(a), key(b)) {
        (None, None) => a.0.cmp(&b.0),
        (None, Some(_)) if nulls_first => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (Some(_), None) if nulls_first => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
        (Some(x), Some(y)) => {
            let ascending = x.cmp(&y).then(a.0.cmp(&b.0));
            if desc { ascending.reverse() } else { ascending }
        }
    });
    rows.into_iter().map(|r| r.0).collect()
}

/// Confirms the bulk revocation on the confirmation page `confirm`; the
/// message it leads to.
async fn confirm_revoke(app: &common::TestApp, confirm: &str) -> String {
    let res = app
        .post("/admin/tokens/bulk-revoke/confirm", &confirm_form(confirm))
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    flash_message(app).await
}

/// Asks to revoke every API token unused for 90 days (the confirmation).
async fn ask_to_revoke_unused_for_90_days(app: &common::TestApp) -> reqwest::Response {
    app.submit(
        "/admin/tokens",
        "/admin/tokens/bulk-revoke",
        &[("tab", "api"), ("unused_days", "90"), ("all_matching", "1")],
    )
    .await
}

/// Every page from `url` on, following "Next page" / "Search further" links:
/// the ids listed, and how many pages it took. Each link keeps `sort`.
async fn walk(app: &common::TestApp, url: &str, sort: &str) -> (Vec<i64>, usize) {
    // The default order is not written in the links.
    let keeps = match sort {
        "created" => vec![],
        sort => vec![format!("sort={sort}&")],
    };
    walk_keeping(app, url, &keeps).await
}

/// [`walk`], each link keeping every one of `keeps` (filters, the order).
async fn walk_keeping(app: &common::TestApp, url: &str, keeps: &[String]) -> (Vec<i64>, usize) {
    let (mut url, mut seen, mut pages) = (url.to_owned(), Vec::new(), 0);
    loop {
        let page = app.get_html(&url).await;
        let ids = row_ids(&page);
        assert!(ids.len() <= PAGE);
        seen.extend(ids);
        pages += 1;
        assert!(pages < 1_000, "{url}: no end");
        let Some(next) = next_link(&page) else {
            return (seen, pages);
        };
        url = next.replace("&amp;", "&");
        for kept in keeps {
            assert!(
                url.contains(kept.as_str()),
                "{kept} stays in the URL: {url}"
            );
        }
    }
}

/// Gives the tokens `ids` many ties in every sort column (so that pages end
/// inside runs of equal values and the id decides), and NULLs in both
/// nullable ones.
fn spread_sort_values(app: &common::TestApp, ids: &[i64]) {
    use diesel::prelude::*;
    use tessera::db::schema::tokens::dsl as tk;
    let base = tessera::db::now() - chrono::TimeDelta::days(10);
    app.db(|conn| {
        for (i, id) in ids.iter().enumerate() {
            let i = i as i64;
            let expires = (i % 7 != 0).then(|| base + chrono::TimeDelta::days(30 + (i * 37) % 11));
            let last_used = (i % 3 != 0).then(|| base + chrono::TimeDelta::hours((i * 13) % 5));
            diesel::update(tk::tokens.find(id))
                .set((
                    tk::created_at.eq(base - chrono::TimeDelta::minutes(i / 4)),
                    tk::expires_at.eq(expires),
                    tk::last_used_at.eq(last_used),
                ))
                .execute(conn)?;
        }
        QueryResult::Ok(())
    })
    .unwrap();
}

const ORDERS: [&str; 6] = [
    "created",
    "created_asc",
    "expires",
    "expires_desc",
    "last_used",
    "last_used_asc",
];

#[actix_web::test]
async fn both_directions_of_every_order_page_across_boundaries_each_row_once_in_order() {
    use diesel::prelude::*;
    use tessera::db::schema::tokens::dsl as tk;
    let (app, root) = admin_app().await;
    let ada = app.create_user("ada", false);
    let (dept, user_type) = app.grant(ada.id, "Ops", "devices:read");
    let made: Vec<i64> = (0..123)
        .map(|i| {
            app.insert_token(ada.id, "personal", &format!("t{i:03}"), None)
                .id
        })
        .collect();
    // What the filter (kind=personal) leaves out: other kinds, revoked tokens.
    for i in 0..4 {
        app.insert_token(ada.id, "client", &format!("c{i}"), Some((dept, user_type)));
    }
    let revoked = app.insert_token(root.id, "personal", "revoked", None);
    app.db(|c| tessera::db::tokens::revoke(c, revoked.id, None))
        .unwrap();
    spread_sort_values(&app, &made);
    let rows: Vec<SortRow> = app
        .db(|conn| {
            tk::tokens
                .filter(tk::id.eq_any(&made))
                .select((tk::id, tk::created_at, tk::expires_at, tk::last_used_at))
                .load(conn)
        })
        .unwrap();

    for sort in ORDERS {
        let (seen, pages) = walk(
            &app,
            &format!("/admin/tokens?tab=api&kind=personal&sort={sort}"),
            sort,
        )
        .await;
        assert_eq!(pages, 3, "{sort}: 50 + 50 + 23");
        let unique: HashSet<i64> = seen.iter().copied().collect();
        assert_eq!(
            (seen.len(), unique.len()),
            (123, 123),
            "{sort}: every row once"
        );
        assert_eq!(seen, in_expected_order(rows.clone(), sort), "{sort}");
    }
    // The new directions are the old ones turned round, but for the rows
    // without a value, which stay oldest first: first instead of last.
    let never_used: Vec<i64> = made.iter().step_by(3).copied().collect();
    let (least_used, _) = walk(
        &app,
        "/admin/tokens?tab=api&kind=personal&sort=last_used_asc",
        "last_used_asc",
    )
    .await;
    assert_eq!(
        &least_used[..never_used.len()],
        &never_used[..],
        "never used first"
    );
    let (oldest, _) = walk(
        &app,
        "/admin/tokens?tab=api&kind=personal&sort=created_asc",
        "created_asc",
    )
    .await;
    let mut newest = walk(&app, "/admin/tokens?tab=api&kind=personal", "created")
        .await
        .0;
    newest.reverse();
    assert_eq!(oldest, newest, "oldest first is newest first reversed");

    // The form offers every order under its label, the chosen one selected,
    // and the bulk form keeps it (Cancel and the redirect return to it).
    let page = app
        .get_html("/admin/tokens?tab=api&kind=personal&sort=expires_desc")
        .await;
    let doc = Html::parse_document(&page);
    assert!(
        text_of(&page, "label[for=f-sort]").is_some(),
        "the select has a label"
    );
    let options = Selector::parse("#f-sort option").unwrap();
    let values: Vec<&str> = doc
        .select(&options)
        .map(|o| o.value().attr("value").unwrap())
        .collect();
    assert_eq!(values, ORDERS);
    let selected = Selector::parse("#f-sort option[selected]").unwrap();
    let chosen: Vec<String> = doc.select(&selected).map(|o| o.text().collect()).collect();
    assert_eq!(
        chosen,
        vec!["Expiring last (never-expiring first)".to_owned()]
    );
    let sort_field = Selector::parse("#bulk-form input[name=sort]").unwrap();
    assert_eq!(
        doc.select(&sort_field)
            .next()
            .and_then(|i| i.value().attr("value")),
        Some("expires_desc")
    );

    // "Delete selected" with nothing ticked, on page 2 of a new order, shows
    // page 2 of that order again.
    let second = next_link(&page).unwrap().replace("&amp;", "&");
    let second = app.get_html(&second).await;
    let form: Vec<(String, String)> = bulk_form_fields(&second)
        .into_iter()
        .filter(|(name, _)| name != "page_ids")
        .collect();
    let res = app.post("/admin/tokens/bulk-revoke", &form).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(row_ids(&res.text().await.unwrap()), row_ids(&second));
}

#[actix_web::test]
async fn a_name_search_in_every_order_finds_each_match_once_in_order_across_windows() {
    use diesel::prelude::*;
    use tessera::db::schema::tokens::dsl as tk;
    let app = spawn_app().await;
    app.create_user("root", true);
    let hasher = tessera::auth::password::Hasher::new(64, 1).unwrap();
    app.db(|conn| tessera::seed::seed_demo(conn, &hasher, "tsr", 20, 7_000, false))
        .unwrap();
    // Some tokens that never expire (the seed gives every token an expiry).
    app.db(|conn| {
        diesel::update(
            tk::tokens.filter(tk::id.eq_any((0..7_000i64).step_by(9).collect::<Vec<_>>())),
        )
        .set(tk::expires_at.eq(None::<chrono::NaiveDateTime>))
        .execute(conn)
    })
    .unwrap();
    app.login_ok("root").await;
    let rows: Vec<SortRow> = app
        .db(|conn| {
            tk::tokens
                .filter(tk::kind.ne("session"))
                .filter(tk::revoked_at.is_null())
                .filter(tk::name.like("%deploy%"))
                .select((tk::id, tk::created_at, tk::expires_at, tk::last_used_at))
                .load(conn)
        })
        .unwrap();
    assert!(rows.len() > 3 * PAGE, "{} matches", rows.len());
    assert!(rows.iter().any(|r| r.2.is_none()) && rows.iter().any(|r| r.3.is_none()));
    for sort in ORDERS {
        let (seen, pages) = walk(
            &app,
            &format!("/admin/tokens?tab=api&q=deploy&sort={sort}"),
            sort,
        )
        .await;
        assert!(pages > rows.len() / PAGE, "{sort}: {pages} pages");
        let expected = in_expected_order(rows.clone(), sort);
        assert_eq!(seen, expected, "{sort}");
        // And back with "Previous" (or "Search back further") from the last
        // page: the windows walked backwards end elsewhere than those walked
        // forwards, so the pages differ, but not what they hold: every match
        // in order, down to the first page (which, reached from a page whose
        // rows start near the top, may show some of that page again).
        let last = last_page(&app, &format!("/admin/tokens?tab=api&q=deploy&sort={sort}")).await;
        let mut back = follow(&app, &last, "prev").await;
        back.reverse();
        let first: Vec<i64> = back[0].0.clone();
        let after_first: Vec<i64> = back[1..].iter().flat_map(|p| p.0.clone()).collect();
        assert_eq!(first, expected[..first.len()], "{sort}: the first page");
        assert!(
            expected.ends_with(&after_first),
            "{sort}: each match once, in order, walking back"
        );
        assert!(
            first.len() + after_first.len() >= expected.len(),
            "{sort}: none left out walking back"
        );
    }
}

/// The hidden fields of the inventory's bulk form, as a browser without
/// JavaScript sends them (checkboxes left out).
fn bulk_form_fields(list: &str) -> Vec<(String, String)> {
    common::hidden_fields(list, "#bulk-form input[type=hidden]")
}

/// The ids a confirmation page lists and will revoke.
fn confirm_ids(confirm: &str) -> Vec<i64> {
    let mut ids: Vec<i64> = confirm_form(confirm)
        .into_iter()
        .filter(|(name, _)| name == "ids")
        .map(|(_, id)| id.parse().unwrap())
        .collect();
    ids.sort_unstable();
    ids
}

#[actix_web::test]
async fn select_all_on_this_page_without_javascript_revokes_exactly_that_page() {
    let (app, root) = admin_app().await;
    let tokens: Vec<_> = (0..PAGE + 12)
        .map(|i| app.insert_token(root.id, "personal", &format!("t{i:03}"), None))
        .collect();
    // Page 2 (the 12 oldest), then page 1 (the newest 50).
    let first = app.get_html("/admin/tokens?tab=api").await;
    let second = app
        .get_html(&next_link(&first).unwrap().replace("&amp;", "&"))
        .await;
    for (page, size) in [(&second, 12), (&first, PAGE)] {
        let mut listed = row_ids(page);
        assert_eq!(listed.len(), size);
        listed.sort_unstable();
        // The button is a submit named all_on_page; a box ticked on another
        // page (a stray ids value) does not join in.
        let mut form = bulk_form_fields(page);
        form.push(("all_on_page".into(), "1".into()));
        let elsewhere = tokens
            .iter()
            .find(|t| !listed.contains(&t.id) && !app.is_revoked(t.id))
            .map(|t| t.id);
        if let Some(id) = elsewhere {
            form.push(("ids".into(), id.to_string()));
        }
        let res = app.post("/admin/tokens/bulk-revoke", &form).await;
        assert_eq!(res.status(), StatusCode::OK);
        let confirm = res.text().await.unwrap();
        assert_eq!(
            text_of(&confirm, "h1"),
            Some(format!("Delete {size} tokens?"))
        );
        let mut shown = ids_in(&confirm, "tr[data-token-id]");
        shown.sort_unstable();
        assert_eq!(shown, listed, "the confirmation lists exactly that page");
        assert_eq!(confirm_ids(&confirm), listed, "and will revoke exactly it");
        assert!(listed.iter().all(|id| !app.is_revoked(*id)));

        assert_eq!(
            confirm_revoke(&app, &confirm).await,
            format!("Revoked {size} tokens.")
        );
        for t in &tokens {
            let should =
                listed.contains(&t.id) || (size == PAGE && row_ids(&second).contains(&t.id));
            assert_eq!(app.is_revoked(t.id), should, "token {}", t.id);
        }
    }
    for t in &tokens {
        assert_eq!(
            app.api_me(&t.token).await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
}

#[actix_web::test]
async fn revoke_from_an_api_tokens_detail_page() {
    let (app, _) = admin_app().await;
    let ada = app.create_user("ada", false);
    let (dept, user_type) = app.grant(ada.id, "Field integrator", "devices:read");
    let api = app.insert_token(ada.id, "api", "ERP", Some((dept, user_type)));
    let other = app.insert_token(ada.id, "api", "Billing", Some((dept, user_type)));
    assert_eq!(app.api_me(&api.token).await.status(), StatusCode::OK);
    let page = app.get_html(&format!("/admin/tokens/{}", api.id)).await;
    // The page's Delete form, as it is: ids={id} to the confirmation.
    let form = common::hidden_fields(
        &page,
        "form[action=\"/admin/tokens/bulk-revoke\"] input[type=hidden]",
    );
    assert!(form.contains(&("ids".into(), api.id.to_string())));
    let res = app.post("/admin/tokens/bulk-revoke", &form).await;
    assert_eq!(res.status(), StatusCode::OK);
    let confirm = res.text().await.unwrap();
    assert_eq!(text_of(&confirm, "h1").as_deref(), Some("Delete 1 token?"));
    assert_eq!(confirm_ids(&confirm), vec![api.id]);
    let res = app
        .post("/admin/tokens/bulk-revoke/confirm", &confirm_form(&confirm))
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(res.headers()), "/admin/tokens?tab=api");
    assert_eq!(flash_message(&app).await, "Revoked 1 token.");
    assert!(app.is_revoked(api.id) && !app.is_revoked(other.id));
    assert_eq!(
        app.api_me(&api.token).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(app.api_me(&other.token).await.status(), StatusCode::OK);
    let rows = app.audit_rows("token_revoked");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].target_id, Some(api.id));
    // Its page now says so, and its trail has the revocation.
    let page = app.get_html(&format!("/admin/tokens/{}", api.id)).await;
    assert!(page.contains("badge-revoked") && page.contains("Token revoked"));
}

/// Whether the page shows the "more than 12 months away" warning.
fn warns_of_a_long_life(form: &str) -> bool {
    let doc = Html::parse_document(form);
    let warning = Selector::parse("#expiry-warning").unwrap();
    let warning = doc.select(&warning).next().expect("the warning element");
    warning.value().attr("hidden").is_none()
}

#[actix_web::test]
async fn the_beyond_12_months_warning_shows_without_javascript() {
    let (app, _) = admin_app().await;
    let ada = app.create_user("ada", false);
    let (dept, user_type) = app.grant(ada.id, "Field integrator", "devices:read");
    // A policy that allows two years.
    app.set_settings(
        "default_lifetime_days = 90, max_lifetime_days = 730, allow_non_expiring = FALSE",
    );
    let today = chrono::Utc::now().date_naive();
    let day = |d: chrono::NaiveDate| d.format("%Y-%m-%d").to_string();
    let twelve_months = today.checked_add_months(chrono::Months::new(12)).unwrap();
    let (at_12_months, beyond, at_max, past_max) = (
        day(twelve_months),
        day(twelve_months + chrono::TimeDelta::days(1)),
        day(today + chrono::TimeDelta::days(730)),
        day(today + chrono::TimeDelta::days(731)),
    );
    let (user_id, membership) = (ada.id.to_string(), format!("{dept}:{user_type}"));

    // The fresh form: the default date, no warning.
    let fresh = app
        .get_html(&format!("/admin/tokens/new?user_id={}", ada.id))
        .await;
    assert!(!warns_of_a_long_life(&fresh));

    // Re-rendered after a POST that needs fixing (no name): the warning
    // follows the posted date, within the policy maximum.
    for (date, warns) in [(&at_12_months, false), (&beyond, true), (&at_max, true)] {
        let res = app
            .submit_api_token(&[
                ("name", ""),
                ("expires_at", date),
                ("user_id", &user_id),
                ("membership", &membership),
            ])
            .await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{date}");
        let form = res.text().await.unwrap();
        assert!(text_of(&form, "#name-error").is_some());
        assert_eq!(warns_of_a_long_life(&form), warns, "{date}");
        let doc = Html::parse_document(&form);
        let input = Selector::parse("input#api-expires-at").unwrap();
        assert_eq!(
            doc.select(&input).next().unwrap().value().attr("value"),
            Some(date.as_str()),
            "the date is kept"
        );
    }
    // So does the page the user picker (a GET form) shows.
    let picked = app
        .get_html(&format!(
            "/admin/tokens/new?user_id={}&expires_at={beyond}&name=ERP",
            ada.id
        ))
        .await;
    assert!(warns_of_a_long_life(&picked));

    // It is a warning, not a refusal: the date within the maximum is taken.
    let res = app
        .submit_api_token(&[
            ("name", "ERP"),
            ("expires_at", &beyond),
            ("user_id", &user_id),
            ("membership", &membership),
        ])
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let token = new_token_in(&res.text().await.unwrap());
    let me: serde_json::Value = app.api_me(&token).await.json().await.unwrap();
    assert!(
        me["expires_at"].as_str().unwrap().starts_with(&beyond),
        "{me}"
    );
    // Beyond the maximum it is an error of the field instead.
    let res = app
        .submit_api_token(&[
            ("name", "ERP 2"),
            ("expires_at", &past_max),
            ("user_id", &user_id),
            ("membership", &membership),
        ])
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text_of(&res.text().await.unwrap(), "#expires_at-error").is_some());
}

#[actix_web::test]
async fn a_token_without_expiry_only_while_the_policy_allows_it() {
    let (app, _) = admin_app().await;
    let ada = app.create_user("ada", false);
    let (dept, user_type) = app.grant(ada.id, "Field integrator", "devices:read");
    let (user_id, membership) = (ada.id.to_string(), format!("{dept}:{user_type}"));
    let user = app.visitor();
    user.login_ok("ada").await;
    let api_token = |name: &'static str| {
        let (app, user_id, membership) = (&app, user_id.clone(), membership.clone());
        async move {
            app.submit_api_token(&[
                ("name", name),
                ("expires_at", ""),
                ("user_id", &user_id),
                ("membership", &membership),
            ])
            .await
        }
    };
    let access_token = |name: &'static str| {
        let user = &user;
        async move {
            user.submit_access_token(&[
                ("name", name),
                ("scopes", "devices:read"),
                ("expires_in_days", "never"),
            ])
            .await
        }
    };
    let never_offered =
        |form: &str| common::option_values(form, "expires_in_days").contains(&"never".to_owned());

    // Off (the default): refused on both forms, saying why.
    assert!(!never_offered(
        &app.get_html(&format!("/admin/tokens/new?user_id={}", ada.id))
            .await
    ));
    assert!(
        !user
            .get_html("/profile/tokens/new")
            .await
            .contains("value=\"never\"")
    );
    for res in [api_token("ERP").await, access_token("laptop").await] {
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let page = res.text().await.unwrap();
        let error = text_of(&page, "#expires_at-error").unwrap_or_default();
        assert!(error.contains("Tokens must expire"), "{error}");
    }
    assert_eq!(app.count("tokens"), 0);

    // On: both create a token that never expires.
    app.set_settings(
        "default_lifetime_days = 90, max_lifetime_days = 365, allow_non_expiring = TRUE",
    );
    let form = app
        .get_html(&format!("/admin/tokens/new?user_id={}", ada.id))
        .await;
    assert!(never_offered(&form) && form.contains(">No expiration</option>"));
    assert!(
        user.get_html("/profile/tokens/new")
            .await
            .contains("value=\"never\"")
    );
    let mut made = Vec::new();
    for res in [api_token("ERP").await, access_token("laptop").await] {
        assert_eq!(res.status(), StatusCode::OK);
        let page = res.text().await.unwrap();
        assert!(page.contains("never expires"));
        made.push(new_token_in(&page));
    }
    for token in &made {
        let me: serde_json::Value = app.api_me(token).await.json().await.unwrap();
        assert_eq!(me["expires_at"], serde_json::Value::Null, "{me}");
    }
    let list = app.get_html("/admin/tokens?tab=api").await;
    assert_eq!(row_ids(&list).len(), 2);

    // Off again: refused again (the tokens made meanwhile are left alone).
    app.set_settings(
        "default_lifetime_days = 90, max_lifetime_days = 365, allow_non_expiring = FALSE",
    );
    for res in [api_token("ERP 2").await, access_token("laptop 2").await] {
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }
    assert_eq!(app.count("tokens"), 2);
}

/// The console regenerates clients and API tokens only: a member's access
/// token is theirs to regenerate, and a mobile session is signed out, never
/// given a new secret. Neither detail page offers it, and a forged POST changes
/// nothing.
#[actix_web::test]
async fn the_console_does_not_regenerate_access_tokens_or_sessions() {
    let (app, _) = admin_app().await;
    app.step_up().await;
    let ada = app.create_user("ada", false);
    let personal = app.insert_token(ada.id, "personal", "laptop", None);
    let session = app.insert_token(ada.id, "session", "Phone", None);
    let client = app.insert_token(ada.id, "client", "backup job", None);
    for (token, offered) in [(&personal, false), (&session, false), (&client, true)] {
        let detail = format!("/admin/tokens/{}", token.id);
        let action = format!("{detail}/regenerate");
        let page = app.get_html(&detail).await;
        assert_eq!(
            page.contains(&format!("href=\"{action}\"")),
            offered,
            "{detail}"
        );
        if offered {
            continue;
        }
        let res = app
            .post_form(&action, &[("csrf_token", &common::csrf_in(&page))])
            .await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        assert_eq!(location(res.headers()), detail);
        let back = app.get_html(&detail).await;
        assert!(back.contains("is not regenerated here"), "{back}");
        assert_eq!(app.me(&token.token).await.0, StatusCode::OK, "{detail}");
    }
    assert!(app.audit("token_regenerated").is_empty());
}

/// The inventory names kinds as people do ("Access token", not "personal") and
/// shows the time of the last use as well as its date, kept on one line.
#[actix_web::test]
async fn the_inventory_shows_kind_labels_and_the_time_of_last_use() {
    let (app, _) = admin_app().await;
    let ada = app.create_user("ada", false);
    let personal = app.insert_token(ada.id, "personal", "laptop", None);
    app.insert_token(ada.id, "client", "backup job", None);
    let used = chrono::NaiveDate::from_ymd_opt(2026, 11, 30)
        .unwrap()
        .and_hms_opt(14, 5, 0)
        .unwrap();
    app.db(|conn| {
        use diesel::prelude::*;
        use tessera::db::schema::tokens::dsl as t;
        diesel::update(t::tokens.find(personal.id))
            .set(t::last_used_at.eq(Some(used)))
            .execute(conn)
    })
    .unwrap();
    let page = app.get_html("/admin/tokens?tab=api").await;
    let row = |id: i64| text_of(&page, &format!("tr[data-token-id='{id}']")).unwrap();
    let laptop = row(personal.id);
    assert!(laptop.contains("Access token"), "{laptop}");
    assert!(!laptop.contains("personal"), "{laptop}");
    assert!(laptop.contains("2026-11-30 14:05"), "{laptop}");
    assert!(page.contains("<td class=\"when\">2026-11-30 14:05</td>"));
    assert!(page.contains(">Client</td>"), "{page}");
}

#[actix_web::test]
async fn api_tokens_take_a_preset_and_warn_beyond_12_months_however_chosen() {
    let (app, _) = admin_app().await;
    let ada = app.create_user("ada", false);
    let (dept, user_type) = app.grant(ada.id, "Field integrator", "devices:read");
    app.set_settings(
        "default_lifetime_days = 90, max_lifetime_days = 730, allow_non_expiring = TRUE",
    );
    let (user_id, membership) = (ada.id.to_string(), format!("{dept}:{user_type}"));
    let fields = |name: &'static str, days: &'static str, date: String| {
        let (user_id, membership) = (user_id.clone(), membership.clone());
        move || {
            vec![
                ("name", name.to_owned()),
                ("expires_in_days", days.to_owned()),
                ("expires_at", date.clone()),
                ("user_id", user_id.clone()),
                ("membership", membership.clone()),
            ]
        }
    };
    let post = async |fields: Vec<(&'static str, String)>| {
        let borrowed: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        app.submit_api_token(&borrowed).await
    };

    // Fresh: 365 days, suggested and chosen; its day in the line; no warning.
    let form = app
        .get_html(&format!("/admin/tokens/new?user_id={}", ada.id))
        .await;
    assert_eq!(
        common::selected_value(&form, "api-expires-in").as_deref(),
        Some("365")
    );
    assert_eq!(
        text_of(&form, "#api-expires-in option[selected]").as_deref(),
        Some("365 days (suggested)")
    );
    assert_eq!(
        common::expiry_line_date(&form, "api-expiry-line"),
        Some(common::utc_day_in(365))
    );
    assert!(!warns_of_a_long_life(&form));
    let twelve_months = chrono::Utc::now()
        .date_naive()
        .checked_add_months(chrono::Months::new(12))
        .unwrap();
    let hint = text_of(&form, "#api-expiry-hint").unwrap();
    assert!(
        hint.contains(&format!(
            "We suggest no later than {}",
            twelve_months.format("%-d %B %Y")
        )),
        "{hint}"
    );

    // A preset: stored as the line said.
    let res = post(fields("ERP", "180", String::new())()).await;
    assert_eq!(res.status(), StatusCode::OK);
    let (_, me) = app.me(&new_token_in(&res.text().await.unwrap())).await;
    let day = common::utc_day_in(180).format("%Y-%m-%d").to_string();
    assert!(me["expires_at"].as_str().unwrap().starts_with(&day), "{me}");

    // Sent back (no name): the warning follows the result, preset, custom
    // date or no expiry at all.
    let beyond = (twelve_months + chrono::TimeDelta::days(1))
        .format("%Y-%m-%d")
        .to_string();
    for (days, date, warns, chosen) in [
        ("365", String::new(), false, "365"),
        ("custom", beyond.clone(), true, "custom"),
        ("30", beyond.clone(), true, "custom"),
        ("never", String::new(), true, "never"),
        ("", String::new(), true, "never"),
    ] {
        let page = refused_page(post(fields("", days, date.clone())()).await).await;
        assert!(text_of(&page, "#name-error").is_some());
        assert_eq!(warns_of_a_long_life(&page), warns, "{days} {date}");
        assert_eq!(
            common::selected_value(&page, "api-expires-in").as_deref(),
            Some(chosen),
            "{days} {date}"
        );
        assert_eq!(
            common::input_value(&page, "expires_at").as_deref(),
            Some(date.as_str()),
            "what was typed stays"
        );
    }
    let page = refused_page(post(fields("", "never", String::new())()).await).await;
    assert_eq!(
        text_of(&page, "#api-expiry-line").as_deref(),
        Some("Never expires.")
    );
    // "Custom date…" and no date: sent back beside the field.
    let page = refused_page(post(fields("ERP 2", "custom", String::new())()).await).await;
    assert_eq!(
        text_of(&page, "input#api-expires-at + #expires_at-error").as_deref(),
        Some("Choose an expiry, or enter a date.")
    );
    assert_eq!(common::input_value(&page, "name").as_deref(), Some("ERP 2"));
}

/// The link of `rel` ("next", "prev") on an inventory page, as a URL.
fn pager_link(html: &str, rel: &str) -> Option<String> {
    let doc = Html::parse_document(html);
    let link = Selector::parse(&format!("nav.pager a[rel={rel}]")).unwrap();
    doc.select(&link)
        .next()
        .map(|a| a.value().attr("href").unwrap().replace("&amp;", "&"))
}

/// One page of a walk: its rows and its range line ("Rows 51–100 of 123").
type Seen = (Vec<i64>, Option<String>);

/// Follows `rel` links from `url` to the end: every page's rows and range line.
async fn follow(app: &common::TestApp, url: &str, rel: &str) -> Vec<Seen> {
    let (mut url, mut pages) = (url.to_owned(), Vec::new());
    loop {
        let page = app.get_html(&url).await;
        pages.push((row_ids(&page), text_of(&page, "#row-range")));
        assert!(pages.len() < 100, "{url}: no end");
        match pager_link(&page, rel) {
            Some(link) => url = link,
            None => return pages,
        }
    }
}

/// The URL of the last page, following "Next" links from `url`.
async fn last_page(app: &common::TestApp, url: &str) -> String {
    let mut last = url.to_owned();
    let mut page = app.get_html(url).await;
    while let Some(next) = pager_link(&page, "next") {
        last = next;
        page = app.get_html(&last).await;
    }
    last
}

/// Walks `url` forwards to its last page, then back with "Previous" to the
/// first: the pages backwards are the pages forwards, in reverse, rows and
/// range lines alike. The pages forwards.
async fn there_and_back(app: &common::TestApp, url: &str) -> Vec<Seen> {
    let forward = follow(app, url, "next").await;
    let last = last_page(app, url).await;
    let mut back = follow(app, &last, "prev").await;
    back.reverse();
    assert_eq!(back, forward, "{url}: back the same way");
    let first = app.get_html(url).await;
    assert_eq!(pager_link(&first, "prev"), None, "{url}: nothing before");
    forward
}

#[actix_web::test]
async fn previous_pages_show_what_the_next_pages_showed_in_every_order_on_both_tabs() {
    let (app, _) = admin_app().await;
    let ada = app.create_user("ada", false);
    let bob = app.create_user("bob", false);
    let (dept, user_type) = app.grant(ada.id, "Ops", "devices:read");
    let personal: Vec<i64> = (0..123)
        .map(|i| {
            app.insert_token(ada.id, "personal", &format!("t{i:03}"), None)
                .id
        })
        .collect();
    let sessions: Vec<i64> = (0..57)
        .map(|i| {
            let owner = if i % 2 == 0 { ada.id } else { bob.id };
            app.insert_token(owner, "session", &format!("s{i}"), Some((dept, user_type)))
                .id
        })
        .collect();
    let all: Vec<i64> = personal.iter().chain(&sessions).copied().collect();
    spread_sort_values(&app, &all);

    for sort in ORDERS {
        let pages = there_and_back(
            &app,
            &format!("/admin/tokens?tab=api&kind=personal&sort={sort}"),
        )
        .await;
        let ranges: Vec<Option<String>> = pages.iter().map(|p| p.1.clone()).collect();
        assert_eq!(
            ranges,
            [
                Some("Rows 1–50 of 123".to_owned()),
                Some("Rows 51–100 of 123".to_owned()),
                Some("Rows 101–123 of 123".to_owned()),
            ],
            "{sort}"
        );
        let seen: Vec<i64> = pages.into_iter().flat_map(|p| p.0).collect();
        let unique: HashSet<i64> = seen.iter().copied().collect();
        assert_eq!((seen.len(), unique.len()), (123, 123), "{sort}");
    }
    for sort in ["created", "last_used", "last_used_asc", "expires_desc"] {
        let pages = there_and_back(&app, &format!("/admin/tokens?tab=sessions&sort={sort}")).await;
        assert_eq!(pages.len(), 2, "{sort}: 50 + 7");
        assert_eq!(pages[1].1.as_deref(), Some("Rows 51–57 of 57"), "{sort}");
    }
    // With a name search (the window holds the whole list here) and a user.
    let pages = there_and_back(&app, "/admin/tokens?tab=api&q=T0&sort=last_used_asc").await;
    assert_eq!(pages.iter().map(|p| p.0.len()).sum::<usize>(), 100);
    let pages = there_and_back(&app, "/admin/tokens?tab=sessions&user=bo").await;
    assert_eq!(pages.iter().map(|p| p.0.len()).sum::<usize>(), 28);

    // "Previous" from a page the bulk form sent back keeps its place.
    let second = pager_link(
        &app.get_html("/admin/tokens?tab=api&kind=personal&sort=expires")
            .await,
        "next",
    )
    .unwrap();
    let third = app
        .get_html(&pager_link(&app.get_html(&second).await, "next").unwrap())
        .await;
    let back = app.get_html(&pager_link(&third, "prev").unwrap()).await;
    let form: Vec<(String, String)> = bulk_form_fields(&back)
        .into_iter()
        .filter(|(name, _)| name != "page_ids")
        .collect();
    assert!(form.iter().any(|(name, _)| name == "before"), "{form:?}");
    let res = app.post("/admin/tokens/bulk-revoke", &form).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let again = res.text().await.unwrap();
    assert_eq!(row_ids(&again), row_ids(&back));
    assert_eq!(text_of(&again, "#row-range"), text_of(&back, "#row-range"));
    assert_eq!(
        text_of(&back, "#row-range").as_deref(),
        Some("Rows 51–100 of 123")
    );
}

#[actix_web::test]
async fn nonsense_paging_parameters_are_ignored() {
    let (app, root) = admin_app().await;
    for i in 0..3 {
        app.insert_token(root.id, "personal", &format!("t{i}"), None);
    }
    for query in [
        "after=garbage&from=-5",
        "before=garbage&to=x",
        "after=null.9223372036854775807&from=99999999999999999999",
        "before=null.-9223372036854775808&to=0",
        "before=9223372036854775807.1&to=7",
        "after=1.1&before=2.2&from=1&to=1",
        "sort=expires_desc&before=null.9223372036854775807",
        "sort=last_used&after=-62135596800000000.-9223372036854775808",
    ] {
        let res = app.get(&format!("/admin/tokens?tab=api&{query}")).await;
        assert_eq!(res.status(), StatusCode::OK, "{query}");
    }
    // Before the first token: the first page, which says so.
    let page = app
        .get_html("/admin/tokens?tab=api&before=null.9223372036854775807&to=7")
        .await;
    assert_eq!(row_ids(&page).len(), 3);
    assert_eq!(
        text_of(&page, "#row-range").as_deref(),
        Some("Rows 1–3 of 3")
    );
}

#[actix_web::test]
async fn the_range_line_says_when_the_count_reached_its_cap() {
    use tessera::domain::token_filter::COUNT_CAP;
    let app = demo_app(18_000).await;
    let live_api = live_api_tokens(&app);
    assert!(live_api > COUNT_CAP, "{live_api}");
    let first = app.get_html("/admin/tokens?tab=api").await;
    assert_eq!(
        text_of(&first, "#row-range").as_deref(),
        Some("Rows 1–50 of 10,000+")
    );
    let second = app.get_html(&pager_link(&first, "next").unwrap()).await;
    assert_eq!(
        text_of(&second, "#row-range").as_deref(),
        Some("Rows 51–100 of 10,000+")
    );
    let third = app.get_html(&pager_link(&second, "next").unwrap()).await;
    assert_eq!(
        text_of(&third, "#row-range").as_deref(),
        Some("Rows 101–150 of 10,000+")
    );
}

#[actix_web::test]
async fn the_user_filter_finds_part_of_a_username_display_name_or_email() {
    let (app, _) = admin_app().await;
    let ada = app.create_user("ada_l", false);
    let grace = app.create_user("grace", false);
    let linus = app.create_user("linus", false);
    name_users(
        &app,
        &[
            (ada.id, "Ada Lovelace", "countess@analytical.example"),
            (grace.id, "Grace Hopper", "amazing@navy.example"),
            (linus.id, "Linus 100%", "linus@kernel.example"),
        ],
    );
    let adas = app.insert_token(ada.id, "personal", "ada's", None).id;
    let graces = app.insert_token(grace.id, "personal", "grace's", None).id;
    let linuses = app.insert_token(linus.id, "personal", "linus's", None).id;
    let session = app.insert_token(grace.id, "session", "Phone", None).id;
    for (user, expected, tab) in [
        ("DA_", vec![adas], "api"),
        ("a_l", vec![adas], "api"),
        ("lovel", vec![adas], "api"),
        ("HOPP", vec![graces], "api"),
        ("analytical.ex", vec![adas], "api"),
        ("@navy", vec![graces], "api"),
        ("@navy", vec![session], "sessions"),
        ("0%", vec![linuses], "api"),
        ("%", vec![linuses], "api"),
        ("_", vec![adas], "api"),
        (".example", vec![linuses, graces, adas], "api"),
        ("nobody", vec![], "api"),
    ] {
        let page = app
            .get_html(&format!("/admin/tokens?tab={tab}&user={}", urlencode(user)))
            .await;
        let mut got = row_ids(&page);
        got.sort_unstable();
        let mut expected = expected;
        expected.sort_unstable();
        assert_eq!(got, expected, "{user}");
    }
    // A part that many users share (more than the owner index serves):
    // the same rows, found walking the list, both ways.
    let mut crowd = Vec::new();
    for i in 0..25 {
        let user = app.create_user(&format!("crowd{i:02}"), false);
        for j in 0..3 {
            crowd.push(
                app.insert_token(user.id, "personal", &format!("c{j}"), None)
                    .id,
            );
        }
    }
    spread_sort_values(&app, &crowd);
    for sort in ["created", "last_used_asc"] {
        let pages = there_and_back(
            &app,
            &format!("/admin/tokens?tab=api&user=CROWD&sort={sort}"),
        )
        .await;
        let mut seen: Vec<i64> = pages.iter().flat_map(|p| p.0.clone()).collect();
        assert_eq!(pages[1].1.as_deref(), Some("Rows 51–75 of 75"), "{sort}");
        seen.sort_unstable();
        assert_eq!(seen, crowd, "{sort}");
    }
    let page = app.get_html("/admin/tokens?tab=api&user=hopp").await;
    assert_eq!(text_of(&page, "#row-range").as_deref(), Some("Row 1 of 1"));
    assert_eq!(
        text_of(&page, "#f-user-hint").as_deref(),
        Some("Part of a username, display name or email"),
        "the field says what it matches"
    );
}

/// How many rows with a `data-token-id` a page has.
fn row_ids_anywhere(html: &str) -> usize {
    ids_in(html, "tr[data-token-id]").len()
}

/// The dates ("2026-11-30", "2026-11-30 14:05") on a page that could wrap:
/// those with no element of class `when` around them.
fn wrappable_dates(html: &str) -> Vec<String> {
    let doc = Html::parse_document(html);
    let mut loose = Vec::new();
    for node in doc.tree.nodes() {
        let Some(text) = node.value().as_text() else {
            continue;
        };
        let looks_like_a_date = text.as_bytes().windows(10).any(|w| {
            w.iter().enumerate().all(|(i, b)| match i {
                4 | 7 => *b == b'-',
                _ => b.is_ascii_digit(),
            })
        });
        let kept_whole = node.ancestors().any(|a| {
            a.value()
                .as_element()
                .is_some_and(|e| e.classes().any(|c| c == "when"))
        });
        if looks_like_a_date && !kept_whole {
            loose.push(text.to_string());
        }
    }
    loose
}

#[actix_web::test]
async fn dates_never_break_mid_value_and_both_tabs_show_the_time_of_last_use() {
    use diesel::prelude::*;
    use tessera::db::schema::tokens::dsl as t;
    let (app, _) = admin_app().await;
    let ada = app.create_user("ada", false);
    let (dept, user_type) = app.grant(ada.id, "Ops", "devices:read");
    let personal = app.insert_token(ada.id, "personal", "laptop", None);
    let api = app.insert_token(ada.id, "api", "ERP", Some((dept, user_type)));
    let session = app.insert_token(ada.id, "session", "Phone", Some((dept, user_type)));
    let used = chrono::NaiveDate::from_ymd_opt(2026, 11, 30)
        .unwrap()
        .and_hms_opt(14, 5, 0)
        .unwrap();
    app.db(|conn| {
        diesel::update(t::tokens)
            .set((
                t::last_used_at.eq(Some(used)),
                t::last_used_ip.eq(Some("192.0.2.7")),
            ))
            .execute(conn)
    })
    .unwrap();
    for tab in ["api", "sessions"] {
        let page = app.get_html(&format!("/admin/tokens?tab={tab}")).await;
        assert!(
            page.contains("<td class=\"when\">2026-11-30 14:05</td>"),
            "{tab}"
        );
        assert_eq!(wrappable_dates(&page), Vec::<String>::new(), "{tab}");
    }
    for id in [personal.id, api.id, session.id] {
        let page = app.get_html(&format!("/admin/tokens/{id}")).await;
        assert!(page.contains("2026-11-30 14:05"), "{id}");
        assert_eq!(wrappable_dates(&page), Vec::<String>::new(), "{id}");
    }
    let page = app.get_html(&format!("/admin/users/{}", ada.id)).await;
    assert!(page.contains("2026-11-30 14:05"));
    assert_eq!(wrappable_dates(&page), Vec::<String>::new());
    let (grace, _) = common::app_with_member("grace").await;
    grace.login_ok("grace").await;
    grace.new_access_token("laptop", &["devices:read"]).await;
    let page = grace.get_html("/profile/tokens").await;
    assert!(row_ids_anywhere(&page) > 0);
    assert_eq!(wrappable_dates(&page), Vec::<String>::new());
}

/// Gives users a display name and an email: (id, display name, email).
fn name_users(app: &common::TestApp, names: &[(i64, &str, &str)]) {
    use diesel::prelude::*;
    use tessera::db::schema::users::dsl as u;
    app.db(|conn| {
        for (id, display, email) in names {
            diesel::update(u::users.find(id))
                .set((u::display_name.eq(display), u::email.eq(email)))
                .execute(conn)?;
        }
        QueryResult::Ok(())
    })
    .unwrap();
}

/// The values of the radio buttons `user_id` a Create API token page lists.
fn listed_users(html: &str) -> Vec<i64> {
    let doc = Html::parse_document(html);
    let radios = Selector::parse("#user-matches input[type=radio][name=user_id]").unwrap();
    doc.select(&radios)
        .map(|r| r.value().attr("value").unwrap().parse().unwrap())
        .collect()
}

#[actix_web::test]
async fn create_api_token_finds_the_user_by_typing_and_shows_the_scopes_without_javascript() {
    let (app, _) = admin_app().await;
    let ada = app.create_user("ada_l", false);
    let grace = app.create_user("grace", false);
    let adam = app.create_user("adam", false);
    name_users(
        &app,
        &[
            (ada.id, "Ada Lovelace", "countess@analytical.example"),
            (grace.id, "Grace Hopper", "amazing@navy.example"),
        ],
    );
    app.disable_user(adam.id);
    let (ops, integrator) = app.grant(ada.id, "Field device", "devices:write devices:read");
    let (fin, reader) = app.grant(ada.id, "Statistician", "collections:read");

    // A fresh form asks for a user first.
    let fresh = app.get_html("/admin/tokens/new").await;
    assert!(text_of(&fresh, "label[for=pick-user-q]").is_some());
    assert!(listed_users(&fresh).is_empty());

    // Part of a username, a display name or an email; what was typed stays.
    for (q, expected) in [
        ("ADA", vec![ada.id]),
        ("lovel", vec![ada.id]),
        ("@navy", vec![grace.id]),
        (".example", vec![ada.id, grace.id]),
        ("_", vec![ada.id]),
    ] {
        let page = app
            .get_html(&format!(
                "/admin/tokens/new?user_q={}&name=ERP+sync&description=nightly&expires_at=2027-01-31",
                urlencode(q)
            ))
            .await;
        assert_eq!(listed_users(&page), expected, "{q}: active users only");
        assert_eq!(common::input_value(&page, "user_q").as_deref(), Some(q));
        assert_eq!(
            common::input_value(&page, "name").as_deref(),
            Some("ERP sync")
        );
        assert_eq!(
            common::input_value(&page, "description").as_deref(),
            Some("nightly")
        );
        for id in &expected {
            assert!(
                text_of(&page, &format!("label[for=pick-user-{id}]")).is_some(),
                "{q}: each user has a label"
            );
        }
    }
    let page = app.get_html("/admin/tokens/new?user_q=nobody").await;
    assert!(
        text_of(&page, "#user-matches-none")
            .unwrap()
            .contains("No active user matches")
    );

    // Picking one shows their memberships, and the scopes of the first.
    let page = app
        .get_html(&format!(
            "/admin/tokens/new?user_q=lovel&user_id={}&name=ERP+sync",
            ada.id
        ))
        .await;
    assert_eq!(
        common::option_values(&page, "membership"),
        vec![format!("{ops}:{integrator}"), format!("{fin}:{reader}")]
    );
    assert!(text_of(&page, "#chosen-user").unwrap().contains("ada_l"));
    assert_eq!(
        text_of(&page, "#token-scopes").unwrap().trim(),
        "Scopes this token will get: devices:read devices:write"
    );
    let each = text_of(&page, "details.membership-scopes").unwrap();
    assert!(
        each.contains("Dept Statistician — Statistician") && each.contains("collections:read"),
        "{each}"
    );
    // The chosen membership's scopes.
    let page = app
        .get_html(&format!(
            "/admin/tokens/new?user_id={}&membership={fin}:{reader}",
            ada.id
        ))
        .await;
    assert_eq!(
        text_of(&page, "#token-scopes").unwrap().trim(),
        "Scopes this token will get: collections:read"
    );

    // More than twenty matches: the first twenty, and the page says so.
    for i in 0..22 {
        app.create_user(&format!("bulk{i:02}"), false);
    }
    let page = app.get_html("/admin/tokens/new?user_q=bulk").await;
    assert_eq!(listed_users(&page).len(), 20);
    assert!(
        text_of(&page, "#user-matches legend")
            .unwrap()
            .contains("type more")
    );

    // Nonsense: a search too long is refused with the form as typed; an
    // unknown user or membership is no choice at all.
    let long = "a".repeat(101);
    let res = app
        .get(&format!("/admin/tokens/new?user_q={long}&name=ERP"))
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = res.text().await.unwrap();
    assert!(text_of(&page, "#user_q-error").is_some(), "{page}");
    assert_eq!(common::input_value(&page, "name").as_deref(), Some("ERP"));
    for query in [
        "user_id=x&membership=1:2:3",
        "user_id=99999999999999999999",
        "user_id=-1&membership=a:b",
        "user_q=%25%25&user_id=",
    ] {
        let res = app.get(&format!("/admin/tokens/new?{query}")).await;
        assert_eq!(res.status(), StatusCode::OK, "{query}");
    }

    // The POST is what it was.
    let res = app
        .submit_api_token(&[
            ("name", "ERP sync"),
            ("expires_at", ""),
            ("user_id", &ada.id.to_string()),
            ("membership", &format!("{fin}:{reader}")),
            ("description", ""),
        ])
        .await;
    let page = res.text().await.unwrap();
    let expires = (chrono::Utc::now() + chrono::TimeDelta::days(30))
        .format("%Y-%m-%d")
        .to_string();
    let res = if page.contains("id=\"new-token\"") {
        page
    } else {
        app.submit_api_token(&[
            ("name", "ERP sync"),
            ("expires_at", &expires),
            ("user_id", &ada.id.to_string()),
            ("membership", &format!("{fin}:{reader}")),
            ("description", ""),
        ])
        .await
        .text()
        .await
        .unwrap()
    };
    let token = new_token_in(&res);
    let me: serde_json::Value = app.api_me(&token).await.json().await.unwrap();
    assert_eq!(me["scopes"], serde_json::json!(["collections:read"]));
}
