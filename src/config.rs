//! Settings from command-line flags and `TESSERA_*` environment variables.
//!
//! `Config` deliberately has no `Debug`: the database URL may carry a password.
//! Use [`Config::database_url`] and [`crate::db::DatabaseUrl::redacted`] to log it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::domain::origin::PublicUrl;
use crate::domain::proxy::TrustedProxies;
use clap::{Args, ValueEnum};

/// Settings shared by every subcommand.
#[derive(Args, Clone)]
pub struct Config {
    /// Database URL: sqlite://path/to/file.db or postgres://user:pass@host/db.
    /// Falls back to DATABASE_URL, then to sqlite://tessera.db.
    #[arg(
        long,
        env = "TESSERA_DATABASE_URL",
        global = true,
        hide_env_values = true
    )]
    pub database_url: Option<String>,

    /// Address and port the web server listens on.
    #[arg(
        long,
        env = "TESSERA_BIND",
        default_value = "127.0.0.1:8080",
        global = true
    )]
    pub bind: String,

    /// The address people and integrations reach Tessera at (https://host[:port][/path]),
    /// the one source of every absolute URL it prints or shows. Without it, one is
    /// derived from the bind address (and start-up says so); never from request headers.
    #[arg(long, env = "TESSERA_PUBLIC_URL", value_parser = PublicUrl::parse, global = true)]
    pub public_url: Option<PublicUrl>,

    /// Reverse proxies (comma-separated addresses or CIDRs) whose X-Forwarded-For,
    /// Forwarded and X-Forwarded-Proto headers are believed: the client is then the
    /// right-most forwarded address that is not one of them. Empty: the TCP peer.
    #[arg(long, env = "TESSERA_TRUSTED_PROXIES", value_parser = TrustedProxies::parse, default_value = "", global = true)]
    pub trusted_proxies: TrustedProxies,

    /// Marker at the start of every token this deployment issues (e.g. tsr → tsrp_…):
    /// 1 to 16 lower-case letters and digits.
    #[arg(
        long,
        env = "TESSERA_TOKEN_PREFIX",
        default_value = "tsr",
        value_parser = parse_token_prefix,
        global = true
    )]
    pub token_prefix: String,

    /// Mark the session cookie Secure: auto = yes unless bound to a loopback address.
    #[arg(long, env = "TESSERA_COOKIE_SECURE", value_enum, default_value_t = CookieSecure::Auto, global = true)]
    pub cookie_secure: CookieSecure,

    /// Log filter, e.g. info, or tessera=debug,actix_web=info.
    #[arg(long, env = "TESSERA_LOG", default_value = "info", global = true)]
    pub log: String,

    /// Log line format.
    #[arg(long, env = "TESSERA_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,

    /// A web session ends after this long without a request (e.g. 30m).
    #[arg(long, env = "TESSERA_SESSION_IDLE_TIMEOUT", default_value = "30m", value_parser = humantime::parse_duration, global = true)]
    pub session_idle_timeout: Duration,

    /// A web session ends this long after sign-in, however active (e.g. 12h).
    #[arg(long, env = "TESSERA_SESSION_ABSOLUTE_TIMEOUT", default_value = "12h", value_parser = humantime::parse_duration, global = true)]
    pub session_absolute_timeout: Duration,

    /// Argon2id memory cost in KiB for new password hashes (OWASP minimum: 19456).
    /// Lower values are for test suites only.
    #[arg(
        long,
        env = "TESSERA_ARGON2_MEMORY_KIB",
        default_value_t = 19456,
        global = true
    )]
    pub argon2_memory_kib: u32,

    /// Argon2id iterations for new password hashes (OWASP minimum with 19 MiB: 2).
    #[arg(
        long,
        env = "TESSERA_ARGON2_ITERATIONS",
        default_value_t = 2,
        global = true
    )]
    pub argon2_iterations: u32,

    /// Failed API authentications allowed per client address and minute before
    /// further API requests from it get 429.
    #[arg(
        long,
        env = "TESSERA_API_FAILURES_PER_MINUTE",
        default_value_t = 100,
        global = true
    )]
    pub api_failures_per_minute: u32,

    /// How often the last use of tokens (kept in memory meanwhile) is written to
    /// the database; a graceful shutdown writes what is pending.
    #[arg(long, env = "TESSERA_LAST_USE_FLUSH_INTERVAL", default_value = "1s", value_parser = humantime::parse_duration, global = true)]
    pub last_use_flush_interval: Duration,

    /// Database connections per instance.
    #[arg(
        long,
        env = "TESSERA_DB_POOL_SIZE",
        default_value_t = 10,
        global = true
    )]
    pub db_pool_size: u32,

    /// HTTP worker threads (default: one per core).
    #[arg(long, env = "TESSERA_WORKERS", global = true)]
    pub workers: Option<usize>,

    /// Serve /static/ from this folder (a restyled copy of static/) instead of
    /// the stylesheet, script and icon built into the binary.
    #[arg(long, env = "TESSERA_STATIC_DIR", global = true)]
    pub static_dir: Option<PathBuf>,

    /// Answer /metrics only to a bearer token with the `metrics` scope
    /// (401 without a valid token, 403 without the scope).
    #[arg(
        long,
        env = "TESSERA_METRICS_REQUIRE_TOKEN",
        default_value_t = false,
        action = clap::ArgAction::Set,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        global = true
    )]
    pub metrics_require_token: bool,

    /// How long /metrics keeps the token counts (one pass over the tokens
    /// table) before counting again; scrapes meanwhile share them (e.g. 15s).
    #[arg(long, env = "TESSERA_METRICS_TOKEN_COUNT_TTL", default_value = "15s", value_parser = humantime::parse_duration, global = true)]
    pub metrics_token_count_ttl: Duration,

    /// The file of the key that seals the kept copies of client and API-token
    /// secrets (Show); created, mode 0600, if missing. Default on SQLite: the
    /// database file's name plus `.key`, beside it. On PostgreSQL there is no
    /// default: without it no secret is kept and Show is unavailable; several
    /// instances share one file. Never put it in the database's backups.
    #[arg(long, env = "TESSERA_SECRET_KEY_FILE", global = true)]
    pub secret_key_file: Option<PathBuf>,

    /// Where email goes out: smtp://host:port (plain, or STARTTLS with
    /// ?tls=starttls), smtps://host:port (implicit TLS); user and password in
    /// the URL when the server wants them. Without it no email is sent and the
    /// admin pages say so.
    #[arg(long, env = "TESSERA_SMTP_URL", global = true, hide_env_values = true)]
    pub smtp_url: Option<String>,

    /// The From address of every message, e.g. "Tessera <tessera@example.com>".
    #[arg(long, env = "TESSERA_MAIL_FROM", global = true)]
    pub mail_from: Option<String>,

    /// CA certificates (a PEM file) to trust for the SMTP server's TLS besides
    /// the system's: for a relay whose certificate an organisation's own CA
    /// signed.
    #[arg(long, env = "TESSERA_SMTP_CA_FILE", global = true)]
    pub smtp_ca_file: Option<PathBuf>,

    /// Allow webhook endpoints on loopback, private and link-local addresses
    /// (refused by default: they would let an administrator reach internal
    /// services from this server).
    #[arg(
        long,
        env = "TESSERA_WEBHOOKS_ALLOW_PRIVATE",
        default_value_t = false,
        action = clap::ArgAction::Set,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        global = true
    )]
    pub webhooks_allow_private: bool,

    /// Background job workers per instance.
    #[arg(long, env = "TESSERA_JOB_WORKERS", default_value_t = 2, global = true)]
    pub job_workers: usize,

    /// How long a job an instance claimed is its own: if the instance dies, another
    /// takes the job up this long after it was claimed. Keep it well above the
    /// longest job (a webhook delivery waits up to 5 s), or a slow one may run twice.
    #[arg(long, env = "TESSERA_JOB_LEASE", default_value = "60s", value_parser = humantime::parse_duration, global = true)]
    pub job_lease: Duration,

    /// How often an idle job worker looks for due jobs.
    #[arg(long, env = "TESSERA_JOB_POLL_INTERVAL", default_value = "1s", value_parser = humantime::parse_duration, global = true)]
    pub job_poll_interval: Duration,
}

/// A token prefix that tokens can be parsed back with (see
/// [`crate::domain::token::check_prefix`]); refused at start-up otherwise.
fn parse_token_prefix(prefix: &str) -> Result<String, String> {
    crate::domain::token::check_prefix(prefix)
        .map(|()| prefix.to_owned())
        .map_err(str::to_owned)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CookieSecure {
    Auto,
    True,
    False,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

impl Config {
    /// The database URL from the flag, `TESSERA_DATABASE_URL`, `DATABASE_URL`, or the default.
    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .or_else(|| std::env::var("DATABASE_URL").ok().filter(|v| !v.is_empty()))
            .unwrap_or_else(|| "sqlite://tessera.db".to_owned())
    }

    /// Whether the session cookie carries `Secure`.
    pub fn cookie_secure(&self) -> bool {
        match self.cookie_secure {
            CookieSecure::True => true,
            CookieSecure::False => false,
            CookieSecure::Auto => !self.bind.parse::<SocketAddr>().map_or_else(
                |_| self.bind.starts_with("localhost:"),
                |addr| addr.ip().is_loopback(),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Flags {
        #[command(flatten)]
        config: Config,
    }

    fn config(args: &[&str]) -> Config {
        Flags::parse_from(std::iter::once("tessera").chain(args.iter().copied())).config
    }

    #[test]
    fn auto_marks_the_cookie_secure_unless_bound_to_loopback() {
        for (bind, secure) in [
            ("127.0.0.1:8080", false),
            ("127.0.0.2:8080", false),
            ("[::1]:8080", false),
            ("localhost:8080", false),
            ("0.0.0.0:8080", true),
            ("[::]:8080", true),
            ("203.0.113.7:443", true),
            ("[2001:db8::1]:443", true),
            ("tessera.example.com:443", true),
        ] {
            let auto = config(&["--bind", bind]);
            assert_eq!(
                auto.cookie_secure,
                CookieSecure::Auto,
                "auto is the default"
            );
            assert_eq!(auto.cookie_secure(), secure, "auto with {bind}");
            let explicit = config(&["--bind", bind, "--cookie-secure", "auto"]);
            assert_eq!(explicit.cookie_secure(), secure, "auto with {bind}");
        }
    }

    #[test]
    fn metrics_require_a_token_only_when_asked() {
        assert!(!config(&[]).metrics_require_token);
        assert!(config(&["--metrics-require-token"]).metrics_require_token);
        assert!(config(&["--metrics-require-token=true"]).metrics_require_token);
        assert!(!config(&["--metrics-require-token=false"]).metrics_require_token);
    }

    #[test]
    fn a_token_prefix_tokens_cannot_be_parsed_back_with_is_refused() {
        assert_eq!(config(&["--token-prefix", "acme2"]).token_prefix, "acme2");
        for bad in ["", "TSR", "ts_r", "ts-r", "abcdefghijklmnopq"] {
            let parsed = Flags::try_parse_from(["tessera", "--token-prefix", bad]);
            let Err(err) = parsed else {
                panic!("{bad:?} was accepted");
            };
            assert!(err.to_string().contains("token prefix"), "{bad:?}: {err}");
        }
    }

    #[test]
    fn true_and_false_override_the_bind_address() {
        for bind in ["127.0.0.1:8080", "localhost:8080", "0.0.0.0:8080"] {
            assert!(config(&["--bind", bind, "--cookie-secure", "true"]).cookie_secure());
            assert!(!config(&["--bind", bind, "--cookie-secure", "false"]).cookie_secure());
        }
    }
}
