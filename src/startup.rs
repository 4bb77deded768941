//! `Application`: connects the database, binds the listener (port 0 in tests) and
//! wires every middleware and the route table.

use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::Arc;

use actix_session::SessionMiddleware;
use actix_session::config::{BrowserSession, TtlExtensionPolicy};
use actix_web::cookie::{Key, SameSite};
use actix_web::dev::Server;
use actix_web::http::header;
use actix_web::middleware::{DefaultHeaders, from_fn};
use actix_web::{App, HttpServer, web};
use anyhow::Context as _;
use base64::Engine as _;

use crate::auth::gate::{FORM_LIMIT, gate};
use crate::auth::password::Hasher;
use crate::auth::random_urlsafe;
use crate::auth::session_store::DbSessionStore;
use crate::clock::Clock;
use crate::config::Config;
use crate::db::health::DbHealth;
use crate::db::{self, DatabaseUrl, DbPool, settings};
use crate::domain::origin::PublicUrl;
use crate::domain::rate_limit::FailureLimiter;
use crate::error::{AppError, plain_errors};
use crate::metrics::TokenCounts;
use crate::routes;
use crate::sealing::Sealer;
use crate::state::AppState;
use crate::telemetry::{RequestSpan, request_timing};
use crate::tokens::Issuer;
use crate::tokens::cache::TokenCache;
use crate::tokens::epoch::EpochReader;
use crate::tokens::last_used::LastUseBuffer;

/// Name of the session cookie when it is not Secure (plain HTTP on loopback).
pub const SESSION_COOKIE: &str = "tessera_session";

/// Name of the Secure session cookie. Browsers keep a `__Host-` cookie only if
/// it is Secure, has `Path=/` and no `Domain`: so no sibling subdomain and no
/// plain-HTTP page can plant or shadow the session.
pub const SECURE_SESSION_COOKIE: &str = "__Host-tessera_session";

/// The session cookie's name, whether cookies are Secure or not.
pub fn session_cookie_name(secure: bool) -> &'static str {
    if secure {
        SECURE_SESSION_COOKIE
    } else {
        SESSION_COOKIE
    }
}

/// Sent on every response when cookies are Secure (so the deployment is
/// reached over HTTPS): a year, the minimum browsers' preload lists accept.
/// No `includeSubDomains`: other hosts under the same domain are not ours to
/// decide for.
pub const STRICT_TRANSPORT_SECURITY: &str = "max-age=31536000";

const CONTENT_SECURITY_POLICY: &str =
    "default-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

/// The headers every response carries (unless a handler set its own).
fn security_headers(secure: bool) -> DefaultHeaders {
    let headers = DefaultHeaders::new()
        .add((header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY))
        .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .add((header::REFERRER_POLICY, "same-origin"))
        .add((header::X_FRAME_OPTIONS, "DENY"));
    if secure {
        headers.add((header::STRICT_TRANSPORT_SECURITY, STRICT_TRANSPORT_SECURITY))
    } else {
        headers
    }
}

pub struct Application {
    port: u16,
    listening_origin: String,
    server: Server,
    state: AppState,
    setup_code: Option<String>,
    _serve_lock: Option<db::ServeLock>,
}

impl Application {
    pub async fn build(config: &Config) -> anyhow::Result<Self> {
        let url = DatabaseUrl::parse(&config.database_url())?;
        tracing::info!(database = %url.redacted(), "connecting to the database");
        let probe_url = url.clone();
        let pool_size = config.db_pool_size;
        let db_health = Arc::new(DbHealth::default());
        let pool_health = db_health.clone();
        let (pool, cookie_key, setup_code, serve_lock) =
            web::block(move || -> anyhow::Result<_> {
                // Connect first, so that a database that cannot be opened says so in
                // its own words; then make sure no other server owns a SQLite file.
                let pool = db::connect_and_migrate_watched(&url, pool_size, pool_health)?;
                let serve_lock = url.lock_for_serving()?;
                let mut conn = pool.get()?;
                let cookie_key = settings::cookie_key_or_init(&mut conn, &random_urlsafe(64))?;
                let setup_code = routes::prepare_setup_code(&mut conn)?;
                Ok((pool, cookie_key, setup_code, serve_lock))
            })
            .await??;
        let cookie_key = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(cookie_key)
            .ok()
            .filter(|bytes| bytes.len() >= 64)
            .context("the stored cookie key is malformed")?;
        let cookie_key = Key::from(&cookie_key);

        let sealer = open_sealer(config)?;
        let (memory, iterations) = (config.argon2_memory_kib, config.argon2_iterations);
        let hasher = web::block(move || Hasher::new(memory, iterations)).await??;
        let listener = TcpListener::bind(&config.bind)
            .with_context(|| format!("cannot listen on {}", config.bind))?;
        let port = listener.local_addr()?.port();
        let listening_origin = derived_public_url(&config.bind, port);
        let public_url = if let Some(url) = &config.public_url {
            tracing::info!(public_url = %url, "absolute links start with the configured public URL");
            url.as_str().to_owned()
        } else {
            tracing::warn!(
                public_url = %listening_origin,
                "no public URL configured (TESSERA_PUBLIC_URL): absolute links start with \
                 this one, derived from the bind address; behind a proxy, set it"
            );
            listening_origin.clone()
        };
        if config.cookie_secure() && !public_url.starts_with("https://") {
            // A browser keeps a Secure cookie but never sends it back over plain
            // HTTP: every sign-in would seem to work and then forget the user.
            tracing::warn!(
                %public_url,
                "the session cookie is Secure (TESSERA_COOKIE_SECURE, or auto with a \
                 non-loopback bind address) but the public URL is not https: browsers will \
                 not send it back, so nobody stays signed in; serve Tessera behind TLS and \
                 set TESSERA_PUBLIC_URL=https://..., or set TESSERA_COOKIE_SECURE=false to try \
                 it over plain HTTP"
            );
        }
        if !config.trusted_proxies.is_empty() {
            tracing::info!(
                trusted_proxies = %config.trusted_proxies,
                "the client address and scheme come from these proxies' forwarding headers"
            );
        } else if public_url.starts_with("https://") {
            // TLS ends in front of us, so a proxy does: unless it is trusted,
            // every client shares its address for throttling and audit rows.
            tracing::warn!(
                "the public URL is https, so a reverse proxy stands in front, but \
                 TESSERA_TRUSTED_PROXIES is empty: every client seems to come from the \
                 proxy's address (throttling, audit, logs); list the proxy's address there"
            );
        }
        let issuer = Arc::new(Issuer {
            prefix: config.token_prefix.clone(),
            sealer,
        });
        let clock = Clock::default();
        let public_url: Arc<str> = Arc::from(public_url);
        let mailer = crate::mail::Mailer::from_config(config)?.map(Arc::new);
        if mailer.is_none() {
            tracing::info!("no email is sent: TESSERA_SMTP_URL and TESSERA_MAIL_FROM are not set");
        }
        let mail_server: Option<Arc<str>> = mailer.as_ref().map(|m| Arc::from(m.host()));
        let jobs = {
            let runtime = crate::jobs::Runtime {
                pool: pool.clone(),
                clock: clock.clone(),
                db_health: db_health.clone(),
                public_url: public_url.clone(),
                issuer: issuer.clone(),
                mailer,
                webhooks_allow_private: config.webhooks_allow_private,
                instance: crate::jobs::instance_name(),
                config: crate::jobs::RunnerConfig {
                    workers: config.job_workers,
                    lease: config.job_lease,
                    poll: config.job_poll_interval,
                },
            };
            web::block(move || crate::jobs::start(runtime)).await??
        };
        let state = AppState {
            pool: pool.clone(),
            hasher,
            issuer: issuer.clone(),
            api_failures: Arc::new(FailureLimiter::new(config.api_failures_per_minute)),
            token_cache: Arc::new(TokenCache::default()),
            epoch: Arc::new(
                EpochReader::spawn(probe_url.clone())
                    .context("cannot start the validity-epoch reader")?,
            ),
            last_used: Arc::new(LastUseBuffer::default()),
            db_health,
            public_url,
            public_origin: config.public_url.as_ref().and_then(PublicUrl::own),
            trusted_proxies: Arc::new(config.trusted_proxies.clone()),
            metrics_require_token: config.metrics_require_token,
            token_counts: Arc::new(TokenCounts::new(config.metrics_token_count_ttl)),
            clock: clock.clone(),
            webhooks_allow_private: config.webhooks_allow_private,
            jobs: Arc::new(jobs),
            mail_server,
        };
        crate::background::spawn(&state, probe_url, config.last_use_flush_interval);

        let store = DbSessionStore::new(
            pool.clone(),
            state.db_health.clone(),
            config.session_idle_timeout,
            config.session_absolute_timeout,
            state.clock.clone(),
        );
        let idle = actix_web::cookie::time::Duration::try_from(config.session_idle_timeout)
            .context("session idle timeout out of range")?;
        let secure = config.cookie_secure();
        let static_dir: Option<PathBuf> = config.static_dir.clone();
        let workers = config
            .workers
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, usize::from));

        let app_state = state.clone();
        let server = HttpServer::new(move || {
            let sessions = SessionMiddleware::builder(store.clone(), cookie_key.clone())
                .cookie_name(session_cookie_name(secure).to_owned())
                .cookie_secure(secure)
                .cookie_path("/".to_owned())
                .cookie_domain(None)
                .cookie_http_only(true)
                .cookie_same_site(SameSite::Lax)
                .session_lifecycle(
                    BrowserSession::default()
                        .state_ttl(idle)
                        .state_ttl_extension_policy(TtlExtensionPolicy::OnStateChanges),
                )
                .build();
            App::new()
                .wrap(from_fn(gate))
                .wrap(sessions)
                .wrap(from_fn(plain_errors))
                .wrap(security_headers(secure))
                .wrap(from_fn(request_timing))
                .wrap(tracing_actix_web::TracingLogger::<RequestSpan>::new())
                .app_data(web::Data::new(app_state.clone()))
                .app_data(web::PayloadConfig::new(FORM_LIMIT))
                .app_data(web::QueryConfig::default().error_handler(|_, _| {
                    AppError::BadRequest("The address has a malformed query string.".into()).into()
                }))
                // A path id that is no id (`/admin/users/abc`, or beyond i64): no
                // such page (actix's own answer is a plain-text parser message).
                .app_data(
                    web::PathConfig::default().error_handler(|_, _| AppError::NotFound.into()),
                )
                .configure(|cfg| routes::configure(cfg, static_dir.as_deref()))
                // Bodiless: `plain_errors` answers with a page, or JSON under /api/.
                .default_service(web::to(|| async {
                    actix_web::HttpResponse::NotFound().finish()
                }))
        })
        .workers(workers)
        .listen(listener)?
        .run();

        Ok(Self {
            port,
            listening_origin,
            server,
            state,
            setup_code,
            _serve_lock: serve_lock,
        })
    }

    /// `http://host:port` of the listener itself (`localhost` for a wildcard bind).
    pub fn listening_origin(&self) -> &str {
        &self.listening_origin
    }

    /// Where every absolute URL starts (configured, or derived from the bind address).
    pub fn public_url(&self) -> &str {
        &self.state.public_url
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The pool, for tests that arrange data through the db layer.
    pub fn pool(&self) -> DbPool {
        self.state.pool.clone()
    }

    /// The clock sessions and token uses go by, for a test to move forward.
    pub fn clock(&self) -> Clock {
        self.state.clock.clone()
    }

    /// The one-time setup code while no administrator exists.
    pub fn setup_code(&self) -> Option<&str> {
        self.setup_code.as_deref()
    }

    /// Serves until a signal: SIGTERM stops accepting connections and lets
    /// requests in flight finish (up to 30 s); SIGINT (Ctrl-C) and SIGQUIT stop
    /// at once. Either way the buffered last uses are written before exiting.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let served = self.server.await;
        let state = self.state;
        let flushed = web::block(move || state.last_used.flush_with(&state.pool)).await;
        if flushed.is_err() {
            tracing::error!("cannot write the last use of tokens at shutdown");
        }
        tracing::info!("Tessera stopped");
        served
    }

    /// The server future, for callers that keep its handle (tests stop it).
    pub fn into_server(self) -> Server {
        self.server
    }
}

/// The public URL of a server bound to `bind` (on `port`) when none is
/// configured: plain HTTP to the bound host, `localhost` for a wildcard.
/// The key that seals the kept copies of secrets (Show): the configured file,
/// else (SQLite) one beside the database; on PostgreSQL without a file, none,
/// and start-up says what that means.
pub fn open_sealer(config: &Config) -> anyhow::Result<Sealer> {
    let url = DatabaseUrl::parse(&config.database_url())?;
    let Some(path) = config
        .secret_key_file
        .clone()
        .or_else(|| url.default_key_file())
    else {
        tracing::warn!(
            "no secret key file (TESSERA_SECRET_KEY_FILE): client and API-token secrets are \
             not kept, so Show is unavailable; give every instance the same key file to \
             turn it on"
        );
        return Ok(Sealer::none());
    };
    let sealer = Sealer::open_or_create(&path)?;
    tracing::info!(path = %path.display(), "kept secrets are sealed with the key in this file");
    Ok(sealer)
}

fn derived_public_url(bind: &str, port: u16) -> String {
    let host = bind
        .rsplit_once(':')
        .map_or("127.0.0.1", |(host, _)| match host {
            "0.0.0.0" | "[::]" => "localhost",
            host => host,
        });
    format!("http://{host}:{port}")
}
