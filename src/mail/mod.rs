//! Email over SMTP (`TESSERA_SMTP_URL`, `TESSERA_MAIL_FROM`): the transport and
//! the one job that sends a message.

use serde::{Deserialize, Serialize};

use crate::jobs::{JobResult, Runtime};

/// A message ready to send: the job stores it as it was rendered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutgoingEmail {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// The SMTP transport and the sender address.
pub struct Mailer {}

impl Mailer {
    /// The mailer `TESSERA_SMTP_URL` and `TESSERA_MAIL_FROM` describe, if set;
    /// an error if they are set but wrong.
    pub fn from_config(config: &crate::config::Config) -> anyhow::Result<Option<Self>> {
        let _ = config;
        Ok(None)
    }
}

/// The `email` job: sends one message.
pub fn send(runtime: &Runtime, email: &OutgoingEmail) -> JobResult {
    let _ = (runtime, email);
    Ok(())
}
