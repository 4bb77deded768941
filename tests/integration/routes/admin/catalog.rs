//! Administrator / Departments, User types and the Scope catalog: who may reach
//! them, create/edit/delete with field errors that keep what was typed, deletion
//! refused while in use, and the effect of retiring a scope or changing a user
//! type's scopes on forms and on real tokens.

use crate::common;

use common::{
    STARTER_USER_TYPES, TestApp, Visitor, admin_app, app_with_user, csrf_in, input_value, location,
    spawn_app, text_of,
};
use diesel::prelude::*;
use reqwest::StatusCode;
use scraper::{Html, Selector};
use serde_json::Value;

const XSS: &str = "<img src=x onerror=alert(1)>";

fn has(html: &str, selector: &str) -> bool {
    let doc = Html::parse_document(html);
    let selector = Selector::parse(selector).unwrap();
    doc.select(&selector).next().is_some()
}

fn field_error(html: &str, field: &str) -> Option<String> {
    text_of(html, &format!("#{field}-error"))
}

/// One `<h1>`, every visible control labelled by `<label for>`, the admin subnav.
fn assert_page_shape(html: &str, what: &str) {
    let doc = Html::parse_document(html);
    let h1 = Selector::parse("h1").unwrap();
    assert_eq!(doc.select(&h1).count(), 1, "{what}: exactly one h1");
    assert!(
        has(html, "nav.subnav a[href='/admin/departments']"),
        "{what}: admin nav"
    );
    let controls = Selector::parse("input:not([type=hidden]), select, textarea").unwrap();
    for control in doc.select(&controls) {
        let id = control
            .value()
            .attr("id")
            .unwrap_or_else(|| panic!("{what}: a control without id: {}", control.html()));
        assert!(
            has(html, &format!("label[for='{id}']")),
            "{what}: no label for #{id}"
        );
    }
}

/// A fresh server, and the administrator `root` signed in as a visitor of
/// its own (the server's own visitor is free for a user).
async fn app_and_admin() -> (TestApp, common::Visitor) {
    let app = spawn_app().await;
    app.create_user("root", true);
    let admin = app.visitor();
    admin.login_ok("root").await;
    (app, admin)
}

/// Makes ada a member whose user type ("Field") holds `devices:read` and
/// `devices:write`, signs her in on the server's own visitor and gives her a
/// token of both: (that user type's id, the token).
async fn ada_with_a_token_of_two_scopes(app: &TestApp) -> (i64, String) {
    let ada = app.create_user("ada", false);
    let (_, field) = app.grant(ada.id, "Field", "devices:read devices:write");
    app.login_ok("ada").await;
    let (_, token) = app
        .new_access_token("ci", &["devices:read", "devices:write"])
        .await;
    (field, token)
}

/// Asserts that the catalog has its twelve scopes and that the department
/// `d` and user type `t` of `app.grant(…, "Field", "devices:read")` are as
/// they were made.
fn assert_field_untouched(app: &TestApp, d: i64, t: i64) {
    assert_eq!(app.count("scopes"), 12);
    assert_eq!(department(app, d).unwrap().0, "Dept Field");
    assert_eq!(
        user_type(app, t).unwrap(),
        ("Field".into(), "devices:read".into())
    );
}

fn department_id(app: &TestApp, name: &str) -> Option<i64> {
    use tessera::db::schema::departments::dsl as d;
    app.db(|conn| {
        d::departments
            .filter(d::name.eq(name))
            .select(d::id)
            .first(conn)
            .optional()
            .unwrap()
    })
}

fn department(app: &TestApp, id: i64) -> Option<(String, String)> {
    use tessera::db::schema::departments::dsl as d;
    app.db(|conn| {
        d::departments
            .find(id)
            .select((d::name, d::description))
            .first(conn)
            .optional()
            .unwrap()
    })
}

fn user_type(app: &TestApp, id: i64) -> Option<(String, String)> {
    use tessera::db::schema::user_types::dsl as t;
    app.db(|conn| {
        t::user_types
            .find(id)
            .select((t::name, t::scopes))
            .first(conn)
            .optional()
            .unwrap()
    })
}

fn user_type_id(app: &TestApp, name: &str) -> Option<i64> {
    use tessera::db::schema::user_types::dsl as t;
    app.db(|conn| {
        t::user_types
            .filter(t::name.eq(name))
            .select(t::id)
            .first(conn)
            .optional()
            .unwrap()
    })
}

/// (id, resource, description, retired) of a scope.
fn scope(app: &TestApp, name: &str) -> Option<(i64, String, String, bool)> {
    use tessera::db::schema::scopes::dsl as s;
    app.db(|conn| {
        s::scopes
            .filter(s::name.eq(name))
            .select((s::id, s::resource, s::description, s::retired_at))
            .first::<(i64, String, String, Option<chrono::NaiveDateTime>)>(conn)
            .optional()
            .unwrap()
            .map(|(id, r, d, at)| (id, r, d, at.is_some()))
    })
}

async fn scopes_of(app: &TestApp, token: &str) -> Value {
    let res = app.api_me(token).await;
    assert_eq!(res.status(), StatusCode::OK);
    res.json::<Value>().await.unwrap()["scopes"].clone()
}

/// Submits a form from `page` to `action` and expects a redirect to `back`.
async fn submit_ok(
    visitor: &Visitor,
    page: &str,
    action: &str,
    fields: &[(&str, &str)],
    back: &str,
) {
    let res = visitor.submit(page, action, fields).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "POST {action}");
    assert_eq!(location(res.headers()), back, "POST {action}");
}

/// Submits a form and expects it back with status 422; returns the page.
async fn submit_422(
    visitor: &Visitor,
    page: &str,
    action: &str,
    fields: &[(&str, &str)],
) -> String {
    let res = visitor.submit(page, action, fields).await;
    assert_eq!(
        res.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "POST {action} {fields:?}"
    );
    let html = res.text().await.unwrap();
    assert_page_shape(&html, action);
    html
}

#[actix_web::test]
async fn non_admins_get_403_on_every_catalog_route() {
    let (app, ada) = app_with_user("ada").await;
    let (d, t) = app.grant(ada.id, "Field", "devices:read");
    let (s, ..) = scope(&app, "devices:read").unwrap();
    app.login_ok("ada").await;
    for path in [
        "/admin/departments".to_owned(),
        "/admin/departments/new".into(),
        format!("/admin/departments/{d}/edit"),
        format!("/admin/departments/{d}/delete"),
        "/admin/user-types".into(),
        "/admin/user-types/new".into(),
        format!("/admin/user-types/{t}/edit"),
        format!("/admin/user-types/{t}/delete"),
        "/admin/scopes".into(),
        "/admin/scopes/new".into(),
        format!("/admin/scopes/{s}/edit"),
    ] {
        assert_eq!(
            app.get(&path).await.status(),
            StatusCode::FORBIDDEN,
            "GET {path}"
        );
    }
    let csrf = csrf_in(&app.get_html("/profile").await);
    let fields = [
        ("csrf_token", csrf.as_str()),
        ("name", "Hijacked"),
        ("description", "x"),
        ("resource", "X"),
        ("scopes", "users:write"),
    ];
    for path in [
        "/admin/departments".to_owned(),
        format!("/admin/departments/{d}"),
        format!("/admin/departments/{d}/delete"),
        "/admin/user-types".into(),
        format!("/admin/user-types/{t}"),
        format!("/admin/user-types/{t}/delete"),
        "/admin/scopes".into(),
        format!("/admin/scopes/{s}"),
        format!("/admin/scopes/{s}/retire"),
        format!("/admin/scopes/{s}/restore"),
    ] {
        let res = app.post_form(&path, &fields).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "POST {path}");
    }
    assert_eq!(app.count("departments"), 1);
    assert_eq!(app.count("user_types"), STARTER_USER_TYPES + 1);
    assert_field_untouched(&app, d, t);
    assert_eq!(
        scope(&app, "devices:read").unwrap(),
        (s, "Device".into(), "Read devices".into(), false)
    );
    assert!(app.audit("authorization_failure").len() >= 21);
}

#[actix_web::test]
async fn departments_are_created_edited_and_deleted() {
    let (app, _) = admin_app().await;
    let list = app.get_html("/admin/departments").await;
    assert_page_shape(&list, "list");
    assert!(has(
        &list,
        "nav.subnav a[href='/admin/departments'][aria-current=page]"
    ));
    assert!(has(&list, "nav.subnav a[href='/admin/user-types']"));
    assert!(has(&list, "nav.subnav a[href='/admin/scopes']"));
    assert!(list.contains("No departments yet."));
    assert_page_shape(&app.get_html("/admin/departments/new").await, "new");

    let new = "/admin/departments/new";
    submit_ok(
        &app,
        new,
        "/admin/departments",
        &[("name", "  Finance "), ("description", "Money matters")],
        "/admin/departments",
    )
    .await;
    let finance = department_id(&app, "Finance").expect("trimmed and stored");
    let list = app.get_html("/admin/departments").await;
    assert!(list.contains("Department “Finance” created."));
    let row = format!("tr[data-department-id='{finance}']");
    assert!(text_of(&list, &row).unwrap().contains("Money matters"));

    // A clash ignores case (also beyond ASCII) and keeps what was typed.
    let page = submit_422(
        &app,
        new,
        "/admin/departments",
        &[("name", "FINANCE"), ("description", "second try")],
    )
    .await;
    assert!(
        field_error(&page, "name")
            .unwrap()
            .contains("There is already a department called “Finance”")
    );
    assert_eq!(input_value(&page, "name").as_deref(), Some("FINANCE"));
    assert_eq!(
        text_of(&page, "textarea[name=description]").as_deref(),
        Some("second try")
    );
    submit_ok(
        &app,
        new,
        "/admin/departments",
        &[("name", "Équipe")],
        "/admin/departments",
    )
    .await;
    let page = submit_422(&app, new, "/admin/departments", &[("name", "éQUIPE")]).await;
    assert!(field_error(&page, "name").is_some());

    // Bad input: a field error, never a 500.
    let long = "n".repeat(10_000);
    let page = submit_422(&app, new, "/admin/departments", &[("name", &long)]).await;
    assert!(field_error(&page, "name").unwrap().contains("at most 100"));
    assert_eq!(input_value(&page, "name").as_deref(), Some(long.as_str()));
    let page = submit_422(&app, new, "/admin/departments", &[("name", "   ")]).await;
    assert!(field_error(&page, "name").is_some());
    let page = submit_422(
        &app,
        new,
        "/admin/departments",
        &[("name", "Ops"), ("description", &"d".repeat(501))],
    )
    .await;
    assert!(field_error(&page, "description").is_some());
    assert_eq!(input_value(&page, "name").as_deref(), Some("Ops"));
    let page = submit_422(&app, new, "/admin/departments", &[("name", "a\u{1}b")]).await;
    assert!(field_error(&page, "name").is_some());
    assert_eq!(app.count("departments"), 2);

    // Edit.
    let edit = format!("/admin/departments/{finance}/edit");
    let action = format!("/admin/departments/{finance}");
    let form = app.get_html(&edit).await;
    assert_page_shape(&form, "edit");
    assert_eq!(input_value(&form, "name").as_deref(), Some("Finance"));
    submit_ok(
        &app,
        &edit,
        &action,
        &[("name", "Finance & Control"), ("description", "")],
        "/admin/departments",
    )
    .await;
    assert_eq!(
        department(&app, finance).unwrap(),
        ("Finance & Control".into(), String::new())
    );
    let page = submit_422(
        &app,
        &edit,
        &action,
        &[("name", "équipe"), ("description", "kept")],
    )
    .await;
    assert!(field_error(&page, "name").is_some());
    assert_eq!(input_value(&page, "name").as_deref(), Some("équipe"));
    assert_eq!(
        text_of(&page, "textarea[name=description]").as_deref(),
        Some("kept")
    );
    assert!(text_of(&page, "h1").unwrap().contains("Finance & Control"));
    submit_ok(
        &app,
        &edit,
        &action,
        &[("name", "FINANCE & CONTROL")],
        "/admin/departments",
    )
    .await;
    let page = submit_422(&app, &edit, &action, &[("name", &long)]).await;
    assert!(field_error(&page, "name").is_some());
    assert_eq!(department(&app, finance).unwrap().0, "FINANCE & CONTROL");

    // Delete (nothing refers to it).
    let confirm = app
        .get_html(&format!("/admin/departments/{finance}/delete"))
        .await;
    assert_page_shape(&confirm, "delete");
    assert!(has(&confirm, "form.confirm button"));
    submit_ok(
        &app,
        &format!("/admin/departments/{finance}/delete"),
        &format!("/admin/departments/{finance}/delete"),
        &[],
        "/admin/departments",
    )
    .await;
    assert_eq!(department(&app, finance), None);
    assert!(app.get_html("/admin/departments").await.contains("deleted"));

    // Audit: who, what, which.
    let created = app.audit_rows("department_created");
    assert_eq!(created.len(), 2);
    assert_eq!(created[0].actor_name.as_deref(), Some("root"));
    assert_eq!(created[0].target_type.as_deref(), Some("department"));
    assert_eq!(created[0].target_id, Some(finance));
    assert_eq!(created[0].target_label.as_deref(), Some("Finance"));
    assert_eq!(created[0].outcome, "success");
    let updated = app.audit_rows("department_updated");
    assert_eq!(updated.len(), 2);
    assert_eq!(
        updated[0].target_label.as_deref(),
        Some("Finance & Control")
    );
    assert_eq!(updated[0].detail.as_deref(), Some("renamed from Finance"));
    let deleted = app.audit_rows("department_deleted");
    assert_eq!(deleted.len(), 1);
    assert_eq!(
        deleted[0].target_label.as_deref(),
        Some("FINANCE & CONTROL")
    );

    // Unknown ids.
    assert_eq!(
        app.get("/admin/departments/999999/edit").await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get("/admin/departments/abc/edit").await.status(),
        StatusCode::NOT_FOUND
    );
    let res = app
        .submit(
            "/admin/departments",
            "/admin/departments/999999/delete",
            &[],
        )
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let res = app
        .submit(
            "/admin/departments",
            "/admin/departments/999999",
            &[("name", "X")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

#[actix_web::test]
async fn a_department_in_use_cannot_be_deleted() {
    let (app, _) = admin_app().await;
    let ada = app.create_user("ada", false);
    let bob = app.create_user("bob", false);
    let (field, reader) = app.grant(ada.id, "Reader", "devices:read");
    let writer = app.db(|c| tessera::db::user_types::create(c, "Writer", "", "devices:write"));
    let writer = writer.unwrap();
    app.db(|c| {
        tessera::db::memberships::add(c, ada.id, field, writer).unwrap();
        tessera::db::memberships::add(c, bob.id, field, reader).unwrap();
    });
    let token = app.insert_token(ada.id, "api", "ERP", Some((field, reader)));
    let revoked = app.insert_token(bob.id, "api", "old", Some((field, reader)));
    app.db(|c| tessera::db::tokens::revoke(c, revoked.id, None))
        .unwrap();

    let list = app.get_html("/admin/departments").await;
    let cells: Vec<String> = {
        let doc = Html::parse_document(&list);
        let sel = Selector::parse(&format!("tr[data-department-id='{field}'] td")).unwrap();
        doc.select(&sel)
            .map(|c| c.text().collect::<String>().trim().to_owned())
            .collect()
    };
    assert_eq!(cells[0], "Dept Reader");
    assert_eq!(cells[2], "2", "two members (ada twice, bob)");
    assert_eq!(
        cells[3], "1",
        "one live token; the revoked one does not count"
    );

    let path = format!("/admin/departments/{field}/delete");
    let confirm = app.get_html(&path).await;
    assert!(
        !has(&confirm, "form.confirm"),
        "no delete button while in use"
    );
    assert!(
        text_of(&confirm, ".form-error")
            .unwrap()
            .contains("3 memberships and 1 live token")
    );

    let res = app.submit("/admin/departments", &path, &[]).await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    let page = res.text().await.unwrap();
    assert!(
        text_of(&page, ".form-error")
            .unwrap()
            .contains("cannot be deleted")
    );
    assert!(department(&app, field).is_some());

    app.db(|c| {
        tessera::db::memberships::remove(c, ada.id, field, reader).unwrap();
        tessera::db::memberships::remove(c, ada.id, field, writer).unwrap();
        tessera::db::memberships::remove(c, bob.id, field, reader).unwrap();
    });
    let res = app.submit("/admin/departments", &path, &[]).await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    let message = text_of(&res.text().await.unwrap(), ".form-error").unwrap();
    assert!(
        message.contains("1 live token still refers to it"),
        "{message}"
    );

    app.db(|c| tessera::db::tokens::revoke(c, token.id, None))
        .unwrap();
    let res = app.submit("/admin/departments", &path, &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(department(&app, field).is_none());
    assert!(
        app.is_revoked(token.id),
        "revoked rows stay, without their department"
    );
    assert_eq!(app.audit_rows("department_deleted").len(), 1);
}

#[actix_web::test]
async fn user_types_are_created_edited_and_deleted() {
    let (app, _) = admin_app().await;
    let new = "/admin/user-types/new";
    let form = app.get_html(new).await;
    assert_page_shape(&form, "new user type");
    assert!(has(
        &form,
        "input[type=checkbox][name=scopes][value='devices:read']"
    ));
    assert!(has(
        &form,
        "input[type=checkbox][name=scopes][value='introspect']"
    ));
    for group in [
        "Collection",
        "Device",
        "Policy",
        "User",
        "Token",
        "Introspection",
    ] {
        assert!(
            form.contains(&format!("<p class=\"scope-group-name\">{group}</p>")),
            "{group}"
        );
    }

    submit_ok(
        &app,
        new,
        "/admin/user-types",
        &[
            ("name", "Reader"),
            ("description", "Reads"),
            ("scopes", "devices:read"),
            ("scopes", "collections:read"),
        ],
        "/admin/user-types",
    )
    .await;
    let reader = user_type_id(&app, "Reader").unwrap();
    assert_eq!(
        user_type(&app, reader).unwrap().1,
        "collections:read devices:read",
        "stored space-separated"
    );
    let list = app.get_html("/admin/user-types").await;
    assert_page_shape(&list, "user types");
    let row = text_of(&list, &format!("tr[data-user-type-id='{reader}']")).unwrap();
    assert!(
        row.contains("collections:read") && row.contains("devices:read") && row.contains("Reads")
    );

    // A clash keeps the name, the description and the ticked boxes.
    let page = submit_422(
        &app,
        new,
        "/admin/user-types",
        &[
            ("name", "READER"),
            ("description", "again"),
            ("scopes", "users:read"),
        ],
    )
    .await;
    assert!(
        field_error(&page, "name")
            .unwrap()
            .contains("already a user type")
    );
    assert_eq!(input_value(&page, "name").as_deref(), Some("READER"));
    assert_eq!(
        text_of(&page, "textarea[name=description]").as_deref(),
        Some("again")
    );
    assert!(has(&page, "input[value='users:read'][checked]"));
    assert!(!has(&page, "input[value='devices:read'][checked]"));

    // Scopes outside the active catalog, and oversized fields.
    let page = submit_422(
        &app,
        new,
        "/admin/user-types",
        &[
            ("name", "Sneaky"),
            ("scopes", "devices:read"),
            ("scopes", "root:everything"),
        ],
    )
    .await;
    assert!(
        field_error(&page, "scopes")
            .unwrap()
            .contains("root:everything")
    );
    assert!(has(&page, "input[value='devices:read'][checked]"));
    let long = "t".repeat(10_000);
    let page = submit_422(&app, new, "/admin/user-types", &[("name", &long)]).await;
    assert!(field_error(&page, "name").is_some());
    let page = submit_422(
        &app,
        new,
        "/admin/user-types",
        &[("name", "X"), ("scopes", &"s".repeat(10_000))],
    )
    .await;
    assert!(field_error(&page, "scopes").is_some());
    assert_eq!(app.count("user_types"), STARTER_USER_TYPES + 1);

    // A type with no scopes is allowed.
    submit_ok(
        &app,
        new,
        "/admin/user-types",
        &[("name", "Guest")],
        "/admin/user-types",
    )
    .await;
    let guest = user_type_id(&app, "Guest").unwrap();
    assert_eq!(user_type(&app, guest).unwrap().1, "");

    // Edit.
    let edit = format!("/admin/user-types/{reader}/edit");
    let action = format!("/admin/user-types/{reader}");
    let form = app.get_html(&edit).await;
    assert_page_shape(&form, "edit user type");
    assert!(has(&form, "input[value='devices:read'][checked]"));
    assert!(has(&form, "input[value='collections:read'][checked]"));
    assert!(!has(&form, "input[value='users:read'][checked]"));
    submit_ok(
        &app,
        &edit,
        &action,
        &[
            ("name", "Readers"),
            ("description", "Reads"),
            ("scopes", "devices:read"),
            ("scopes", "users:read"),
        ],
        "/admin/user-types",
    )
    .await;
    assert_eq!(
        user_type(&app, reader).unwrap(),
        ("Readers".into(), "devices:read users:read".into())
    );
    let page = submit_422(
        &app,
        &edit,
        &action,
        &[("name", "guest"), ("scopes", "tokens:read")],
    )
    .await;
    assert!(field_error(&page, "name").is_some());
    assert!(has(&page, "input[value='tokens:read'][checked]"));
    assert!(!has(&page, "input[value='devices:read'][checked]"));

    let updated = app.audit_rows("user_type_updated");
    assert_eq!(updated.len(), 1);
    assert_eq!(updated[0].target_id, Some(reader));
    assert_eq!(updated[0].target_label.as_deref(), Some("Readers"));
    let detail = updated[0].detail.clone().unwrap();
    assert!(detail.contains("renamed from Reader"), "{detail}");
    assert!(
        detail.contains("collections:read devices:read -> devices:read users:read"),
        "{detail}"
    );
    let created = app.audit_rows("user_type_created");
    assert_eq!(created.len(), 2);
    assert_eq!(created[0].target_label.as_deref(), Some("Reader"));
    assert_eq!(created[0].target_type.as_deref(), Some("user_type"));

    // Delete: refused while a membership or any token (even revoked) refers to it.
    let ada = app.create_user("ada", false);
    let field = app
        .db(|c| tessera::db::departments::create(c, "Field", ""))
        .unwrap();
    app.db(|c| tessera::db::memberships::add(c, ada.id, field, reader))
        .unwrap();
    let delete = format!("/admin/user-types/{reader}/delete");
    let confirm = app.get_html(&delete).await;
    assert_page_shape(&confirm, "delete user type");
    assert!(!has(&confirm, "form.confirm"));
    let res = app.submit("/admin/user-types", &delete, &[]).await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert!(
        text_of(&res.text().await.unwrap(), ".form-error")
            .unwrap()
            .contains("1 membership still refers to it")
    );
    let list = app.get_html("/admin/user-types").await;
    let cells: Vec<String> = {
        let doc = Html::parse_document(&list);
        let sel = Selector::parse(&format!("tr[data-user-type-id='{reader}'] td")).unwrap();
        doc.select(&sel)
            .map(|c| c.text().collect::<String>().trim().to_owned())
            .collect()
    };
    assert_eq!(cells[3], "1", "members");

    app.db(|c| tessera::db::memberships::remove(c, ada.id, field, reader))
        .unwrap();
    let client = app.insert_token(ada.id, "client", "BI", Some((field, reader)));
    app.db(|c| tessera::db::tokens::revoke(c, client.id, None))
        .unwrap();
    let res = app.submit("/admin/user-types", &delete, &[]).await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert!(
        text_of(&res.text().await.unwrap(), ".form-error")
            .unwrap()
            .contains("1 revoked token")
    );
    assert!(user_type(&app, reader).is_some());

    // Guest is unused: it goes.
    let confirm = app
        .get_html(&format!("/admin/user-types/{guest}/delete"))
        .await;
    assert!(has(&confirm, "form.confirm button"));
    let res = app
        .submit(
            "/admin/user-types",
            &format!("/admin/user-types/{guest}/delete"),
            &[],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(user_type(&app, guest).is_none());
    let deleted = app.audit_rows("user_type_deleted");
    assert_eq!(deleted.len(), 1);
    assert_eq!(deleted[0].target_label.as_deref(), Some("Guest"));
}

#[actix_web::test]
async fn editing_a_user_types_scopes_changes_tokens_at_their_next_use() {
    let (app, admin) = app_and_admin().await;
    let (field, token) = ada_with_a_token_of_two_scopes(&app).await;
    assert_eq!(
        scopes_of(&app, &token).await,
        serde_json::json!(["devices:read", "devices:write"])
    );

    let edit = format!("/admin/user-types/{field}/edit");
    let action = format!("/admin/user-types/{field}");
    submit_ok(
        &admin,
        &edit,
        &action,
        &[("name", "Field"), ("scopes", "devices:read")],
        "/admin/user-types",
    )
    .await;
    assert_eq!(
        scopes_of(&app, &token).await,
        serde_json::json!(["devices:read"])
    );
    let form = app.get_html("/profile/tokens/new").await;
    assert!(
        !form.contains("value=\"devices:write\""),
        "no longer offered"
    );

    submit_ok(
        &admin,
        &edit,
        &action,
        &[
            ("name", "Field"),
            ("scopes", "devices:read"),
            ("scopes", "devices:write"),
        ],
        "/admin/user-types",
    )
    .await;
    assert_eq!(
        scopes_of(&app, &token).await,
        serde_json::json!(["devices:read", "devices:write"]),
        "widening brings the token's own scopes back"
    );
}

#[actix_web::test]
async fn retiring_a_scope_hides_it_and_stops_granting_until_restored() {
    let (app, admin) = app_and_admin().await;
    let (field, token) = ada_with_a_token_of_two_scopes(&app).await;
    let (write_id, ..) = scope(&app, "devices:write").unwrap();

    let list = admin.get_html("/admin/scopes").await;
    assert_page_shape(&list, "scopes");
    let row = format!("tr[data-scope-id='{write_id}']");
    assert!(text_of(&list, &row).unwrap().contains("active"));
    submit_ok(
        &admin,
        "/admin/scopes",
        &format!("/admin/scopes/{write_id}/retire"),
        &[],
        "/admin/scopes",
    )
    .await;
    assert!(scope(&app, "devices:write").unwrap().3);
    let list = admin.get_html("/admin/scopes").await;
    assert!(text_of(&list, &row).unwrap().contains("retired"));
    assert!(has(
        &list,
        &format!("form[action='/admin/scopes/{write_id}/restore']")
    ));
    assert!(list.contains("retired: it is no longer offered"));

    // Gone from every form, and from what the existing token grants.
    let form = app.get_html("/profile/tokens/new").await;
    assert!(form.contains("value=\"devices:read\""));
    assert!(!form.contains("value=\"devices:write\""));
    assert_eq!(
        scopes_of(&app, &token).await,
        serde_json::json!(["devices:read"])
    );
    let type_form = admin
        .get_html(&format!("/admin/user-types/{field}/edit"))
        .await;
    assert!(!has(&type_form, "input[value='devices:write']"));
    assert!(type_form.contains("Also listed, and kept"));
    let types = admin.get_html("/admin/user-types").await;
    assert!(types.contains("devices:write (retired)"));
    let res = app.create_access_token("new", &["devices:write"]).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = submit_422(
        &admin,
        "/admin/user-types/new",
        "/admin/user-types",
        &[("name", "Writer"), ("scopes", "devices:write")],
    )
    .await;
    assert!(
        field_error(&page, "scopes")
            .unwrap()
            .contains("devices:write")
    );

    // Saving the user type meanwhile keeps the retired scope it lists.
    submit_ok(
        &admin,
        &format!("/admin/user-types/{field}/edit"),
        &format!("/admin/user-types/{field}"),
        &[
            ("name", "Field"),
            ("description", "kept"),
            ("scopes", "devices:read"),
        ],
        "/admin/user-types",
    )
    .await;
    assert_eq!(
        user_type(&app, field).unwrap().1,
        "devices:read devices:write"
    );

    // Retiring twice changes nothing and writes no second row.
    let res = admin
        .submit(
            "/admin/scopes",
            &format!("/admin/scopes/{write_id}/retire"),
            &[],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);

    submit_ok(
        &admin,
        "/admin/scopes",
        &format!("/admin/scopes/{write_id}/restore"),
        &[],
        "/admin/scopes",
    )
    .await;
    assert!(!scope(&app, "devices:write").unwrap().3);
    let form = app.get_html("/profile/tokens/new").await;
    assert!(form.contains("value=\"devices:write\""));
    assert_eq!(
        scopes_of(&app, &token).await,
        serde_json::json!(["devices:read", "devices:write"])
    );

    let retired = app.audit_rows("scope_retired");
    assert_eq!(retired.len(), 1);
    assert_eq!(retired[0].actor_name.as_deref(), Some("root"));
    assert_eq!(retired[0].target_type.as_deref(), Some("scope"));
    assert_eq!(retired[0].target_id, Some(write_id));
    assert_eq!(retired[0].target_label.as_deref(), Some("devices:write"));
    let restored = app.audit_rows("scope_restored");
    assert_eq!(restored.len(), 1);
    assert_eq!(restored[0].target_label.as_deref(), Some("devices:write"));
}

#[actix_web::test]
async fn scopes_are_added_and_described() {
    let (app, _) = admin_app().await;
    let new = "/admin/scopes/new";
    let form = app.get_html(new).await;
    assert_page_shape(&form, "add scope");
    assert!(has(
        &form,
        "datalist#scope-resources option[value='Device']"
    ));

    submit_ok(
        &app,
        new,
        "/admin/scopes",
        &[
            ("name", " reports:read "),
            ("resource", "Report"),
            ("description", "Read reports"),
        ],
        "/admin/scopes",
    )
    .await;
    let (id, resource, description, retired) = scope(&app, "reports:read").unwrap();
    assert_eq!(
        (resource.as_str(), description.as_str(), retired),
        ("Report", "Read reports", false)
    );
    assert!(app.get_html("/admin/scopes").await.contains("reports:read"));
    let type_form = app.get_html("/admin/user-types/new").await;
    assert!(type_form.contains("<p class=\"scope-group-name\">Report</p>"));
    assert!(has(&type_form, "input[value='reports:read']"));
    let created = app.audit_rows("scope_created");
    assert_eq!(created.len(), 1);
    assert_eq!(created[0].target_id, Some(id));
    assert_eq!(created[0].target_label.as_deref(), Some("reports:read"));

    let long_name = "a".repeat(65);
    let very_long = "b".repeat(10_000);
    for bad in [
        "Reports:Read",
        "a:b:c",
        "1st",
        ":read",
        "reports:",
        "re ports",
        "",
        long_name.as_str(),
        very_long.as_str(),
    ] {
        let page = submit_422(
            &app,
            new,
            "/admin/scopes",
            &[
                ("name", bad),
                ("resource", "Report"),
                ("description", "typed"),
            ],
        )
        .await;
        assert!(field_error(&page, "name").is_some(), "{bad:?}");
        assert_eq!(
            input_value(&page, "name").as_deref(),
            Some(bad.trim()),
            "{bad:?}"
        );
        assert_eq!(input_value(&page, "resource").as_deref(), Some("Report"));
        assert_eq!(input_value(&page, "description").as_deref(), Some("typed"));
    }
    assert!(submit_ok_name(&app, &"a".repeat(64)).await);

    let page = submit_422(
        &app,
        new,
        "/admin/scopes",
        &[("name", "devices:read"), ("resource", "Device")],
    )
    .await;
    assert!(
        field_error(&page, "name")
            .unwrap()
            .contains("already has a scope")
    );
    let page = submit_422(
        &app,
        new,
        "/admin/scopes",
        &[("name", "reports:write"), ("resource", "")],
    )
    .await;
    assert!(field_error(&page, "resource").is_some());
    assert_eq!(input_value(&page, "name").as_deref(), Some("reports:write"));
    let page = submit_422(
        &app,
        new,
        "/admin/scopes",
        &[("name", "reports:write"), ("resource", &"r".repeat(41))],
    )
    .await;
    assert!(field_error(&page, "resource").is_some());
    let page = submit_422(
        &app,
        new,
        "/admin/scopes",
        &[
            ("name", "reports:write"),
            ("resource", "Report"),
            ("description", &"d".repeat(201)),
        ],
    )
    .await;
    assert!(field_error(&page, "description").is_some());
    assert!(scope(&app, "reports:write").is_none());

    // Edit the resource and description; the name stays.
    let edit = format!("/admin/scopes/{id}/edit");
    let action = format!("/admin/scopes/{id}");
    let form = app.get_html(&edit).await;
    assert_page_shape(&form, "edit scope");
    assert!(!has(&form, "input[name=name]"), "the name is not editable");
    assert_eq!(input_value(&form, "resource").as_deref(), Some("Report"));
    submit_ok(
        &app,
        &edit,
        &action,
        &[
            ("name", "hijack:all"),
            ("resource", "Reporting"),
            ("description", "Read every report"),
        ],
        "/admin/scopes",
    )
    .await;
    assert_eq!(
        scope(&app, "reports:read").unwrap(),
        (id, "Reporting".into(), "Read every report".into(), false)
    );
    assert!(scope(&app, "hijack:all").is_none());
    let page = submit_422(
        &app,
        &edit,
        &action,
        &[("resource", " "), ("description", "kept")],
    )
    .await;
    assert!(field_error(&page, "resource").is_some());
    assert_eq!(input_value(&page, "description").as_deref(), Some("kept"));
    assert!(text_of(&page, "h1").unwrap().contains("reports:read"));
    let updated = app.audit_rows("scope_updated");
    assert_eq!(updated.len(), 1);
    assert_eq!(updated[0].target_label.as_deref(), Some("reports:read"));
    assert!(
        updated[0]
            .detail
            .as_deref()
            .unwrap()
            .contains("Report -> Reporting")
    );

    assert_eq!(
        app.get("/admin/scopes/999999/edit").await.status(),
        StatusCode::NOT_FOUND
    );
    let res = app
        .submit("/admin/scopes", "/admin/scopes/999999/retire", &[])
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

/// Adds a scope named `name` (resource "Misc"); whether it was accepted.
async fn submit_ok_name(app: &TestApp, name: &str) -> bool {
    let res = app
        .submit(
            "/admin/scopes/new",
            "/admin/scopes",
            &[("name", name), ("resource", "Misc")],
        )
        .await;
    res.status() == StatusCode::SEE_OTHER
}

#[actix_web::test]
async fn hostile_names_are_shown_escaped_on_every_page() {
    let (app, _) = admin_app().await;
    submit_ok(
        &app,
        "/admin/departments/new",
        "/admin/departments",
        &[("name", XSS), ("description", XSS)],
        "/admin/departments",
    )
    .await;
    submit_ok(
        &app,
        "/admin/user-types/new",
        "/admin/user-types",
        &[
            ("name", XSS),
            ("description", XSS),
            ("scopes", "devices:read"),
        ],
        "/admin/user-types",
    )
    .await;
    submit_ok(
        &app,
        "/admin/scopes/new",
        "/admin/scopes",
        &[
            ("name", "evil:read"),
            ("resource", XSS),
            ("description", XSS),
        ],
        "/admin/scopes",
    )
    .await;
    let d = department_id(&app, XSS).unwrap();
    let t = user_type_id(&app, XSS).unwrap();
    let (s, ..) = scope(&app, "evil:read").unwrap();
    let mut pages = vec![
        ("/admin/departments".to_owned(), StatusCode::OK),
        (format!("/admin/departments/{d}/edit"), StatusCode::OK),
        (format!("/admin/departments/{d}/delete"), StatusCode::OK),
        ("/admin/user-types".into(), StatusCode::OK),
        ("/admin/user-types/new".into(), StatusCode::OK),
        (format!("/admin/user-types/{t}/edit"), StatusCode::OK),
        (format!("/admin/user-types/{t}/delete"), StatusCode::OK),
        ("/admin/scopes".into(), StatusCode::OK),
        ("/admin/scopes/new".into(), StatusCode::OK),
        (format!("/admin/scopes/{s}/edit"), StatusCode::OK),
    ];
    pages.push(("/admin".into(), StatusCode::OK));
    for (path, status) in pages {
        let res = app.get(&path).await;
        assert_eq!(res.status(), status, "{path}");
        let html = res.text().await.unwrap();
        assert!(!html.contains(XSS), "{path} shows the payload raw");
        assert!(
            html.contains("&#60;img src=x onerror=alert(1)&#62;")
                || html.contains("&lt;img src=x onerror=alert(1)&gt;"),
            "{path} shows the payload escaped"
        );
        assert!(!has(&html, "img[onerror]"), "{path}");
    }

    // Re-rendered forms (a clash) escape what was typed too.
    let name = [("name", XSS)];
    for (form, action, fields) in [
        ("/admin/departments/new", "/admin/departments", &name[..]),
        ("/admin/user-types/new", "/admin/user-types", &name[..]),
        (
            "/admin/scopes/new",
            "/admin/scopes",
            &[("name", XSS), ("resource", XSS)][..],
        ),
    ] {
        let page = submit_422(&app, form, action, fields).await;
        assert!(!page.contains(XSS) && !has(&page, "img[onerror]"), "{form}");
    }
    // And the refusal page of a department in use.
    let ada = app.create_user("ada", false);
    app.db(|c| tessera::db::memberships::add(c, ada.id, d, t))
        .unwrap();
    let res = app
        .submit(
            "/admin/departments",
            &format!("/admin/departments/{d}/delete"),
            &[],
        )
        .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    let page = res.text().await.unwrap();
    assert!(!page.contains(XSS) && !has(&page, "img[onerror]"));
}

#[actix_web::test]
async fn catalog_forms_need_the_csrf_token() {
    let (app, _) = admin_app().await;
    let ada = app.create_user("ada", false);
    let (d, t) = app.grant(ada.id, "Field", "devices:read");
    let spare_d = app
        .db(|c| tessera::db::departments::create(c, "Spare", ""))
        .unwrap();
    let spare_t = app
        .db(|c| tessera::db::user_types::create(c, "Spare", "", ""))
        .unwrap();
    let (s, ..) = scope(&app, "devices:read").unwrap();
    let (retired, ..) = scope(&app, "devices:write").unwrap();
    app.db(|c| tessera::db::scopes::retire(c, retired)).unwrap();
    let audit_before = app.count("audit_events");

    let fields = [
        ("name", "Changed"),
        ("description", "changed"),
        ("resource", "Changed"),
        ("scopes", "users:write"),
    ];
    let paths = [
        "/admin/departments".to_owned(),
        format!("/admin/departments/{d}"),
        format!("/admin/departments/{spare_d}/delete"),
        "/admin/user-types".into(),
        format!("/admin/user-types/{t}"),
        format!("/admin/user-types/{spare_t}/delete"),
        "/admin/scopes".into(),
        format!("/admin/scopes/{s}"),
        format!("/admin/scopes/{s}/retire"),
        format!("/admin/scopes/{retired}/restore"),
    ];
    for path in &paths {
        let res = app.post_form(path, &fields).await;
        assert_eq!(
            res.status(),
            StatusCode::FORBIDDEN,
            "{path} without a token"
        );
        let mut forged = fields.to_vec();
        forged.push(("csrf_token", "forged"));
        let res = app.post_form(path, &forged).await;
        assert_eq!(
            res.status(),
            StatusCode::FORBIDDEN,
            "{path} with a forged token"
        );
    }
    assert_eq!(app.count("departments"), 2);
    assert_eq!(app.count("user_types"), STARTER_USER_TYPES + 2);
    assert_field_untouched(&app, d, t);
    assert_eq!(scope(&app, "devices:read").unwrap().1, "Device");
    assert!(!scope(&app, "devices:read").unwrap().3);
    assert!(scope(&app, "devices:write").unwrap().3, "still retired");
    let failures = app.audit_rows("csrf_failure");
    assert_eq!(failures.len(), paths.len() * 2);
    assert!(failures.iter().all(|r| r.outcome == "denied"));
    assert_eq!(
        app.count("audit_events"),
        audit_before + (paths.len() * 2) as i64,
        "nothing but the CSRF failures was recorded"
    );
}

/// A fresh install can provision a client at once: it starts with "Read-only"
/// (every `:read` scope of the catalog) and "Integrator" (read and write of
/// collections, devices and policies), listed and editable like any other.
#[actix_web::test]
async fn a_fresh_install_starts_with_two_user_types() {
    let (app, _) = admin_app().await;
    assert_eq!(app.count("user_types"), STARTER_USER_TYPES);
    let every_read: Vec<String> = app.db(|conn| {
        use tessera::db::schema::scopes::dsl as s;
        s::scopes
            .filter(s::name.like("%:read"))
            .order(s::name.asc())
            .select(s::name)
            .load(conn)
            .unwrap()
    });
    let read_only = user_type_id(&app, "Read-only").expect("Read-only");
    assert_eq!(user_type(&app, read_only).unwrap().1, every_read.join(" "));
    let integrator = user_type_id(&app, "Integrator").expect("Integrator");
    assert_eq!(
        user_type(&app, integrator).unwrap().1,
        "collections:read collections:write devices:read devices:write policies:read policies:write"
    );
    let list = app.get_html("/admin/user-types").await;
    for (id, name) in [(read_only, "Read-only"), (integrator, "Integrator")] {
        let row = text_of(&list, &format!("tr[data-user-type-id='{id}']")).unwrap();
        assert!(row.contains(name), "{row}");
        let form = app.get_html(&format!("/admin/user-types/{id}/edit")).await;
        assert_eq!(
            input_value(&form, "name").as_deref(),
            Some(name),
            "editable"
        );
    }
}
