//! Bad input everywhere (issue #6, item 5). Hostile values in every field of every
//! form, in every known query parameter and in every API route must get a 4xx
//! with a clear message (a form re-rendered with what was typed and the error
//! beside the field, an error page, or a JSON error body), never a 5xx; an HTML
//! payload is only ever shown escaped; and a rejected request stores nothing,
//! not even half of it.
//!
//! * `every_form_field_survives_hostile_values` crawls the pages (seed list from
//!   `src/routes/mod.rs` and `src/routes/admin/catalog/mod.rs`, plus every link
//!   they show), parses every `<form method=post>` and submits each one once per
//!   (field, hostile value) with every other field as the page filled it (empty
//!   required fields get a plausible value, so that the hostile one is what
//!   decides). Skipped: `/logout`, which would end the crawler's session. Forms
//!   that destroy fixtures (revoke, disable, delete, retire, regenerate, remove a
//!   membership, confirm a bulk revoke) and the settings form are not skipped but
//!   sent last, and the plain user's forms go before the administrator's can
//!   disable that user. Disabling the signed-in administrator is refused by the
//!   product itself, so that form needs no skipping.
//! * `every_page_survives_hostile_query_strings`: every GET page with hostile
//!   values for each of its query parameters, and hostile ids in paths.
//! * `every_api_route_survives_hostile_input`: every `/api/v1` route with bodies
//!   that are not JSON, of the wrong shape, too long, with NUL bytes, invalid
//!   UTF-8, huge numbers, the wrong content type, oversized; hostile path ids and
//!   `Authorization` headers.
//! * `token_parser_*`: proptest of `PlainToken::parse` against an independent
//!   oracle of the format.
//! * `arbitrary_bodies_never_get_a_5xx`: proptest of arbitrary byte bodies to
//!   every form route and every API route of one running server.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use common::{PASSWORD, TestApp, Visitor, csrf_in, new_client, spawn_app_with};
use diesel::prelude::*;
use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, TestCaseError, TestRunner};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use reqwest::{Method, StatusCode};
use scraper::{ElementRef, Html, Selector};
use tessera::domain::token::{PlainToken, TokenKind};

const SQL: &str = "' OR 1=1; DROP TABLE tokens; --";
const HTML: &str = "<script>alert(1)</script>\"'><img src=x onerror=alert(1)>";
/// What must never appear in a response: the payload's tags, unescaped.
const RAW_MARKERS: [&str; 2] = ["<script>alert(1)", "<img src=x onerror"];
const TABLES: [&str; 6] = [
    "tokens",
    "users",
    "departments",
    "user_types",
    "scopes",
    "memberships",
];
/// The web forms' body limit (`tessera::auth::gate::FORM_LIMIT`).
const FORM_LIMIT: usize = 1024 * 1024;
/// The API's body limit.
const API_LIMIT: usize = 64 * 1024;

/// 10,000 characters.
fn long_text() -> String {
    "Ab9-".repeat(2_500)
}

// ---------------------------------------------------------------------------
// The world the tests run in
// ---------------------------------------------------------------------------

struct Ids {
    root: i64,
    ada: i64,
    department: i64,
    spare_department: i64,
    user_type: i64,
    spare_type: i64,
    scope: i64,
    root_personal: i64,
    root_client: i64,
    ada_personal: i64,
    api: i64,
    session: i64,
}

/// A server with data: an administrator `root` (signed in on `app`), a user `ada`
/// (signed in on `user`) with a membership, a spare department and user type, and
/// tokens of every kind (the session one through the db layer).
struct World {
    app: TestApp,
    user: Visitor,
    anon: Visitor,
    ids: Ids,
    /// A live set-password link of the user `cy`, for its form.
    set_password_link: String,
}

/// The code of `World::set_password_link`.
const LINK_CODE: &str = "hostile-input-link-code-0123456789";

async fn world() -> World {
    // Failed bearer authentications are part of the test: never rate-limit them.
    let app = spawn_app_with(|c| c.api_failures_per_minute = u32::MAX).await;
    let root = app.create_user("root", true);
    let ada = app.create_user("ada", false);
    let (department, user_type) = app.grant(ada.id, "Analyst", "devices:read tokens:read");
    let (spare_department, spare_type, scope) = app.db(|conn| {
        (
            tessera::db::departments::create(conn, "Spare", "nobody here").unwrap(),
            tessera::db::user_types::create(conn, "Spare type", "", "devices:read").unwrap(),
            tessera::db::scopes::all(conn).unwrap()[0].id,
        )
    });
    let membership = Some((department, user_type));
    let ids = Ids {
        root: root.id,
        ada: ada.id,
        department,
        spare_department,
        user_type,
        spare_type,
        scope,
        root_personal: app
            .insert_token(root.id, "personal", "root laptop", None)
            .id,
        root_client: app.insert_token(root.id, "client", "BI", membership).id,
        ada_personal: app.insert_token(ada.id, "personal", "ada cli", None).id,
        api: app
            .insert_token(ada.id, "api", "Integration", membership)
            .id,
        session: app
            .insert_token(ada.id, "session", "Pixel 9", membership)
            .id,
    };
    app.insert_token(ada.id, "client", "JDBC", membership);
    let cy = app.create_user("cy", false);
    app.db(|conn| {
        let now = tessera::db::now();
        let code = tessera::auth::sha256(LINK_CODE.as_bytes());
        tessera::db::password_codes::issue(
            conn,
            cy.id,
            Some(root.id),
            &code,
            now,
            now + chrono::TimeDelta::days(7),
        )
    })
    .unwrap();
    app.login_ok("root").await;
    let user = app.visitor();
    user.login_ok("ada").await;
    // Both stepped up: every form, the sensitive ones too, is reached.
    app.step_up().await;
    user.step_up().await;
    let anon = app.visitor();
    World {
        app,
        user,
        anon,
        ids,
        set_password_link: format!("/set-password?code={LINK_CODE}"),
    }
}

/// Row counts of the tables a request may change.
fn counts(app: &TestApp) -> Vec<i64> {
    TABLES.iter().map(|table| app.count(table)).collect()
}

/// The contents of those tables (and the settings) that a rejected request must
/// leave alone; last-use columns and timestamps that reads touch are left out.
fn fingerprint(app: &TestApp) -> String {
    use tessera::db::schema::{
        departments, memberships, scopes, settings, tokens, user_types, users,
    };
    type Stamp = Option<chrono::NaiveDateTime>;
    type TokenRow = (i64, String, String, String, String, Vec<u8>, Stamp, Stamp);
    app.db(|conn| {
        let tokens: Vec<TokenRow> =
            tokens::table
                .order(tokens::id)
                .select((
                    tokens::id,
                    tokens::name,
                    tokens::description,
                    tokens::scopes,
                    tokens::status,
                    tokens::sha256,
                    tokens::expires_at,
                    tokens::revoked_at,
                ))
                .load(conn)
                .unwrap();
        let users: Vec<(i64, String, String, String, String, bool, String)> = users::table
            .order(users::id)
            .select((
                users::id,
                users::username,
                users::email,
                users::display_name,
                users::password_hash,
                users::is_admin,
                users::status,
            ))
            .load(conn)
            .unwrap();
        let departments: Vec<(i64, String, String)> = departments::table
            .order(departments::id)
            .select((departments::id, departments::name, departments::description))
            .load(conn)
            .unwrap();
        let types: Vec<(i64, String, String, String)> = user_types::table
            .order(user_types::id)
            .select((
                user_types::id,
                user_types::name,
                user_types::description,
                user_types::scopes,
            ))
            .load(conn)
            .unwrap();
        let scopes: Vec<(i64, String, String, String, Stamp)> = scopes::table
            .order(scopes::id)
            .select((
                scopes::id,
                scopes::name,
                scopes::resource,
                scopes::description,
                scopes::retired_at,
            ))
            .load(conn)
            .unwrap();
        let memberships: Vec<(i64, i64, i64)> = memberships::table
            .order(memberships::id)
            .select((
                memberships::user_id,
                memberships::department_id,
                memberships::user_type_id,
            ))
            .load(conn)
            .unwrap();
        let settings: Vec<(i32, i32, bool, i32, i32, bool, String)> = settings::table
            .select((
                settings::default_lifetime_days,
                settings::max_lifetime_days,
                settings::allow_non_expiring,
                settings::retention_days,
                settings::mobile_session_days,
                settings::token_creation_enabled,
                settings::tenant_id,
            ))
            .load(conn)
            .unwrap();
        format!("{tokens:?}\n{users:?}\n{departments:?}\n{types:?}\n{scopes:?}\n{memberships:?}\n{settings:?}")
    })
}

/// What the database looks like, for "nothing stored half-way".
#[derive(PartialEq)]
struct Snapshot {
    counts: Vec<i64>,
    contents: String,
}

impl Snapshot {
    fn take(app: &TestApp) -> Self {
        Self {
            counts: counts(app),
            contents: fingerprint(app),
        }
    }
}

/// A request that changed the database although it was refused.
fn assert_unchanged(before: &Snapshot, after: &Snapshot, what: &str, status: StatusCode) {
    assert_eq!(
        before.counts, after.counts,
        "{what}: answered {status} but the row counts of {TABLES:?} changed"
    );
    assert!(
        before.contents == after.contents,
        "{what}: answered {status} but stored something:\nbefore: {}\nafter:  {}",
        before.contents,
        after.contents
    );
}

/// Departments, user types and tokens named or described with the HTML payload.
fn stored_payloads(app: &TestApp) -> i64 {
    use tessera::db::schema::{departments, tokens, user_types};
    app.db(|conn| {
        let departments: i64 = departments::table
            .filter(
                departments::name
                    .eq(HTML)
                    .or(departments::description.eq(HTML)),
            )
            .count()
            .get_result(conn)
            .unwrap();
        let types: i64 = user_types::table
            .filter(
                user_types::name
                    .eq(HTML)
                    .or(user_types::description.eq(HTML)),
            )
            .count()
            .get_result(conn)
            .unwrap();
        let tokens: i64 = tokens::table
            .filter(tokens::name.eq(HTML).or(tokens::description.eq(HTML)))
            .count()
            .get_result(conn)
            .unwrap();
        departments + types + tokens
    })
}

fn excerpt(body: &str) -> String {
    body.chars().take(600).collect()
}

/// No unescaped payload in `body`.
fn assert_escaped(body: &str, what: &str) {
    for marker in RAW_MARKERS {
        assert!(
            !body.contains(marker),
            "{what}: the response contains {marker:?} unescaped:\n{}",
            excerpt(&body[body.find(marker).unwrap().saturating_sub(200)..])
        );
    }
}

// ---------------------------------------------------------------------------
// Forms as the pages show them
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Hidden,
    Password,
    Date,
    Number,
    Checkbox,
    Radio,
    Select,
    Textarea,
    Button,
}

#[derive(Debug, Clone)]
struct Field {
    name: String,
    value: String,
    kind: Kind,
    /// Checkboxes and radios: whether the page ticked it.
    checked: bool,
}

#[derive(Debug, Clone)]
struct Form {
    page: String,
    method: String,
    action: String,
    fields: Vec<Field>,
}

impl Form {
    /// The controls a browser would send as the page shows them (ticked boxes,
    /// the first named button).
    fn sent(&self) -> Vec<&Field> {
        let mut button_sent = false;
        self.fields
            .iter()
            .filter(|f| match f.kind {
                Kind::Checkbox | Kind::Radio => f.checked,
                Kind::Button => !std::mem::replace(&mut button_sent, true),
                _ => true,
            })
            .collect()
    }

    /// Distinct field names, in page order.
    fn names(&self) -> Vec<String> {
        let mut seen = BTreeSet::new();
        self.fields
            .iter()
            .filter(|f| seen.insert(f.name.clone()))
            .map(|f| f.name.clone())
            .collect()
    }

    fn field(&self, name: &str) -> &Field {
        self.fields.iter().find(|f| f.name == name).unwrap()
    }

    fn is_numeric(&self, name: &str) -> bool {
        let values: Vec<&str> = self
            .fields
            .iter()
            .filter(|f| f.name == name)
            .map(|f| f.value.as_str())
            .collect();
        self.field(name).kind == Kind::Number
            || name.ends_with("_id")
            || name.ends_with("_days")
            || name.ends_with("ids")
            || values.iter().any(|v| v.trim().parse::<i64>().is_ok())
    }

    fn is_date(&self, name: &str) -> bool {
        self.field(name).kind == Kind::Date || matches!(name, "expires_at" | "from" | "until")
    }

    /// Destroys fixtures or changes what every other form does: sent last.
    fn runs_last(&self) -> bool {
        let a = self.action.as_str();
        [
            "/revoke",
            "/disable",
            "/enable",
            "/delete",
            "/retire",
            "/restore",
            "/regenerate",
            "/memberships/remove",
            "/bulk-revoke/confirm",
        ]
        .iter()
        .any(|end| a.ends_with(end))
            || a == "/admin/settings"
            // A valid new password uses the link up.
            || a == "/set-password"
    }

    /// The action with numeric path segments as `{id}`: one submission series per
    /// kind of form, not per row.
    fn shape(&self) -> String {
        let path: Vec<String> = self
            .action
            .split('/')
            .map(|seg| {
                if !seg.is_empty() && seg.bytes().all(|b| b.is_ascii_digit()) {
                    "{id}".into()
                } else {
                    seg.into()
                }
            })
            .collect();
        format!("{} {} {:?}", self.method, path.join("/"), self.names())
    }
}

/// Every `<form>` of a page with its controls and their current values.
fn parse_forms(page: &str, html: &str) -> Vec<Form> {
    let doc = Html::parse_document(html);
    let forms = Selector::parse("form").unwrap();
    let controls = Selector::parse("input, select, textarea, button").unwrap();
    let options = Selector::parse("option").unwrap();
    let mut out = Vec::new();
    for form in doc.select(&forms) {
        let method = form
            .value()
            .attr("method")
            .unwrap_or("get")
            .to_ascii_lowercase();
        let action = form
            .value()
            .attr("action")
            .filter(|a| !a.is_empty())
            .unwrap_or(page)
            .to_owned();
        let mut fields = Vec::new();
        for control in form.select(&controls) {
            let el = control.value();
            let Some(name) = el.attr("name").filter(|n| !n.is_empty()) else {
                continue;
            };
            let (kind, value, checked) = match el.name() {
                "select" => {
                    let chosen: Vec<ElementRef> = control.select(&options).collect();
                    let pick = chosen
                        .iter()
                        .find(|o| o.value().attr("selected").is_some())
                        .or(chosen.first());
                    let value = pick
                        .map(|o| {
                            o.value().attr("value").map_or_else(
                                || o.text().collect::<String>().trim().to_owned(),
                                str::to_owned,
                            )
                        })
                        .unwrap_or_default();
                    (Kind::Select, value, true)
                }
                "textarea" => (Kind::Textarea, control.text().collect(), true),
                "button" => (
                    Kind::Button,
                    el.attr("value").unwrap_or_default().to_owned(),
                    true,
                ),
                _ => {
                    let kind = match el
                        .attr("type")
                        .unwrap_or("text")
                        .to_ascii_lowercase()
                        .as_str()
                    {
                        "hidden" => Kind::Hidden,
                        "password" => Kind::Password,
                        "date" => Kind::Date,
                        "number" => Kind::Number,
                        "checkbox" => Kind::Checkbox,
                        "radio" => Kind::Radio,
                        "submit" | "button" | "image" | "reset" => Kind::Button,
                        _ => Kind::Text,
                    };
                    let default = if matches!(kind, Kind::Checkbox | Kind::Radio) {
                        "on"
                    } else {
                        ""
                    };
                    (
                        kind,
                        el.attr("value").unwrap_or(default).to_owned(),
                        el.attr("checked").is_some(),
                    )
                }
            };
            fields.push(Field {
                name: name.to_owned(),
                value,
                kind,
                checked,
            });
        }
        out.push(Form {
            page: page.to_owned(),
            method,
            action,
            fields,
        });
    }
    out
}

/// Same-site links of a page (no static files, no fragments).
fn links(html: &str) -> Vec<String> {
    let doc = Html::parse_document(html);
    let a = Selector::parse("a[href]").unwrap();
    doc.select(&a)
        .filter_map(|el| el.value().attr("href"))
        .map(|href| href.split('#').next().unwrap_or_default().to_owned())
        .filter(|href| href.starts_with('/') && !href.starts_with("//"))
        .filter(|href| !href.starts_with("/static/"))
        .collect()
}

/// Whether a re-rendered form shows `value` in its control `name`.
fn shows_value(html: &str, name: &str, value: &str) -> bool {
    let doc = Html::parse_document(html);
    let sel = Selector::parse("input, textarea").unwrap();
    doc.select(&sel).any(|el| {
        el.value().attr("name") == Some(name)
            && match el.value().name() {
                "textarea" => el.text().collect::<String>().trim() == value,
                _ => el.value().attr("value").map(str::trim) == Some(value),
            }
    })
}

// ---------------------------------------------------------------------------
// Hostile values and bodies
// ---------------------------------------------------------------------------

/// One value of a field as it goes into the body.
#[derive(Debug, Clone)]
enum Val {
    /// URL-encoded as a browser would.
    Text(String),
    /// Put into the body as is (bytes a browser never sends).
    Raw(Vec<u8>),
}

/// `application/x-www-form-urlencoded` of the pairs.
fn encode(pairs: &[(String, Val)]) -> Vec<u8> {
    let mut body = Vec::new();
    for (i, (name, value)) in pairs.iter().enumerate() {
        if i > 0 {
            body.push(b'&');
        }
        match value {
            Val::Text(text) => body.extend(
                serde_urlencoded::to_string([(name.as_str(), text.as_str())])
                    .unwrap()
                    .into_bytes(),
            ),
            Val::Raw(raw) => {
                body.extend(
                    serde_urlencoded::to_string([(name.as_str(), "")])
                        .unwrap()
                        .into_bytes(),
                );
                body.extend(raw);
            }
        }
    }
    body
}

/// The hostile values for one field of a form: (label, values sent for that name).
fn hostile_values(form: &Form, name: &str) -> Vec<(&'static str, Vec<Val>)> {
    let text = |s: &str| vec![Val::Text(s.to_owned())];
    let original = form.field(name).value.clone();
    let mut out = vec![
        ("10,000 characters", text(&long_text())),
        ("a NUL byte", text("a\0b")),
        ("SQL", text(SQL)),
        ("HTML", text(HTML)),
        ("empty", text("")),
        ("invalid UTF-8 (%FF%FE)", vec![Val::Raw(b"%FF%FE".to_vec())]),
        (
            "invalid UTF-8 (raw bytes)",
            vec![Val::Raw(vec![0xff, 0xfe, b'x'])],
        ),
        (
            "the field twice",
            vec![Val::Text(original), Val::Text(HTML.into())],
        ),
        ("a bad percent escape", vec![Val::Raw(b"%G1%".to_vec())]),
    ];
    if form.is_numeric(name) {
        out.extend([
            ("non-numeric", text("12abc")),
            ("negative", text("-1")),
            ("overflowing", text("99999999999999999999999")),
            ("huge float", text("1e309")),
        ]);
    }
    if form.is_date(name) {
        out.extend([
            ("an impossible date", text("2024-02-30")),
            ("the far future", text("+262142-12-31")),
            ("the far past", text("-262143-01-01")),
            ("a date past chrono's range", text("+999999-01-01")),
        ]);
    }
    out
}

/// A plausible value for an empty field, so that the hostile value in another
/// field is what the server has to judge. `n` keeps names unique.
fn plausible(form: &Form, field: &Field, n: usize) -> Option<String> {
    if !field.value.is_empty() || !matches!(field.kind, Kind::Text | Kind::Password) {
        return None;
    }
    Some(match field.name.as_str() {
        "username" => format!("probe{n}"),
        "email" => format!("probe{n}@example.com"),
        "password" | "new_password" => "probe password 123".into(),
        "current_password" => "not the password".into(),
        "name" if form.action == "/admin/scopes" => format!("probe{n}:read"),
        "name" => format!("Probe {n}"),
        "display_name" | "resource" => "Probe".into(),
        _ => return None,
    })
}

/// Who submits a form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Who {
    User,
    Admin,
    Anonymous,
}

// ---------------------------------------------------------------------------
// Sending and judging
// ---------------------------------------------------------------------------

struct Crawler<'a> {
    world: &'a World,
    requests: usize,
    statuses: BTreeMap<u16, usize>,
    /// The database after the last POST (GETs change none of these tables).
    last: Option<Snapshot>,
}

impl<'a> Crawler<'a> {
    fn new(world: &'a World) -> Self {
        Crawler {
            world,
            requests: 0,
            statuses: BTreeMap::new(),
            last: None,
        }
    }

    fn visitor(&self, who: Who) -> &'a Visitor {
        match who {
            Who::Admin => &self.world.app,
            Who::User => &self.world.user,
            Who::Anonymous => &self.world.anon,
        }
    }

    fn tally(&mut self, status: StatusCode) {
        self.requests += 1;
        *self.statuses.entry(status.as_u16()).or_default() += 1;
    }

    /// GETs a page: never a 5xx, never an unescaped payload.
    async fn get(&mut self, who: Who, path: &str) -> (StatusCode, String, String) {
        let res = self
            .visitor(who)
            .client
            .get(self.visitor(who).url(path))
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path} as {who:?}: no answer: {e}"));
        let status = res.status();
        self.tally(status);
        let location = common::location(res.headers()).to_owned();
        let content_type = common::content_type(&res).to_owned();
        let body = res.text().await.unwrap_or_default();
        assert!(
            !status.is_server_error(),
            "GET {path} as {who:?}: {status}\n{}",
            excerpt(&body)
        );
        assert_escaped(&body, &format!("GET {path} as {who:?}"));
        if status.is_redirection() {
            assert!(
                !location.is_empty(),
                "GET {path}: a redirect without Location"
            );
        } else if !path.starts_with("/admin/audit.csv") {
            assert!(
                content_type.starts_with("text/html") && body.contains("<h1"),
                "GET {path} as {who:?}: {status} is not a page ({content_type})\n{}",
                excerpt(&body)
            );
        }
        (status, body, location)
    }

    /// POSTs a body: judged as a page answer, and the database compared around it.
    async fn post(
        &mut self,
        who: Who,
        what: &str,
        action: &str,
        body: Vec<u8>,
        content_type: &str,
    ) -> (StatusCode, String) {
        let app = &self.world.app;
        let before = self.last.take().unwrap_or_else(|| Snapshot::take(app));
        let visitor = self.visitor(who);
        let res = visitor
            .client
            .post(visitor.url(action))
            .header(CONTENT_TYPE, content_type)
            .body(body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{what}: no answer: {e}"));
        let status = res.status();
        self.tally(status);
        let location = common::location(res.headers()).to_owned();
        let content_type = common::content_type(&res).to_owned();
        let text = res.text().await.unwrap_or_default();
        assert!(
            !status.is_server_error(),
            "{what}: {status}\n{}",
            excerpt(&text)
        );
        assert_escaped(&text, what);
        let after = Snapshot::take(app);
        if status.is_client_error() {
            assert_unchanged(&before, &after, what, status);
        }
        self.last = Some(after);
        if status.is_redirection() {
            assert!(
                location.starts_with('/'),
                "{what}: redirect to {location:?}"
            );
            // Where it leads (a flash message may repeat what was typed).
            let (next, _, _) = self.get(who, &location).await;
            assert!(!next.is_server_error(), "{what} → {location}: {next}");
        } else {
            assert!(
                content_type.starts_with("text/html") && text.contains("<h1"),
                "{what}: {status} is not a page ({content_type})\n{}",
                excerpt(&text)
            );
        }
        if status == StatusCode::UNPROCESSABLE_ENTITY {
            assert!(
                text.contains("class=\"field-error\""),
                "{what}: 422 without a message beside a field\n{}",
                excerpt(&text)
            );
        }
        (status, text)
    }
}

// ---------------------------------------------------------------------------
// 1. Every field of every form
// ---------------------------------------------------------------------------

fn admin_pages(ids: &Ids) -> Vec<String> {
    let Ids {
        root,
        ada,
        department,
        spare_department,
        user_type,
        spare_type,
        scope,
        root_personal,
        root_client,
        api,
        session,
        ..
    } = ids;
    let mut pages: Vec<String> = [
        "/profile",
        "/profile/tokens",
        "/profile/tokens/new",
        "/profile/clients/new",
        "/admin",
        "/admin/tokens?tab=api",
        "/admin/tokens?tab=sessions",
        "/admin/tokens/new",
        "/admin/users",
        "/admin/users/new",
        "/admin/departments",
        "/admin/departments/new",
        "/admin/user-types",
        "/admin/user-types/new",
        "/admin/scopes",
        "/admin/scopes/new",
        "/admin/settings",
        "/admin/audit",
    ]
    .map(String::from)
    .to_vec();
    pages.extend([
        format!("/profile/tokens/{root_personal}/edit"),
        format!("/profile/tokens/{root_personal}/revoke"),
        format!("/admin/tokens/new?user_id={ada}"),
        format!("/admin/tokens/{root_personal}"),
        format!("/admin/tokens/{root_client}"),
        format!("/admin/tokens/{api}"),
        format!("/admin/tokens/{session}"),
        format!("/admin/users/{ada}"),
        format!("/admin/users/{root}"),
        format!("/admin/departments/{department}/edit"),
        format!("/admin/departments/{department}/delete"),
        format!("/admin/departments/{spare_department}/delete"),
        format!("/admin/user-types/{user_type}/edit"),
        format!("/admin/user-types/{user_type}/delete"),
        format!("/admin/user-types/{spare_type}/delete"),
        format!("/admin/scopes/{scope}/edit"),
    ]);
    pages
}

fn user_pages(ids: &Ids) -> Vec<String> {
    let id = ids.ada_personal;
    vec![
        "/profile".into(),
        "/profile/tokens".into(),
        "/profile/tokens/new".into(),
        "/profile/clients/new".into(),
        format!("/profile/tokens/{id}/edit"),
        format!("/profile/tokens/{id}/revoke"),
    ]
}

/// GETs the seed pages and every link they show (one level), as `who`.
async fn crawl_pages(
    crawler: &mut Crawler<'_>,
    who: Who,
    seeds: Vec<String>,
) -> Vec<(String, String)> {
    let mut seen = BTreeSet::new();
    let mut pages = Vec::new();
    let mut queue: Vec<(String, bool)> = seeds.into_iter().map(|p| (p, true)).collect();
    let mut i = 0;
    while i < queue.len() {
        let (path, follow) = queue[i].clone();
        i += 1;
        if !seen.insert(path.clone()) || path == "/logout" {
            continue;
        }
        let (status, body, _) = crawler.get(who, &path).await;
        if status != StatusCode::OK || path.starts_with("/admin/audit.csv") {
            continue;
        }
        if follow {
            queue.extend(links(&body).into_iter().map(|l| (l, false)));
        }
        pages.push((path, body));
    }
    pages
}

#[actix_web::test]
async fn every_form_field_survives_hostile_values() {
    let started = Instant::now();
    let world = world().await;
    let ids = &world.ids;
    let mut crawler = Crawler::new(&world);

    // Every page, as each visitor sees it.
    let mut pages: Vec<(Who, String, String)> = Vec::new();
    for (who, seeds) in [
        (Who::User, user_pages(ids)),
        (Who::Admin, admin_pages(ids)),
        (
            Who::Anonymous,
            vec!["/login".to_owned(), world.set_password_link.clone()],
        ),
    ] {
        for (path, body) in crawl_pages(&mut crawler, who, seeds).await {
            pages.push((who, path, body));
        }
    }
    // The bulk-revoke confirmation is only reached by a POST.
    let csrf = csrf_in(&pages.iter().find(|(w, _, _)| *w == Who::Admin).unwrap().2);
    let body = encode(&[
        ("csrf_token".into(), Val::Text(csrf.clone())),
        ("ids".into(), Val::Text(ids.api.to_string())),
    ]);
    let (status, confirm) = crawler
        .post(
            Who::Admin,
            "the bulk-revoke confirmation",
            "/admin/tokens/bulk-revoke",
            body,
            "application/x-www-form-urlencoded",
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    pages.push((Who::Admin, "/admin/tokens/bulk-revoke".into(), confirm));

    // Every POST form once per shape; logout is skipped (it ends the session).
    let mut shapes = BTreeSet::new();
    let mut forms: Vec<(Who, Form)> = Vec::new();
    for (who, path, body) in &pages {
        for form in parse_forms(path, body) {
            if form.method != "post" || form.action == "/logout" {
                continue;
            }
            if shapes.insert(format!("{who:?} {}", form.shape())) {
                forms.push((*who, form));
            }
        }
    }
    forms.sort_by_key(|(who, form)| (form.runs_last(), *who));
    let actions: BTreeSet<String> = forms.iter().map(|(_, f)| f.action.clone()).collect();
    for expected in [
        "/login",
        "/profile/password",
        "/profile/tokens",
        "/profile/clients",
        "/admin/tokens",
        "/admin/tokens/bulk-revoke",
        "/admin/tokens/bulk-revoke/confirm",
        "/admin/users",
        "/admin/departments",
        "/admin/user-types",
        "/admin/scopes",
        "/admin/settings",
        "/set-password",
        "/admin/users/{id}/password-link",
    ] {
        let expected = expected.replace("{id}", &ids.ada.to_string());
        assert!(
            actions.contains(&expected),
            "no form posts to {expected}: {actions:#?}"
        );
    }

    let mut fields_tried = 0;
    let mut kept_checked = 0;
    let mut n = 0;
    for (who, form) in &forms {
        let names = form.names();
        fields_tried += names.len();
        // The page's values, with a plausible value in each empty text field.
        let base: Vec<(String, Val)> = form
            .sent()
            .into_iter()
            .map(|f| {
                n += 1;
                let value = plausible(form, f, n).unwrap_or_else(|| f.value.clone());
                (f.name.clone(), Val::Text(value))
            })
            .collect();
        let from = format!("{who:?} {} (from {})", form.action, form.page);

        for name in &names {
            let field = form.field(name);
            for (label, values) in hostile_values(form, name) {
                let mut pairs: Vec<(String, Val)> = Vec::new();
                let mut placed = false;
                for (other, v) in &base {
                    if other == name {
                        if !placed {
                            pairs.extend(values.iter().map(|v| (name.clone(), v.clone())));
                            placed = true;
                        }
                    } else {
                        pairs.push((other.clone(), v.clone()));
                    }
                }
                if !placed {
                    pairs.extend(values.iter().map(|v| (name.clone(), v.clone())));
                }
                let what = format!("POST {from}: {name} = {label}");
                let (status, text) = crawler
                    .post(
                        *who,
                        &what,
                        &form.action,
                        encode(&pairs),
                        "application/x-www-form-urlencoded",
                    )
                    .await;
                // A re-rendered form keeps what was typed.
                if status == StatusCode::UNPROCESSABLE_ENTITY
                    && matches!(label, "SQL" | "HTML")
                    && matches!(field.kind, Kind::Text | Kind::Textarea)
                {
                    kept_checked += 1;
                    let typed = if label == "SQL" { SQL } else { HTML };
                    assert!(
                        shows_value(&text, name, typed),
                        "{what}: the re-rendered form lost what was typed\n{}",
                        excerpt(&text)
                    );
                }
            }
        }

        // The whole form: the wrong content type, and too large a body.
        let what = format!("POST {from} as application/json");
        crawler
            .post(*who, &what, &form.action, encode(&base), "application/json")
            .await;
        let mut huge = base.clone();
        huge.push(("filler".into(), Val::Text("x".repeat(FORM_LIMIT))));
        let what = format!("POST {from} larger than the form limit");
        let (status, _) = crawler
            .post(
                *who,
                &what,
                &form.action,
                encode(&huge),
                "application/x-www-form-urlencoded",
            )
            .await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{what}");
    }

    // What got stored (names with HTML in them: valid, if unusual) is shown
    // escaped on every page.
    assert!(
        stored_payloads(&world.app) > 0,
        "no form stored the HTML payload, so nothing shows whether pages escape it"
    );
    for (who, path, _) in &pages {
        if path != "/admin/tokens/bulk-revoke" {
            crawler.get(*who, path).await;
        }
    }
    // And the database still works.
    assert!(
        world.app.count("tokens") > 0,
        "the tokens table is still there"
    );
    assert_eq!(
        world.app.get("/admin/tokens?tab=api").await.status(),
        StatusCode::OK
    );

    eprintln!(
        "hostile forms: {} forms, {} fields, {} requests {:?}, {} re-rendered forms kept the payload, in {:.1?}",
        forms.len(),
        fields_tried,
        crawler.requests,
        crawler.statuses,
        kept_checked,
        started.elapsed()
    );
}

// ---------------------------------------------------------------------------
// 2. Query strings and path ids
// ---------------------------------------------------------------------------

/// The query parameters of the token inventories' filters.
const TOKEN_FILTER: [&str; 12] = [
    "tab",
    "q",
    "user",
    "department",
    "kind",
    "status",
    "unused_days",
    "sort",
    "after",
    "from",
    "before",
    "to",
];

/// The query parameters each GET page reads (its handler's query struct).
fn query_params() -> Vec<(&'static str, Who, Vec<&'static str>)> {
    let filter = TOKEN_FILTER.to_vec();
    let audit = vec!["actor", "action", "token", "from", "until", "before"];
    vec![
        ("/admin/tokens", Who::Admin, filter.clone()),
        ("/admin/tokens?tab=sessions", Who::Admin, filter),
        ("/admin/users", Who::Admin, vec!["q", "after"]),
        ("/admin/audit", Who::Admin, audit.clone()),
        ("/admin/audit.csv", Who::Admin, audit),
        (
            "/admin/tokens/new",
            Who::Admin,
            vec![
                "name",
                "expires_in_days",
                "expires_at",
                "user_id",
                "membership",
                "description",
                "user_q",
            ],
        ),
        ("/login", Who::Anonymous, vec!["next"]),
        ("/login", Who::Admin, vec!["next"]),
        ("/profile/tokens", Who::User, vec!["tab", "q"]),
    ]
}

/// Hostile query values, already URL-encoded.
fn hostile_query_values() -> Vec<String> {
    let enc = |s: &str| serde_urlencoded::to_string([("v", s)]).unwrap()[2..].to_owned();
    let mut values = vec![
        long_text(),
        "a%00b".into(),
        enc(SQL),
        enc(HTML),
        "%FF%FE".into(),
        "%".into(),
        "%G1".into(),
        String::new(),
        "12abc".into(),
        "-1".into(),
        "99999999999999999999".into(),
        "1e309".into(),
        "-9223372036854775808".into(),
        // Cursors (`after`, `before`).
        "null.-1".into(),
        "null.99999999999999999999".into(),
        "99999999999999999999.1".into(),
        "9223372036854775807.1".into(),
        "-9223372036854775808.1".into(),
        "-9223372036854775808.-9223372036854775808".into(),
        "-1000000000000000000.1".into(),
        // Dates (`from`, `until`, `expires_at`).
        "2024-02-30".into(),
        "0000-00-00".into(),
        "%2B262142-12-31".into(),
        "-262143-01-01".into(),
        "-4713-01-01".into(),
        "%2B999999-01-01".into(),
        // `membership` (`{department}:{user type}`).
        "99999999999999999999:1".into(),
        "-1:-1".into(),
        ":".into(),
    ];
    values.push(format!("{}:{}", i64::MAX, i64::MIN));
    values
}

/// Ids that no row has, or that are not ids at all.
fn hostile_ids() -> Vec<&'static str> {
    vec![
        "-1",
        "0",
        "9223372036854775807",
        "9223372036854775808",
        "-9223372036854775809",
        "99999999999999999999",
        "abc",
        "%00",
        "%FF%FE",
        "1.5",
        "%201",
        "1e3",
        "%27%20OR%201%3D1%3B--",
        "%3Cscript%3Ealert(1)%3C%2Fscript%3E",
    ]
}

#[actix_web::test]
async fn every_page_survives_hostile_query_strings() {
    let started = Instant::now();
    let world = world().await;
    let mut crawler = Crawler::new(&world);
    let params = query_params();

    // The GET forms of the pages ask for no parameter the list above misses.
    let mut pages = crawl_pages(&mut crawler, Who::Admin, admin_pages(&world.ids)).await;
    pages.extend(crawl_pages(&mut crawler, Who::User, user_pages(&world.ids)).await);
    for (path, body) in &pages {
        for form in parse_forms(path, body) {
            if form.method != "get" {
                continue;
            }
            let known: BTreeSet<&str> = params
                .iter()
                .filter(|(p, _, _)| p.split('?').next() == Some(form.action.as_str()))
                .flat_map(|(_, _, names)| names.iter().copied())
                .collect();
            for name in form.names() {
                assert!(
                    known.contains(name.as_str()),
                    "the GET form of {path} to {} has a parameter {name} this test does not try",
                    form.action
                );
            }
        }
    }

    let values = hostile_query_values();
    for (page, who, names) in &params {
        let sep = if page.contains('?') { '&' } else { '?' };
        for name in names {
            for value in &values {
                crawler
                    .get(*who, &format!("{page}{sep}{name}={value}"))
                    .await;
            }
            crawler
                .get(*who, &format!("{page}{sep}{name}=a&{name}=b"))
                .await;
            crawler.get(*who, &format!("{page}{sep}{name}")).await;
        }
        crawler.get(*who, &format!("{page}{sep}%FF=1&=&&%00")).await;
    }

    // Hostile ids in paths, for GET pages and for POST actions (with a valid
    // CSRF token, so that the handler has to judge the id).
    let csrf = csrf_in(&world.app.get_html("/profile").await);
    let csrf_user = csrf_in(&world.user.get_html("/profile").await);
    let get_pages = [
        "/profile/tokens/{}/edit",
        "/profile/tokens/{}/revoke",
        "/admin/tokens/{}",
        "/admin/users/{}",
        "/admin/departments/{}/edit",
        "/admin/departments/{}/delete",
        "/admin/user-types/{}/edit",
        "/admin/user-types/{}/delete",
        "/admin/scopes/{}/edit",
    ];
    let post_actions = [
        "/profile/tokens/{}",
        "/profile/tokens/{}/regenerate",
        "/profile/tokens/{}/disable",
        "/profile/tokens/{}/enable",
        "/profile/tokens/{}/revoke",
        "/admin/tokens/{}/regenerate",
        "/admin/tokens/{}/disable",
        "/admin/tokens/{}/enable",
        "/admin/users/{}",
        "/admin/users/{}/disable",
        "/admin/users/{}/enable",
        "/admin/users/{}/memberships",
        "/admin/users/{}/memberships/remove",
        "/admin/departments/{}",
        "/admin/departments/{}/delete",
        "/admin/user-types/{}",
        "/admin/user-types/{}/delete",
        "/admin/scopes/{}",
        "/admin/scopes/{}/retire",
        "/admin/scopes/{}/restore",
    ];
    for id in hostile_ids() {
        for pattern in get_pages {
            let path = pattern.replace("{}", id);
            let (status, _, _) = crawler.get(Who::Admin, &path).await;
            assert!(status.is_client_error(), "GET {path}: {status}");
        }
        for pattern in post_actions {
            let path = pattern.replace("{}", id);
            let (who, csrf) = if path.starts_with("/profile") {
                (Who::User, &csrf_user)
            } else {
                (Who::Admin, &csrf)
            };
            let body = encode(&[
                ("csrf_token".into(), Val::Text(csrf.clone())),
                ("name".into(), Val::Text("Probe".into())),
                ("membership".into(), Val::Text("1:1".into())),
                ("department_id".into(), Val::Text("1".into())),
                ("user_type_id".into(), Val::Text("1".into())),
            ]);
            let what = format!("POST {path}");
            let (status, _) = crawler
                .post(who, &what, &path, body, "application/x-www-form-urlencoded")
                .await;
            assert!(
                status.is_client_error() || status.is_redirection(),
                "{what}: {status}"
            );
        }
    }
    eprintln!(
        "hostile query strings and ids: {} requests {:?} in {:.1?}",
        crawler.requests,
        crawler.statuses,
        started.elapsed()
    );
}

// ---------------------------------------------------------------------------
// 3. The API
// ---------------------------------------------------------------------------

/// How a request authenticates.
#[derive(Debug, Clone)]
enum Auth {
    Caller,
    Nothing,
    Header(HeaderValue),
    Twice,
}

struct ApiProbe<'a> {
    app: &'a TestApp,
    client: reqwest::Client,
    caller: String,
    requests: usize,
    statuses: BTreeMap<u16, usize>,
    /// The database after the last request.
    last: Option<Snapshot>,
}

/// An API error answer: JSON with `error` and `error_description`.
fn assert_json_error(what: &str, status: StatusCode, content_type: &str, body: &[u8]) {
    let text = String::from_utf8_lossy(body);
    assert!(
        content_type.starts_with("application/json"),
        "{what}: {status} answered with {content_type:?}: {}",
        excerpt(&text)
    );
    let json: serde_json::Value = serde_json::from_slice(body)
        .unwrap_or_else(|e| panic!("{what}: {status} with a body that is not JSON ({e}): {text}"));
    for key in ["error", "error_description"] {
        assert!(
            json[key].as_str().is_some_and(|s| !s.is_empty()),
            "{what}: {status} without {key}: {json}"
        );
    }
}

impl ApiProbe<'_> {
    async fn send(
        &mut self,
        what: &str,
        method: Method,
        path: &str,
        auth: Auth,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> (StatusCode, Vec<u8>) {
        let before = self.last.take().unwrap_or_else(|| Snapshot::take(self.app));
        let mut req = self.client.request(method.clone(), self.app.url(path));
        req = match auth {
            Auth::Caller => req.bearer_auth(&self.caller),
            Auth::Nothing => req,
            Auth::Header(value) => req.header(AUTHORIZATION, value),
            Auth::Twice => req
                .header(AUTHORIZATION, format!("Bearer {}", self.caller))
                .header(AUTHORIZATION, format!("Bearer {}", self.caller)),
        };
        if let Some(content_type) = content_type {
            req = req.header(CONTENT_TYPE, content_type);
        }
        let res = req
            .body(body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{what}: no answer: {e}"));
        let status = res.status();
        self.requests += 1;
        *self.statuses.entry(status.as_u16()).or_default() += 1;
        let content_type = common::content_type(&res).to_owned();
        let body = res.bytes().await.unwrap_or_default().to_vec();
        let what = format!("{method} {path}: {what}");
        assert!(
            !status.is_server_error(),
            "{what}: {status}\n{}",
            String::from_utf8_lossy(&body)
        );
        let after = Snapshot::take(self.app);
        if status.is_client_error() {
            assert_json_error(&what, status, &content_type, &body);
            assert_unchanged(&before, &after, &what, status);
        }
        self.last = Some(after);
        (status, body)
    }
}

/// A JSON body with `field` set to raw JSON text (which may not be valid JSON).
fn json_with(base: &serde_json::Value, field: &str, raw: &[u8]) -> Vec<u8> {
    let mut value = base.clone();
    value[field] = serde_json::Value::String("@@HOSTILE@@".into());
    let text = serde_json::to_vec(&value).unwrap();
    let marker = b"\"@@HOSTILE@@\"";
    let at = text
        .windows(marker.len())
        .position(|w| w == marker)
        .unwrap();
    let mut out = text[..at].to_vec();
    out.extend_from_slice(raw);
    out.extend_from_slice(&text[at + marker.len()..]);
    out
}

/// Hostile JSON values for one field, as raw JSON text.
fn hostile_json_values() -> Vec<(&'static str, Vec<u8>)> {
    let s = |v: serde_json::Value| serde_json::to_vec(&v).unwrap();
    vec![
        ("10,000 characters", s(serde_json::json!(long_text()))),
        ("a NUL byte", s(serde_json::json!("a\u{0}b"))),
        ("SQL", s(serde_json::json!(SQL))),
        ("HTML", s(serde_json::json!(HTML))),
        ("empty", b"\"\"".to_vec()),
        ("invalid UTF-8", b"\"\xff\xfe\"".to_vec()),
        ("a lone surrogate", b"\"\\ud800\"".to_vec()),
        ("a number", b"1".to_vec()),
        ("true", b"true".to_vec()),
        ("null", b"null".to_vec()),
        (
            "an array of mixed things",
            b"[\"tokens:read\", 1, null, {}]".to_vec(),
        ),
        ("an object", b"{\"a\": 1}".to_vec()),
        ("a huge float", b"1e309".to_vec()),
        ("an overflowing integer", b"99999999999999999999".to_vec()),
        ("i64::MAX", b"9223372036854775807".to_vec()),
        ("i64::MIN", b"-9223372036854775808".to_vec()),
        ("negative", b"-1".to_vec()),
        ("a fraction", b"1.5".to_vec()),
        (
            "deep nesting",
            [vec![b'['; 5_000], vec![b']'; 5_000]].concat(),
        ),
        (
            "10,000 scopes",
            s(serde_json::json!(vec!["tokens:read"; 10_000])),
        ),
    ]
}

/// Whole bodies that are not what a JSON route wants.
fn hostile_json_bodies(
    base: &serde_json::Value,
) -> Vec<(&'static str, Option<&'static str>, Vec<u8>)> {
    let json = Some("application/json");
    let valid = serde_json::to_vec(base).unwrap();
    let mut duplicated = valid.clone();
    duplicated.pop();
    duplicated.extend_from_slice(b", \"name\": \"x\", \"name\": \"y\"}");
    let mut oversized = base.clone();
    oversized["description"] = serde_json::json!("x".repeat(API_LIMIT + 1));
    vec![
        ("not JSON", json, b"hello".to_vec()),
        ("half an object", json, b"{".to_vec()),
        ("nothing", json, Vec::new()),
        ("an array", json, b"[]".to_vec()),
        (
            "the fields as an array",
            json,
            serde_json::to_vec(&base.as_object().unwrap().values().collect::<Vec<_>>()).unwrap(),
        ),
        ("null", json, b"null".to_vec()),
        ("a number", json, b"42".to_vec()),
        ("a string", json, b"\"tokens:read\"".to_vec()),
        ("unknown fields", json, b"{\"unknown\": 1}".to_vec()),
        (
            "trailing garbage",
            json,
            [valid.clone(), b" x".to_vec()].concat(),
        ),
        ("duplicated keys", json, duplicated),
        ("invalid UTF-8", json, b"\xff\xfe{}".to_vec()),
        ("a NUL byte", json, b"{\x00}".to_vec()),
        ("text/plain", Some("text/plain"), valid.clone()),
        (
            "a form content type",
            Some("application/x-www-form-urlencoded"),
            valid.clone(),
        ),
        (
            "multipart",
            Some("multipart/form-data; boundary=x"),
            valid.clone(),
        ),
        (
            "a broken content type",
            Some("application/json; charset"),
            valid.clone(),
        ),
        ("no content type", None, valid),
        ("too large", json, serde_json::to_vec(&oversized).unwrap()),
    ]
}

#[actix_web::test]
async fn every_api_route_survives_hostile_input() {
    let started = Instant::now();
    let world = world().await;
    let app = &world.app;
    let (_, caller) = app
        .new_access_token("api caller", &["tokens:read", "tokens:write", "introspect"])
        .await;
    let (victim, _) = app.new_access_token("victim", &["devices:read"]).await;
    let (doomed, _) = app.new_access_token("doomed", &["devices:read"]).await;
    let mut api = ApiProbe {
        app,
        client: new_client(),
        caller: caller.clone(),
        requests: 0,
        statuses: BTreeMap::new(),
        last: None,
    };
    let form = Some("application/x-www-form-urlencoded");
    let mut n = 0;

    // JSON routes: every field with every hostile value, then whole bodies.
    let json_routes = [
        (
            Method::POST,
            "/api/v1/sessions".to_owned(),
            serde_json::json!({"username": "ada", "password": PASSWORD, "device_name": "Pixel"}),
        ),
        (
            Method::POST,
            "/api/v1/tokens".to_owned(),
            serde_json::json!({"name": "made by api", "description": "", "scopes": ["tokens:read"], "expires_in_days": 30}),
        ),
        (
            Method::PATCH,
            format!("/api/v1/tokens/{victim}"),
            serde_json::json!({"description": "patched", "scopes": ["devices:read"]}),
        ),
    ];
    for (method, path, base) in &json_routes {
        let mut fields: Vec<String> = base.as_object().unwrap().keys().cloned().collect();
        fields.extend(["expires_at".to_owned(), "expires_in_days".to_owned()]);
        fields.sort();
        fields.dedup();
        // The username first: failed sign-ins throttle the attempts after them,
        // and a throttled attempt never looks the name up.
        fields.sort_by_key(|f| f != "username");
        for field in &fields {
            for (label, raw) in hostile_json_values() {
                n += 1;
                // A fresh name each time, so that the hostile value decides.
                let mut base = base.clone();
                if base.get("name").is_some() {
                    base["name"] = serde_json::json!(format!("made by api {n}"));
                }
                let body = json_with(&base, field, &raw);
                let what = format!("{field} = {label}");
                let (status, _) = api
                    .send(
                        &what,
                        method.clone(),
                        path,
                        Auth::Caller,
                        Some("application/json"),
                        body,
                    )
                    .await;
                // Sign-in ignores fields it does not know (a newer app may send
                // more), and serde_json skips an ignored string unread.
                let ignored = path == "/api/v1/sessions" && base.get(field.as_str()).is_none();
                if (label == "invalid UTF-8" || label == "a lone surrogate") && !ignored {
                    assert!(status.is_client_error(), "{path} {what}: {status}");
                }
            }
        }
        for (label, content_type, body) in hostile_json_bodies(base) {
            let (status, _) = api
                .send(
                    label,
                    method.clone(),
                    path,
                    Auth::Caller,
                    content_type,
                    body,
                )
                .await;
            assert!(
                status.is_client_error(),
                "{method} {path} {label}: {status}"
            );
            if label == "too large" {
                assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{path}: {label}");
            }
        }
    }

    // Form routes (RFC 7662 / 7009): the `token` field, then whole bodies. The
    // revoke route never sees the caller's token.
    for (path, token) in [
        ("/api/v1/introspect", caller.as_str()),
        ("/api/v1/revoke", "tsrp_notatoken"),
    ] {
        let probe = Form {
            page: path.into(),
            method: "post".into(),
            action: path.into(),
            fields: vec![Field {
                name: "token".into(),
                value: token.into(),
                kind: Kind::Text,
                checked: true,
            }],
        };
        for (label, values) in hostile_values(&probe, "token") {
            let mut pairs: Vec<(String, Val)> =
                values.into_iter().map(|v| ("token".into(), v)).collect();
            pairs.push(("token_type_hint".into(), Val::Text(HTML.into())));
            let (status, body) = api
                .send(
                    label,
                    Method::POST,
                    path,
                    Auth::Caller,
                    form,
                    encode(&pairs),
                )
                .await;
            if status == StatusCode::OK
                && path.ends_with("introspect")
                && label != "the field twice"
            {
                let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
                assert_eq!(json, serde_json::json!({"active": false}), "{path} {label}");
            }
        }
        let oversized = encode(&[("token".into(), Val::Text("x".repeat(API_LIMIT + 1)))]);
        for (label, content_type, body, expect) in [
            ("nothing", form, Vec::new(), None),
            ("raw invalid UTF-8", form, b"\xff\xfe=\xff".to_vec(), None),
            (
                "JSON",
                Some("application/json"),
                b"{\"token\": \"x\"}".to_vec(),
                None,
            ),
            ("no content type", None, b"token=x".to_vec(), None),
            (
                "too large",
                form,
                oversized,
                Some(StatusCode::PAYLOAD_TOO_LARGE),
            ),
        ] {
            let (status, _) = api
                .send(label, Method::POST, path, Auth::Caller, content_type, body)
                .await;
            if let Some(expect) = expect {
                assert_eq!(status, expect, "{path}: {label}");
            }
        }
    }

    // Routes without a body get junk bodies anyway; ids in paths get hostile ids.
    let bodyless = [
        (Method::GET, "/api/v1/me".to_owned()),
        (Method::DELETE, "/api/v1/sessions/current".to_owned()),
        (Method::GET, "/api/v1/tokens".to_owned()),
        (Method::GET, format!("/api/v1/tokens/{victim}")),
        (Method::POST, format!("/api/v1/tokens/{doomed}/regenerate")),
        (Method::DELETE, format!("/api/v1/tokens/{doomed}")),
        (Method::GET, "/api/openapi.json".to_owned()),
    ];
    for (method, path) in &bodyless {
        for (label, body) in [
            ("not JSON", b"hello".to_vec()),
            ("invalid UTF-8", b"\xff\xfe".to_vec()),
            ("a large body", vec![b'x'; API_LIMIT + 1]),
        ] {
            api.send(label, method.clone(), path, Auth::Caller, form, body)
                .await;
        }
    }
    let others = [
        world.ids.ada_personal.to_string(),
        world.ids.session.to_string(),
        world.ids.api.to_string(),
    ];
    for id in hostile_ids().into_iter().map(str::to_owned).chain(others) {
        for (method, path) in [
            (Method::GET, format!("/api/v1/tokens/{id}")),
            (Method::PATCH, format!("/api/v1/tokens/{id}")),
            (Method::DELETE, format!("/api/v1/tokens/{id}")),
            (Method::POST, format!("/api/v1/tokens/{id}/regenerate")),
        ] {
            let (status, _) = api
                .send(
                    "a hostile or foreign id",
                    method.clone(),
                    &path,
                    Auth::Caller,
                    Some("application/json"),
                    b"{\"description\": \"x\"}".to_vec(),
                )
                .await;
            assert!(status.is_client_error(), "{method} {path}: {status}");
        }
    }

    // Hostile credentials.
    let mut tampered = caller.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    let headers: Vec<(&str, Auth)> = vec![
        ("no header", Auth::Nothing),
        ("two headers", Auth::Twice),
        (
            "a 10,000-character token",
            Auth::Header(HeaderValue::from_str(&format!("Bearer {}", long_text())).unwrap()),
        ),
        (
            "SQL",
            Auth::Header(HeaderValue::from_str(&format!("Bearer {SQL}")).unwrap()),
        ),
        (
            "HTML",
            Auth::Header(HeaderValue::from_str(&format!("Bearer {HTML}")).unwrap()),
        ),
        (
            "invalid UTF-8",
            Auth::Header(HeaderValue::from_bytes(b"Bearer \xff\xfe").unwrap()),
        ),
        (
            "Basic",
            Auth::Header(HeaderValue::from_static("Basic Zm9vOmJhcg==")),
        ),
        (
            "a bare scheme",
            Auth::Header(HeaderValue::from_static("Bearer")),
        ),
        (
            "a tampered token",
            Auth::Header(HeaderValue::from_str(&format!("Bearer {tampered}")).unwrap()),
        ),
    ];
    for (label, auth) in headers {
        for (method, path) in [
            (Method::GET, "/api/v1/me"),
            (Method::POST, "/api/v1/tokens"),
            (Method::POST, "/api/v1/introspect"),
            (Method::DELETE, "/api/v1/sessions/current"),
        ] {
            let (status, _) = api
                .send(label, method, path, auth.clone(), form, b"token=x".to_vec())
                .await;
            assert!(status.is_client_error(), "{path} with {label}: {status}");
        }
    }
    let (status, _) = api
        .send(
            "?access_token=",
            Method::GET,
            &format!("/api/v1/me?access_token={caller}"),
            Auth::Nothing,
            None,
            Vec::new(),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // The database still works, and so does the caller.
    assert!(app.count("tokens") > 0);
    assert_eq!(app.api_me(&caller).await.status(), StatusCode::OK);
    eprintln!(
        "hostile API input: {} requests {:?} in {:.1?}",
        api.requests,
        api.statuses,
        started.elapsed()
    );
}

// ---------------------------------------------------------------------------
// 4a. The token parser
// ---------------------------------------------------------------------------

/// Cases per parser property (fixed here, so that CI runs this many).
const PARSER_CASES: u32 = 4096;

/// The token format, `{prefix}{kind}_{body}{check}`, written again
/// independently of `tessera::domain::token`: the kind
/// of a well-formed token, or `None`.
fn oracle(prefix: &str, s: &str) -> Option<char> {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let rest = s.strip_prefix(prefix)?.as_bytes();
    if rest.len() != 2 + 30 + 6 || !b"pcas".contains(&rest[0]) || rest[1] != b'_' {
        return None;
    }
    if !rest[2..].iter().all(u8::is_ascii_alphanumeric) {
        return None;
    }
    let (data, check) = s.split_at(s.len() - 6);
    let mut n = crc32fast::hash(data.as_bytes());
    let mut expected = [b'0'; 6];
    for slot in expected.iter_mut().rev() {
        *slot = ALPHABET[(n % 62) as usize];
        n /= 62;
    }
    (check.as_bytes() == expected).then_some(rest[0] as char)
}

fn kind_of(marker: char) -> TokenKind {
    TokenKind::ALL
        .into_iter()
        .find(|k| k.marker() == marker)
        .unwrap()
}

/// `parse` agrees with the oracle, and what it accepts is the input itself.
fn check_parse(prefix: &str, s: &str) -> Result<(), TestCaseError> {
    let parsed = PlainToken::parse(prefix, s);
    match (oracle(prefix, s), &parsed) {
        (None, None) => {}
        (Some(marker), Some(token)) => {
            prop_assert_eq!(token.expose(), s);
            prop_assert_eq!(token.kind(), kind_of(marker));
            prop_assert!(s.starts_with(&token.display_prefix()));
        }
        (expected, got) => {
            return Err(TestCaseError::fail(format!(
                "parse({prefix:?}, {s:?}) = {got:?}, the format says {expected:?}"
            )));
        }
    }
    Ok(())
}

/// A generated token with one edit: replace, insert or delete a character, or
/// cut it short.
fn near_miss() -> impl Strategy<Value = (String, String)> {
    (
        "[a-z0-9]{1,16}",
        0..4usize,
        any::<prop::sample::Index>(),
        any::<char>(),
        0..4u8,
    )
        .prop_map(|(prefix, kind, at, c, edit)| {
            let token = PlainToken::generate(&prefix, TokenKind::ALL[kind]);
            let mut chars: Vec<char> = token.expose().chars().collect();
            let i = at.index(chars.len());
            match edit {
                0 => chars[i] = c,
                1 => chars.insert(i, c),
                2 => {
                    chars.remove(i);
                }
                _ => chars.truncate(i),
            }
            (prefix, chars.into_iter().collect())
        })
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: PARSER_CASES,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn token_parser_accepts_only_well_formed_strings(
        s in prop_oneof![
            any::<String>(),
            "tsr[pcasx]_[0-9A-Za-z]{34,38}",
            "[a-z]{0,4}[pcas_]{0,3}[0-9A-Za-z\u{0}-\u{7f}\u{e9}\u{1f600}]{0,50}",
        ],
    ) {
        check_parse("tsr", &s)?;
    }

    #[test]
    fn token_parser_never_panics_on_bytes(
        bytes in prop::collection::vec(any::<u8>(), 0..200),
        prefix in "[a-z0-9]{1,16}",
    ) {
        if let Ok(s) = std::str::from_utf8(&bytes) {
            check_parse("tsr", s)?;
            check_parse(&prefix, s)?;
        }
        check_parse("tsr", &String::from_utf8_lossy(&bytes))?;
        // A valid token with the bytes around it is not a token.
        let token = PlainToken::generate("tsr", TokenKind::Personal);
        let framed = format!("{}{}", token.expose(), String::from_utf8_lossy(&bytes));
        check_parse("tsr", &framed)?;
    }

    #[test]
    fn generated_tokens_round_trip_and_near_misses_fail(
        prefix in "[a-z0-9]{1,16}",
        kind in 0..4usize,
        (miss_prefix, miss) in near_miss(),
    ) {
        let kind = TokenKind::ALL[kind];
        let token = PlainToken::generate(&prefix, kind);
        let parsed = PlainToken::parse(&prefix, token.expose());
        prop_assert!(parsed.is_some(), "{} does not parse", token.expose());
        let parsed = parsed.unwrap();
        prop_assert_eq!(parsed.expose(), token.expose());
        prop_assert_eq!(parsed.kind(), kind);
        prop_assert_eq!(parsed.sha256(), token.sha256());
        check_parse(&prefix, token.expose())?;
        // One edit is caught unless it changed nothing.
        check_parse(&miss_prefix, &miss)?;
        let unchanged = PlainToken::parse(&miss_prefix, &miss)
            .is_some_and(|t| t.expose() == miss);
        prop_assert!(oracle(&miss_prefix, &miss).is_some() == unchanged);
    }
}

// ---------------------------------------------------------------------------
// 4b. Arbitrary bodies to every route of one server
// ---------------------------------------------------------------------------

/// Cases per route (fixed here, so that CI runs this many).
const BODY_CASES_PER_ROUTE: u32 = 64;

/// Every field name a form or the API reads, and some it does not.
fn field_names() -> Vec<&'static str> {
    [
        &[
            "name",
            "description",
            "scopes",
            "expires_in_days",
            "expires_at",
            "role_id",
            "user_id",
            "membership",
            "department_id",
            "user_type_id",
            "username",
            "email",
            "display_name",
            "password",
            "is_admin",
            "current_password",
            "new_password",
            "sign_out_others",
            "ids",
            "all_matching",
            "all_on_page",
            "page_ids",
        ][..],
        &TOKEN_FILTER,
        &[
            "default_lifetime_days",
            "max_lifetime_days",
            "allow_non_expiring",
            "retention_days",
            "mobile_session_days",
            "token_creation_enabled",
            "tenant_id",
            "resource",
            "code",
            "next",
            "token",
            "token_type_hint",
            "csrf_token",
            "device_name",
            "",
            "\u{0}",
            "ids[]",
        ],
    ]
    .concat()
}

/// A value: any text, any bytes, a number-ish string, or a long run.
fn any_value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        any::<String>().prop_map(String::into_bytes),
        prop::collection::vec(any::<u8>(), 0..40),
        "-?[0-9]{0,25}(\\.[0-9]{0,3})?(:-?[0-9]{0,20})?".prop_map(String::into_bytes),
        (1..12_000usize).prop_map(|n| vec![b'a'; n]),
    ]
}

/// A body: raw bytes, or fields (some known, some not) whose values are
/// percent-encoded or put in raw.
fn form_body() -> impl Strategy<Value = Vec<u8>> {
    let field = (
        prop::sample::select(field_names()),
        any_value(),
        any::<bool>(),
    )
        .prop_map(|(name, value, raw)| {
            let mut out = serde_urlencoded::to_string([(name, "")])
                .unwrap()
                .into_bytes();
            if raw {
                out.extend(value);
            } else {
                for b in value {
                    out.extend(format!("%{b:02X}").into_bytes());
                }
            }
            out
        });
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..400),
        prop::collection::vec(field, 0..8).prop_map(|fields| fields.join(&b'&')),
    ]
}

/// Any JSON value (with the API's field names as keys), serialized, or raw bytes.
fn json_body() -> impl Strategy<Value = Vec<u8>> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(serde_json::Value::from),
        any::<String>().prop_map(serde_json::Value::from),
        Just(serde_json::Value::from("tokens:read")),
    ];
    let value = leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::from),
            prop::collection::btree_map(prop::sample::select(field_names()), inner, 0..6).prop_map(
                |m| serde_json::Value::Object(
                    m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
                )
            ),
        ]
    });
    prop_oneof![
        3 => value.prop_map(|v| serde_json::to_vec(&v).unwrap()),
        1 => prop::collection::vec(any::<u8>(), 0..400),
    ]
}

#[derive(Debug, Clone, Copy)]
enum Route {
    /// A web form: the body follows a valid `csrf_token` field.
    Form,
    /// An API route with the caller's token.
    Json,
    ApiForm,
}

#[actix_web::test]
async fn arbitrary_bodies_never_get_a_5xx() {
    let started = Instant::now();
    let world = world().await;
    let app = &world.app;
    let (_, caller) = app
        .new_access_token(
            "fuzz caller",
            &["tokens:read", "tokens:write", "introspect"],
        )
        .await;
    let (victim, _) = app.new_access_token("fuzz victim", &["devices:read"]).await;
    let Ids {
        ada,
        department,
        user_type,
        scope,
        root_personal,
        api,
        ..
    } = world.ids;
    let spare = world.ids.spare_department;
    let spare_type = world.ids.spare_type;
    // Every POST route of `src/routes` but `/logout`; destructive ones last.
    let routes: Vec<(Method, String, Route)> = [
        "/login",
        "/setup",
        "/profile/password",
        "/profile/tokens",
        "/profile/clients",
        &format!("/profile/tokens/{root_personal}"),
        "/admin/tokens",
        "/admin/tokens/bulk-revoke",
        "/admin/users",
        &format!("/admin/users/{ada}"),
        &format!("/admin/users/{ada}/memberships"),
        "/admin/departments",
        &format!("/admin/departments/{department}"),
        "/admin/user-types",
        &format!("/admin/user-types/{user_type}"),
        "/admin/scopes",
        &format!("/admin/scopes/{scope}"),
        "/admin/settings",
        "/set-password",
        &format!("/admin/users/{ada}/password-link"),
        &format!("/profile/tokens/{root_personal}/regenerate"),
        &format!("/profile/tokens/{root_personal}/disable"),
        &format!("/profile/tokens/{root_personal}/enable"),
        &format!("/profile/tokens/{root_personal}/revoke"),
        &format!("/admin/tokens/{api}/regenerate"),
        &format!("/admin/tokens/{api}/disable"),
        &format!("/admin/tokens/{api}/enable"),
        &format!("/admin/users/{ada}/memberships/remove"),
        &format!("/admin/users/{ada}/disable"),
        &format!("/admin/users/{ada}/enable"),
        &format!("/admin/departments/{spare}/delete"),
        &format!("/admin/user-types/{spare_type}/delete"),
        &format!("/admin/scopes/{scope}/retire"),
        &format!("/admin/scopes/{scope}/restore"),
        "/admin/tokens/bulk-revoke/confirm",
    ]
    .into_iter()
    .map(|path| (Method::POST, path.to_owned(), Route::Form))
    .chain([
        (Method::POST, "/api/v1/sessions".to_owned(), Route::Json),
        (Method::POST, "/api/v1/tokens".to_owned(), Route::Json),
        (
            Method::PATCH,
            format!("/api/v1/tokens/{victim}"),
            Route::Json,
        ),
        (Method::GET, "/api/v1/me".to_owned(), Route::Json),
        (
            Method::POST,
            "/api/v1/introspect".to_owned(),
            Route::ApiForm,
        ),
        (Method::POST, "/api/v1/revoke".to_owned(), Route::ApiForm),
        (
            Method::POST,
            format!("/api/v1/tokens/{victim}/regenerate"),
            Route::Json,
        ),
        (
            Method::DELETE,
            "/api/v1/sessions/current".to_owned(),
            Route::Json,
        ),
        (
            Method::DELETE,
            format!("/api/v1/tokens/{victim}"),
            Route::Json,
        ),
    ])
    .collect();
    let route_count = routes.len();

    // proptest's runner is synchronous: it runs on a blocking thread with its own
    // client and runtime, against the server this test started.
    let address = app.address.clone();
    let report = actix_web::rt::task::spawn_blocking(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let admin = Visitor {
            address: address.clone(),
            client: new_client(),
        };
        rt.block_on(admin.login_ok("root"));
        rt.block_on(admin.step_up());
        let csrf = rt.block_on(async { csrf_in(&admin.get_html("/profile").await) });
        let statuses: std::cell::RefCell<BTreeMap<u16, usize>> = std::cell::RefCell::default();
        for (method, path, route) in &routes {
            let mut runner = TestRunner::new(ProptestConfig {
                cases: BODY_CASES_PER_ROUTE,
                failure_persistence: None,
                ..ProptestConfig::default()
            });
            let strategy = match route {
                Route::Json => (json_body(), 0..6usize).boxed(),
                _ => (form_body(), 0..6usize).boxed(),
            };
            let result = runner.run(&strategy, |(body, content_type)| {
                let content_type = match (route, content_type) {
                    (_, 0) => "text/plain",
                    (_, 1) => "application/octet-stream",
                    (Route::Json, _) => "application/json",
                    _ => "application/x-www-form-urlencoded",
                };
                let body = match route {
                    Route::Form => [format!("csrf_token={csrf}&").into_bytes(), body].concat(),
                    _ => body,
                };
                let mut req = admin
                    .client
                    .request(method.clone(), admin.url(path))
                    .header(CONTENT_TYPE, content_type)
                    .body(body);
                if !matches!(route, Route::Form) {
                    req = req.bearer_auth(&caller);
                }
                let (status, answer) = rt.block_on(async {
                    let res = req.send().await.map_err(|e| {
                        TestCaseError::fail(format!("{method} {path}: no answer: {e}"))
                    })?;
                    let status = res.status();
                    let content_type = common::content_type(&res).to_owned();
                    let body = res.bytes().await.unwrap_or_default();
                    Ok::<_, TestCaseError>((status, (content_type, body)))
                })?;
                *statuses.borrow_mut().entry(status.as_u16()).or_default() += 1;
                let (content_type, body) = answer;
                prop_assert!(
                    !status.is_server_error(),
                    "{} {}: {}\n{}",
                    method,
                    path,
                    status,
                    String::from_utf8_lossy(&body)
                );
                if status.is_client_error() && !matches!(route, Route::Form) {
                    prop_assert!(
                        content_type.starts_with("application/json")
                            && serde_json::from_slice::<serde_json::Value>(&body)
                                .is_ok_and(|j| j["error"].is_string()
                                    && j["error_description"].is_string()),
                        "{} {}: {} without a JSON error: {}",
                        method,
                        path,
                        status,
                        String::from_utf8_lossy(&body)
                    );
                }
                Ok(())
            });
            if let Err(err) = result {
                return Err(format!("{method} {path}: {err}"));
            }
        }
        Ok(statuses.into_inner())
    })
    .await
    .unwrap();
    let statuses = report.unwrap_or_else(|e| panic!("{e}"));
    assert!(app.count("tokens") > 0, "the tokens table is still there");
    eprintln!(
        "arbitrary bodies: {} routes × {BODY_CASES_PER_ROUTE} cases {statuses:?} in {:.1?}",
        route_count,
        started.elapsed()
    );
}
