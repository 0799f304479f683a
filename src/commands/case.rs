//! `cobro case …`: the collection workflow from the command line. Each command reads the ledger slice it needs
//! from a snapshot (so paid and credited documents are refused), then hands it to `cobro_workflow`.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use cobro_domain::clock::{Clock, SystemClock};
use cobro_workflow::cases::{self, Ctx as CaseCtx, Outcome, OutcomeKind, Recorded};
use cobro_workflow::tick::{self, SegmentRow, TickInputs};
use cobro_workflow::{Store, WorkflowConfig};

use super::{Ctx, Opened};
use crate::Done;
use crate::cli::{CaseAction, OutcomeArgs, Recording};

use cobro_app::ledger::{load_ledger, text_rows};

fn actor(rec: &Recording) -> String {
    super::actor(rec.by.as_deref())
}

fn business_date(rec: &Recording) -> NaiveDate {
    rec.on.map(|d| d.date()).unwrap_or_else(|| SystemClock.now().date_naive())
}

/// Everything a recording command needs, opened once.
struct Session<'c> {
    store: Store,
    config: &'c WorkflowConfig,
    opened: Opened,
}

async fn open(ctx: &Ctx, as_of: Option<cobro_domain::AsOf>) -> anyhow::Result<Session<'_>> {
    let config = ctx.workflow()?;
    let opened = ctx.open(as_of).await?;
    let store = ctx.store().await?;
    Ok(Session { store, config, opened })
}

fn outcome_of(o: &OutcomeArgs, kind: OutcomeKind) -> anyhow::Result<Outcome> {
    let mut expect = BTreeMap::new();
    for pair in &o.expect_version {
        let (doc, v) = pair
            .split_once('=')
            .ok_or_else(|| anyhow::anyhow!("--expect-version `{pair}`: write DOC=VERSION, e.g. INV-1=2"))?;
        let v: i64 =
            v.parse().map_err(|_| anyhow::anyhow!("--expect-version `{pair}`: `{v}` is not a version number"))?;
        expect.insert(doc.to_owned(), v);
    }
    Ok(Outcome {
        customer_id: o.customer.clone(),
        documents: o.invoices.clone(),
        kind,
        note: o.rec.note.clone(),
        delay_reason: o.reason.clone(),
        expect,
    })
}

pub(crate) fn print_recorded(r: &Recorded, json: bool) -> anyhow::Result<()> {
    if json {
        out!("{}", serde_json::to_string_pretty(r)?)?;
        return Ok(());
    }
    let head = match &r.outcome_id {
        Some(id) => format!("{} recorded ({id})", r.kind),
        None => format!("{} recorded", r.kind),
    };
    out!("{head}")?;
    for c in &r.changes {
        out!("  {}: {} → {} (version {})", c.document_id, c.before, c.after, c.version)?;
    }
    for s in &r.summary {
        out!("  {s}")?;
    }
    Ok(())
}

/// `cobro case …`.
pub async fn run(ctx: &Ctx, action: CaseAction) -> anyhow::Result<Done> {
    match action {
        CaseAction::Promise { date, amount, o } => {
            outcome(ctx, &o, OutcomeKind::PromiseToPay { date: date.date(), amount }).await
        }
        CaseAction::NoCommitment { follow_up_days, o } => {
            outcome(ctx, &o, OutcomeKind::NoCommitment { follow_up_days }).await
        }
        CaseAction::ReportedPaid { paid_date, reference, o } => {
            outcome(ctx, &o, OutcomeKind::ReportedPaid { paid_date: paid_date.map(|d| d.date()), reference }).await
        }
        CaseAction::Dispute { dispute_type, amount, owner, o } => {
            outcome(ctx, &o, OutcomeKind::Dispute { dispute_type, amount, owner }).await
        }
        CaseAction::NoContact { o } => outcome(ctx, &o, OutcomeKind::NoContact).await,
        CaseAction::CancelPromise { promise, rec } => {
            on_record(ctx, &rec, "promises", "promise_id", &promise, async |c| {
                cases::cancel_promise(c, &promise, rec.note.as_deref()).await
            })
            .await
        }
        CaseAction::ReopenReport { report, rec } => {
            on_record(ctx, &rec, "payment_reports", "report_id", &report, async |c| {
                cases::reopen_report(c, &report, rec.note.as_deref()).await
            })
            .await
        }
        CaseAction::Respond { dispute, rec } => {
            on_record(ctx, &rec, "disputes", "dispute_id", &dispute, async |c| {
                cases::respond_dispute(c, &dispute, rec.note.as_deref()).await
            })
            .await
        }
        CaseAction::Resolve { dispute, resolution, rec } => {
            on_record(ctx, &rec, "disputes", "dispute_id", &dispute, async |c| {
                cases::resolve_dispute(c, &dispute, &resolution, rec.note.as_deref()).await
            })
            .await
        }
        CaseAction::TaskDone { task, rec } => {
            on_record(ctx, &rec, "tasks", "task_id", &task, async |c| {
                cases::complete_task(c, &task, rec.note.as_deref()).await
            })
            .await
        }
        CaseAction::Tick { rec } => run_tick(ctx, &rec).await,
        CaseAction::Show { customer, json } => super::case_views::show(ctx, &customer, json).await,
        CaseAction::Tasks { assignee, all } => super::case_views::tasks(ctx, assignee.as_deref(), all).await,
        CaseAction::Report { as_of, format } => super::case_views::report(ctx, as_of, format).await,
        CaseAction::Import { disputes, promises, max_reject_rate, as_of } => {
            super::case_import::run(ctx, disputes, promises, max_reject_rate, as_of).await
        }
    }
}

async fn outcome(ctx: &Ctx, o: &OutcomeArgs, kind: OutcomeKind) -> anyhow::Result<Done> {
    let outcome = outcome_of(o, kind)?;
    let docs: BTreeSet<String> = outcome.documents.iter().cloned().collect();
    let custs = BTreeSet::from([outcome.customer_id.clone()]);
    on_ledger(ctx, &o.rec, Slice::Ids(docs, custs), async |c| cases::record_outcome(c, &outcome).await).await
}

/// Which part of the ledger a command needs.
enum Slice<'a> {
    /// These documents and customers.
    Ids(BTreeSet<String>, BTreeSet<String>),
    /// The documents of one record: (store table, key column, id).
    Record(&'a str, &'a str, &'a str),
}

/// Commands on an existing record (promise, report, dispute, task): the ledger slice is its documents.
async fn on_record<F>(ctx: &Ctx, rec: &Recording, table: &str, key: &str, id: &str, body: F) -> anyhow::Result<Done>
where
    F: for<'c> AsyncFnOnce(&'c CaseCtx<'c>) -> Result<Recorded, cobro_workflow::CaseError>,
{
    on_ledger(ctx, rec, Slice::Record(table, key, id), body).await
}

/// Opens the snapshot and the store, reads the ledger slice, runs one workflow command and prints what it did.
async fn on_ledger<F>(ctx: &Ctx, rec: &Recording, slice: Slice<'_>, body: F) -> anyhow::Result<Done>
where
    F: for<'c> AsyncFnOnce(&'c CaseCtx<'c>) -> Result<Recorded, cobro_workflow::CaseError>,
{
    let s = open(ctx, rec.as_of).await?;
    let (docs, custs) = match slice {
        Slice::Ids(d, c) => (d, c),
        Slice::Record(table, key, id) => cobro_workflow::export::record_documents(&s.store, table, key, id).await?,
    };
    let ledger = load_ledger(&s.opened.session, s.opened.manifest.as_of.date(), &docs, &custs).await?;
    let who = actor(rec);
    let c = CaseCtx {
        store: &s.store,
        config: s.config,
        ledger: &ledger,
        templates: ctx.templates()?,
        actor: &who,
        now: SystemClock.now(),
        on: business_date(rec),
    };
    let r = body(&c).await?;
    s.store.close().await;
    print_recorded(&r, rec.json)?;
    Ok(Done::Clean)
}

/// `cobro case tick`: evaluates promises and reports against the snapshot's ledger with the store's live
/// records, then lets the workflow act.
async fn run_tick(ctx: &Ctx, rec: &Recording) -> anyhow::Result<Done> {
    let config = ctx.workflow()?;
    let store = ctx.store().await?;
    let opened = ctx.open_live(rec.as_of).await?;
    let as_of = opened.manifest.as_of.date();
    let on = rec.on.map(|d| d.date()).unwrap_or(as_of);
    let mut inputs = TickInputs::default();
    for r in text_rows(&opened.session, "SELECT promise_id, status FROM promise_outcomes").await? {
        if let (Some(id), Some(status)) = (r[0].clone(), r[1].clone()) {
            inputs.promise_status.insert(id, status);
        }
    }
    let settled = "SELECT DISTINCT r.document_id FROM payment_reports r \
                   WHERE NOT EXISTS (SELECT 1 FROM open_items o WHERE o.document_id = r.document_id)";
    for r in text_rows(&opened.session, settled).await? {
        if let Some(d) = r[0].clone() {
            inputs.settled_documents.insert(d);
        }
    }
    let segments =
        "SELECT customer_id, segment, overlays, effective_segment, reasons FROM segments ORDER BY customer_id";
    for r in text_rows(&opened.session, segments).await? {
        let s = |i: usize| r[i].clone().unwrap_or_default();
        inputs.segments.push(SegmentRow {
            customer_id: s(0),
            segment: s(1),
            overlays: s(2),
            effective_segment: s(3),
            reasons: s(4),
        });
    }
    let (docs, custs) = cobro_workflow::export::live_documents(&store).await?;
    let ledger = load_ledger(&opened.session, as_of, &docs, &custs).await?;
    let who = rec.by.clone().unwrap_or_else(|| "system".to_owned());
    let templates = ctx.templates()?;
    let c = CaseCtx { store: &store, config, ledger: &ledger, templates, actor: &who, now: SystemClock.now(), on };
    let report = tick::tick(&c, &inputs).await?;
    store.close().await;
    if rec.json {
        out!("{}", serde_json::to_string_pretty(&report)?)?;
        return Ok(Done::Clean);
    }
    out!(
        "tick on {on} over the snapshot as of {as_of}: {} action(s), {} skipped, {} segment change(s)",
        report.actions.len(),
        report.skipped.len(),
        report.segment_changes
    )?;
    for a in &report.actions {
        for c in &a.changes {
            out!("  {} {}: {} → {}", a.kind, c.document_id, c.before, c.after)?;
        }
        for s in &a.summary {
            out!("  {s}")?;
        }
    }
    for (id, why) in &report.skipped {
        out!("  skipped {id}: {why}")?;
    }
    Ok(Done::Clean)
}
