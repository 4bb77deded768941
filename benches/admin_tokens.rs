//! Benchmark of the administrator inventory at a million tokens (issue #4).
//!
//! Seeds a database with `seed-demo` (1,000,000 tokens, 10,000 users), starts
//! the release server in-process and prints server-side medians (the
//! `Server-Timing` header) for:
//! the API Tokens page (first page, filtered pages, a display-prefix lookup, a
//! rare name and a name that matches nothing, a page 10,000 pages deep, the
//! sessions tab; then the same list in the other directions: oldest first
//! (also 10,000 pages deep), expiring last, least recently used first, a name
//! search and the sessions tab that way) and bulk revocation of 1,000 and
//! 10,000 selected tokens via the confirm POST.
//!
//! Run: `cargo bench --bench admin_tokens` (`BENCH_TOKENS=N` for a smaller run).
//!
//! The database: a fresh SQLite file in a temporary directory by default;
//! `BENCH_DB=/path/to/file.db` keeps (or reuses) a SQLite file;
//! `BENCH_DATABASE_URL=postgres://…` (or `sqlite://…`) uses that database,
//! seeding it only when its `tokens` table is empty or missing (so a second
//! run reuses the seed, with the revocations of the first: revoke-heavy runs
//! want a fresh database). Nothing but the named database is touched.
// A benchmark prints its figures, and a failure to set it up ends it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::time::Instant;

use clap::Parser as _;
use diesel::prelude::*;
use tessera::cli::Cli;
use tessera::db::schema::tokens::dsl as t;
use tessera::domain::token::TokenKind;
use tessera::domain::token_filter::Cursor;
use tessera::startup::Application;

const RUNS: usize = 41;

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn server_ms(res: &reqwest::Response) -> f64 {
    res.headers()["server-timing"]
        .to_str()
        .unwrap()
        .trim_start_matches("app;dur=")
        .parse()
        .unwrap()
}

fn csrf_in(html: &str) -> String {
    let marker = "name=\"csrf_token\" value=\"";
    let start = html.find(marker).expect("csrf field") + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    let tokens: usize = std::env::var("BENCH_TOKENS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir()?;
    let url = match (
        std::env::var("BENCH_DATABASE_URL"),
        std::env::var("BENCH_DB"),
    ) {
        (Ok(url), _) if !url.is_empty() => url,
        (_, Ok(path)) => format!("sqlite://{path}"),
        _ => format!("sqlite://{}", dir.path().join("bench.db").display()),
    };
    let database = tessera::db::DatabaseUrl::parse(&url)?;
    let postgres = database.backend() == tessera::db::Backend::Postgres;
    let config = Cli::parse_from([
        "tessera",
        "--bind",
        "127.0.0.1:0",
        "--database-url",
        &url,
        "--cookie-secure",
        "false",
        "--log",
        "warn",
    ])
    .config;
    tessera::telemetry::init("warn", tessera::config::LogFormat::Text);
    if std::env::var("BENCH_TRACE_SQL").is_ok() {
        // Every statement that takes a millisecond or more, with its time.
        diesel::connection::set_default_instrumentation(|| {
            let mut started: Option<(Instant, String)> = None;
            Some(Box::new(
                move |event: diesel::connection::InstrumentationEvent<'_>| {
                    use diesel::connection::InstrumentationEvent as E;
                    match event {
                        E::StartQuery { query, .. } => {
                            started = Some((Instant::now(), query.to_string()));
                        }
                        E::FinishQuery { .. } => {
                            if let Some((at, query)) = started.take() {
                                let ms = at.elapsed().as_secs_f64() * 1000.0;
                                if ms >= 1.0 {
                                    let query: String = query.chars().take(4000).collect();
                                    eprintln!("SQL {ms:8.2} ms  {query}");
                                }
                            }
                        }
                        _ => {}
                    }
                },
            ))
        })
        .unwrap();
    }
    let hasher = tessera::auth::password::Hasher::new(19456, 2)?;
    // As `tessera seed-demo` does it: before the server starts, on a pool of
    // its own (on SQLite, seed-demo's pragmas trade durability for speed and
    // must not stay on a connection of the server; closing the pool folds the
    // write-ahead log back into the database).
    let seeding = tessera::db::connect_and_migrate(&database, 1)?;
    let mut conn = seeding.get()?;
    let present: i64 = t::tokens.count().get_result(&mut conn)?;
    println!("database: {}", database.redacted());
    let total = if present == 0 {
        let started = Instant::now();
        let summary = tessera::seed::seed_demo(&mut conn, &hasher, "tsr", 10_000, tokens, true)?;
        println!(
            "seed-demo: {} tokens in {:.1} s (rows {:.1} s, indexes {:.1} s)",
            summary.tokens,
            started.elapsed().as_secs_f64(),
            summary.token_insert_secs,
            summary.token_index_secs
        );
        summary.tokens as i64
    } else {
        println!("reusing its {present} tokens");
        present
    };
    drop(conn);
    drop(seeding);
    let app = Application::build(&config).await?;
    let pool = app.pool();
    if !postgres {
        // Start from a folded-back log, whatever came before (the seed, or the
        // revocations of an earlier run on `BENCH_DB`).
        use diesel::connection::SimpleConnection as _;
        pool.get()?
            .batch_execute("PRAGMA wal_checkpoint(TRUNCATE);")?;
    }
    let admin_name = format!("bench{}", std::process::id());
    {
        let mut account = tessera::domain::account::NewAccount {
            username: admin_name.clone(),
            email: format!("{admin_name}@example.com"),
            display_name: String::new(),
            password: tessera::domain::account::Password::new("benchmark password".into()),
        };
        let prepared = tessera::accounts::prepare(&hasher, &mut account)?
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        tessera::accounts::insert(&mut *pool.get()?, &prepared, true)?
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    }
    let base = format!("http://127.0.0.1:{}", app.port());
    let server = app.into_server();
    let handle = server.handle();
    actix_web::rt::spawn(server);

    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let login = client
        .get(format!("{base}/login"))
        .send()
        .await?
        .text()
        .await?;
    let res = client
        .post(format!("{base}/login"))
        .form(&[
            ("username", admin_name.as_str()),
            ("password", "benchmark password"),
            ("csrf_token", &csrf_in(&login)),
        ])
        .send()
        .await?;
    anyhow::ensure!(res.status() == 303, "sign-in failed: {}", res.status());

    // The cursor of page 10,000 (rows 499,951-500,000 of the default order,
    // or of oldest first), or of the last full page when there are fewer.
    let deep_cursor = |oldest_first: bool| -> anyhow::Result<String> {
        let mut conn = pool.get()?;
        let live: i64 = t::tokens
            .filter(t::kind.ne(TokenKind::Session))
            .filter(t::revoked_at.is_null())
            .count()
            .get_result(&mut conn)?;
        let query = t::tokens
            .filter(t::kind.ne(TokenKind::Session))
            .filter(t::revoked_at.is_null())
            .offset((50 * 9_999 - 1).min(live - 51).max(0))
            .select((t::created_at, t::id));
        let (created_at, id): (chrono::NaiveDateTime, i64) = if oldest_first {
            query
                .order((t::created_at.asc(), t::id.asc()))
                .first(&mut conn)?
        } else {
            query
                .order((t::created_at.desc(), t::id.desc()))
                .first(&mut conn)?
        };
        Ok(Cursor {
            value: Some(created_at),
            id,
        }
        .encode())
    };
    let (deep_cursor, deep_cursor_oldest) = (deep_cursor(false)?, deep_cursor(true)?);
    // A display prefix from the middle of the table, and a name that only a
    // token about as old has (so that no early page holds it by chance).
    let (prefix, rare_name): (String, String) = {
        let mut conn = pool.get()?;
        let middle: i64 = t::tokens
            .select(diesel::dsl::max(t::id))
            .first::<Option<i64>>(&mut conn)?
            .unwrap_or(0)
            / 2;
        t::tokens
            .filter(t::id.ge(middle))
            .filter(t::kind.eq(TokenKind::Api))
            .filter(t::revoked_at.is_null())
            .order(t::id.asc())
            .select((t::display_prefix, t::name))
            .first(&mut conn)?
    };
    let department: i64 = {
        let mut conn = pool.get()?;
        tessera::db::schema::departments::table
            .select(tessera::db::schema::departments::id)
            .first(&mut conn)?
    };

    println!("\nAPI Tokens page, {total} tokens, server-side median of {RUNS} requests:");
    // (label, path, whether the page must list rows)
    let pages = [
        ("first page", "/admin/tokens?tab=api".to_owned(), true),
        (
            "filtered (department, kind=api, active)",
            format!("/admin/tokens?tab=api&department={department}&kind=api&status=active"),
            true,
        ),
        (
            "filtered (name contains \"deploy\")",
            "/admin/tokens?tab=api&q=deploy".to_owned(),
            true,
        ),
        (
            "display prefix (q=tsra_XXXX)",
            format!("/admin/tokens?tab=api&q={prefix}"),
            true,
        ),
        (
            "rare name (one old token's name)",
            format!("/admin/tokens?tab=api&q={}", rare_name.replace(' ', "+")),
            false,
        ),
        (
            "name that matches nothing",
            "/admin/tokens?tab=api&q=no-such-token-name".to_owned(),
            false,
        ),
        (
            "page 10,000",
            format!("/admin/tokens?tab=api&after={deep_cursor}"),
            true,
        ),
        (
            "sessions tab, sorted by last used",
            "/admin/tokens?tab=sessions&sort=last_used".to_owned(),
            true,
        ),
        // The other directions, on the same indexes read backwards.
        (
            "oldest first (sort=created_asc)",
            "/admin/tokens?tab=api&sort=created_asc".to_owned(),
            true,
        ),
        (
            "page 10,000, oldest first",
            format!("/admin/tokens?tab=api&sort=created_asc&after={deep_cursor_oldest}"),
            true,
        ),
        (
            "expiring last (sort=expires_desc)",
            "/admin/tokens?tab=api&sort=expires_desc".to_owned(),
            true,
        ),
        (
            "least recently used (sort=last_used_asc)",
            "/admin/tokens?tab=api&sort=last_used_asc".to_owned(),
            true,
        ),
        (
            "name \"deploy\", least recently used first",
            "/admin/tokens?tab=api&q=deploy&sort=last_used_asc".to_owned(),
            true,
        ),
        (
            "sessions tab, least recently active first",
            "/admin/tokens?tab=sessions&sort=last_used_asc".to_owned(),
            true,
        ),
        (
            "sessions tab, expiring first",
            "/admin/tokens?tab=sessions&sort=expires".to_owned(),
            true,
        ),
        // "« Previous page": the same orders read the other way.
        (
            "previous page from page 10,000 (before=)",
            format!("/admin/tokens?tab=api&before={deep_cursor}&to=499950"),
            true,
        ),
        (
            "previous page from page 10,000, oldest first",
            format!("/admin/tokens?tab=api&sort=created_asc&before={deep_cursor_oldest}"),
            true,
        ),
        (
            "name \"deploy\", previous page from page 10,000",
            format!("/admin/tokens?tab=api&q=deploy&before={deep_cursor}"),
            false,
        ),
        // The user filter: part of a username, display name or email.
        (
            "user contains \"-004217\" (one user)",
            "/admin/tokens?tab=api&user=-004217".to_owned(),
            false,
        ),
        (
            "user contains \"lovelace\" (one user in twelve)",
            "/admin/tokens?tab=api&user=lovelace".to_owned(),
            true,
        ),
    ];
    for (label, path, lists_rows) in &pages {
        let mut times = Vec::with_capacity(RUNS);
        for _ in 0..RUNS {
            let res = client.get(format!("{base}{path}")).send().await?;
            anyhow::ensure!(res.status() == 200, "{path}: {}", res.status());
            times.push(server_ms(&res));
            let body = res.text().await?;
            anyhow::ensure!(
                body.contains("data-token-id") || !*lists_rows,
                "{path} listed no rows"
            );
        }
        println!("  {label:<45} {:>8.2} ms", median(times));
    }

    println!(
        "\nBulk revoke through POST /admin/tokens/bulk-revoke/confirm, server-side median of 5:"
    );
    let page = client
        .get(format!("{base}/admin/tokens?tab=api"))
        .send()
        .await?
        .text()
        .await?;
    let csrf = csrf_in(&page);
    for size in [1_000usize, 10_000] {
        let mut times = Vec::new();
        for _ in 0..5 {
            let ids: Vec<i64> = {
                let mut conn = pool.get()?;
                t::tokens
                    .filter(t::revoked_at.is_null())
                    .order(t::id.desc())
                    .limit(size as i64)
                    .select(t::id)
                    .load(&mut conn)?
            };
            let mut form: Vec<(&str, String)> =
                ids.iter().map(|id| ("ids", id.to_string())).collect();
            form.push(("csrf_token", csrf.clone()));
            form.push(("tab", "api".into()));
            let res = client
                .post(format!("{base}/admin/tokens/bulk-revoke/confirm"))
                .form(&form)
                .send()
                .await?;
            anyhow::ensure!(res.status() == 303, "bulk revoke: {}", res.status());
            times.push(server_ms(&res));
        }
        println!("  {size:>6} tokens {:>37.1} ms", median(times));
    }
    handle.stop(true).await;
    Ok(())
}
