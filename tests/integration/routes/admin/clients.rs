//! Administrator / Provision client: `GET /admin/clients/new` and
//! `POST /admin/clients`, a client for a chosen user with any user type.

use crate::common;

use common::{
    TestApp, admin_app, csrf_in, new_token_in, refused_page, scalar, text_of, token_row_id,
};
use reqwest::StatusCode;
use scraper::{Html, Selector};

/// The id of the starter user type called `name`.
fn user_type_id(app: &TestApp, name: &str) -> i64 {
    app.db(|conn| {
        scalar(
            conn,
            &format!("SELECT id FROM user_types WHERE name = '{name}'"),
        )
    })
}

fn in_days(days: i64) -> String {
    (chrono::Utc::now() + chrono::TimeDelta::days(days))
        .format("%Y-%m-%d")
        .to_string()
}

/// The value of the selected option of the select `name`.
fn selected(html: &str, name: &str) -> Option<String> {
    let doc = Html::parse_document(html);
    let option = Selector::parse(&format!("select[name={name}] option[selected]")).unwrap();
    doc.select(&option)
        .next()
        .and_then(|o| o.value().attr("value").map(str::to_owned))
}

#[actix_web::test]
async fn on_a_fresh_install_an_administrator_provisions_a_client_for_a_member() {
    let (app, _root) = admin_app().await;
    let ada = app.create_user("ada", false);
    let integrator = user_type_id(&app, "Integrator");
    let tokens_page = app.get_html("/admin/tokens").await;
    assert!(
        tokens_page.contains("href=\"/admin/clients/new\""),
        "the inventory links to the form"
    );
    let form = app.get_html("/admin/clients/new").await;
    assert!(form.contains("Integrator") && form.contains("Read-only"));

    let (user, role, expires) = (ada.id.to_string(), integrator.to_string(), in_days(30));
    let fields = [
        ("user_id", user.as_str()),
        ("name", "BI"),
        ("role_id", role.as_str()),
        ("expires_at", expires.as_str()),
    ];
    let res = app
        .submit("/admin/clients/new", "/admin/clients", &fields)
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers()[reqwest::header::CACHE_CONTROL],
        "no-store",
        "the secret page is never cached"
    );
    let html = res.text().await.unwrap();
    let secret = new_token_in(&html);
    assert!(html.contains("href=\"/admin/tokens\""), "a way back");

    // A client, Ada's, made by root, with the type she holds no membership of.
    let (owner, creator, type_id) = app.db(|conn| {
        let mut q = |column: &str| {
            let query =
                format!("SELECT {column} FROM tokens WHERE name = 'BI' AND kind = 'client'");
            scalar(conn, &query)
        };
        (q("owner_id"), q("created_by"), q("user_type_id"))
    });
    let root_id = app.db(|conn| scalar(conn, "SELECT id FROM users WHERE username = 'root'"));
    assert_eq!((owner, creator, type_id), (ada.id, root_id, integrator));
    let rows = app.audit_rows("token_created");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].actor_name.as_deref(), Some("root"));
    assert!(!rows[0].target_label.as_deref().unwrap().contains(&secret));

    let (status, me) = app.me(&secret).await;
    assert_eq!(status, StatusCode::OK, "the client authenticates: {me}");
    assert_eq!(me["user"]["username"], "ada", "{me}");

    let ada_visitor = app.visitor();
    ada_visitor.login_ok("ada").await;
    let mine = ada_visitor.get_html("/profile/tokens").await;
    let id = token_row_id(&mine, "BI");
    assert!(id > 0);
}

#[actix_web::test]
async fn the_user_page_preselects_the_user() {
    let (app, _root) = admin_app().await;
    let ada = app.create_user("ada", false);
    let detail = app.get_html(&format!("/admin/users/{}", ada.id)).await;
    let link = format!("/admin/clients/new?user_id={}", ada.id);
    assert!(detail.contains(&link), "the user page links to the form");
    let form = app.get_html(&link).await;
    assert_eq!(selected(&form, "user_id"), Some(ada.id.to_string()));
}

#[actix_web::test]
async fn bad_input_comes_back_with_the_error_beside_the_field_and_nothing_made() {
    let (app, _root) = admin_app().await;
    let ada = app.create_user("ada", false);
    let gone = app.create_user("gone", false);
    app.disable_user(gone.id);
    let role = user_type_id(&app, "Read-only").to_string();
    let expires = in_days(30);
    let cases = [
        ("", "BI", role.as_str(), expires.as_str(), "user_id"),
        ("999999", "BI", role.as_str(), expires.as_str(), "user_id"),
        ("x", "BI", role.as_str(), expires.as_str(), "user_id"),
        (
            &*gone.id.to_string(),
            "BI",
            role.as_str(),
            expires.as_str(),
            "user_id",
        ),
        (
            &*ada.id.to_string(),
            "BI",
            "999999",
            expires.as_str(),
            "role_id",
        ),
        (&*ada.id.to_string(), "BI", "", expires.as_str(), "role_id"),
        (
            &*ada.id.to_string(),
            "BI",
            role.as_str(),
            "2000-01-01",
            "expires_at",
        ),
        (
            &*ada.id.to_string(),
            "BI",
            role.as_str(),
            "soon",
            "expires_at",
        ),
        (
            &*ada.id.to_string(),
            "   ",
            role.as_str(),
            expires.as_str(),
            "name",
        ),
    ]
    .map(|(u, n, r, e, f)| (u.to_owned(), n, r.to_owned(), e.to_owned(), f));
    for (user, name, role, expires, field) in &cases {
        let fields = [
            ("user_id", user.as_str()),
            ("name", name),
            ("role_id", role.as_str()),
            ("expires_at", expires.as_str()),
        ];
        let res = app
            .submit("/admin/clients/new", "/admin/clients", &fields)
            .await;
        let html = refused_page(res).await;
        assert!(
            text_of(&html, &format!("#{field}-error")).is_some(),
            "{fields:?}: an error beside {field}"
        );
        if !name.trim().is_empty() {
            assert_eq!(
                common::input_value(&html, "name").as_deref(),
                Some(*name),
                "{fields:?}: the name is kept"
            );
        }
    }
    assert_eq!(app.count("tokens"), 0);
}

#[actix_web::test]
async fn a_member_gets_neither_route() {
    let (app, ada) = common::app_with_member("ada").await;
    app.login_ok("ada").await;
    assert_eq!(
        app.get("/admin/clients/new").await.status(),
        StatusCode::FORBIDDEN
    );
    let csrf = csrf_in(&app.get_html("/profile").await);
    let (user, role) = (
        ada.id.to_string(),
        user_type_id(&app, "Integrator").to_string(),
    );
    let expires = in_days(30);
    let res = app
        .post_form(
            "/admin/clients",
            &[
                ("csrf_token", &csrf),
                ("user_id", &user),
                ("name", "BI"),
                ("role_id", &role),
                ("expires_at", &expires),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.count("tokens"), 0);
}

#[actix_web::test]
async fn an_administrator_provisions_a_client_with_a_preset_expiry() {
    let (app, _) = admin_app().await;
    let ada = app.create_user("ada", false);
    let role = user_type_id(&app, "Integrator").to_string();
    let form = app.get_html("/admin/clients/new").await;
    assert_eq!(
        common::selected_value(&form, "client-expires-in").as_deref(),
        Some("90")
    );
    assert_eq!(
        common::expiry_line_date(&form, "client-expiry-line"),
        Some(common::utc_day_in(90))
    );
    let user = ada.id.to_string();
    let res = app
        .submit(
            "/admin/clients/new",
            "/admin/clients",
            &[
                ("user_id", user.as_str()),
                ("name", "BI"),
                ("role_id", role.as_str()),
                ("expires_in_days", "7"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let (_, me) = app.me(&new_token_in(&res.text().await.unwrap())).await;
    let day = common::utc_day_in(7).format("%Y-%m-%d").to_string();
    assert!(me["expires_at"].as_str().unwrap().starts_with(&day), "{me}");
}
