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
use cobro_workflow::planner::{self, Feed, PlanCustomer, PlanDocument, PlanInputs};
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
                config: &config,
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
    let date = |s: &Option<String>| s.as_deref().unwrap_or("").parse::<NaiveDate>().context("reading a date");

    // Open receivables, and those settled with a due date in the last 45 days (so their skips show).
    let sql = format!(
        "WITH applied AS ({applied}) \
         SELECT d.document_id, d.customer_id, d.currency, CAST(d.issue_date AS VARCHAR), CAST(d.due_date AS VARCHAR), \
                CAST(COALESCE(o.balance, 0) AS VARCHAR), CAST(COALESCE(p.paid, 0) AS VARCHAR), \
                CAST(COALESCE(p.credited, 0) AS VARCHAR) \
         FROM documents d \
         LEFT JOIN open_items o ON o.document_id = d.document_id \
         LEFT JOIN applied p ON p.document_id = d.document_id \
         WHERE d.kind <> 'credit_note' AND d.issue_date <= DATE '{as_of}' \
           AND (o.document_id IS NOT NULL OR d.due_date >= DATE '{as_of}' - INTERVAL '45' DAY)",
        applied = super::case::applied_by_document(as_of.date(), "TRUE")
    );
    let mut documents = Vec::new();
    for r in text_rows(&session, &sql).await? {
        documents.push(PlanDocument {
            document_id: r[0].clone().unwrap_or_default(),
            customer_id: r[1].clone().unwrap_or_default(),
            currency: r[2].clone().unwrap_or_default(),
            issue_date: date(&r[3])?,
            due_date: date(&r[4])?,
            balance: dec(&r[5])?,
            paid: dec(&r[6])?,
            credited: dec(&r[7])?,
        });
    }
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
    // Live statuses from the store (an ERP dispute flag counts where no dispute record exists, as for disputed AR).
    let mut statuses = BTreeMap::new();
    for r in text_rows(&session, "SELECT DISTINCT document_id, 'promise' FROM promises WHERE state = 'pending' \
                                  UNION ALL SELECT DISTINCT document_id, 'payment_reported' FROM payment_reports WHERE state = 'open' \
                                  UNION ALL SELECT DISTINCT document_id, 'dispute' FROM disputes WHERE resolved_date IS NULL \
                                  UNION ALL SELECT d.document_id, 'dispute' FROM documents d WHERE d.disputed \
                                      AND NOT EXISTS (SELECT 1 FROM disputes x WHERE x.document_id = d.document_id)")
        .await?
    {
        let status = match r[1].as_deref() {
            Some("promise") => Status::Promise,
            Some("payment_reported") => Status::PaymentReported,
            _ => Status::Dispute,
        };
        statuses.insert(r[0].clone().unwrap_or_default(), status);
    }
    // Step keys already fired or superseded, and customer messages per local day, from one consistent read.
    let (sent_keys, sent_per_day) = if ctx.has_store() {
        let store = ctx.store().await?;
        let recorded = executor::recorded(&store).await?;
        store.close().await;
        recorded
    } else {
        (BTreeSet::new(), BTreeMap::new())
    };
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
