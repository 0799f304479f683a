//! The dunning executor's first half: recording a plan in the operational store, effectively once. Each planned
//! action is one transaction that records its step keys in `dunning_keys` (primary key) and then queues its
//! message in the outbox or creates its task, with their events. If any of its keys is already recorded, by an
//! earlier run or by a run going on at the same time, the transaction writes nothing and the action counts as
//! already sent. Superseded keys are recorded too, so a missed step never fires late.
//!
//! Messages are rendered here, from the templates in the recipient's language, so the outbox keeps exactly what
//! was sent; [`crate::delivery`] delivers them.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;

use serde::Serialize;
use sqlx::Row;

use crate::cases::{self, Ctx, MessageSpec, TaskSpec};
use crate::error::CaseError;
use crate::ledger::{LedgerCustomer, LedgerDocument};
use crate::planner::{Plan, PlannedAction};
use crate::store::{self, Store, Tx};
use crate::strategy::{ActionKind, Recipient};
use crate::templates::MessageContext;

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
                let (subject, body) = render(ctx, a)?;
                let role = a.to.as_str();
                // Internal emails go to the person's address from `[people]`; without one the id stays and the
                // delivery fails visibly, saying what to add.
                let recipient = match (a.kind, a.to) {
                    (ActionKind::Email, to) if to != Recipient::Customer => {
                        a.recipient.as_deref().map(|id| ctx.config.people.get(id).map_or(id, |p| p.email.as_str()))
                    }
                    _ => a.recipient.as_deref(),
                };
                let made = cases::queue_message(
                    ctx,
                    &mut tx,
                    MessageSpec {
                        key: &a.idempotency_key,
                        channel: if a.kind == ActionKind::Alert { "alert" } else { "email" },
                        recipient,
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
                        role: a.to.as_str(),
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

/// The subject and body of a planned message: its template in the customer's language for customer messages, in
/// the company's for internal ones, listing the documents (in due-date order) with per-currency totals.
fn render(ctx: &Ctx<'_>, a: &PlannedAction) -> Result<(String, String), CaseError> {
    let docs: Vec<&LedgerDocument> = a.documents.iter().filter_map(|d| ctx.ledger.documents.get(d)).collect();
    if docs.len() != a.documents.len() {
        return Err(CaseError::invalid(
            "dunning run",
            format!("action {} lists documents the ledger slice does not have", a.idempotency_key),
        ));
    }
    let fallback = LedgerCustomer { customer_id: a.customer_id.clone(), ..LedgerCustomer::default() };
    let cust = ctx.ledger.customers.get(&a.customer_id).unwrap_or(&fallback);
    let lang = if a.to == Recipient::Customer {
        ctx.templates.language(cust.language.as_deref(), &ctx.config.company.language)
    } else {
        ctx.templates.language(None, &ctx.config.company.language)
    };
    let on = a.send_date;
    let m = MessageContext::new(
        ctx.config,
        (&cust.customer_id, &cust.name),
        &docs,
        on,
        a.to.as_str(),
        (&a.strategy, &a.step),
    );
    Ok(ctx.templates.render(lang, &a.template, &m)?)
}

/// Pauses a customer's automatic dunning (until `until`, inclusive, or until resumed), with an event.
pub async fn pause(ctx: &Ctx<'_>, customer_id: &str, until: Option<NaiveDate>, reason: &str) -> Result<(), CaseError> {
    if reason.trim().is_empty() {
        return Err(CaseError::invalid("--reason", "say why dunning is paused (it shows on the account's timeline)"));
    }
    if until.is_some_and(|u| u < ctx.on) {
        return Err(CaseError::invalid(
            "--until",
            format!("{} is in the past (today is {})", until.unwrap_or_default(), ctx.on),
        ));
    }
    let mut tx = ctx.store.begin().await?;
    sqlx::query(
        "INSERT INTO dunning_pauses (customer_id, until_date, reason, actor, at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (customer_id) DO UPDATE SET until_date = $2, reason = $3, actor = $4, at = $5",
    )
    .bind(customer_id)
    .bind(until.map(|u| u.to_string()))
    .bind(reason)
    .bind(ctx.actor)
    .bind(store::instant(ctx.now))
    .execute(&mut *tx)
    .await
    .map_err(|e| ctx.store.err(e))?;
    let note = match until {
        Some(u) => format!("paused until {u}: {reason}"),
        None => format!("paused until resumed: {reason}"),
    };
    store::record_event(
        &mut tx,
        (customer_id, "dunning_paused", customer_id),
        (ctx.actor, ctx.now, ctx.on),
        Some(&note),
    )
    .await
    .map_err(|e| ctx.store.err(e))?;
    tx.commit().await.map_err(|e| ctx.store.err(e))
}

/// Resumes a paused customer; an error when it was not paused.
pub async fn resume(ctx: &Ctx<'_>, customer_id: &str) -> Result<(), CaseError> {
    let mut tx = ctx.store.begin().await?;
    let gone = sqlx::query("DELETE FROM dunning_pauses WHERE customer_id = $1")
        .bind(customer_id)
        .execute(&mut *tx)
        .await
        .map_err(|e| ctx.store.err(e))?;
    if gone.rows_affected() == 0 {
        return Err(CaseError::NotFound { what: "dunning pause for customer", id: customer_id.to_owned() });
    }
    store::record_event(&mut tx, (customer_id, "dunning_resumed", customer_id), (ctx.actor, ctx.now, ctx.on), None)
        .await
        .map_err(|e| ctx.store.err(e))?;
    tx.commit().await.map_err(|e| ctx.store.err(e))
}

/// Customers whose dunning is paused on `on` (a pause until a date covers that date).
pub async fn paused(store: &Store, on: NaiveDate) -> Result<BTreeSet<String>, CaseError> {
    let rows: Vec<(String, Option<String>)> = sqlx::query_as("SELECT customer_id, until_date FROM dunning_pauses")
        .fetch_all(store.pool())
        .await
        .map_err(|e| store.err(e))?;
    Ok(rows
        .into_iter()
        .filter(|(_, u)| u.as_deref().is_none_or(|u| u >= on.to_string().as_str()))
        .map(|(c, _)| c)
        .collect())
}

/// Addresses that bounced.
pub async fn bounced(store: &Store) -> Result<BTreeSet<String>, CaseError> {
    let rows: Vec<String> = sqlx::query_scalar("SELECT address FROM contact_bounces")
        .fetch_all(store.pool())
        .await
        .map_err(|e| store.err(e))?;
    Ok(rows.into_iter().map(|a| a.to_ascii_lowercase()).collect())
}

/// A plan saved for approval.
#[derive(Debug, Clone, Serialize)]
pub struct SavedPlan {
    /// Id.
    pub plan_id: String,
    /// pending, approved, rejected, executed.
    pub state: String,
    /// The snapshot it was planned over.
    pub as_of: String,
    /// Who planned it.
    pub planned_by: String,
    /// Who approved or rejected it.
    pub decided_by: Option<String>,
    /// The idempotency keys of its actions.
    pub action_keys: BTreeSet<String>,
    /// One line about it.
    pub summary: String,
}

/// Saves a plan for approval; returns its id.
pub async fn save_plan(ctx: &Ctx<'_>, plan: &Plan) -> Result<String, CaseError> {
    let mut tx = ctx.store.begin().await?;
    let id = store::next_id(&mut tx, "PLAN").await.map_err(|e| ctx.store.err(e))?;
    let keys: Vec<&str> = plan.actions.iter().map(|a| a.idempotency_key.as_str()).collect();
    let customers: BTreeSet<&str> = plan.actions.iter().map(|a| a.customer_id.as_str()).collect();
    let summary =
        format!("{} action(s) for {} customer(s), {} skipped", keys.len(), customers.len(), plan.skipped.len());
    sqlx::query(
        "INSERT INTO dunning_plans (plan_id, state, as_of, planned_at, planned_by, action_keys, summary) \
         VALUES ($1, 'pending', $2, $3, $4, $5, $6)",
    )
    .bind(&id)
    .bind(ctx.ledger.as_of.to_string())
    .bind(store::instant(ctx.now))
    .bind(ctx.actor)
    .bind(keys.join("\n"))
    .bind(&summary)
    .execute(&mut *tx)
    .await
    .map_err(|e| ctx.store.err(e))?;
    tx.commit().await.map_err(|e| ctx.store.err(e))?;
    Ok(id)
}

/// Approves (or rejects) a pending plan. Whoever planned it cannot approve it.
pub async fn decide_plan(ctx: &Ctx<'_>, plan_id: &str, approve: bool) -> Result<SavedPlan, CaseError> {
    let plan = saved_plan(ctx.store, plan_id).await?;
    if plan.state != "pending" {
        return Err(CaseError::invalid(
            "plan",
            format!("{plan_id} is {}; only a pending plan can be decided", plan.state),
        ));
    }
    if approve && plan.planned_by == ctx.actor {
        return Err(CaseError::invalid(
            "--as",
            format!("{} planned {plan_id}; someone else must approve it (four eyes)", ctx.actor),
        ));
    }
    let state = if approve { "approved" } else { "rejected" };
    let done = sqlx::query(
        "UPDATE dunning_plans SET state = $2, decided_by = $3, decided_at = $4 WHERE plan_id = $1 AND state = 'pending'",
    )
    .bind(plan_id)
    .bind(state)
    .bind(ctx.actor)
    .bind(store::instant(ctx.now))
    .execute(ctx.store.pool())
    .await
    .map_err(|e| ctx.store.err(e))?;
    if done.rows_affected() == 0 {
        return Err(CaseError::invalid("plan", format!("{plan_id} was decided by someone else meanwhile")));
    }
    saved_plan(ctx.store, plan_id).await
}

/// A saved plan.
pub async fn saved_plan(store: &Store, plan_id: &str) -> Result<SavedPlan, CaseError> {
    let r: Option<(String, String, String, Option<String>, String, String)> = sqlx::query_as(
        "SELECT state, as_of, planned_by, decided_by, action_keys, summary FROM dunning_plans WHERE plan_id = $1",
    )
    .bind(plan_id)
    .fetch_optional(store.pool())
    .await
    .map_err(|e| store.err(e))?;
    let Some((state, as_of, planned_by, decided_by, keys, summary)) = r else {
        return Err(CaseError::NotFound { what: "dunning plan", id: plan_id.to_owned() });
    };
    Ok(SavedPlan {
        plan_id: plan_id.to_owned(),
        state,
        as_of,
        planned_by,
        decided_by,
        action_keys: keys.lines().map(str::to_owned).collect(),
        summary,
    })
}

/// Keeps only the actions of an approved plan. Actions planned since (not approved) are returned apart; approved
/// actions no longer due (paid meanwhile, say) are simply not in `plan`.
pub async fn restrict_to_approved(
    ctx: &Ctx<'_>,
    plan_id: &str,
    plan: &mut Plan,
) -> Result<Vec<PlannedAction>, CaseError> {
    let saved = saved_plan(ctx.store, plan_id).await?;
    // `executed` again: a run that stopped half-way may be repeated; what it recorded is not recorded twice.
    if saved.state != "approved" && saved.state != "executed" {
        return Err(CaseError::invalid(
            "--plan",
            format!("{plan_id} is {}; approve it first with `cobro dunning approve {plan_id}`", saved.state),
        ));
    }
    let (keep, held): (Vec<_>, Vec<_>) =
        std::mem::take(&mut plan.actions).into_iter().partition(|a| saved.action_keys.contains(&a.idempotency_key));
    plan.actions = keep;
    Ok(held)
}

/// Marks an approved plan executed, once its run has recorded it.
pub async fn mark_executed(store: &Store, plan_id: &str) -> Result<(), CaseError> {
    sqlx::query("UPDATE dunning_plans SET state = 'executed' WHERE plan_id = $1 AND state = 'approved'")
        .bind(plan_id)
        .execute(store.pool())
        .await
        .map_err(|e| store.err(e))?;
    Ok(())
}
