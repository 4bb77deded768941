//! Every HTML page of the route table with real rows behind its `{id}`s: what
//! `site_wide.rs` reads over HTTP and `browser/pages.rs` opens in Chromium. A
//! new GET route with an `{id}` needs its test data here (the walk says so).

use super::{Seeded, TestApp};

/// Who opens the pages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Viewer {
    /// `root`: every page, the `/admin` ones too.
    Admin,
    /// `ada`: the pages a member sees.
    Member,
}

impl Viewer {
    pub fn username(self) -> &'static str {
        match self {
            Viewer::Admin => "root",
            Viewer::Member => "ada",
        }
    }
}

/// The rows behind the pages: the administrator `root` and the member `ada`
/// (with a membership), a department, a user type, a scope, and tokens of every
/// kind (`root` owns a personal token and a client, `ada` one of each kind).
pub struct Site {
    pub ada: tessera::db::users::User,
    pub department: i64,
    pub user_type: i64,
    pub scope: i64,
    pub personal: Seeded,
    pub client: Seeded,
    pub api: Seeded,
    pub session: Seeded,
    pub ada_personal: Seeded,
    pub ada_client: Seeded,
    /// A webhook endpoint (loopback, never reached) with one delivery.
    pub webhook: i64,
}

/// Creates the rows of [`Site`] in `app`'s database (no one signs in).
pub fn arrange(app: &TestApp) -> Site {
    let root = app.create_user("root", true);
    let ada = app.create_user("ada", false);
    let (department, user_type) = app.grant(ada.id, "Field", "devices:read");
    let membership = Some((department, user_type));
    let scope = app.db(|c| super::scalar(c, "SELECT MIN(id) FROM scopes"));
    let webhook = app.db(|c| super::insert_webhook(c, "http://127.0.0.1:9/hook"));
    app.db(|c| {
        tessera::db::webhooks::insert_delivery(
            c,
            webhook,
            "msg_site",
            "token.revoked",
            "{}",
            app.now(),
        )
        .unwrap()
    });
    let site = Site {
        webhook,
        personal: app.insert_token(root.id, "personal", "ci", None),
        client: app.insert_token(root.id, "client", "BI", membership),
        api: app.insert_token(ada.id, "api", "ERP", membership),
        session: app.insert_token(ada.id, "session", "Pixel", membership),
        ada_personal: app.insert_token(ada.id, "personal", "CI deploy", None),
        ada_client: app.insert_token(ada.id, "client", "JDBC", membership),
        ada,
        department,
        user_type,
        scope,
    };
    signals(app, &site);
    site
}

/// The in-app signals on the pages: `ada`'s client expires this week (the
/// banners), root's client and ada's access token were presented while not
/// valid (their marks), and a revoked token of ada's was presented after it
/// was revoked (Token Management's list of them, the overview's count).
fn signals(app: &TestApp, site: &Site) {
    let old = app.insert_token(site.ada.id, "personal", "old deploy", None);
    let now = tessera::db::now();
    app.db(|conn| {
        use diesel::prelude::*;
        use tessera::db::schema::tokens::dsl as t;
        tessera::db::tokens::revoke(conn, old.id, None).unwrap();
        diesel::update(t::tokens.find(site.ada_client.id))
            .set(t::expires_at.eq(now + chrono::TimeDelta::days(3)))
            .execute(conn)
            .unwrap();
        for id in [site.client.id, site.ada_personal.id, old.id] {
            diesel::update(t::tokens.find(id))
                .set((
                    t::refused_use_at.eq(now + chrono::TimeDelta::seconds(1)),
                    t::refused_use_ip.eq("203.0.113.7"),
                ))
                .execute(conn)
                .unwrap();
        }
    });
}

/// The paths of every GET page of the route table that answers `viewer` with
/// HTML, signed in, in table order. Left out: the pages for those signed out
/// (`/login`, `/setup`, `/set-password`), redirects, JSON, CSV, plain text,
/// static files, and for a member the `/admin` area.
pub fn pages(site: &Site, viewer: Viewer) -> Vec<String> {
    let admin = viewer == Viewer::Admin;
    let ids = |tokens: &[&Seeded], pattern: &str| -> Vec<String> {
        tokens
            .iter()
            .map(|t| pattern.replace("{id}", &t.id.to_string()))
            .collect()
    };
    let mut paths = Vec::new();
    for (method, pattern) in super::route_table() {
        if method != "GET" {
            continue;
        }
        let p = pattern.as_str();
        let these: Vec<String> = match p {
            // `/login/second-factor` answers only a sign-in half done (its own tests).
            "/login"
            | "/login/second-factor"
            | "/login/sso"
            | "/login/sso/callback"
            | "/setup"
            | "/set-password"
            | "/"
            | "/healthz"
            | "/readyz"
            | "/metrics"
            | "/admin/audit.csv"
            | "/favicon.ico" => continue,
            p if p.starts_with("/api/") || p.starts_with("/static/") => continue,
            p if p.starts_with("/admin") && !admin => continue,
            "/admin/tokens" => vec![
                "/admin/tokens?tab=api".into(),
                "/admin/tokens?tab=sessions".into(),
                "/admin/tokens?tab=api&status=refused_use".into(),
            ],
            "/profile/tokens" => vec![p.into(), "/profile/tokens?status=expiring".into()],
            "/admin/tokens/new" => vec![
                p.into(),
                format!("/admin/tokens/new?user_q=a&user_id={}", site.ada.id),
            ],
            "/admin/tokens/{id}" => {
                ids(&[&site.personal, &site.client, &site.api, &site.session], p)
            }
            "/profile/tokens/{id}/edit" if admin => ids(&[&site.personal], p),
            "/profile/tokens/{id}/edit" => ids(&[&site.ada_personal], p),
            "/profile/tokens/{id}/revoke" | "/profile/tokens/{id}/regenerate" if admin => {
                ids(&[&site.personal, &site.client], p)
            }
            "/profile/tokens/{id}/revoke" | "/profile/tokens/{id}/regenerate" => {
                ids(&[&site.ada_personal, &site.ada_client], p)
            }
            "/profile/tokens/{id}/show" if admin => ids(&[&site.client], p),
            "/profile/tokens/{id}/show" => ids(&[&site.ada_client], p),
            "/admin/tokens/{id}/regenerate" => ids(&[&site.client, &site.api], p),
            "/admin/tokens/{id}/show" => ids(&[&site.api], p),
            // Removing a passkey: with a passkey the password alone no longer
            // signs in, which these walks do; browser::passkeys runs axe on
            // the page and routes::passkeys checks it.
            "/profile/security/passkeys/{id}/remove" => continue,
            p if p.starts_with("/admin/users/") => {
                vec![p.replace("{id}", &site.ada.id.to_string())]
            }
            p if p.starts_with("/admin/departments/") => {
                vec![p.replace("{id}", &site.department.to_string())]
            }
            p if p.starts_with("/admin/user-types/") => {
                vec![p.replace("{id}", &site.user_type.to_string())]
            }
            p if p.starts_with("/admin/webhooks/") => {
                vec![p.replace("{id}", &site.webhook.to_string())]
            }
            p if p.starts_with("/admin/scopes/") => {
                vec![p.replace("{id}", &site.scope.to_string())]
            }
            p => {
                assert!(!p.contains('{'), "no test data for the page {p}: add some");
                vec![p.to_owned()]
            }
        };
        paths.extend(these);
    }
    paths
}
