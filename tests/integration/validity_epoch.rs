//! The validity epoch (migration `2026-12-04-000001_validity_epoch`): one
//! number that database triggers move, in the same transaction, whenever
//! something a token's validity or effective scopes depends on changes. Every
//! instance trusts a token it validated earlier only while the epoch stands
//! still, so:
//!
//! - a change made behind the server's back (psql, the sqlite3 shell) is
//!   refused, or narrows the token, at its very next request;
//! - every write path of the route table moves the epoch whenever it changes
//!   anything a validation is read from (computed here from the tables
//!   themselves, on purpose more broadly than the triggers' lists).

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;

use common::{PASSWORD, Seeded, TestApp, Visitor, new_token_in, scalar, spawn_app};
use diesel::connection::SimpleConnection as _;
use diesel::prelude::*;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tessera::db::{DbConn, DbPool};

/// A pool of the test's own on the app's database, opened afresh, as an
/// operator's psql or sqlite3 would be: unlike `TestApp::db`, using it tells
/// the server nothing.
fn behind_the_back(app: &TestApp) -> DbPool {
    let url = tessera::db::DatabaseUrl::parse(&app.database_url).unwrap();
    tessera::db::connect_and_migrate(&url, 1).unwrap()
}

fn scopes_of(me: &Value) -> Vec<&str> {
    me["scopes"]
        .as_array()
        .map(|all| all.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------
// 1. Behind the server's back
// ---------------------------------------------------------------------------

/// What the next `GET /api/v1/me` must say after a change.
enum Then {
    Refused,
    /// 200, without this scope.
    Lacks(&'static str),
    /// 200, with this scope.
    Has(&'static str),
    /// 200, with this value at this JSON pointer.
    Shows(&'static str, &'static str),
}

impl Then {
    fn holds(&self, status: StatusCode, me: &Value) -> bool {
        match self {
            Then::Refused => status == StatusCode::UNAUTHORIZED,
            Then::Lacks(scope) => status == StatusCode::OK && !scopes_of(me).contains(scope),
            Then::Has(scope) => status == StatusCode::OK && scopes_of(me).contains(scope),
            Then::Shows(pointer, value) => {
                status == StatusCode::OK && me.pointer(pointer) == Some(&json!(value))
            }
        }
    }
}

#[actix_web::test]
async fn a_change_made_with_sql_is_seen_at_the_next_request() {
    use tessera::db::{departments, memberships, scopes, user_types};
    let app = spawn_app().await;
    let sql = behind_the_back(&app);
    let conn = &mut sql.get().unwrap();
    // Arranged through `TestApp::db`, before any token is used.
    let ada = app.create_user("ada", false).id;
    let (dept, member) = app.grant(ada, "Member", "devices:read");
    let [bob, carl, dora, eve] =
        ["bob", "carl", "dora", "eve"].map(|n| app.create_user(n, false).id);
    let grace = app.create_user("grace", true).id;
    let typed = app.db(|c| {
        let typed = user_types::create(c, "Typed", "", "devices:read users:read").unwrap();
        let scripted = user_types::create(c, "Scripted", "", "devices:read sql:use").unwrap();
        scopes::create(c, "sql:use", "SQL", "").unwrap();
        let sql_dept = departments::create(c, "Scripts", "").unwrap();
        memberships::add(c, bob, dept, member).unwrap();
        memberships::add(c, carl, dept, member).unwrap();
        memberships::add(c, dora, dept, typed).unwrap();
        memberships::add(c, eve, sql_dept, scripted).unwrap();
        typed
    });
    let revoked = app.insert_token(ada, "personal", "revoked", None);
    let disabled = app.insert_token(ada, "personal", "disabled", None);
    let expired = app.insert_token(ada, "personal", "expired", None);
    let of_bob = app.insert_token(bob, "personal", "bob's", None);
    let of_carl = app.insert_token(carl, "api", "carl's", Some((dept, member)));
    let of_dora = app.insert_token(dora, "client", "dora's", Some((dept, typed)));
    let of_eve = app.insert_token(eve, "personal", "eve's", None);
    let of_grace = app.insert_token(grace, "personal", "grace's", None);
    let reenabled = app.insert_token(ada, "personal", "re-enabled", None);
    let disable = format!(
        "UPDATE tokens SET status = 'disabled' WHERE id = {}",
        reenabled.id
    );
    app.db(|c| c.batch_execute(&disable)).unwrap();
    app.db(|c| {
        c.batch_execute(&format!(
            "UPDATE tokens SET scopes = 'devices:read sql:use' WHERE id = {}",
            of_eve.id
        ))
    })
    .unwrap();

    use Then::{Has, Refused, Shows};
    let devices = || Has("devices:read");
    let cases: Vec<(&Seeded, Then, String, Then)> = vec![
        (
            &revoked,
            devices(),
            format!(
                "UPDATE tokens SET revoked_at = CURRENT_TIMESTAMP WHERE id = {}",
                revoked.id
            ),
            Refused,
        ),
        (
            &disabled,
            devices(),
            format!(
                "UPDATE tokens SET status = 'disabled' WHERE id = {}",
                disabled.id
            ),
            Refused,
        ),
        (
            &reenabled,
            Refused,
            format!(
                "UPDATE tokens SET status = 'active' WHERE id = {}",
                reenabled.id
            ),
            devices(),
        ),
        (
            &expired,
            devices(),
            format!(
                "UPDATE tokens SET expires_at = '2000-01-01 00:00:00' WHERE id = {}",
                expired.id
            ),
            Refused,
        ),
        (
            &of_bob,
            devices(),
            format!("UPDATE users SET status = 'disabled' WHERE id = {bob}"),
            Refused,
        ),
        (
            &of_carl,
            devices(),
            format!("DELETE FROM memberships WHERE user_id = {carl}"),
            Then::Lacks("devices:read"),
        ),
        (
            &of_dora,
            Has("users:read"),
            format!("UPDATE user_types SET scopes = 'devices:read' WHERE id = {typed}"),
            Then::Lacks("users:read"),
        ),
        (
            &of_dora,
            Shows("/department", "Dept Member"),
            format!("UPDATE departments SET name = 'Renamed' WHERE id = {dept}"),
            Shows("/department", "Renamed"),
        ),
        (
            &of_eve,
            Has("sql:use"),
            "UPDATE scopes SET retired_at = CURRENT_TIMESTAMP WHERE name = 'sql:use'".to_owned(),
            Then::Lacks("sql:use"),
        ),
        (
            &of_grace,
            devices(),
            format!("UPDATE users SET is_admin = FALSE WHERE id = {grace}"),
            Then::Lacks("devices:read"),
        ),
        (
            &of_grace,
            Shows("/user/display_name", "grace"),
            format!("UPDATE users SET display_name = 'Grace H.' WHERE id = {grace}"),
            Shows("/user/display_name", "Grace H."),
        ),
    ];
    let mut stale = Vec::new();
    for (token, before, change, then) in &cases {
        // Used (twice) before the change: whatever the server keeps, it has it.
        for _ in 0..2 {
            let (status, body) = app.me(&token.token).await;
            assert!(
                before.holds(status, &body),
                "before {change}: {status} {body}"
            );
        }
        let epoch = scalar(conn, "SELECT epoch FROM validity_epoch");
        conn.batch_execute(change).unwrap();
        assert!(
            scalar(conn, "SELECT epoch FROM validity_epoch") > epoch,
            "{change} moves the epoch"
        );
        let (status, body) = app.me(&token.token).await;
        if !then.holds(status, &body) {
            stale.push(format!("after {change}: {status} {body}"));
        }
    }
    assert!(
        stale.is_empty(),
        "{} of {} changes made behind the server's back were not seen at the next request: {stale:#?}",
        stale.len(),
        cases.len()
    );
}

// ---------------------------------------------------------------------------
// 2. Every write path moves the epoch
// ---------------------------------------------------------------------------

/// Every table a validation, its scopes, `/api/v1/me` and introspection are
/// read from, with the columns that none of them reads (every other column,
/// one added later included, is part of the fingerprint). The descriptions of
/// departments and user types are shown on admin pages only.
const READ_FOR_TOKENS: [(&str, &[&str]); 7] = [
    (
        "tokens",
        &[
            "last_used_at",
            "last_used_ip",
            "last_used_user_agent",
            "updated_at",
            "name_key",
            // When the secret was issued: what regeneration reads, never
            // authentication.
            "issued_at",
            // The sealed copy (Show) and the previous secret's last use.
            "sealed_secret",
            "previous_last_used_at",
            // The last refused use (revoked, disabled, expired) and its alert:
            // written by refusals, read by pages and notices only.
            "refused_use_at",
            "refused_use_ip",
            "refused_use_alerted_at",
        ],
    ),
    (
        "users",
        &[
            "password_hash",
            "last_login_at",
            "updated_at",
            "created_at",
            // What the user wants to be told.
            "notify_expiry",
            "notify_new_device",
            "expiry_digest",
        ],
    ),
    ("memberships", &[]),
    ("scopes", &[]),
    ("user_types", &["description"]),
    ("departments", &["description"]),
    (
        "settings",
        &[
            "cookie_key",
            "setup_code_sha256",
            "updated_at",
            // Show and the longest overlap: pages only.
            "show_clients",
            "show_api_tokens",
            "max_overlap_hours",
            // Who must have a second factor: web pages only.
            "require_second_factor",
            // How long audit events are kept: the job runner only.
            "audit_retention_days",
        ],
    ),
];

/// Where a new row changes what existing tokens may do (a membership widens
/// its user's tokens, a catalog scope those that list it). A new token, user,
/// department or user type is nothing an earlier validation was read from.
const NEW_ROWS_COUNT: [&str; 2] = ["memberships", "scopes"];

/// (table, id) → the row's fingerprinted columns, as text.
type Fingerprint = BTreeMap<(&'static str, String), String>;

fn fingerprint(conn: &mut DbConn) -> Fingerprint {
    #[derive(QueryableByName)]
    struct Text {
        #[diesel(sql_type = diesel::sql_types::Text)]
        text: String,
    }
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        key: String,
        #[diesel(sql_type = diesel::sql_types::Text)]
        row: String,
    }
    let postgres = matches!(conn, DbConn::Pg(_));
    let mut all = Fingerprint::new();
    for (table, left_out) in READ_FOR_TOKENS {
        let columns = if postgres {
            format!(
                "SELECT CAST(column_name AS TEXT) AS text FROM information_schema.columns \
                 WHERE table_schema = current_schema() AND table_name = '{table}' \
                 ORDER BY ordinal_position"
            )
        } else {
            format!("SELECT name AS text FROM pragma_table_info('{table}') ORDER BY cid")
        };
        let every: Vec<String> = diesel::sql_query(columns)
            .load::<Text>(conn)
            .unwrap()
            .into_iter()
            .map(|c| c.text)
            .collect();
        for c in left_out {
            assert!(every.iter().any(|e| e == c), "{table} has a column {c}");
        }
        let columns: Vec<&String> = every
            .iter()
            .filter(|c| !left_out.contains(&c.as_str()))
            .collect();
        let row = if postgres {
            let quoted: Vec<String> = columns.iter().map(|c| format!("\"{c}\"")).collect();
            format!("CAST(ROW({}) AS TEXT)", quoted.join(", "))
        } else {
            let quoted: Vec<String> = columns.iter().map(|c| format!("quote(\"{c}\")")).collect();
            quoted.join(" || ',' || ")
        };
        let sql = format!("SELECT CAST(id AS TEXT) AS key, {row} AS row FROM {table}");
        for r in diesel::sql_query(sql).load::<Row>(conn).unwrap() {
            all.insert((table, r.key), r.row);
        }
    }
    all
}

/// What changed from `before` to `after` that an earlier validation may have
/// been read from.
fn changes(before: &Fingerprint, after: &Fingerprint) -> Vec<String> {
    let mut changed = Vec::new();
    for ((table, id), row) in before {
        match after.get(&(*table, id.clone())) {
            None => changed.push(format!("{table} {id} deleted")),
            Some(now) if now != row => changed.push(format!("{table} {id}: {row} -> {now}")),
            Some(_) => {}
        }
    }
    for ((table, id), row) in after {
        if NEW_ROWS_COUNT.contains(table) && !before.contains_key(&(*table, id.clone())) {
            changed.push(format!("{table} {id} added: {row}"));
        }
    }
    changed
}

/// Drives write paths one request at a time, comparing the fingerprint and the
/// epoch before and after each.
struct Walk {
    db: DbPool,
    /// Every (method, route pattern) driven.
    driven: BTreeSet<(String, String)>,
    /// Requests that changed the fingerprint but did not move the epoch.
    missed: Vec<String>,
    /// Routes that changed the fingerprint, and those that moved the epoch.
    changed: BTreeSet<String>,
    moved: BTreeSet<String>,
}

impl Walk {
    fn state(&self) -> (Fingerprint, i64) {
        let conn = &mut self.db.get().unwrap();
        let epoch = scalar(conn, "SELECT epoch FROM validity_epoch");
        (fingerprint(conn), epoch)
    }

    /// Sends `request`, `method` on `path`, which must answer `expected`; its
    /// body.
    async fn step(
        &mut self,
        method: &str,
        path: &str,
        expected: StatusCode,
        request: impl Future<Output = reqwest::Response>,
    ) -> String {
        let route = format!("{method} {}", pattern_of(path));
        let (before, epoch) = self.state();
        let res = request.await;
        let status = res.status();
        let body = res.text().await.unwrap();
        assert_eq!(status, expected, "{route}: {body:.600}");
        let (after, moved) = self.state();
        let changed = changes(&before, &after);
        if !changed.is_empty() {
            self.changed.insert(route.clone());
            if moved == epoch {
                self.missed.push(format!("{route}: {changed:#?}"));
            }
        }
        if moved != epoch {
            self.moved.insert(route);
        }
        self.driven.insert((method.to_owned(), pattern_of(path)));
        body
    }

    /// `who` posts the form of `page` (its CSRF token and `fields`) to `path`.
    async fn submit(
        &mut self,
        who: &Visitor,
        (page, path): (&str, &str),
        fields: &[(&str, &str)],
        expected: StatusCode,
    ) -> String {
        self.step("POST", path, expected, who.submit(page, path, fields))
            .await
    }

    /// An API request; its JSON answer (`Null` for none).
    async fn call(&mut self, request: reqwest::RequestBuilder, expected: StatusCode) -> Value {
        let (client, request) = request.build_split();
        let request = request.unwrap();
        let (method, path) = (
            request.method().to_string(),
            request.url().path().to_owned(),
        );
        let sent = async { client.execute(request).await.expect("an answer") };
        let body = self.step(&method, &path, expected, sent).await;
        serde_json::from_str(&body).unwrap_or(Value::Null)
    }
}

/// The second-factor routes: ada (with `password`) enrols an authenticator
/// app, signs in with it elsewhere, root resets it (`user`: her admin page),
/// and she turns it off (nothing left by then).
async fn second_factor_steps(
    walk: &mut Walk,
    app: &TestApp,
    (root, ada): (&Visitor, &Visitor),
    user: &str,
    password: &str,
) {
    use crate::routes::profile::security::code_now;
    let (ok, see_other) = (StatusCode::OK, StatusCode::SEE_OTHER);
    let security = "/profile/security";
    let page = walk
        .submit(ada, (security, "/profile/security/totp"), &[], ok)
        .await;
    let secret = common::text_of(&page, "#totp-secret").expect("the TOTP secret");
    let code = code_now(app, &secret);
    let confirm = (security, "/profile/security/totp/confirm");
    walk.submit(ada, confirm, &[("code", &code)], ok).await;
    app.advance_clock(std::time::Duration::from_secs(30));
    let phone = app.visitor();
    let signed_in = phone.login("ada", password).await;
    assert_eq!(
        common::location(signed_in.headers()),
        "/login/second-factor"
    );
    let second = ("/login/second-factor", "/login/second-factor");
    walk.submit(
        &phone,
        second,
        &[("code", &code_now(app, &secret))],
        see_other,
    )
    .await;
    let fields = [("password", PASSWORD), ("next", "/admin")];
    walk.submit(root, ("/sudo", "/sudo"), &fields, see_other)
        .await;
    let reset = format!("{user}/second-factors/reset");
    walk.submit(root, (&reset, &reset), &[], see_other).await;
    let fields = [("password", password), ("next", security)];
    walk.submit(ada, ("/sudo", "/sudo"), &fields, see_other)
        .await;
    let disable = (security, "/profile/security/totp/disable");
    walk.submit(ada, disable, &[], see_other).await;
}

/// The route pattern of a path: every number in it is an `{id}`.
fn pattern_of(path: &str) -> String {
    path.split('/')
        .map(|part| {
            // A number, or a route's parameter of any name (`{delivery_id}`).
            let id = (!part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()))
                || part.starts_with('{');
            if id { "{id}" } else { part }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// A request of the API, with a bearer token.
fn api(method: reqwest::Method, app: &TestApp, path: &str, token: &str) -> reqwest::RequestBuilder {
    reqwest::Client::new()
        .request(method, app.url(path))
        .bearer_auth(token)
}

/// The one id a query returns.
fn id(db: &DbPool, query: &str) -> i64 {
    scalar(&mut db.get().unwrap(), query)
}

/// `GET /api/v1/me` must say `then`: a token used before a change answers per
/// the new state right after it.
async fn now_says(app: &TestApp, token: &str, then: Then, after: &str) {
    let (status, body) = app.me(token).await;
    assert!(
        then.holds(status, &body),
        "right after {after}: {status} {body}"
    );
}

/// The JSON answer to `request`.
async fn json_of(request: reqwest::RequestBuilder) -> Value {
    request.send().await.unwrap().json().await.unwrap()
}

/// The `token` of a JSON answer.
fn secret_in(answer: &Value) -> String {
    answer["token"].as_str().expect("a token").to_owned()
}

#[actix_web::test]
async fn every_write_path_moves_the_epoch_when_it_changes_what_tokens_depend_on() {
    use Then::{Has, Lacks, Refused, Shows};
    use reqwest::Method;
    let (see_other, ok) = (StatusCode::SEE_OTHER, StatusCode::OK);
    let (created, no_content) = (StatusCode::CREATED, StatusCode::NO_CONTENT);
    let app = spawn_app().await;
    let mut walk = Walk {
        db: behind_the_back(&app),
        driven: BTreeSet::new(),
        missed: Vec::new(),
        changed: BTreeSet::new(),
        moved: BTreeSet::new(),
    };
    let db = walk.db.clone();
    let (root, ada, stranger) = (app.visitor(), app.visitor(), app.visitor());
    let in_days = |days| {
        let at = chrono::Utc::now() + chrono::TimeDelta::days(days);
        at.format("%Y-%m-%d").to_string()
    };
    let public = reqwest::Client::new();

    // The first administrator, and a catalog.
    let code = app.setup_code().unwrap().to_owned();
    let fields = [
        ("code", code.as_str()),
        ("username", "root"),
        ("email", "root@example.com"),
        ("display_name", "Root"),
        ("password", PASSWORD),
    ];
    walk.submit(&stranger, ("/setup", "/setup"), &fields, see_other)
        .await;
    walk.step("POST", "/login", see_other, root.login("root", PASSWORD))
        .await;
    let sudo = [("password", PASSWORD), ("next", "/admin")];
    walk.submit(&root, ("/sudo", "/sudo"), &sudo, see_other)
        .await;
    let fields = [("name", "Field Ops"), ("description", "")];
    let new_department = ("/admin/departments/new", "/admin/departments");
    walk.submit(&root, new_department, &fields, see_other).await;
    let dept = id(&db, "SELECT id FROM departments WHERE name = 'Field Ops'");
    let member_fields = [
        ("name", "Member"),
        ("description", ""),
        ("scopes", "devices:read"),
        ("scopes", "tokens:read"),
        ("scopes", "tokens:write"),
        ("scopes", "introspect"),
    ];
    let new_user_type = ("/admin/user-types/new", "/admin/user-types");
    walk.submit(&root, new_user_type, &member_fields, see_other)
        .await;
    let member = id(&db, "SELECT id FROM user_types WHERE name = 'Member'");
    let fields = [
        ("name", "widgets:read"),
        ("resource", "Widget"),
        ("description", ""),
    ];
    let new_scope = ("/admin/scopes/new", "/admin/scopes");
    walk.submit(&root, new_scope, &fields, see_other).await;
    let widgets = id(&db, "SELECT id FROM scopes WHERE name = 'widgets:read'");
    let scope = format!("/admin/scopes/{widgets}");
    let fields = [("resource", "Widgets"), ("description", "Read widgets")];
    let edit = (&*format!("{scope}/edit"), &*scope);
    walk.submit(&root, edit, &fields, see_other).await;

    // A member, with a membership.
    let fields = [
        ("username", "ada"),
        ("email", "ada@example.com"),
        ("display_name", "Ada"),
        ("initial", "password"),
        ("password", PASSWORD),
    ];
    let new_user = ("/admin/users/new", "/admin/users");
    walk.submit(&root, new_user, &fields, see_other).await;
    let ada_id = id(&db, "SELECT id FROM users WHERE username = 'ada'");
    let user = format!("/admin/users/{ada_id}");
    let (d, t) = (dept.to_string(), member.to_string());
    let fields = [("department_id", d.as_str()), ("user_type_id", t.as_str())];
    let memberships = format!("{user}/memberships");
    walk.submit(&root, (&user, &memberships), &fields, see_other)
        .await;
    walk.step("POST", "/login", see_other, ada.login("ada", PASSWORD))
        .await;

    // Her tokens, from the profile.
    let laptop_fields = [
        ("name", "laptop"),
        ("description", ""),
        ("expires_in_days", "30"),
        ("scopes", "devices:read"),
        ("scopes", "tokens:read"),
        ("scopes", "tokens:write"),
        ("scopes", "introspect"),
    ];
    let new_token = ("/profile/tokens/new", "/profile/tokens");
    let page = walk.submit(&ada, new_token, &laptop_fields, ok).await;
    let mut laptop = new_token_in(&page);
    let laptop_id = id(&db, "SELECT id FROM tokens WHERE name = 'laptop'");
    let mine = format!("/profile/tokens/{laptop_id}");
    let fields = [
        ("name", "BI"),
        ("role_id", t.as_str()),
        ("expires_at", &in_days(30)),
    ];
    let new_client = ("/profile/clients/new", "/profile/clients");
    let bi = new_token_in(&walk.submit(&ada, new_client, &fields, ok).await);
    // Show, behind the step-up: /sudo, then the secret.
    let bi_id = id(&db, "SELECT id FROM tokens WHERE name = 'BI'");
    let show = format!("/profile/tokens/{bi_id}/show");
    let sudo = [("password", PASSWORD), ("next", show.as_str())];
    walk.submit(&ada, ("/sudo", "/sudo"), &sudo, see_other)
        .await;
    let page = walk.submit(&ada, (&show, &show), &[], ok).await;
    assert_eq!(
        common::text_of(&page, "#shown-token").as_deref(),
        Some(bi.as_str())
    );
    let mut fields = laptop_fields[3..].to_vec();
    fields.push(("description", "edited"));
    walk.submit(&ada, (&format!("{mine}/edit"), &mine), &fields, see_other)
        .await;
    let list = "/profile/tokens";
    assert_eq!(app.me(&laptop).await.0, ok);
    walk.submit(&ada, (list, &format!("{mine}/disable")), &[], see_other)
        .await;
    now_says(&app, &laptop, Refused, "disabling it").await;
    walk.submit(&ada, (list, &format!("{mine}/enable")), &[], see_other)
        .await;
    now_says(&app, &laptop, Has("devices:read"), "enabling it").await;
    let regenerate = (list, &*format!("{mine}/regenerate"));
    let page = walk.submit(&ada, regenerate, &[], ok).await;
    now_says(&app, &laptop, Refused, "regenerating it").await;
    laptop = new_token_in(&page);

    // The API, with the laptop's token.
    let body = json!({"name": "job", "scopes": ["devices:read"], "expires_in_days": 30});
    let tokens = api(Method::POST, &app, "/api/v1/tokens", &laptop);
    let job_id = walk.call(tokens.json(&body), created).await["id"]
        .as_i64()
        .unwrap();
    let job_path = format!("/api/v1/tokens/{job_id}");
    let patch = api(Method::PATCH, &app, &job_path, &laptop);
    walk.call(patch.json(&json!({"description": "nightly"})), ok)
        .await;
    let regenerate = api(
        Method::POST,
        &app,
        &format!("{job_path}/regenerate"),
        &laptop,
    );
    let job = secret_in(&walk.call(regenerate, ok).await);
    assert_eq!(app.me(&job).await.0, ok);
    let delete = api(Method::DELETE, &app, &job_path, &laptop);
    walk.call(delete, no_content).await;
    now_says(&app, &job, Refused, "DELETE /api/v1/tokens/{id}").await;
    let introspect = api(Method::POST, &app, "/api/v1/introspect", &laptop);
    walk.call(introspect.form(&[("token", &bi)]), ok).await;
    let body = json!({"name": "leaked", "scopes": ["devices:read"], "expires_in_days": 7});
    let tokens = api(Method::POST, &app, "/api/v1/tokens", &laptop);
    let leaked = secret_in(&walk.call(tokens.json(&body), created).await);
    assert_eq!(app.me(&leaked).await.0, ok);
    let by_value = public.post(app.url("/api/v1/revoke"));
    walk.call(by_value.form(&[("token", &leaked)]), ok).await;
    now_says(&app, &leaked, Refused, "POST /api/v1/revoke").await;
    let body = json!({"username": "ada", "password": PASSWORD, "device_name": "Pixel 9"});
    let sign_in = public.post(app.url("/api/v1/sessions")).json(&body);
    let mobile = secret_in(&walk.call(sign_in, created).await);
    assert_eq!(app.me(&mobile).await.0, ok);
    let sign_out = api(Method::DELETE, &app, "/api/v1/sessions/current", &mobile);
    walk.call(sign_out, no_content).await;
    now_says(&app, &mobile, Refused, "signing out").await;

    // An API token, from the administrator, and a bulk revoke.
    let (u, m) = (ada_id.to_string(), format!("{dept}:{member}"));
    let fields = [
        ("name", "ERP"),
        ("expires_at", &in_days(300)),
        ("user_id", &u),
        ("membership", &m),
        ("description", ""),
    ];
    let new_api_token = ("/admin/tokens/new", "/admin/tokens");
    let mut erp = new_token_in(&walk.submit(&root, new_api_token, &fields, ok).await);
    let erp_id = id(&db, "SELECT id FROM tokens WHERE name = 'ERP'");
    let fields = [
        ("user_id", u.as_str()),
        ("name", "Warehouse"),
        ("role_id", t.as_str()),
        ("expires_at", &in_days(30)),
    ];
    let new_client_for = ("/admin/clients/new", "/admin/clients");
    let warehouse = new_token_in(&walk.submit(&root, new_client_for, &fields, ok).await);
    assert_eq!(app.me(&warehouse).await.0, ok);
    let detail = format!("/admin/tokens/{erp_id}");
    assert_eq!(app.me(&erp).await.0, ok);
    let disable = (&*detail, &*format!("{detail}/disable"));
    walk.submit(&root, disable, &[], see_other).await;
    now_says(&app, &erp, Refused, "an administrator disabling it").await;
    let enable = (&*detail, &*format!("{detail}/enable"));
    walk.submit(&root, enable, &[], see_other).await;
    now_says(
        &app,
        &erp,
        Has("devices:read"),
        "an administrator enabling it",
    )
    .await;
    let regenerate = (&*detail, &*format!("{detail}/regenerate"));
    let page = walk.submit(&root, regenerate, &[], ok).await;
    now_says(&app, &erp, Refused, "an administrator regenerating it").await;
    erp = new_token_in(&page);
    let show = format!("{detail}/show");
    let sudo = [("password", PASSWORD), ("next", show.as_str())];
    walk.submit(&root, ("/sudo", "/sudo"), &sudo, see_other)
        .await;
    let page = walk.submit(&root, (&show, &show), &[], ok).await;
    assert_eq!(
        common::text_of(&page, "#shown-token").as_deref(),
        Some(erp.as_str())
    );
    let fields = [
        ("name", "spare"),
        ("description", ""),
        ("expires_in_days", "7"),
        ("scopes", "devices:read"),
    ];
    let spare = new_token_in(&walk.submit(&ada, new_token, &fields, ok).await);
    let spare_id = id(&db, "SELECT id FROM tokens WHERE name = 'spare'").to_string();
    let chosen = [("ids", spare_id.as_str())];
    let bulk = ("/admin/tokens", "/admin/tokens/bulk-revoke");
    walk.submit(&root, bulk, &chosen, ok).await;
    assert_eq!(app.me(&spare).await.0, ok);
    let confirm = ("/admin/tokens", "/admin/tokens/bulk-revoke/confirm");
    walk.submit(&root, confirm, &chosen, see_other).await;
    now_says(&app, &spare, Refused, "a bulk revoke").await;

    // The catalog under tokens in use.
    let mut fields = member_fields.to_vec();
    fields.push(("scopes", "widgets:read"));
    let user_type = format!("/admin/user-types/{member}");
    assert_eq!(app.me(&bi).await.0, ok);
    let edit = (&*format!("{user_type}/edit"), &*user_type);
    walk.submit(&root, edit, &fields, see_other).await;
    now_says(&app, &bi, Has("widgets:read"), "widening its user type").await;
    let retire = ("/admin/scopes", &*format!("{scope}/retire"));
    walk.submit(&root, retire, &[], see_other).await;
    now_says(&app, &bi, Lacks("widgets:read"), "retiring the scope").await;
    let restore = ("/admin/scopes", &*format!("{scope}/restore"));
    walk.submit(&root, restore, &[], see_other).await;
    now_says(&app, &bi, Has("widgets:read"), "restoring the scope").await;
    let department = format!("/admin/departments/{dept}");
    let fields = [("name", "Field Operations"), ("description", "")];
    let edit = (&*format!("{department}/edit"), &*department);
    walk.submit(&root, edit, &fields, see_other).await;
    let renamed = Shows("/department", "Field Operations");
    now_says(&app, &erp, renamed, "renaming its department").await;

    // The people under tokens in use.
    let fields = [("email", "ada@example.org"), ("display_name", "Ada L.")];
    walk.submit(&root, (&user, &user), &fields, see_other).await;
    let renamed = Shows("/user/display_name", "Ada L.");
    now_says(&app, &laptop, renamed, "renaming its owner").await;
    walk.submit(&root, (&user, &format!("{user}/disable")), &[], see_other)
        .await;
    now_says(&app, &laptop, Refused, "disabling its owner").await;
    walk.submit(&root, (&user, &format!("{user}/enable")), &[], see_other)
        .await;
    now_says(&app, &laptop, Has("devices:read"), "enabling its owner").await;
    walk.step("POST", "/login", see_other, ada.login("ada", PASSWORD))
        .await;
    let page = root.get_html("/admin/settings").await;
    let mut policy = common::form_fields(&page, "/admin/settings");
    policy.retain(|(name, _)| name != "tenant_id" && name != "csrf_token");
    let mut fields: Vec<(&str, &str)> = policy.iter().map(|(k, v)| (&**k, &**v)).collect();
    fields.push(("tenant_id", "acme"));
    let settings = ("/admin/settings", "/admin/settings");
    walk.submit(&root, settings, &fields, see_other).await;
    // Running a job by hand moves nothing (its run may: housekeeping's
    // deletions are of what no token depends on).
    let job = id(
        &db,
        "SELECT id FROM jobs WHERE unique_key = 'expiry_digest'",
    );
    let run = format!("/admin/jobs/{job}/run");
    walk.submit(&root, ("/admin/jobs", &run), &[], see_other)
        .await;
    // Single sign-on (switched off here) moves no token's validity.
    let sso = ("/admin/sso", "/admin/sso");
    let sso_fields = [("password_sign_in", "everyone"), ("issuer", "")];
    walk.submit(&root, sso, &sso_fields, see_other).await;
    // Webhook endpoints, which tokens do not depend on: one refused at
    // loopback, one put in directly, tested, sent again, switched off and on,
    // deleted (its deliveries are refused at loopback: nothing leaves).
    let hooks = ("/admin/webhooks/new", "/admin/webhooks");
    let fields = [
        ("url", "http://127.0.0.1:9/hook"),
        ("events", "token.revoked"),
    ];
    let refused = StatusCode::UNPROCESSABLE_ENTITY;
    walk.submit(&root, hooks, &fields, refused).await;
    let hook = common::insert_webhook(&mut db.get().unwrap(), "http://127.0.0.1:9/hook");
    let hook_page = format!("/admin/webhooks/{hook}");
    for action in ["test", "disable", "enable"] {
        let path = format!("{hook_page}/{action}");
        walk.submit(&root, (&hook_page, &path), &[], see_other)
            .await;
    }
    let delivery = id(
        &db,
        &format!("SELECT MAX(id) FROM webhook_deliveries WHERE endpoint_id = {hook}"),
    );
    let again = format!("{hook_page}/deliveries/{delivery}/redeliver");
    walk.submit(&root, (&hook_page, &again), &[], see_other)
        .await;
    let delete = format!("{hook_page}/delete");
    walk.submit(&root, (&hook_page, &delete), &[], see_other)
        .await;
    let introspect = api(Method::POST, &app, "/api/v1/introspect", &laptop);
    let answer = json_of(introspect.form(&[("token", &erp)])).await;
    assert_eq!(
        answer["tenant"], "acme",
        "right after a new tenant id: {answer}"
    );
    let remove = (&*user, &*format!("{user}/memberships/remove"));
    walk.submit(&root, remove, &[("membership", &m)], see_other)
        .await;
    now_says(&app, &erp, Lacks("devices:read"), "removing its membership").await;
    now_says(
        &app,
        &laptop,
        Lacks("devices:read"),
        "removing its owner's membership",
    )
    .await;

    // What nothing uses is deleted.
    let fields = [("name", "Spare"), ("description", "")];
    walk.submit(&root, new_department, &fields, see_other).await;
    let spare_dept = id(&db, "SELECT id FROM departments WHERE name = 'Spare'");
    let delete = format!("/admin/departments/{spare_dept}/delete");
    walk.submit(&root, (&delete, &delete), &[], see_other).await;
    walk.submit(&root, new_user_type, &fields, see_other).await;
    let spare_type = id(&db, "SELECT id FROM user_types WHERE name = 'Spare'");
    let delete = format!("/admin/user-types/{spare_type}/delete");
    walk.submit(&root, (&delete, &delete), &[], see_other).await;

    // Passwords, and the end of it.
    let link = (&*user, &*format!("{user}/password-link"));
    let page = walk.submit(&root, link, &[], ok).await;
    let link = common::text_of(&page, "#password-link").expect("a set-password link");
    let (_, code) = link.split_once("/set-password?code=").unwrap();
    let fields = [("code", code), ("new_password", "a fine new password")];
    let set = (&*format!("/set-password?code={code}"), "/set-password");
    walk.submit(&stranger, set, &fields, see_other).await;
    let login = ada.login("ada", "a fine new password");
    walk.step("POST", "/login", see_other, login).await;
    let sudo = [("password", "a fine new password"), ("next", "/profile")];
    walk.submit(&ada, ("/sudo", "/sudo"), &sudo, see_other)
        .await;
    let fields = [
        ("current_password", "a fine new password"),
        ("new_password", "another fine password"),
    ];
    walk.submit(&ada, ("/profile", "/profile/password"), &fields, see_other)
        .await;
    let notifications = [("notify_new_device", "on")];
    walk.submit(
        &ada,
        ("/profile", "/profile/notifications"),
        &notifications,
        see_other,
    )
    .await;
    walk.submit(&ada, (list, &format!("{mine}/revoke")), &[], see_other)
        .await;
    now_says(&app, &laptop, Refused, "revoking it").await;
    // Her other browsers: one signed out by its row, then all but this one.
    let (tablet, desk) = (app.visitor(), app.visitor());
    let signed_in = tablet.login("ada", "another fine password").await;
    assert_eq!(signed_in.status(), see_other);
    let newest = format!("SELECT MAX(id) FROM sessions WHERE user_id = {ada_id}");
    let tablet_row = id(&db, &newest);
    let signed_in = desk.login("ada", "another fine password").await;
    assert_eq!(signed_in.status(), see_other);
    let one = format!("/profile/sessions/{tablet_row}/revoke");
    walk.submit(&ada, (list, &one), &[], see_other).await;
    let others = (list, "/profile/sessions/others/revoke");
    walk.submit(&ada, others, &[], see_other).await;
    assert_eq!(desk.get(list).await.status(), see_other, "signed out");
    // A second factor: enrolled, used to sign in, reset by root, turned off.
    let password = "another fine password";
    second_factor_steps(&mut walk, &app, (&root, &ada), &user, password).await;
    walk.step("POST", "/logout", see_other, ada.logout()).await;

    // Passkeys, which tokens do not depend on. At 127.0.0.1 no ceremony
    // starts (WebAuthn takes no IP address): refused before any state is
    // kept; a finish without an answer is refused too. Renaming and removing
    // take a row put in directly.
    let (conflict, bad) = (StatusCode::CONFLICT, StatusCode::BAD_REQUEST);
    let security = "/profile/security";
    let fields = [("name", "Key")];
    let options = (security, "/profile/security/passkeys/options");
    walk.submit(&root, options, &fields, conflict).await;
    let fields = [("name", "Key"), ("credential", "")];
    let add = (security, "/profile/security/passkeys");
    walk.submit(&root, add, &fields, bad).await;
    let visitor = app.visitor();
    let no_answer = [("credential", "")];
    walk.submit(
        &visitor,
        ("/login", "/login/passkey/options"),
        &[],
        conflict,
    )
    .await;
    walk.submit(&visitor, ("/login", "/login/passkey"), &no_answer, bad)
        .await;
    let options = ("/login", "/login/second-factor/passkey/options");
    walk.submit(&visitor, options, &[], conflict).await;
    let second = ("/login", "/login/second-factor/passkey");
    walk.submit(&visitor, second, &no_answer, see_other).await;
    let sudo = "/sudo?next=/profile/security";
    walk.submit(&root, (sudo, "/sudo/passkey/options"), &[], conflict)
        .await;
    walk.submit(&root, (sudo, "/sudo/passkey"), &no_answer, bad)
        .await;
    diesel::sql_query(
        "INSERT INTO passkeys (user_id, name, credential_id, credential, passwordless, created_at) \
         SELECT id, 'Key', 'walk-key', '{}', FALSE, CURRENT_TIMESTAMP FROM users WHERE username = 'root'",
    )
    .execute(&mut db.get().unwrap())
    .unwrap();
    let key = id(
        &db,
        "SELECT id FROM passkeys WHERE credential_id = 'walk-key'",
    );
    let rename = format!("/profile/security/passkeys/{key}/rename");
    walk.submit(
        &root,
        (security, &rename),
        &[("name", "Spare key")],
        see_other,
    )
    .await;
    let remove = format!("/profile/security/passkeys/{key}/remove");
    walk.submit(&root, (security, &remove), &[], see_other)
        .await;

    // Every write path of the route table was driven.
    let writes: BTreeSet<(String, String)> = common::route_table()
        .into_iter()
        .filter(|(method, _)| *method != "GET")
        .map(|(method, path)| (method.to_owned(), pattern_of(&path)))
        .collect();
    assert_eq!(
        walk.driven, writes,
        "the walk drives exactly the write paths of the route table: a new one needs a step"
    );
    eprintln!(
        "{} write paths: {} changed what tokens depend on, {} moved the epoch (without \
         changing it: {:?})",
        writes.len(),
        walk.changed.len(),
        walk.moved.len(),
        walk.moved.difference(&walk.changed).collect::<Vec<_>>(),
    );
    assert!(
        walk.changed.len() >= 20,
        "the walk changes things: {:?}",
        walk.changed
    );
    assert!(
        walk.missed.is_empty(),
        "changed what tokens depend on without moving the validity epoch:\n{}",
        walk.missed.join("\n")
    );
}
