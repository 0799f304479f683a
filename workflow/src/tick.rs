//! The daily tick (`cobro case tick --as-of D`): what happens without anyone recording anything.
//! - Pending promises the ledger shows kept are closed as kept; those past promised date + grace without the
//!   promised amount applied are broken: their documents go back to `normal`, with a call task and an event.
//! - Open payment reports whose documents the ledger shows settled are closed as credited.
//! - Open disputes get their owner's reminders before and after the deadline, then an escalation to the AR
//!   manager. Each reminder has an idempotency key, so a tick run twice (or two at once) sends it once.
//!
//! Whether a promise is kept or broken is not decided here: the caller evaluates the metric library's
//! `promise_outcomes` view over the snapshot, so the tick and the promise-keeping metrics cannot disagree.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use serde::Serialize;

use crate::cases::{self, Ctx, MessageSpec, Recorded, TaskSpec};
use crate::error::CaseError;
use crate::status::Transition;
use crate::store::{self, NewEvent};

/// What the ledger says, evaluated by the caller at the tick's date.
#[derive(Debug, Clone, Default)]
pub struct TickInputs {
    /// Status of each promise as `promise_outcomes` defines it: `kept`, `broken` or `pending`.
    pub promise_status: BTreeMap<String, String>,
    /// Documents whose balance is 0 at the date.
    pub settled_documents: BTreeSet<String>,
    /// Every customer's segment at the date (from the `segments` view).
    pub segments: Vec<SegmentRow>,
}

/// A customer's segment as the `segments` view gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentRow {
    /// Customer.
    pub customer_id: String,
    /// Base segment.
    pub segment: String,
    /// Overlays raised, comma-separated.
    pub overlays: String,
    /// What strategies and the queue use.
    pub effective_segment: String,
    /// Why.
    pub reasons: String,
}

/// What one tick did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TickReport {
    /// Changes made, one per record.
    pub actions: Vec<Recorded>,
    /// Records that could not be processed, with why (a concurrent change; the next tick retries).
    pub skipped: Vec<(String, String)>,
    /// Customers whose segment changed since the last tick (each is a `segment_changed` event).
    pub segment_changes: u64,
}

/// Runs the tick at `ctx.on`.
pub async fn tick(ctx: &Ctx<'_>, inputs: &TickInputs) -> Result<TickReport, CaseError> {
    let mut report = TickReport::default();
    let pending: Vec<String> =
        sqlx::query_scalar("SELECT DISTINCT promise_id FROM promises WHERE state = 'pending' ORDER BY promise_id")
            .fetch_all(ctx.store.pool())
            .await
            .map_err(|e| ctx.store.err(e))?;
    for id in pending {
        let (t, state, note) = match inputs.promise_status.get(&id).map(String::as_str) {
            Some("kept") => (Transition::PromiseKept, "kept", "the promised amount was applied in time"),
            Some("broken") => (
                Transition::PromiseBroken,
                "broken",
                "the promised amount was not applied by the promised date + grace",
            ),
            _ => continue,
        };
        let r = cases::close_record(ctx, t, ("promises", "promise_id", "pending"), &id, state, Some(note)).await;
        push(&mut report, &id, r)?;
    }

    let rows = sqlx::query(
        "SELECT report_id, document_id FROM payment_reports WHERE state = 'open' ORDER BY report_id, document_id",
    )
    .fetch_all(ctx.store.pool())
    .await
    .map_err(|e| ctx.store.err(e))?;
    let mut reports: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in &rows {
        let id = store::req(r, "report_id").map_err(|e| ctx.store.err(e))?;
        reports.entry(id).or_default().push(store::req(r, "document_id").map_err(|e| ctx.store.err(e))?);
    }
    for (id, docs) in reports {
        if docs.iter().all(|d| inputs.settled_documents.contains(d)) {
            let r = cases::close_record(
                ctx,
                Transition::ReportCredited,
                ("payment_reports", "report_id", "open"),
                &id,
                "credited",
                Some("the ledger shows the reported payment applied"),
            )
            .await;
            push(&mut report, &id, r)?;
        }
    }

    for d in open_disputes(ctx).await? {
        let r = dispute_reminders(ctx, &d).await;
        push(&mut report, &d.id, r)?;
    }
    report.segment_changes = segment_changes(ctx, &inputs.segments).await?;
    Ok(report)
}

/// Records every customer whose segment or overlays changed since the last tick as a `segment_changed` event
/// (before and after in the status columns, the reasons in the note). A customer seen for the first time is only
/// remembered: nothing changed. Returns the number of changes.
async fn segment_changes(ctx: &Ctx<'_>, rows: &[SegmentRow]) -> Result<u64, CaseError> {
    let known: BTreeMap<String, (String, String)> =
        sqlx::query("SELECT customer_id, segment, overlays FROM customer_segments")
            .fetch_all(ctx.store.pool())
            .await
            .map_err(|e| ctx.store.err(e))?
            .iter()
            .map(|r| Ok((store::req(r, "customer_id")?, (store::req(r, "segment")?, store::req(r, "overlays")?))))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(|e| ctx.store.err(e))?;
    let mut changes = 0;
    // One transaction per 500 customers: bounded, and each batch all-or-nothing.
    for chunk in rows.chunks(500) {
        let mut tx = ctx.store.begin().await?;
        for r in chunk {
            let was = known.get(&r.customer_id);
            if was.is_some_and(|(s, o)| *s == r.segment && *o == r.overlays) {
                continue;
            }
            sqlx::query(
                "INSERT INTO customer_segments (customer_id, segment, overlays, effective_segment, since_date, reasons) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (customer_id) DO UPDATE SET segment = $2, overlays = $3, \
                 effective_segment = $4, since_date = $5, reasons = $6",
            )
            .bind(&r.customer_id)
            .bind(&r.segment)
            .bind(&r.overlays)
            .bind(&r.effective_segment)
            .bind(ctx.on.to_string())
            .bind(&r.reasons)
            .execute(&mut *tx)
            .await
            .map_err(|e| ctx.store.err(e))?;
            if let Some((seg, ov)) = was {
                let label = |s: &str, o: &str| if o.is_empty() { s.to_owned() } else { format!("{s}+{o}") };
                let (before, after) = (label(seg, ov), label(&r.segment, &r.overlays));
                store::append_event(
                    &mut tx,
                    NewEvent {
                        customer_id: &r.customer_id,
                        kind: "segment_changed",
                        actor: ctx.actor,
                        at: ctx.now,
                        on_date: ctx.on,
                        before: Some(&before),
                        after: Some(&after),
                        note: Some(&r.reasons),
                        ..NewEvent::default()
                    },
                )
                .await
                .map_err(|e| ctx.store.err(e))?;
                changes += 1;
            }
        }
        tx.commit().await.map_err(|e| ctx.store.err(e))?;
    }
    Ok(changes)
}

/// Keeps a record's result; a conflict or an illegal state (someone acted meanwhile) is skipped, not fatal.
fn push(report: &mut TickReport, id: &str, r: Result<Recorded, CaseError>) -> Result<(), CaseError> {
    match r {
        Ok(rec) if rec.changes.is_empty() && rec.summary.is_empty() => Ok(()),
        Ok(rec) => {
            report.actions.push(rec);
            Ok(())
        }
        Err(e @ (CaseError::Conflict { .. } | CaseError::Illegal { .. } | CaseError::NotFound { .. })) => {
            report.skipped.push((id.to_owned(), e.to_string()));
            Ok(())
        }
        Err(e) => Err(e),
    }
}

struct OpenDispute {
    id: String,
    customer_id: String,
    documents: String,
    department: String,
    owner: Option<String>,
    deadline: NaiveDate,
    escalated: bool,
}

async fn open_disputes(ctx: &Ctx<'_>) -> Result<Vec<OpenDispute>, CaseError> {
    let rows = sqlx::query(
        "SELECT dispute_id, customer_id, document_id, department, owner, deadline_date, escalated_date FROM disputes \
         WHERE resolved_date IS NULL AND opened_date <= $1 ORDER BY dispute_id, document_id",
    )
    .bind(ctx.on.to_string())
    .fetch_all(ctx.store.pool())
    .await
    .map_err(|e| ctx.store.err(e))?;
    let mut out: Vec<OpenDispute> = Vec::new();
    for r in &rows {
        let e = |e| ctx.store.err(e);
        let id = store::req(r, "dispute_id").map_err(e)?;
        let doc = store::req(r, "document_id").map_err(e)?;
        if let Some(last) = out.last_mut().filter(|d| d.id == id) {
            last.documents = format!("{},{doc}", last.documents);
            continue;
        }
        out.push(OpenDispute {
            id,
            customer_id: store::req(r, "customer_id").map_err(e)?,
            documents: doc,
            department: store::req(r, "department").map_err(e)?,
            owner: store::text(r, "owner").map_err(e)?,
            deadline: store::date(r, "deadline_date").map_err(e)?,
            escalated: store::text(r, "escalated_date").map_err(e)?.is_some(),
        });
    }
    Ok(out)
}

/// The reminders and the escalation of one open dispute that are due at `ctx.on` and not sent yet.
async fn dispute_reminders(ctx: &Ctx<'_>, d: &OpenDispute) -> Result<Recorded, CaseError> {
    let cal = &ctx.config.calendar;
    let rules = &ctx.config.dispute_reminders;
    let dept = ctx.config.departments.get(&d.department);
    let owner = d.owner.clone().or_else(|| dept.map(|x| x.owner.clone())).unwrap_or_default();
    let email = dept.and_then(|x| x.email.clone());
    let mut due: Vec<(String, &str, String)> = Vec::new();
    if ctx.on <= d.deadline {
        for b in &rules.before_deadline_business_days {
            if ctx.on >= cal.add_business_days(d.deadline, -b) {
                due.push((
                    format!("dispute_reminder:{}:before:{b}", d.id),
                    "dispute_reminder_before",
                    format!("Reminder: dispute {} is due on {}", d.id, d.deadline),
                ));
            }
        }
    }
    for a in &rules.after_deadline_business_days {
        if ctx.on >= cal.add_business_days(d.deadline, *a) {
            due.push((
                format!("dispute_reminder:{}:after:{a}", d.id),
                "dispute_reminder_after",
                format!("Overdue: dispute {} passed its deadline of {}", d.id, d.deadline),
            ));
        }
    }
    let escalate = !d.escalated && ctx.on >= cal.add_business_days(d.deadline, rules.escalate_after_business_days);
    let mut rec = Recorded { kind: "dispute_reminders".into(), record_id: Some(d.id.clone()), ..Recorded::default() };
    if due.is_empty() && !escalate {
        return Ok(rec);
    }
    let mut tx = ctx.store.begin().await?;
    // The first write takes the lock; an escalation already recorded by a concurrent tick is then seen here.
    if escalate {
        let done =
            sqlx::query("UPDATE disputes SET escalated_date = $1 WHERE dispute_id = $2 AND escalated_date IS NULL")
                .bind(ctx.on.to_string())
                .bind(&d.id)
                .execute(&mut *tx)
                .await
                .map_err(|e| ctx.store.err(e))?;
        if done.rows_affected() > 0 {
            let manager = ctx.config.company.ar_manager.clone();
            let text = format!(
                "Dispute {} ({}, owner {owner}) is {} business days past its deadline of {}: escalated",
                d.id,
                d.department,
                cal.business_days_between(d.deadline, ctx.on),
                d.deadline
            );
            let task = cases::new_task(
                ctx,
                &mut tx,
                TaskSpec {
                    kind: "escalation",
                    customer_id: &d.customer_id,
                    documents: &d.documents,
                    role: "ar_manager",
                    assignee: Some(&manager),
                    due: ctx.on,
                    origin: "dispute:escalated",
                    origin_ref: &d.id,
                    note: &text,
                },
            )
            .await?;
            cases::queue_message(
                ctx,
                &mut tx,
                MessageSpec {
                    key: &format!("dispute_escalation:{}", d.id),
                    channel: "email",
                    recipient: ctx.config.company.ar_manager_email.as_deref(),
                    role: "ar_manager",
                    template: "dispute_escalation",
                    customer_id: &d.customer_id,
                    documents: &d.documents,
                    subject: &format!("Escalation: dispute {} is past its deadline", d.id),
                    body: &format!("{text}.\nTask {task} is yours.\n"),
                    origin_ref: &d.id,
                    send_after: None,
                },
            )
            .await?;
            let who = (ctx.actor, ctx.now, ctx.on);
            store::record_event(&mut tx, (&d.customer_id, "dispute_escalated", &d.id), who, Some(&text))
                .await
                .map_err(|e| ctx.store.err(e))?;
            rec.summary.push(format!("{}: escalated to {manager} (task {task})", d.id));
            rec.task_id = Some(task);
        }
    }
    for (key, template, subject) in &due {
        let body = format!(
            "{subject}.\nDepartment: {}; owner: {owner}; documents: {}.\nResolve it with `cobro case resolve {}`.\n",
            d.department, d.documents, d.id
        );
        let sent = cases::queue_message(
            ctx,
            &mut tx,
            MessageSpec {
                key,
                channel: "email",
                recipient: email.as_deref(),
                role: "department",
                template,
                customer_id: &d.customer_id,
                documents: &d.documents,
                subject,
                body: &body,
                origin_ref: &d.id,
                send_after: None,
            },
        )
        .await?;
        if let Some(m) = sent {
            rec.summary.push(format!("{}: {template} to {owner} ({m})", d.id));
        }
    }
    tx.commit().await.map_err(|e| ctx.store.err(e))?;
    Ok(rec)
}
