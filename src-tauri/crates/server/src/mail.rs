//! Mail, when `DEVAUTH_SMTP_URL` is set: invitations and password reset
//! links are also sent to the person (plain text, through the operator's
//! SMTP server; lettre). The messages hold one-time links, so a failure is
//! logged without them, and nothing here is ever shown.

use crate::secret::Secret;
use lettre::message::{Mailbox, header::ContentType};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::time::Duration;

/// Sends mail through one SMTP server, from one address.
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may carry the SMTP password: only the sender is shown.
        f.debug_struct("Mailer").field("from", &self.from).finish()
    }
}

impl Mailer {
    /// A mailer for `url` (`smtp://host:port` with STARTTLS when offered,
    /// `smtps://` for TLS, `?tls=required`; credentials as `user:pass@`)
    /// sending from `from` (`devauth <devauth@example.com>`). The error
    /// names the setting, never the URL (it may hold a password).
    pub fn new(url: &Secret, from: &str) -> Result<Mailer, String> {
        let from: Mailbox = from
            .parse()
            .map_err(|err| format!("DEVAUTH_SMTP_FROM `{from}` is not an address: {err}"))?;
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose())
            .map_err(|err| format!("DEVAUTH_SMTP_URL is not usable: {err}"))?
            .timeout(Some(Duration::from_secs(10)))
            .build();
        Ok(Mailer { transport, from })
    }

    /// Sends one plain-text message; the error is for the log.
    pub async fn send(&self, to: &str, subject: &str, body: String) -> Result<(), String> {
        let to: Mailbox = to
            .parse()
            .map_err(|err| format!("the address is not usable: {err}"))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            .body(body)
            .map_err(|err| format!("the message could not be built: {err}"))?;
        self.transport
            .send(message)
            .await
            .map(|_| ())
            .map_err(|err| format!("the SMTP server did not take it: {err}"))
    }
}

/// Sends a message if mail is set up (`mailer`): whether it went. A failure
/// is logged (without the message) and the caller shows the link instead.
pub async fn send(mailer: Option<&Mailer>, to: &str, subject: &str, body: String) -> bool {
    let Some(mailer) = mailer else {
        return false;
    };
    match mailer.send(to, subject, body).await {
        Ok(()) => true,
        Err(err) => {
            tracing::warn!(target: "devauth::mail", "could not send “{subject}”: {err}");
            false
        }
    }
}
