//! The outbox worker (DESIGN §6): delivers the messages the executor queued, with retries and backoff.
//!
//! A worker claims one message at a time with a lease: one `UPDATE … WHERE state = 'queued' OR the lease ran
//! out`, which only one worker can win. It then sends through the channel and marks the message `sent` in one
//! transaction with its event. A worker that dies between the send and that transaction leaves the message
//! claimed; once the lease runs out the next worker sends it again, under the same Message-ID (fixed at the
//! first claim), so at most one copy is repeated per crash and a receiver can recognise it.
//!
//! Channels: `file` writes an `.eml` (the embedded default), `smtp` sends through lettre, `webhook` POSTs JSON
//! signed with HMAC-SHA256. In-app alerts are marked delivered without leaving the machine. A failure the channel
//! calls permanent (an SMTP 5xx, a webhook 4xx, an address that is not one) fails the message at once; anything
//! else is retried after `backoff_seconds × 4^(attempt − 1)`, at most six hours, up to `max_attempts`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use lettre::message::header::ContentType;
use lettre::message::{Mailbox, Message};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::config::{ChannelKind, DeliveryRules, WorkflowConfig};
use crate::error::CaseError;
use crate::store::{self, Store};

/// Where messages go.
pub enum Channel {
    /// `.eml` files in a folder.
    File(PathBuf),
    /// An SMTP server (the URL, with the password hidden, names it in errors).
    Smtp(Box<AsyncSmtpTransport<Tokio1Executor>>, String),
    /// A JSON POST.
    Webhook {
        /// Client with the configured timeout.
        client: reqwest::Client,
        /// Target.
        url: String,
        /// HMAC key from `$COBRO_WEBHOOK_SECRET`.
        secret: Option<Vec<u8>>,
    },
}

impl std::fmt::Debug for Channel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

/// A channel's settings given on the command line, over `[delivery]`.
#[derive(Debug, Clone, Default)]
pub struct ChannelOverride {
    /// `--channel`.
    pub channel: Option<ChannelKind>,
    /// `--outbox`.
    pub dir: Option<PathBuf>,
    /// `--smtp-url`.
    pub smtp_url: Option<String>,
    /// `--webhook-url`.
    pub webhook_url: Option<String>,
}

impl Channel {
    /// The channel `[delivery]` and the overrides name; relative folders are under `data_dir`.
    pub fn open(rules: &DeliveryRules, o: &ChannelOverride, data_dir: &Path) -> Result<Self, CaseError> {
        let timeout = Duration::from_secs(rules.timeout_seconds);
        let kind = o.channel.unwrap_or(rules.channel);
        match kind {
            ChannelKind::File => {
                let dir = o.dir.clone().unwrap_or_else(|| PathBuf::from(&rules.dir));
                Ok(Self::File(if dir.is_absolute() { dir } else { data_dir.join(dir) }))
            }
            ChannelKind::Smtp => {
                let url = o.smtp_url.clone().or_else(|| rules.smtp_url.clone()).ok_or_else(|| {
                    CaseError::invalid(
                        "[delivery] smtp_url",
                        "the smtp channel needs a server: set smtp_url in the workflow file or pass --smtp-url smtp://host:port",
                    )
                })?;
                let shown = crate::store::redact(&url);
                let mut b = AsyncSmtpTransport::<Tokio1Executor>::from_url(&url)
                    .map_err(|e| CaseError::invalid("--smtp-url", format!("`{shown}`: {e}")))?
                    .timeout(Some(timeout));
                if let Ok(password) = std::env::var("COBRO_SMTP_PASSWORD") {
                    // lettre reads user and password from the URL too; the environment's password wins.
                    let user = reqwest::Url::parse(&url).map(|u| u.username().to_owned()).unwrap_or_default();
                    b = b.credentials(Credentials::new(user, password));
                }
                Ok(Self::Smtp(Box::new(b.build()), shown))
            }
            ChannelKind::Webhook => {
                let url = o.webhook_url.clone().or_else(|| rules.webhook_url.clone()).ok_or_else(|| {
                    CaseError::invalid(
                        "[delivery] webhook_url",
                        "the webhook channel needs a URL: set webhook_url in the workflow file or pass --webhook-url",
                    )
                })?;
                reqwest::Url::parse(&url).map_err(|e| CaseError::invalid("--webhook-url", format!("`{url}`: {e}")))?;
                let client = reqwest::Client::builder()
                    .timeout(timeout)
                    .build()
                    .map_err(|e| CaseError::invalid("--webhook-url", e.to_string()))?;
                let secret = std::env::var("COBRO_WEBHOOK_SECRET").ok().map(String::into_bytes);
                Ok(Self::Webhook { client, url, secret })
            }
        }
    }

    /// `file:DIR`, `smtp:URL`, `webhook:URL`.
    pub fn describe(&self) -> String {
        match self {
            Self::File(d) => format!("file:{}", d.display()),
            Self::Smtp(_, u) => format!("smtp:{u}"),
            Self::Webhook { url, .. } => format!("webhook:{url}"),
        }
    }

    fn via(&self) -> &'static str {
        match self {
            Self::File(_) => "file",
            Self::Smtp(..) => "smtp",
            Self::Webhook { .. } => "webhook",
        }
    }
}

/// What a delivery pass did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DeliveryReport {
    /// Messages the channel accepted.
    pub sent: Vec<String>,
    /// In-app alerts posted.
    pub alerts: u64,
    /// Messages that will be tried again, with the error.
    pub retrying: Vec<(String, String)>,
    /// Messages given up, with the error.
    pub failed: Vec<(String, String)>,
}

/// A claimed message (also the webhook's JSON body).
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
struct Outgoing {
    message_id: String,
    rfc_message_id: String,
    idempotency_key: String,
    channel: String,
    recipient: Option<String>,
    recipient_role: String,
    template: String,
    customer_id: Option<String>,
    document_ids: Option<String>,
    subject: String,
    body: String,
    #[serde(skip)]
    attempts: i64,
}

/// Why a send failed.
enum SendError {
    /// Worth trying again.
    Transient(String),
    /// Will fail the same way every time.
    Permanent(String),
}

/// The Message-ID a message is sent under, on every attempt: its id and a digest of its idempotency key, at the
/// company's mail domain.
pub fn rfc_message_id(message_id: &str, idempotency_key: &str, company_email: &str) -> String {
    let domain = company_email.rsplit_once('@').map_or("cobro.invalid", |(_, d)| d);
    let digest = Sha256::digest(idempotency_key.as_bytes());
    format!("<{message_id}.{}@{domain}>", hex::encode(&digest[..8]))
}

/// How long to wait before attempt `attempts + 1`.
pub fn backoff(rules: &DeliveryRules, attempts: u32) -> Duration {
    let factor = 4u64.saturating_pow(attempts.saturating_sub(1));
    Duration::from_secs(rules.backoff_seconds.saturating_mul(factor).min(6 * 3600))
}

/// Delivers every message that is due at `now` (at most `limit`), one at a time.
pub async fn deliver(
    store: &Store,
    config: &WorkflowConfig,
    channel: &Channel,
    now: DateTime<Utc>,
    limit: Option<usize>,
) -> Result<DeliveryReport, CaseError> {
    let rules = &config.delivery;
    let from: Mailbox = format!("{} <{}>", config.company.name, config.company.email)
        .parse()
        .map_err(|e| CaseError::invalid("[company] email", format!("`{}`: {e}", config.company.email)))?;
    let at = store::instant(now);
    let due = sqlx::query(
        "SELECT message_id FROM messages \
         WHERE (state = 'queued' OR (state = 'sending' AND lease_until < $1)) \
           AND (send_after IS NULL OR send_after <= $1) AND (next_attempt_at IS NULL OR next_attempt_at <= $1) \
         ORDER BY COALESCE(send_after, ''), message_id",
    )
    .bind(&at)
    .fetch_all(store.pool())
    .await
    .map_err(|e| store.err(e))?;
    let mut report = DeliveryReport::default();
    for row in due.iter().take(limit.unwrap_or(usize::MAX)) {
        let id: String = row.try_get(0).map_err(|e| store.err(e))?;
        let Some(m) = claim(store, config, &id, now).await? else { continue };
        if m.channel == "alert" {
            finish(store, rules, &m, now, Ok("in_app")).await?;
            report.alerts += 1;
            continue;
        }
        let result = send(channel, &from, &m).await;
        if result.is_ok() {
            crate::failpoint("delivery-after-send");
        }
        let outcome = match result {
            Ok(()) => Ok(channel.via()),
            Err(e) => Err(e),
        };
        match finish(store, rules, &m, now, outcome).await? {
            Finished::Sent => report.sent.push(m.message_id),
            Finished::Retrying(e) => report.retrying.push((m.message_id, e)),
            Finished::Failed(e) => report.failed.push((m.message_id, e)),
        }
    }
    Ok(report)
}

/// Claims a message for this worker: `None` when another worker has it.
async fn claim(
    store: &Store,
    config: &WorkflowConfig,
    id: &str,
    now: DateTime<Utc>,
) -> Result<Option<Outgoing>, CaseError> {
    let at = store::instant(now);
    let lease = store::instant(now + Duration::from_secs(config.delivery.lease_seconds));
    let key: Option<String> = sqlx::query_scalar("SELECT idempotency_key FROM messages WHERE message_id = $1")
        .bind(id)
        .fetch_optional(store.pool())
        .await
        .map_err(|e| store.err(e))?;
    let Some(key) = key else { return Ok(None) };
    let mid = rfc_message_id(id, &key, &config.company.email);
    let won = sqlx::query(
        "UPDATE messages SET state = 'sending', lease_until = $2, attempts = attempts + 1, \
                rfc_message_id = COALESCE(rfc_message_id, $3) \
         WHERE message_id = $1 AND (state = 'queued' OR (state = 'sending' AND lease_until < $4))",
    )
    .bind(id)
    .bind(&lease)
    .bind(&mid)
    .bind(&at)
    .execute(store.pool())
    .await
    .map_err(|e| store.err(e))?;
    if won.rows_affected() == 0 {
        return Ok(None);
    }
    let m = sqlx::query_as::<_, Outgoing>(
        "SELECT message_id, rfc_message_id, idempotency_key, channel, recipient, recipient_role, template, customer_id, \
                document_ids, subject, body, attempts FROM messages WHERE message_id = $1",
    )
    .bind(id)
    .fetch_one(store.pool())
    .await
    .map_err(|e| store.err(e))?;
    Ok(Some(m))
}

async fn send(channel: &Channel, from: &Mailbox, m: &Outgoing) -> Result<(), SendError> {
    match channel {
        Channel::Webhook { client, url, secret } => {
            let body = serde_json::to_vec(m).map_err(|e| SendError::Permanent(e.to_string()))?;
            let mut req = client
                .post(url)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .header("Idempotency-Key", &m.idempotency_key);
            if let Some(key) = secret {
                let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key)
                    .map_err(|e| SendError::Permanent(format!("webhook secret: {e}")))?;
                mac.update(&body);
                req = req.header("X-Cobro-Signature", format!("sha256={}", hex::encode(mac.finalize().into_bytes())));
            }
            let resp = req.body(body).send().await.map_err(|e| SendError::Transient(format!("{url}: {e}")))?;
            let status = resp.status();
            if status.is_success() {
                return Ok(());
            }
            let text: String = resp.text().await.unwrap_or_default().chars().take(200).collect();
            let msg = format!("{url} answered {status}: {text}");
            if status.is_client_error() && status.as_u16() != 408 && status.as_u16() != 429 {
                Err(SendError::Permanent(msg))
            } else {
                Err(SendError::Transient(msg))
            }
        }
        Channel::File(dir) => write_eml(dir, &m.message_id, &email(from, m)?.formatted())
            .map_err(|e| SendError::Transient(format!("{}: {e}", dir.display()))),
        Channel::Smtp(t, shown) => match t.send(email(from, m)?).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_permanent() => Err(SendError::Permanent(format!("{shown}: {e}"))),
            Err(e) => Err(SendError::Transient(format!("{shown}: {e}"))),
        },
    }
}

/// The email of a message: plain text, from and replying to the company, under its fixed Message-ID.
fn email(from: &Mailbox, m: &Outgoing) -> Result<Message, SendError> {
    let to = m.recipient.as_deref().unwrap_or_default();
    let rcpt: Mailbox = to.parse().map_err(|e| {
        SendError::Permanent(if m.recipient_role == "customer" {
            format!("`{to}` is not an email address ({e}); correct the customer's email in the ERP")
        } else {
            format!("`{to}` is not an email address ({e}); add [people.{to}] email = \"…\" to the workflow file")
        })
    })?;
    Message::builder()
        .from(from.clone())
        .reply_to(from.clone())
        .to(rcpt)
        .subject(&m.subject)
        .message_id(Some(m.rfc_message_id.clone()))
        .header(ContentType::TEXT_PLAIN)
        .body(m.body.clone())
        .map_err(|e| SendError::Permanent(e.to_string()))
}

/// Writes `<dir>/<id>.eml` whole or not at all (temporary file, then rename).
fn write_eml(dir: &Path, id: &str, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(".{id}.eml.tmp"));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, dir.join(format!("{id}.eml")))
}

enum Finished {
    Sent,
    Retrying(String),
    Failed(String),
}

/// Records the attempt's outcome with its event, in one transaction.
async fn finish(
    store: &Store,
    rules: &DeliveryRules,
    m: &Outgoing,
    now: DateTime<Utc>,
    outcome: Result<&str, SendError>,
) -> Result<Finished, CaseError> {
    let attempts = m.attempts;
    let mut tx = store.begin().await?;
    let at = store::instant(now);
    let (done, kind, note) = match outcome {
        Ok(via) => {
            sqlx::query(
                "UPDATE messages SET state = 'sent', sent_at = $2, delivered_via = $3, lease_until = NULL, \
                        last_error = NULL WHERE message_id = $1 AND state = 'sending'",
            )
            .bind(&m.message_id)
            .bind(&at)
            .bind(via)
            .execute(&mut *tx)
            .await
            .map_err(|e| store.err(e))?;
            (Finished::Sent, "message_sent", format!("{} via {via}, attempt {attempts}", m.template))
        }
        Err(SendError::Permanent(e)) => fail(&mut tx, store, m, e).await?,
        Err(SendError::Transient(e)) => {
            if attempts >= i64::from(rules.max_attempts) {
                fail(&mut tx, store, m, format!("{e} (gave up after {attempts} attempts)")).await?
            } else {
                let wait = backoff(rules, u32::try_from(attempts).unwrap_or(u32::MAX));
                let next = store::instant(now + wait);
                sqlx::query(
                    "UPDATE messages SET state = 'queued', lease_until = NULL, next_attempt_at = $2, last_error = $3 \
                     WHERE message_id = $1 AND state = 'sending'",
                )
                .bind(&m.message_id)
                .bind(&next)
                .bind(&e)
                .execute(&mut *tx)
                .await
                .map_err(|e| store.err(e))?;
                let note = format!("attempt {attempts} failed, next at {next}: {e}");
                (Finished::Retrying(e), "message_retry", note)
            }
        }
    };
    let customer = m.customer_id.as_deref().unwrap_or_default();
    store::record_event(&mut tx, (customer, kind, &m.message_id), ("delivery", now, now.date_naive()), Some(&note))
        .await
        .map_err(|e| store.err(e))?;
    tx.commit().await.map_err(|e| store.err(e))?;
    Ok(done)
}

async fn fail(
    tx: &mut store::Tx,
    store: &Store,
    m: &Outgoing,
    e: String,
) -> Result<(Finished, &'static str, String), CaseError> {
    sqlx::query(
        "UPDATE messages SET state = 'failed', lease_until = NULL, last_error = $2 WHERE message_id = $1 AND state = 'sending'",
    )
    .bind(&m.message_id)
    .bind(&e)
    .execute(&mut **tx)
    .await
    .map_err(|x| store.err(x))?;
    let note = format!("{} failed: {e}", m.template);
    Ok((Finished::Failed(e), "message_failed", note))
}

/// A message as a bounce or a provider callback names it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MessageRef {
    /// Id (`MSG-n`).
    pub message_id: String,
    /// Address.
    pub recipient: Option<String>,
    /// Customer it is about.
    pub customer_id: Option<String>,
    /// customer, collector, sales_rep, ar_manager, department.
    pub recipient_role: String,
    /// Outbox state.
    pub state: String,
    /// Documents it listed.
    pub document_ids: Option<String>,
}

/// The message named by its id or by the Message-ID it was sent under (with or without angle brackets).
pub async fn find_message(store: &Store, message: &str) -> Result<Option<MessageRef>, CaseError> {
    sqlx::query_as(
        "SELECT message_id, recipient, customer_id, recipient_role, state, document_ids FROM messages \
         WHERE message_id = $1 OR rfc_message_id = $1 OR rfc_message_id = $2",
    )
    .bind(message)
    .bind(format!("<{}>", message.trim_matches(['<', '>'])))
    .fetch_optional(store.pool())
    .await
    .map_err(|e| store.err(e))
}

/// A bounce reported for a message (by its id or by the Message-ID it was sent under, as a delivery status
/// notification quotes it): the message is marked `bounced`, its address is recorded so that no customer email
/// goes to it again, and the customer's collector gets a task to correct the contact. Reporting the same bounce
/// twice changes nothing the second time.
pub async fn bounce(
    ctx: &crate::cases::Ctx<'_>,
    message: &str,
    reason: &str,
    collector: Option<&str>,
) -> Result<crate::cases::Recorded, CaseError> {
    let store = ctx.store;
    let Some(MessageRef {
        message_id: id,
        recipient,
        customer_id: customer,
        recipient_role: role,
        state,
        document_ids: docs,
    }) = find_message(store, message).await?
    else {
        return Err(CaseError::NotFound { what: "message", id: message.to_owned() });
    };
    let mut rec =
        crate::cases::Recorded { kind: "bounce".into(), record_id: Some(message.to_owned()), ..Default::default() };
    if state == "bounced" {
        rec.summary.push(format!("{id} was already marked bounced; nothing changed"));
        return Ok(rec);
    }
    if state != "sent" {
        return Err(CaseError::invalid("message", format!("{id} is {state}; only a sent message can bounce")));
    }
    let customer = customer.unwrap_or_default();
    let address = recipient.unwrap_or_default().to_ascii_lowercase();
    let mut tx = store.begin().await?;
    // Compare-and-set: of two reports of one bounce at once, one marks it and the other changes nothing.
    let marked = sqlx::query(
        "UPDATE messages SET state = 'bounced', bounced_at = $2, bounce_reason = $3 WHERE message_id = $1 AND state = 'sent'",
    )
    .bind(&id)
    .bind(store::instant(ctx.now))
    .bind(reason)
    .execute(&mut *tx)
    .await
    .map_err(|e| store.err(e))?;
    if marked.rows_affected() == 0 {
        rec.summary.push(format!("{id} was already marked bounced; nothing changed"));
        return Ok(rec);
    }
    store::record_event(&mut tx, (&customer, "message_bounced", &id), (ctx.actor, ctx.now, ctx.on), Some(reason))
        .await
        .map_err(|e| store.err(e))?;
    if role == "customer" && !address.is_empty() {
        sqlx::query(
            "INSERT INTO contact_bounces (address, customer_id, message_id, reason, bounced_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (address) DO UPDATE SET message_id = $3, reason = $4, bounced_at = $5",
        )
        .bind(&address)
        .bind(&customer)
        .bind(&id)
        .bind(reason)
        .bind(store::instant(ctx.now))
        .execute(&mut *tx)
        .await
        .map_err(|e| store.err(e))?;
        let note = format!("{address} bounced ({reason}): correct the customer's email in the ERP");
        let task = crate::cases::new_task(
            ctx,
            &mut tx,
            crate::cases::TaskSpec {
                kind: "fix_contact",
                customer_id: &customer,
                documents: docs.as_deref().unwrap_or_default(),
                role: "collector",
                assignee: collector,
                due: ctx.config.calendar.next_business_day(ctx.on),
                origin: "bounce",
                origin_ref: &id,
                note: &note,
            },
        )
        .await?;
        rec.summary.push(format!(
            "{id} bounced; {address} is held (no customer emails) until the ERP has another address; task {task}"
        ));
    } else {
        rec.summary.push(format!("{id} bounced"));
    }
    tx.commit().await.map_err(|e| store.err(e))?;
    Ok(rec)
}
