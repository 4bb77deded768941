//! Email over SMTP (`TESSERA_SMTP_URL`, `TESSERA_MAIL_FROM`): the transport and
//! the one job that sends a message.
//!
//! `smtp://host:port` talks plain SMTP (a relay on the same host or network),
//! `smtp://host:port?tls=starttls` requires STARTTLS, `smtps://host:port`
//! speaks TLS from the first byte; `user:password@` in the URL logs in. TLS
//! goes through rustls and trusts the system's CA certificates. The URL's
//! password never appears in a log line or an error.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context as _, bail};
use lettre::message::header::ContentType;
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{Message, SmtpTransport, Transport as _};
use serde::{Deserialize, Serialize};

use crate::jobs::{JobError, JobResult, Runtime};

/// A message ready to send: the job stores it as it was rendered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutgoingEmail {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// How the connection to the server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// Plain SMTP.
    None,
    /// STARTTLS, required (never sent in clear if the server does not offer it).
    StartTls,
    /// TLS from the start (`smtps://`).
    Implicit,
}

/// `TESSERA_SMTP_URL` taken apart. `Debug` leaves the password out.
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpUrl {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub user: Option<String>,
    password: Option<String>,
}

impl std::fmt::Debug for SmtpUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpUrl")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

impl SmtpUrl {
    /// Reads an SMTP URL; the error never repeats the URL (it may hold a password).
    pub fn parse(raw: &str) -> anyhow::Result<Self> {
        let url = url::Url::parse(raw.trim()).map_err(|e| {
            anyhow::anyhow!(
                "TESSERA_SMTP_URL is not a URL ({e}): write smtp://host:port, \
                 smtp://host:port?tls=starttls or smtps://host:port"
            )
        })?;
        let mut security = match url.scheme() {
            "smtp" => Security::None,
            "smtps" => Security::Implicit,
            other => bail!(
                "TESSERA_SMTP_URL: the scheme {other:?} is not smtp or smtps \
                 (smtp://host:port, smtp://host:port?tls=starttls, smtps://host:port)"
            ),
        };
        for (key, value) in url.query_pairs() {
            match (key.as_ref(), value.as_ref()) {
                ("tls", "starttls" | "required") if security == Security::None => {
                    security = Security::StartTls;
                }
                ("tls", "none") if security == Security::None => {}
                ("tls", _) => bail!(
                    "TESSERA_SMTP_URL: tls={value} is not understood here (smtp:// takes \
                     ?tls=starttls; smtps:// is TLS already)"
                ),
                _ => bail!("TESSERA_SMTP_URL: unknown parameter {key:?} (only tls=starttls)"),
            }
        }
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .context("TESSERA_SMTP_URL names no host")?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = url.port().unwrap_or(match security {
            Security::None => 25,
            Security::StartTls => 587,
            Security::Implicit => 465,
        });
        let decode = |s: &str| {
            percent_decode(s).context("TESSERA_SMTP_URL: the user or password is badly escaped")
        };
        let user = Some(url.username())
            .filter(|u| !u.is_empty())
            .map(decode)
            .transpose()?;
        let password = url.password().map(decode).transpose()?;
        if password.is_some() && user.is_none() {
            bail!("TESSERA_SMTP_URL has a password but no user name");
        }
        Ok(Self {
            host,
            port,
            security,
            user,
            password,
        })
    }
}

fn percent_decode(s: &str) -> anyhow::Result<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3).context("a % without two hex digits")?;
            out.push(u8::from_str_radix(hex, 16)?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Ok(String::from_utf8(out)?)
}

/// The SMTP transport and the sender address.
pub struct Mailer {
    transport: SmtpTransport,
    from: Mailbox,
    host: String,
}

impl Mailer {
    /// The mailer `TESSERA_SMTP_URL` and `TESSERA_MAIL_FROM` describe, if set;
    /// an error if they are set but wrong, or only one of them is.
    pub fn from_config(config: &crate::config::Config) -> anyhow::Result<Option<Self>> {
        let url = config.smtp_url.as_deref().filter(|u| !u.trim().is_empty());
        let from = config.mail_from.as_deref().filter(|f| !f.trim().is_empty());
        match (url, from) {
            (None, None) => Ok(None),
            (Some(_), None) => bail!(
                "TESSERA_SMTP_URL is set but TESSERA_MAIL_FROM is not: set both to send \
                 email (e.g. TESSERA_MAIL_FROM=\"Tessera <tessera@example.com>\"), or neither"
            ),
            (None, Some(_)) => bail!(
                "TESSERA_MAIL_FROM is set but TESSERA_SMTP_URL is not: set both to send \
                 email (e.g. TESSERA_SMTP_URL=smtp://mail.example.com:587?tls=starttls), or neither"
            ),
            (Some(url), Some(from)) => {
                let mailer =
                    Self::new(&SmtpUrl::parse(url)?, from, config.smtp_ca_file.as_deref())?;
                Ok(Some(mailer))
            }
        }
    }

    /// The mailer for `url`, sending as `from`; TLS trusts the system's CA
    /// certificates and those in `ca_file`.
    pub fn new(url: &SmtpUrl, from: &str, ca_file: Option<&Path>) -> anyhow::Result<Self> {
        let from: Mailbox = from.trim().parse().map_err(|e| {
            anyhow::anyhow!(
                "TESSERA_MAIL_FROM {from:?} is not an address ({e}): write \
                 tessera@example.com or \"Tessera <tessera@example.com>\""
            )
        })?;
        let extra_roots = ca_file
            .map(|path| {
                let pem = std::fs::read(path).with_context(|| {
                    format!("cannot read TESSERA_SMTP_CA_FILE {}", path.display())
                })?;
                Certificate::from_pem(&pem).map_err(|e| {
                    anyhow::anyhow!(
                        "TESSERA_SMTP_CA_FILE {} holds no PEM certificate: {e}",
                        path.display()
                    )
                })
            })
            .transpose()?;
        let tls = || {
            let mut params = TlsParameters::builder(url.host.clone());
            if let Some(roots) = &extra_roots {
                params = params.add_root_certificate(roots.clone());
            }
            params
                .build_rustls()
                .with_context(|| format!("cannot set up TLS for the SMTP server {}", url.host))
        };
        let tls = match url.security {
            Security::None => Tls::None,
            Security::StartTls => Tls::Required(tls()?),
            Security::Implicit => Tls::Wrapper(tls()?),
        };
        let mut builder = SmtpTransport::builder_dangerous(url.host.as_str())
            .port(url.port)
            .tls(tls)
            .timeout(Some(Duration::from_secs(30)));
        if let Some(user) = &url.user {
            builder = builder.credentials(Credentials::new(
                user.clone(),
                url.password.clone().unwrap_or_default(),
            ));
        }
        tracing::info!(
            host = %url.host,
            port = url.port,
            security = ?url.security,
            from = %from,
            "email goes out through this SMTP server"
        );
        Ok(Self {
            transport: builder.build(),
            from,
            host: url.host.clone(),
        })
    }

    /// The server's host name (what the admin pages show; never the password).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The message for `email`: multipart/alternative (plain text, HTML), with
    /// a Message-ID on the public URL's host and the date `at`.
    pub fn message(
        &self,
        email: &OutgoingEmail,
        at: chrono::NaiveDateTime,
        public_url: &str,
    ) -> Result<Message, String> {
        let to: Mailbox = email
            .to
            .parse()
            .map_err(|e| format!("the address {:?} is not valid: {e}", email.to))?;
        let domain = url::Url::parse(public_url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_else(|| "tessera.invalid".to_owned());
        let date = std::time::SystemTime::UNIX_EPOCH
            + Duration::from_secs(u64::try_from(at.and_utc().timestamp()).unwrap_or(0));
        Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(email.subject.clone())
            .date(date)
            .message_id(Some(format!("<{}@{domain}>", uuid::Uuid::new_v4())))
            .multipart(
                MultiPart::alternative()
                    .singlepart(
                        SinglePart::builder()
                            .header(ContentType::TEXT_PLAIN)
                            .body(email.text.clone()),
                    )
                    .singlepart(
                        SinglePart::builder()
                            .header(ContentType::TEXT_HTML)
                            .body(email.html.clone()),
                    ),
            )
            .map_err(|e| format!("cannot build the message: {e}"))
    }
}

/// SMTP replies that refuse the recipient for good: no retry can help.
fn refuses_recipient(error: &lettre::transport::smtp::Error) -> bool {
    error.is_permanent()
        && error.status().is_some_and(|code| {
            matches!(
                code.to_string().as_str(),
                "501" | "550" | "551" | "552" | "553"
            )
        })
}

/// The `email` job: sends one message. Without a mailer (email was turned
/// off since it was queued) it is dropped; an SMTP failure is retried with
/// the default backoff; a recipient the server refuses is given up.
pub fn send(runtime: &Runtime, email: &OutgoingEmail) -> JobResult {
    let Some(mailer) = &runtime.mailer else {
        tracing::debug!("email is off: a queued message is dropped");
        return Ok(());
    };
    let message = mailer
        .message(email, runtime.clock.now(), &runtime.public_url)
        .map_err(JobError::GiveUp)?;
    match mailer.transport.send(&message) {
        Ok(_) => {
            tracing::info!(subject = %email.subject, "email sent");
            Ok(())
        }
        Err(error) if refuses_recipient(&error) => Err(JobError::GiveUp(format!(
            "the SMTP server refused the message: {error}"
        ))),
        Err(error) => Err(JobError::Retry {
            after: None,
            error: format!("cannot send through the SMTP server: {error}"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_starttls_and_implicit_tls_urls_read() {
        let plain = SmtpUrl::parse("smtp://127.0.0.1:2525").unwrap();
        assert_eq!(
            (plain.host.as_str(), plain.port, plain.security),
            ("127.0.0.1", 2525, Security::None)
        );
        let starttls = SmtpUrl::parse("smtp://mail.example.com?tls=starttls").unwrap();
        assert_eq!(
            (starttls.port, starttls.security),
            (587, Security::StartTls)
        );
        let implicit = SmtpUrl::parse("smtps://u%40x:p%3Ass@mail.example.com").unwrap();
        assert_eq!(
            (implicit.port, implicit.security),
            (465, Security::Implicit)
        );
        assert_eq!(implicit.user.as_deref(), Some("u@x"));
        assert_eq!(implicit.password.as_deref(), Some("p:ss"));
    }

    #[test]
    fn bad_urls_are_refused_without_repeating_the_password() {
        for bad in [
            "http://mail.example.com",
            "smtp://user:hunter2secret@mail.example.com?tls=maybe",
            "smtps://user:hunter2secret@mail.example.com?tls=starttls",
            "smtp://user:hunter2secret@mail.example.com?cert=x",
            "smtp://:hunter2secret@mail.example.com",
            "not a url hunter2secret",
        ] {
            let error = format!("{:#}", SmtpUrl::parse(bad).unwrap_err());
            assert!(!error.contains("hunter2secret"), "{bad}: {error}");
        }
    }

    #[test]
    fn debug_leaves_the_password_out() {
        let url = SmtpUrl::parse("smtp://user:hunter2secret@mail.example.com").unwrap();
        assert!(!format!("{url:?}").contains("hunter2secret"));
    }
}
