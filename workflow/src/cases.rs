//! The collection commands: the five contact outcomes of seed 003, and what follows them (cancelling a promise,
//! reopening a payment report, a department's response and resolution, completing a task). Each command checks
//! the ledger (paid and credited documents are refused), asks the state machine, and then writes the status
//! changes, the records, the task, the message and one event per change in a single transaction.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use chrono::{DateTime, Days, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::Serialize;
use sqlx::{AssertSqlSafe, Row};

use crate::config::WorkflowConfig;
use crate::error::CaseError;
use crate::ledger::{Ledger, LedgerCustomer, LedgerDocument};
use crate::status::{self, Status, Transition};
use crate::store::{self, NewEvent, Store, Tx};
use crate::templates::MessageContext;

/// Who is acting, when, and with which configuration and ledger.
#[derive(Debug, Clone, Copy)]
pub struct Ctx<'a> {
    /// The store.
    pub store: &'a Store,
    /// Routing, calendar, thresholds.
    pub config: &'a WorkflowConfig,
    /// The ledger slice the command touches.
    pub ledger: &'a Ledger,
    /// Message templates.
    pub templates: &'a crate::templates::Templates,
    /// Who (a user name, `system`, `import`).
    pub actor: &'a str,
    /// When it is recorded.
    pub now: DateTime<Utc>,
    /// The business date it happened on.
    pub on: NaiveDate,
}

/// One contact outcome and its details.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutcomeKind {
    /// The customer promises to pay `amount` (all the balances when `None`) by `date`.
    PromiseToPay {
        /// Promised date.
        date: NaiveDate,
        /// Promised amount, in the documents' currency.
        amount: Option<Decimal>,
    },
    /// No commitment: follow up in `follow_up_days` (the configured default when `None`).
    NoCommitment {
        /// Days until the follow-up call.
        follow_up_days: Option<i64>,
    },
    /// The customer says it has paid.
    ReportedPaid {
        /// Day it says it paid.
        paid_date: Option<NaiveDate>,
        /// Its payment reference.
        reference: Option<String>,
    },
    /// The customer disputes the documents (or part of one).
    Dispute {
        /// A configured dispute type.
        dispute_type: String,
        /// Disputed amount of a single document; all the balances when `None`.
        amount: Option<Decimal>,
        /// Owner, when not the department's.
        owner: Option<String>,
    },
    /// Nobody could be reached: email the invoices, call back the next business day.
    NoContact,
}

impl OutcomeKind {
    /// The transition it makes.
    pub fn transition(&self) -> Transition {
        match self {
            OutcomeKind::PromiseToPay { .. } => Transition::PromiseToPay,
            OutcomeKind::NoCommitment { .. } => Transition::NoCommitment,
            OutcomeKind::ReportedPaid { .. } => Transition::ReportedPaid,
            OutcomeKind::Dispute { .. } => Transition::Dispute,
            OutcomeKind::NoContact => Transition::NoContact,
        }
    }
}

/// A contact outcome over one or more documents of one customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Customer.
    pub customer_id: String,
    /// Documents it covers.
    pub documents: Vec<String>,
    /// What happened.
    pub kind: OutcomeKind,
    /// The collector's note.
    pub note: Option<String>,
    /// A configured delay-reason code.
    pub delay_reason: Option<String>,
    /// The version of each document the caller decided from (from `cobro case show`); documents not listed use
    /// the version read when the command starts.
    pub expect: BTreeMap<String, i64>,
}

/// One document's change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    /// Document.
    pub document_id: String,
    /// Status before.
    pub before: Status,
    /// Status after.
    pub after: Status,
    /// Its version after the change.
    pub version: i64,
}

/// What a command wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Recorded {
    /// Outcome id (`OUT-n`), when it was a contact outcome.
    pub outcome_id: Option<String>,
    /// What was done.
    pub kind: String,
    /// Status changes.
    pub changes: Vec<Change>,
    /// Record created or changed (promise, report, dispute, task).
    pub record_id: Option<String>,
    /// Task created.
    pub task_id: Option<String>,
    /// Message queued.
    pub message_id: Option<String>,
    /// One line per consequence, for people.
    pub summary: Vec<String>,
}

/// The live state of a document in the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CaseState {
    /// Document.
    pub document_id: String,
    /// Customer.
    pub customer_id: String,
    /// Status.
    pub status: Status,
    /// Record behind the status (promise, report or dispute id).
    pub case_ref: Option<String>,
    /// Version (bumped by every change).
    pub version: i64,
    /// Who changed it last.
    pub updated_by: String,
    /// When.
    pub updated_at: String,
}

/// `$1, $2, ..., $n` starting after `offset` placeholders.
fn placeholders(offset: usize, n: usize) -> String {
    (1..=n).map(|i| format!("${}", offset + i)).collect::<Vec<_>>().join(", ")
}

/// The live states of documents (documents never touched are absent).
pub async fn states(store: &Store, documents: &[String]) -> Result<BTreeMap<String, CaseState>, CaseError> {
    let mut out = BTreeMap::new();
    for chunk in documents.chunks(500) {
        let sql = format!(
            "SELECT document_id, customer_id, status, case_ref, version, updated_by, updated_at FROM invoice_cases \
             WHERE document_id IN ({})",
            placeholders(0, chunk.len())
        );
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for d in chunk {
            q = q.bind(d);
        }
        for row in q.fetch_all(store.pool()).await.map_err(|e| store.err(e))? {
            let s = case_row(&row).map_err(|e| store.err(e))?;
            out.insert(s.document_id.clone(), s);
        }
    }
    Ok(out)
}

/// Every document not in `normal`, with its status: what the dunning planner must not chase.
pub async fn live_statuses(store: &Store) -> Result<BTreeMap<String, Status>, CaseError> {
    let rows = sqlx::query("SELECT document_id, status FROM invoice_cases WHERE status <> 'normal'")
        .fetch_all(store.pool())
        .await
        .map_err(|e| store.err(e))?;
    let mut out = BTreeMap::new();
    for r in &rows {
        let status: String = r.try_get(1).map_err(|e| store.err(e))?;
        let status = Status::parse(&status)
            .ok_or_else(|| store.err(sqlx::Error::Decode(format!("unknown status `{status}`").into())))?;
        out.insert(r.try_get::<String, _>(0).map_err(|e| store.err(e))?, status);
    }
    Ok(out)
}

/// The live states of every document of a customer that the workflow has touched.
pub async fn customer_states(store: &Store, customer_id: &str) -> Result<Vec<CaseState>, CaseError> {
    let rows = sqlx::query(
        "SELECT document_id, customer_id, status, case_ref, version, updated_by, updated_at FROM invoice_cases \
         WHERE customer_id = $1 ORDER BY document_id",
    )
    .bind(customer_id)
    .fetch_all(store.pool())
    .await
    .map_err(|e| store.err(e))?;
    rows.iter().map(|r| case_row(r).map_err(|e| store.err(e))).collect()
}

fn case_row(row: &sqlx::any::AnyRow) -> Result<CaseState, sqlx::Error> {
    let status: String = row.try_get("status")?;
    Ok(CaseState {
        document_id: row.try_get("document_id")?,
        customer_id: row.try_get("customer_id")?,
        status: Status::parse(&status)
            .ok_or_else(|| sqlx::Error::Decode(format!("unknown status `{status}`").into()))?,
        case_ref: row.try_get("case_ref")?,
        version: row.try_get("version")?,
        updated_by: row.try_get("updated_by")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// Checks the documents against the ledger: known, of this customer, receivable, still open.
fn open_documents<'l>(
    ledger: &'l Ledger,
    customer_id: &str,
    ids: &[String],
) -> Result<Vec<&'l LedgerDocument>, CaseError> {
    if ids.is_empty() {
        return Err(CaseError::invalid("--invoices", "name at least one document"));
    }
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for id in ids {
        if !seen.insert(id.as_str()) {
            return Err(CaseError::invalid("--invoices", format!("`{id}` is listed twice")));
        }
        let d = ledger
            .documents
            .get(id)
            .ok_or_else(|| CaseError::UnknownDocument { document_id: id.clone(), as_of: ledger.as_of })?;
        if d.customer_id != customer_id {
            return Err(CaseError::WrongCustomer {
                document_id: id.clone(),
                customer_id: customer_id.to_owned(),
                owner: d.customer_id.clone(),
            });
        }
        if d.kind == "credit_note" {
            return Err(CaseError::NotReceivable { document_id: id.clone(), kind: d.kind.clone() });
        }
        if d.balance <= Decimal::ZERO {
            return Err(CaseError::Settled {
                document_id: id.clone(),
                how: d.settled_how().to_owned(),
                as_of: ledger.as_of,
            });
        }
        out.push(d);
    }
    // Oldest due first: promised amounts are spread in this order.
    out.sort_by(|a, b| (a.due_date, &a.document_id).cmp(&(b.due_date, &b.document_id)));
    Ok(out)
}

fn customer<'l>(ledger: &'l Ledger, customer_id: &str) -> Result<&'l LedgerCustomer, CaseError> {
    ledger
        .customers
        .get(customer_id)
        .ok_or_else(|| CaseError::UnknownCustomer { customer_id: customer_id.to_owned(), as_of: ledger.as_of })
}

fn one_currency(docs: &[&LedgerDocument]) -> Result<String, CaseError> {
    let currencies: BTreeSet<&str> = docs.iter().map(|d| d.currency.as_str()).collect();
    if currencies.len() > 1 {
        let list: Vec<&str> = currencies.into_iter().collect();
        return Err(CaseError::invalid(
            "--amount",
            format!(
                "the documents are in {}; an amount needs documents of one currency (record one outcome per currency)",
                list.join(" and ")
            ),
        ));
    }
    Ok(docs[0].currency.clone())
}

/// Makes sure every document has a case row (status `normal`, version 0) before a transaction reads it. Creating
/// that row changes nothing, so it needs no event.
async fn ensure_cases(ctx: &Ctx<'_>, customer_id: &str, ids: &[&str]) -> Result<(), CaseError> {
    for id in ids {
        sqlx::query(
            "INSERT INTO invoice_cases (document_id, customer_id, status, case_ref, version, updated_at, updated_by) \
             VALUES ($1, $2, 'normal', NULL, 0, $3, $4) ON CONFLICT (document_id) DO NOTHING",
        )
        .bind(*id)
        .bind(customer_id)
        .bind(store::instant(ctx.now))
        .bind(ctx.actor)
        .execute(ctx.store.pool())
        .await
        .map_err(|e| ctx.store.err(e))?;
    }
    Ok(())
}

/// Plans the transition of each document: its state now, the version to compare against, the status after.
async fn plan(
    ctx: &Ctx<'_>,
    customer_id: &str,
    ids: &[&str],
    t: Transition,
    expect: &BTreeMap<String, i64>,
) -> Result<Vec<(CaseState, i64, Status)>, CaseError> {
    ensure_cases(ctx, customer_id, ids).await?;
    let owned: Vec<String> = ids.iter().map(|s| (*s).to_owned()).collect();
    let now = states(ctx.store, &owned).await?;
    let mut out = Vec::new();
    for id in ids {
        let state = now.get(*id).cloned().ok_or_else(|| CaseError::NotFound { what: "case", id: (*id).to_owned() })?;
        let expected = expect.get(*id).copied().unwrap_or(state.version);
        if expected != state.version {
            return Err(conflict(state));
        }
        let after = status::next(state.status, t)
            .map_err(|refused| CaseError::Illegal { document_id: (*id).to_owned(), refused })?;
        out.push((state, expected, after));
    }
    Ok(out)
}

fn conflict(s: CaseState) -> CaseError {
    CaseError::Conflict {
        document_id: s.document_id,
        now: s.status,
        version: s.version,
        by: s.updated_by,
        at: s.updated_at,
    }
}

/// Compare-and-set of one document's status, as the first writes of the transaction. A concurrent writer that
/// got there first leaves zero rows to update: the whole transaction is then abandoned as a conflict.
async fn set_status(
    ctx: &Ctx<'_>,
    tx: &mut Tx,
    document_id: &str,
    expected: i64,
    after: Status,
    case_ref: Option<&str>,
) -> Result<i64, CaseError> {
    let done = sqlx::query(
        "UPDATE invoice_cases SET status = $1, case_ref = $2, version = version + 1, updated_at = $3, updated_by = $4 \
         WHERE document_id = $5 AND version = $6",
    )
    .bind(after.as_str())
    .bind(case_ref)
    .bind(store::instant(ctx.now))
    .bind(ctx.actor)
    .bind(document_id)
    .bind(expected)
    .execute(&mut **tx)
    .await
    .map_err(|e| busy_or(ctx, e))?;
    if done.rows_affected() == 0 {
        // Lost the race: the UPDATE took the write lock, so this read sees the winner's committed change.
        let row = sqlx::query(
            "SELECT document_id, customer_id, status, case_ref, version, updated_by, updated_at FROM invoice_cases \
             WHERE document_id = $1",
        )
        .bind(document_id)
        .fetch_one(&mut **tx)
        .await
        .map_err(|e| ctx.store.err(e))?;
        return Err(conflict(case_row(&row).map_err(|e| ctx.store.err(e))?));
    }
    Ok(expected + 1)
}

fn busy_or(ctx: &Ctx<'_>, e: sqlx::Error) -> CaseError {
    if store::is_busy(&e) {
        CaseError::Store {
            url: ctx.store.url().to_owned(),
            message: format!("the store stayed busy (another writer held it for 10 s): {e}; retry"),
        }
    } else {
        ctx.store.err(e)
    }
}

/// The event of one document's status change (already made by [`set_status`]), and the change to report.
async fn status_event(
    ctx: &Ctx<'_>,
    tx: &mut Tx,
    customer_id: &str,
    (state, after, version): (&CaseState, Status, i64),
    (kind, ref_id): (&str, &str),
    note: Option<&str>,
) -> Result<Change, CaseError> {
    store::append_event(
        tx,
        NewEvent {
            customer_id,
            document_id: Some(&state.document_id),
            kind,
            actor: ctx.actor,
            at: ctx.now,
            on_date: ctx.on,
            before: Some(state.status.as_str()),
            after: Some(after.as_str()),
            ref_id: Some(ref_id),
            note,
            ..NewEvent::default()
        },
    )
    .await
    .map_err(|e| ctx.store.err(e))?;
    Ok(Change { document_id: state.document_id.clone(), before: state.status, after, version })
}

/// Commits the transaction of a command whose writes succeeded; a failed command's transaction is dropped, which
/// rolls everything back.
async fn finish(ctx: &Ctx<'_>, tx: Tx, rec: Result<Recorded, CaseError>) -> Result<Recorded, CaseError> {
    let rec = rec?;
    tx.commit().await.map_err(|e| busy_or(ctx, e))?;
    Ok(rec)
}

/// Records a contact outcome.
pub async fn record_outcome(ctx: &Ctx<'_>, o: &Outcome) -> Result<Recorded, CaseError> {
    let cust = customer(ctx.ledger, &o.customer_id)?;
    let docs = open_documents(ctx.ledger, &o.customer_id, &o.documents)?;
    if let Some(r) = &o.delay_reason {
        ctx.config.delay_reason(r).map_err(|m| CaseError::invalid("--reason", m))?;
    }
    let t = o.kind.transition();
    // Field checks before anything is written.
    let mut shares: Vec<Decimal> = docs.iter().map(|d| d.balance).collect();
    match &o.kind {
        OutcomeKind::PromiseToPay { date, amount } => {
            if *date < ctx.on {
                return Err(CaseError::invalid("--date", format!("{date} is before the day of the call ({})", ctx.on)));
            }
            let limit = ctx.on + Days::new(ctx.config.promises.max_days_ahead.unsigned_abs());
            if *date > limit {
                return Err(CaseError::invalid(
                    "--date",
                    format!(
                        "{date} is more than {} days ahead (after {limit}); that is a payment plan, not a promise",
                        ctx.config.promises.max_days_ahead
                    ),
                ));
            }
            if let Some(a) = amount {
                one_currency(&docs)?;
                shares = spread(*a, &docs)?;
            }
        }
        OutcomeKind::NoCommitment { follow_up_days: Some(n) } if *n < 0 || *n > 365 => {
            return Err(CaseError::invalid("--follow-up-days", format!("{n} is not between 0 and 365")));
        }
        OutcomeKind::ReportedPaid { paid_date: Some(p), .. } if *p > ctx.on => {
            return Err(CaseError::invalid(
                "--paid-date",
                format!("{p} is after the day it was reported ({})", ctx.on),
            ));
        }
        OutcomeKind::Dispute { dispute_type, amount, .. } => {
            ctx.config.dispute_type(dispute_type).map_err(|m| CaseError::invalid("--type", m))?;
            if let Some(a) = amount {
                if docs.len() != 1 {
                    return Err(CaseError::invalid(
                        "--amount",
                        "a partial amount disputes one document; name one invoice, or dispute the full balances",
                    ));
                }
                if *a <= Decimal::ZERO || *a > docs[0].balance {
                    return Err(CaseError::invalid(
                        "--amount",
                        format!(
                            "{a} must be more than 0 and at most the balance {} {}",
                            docs[0].balance, docs[0].currency
                        ),
                    ));
                }
                shares = vec![*a];
            }
        }
        _ => {}
    }
    let ids: Vec<&str> = docs.iter().map(|d| d.document_id.as_str()).collect();
    let planned = plan(ctx, &o.customer_id, &ids, t, &o.expect).await?;
    let note = o.note.as_deref();
    let reason = o.delay_reason.as_deref();
    let mut owned_tx = ctx.store.begin().await?;
    let tx = &mut owned_tx;
    let rec: Result<Recorded, CaseError> = async move {
        let outcome_id = store::next_id(tx, "OUT").await.map_err(|e| ctx.store.err(e))?;
        let record_id = match &o.kind {
            OutcomeKind::PromiseToPay { .. } => Some(store::next_id(tx, "PRM").await.map_err(|e| ctx.store.err(e))?),
            OutcomeKind::ReportedPaid { .. } => Some(store::next_id(tx, "RPT").await.map_err(|e| ctx.store.err(e))?),
            OutcomeKind::Dispute { .. } => Some(store::next_id(tx, "DSP").await.map_err(|e| ctx.store.err(e))?),
            _ => None,
        };
        let mut rec = Recorded { outcome_id: Some(outcome_id.clone()), kind: t.as_str().to_owned(), record_id: record_id.clone(), ..Recorded::default() };
        for ((state, expected, after), (doc, share)) in planned.iter().zip(docs.iter().zip(&shares)) {
            let case_ref = if *after == Status::Normal { None } else { record_id.as_deref().or(state.case_ref.as_deref()) };
            let version = set_status(ctx, tx, &doc.document_id, *expected, *after, case_ref).await?;
            crate::failpoint("case-after-status");
            close_superseded(ctx, tx, state).await?;
            store::append_event(
                tx,
                NewEvent {
                    customer_id: &o.customer_id,
                    document_id: Some(&doc.document_id),
                    kind: t.as_str(),
                    actor: ctx.actor,
                    at: ctx.now,
                    on_date: ctx.on,
                    before: Some(state.status.as_str()),
                    after: Some(after.as_str()),
                    ref_id: record_id.as_deref(),
                    outcome_id: Some(&outcome_id),
                    currency: Some(&doc.currency),
                    amount: Some(share.normalize().to_string()),
                    delay_reason: reason,
                    note,
                },
            )
            .await
            .map_err(|e| ctx.store.err(e))?;
            rec.changes.push(Change { document_id: doc.document_id.clone(), before: state.status, after: *after, version });
        }
        let doc_list = ids.join(",");
        match &o.kind {
            OutcomeKind::PromiseToPay { date, .. } => {
                let id = record_id.as_deref().unwrap_or_default();
                for (doc, share) in docs.iter().zip(&shares) {
                    sqlx::query(
                        "INSERT INTO promises (promise_id, document_id, customer_id, collector_id, made_date, promised_date, \
                         grace_days, currency, amount, state, closed_date) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'pending', NULL)",
                    )
                    .bind(id)
                    .bind(&doc.document_id)
                    .bind(&o.customer_id)
                    .bind(cust.collector_id.as_deref())
                    .bind(ctx.on.to_string())
                    .bind(date.to_string())
                    .bind(ctx.config.promises.grace_days)
                    .bind(&doc.currency)
                    .bind(share.normalize().to_string())
                    .execute(&mut **tx)
                    .await
                    .map_err(|e| ctx.store.err(e))?;
                }
                let total: Decimal = shares.iter().sum();
                rec.summary.push(format!(
                    "promise {id}: {} {} by {date} on {doc_list}; broken if not applied by {} (grace {} days); not chased meanwhile",
                    total.normalize(),
                    docs[0].currency,
                    *date + Days::new(ctx.config.promises.grace_days.unsigned_abs()),
                    ctx.config.promises.grace_days
                ));
            }
            OutcomeKind::NoCommitment { follow_up_days } => {
                let n = follow_up_days.unwrap_or(ctx.config.outcomes.follow_up_days);
                let due = next_working_day_from(ctx, ctx.on + Days::new(n.unsigned_abs()));
                let task = new_task(ctx, tx, TaskSpec {
                    kind: "follow_up",
                    customer_id: &o.customer_id,
                    documents: &doc_list,
                    role: "collector",
                    assignee: cust.collector_id.as_deref(),
                    due,
                    origin: "outcome:no_commitment",
                    origin_ref: &outcome_id,
                    note: "No commitment obtained: call again to get a payment date",
                })
                .await?;
                rec.summary.push(format!("stays normal; follow-up call {task} due {due}"));
                rec.task_id = Some(task);
            }
            OutcomeKind::ReportedPaid { paid_date, reference } => {
                let id = record_id.as_deref().unwrap_or_default();
                for doc in &docs {
                    sqlx::query(
                        "INSERT INTO payment_reports (report_id, document_id, customer_id, collector_id, reported_date, paid_date, \
                         reference, state, closed_date) VALUES ($1, $2, $3, $4, $5, $6, $7, 'open', NULL)",
                    )
                    .bind(id)
                    .bind(&doc.document_id)
                    .bind(&o.customer_id)
                    .bind(cust.collector_id.as_deref())
                    .bind(ctx.on.to_string())
                    .bind(paid_date.map(|d| d.to_string()))
                    .bind(reference.as_deref())
                    .execute(&mut **tx)
                    .await
                    .map_err(|e| ctx.store.err(e))?;
                }
                rec.summary.push(format!(
                    "payment report {id} on {doc_list}; not chased while it is credited; on the reported-not-credited alarm after {} days",
                    ctx.config.payment_reports.credit_wait_days
                ));
            }
            OutcomeKind::Dispute { dispute_type, owner, .. } => {
                let id = record_id.as_deref().unwrap_or_default();
                let ty = ctx.config.dispute_type(dispute_type).map_err(|m| CaseError::invalid("--type", m))?;
                let dept = &ctx.config.departments[&ty.department];
                let owner = owner.clone().unwrap_or_else(|| dept.owner.clone());
                let cal = &ctx.config.calendar;
                let deadline = cal.add_business_days(ctx.on, ty.deadline_business_days);
                let response_due = cal.add_business_days(ctx.on, ty.response_business_days);
                for (doc, share) in docs.iter().zip(&shares) {
                    sqlx::query(
                        "INSERT INTO disputes (dispute_id, document_id, customer_id, collector_id, dispute_type, department, owner, \
                         currency, amount, opened_date, deadline_date, response_due_date) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
                    )
                    .bind(id)
                    .bind(&doc.document_id)
                    .bind(&o.customer_id)
                    .bind(cust.collector_id.as_deref())
                    .bind(dispute_type)
                    .bind(&ty.department)
                    .bind(&owner)
                    .bind(&doc.currency)
                    .bind(share.normalize().to_string())
                    .bind(ctx.on.to_string())
                    .bind(deadline.to_string())
                    .bind(response_due.to_string())
                    .execute(&mut **tx)
                    .await
                    .map_err(|e| ctx.store.err(e))?;
                }
                let task = new_task(ctx, tx, TaskSpec {
                    kind: "resolve_dispute",
                    customer_id: &o.customer_id,
                    documents: &doc_list,
                    role: "department",
                    assignee: Some(&owner),
                    due: deadline,
                    origin: "outcome:dispute",
                    origin_ref: id,
                    note: &format!("Resolve dispute {id} ({dispute_type}): credit note, corrected invoice or rejected"),
                })
                .await?;
                let body = dispute_body(id, dispute_type, &ty.department, &owner, deadline, response_due, &docs, &shares, note);
                let msg = queue_message(ctx, tx, MessageSpec {
                    key: &format!("dispute_opened:{id}"),
                    channel: "email",
                    recipient: dept.email.as_deref(),
                    role: "department",
                    template: "dispute_opened",
                    customer_id: &o.customer_id,
                    documents: &doc_list,
                    subject: &format!("Dispute {id} routed to {}: resolve by {deadline}", ty.department),
                    body: &body,
                    origin_ref: id,
                    send_after: None,
                })
                .await?;
                rec.summary.push(format!(
                    "dispute {id} ({dispute_type}) routed to {} (owner {owner}); first response due {response_due}, resolution due {deadline}; task {task}",
                    ty.department
                ));
                rec.task_id = Some(task);
                rec.message_id = msg;
            }
            OutcomeKind::NoContact => {
                let due = ctx.config.calendar.next_business_day(ctx.on);
                let task = new_task(ctx, tx, TaskSpec {
                    kind: "call",
                    customer_id: &o.customer_id,
                    documents: &doc_list,
                    role: "collector",
                    assignee: cust.collector_id.as_deref(),
                    due,
                    origin: "outcome:no_contact",
                    origin_ref: &outcome_id,
                    note: "Could not reach the customer: call again",
                })
                .await?;
                let (subject, body) = customer_email(ctx, cust, &docs, "no_contact", ("", ""))?;
                let msg = queue_message(ctx, tx, MessageSpec {
                    key: &format!("no_contact:{outcome_id}"),
                    channel: "email",
                    recipient: cust.email.as_deref(),
                    role: "customer",
                    template: "no_contact",
                    customer_id: &o.customer_id,
                    documents: &doc_list,
                    subject: &subject,
                    body: &body,
                    origin_ref: &outcome_id,
                    send_after: None,
                })
                .await?;
                rec.summary.push(format!(
                    "stays normal; email {} to {}; call-back task {task} due {due}",
                    msg.as_deref().unwrap_or("(already queued)"),
                    cust.email.as_deref().unwrap_or("(no address: the message will fail visibly)")
                ));
                rec.task_id = Some(task);
                rec.message_id = msg;
            }
        }
        Ok(rec)
    }
    .await;
    finish(ctx, owned_tx, rec).await
}

/// Spreads a promised amount over the documents, oldest due first, each up to its balance. Every document must
/// get part of it: one the amount does not reach is not promised and should not leave collection.
fn spread(amount: Decimal, docs: &[&LedgerDocument]) -> Result<Vec<Decimal>, CaseError> {
    let total: Decimal = docs.iter().map(|d| d.balance).sum();
    if amount <= Decimal::ZERO || amount > total {
        return Err(CaseError::invalid(
            "--amount",
            format!(
                "{} must be more than 0 and at most the open balance {} {}",
                amount.normalize(),
                total.normalize(),
                docs[0].currency
            ),
        ));
    }
    let mut left = amount;
    let mut out = Vec::new();
    for d in docs {
        let share = left.min(d.balance);
        if share <= Decimal::ZERO {
            return Err(CaseError::invalid(
                "--amount",
                format!(
                    "{} is used up by the older documents before `{}`; leave `{}` out of the promise, or promise more",
                    amount.normalize(),
                    d.document_id,
                    d.document_id
                ),
            ));
        }
        left -= share;
        out.push(share);
    }
    Ok(out)
}

/// Closes the record a document leaves when an outcome replaces its status (a promise superseded by a dispute,
/// a payment report superseded by a dispute).
async fn close_superseded(ctx: &Ctx<'_>, tx: &mut Tx, before: &CaseState) -> Result<(), CaseError> {
    let (Some(r), table, key, open) = (match before.status {
        Status::Promise => (before.case_ref.as_deref(), "promises", "promise_id", "pending"),
        Status::PaymentReported => (before.case_ref.as_deref(), "payment_reports", "report_id", "open"),
        _ => (None, "", "", ""),
    }) else {
        return Ok(());
    };
    sqlx::query(AssertSqlSafe(format!(
        "UPDATE {table} SET state = 'superseded', closed_date = $1 WHERE {key} = $2 AND document_id = $3 AND state = '{open}'"
    )))
    .bind(ctx.on.to_string())
    .bind(r)
    .bind(&before.document_id)
    .execute(&mut **tx)
    .await
    .map_err(|e| ctx.store.err(e))?;
    Ok(())
}

fn next_working_day_from(ctx: &Ctx<'_>, d: NaiveDate) -> NaiveDate {
    if ctx.config.calendar.is_business_day(d) { d } else { ctx.config.calendar.next_business_day(d) }
}

/// A task to create.
pub(crate) struct TaskSpec<'a> {
    pub kind: &'a str,
    pub customer_id: &'a str,
    pub documents: &'a str,
    pub role: &'a str,
    pub assignee: Option<&'a str>,
    pub due: NaiveDate,
    pub origin: &'a str,
    pub origin_ref: &'a str,
    pub note: &'a str,
}

/// Creates a task and its `task_created` event.
pub(crate) async fn new_task(ctx: &Ctx<'_>, tx: &mut Tx, t: TaskSpec<'_>) -> Result<String, CaseError> {
    let id = store::next_id(tx, "TSK").await.map_err(|e| ctx.store.err(e))?;
    sqlx::query(
        "INSERT INTO tasks (task_id, kind, customer_id, document_ids, assignee_role, assignee, due_date, state, origin, \
         origin_ref, created_date, closed_date, note) VALUES ($1, $2, $3, $4, $5, $6, $7, 'open', $8, $9, $10, NULL, $11)",
    )
    .bind(&id)
    .bind(t.kind)
    .bind(t.customer_id)
    .bind(t.documents)
    .bind(t.role)
    .bind(t.assignee)
    .bind(t.due.to_string())
    .bind(t.origin)
    .bind(t.origin_ref)
    .bind(ctx.on.to_string())
    .bind(t.note)
    .execute(&mut **tx)
    .await
    .map_err(|e| ctx.store.err(e))?;
    let note = format!("{} for {} {} due {}", t.kind, t.role, t.assignee.unwrap_or("(unassigned)"), t.due);
    store::record_event(tx, (t.customer_id, "task_created", &id), (ctx.actor, ctx.now, ctx.on), Some(&note))
        .await
        .map_err(|e| ctx.store.err(e))?;
    Ok(id)
}

/// A message to queue.
pub(crate) struct MessageSpec<'a> {
    pub key: &'a str,
    pub channel: &'a str,
    pub recipient: Option<&'a str>,
    pub role: &'a str,
    pub template: &'a str,
    pub customer_id: &'a str,
    pub documents: &'a str,
    pub subject: &'a str,
    pub body: &'a str,
    pub origin_ref: &'a str,
    /// Not before this instant (UTC), counted on this local date; `None` to go at once.
    pub send_after: Option<(String, NaiveDate)>,
}

/// Queues a message in the outbox under its idempotency key, with a `message_queued` event. Returns `None` when
/// a message with that key exists already: it is never queued twice.
pub(crate) async fn queue_message(ctx: &Ctx<'_>, tx: &mut Tx, m: MessageSpec<'_>) -> Result<Option<String>, CaseError> {
    let id = store::next_id(tx, "MSG").await.map_err(|e| ctx.store.err(e))?;
    // No address: the message is kept, failed, so that nobody believes it went out.
    let state = if m.recipient.is_some_and(|r| !r.trim().is_empty()) { "queued" } else { "failed" };
    let done = sqlx::query(
        "INSERT INTO messages (message_id, idempotency_key, channel, recipient, recipient_role, template, customer_id, \
         document_ids, subject, body, state, attempts, created_date, origin_ref, send_after, send_date) \
         VALUES ($1, $2, $13, $3, $4, $5, $6, $7, $8, $9, $10, 0, $11, $12, $14, $15) ON CONFLICT (idempotency_key) DO NOTHING",
    )
    .bind(&id)
    .bind(m.key)
    .bind(m.recipient)
    .bind(m.role)
    .bind(m.template)
    .bind(m.customer_id)
    .bind(m.documents)
    .bind(m.subject)
    .bind(m.body)
    .bind(state)
    .bind(ctx.on.to_string())
    .bind(m.origin_ref)
    .bind(m.channel)
    .bind(m.send_after.as_ref().map(|(t, _)| t.clone()))
    .bind(m.send_after.as_ref().map(|(_, d)| d.to_string()))
    .execute(&mut **tx)
    .await
    .map_err(|e| ctx.store.err(e))?;
    if done.rows_affected() == 0 {
        return Ok(None);
    }
    let note = format!("{} to {} {}: {}", m.template, m.role, m.recipient.unwrap_or("(no address)"), m.subject);
    let kind = if state == "queued" { "message_queued" } else { "message_failed" };
    store::record_event(tx, (m.customer_id, kind, &id), (ctx.actor, ctx.now, ctx.on), Some(&note))
        .await
        .map_err(|e| ctx.store.err(e))?;
    Ok(Some(id))
}

/// A customer email about `docs` from template `name`, in the customer's language (the company's when it has none).
pub(crate) fn customer_email(
    ctx: &Ctx<'_>,
    cust: &LedgerCustomer,
    docs: &[&LedgerDocument],
    name: &str,
    strategy_step: (&str, &str),
) -> Result<(String, String), CaseError> {
    let lang = ctx.templates.language(cust.language.as_deref(), &ctx.config.company.language);
    let m = MessageContext::new(ctx.config, (&cust.customer_id, &cust.name), docs, ctx.on, "customer", strategy_step);
    Ok(ctx.templates.render(lang, name, &m)?)
}

#[allow(clippy::too_many_arguments)]
fn dispute_body(
    id: &str,
    ty: &str,
    dept: &str,
    owner: &str,
    deadline: NaiveDate,
    response_due: NaiveDate,
    docs: &[&LedgerDocument],
    shares: &[Decimal],
    note: Option<&str>,
) -> String {
    let mut body = format!(
        "Dispute {id} ({ty}) has been routed to {dept}, owner {owner}.\nFirst response due {response_due}; resolution due {deadline}.\n\nDocument | Disputed | Balance\n"
    );
    for (d, s) in docs.iter().zip(shares) {
        let _ = writeln!(
            body,
            "{} | {} {} | {} {}",
            d.document_id,
            s.round_dp(2),
            d.currency,
            d.balance.round_dp(2),
            d.currency
        );
    }
    if let Some(n) = note {
        let _ = write!(body, "\nCollector's note: {n}\n");
    }
    body.push_str("\nResolve it with `cobro case resolve` (credit_note, corrected_invoice or rejected).\n");
    body
}

/// The documents currently under a record (promise, report, dispute), with their case state.
async fn under_record(
    ctx: &Ctx<'_>,
    table: &str,
    key: &str,
    id: &str,
    open: &str,
) -> Result<Vec<(String, String)>, CaseError> {
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT document_id, customer_id FROM {table} WHERE {key} = $1 AND state = '{open}' ORDER BY document_id"
    )))
    .bind(id)
    .fetch_all(ctx.store.pool())
    .await
    .map_err(|e| ctx.store.err(e))?;
    rows.iter()
        .map(|r| Ok((r.try_get::<String, _>(0)?, r.try_get::<String, _>(1)?)))
        .collect::<Result<_, sqlx::Error>>()
        .map_err(|e| ctx.store.err(e))
}

/// Moves every document of a record back to `normal` through transition `t`, closing the record's rows with
/// `new_state`. Shared by cancel-promise, promise kept/broken, report credited/reopened.
pub(crate) async fn close_record(
    ctx: &Ctx<'_>,
    t: Transition,
    record: (&str, &str, &str),
    id: &str,
    new_state: &str,
    note: Option<&str>,
) -> Result<Recorded, CaseError> {
    let (table, key, open) = record;
    let what = if table == "promises" { "pending promise" } else { "open payment report" };
    let docs = under_record(ctx, table, key, id, open).await?;
    if docs.is_empty() {
        return Err(CaseError::NotFound { what, id: id.to_owned() });
    }
    let customer_id = docs[0].1.clone();
    let ids: Vec<&str> = docs.iter().map(|(d, _)| d.as_str()).collect();
    let planned = plan(ctx, &customer_id, &ids, t, &BTreeMap::new()).await?;
    let mut owned_tx = ctx.store.begin().await?;
    let tx = &mut owned_tx;
    let rec: Result<Recorded, CaseError> = async move {
        let mut rec = Recorded { kind: t.as_str().to_owned(), record_id: Some(id.to_owned()), ..Recorded::default() };
        for (state, expected, after) in &planned {
            let version = set_status(ctx, tx, &state.document_id, *expected, *after, None).await?;
            sqlx::query(AssertSqlSafe(format!(
                "UPDATE {table} SET state = $1, closed_date = $2 WHERE {key} = $3 AND document_id = $4 AND state = '{open}'"
            )))
            .bind(new_state)
            .bind(ctx.on.to_string())
            .bind(id)
            .bind(&state.document_id)
            .execute(&mut **tx)
            .await
            .map_err(|e| ctx.store.err(e))?;
            rec.changes.push(status_event(ctx, tx, &customer_id, (state, *after, version), (t.as_str(), id), note).await?);
        }
        rec.summary.push(format!("{id}: {new_state}; {} back to normal", ids.join(", ")));
        if t == Transition::PromiseBroken || t == Transition::ReportReopened {
            let cust = ctx.ledger.customers.get(&customer_id).cloned().unwrap_or_default();
            let (origin, text) = if t == Transition::PromiseBroken {
                ("promise:broken", format!("Promise {id} broken: call the customer today"))
            } else {
                ("report:reopened", format!("Payment report {id} was never credited: ask the customer for the remittance"))
            };
            let task = new_task(ctx, tx, TaskSpec {
                kind: "call",
                customer_id: &customer_id,
                documents: &ids.join(","),
                role: "collector",
                assignee: cust.collector_id.as_deref(),
                due: next_working_day_from(ctx, ctx.on),
                origin,
                origin_ref: id,
                note: &text,
            })
            .await?;
            rec.summary.push(format!("task {task}: {text}"));
            rec.task_id = Some(task);
        }
        Ok(rec)
    }
    .await;
    finish(ctx, owned_tx, rec).await
}

/// Withdraws a pending promise (recorded by mistake, or to record a renegotiated one).
pub async fn cancel_promise(ctx: &Ctx<'_>, promise_id: &str, note: Option<&str>) -> Result<Recorded, CaseError> {
    close_record(
        ctx,
        Transition::PromiseCancelled,
        ("promises", "promise_id", "pending"),
        promise_id,
        "cancelled",
        note,
    )
    .await
}

/// Reopens a payment report whose payment never arrived: the documents go back to collection, with a call task.
pub async fn reopen_report(ctx: &Ctx<'_>, report_id: &str, note: Option<&str>) -> Result<Recorded, CaseError> {
    close_record(ctx, Transition::ReportReopened, ("payment_reports", "report_id", "open"), report_id, "reopened", note)
        .await
}

/// An open dispute's rows.
#[derive(Debug, Clone)]
struct DisputeHead {
    customer_id: String,
    documents: Vec<String>,
    first_response: Option<String>,
}

async fn open_dispute(ctx: &Ctx<'_>, dispute_id: &str) -> Result<DisputeHead, CaseError> {
    let rows = sqlx::query(
        "SELECT document_id, customer_id, first_response_date, resolved_date FROM disputes WHERE dispute_id = $1 ORDER BY document_id",
    )
    .bind(dispute_id)
    .fetch_all(ctx.store.pool())
    .await
    .map_err(|e| ctx.store.err(e))?;
    if rows.is_empty() {
        return Err(CaseError::NotFound { what: "dispute", id: dispute_id.to_owned() });
    }
    let get = |r: &sqlx::any::AnyRow, i: usize| r.try_get::<Option<String>, _>(i).map_err(|e| ctx.store.err(e));
    if let Some(resolved) = get(&rows[0], 3)? {
        return Err(CaseError::invalid("dispute", format!("`{dispute_id}` was already resolved on {resolved}")));
    }
    Ok(DisputeHead {
        customer_id: get(&rows[0], 1)?.unwrap_or_default(),
        documents: rows.iter().map(|r| get(r, 0).map(Option::unwrap_or_default)).collect::<Result<_, _>>()?,
        first_response: get(&rows[0], 2)?,
    })
}

/// Records the department's first response to a dispute (the response-time target counts to it).
pub async fn respond_dispute(ctx: &Ctx<'_>, dispute_id: &str, note: Option<&str>) -> Result<Recorded, CaseError> {
    let head = open_dispute(ctx, dispute_id).await?;
    if let Some(d) = head.first_response {
        return Err(CaseError::invalid("dispute", format!("`{dispute_id}` already has its first response, on {d}")));
    }
    let mut tx = ctx.store.begin().await?;
    sqlx::query("UPDATE disputes SET first_response_date = $1 WHERE dispute_id = $2 AND first_response_date IS NULL")
        .bind(ctx.on.to_string())
        .bind(dispute_id)
        .execute(&mut *tx)
        .await
        .map_err(|e| busy_or(ctx, e))?;
    store::record_event(
        &mut tx,
        (&head.customer_id, "dispute_response", dispute_id),
        (ctx.actor, ctx.now, ctx.on),
        note,
    )
    .await
    .map_err(|e| ctx.store.err(e))?;
    tx.commit().await.map_err(|e| busy_or(ctx, e))?;
    Ok(Recorded {
        kind: "dispute_response".into(),
        record_id: Some(dispute_id.to_owned()),
        summary: vec![format!("{dispute_id}: first response on {}", ctx.on)],
        ..Recorded::default()
    })
}

/// How a dispute ends.
pub const RESOLUTIONS: &[&str] = &["credit_note", "corrected_invoice", "rejected"];

/// Resolves a dispute: its documents re-enter collection (`normal`), its open tasks are done.
pub async fn resolve_dispute(
    ctx: &Ctx<'_>,
    dispute_id: &str,
    resolution: &str,
    note: Option<&str>,
) -> Result<Recorded, CaseError> {
    if !RESOLUTIONS.contains(&resolution) {
        return Err(CaseError::invalid(
            "--resolution",
            format!("`{resolution}` is not one of {}", RESOLUTIONS.join(", ")),
        ));
    }
    let head = open_dispute(ctx, dispute_id).await?;
    let ids: Vec<&str> = head.documents.iter().map(String::as_str).collect();
    // Documents moved on since (a later outcome) keep their status; the others leave the dispute.
    let now = states(ctx.store, &head.documents).await?;
    let in_dispute: Vec<&str> = ids
        .iter()
        .copied()
        .filter(|d| {
            now.get(*d).is_some_and(|s| s.status == Status::Dispute && s.case_ref.as_deref() == Some(dispute_id))
        })
        .collect();
    let planned = plan(ctx, &head.customer_id, &in_dispute, Transition::DisputeResolved, &BTreeMap::new()).await?;
    let mut owned_tx = ctx.store.begin().await?;
    let tx = &mut owned_tx;
    let rec: Result<Recorded, CaseError> = async move {
        let mut rec = Recorded { kind: "dispute_resolved".into(), record_id: Some(dispute_id.to_owned()), ..Recorded::default() };
        for (state, expected, after) in &planned {
            let version = set_status(ctx, tx, &state.document_id, *expected, *after, None).await?;
            let why = Some(note.unwrap_or(resolution));
            let change = (state, *after, version);
            rec.changes.push(status_event(ctx, tx, &head.customer_id, change, ("dispute_resolved", dispute_id), why).await?);
        }
        sqlx::query(
            "UPDATE disputes SET resolved_date = $1, resolution = $2, first_response_date = COALESCE(first_response_date, $1) \
             WHERE dispute_id = $3",
        )
        .bind(ctx.on.to_string())
        .bind(resolution)
        .bind(dispute_id)
        .execute(&mut **tx)
        .await
        .map_err(|e| ctx.store.err(e))?;
        let closed = sqlx::query("UPDATE tasks SET state = 'done', closed_date = $1 WHERE origin_ref = $2 AND state = 'open'")
            .bind(ctx.on.to_string())
            .bind(dispute_id)
            .execute(&mut **tx)
            .await
            .map_err(|e| ctx.store.err(e))?;
        rec.summary.push(format!(
            "{dispute_id} resolved ({resolution}) on {}; {} back in collection; {} open task(s) closed",
            ctx.on,
            if in_dispute.is_empty() { "no document".to_owned() } else { in_dispute.join(", ") },
            closed.rows_affected()
        ));
        Ok(rec)
    }
    .await;
    finish(ctx, owned_tx, rec).await
}

/// A message the customer wrote in the portal: on the customer's timeline (`customer_message`), with a
/// `reply_customer` task for the account's collector due the next business day.
pub async fn customer_message(ctx: &Ctx<'_>, customer_id: &str, text: &str) -> Result<Recorded, CaseError> {
    let text = text.trim();
    if text.is_empty() || text.chars().count() > 4000 {
        return Err(CaseError::invalid("message", "write between 1 and 4000 characters".to_owned()));
    }
    let collector = ctx.ledger.customers.get(customer_id).and_then(|c| c.collector_id.clone());
    let mut tx = ctx.store.begin().await?;
    let event = store::record_event(
        &mut tx,
        (customer_id, "customer_message", "portal"),
        (ctx.actor, ctx.now, ctx.on),
        Some(text),
    )
    .await
    .map_err(|e| ctx.store.err(e))?;
    let task = new_task(
        ctx,
        &mut tx,
        TaskSpec {
            kind: "reply_customer",
            customer_id,
            documents: "",
            role: "collector",
            assignee: collector.as_deref(),
            due: ctx.config.calendar.next_business_day(ctx.on),
            origin: "portal",
            origin_ref: &event,
            note: text,
        },
    )
    .await?;
    tx.commit().await.map_err(|e| busy_or(ctx, e))?;
    Ok(Recorded {
        kind: "customer_message".into(),
        record_id: Some(event),
        task_id: Some(task.clone()),
        summary: vec![format!("message received; {task} asks the collector to reply")],
        ..Recorded::default()
    })
}

/// Marks a task done.
pub async fn complete_task(ctx: &Ctx<'_>, task_id: &str, note: Option<&str>) -> Result<Recorded, CaseError> {
    let mut tx = ctx.store.begin().await?;
    let done = sqlx::query("UPDATE tasks SET state = 'done', closed_date = $1 WHERE task_id = $2 AND state = 'open'")
        .bind(ctx.on.to_string())
        .bind(task_id)
        .execute(&mut *tx)
        .await
        .map_err(|e| busy_or(ctx, e))?;
    if done.rows_affected() == 0 {
        drop(tx);
        let state: Option<String> = sqlx::query_scalar("SELECT state FROM tasks WHERE task_id = $1")
            .bind(task_id)
            .fetch_optional(ctx.store.pool())
            .await
            .map_err(|e| ctx.store.err(e))?;
        return Err(match state {
            None => CaseError::NotFound { what: "task", id: task_id.to_owned() },
            Some(s) => CaseError::invalid("task", format!("`{task_id}` is {s}, not open")),
        });
    }
    let customer: String = sqlx::query_scalar("SELECT customer_id FROM tasks WHERE task_id = $1")
        .bind(task_id)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| ctx.store.err(e))?;
    store::record_event(&mut tx, (&customer, "task_done", task_id), (ctx.actor, ctx.now, ctx.on), note)
        .await
        .map_err(|e| ctx.store.err(e))?;
    tx.commit().await.map_err(|e| busy_or(ctx, e))?;
    Ok(Recorded {
        kind: "task_done".into(),
        task_id: Some(task_id.to_owned()),
        summary: vec![format!("{task_id} done")],
        ..Recorded::default()
    })
}
