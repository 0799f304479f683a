//! `cobro dunning plan`: the planner fed from a snapshot (documents, customers, segments, unapplied cash) and the
//! operational store (statuses, messages already sent), printed as a dry run.

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;

use anyhow::Context as _;
use chrono::{DateTime, NaiveDate, Utc};
use cobro_domain::clock::{Clock, SystemClock};
use cobro_workflow::Status;
use cobro_workflow::cases::Ctx as CaseCtx;
use cobro_workflow::executor;
use cobro_workflow::planner::{self, Feed, PlanCustomer, PlanInputs};
use cobro_workflow::strategy::StrategySet;
use rust_decimal::Decimal;

use super::case::text_rows;
use super::{Ctx, Opened};
use crate::Done;
use crate::cli::{DunningAction, DunningRun, Format};

pub async fn run(ctx: &Ctx, action: DunningAction) -> anyhow::Result<Done> {
    match action {
        DunningAction::Plan { run, format } => {
            let built = build(ctx, &run).await?;
            if format == Format::Json {
                out!("{}", serde_json::to_string_pretty(&built.plan)?)?;
            } else {
                print_table(&built.plan, built.now, built.as_of)?;
            }
        }
        DunningAction::Run { run } => {
            let built = build(ctx, &run).await?;
            let config = ctx.workflow()?;
            let store = ctx.store().await?;
            let tz: chrono_tz::Tz = config.company.timezone.parse().unwrap_or(chrono_tz::UTC);
            let ledger = cobro_workflow::Ledger { as_of: built.as_of, ..Default::default() };
            let c = CaseCtx {
                store: &store,
                config,
                ledger: &ledger,
                actor: "dunning",
                now: built.now,
                on: built.now.with_timezone(&tz).date_naive(),
            };
            let report = executor::record(&c, &built.plan).await?;
            store.close().await;
            out!(
                "dunning run at {} over the snapshot as of {}: {} message(s) queued, {} task(s) created, {} action(s) already recorded by another run, {} step key(s) superseded",
                built.now,
                built.as_of,
                report.messages.len(),
                report.tasks.len(),
                report.already_recorded,
                report.superseded
            )?;
        }
    }
    Ok(Done::Clean)
}

/// A plan and what it was made at.
struct Built {
    plan: planner::Plan,
    now: DateTime<Utc>,
    as_of: NaiveDate,
}

async fn build(ctx: &Ctx, run: &DunningRun) -> anyhow::Result<Built> {
    let (as_of, at) = (run.as_of, run.at);
    let strategies = match run.strategies.as_deref() {
        Some(dir) => StrategySet::load_dir(dir)?,
        None => StrategySet::builtin(),
    };
    let config = ctx.workflow()?;
    let Opened { manifest, session, .. } = ctx.open_live(as_of).await?;
    let as_of = manifest.as_of;
    let now = at.unwrap_or_else(|| SystemClock.now());
    let dec = |s: &Option<String>| Decimal::from_str(s.as_deref().unwrap_or("0")).context("reading an amount");

    // Open receivables, and those settled with a due date in the last 45 days (so their skips show).
    let recent = format!(
        "d.kind <> 'credit_note' AND (o.document_id IS NOT NULL OR d.due_date >= DATE '{as_of}' - INTERVAL '45' DAY)"
    );
    let documents = super::case::load_documents(&session, as_of.date(), &recent, "TRUE").await?;
    let sql = "SELECT c.customer_id, c.email, c.timezone, CAST(c.vip AS VARCHAR), c.account_group, s.effective_segment, \
                      CAST(c.payment_terms_days AS VARCHAR), c.collector_id, c.sales_rep_id, \
                      CAST(COALESCE(ob.balance_rc, 0) AS VARCHAR) \
               FROM customers c \
               LEFT JOIN segments s ON s.customer_id = c.customer_id \
               LEFT JOIN (SELECT customer_id, SUM(balance_rc) AS balance_rc FROM open_items GROUP BY customer_id) ob \
                      ON ob.customer_id = c.customer_id";
    let mut customers = BTreeMap::new();
    for r in text_rows(&session, sql).await? {
        let c = PlanCustomer {
            customer_id: r[0].clone().unwrap_or_default(),
            email: r[1].clone(),
            timezone: r[2].clone(),
            vip: r[3].as_deref() == Some("true"),
            paused: false,
            account_group: r[4].clone(),
            segment: r[5].clone(),
            payment_terms_days: r[6].as_deref().and_then(|t| t.parse().ok()),
            open_balance_rc: dec(&r[9])?,
            collector_id: r[7].clone(),
            sales_rep_id: r[8].clone(),
        };
        customers.insert(c.customer_id.clone(), c);
    }
    let mut unapplied = BTreeMap::new();
    for r in text_rows(
        &session,
        "SELECT customer_id, currency, CAST(SUM(unapplied) AS VARCHAR) FROM unapplied GROUP BY customer_id, currency",
    )
    .await?
    {
        unapplied.insert((r[0].clone().unwrap_or_default(), r[1].clone().unwrap_or_default()), dec(&r[2])?);
    }
    // From the store: the live collection statuses, the step keys already fired or superseded, and the customer
    // messages per local day (the last two in one consistent read).
    let (mut statuses, sent_keys, sent_per_day) = if ctx.has_store() {
        let store = ctx.store().await?;
        let statuses = cobro_workflow::cases::live_statuses(&store).await?;
        let (keys, per_day) = executor::recorded(&store).await?;
        store.close().await;
        (statuses, keys, per_day)
    } else {
        (BTreeMap::new(), BTreeSet::new(), BTreeMap::new())
    };
    // An ERP dispute flag counts where no dispute record exists, as for disputed AR.
    let flagged = "SELECT d.document_id FROM documents d WHERE d.disputed \
                   AND NOT EXISTS (SELECT 1 FROM disputes x WHERE x.document_id = d.document_id)";
    for r in text_rows(&session, flagged).await? {
        statuses.entry(r[0].clone().unwrap_or_default()).or_insert(Status::Dispute);
    }
    let feed = Feed {
        latest_payment_date: manifest.latest_payment_date.as_deref().and_then(|d| d.parse().ok()),
        control_totals_ok: true,
    };
    let inputs = PlanInputs {
        now,
        company_tz: config.company.timezone.parse().unwrap_or(chrono_tz::UTC),
        calendar: &config.calendar,
        documents: &documents,
        customers: &customers,
        statuses: &statuses,
        sent_keys: &sent_keys,
        sent_per_day: &sent_per_day,
        unapplied: &unapplied,
        feed,
        ar_manager: &config.company.ar_manager,
    };
    Ok(Built { plan: planner::plan(&inputs, &strategies), now, as_of: as_of.date() })
}

fn print_table(plan: &planner::Plan, now: DateTime<Utc>, as_of: NaiveDate) -> std::io::Result<()> {
    out!("Dunning plan at {now} over the snapshot as of {as_of} (dry run: nothing is sent)")?;
    out!("\n{} action(s)", plan.actions.len())?;
    for a in &plan.actions {
        out!(
            "  {}  {:<6} {:<10} {:<22} {:<12} {} {} {}  [{}]",
            a.send_at.format("%Y-%m-%d %H:%M"),
            a.step,
            format!("{:?}", a.to).to_lowercase(),
            a.template,
            a.customer_id,
            a.total,
            a.currency,
            a.documents.join(","),
            a.recipient.as_deref().unwrap_or("(no recipient)")
        )?;
    }
    let mut by_reason: BTreeMap<String, usize> = BTreeMap::new();
    for s in &plan.skipped {
        *by_reason.entry(format!("{:?}", s.reason)).or_default() += 1;
    }
    out!(
        "\n{} skipped item(s): {}",
        plan.skipped.len(),
        by_reason.iter().map(|(r, n)| format!("{r} {n}")).collect::<Vec<_>>().join(", ")
    )?;
    for s in &plan.skipped {
        out!("  {:<12} {:<14} {:<6} {:?}", s.customer_id, s.document_id, s.step.as_deref().unwrap_or("-"), s.reason)?;
    }
    Ok(())
}
