//! The dunning executor's first half: recording a plan in the operational store, effectively once. Each planned
//! action is one transaction that records its step keys in `dunning_keys` (primary key) and then queues its
//! message in the outbox or creates its task, with their events. If any of its keys is already recorded, by an
//! earlier run or by a run going on at the same time, the transaction writes nothing and the action counts as
//! already sent. Superseded keys are recorded too, so a missed step never fires late.
//!
//! Delivery of the queued messages (file, SMTP, webhook channels, retries, bounces) is not built yet.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use std::fmt::Write as _;

use serde::Serialize;
use sqlx::Row;

use crate::cases::{self, Ctx, MessageSpec, TaskSpec};
use crate::error::CaseError;
use crate::planner::{Plan, PlannedAction};
use crate::store::{self, Store, Tx};
use crate::strategy::{ActionKind, Recipient};

/// What a run recorded.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RunReport {
    /// Messages queued in the outbox (emails and in-app alerts).
    pub messages: Vec<String>,
    /// Tasks created.
    pub tasks: Vec<String>,
    /// Actions another run had recorded already (nothing written for them).
    pub already_recorded: u64,
    /// Step keys recorded as superseded.
    pub superseded: u64,
}

/// What earlier runs recorded, read in one statement so the two halves are consistent with each other: every
/// step key (fired or superseded), the planner's `sent_keys`, and the customer messages per customer and local
/// send date, its `sent_per_day`. Read separately, a run planning while another records could see the other's
/// keys without its messages and let a message the daily cap held back through.
pub async fn recorded(store: &Store) -> Result<(BTreeSet<String>, BTreeMap<(String, NaiveDate), u32>), CaseError> {
    let rows = sqlx::query(
        "SELECT 'key' AS what, step_key AS a, NULL AS b, NULL AS n FROM dunning_keys \
         UNION ALL \
         SELECT 'day', customer_id, COALESCE(send_date, created_date), CAST(COUNT(*) AS TEXT) FROM messages \
         WHERE recipient_role = 'customer' AND customer_id IS NOT NULL \
         GROUP BY customer_id, COALESCE(send_date, created_date)",
    )
    .fetch_all(store.pool())
    .await
    .map_err(|e| store.err(e))?;
    let mut keys = BTreeSet::new();
    let mut per_day = BTreeMap::new();
    for r in &rows {
        let e = |e| store.err(e);
        let what: String = r.try_get(0).map_err(e)?;
        let a: String = r.try_get(1).map_err(e)?;
        if what == "key" {
            keys.insert(a);
        } else {
            let day: String = r.try_get::<Option<String>, _>(2).map_err(e)?.unwrap_or_default();
            let n: String = r.try_get::<Option<String>, _>(3).map_err(e)?.unwrap_or_default();
            let day = day.parse::<NaiveDate>().map_err(|x| CaseError::invalid("messages.send_date", x.to_string()))?;
            per_day.insert((a, day), n.parse().unwrap_or(0));
        }
    }
    Ok((keys, per_day))
}

/// Records `plan`: queues its messages, creates its tasks, records its keys.
pub async fn record(ctx: &Ctx<'_>, plan: &Plan) -> Result<RunReport, CaseError> {
    let mut report = RunReport::default();
    // Superseded keys first: a run planning meanwhile must not fire a step this one passed over.
    for s in plan.skipped.iter().filter(|s| !s.step_keys.is_empty()) {
        let mut tx = ctx.store.begin().await?;
        for k in &s.step_keys {
            report.superseded += u64::from(claim(ctx, &mut tx, std::slice::from_ref(k), "superseded", None).await?);
        }
        tx.commit().await.map_err(|e| ctx.store.err(e))?;
    }
    for a in &plan.actions {
        let mut tx = ctx.store.begin().await?;
        if !claim(ctx, &mut tx, &a.step_keys, "fired", Some(&a.idempotency_key)).await? {
            report.already_recorded += 1;
            continue;
        }
        match a.kind {
            ActionKind::Email | ActionKind::Alert => {
                let (subject, body) = render(a);
                let role = role(a.to);
                let made = cases::queue_message(
                    ctx,
                    &mut tx,
                    MessageSpec {
                        key: &a.idempotency_key,
                        channel: if a.kind == ActionKind::Alert { "alert" } else { "email" },
                        recipient: a.recipient.as_deref(),
                        role,
                        template: &a.template,
                        customer_id: &a.customer_id,
                        documents: &a.documents.join(","),
                        subject: &subject,
                        body: &body,
                        origin_ref: &format!("strategy:{}:{}", a.strategy, a.step),
                        send_after: Some((store::instant(a.send_at), a.send_date)),
                    },
                )
                .await?;
                report.messages.extend(made);
            }
            ActionKind::Task => {
                let note = format!(
                    "{} ({} {} over {} document(s))",
                    a.template,
                    a.total.normalize(),
                    a.currency,
                    a.documents.len()
                );
                let task = cases::new_task(
                    ctx,
                    &mut tx,
                    TaskSpec {
                        kind: a.task.as_deref().unwrap_or("review"),
                        customer_id: &a.customer_id,
                        documents: &a.documents.join(","),
                        role: role(a.to),
                        assignee: a.recipient.as_deref(),
                        due: ctx.on,
                        origin: &format!("strategy:{}:{}", a.strategy, a.step),
                        origin_ref: &a.idempotency_key,
                        note: &note,
                    },
                )
                .await?;
                report.tasks.push(task);
            }
        }
        tx.commit().await.map_err(|e| ctx.store.err(e))?;
    }
    Ok(report)
}

/// Records keys in one transaction; `false` (and nothing kept) when any of them was recorded before.
async fn claim(
    ctx: &Ctx<'_>,
    tx: &mut Tx,
    keys: &[String],
    state: &str,
    idem: Option<&str>,
) -> Result<bool, CaseError> {
    for k in keys {
        let done = sqlx::query(
            "INSERT INTO dunning_keys (step_key, state, idempotency_key, run_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (step_key) DO NOTHING",
        )
        .bind(k)
        .bind(state)
        .bind(idem)
        .bind(store::instant(ctx.now))
        .execute(&mut **tx)
        .await
        .map_err(|e| ctx.store.err(e))?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
    }
    Ok(true)
}

fn role(to: Recipient) -> &'static str {
    match to {
        Recipient::Customer => "customer",
        Recipient::Collector => "collector",
        Recipient::SalesRep => "sales_rep",
        Recipient::ArManager => "ar_manager",
    }
}

/// A plain rendering (subject and body with the documents and their total). Templates per language are not
/// built yet; the template name travels with the message so the delivery step can render it properly.
fn render(a: &PlannedAction) -> (String, String) {
    let subject = format!(
        "{} — {} document(s), {} {}",
        a.template.replace('_', " "),
        a.documents.len(),
        a.total.round_dp(2),
        a.currency
    );
    let mut body = format!("Customer {}\nStep {} of strategy {}\n\nDocuments:\n", a.customer_id, a.step, a.strategy);
    for d in &a.documents {
        let _ = writeln!(body, "  {d}");
    }
    let _ = writeln!(body, "\nTotal open {}: {}", a.currency, a.total.round_dp(2));
    (subject, body)
}
