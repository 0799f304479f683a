//! The inputs of a dunning plan, read from a snapshot and the operational store, and the plan made from them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::str::FromStr;

use anyhow::Context as _;
use chrono::{DateTime, NaiveDate, Utc};
use cobro_domain::AsOf;
use cobro_domain::clock::{Clock, SystemClock};
use cobro_workflow::Status;
use cobro_workflow::executor;
use cobro_workflow::planner::{self, Feed, PlanCustomer, PlanInputs};
use cobro_workflow::strategy::StrategySet;
use rust_decimal::Decimal;

use crate::ledger::text_rows;
use crate::{Ctx, Opened};

/// What a plan is made over.
#[derive(Debug, Clone, Default)]
pub struct PlanRequest {
    /// Snapshot date; the latest when `None`.
    pub as_of: Option<AsOf>,
    /// The run's instant; now when `None`.
    pub at: Option<DateTime<Utc>>,
    /// A strategy directory instead of the built-in strategy.
    pub strategies: Option<PathBuf>,
}

/// A plan and what it was made over.
pub struct Built {
    /// The plan.
    pub plan: planner::Plan,
    /// The instant it was made at.
    pub now: DateTime<Utc>,
    /// The snapshot it was made over.
    pub as_of: NaiveDate,
    /// The documents and customers of the plan, for rendering its messages.
    pub ledger: cobro_workflow::Ledger,
    /// Why the freshness gate is shut, if it is.
    pub feed_problem: Option<String>,
}

/// Plans a dunning run: the planner fed from the snapshot (documents, customers, segments, unapplied cash, control
/// totals) and the operational store (statuses, step keys and messages already recorded, pauses, bounced
/// addresses).
pub async fn build(ctx: &Ctx, run: &PlanRequest) -> anyhow::Result<Built> {
    let (as_of, at) = (run.as_of, run.at);
    let strategies = match run.strategies.as_deref() {
        Some(dir) => StrategySet::load_dir(dir)?,
        None => StrategySet::builtin(),
    };
    let config = ctx.workflow()?;
    // A strategy naming a template that is missing in a language fails here, before anything is recorded.
    ctx.templates()?.check(&strategies, config)?;
    let Opened { manifest, session, .. } = ctx.open_live(as_of).await?;
    let as_of = manifest.as_of;
    let now = at.unwrap_or_else(|| SystemClock.now());
    let company_tz: chrono_tz::Tz = config.company.timezone.parse().unwrap_or(chrono_tz::UTC);
    let today = now.with_timezone(&company_tz).date_naive();
    let dec = |s: &Option<String>| Decimal::from_str(s.as_deref().unwrap_or("0")).context("reading an amount");

    // Open receivables, and those settled with a due date in the last 45 days (so their skips show).
    let recent = format!(
        "d.kind <> 'credit_note' AND (o.document_id IS NOT NULL OR d.due_date >= DATE '{as_of}' - INTERVAL '45' DAY)"
    );
    let documents = crate::ledger::load_documents(&session, as_of.date(), &recent, "TRUE").await?;
    // From the store, opened once: pauses in force today, addresses that bounced, the live collection statuses,
    // the step keys already fired or superseded, and the customer messages per local day (the last two in one
    // consistent read).
    let (paused, bounced, mut statuses, sent_keys, sent_per_day) = if ctx.has_store() {
        let store = ctx.store().await?;
        let p = executor::paused(&store, today).await?;
        let b = executor::bounced(&store).await?;
        let statuses = cobro_workflow::cases::live_statuses(&store).await?;
        let (keys, per_day) = executor::recorded(&store).await?;
        store.close().await;
        (p, b, statuses, keys, per_day)
    } else {
        (BTreeSet::new(), BTreeSet::new(), BTreeMap::new(), BTreeSet::new(), BTreeMap::new())
    };
    let mut ledger = cobro_workflow::Ledger { as_of: as_of.date(), ..Default::default() };
    let sql = "SELECT c.customer_id, c.email, c.timezone, CAST(c.vip AS VARCHAR), c.account_group, s.effective_segment, \
                      CAST(c.payment_terms_days AS VARCHAR), c.collector_id, c.sales_rep_id, \
                      CAST(COALESCE(ob.balance_rc, 0) AS VARCHAR), c.name, c.language \
               FROM customers c \
               LEFT JOIN segments s ON s.customer_id = c.customer_id \
               LEFT JOIN (SELECT customer_id, SUM(balance_rc) AS balance_rc FROM open_items GROUP BY customer_id) ob \
                      ON ob.customer_id = c.customer_id";
    let mut customers = BTreeMap::new();
    for r in text_rows(&session, sql).await? {
        let id = r[0].clone().unwrap_or_default();
        let c = PlanCustomer {
            customer_id: id.clone(),
            email: r[1].clone(),
            timezone: r[2].clone(),
            vip: r[3].as_deref() == Some("true"),
            paused: paused.contains(&id),
            email_bounced: r[1].as_deref().is_some_and(|e| bounced.contains(&e.trim().to_ascii_lowercase())),
            account_group: r[4].clone(),
            segment: r[5].clone(),
            payment_terms_days: r[6].as_deref().and_then(|t| t.parse().ok()),
            open_balance_rc: dec(&r[9])?,
            collector_id: r[7].clone(),
            sales_rep_id: r[8].clone(),
        };
        ledger.customers.insert(
            id.clone(),
            cobro_workflow::LedgerCustomer {
                customer_id: id.clone(),
                name: r[10].clone().unwrap_or_default(),
                collector_id: c.collector_id.clone(),
                sales_rep_id: c.sales_rep_id.clone(),
                email: c.email.clone(),
                language: r[11].clone(),
            },
        );
        customers.insert(id, c);
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
    // An ERP dispute flag counts where no dispute record exists, as for disputed AR.
    let flagged = "SELECT d.document_id FROM documents d WHERE d.disputed \
                   AND NOT EXISTS (SELECT 1 FROM disputes x WHERE x.document_id = d.document_id)";
    for r in text_rows(&session, flagged).await? {
        statuses.entry(r[0].clone().unwrap_or_default()).or_insert(Status::Dispute);
    }
    let tie_out = tie_out(&session, &manifest.control_totals).await?;
    let latest_payment_date = manifest.latest_payment_date.as_deref().and_then(|d| d.parse().ok());
    let feed = Feed { latest_payment_date, control_totals_ok: tie_out.is_none() };
    let feed_problem = tie_out.or_else(|| match latest_payment_date {
        None => Some("the snapshot has no payments: the feed's age is unknown".to_owned()),
        Some(p) => {
            let age = (today - p).num_days();
            (age > strategies.strategies.iter().map(|s| s.settings.max_feed_age_days).max().unwrap_or(0)).then(|| {
                format!("the latest payment in the snapshot is from {p}, {age} days before {today}: import a fresh payment feed")
            })
        }
    });
    let inputs = PlanInputs {
        now,
        company_tz,
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
    let plan = planner::plan(&inputs, &strategies);
    ledger.documents = documents.into_iter().map(|d| (d.document_id.clone(), d)).collect();
    Ok(Built { plan, now, as_of: as_of.date(), ledger, feed_problem })
}

/// The freshness gate's second half: the open items read now must tie out to the control totals the snapshot
/// wrote (per currency, balance and count). `None` when they do; else what differs. A snapshot whose files were
/// replaced or damaged after it was written cannot drive dunning.
async fn tie_out(
    session: &cobro_analytics::SnapshotSession,
    totals: &BTreeMap<String, String>,
) -> anyhow::Result<Option<String>> {
    let mut seen = BTreeMap::new();
    for r in text_rows(
        session,
        "SELECT currency, CAST(CAST(SUM(balance) AS DECIMAL(38, 4)) AS VARCHAR), CAST(COUNT(*) AS VARCHAR) FROM open_items GROUP BY currency",
    )
    .await?
    {
        let cur = r[0].clone().unwrap_or_default();
        seen.insert(format!("open_items.balance.{cur}"), r[1].clone().unwrap_or_default());
        seen.insert(format!("open_items.count.{cur}"), r[2].clone().unwrap_or_default());
    }
    let expected: BTreeMap<&String, &String> = totals
        .iter()
        .filter(|(k, _)| k.starts_with("open_items.balance.") || k.starts_with("open_items.count."))
        .collect();
    let keys: BTreeSet<&String> = expected.keys().copied().chain(seen.keys()).collect();
    let mut diffs = Vec::new();
    for k in keys {
        let want = expected.get(k).and_then(|v| Decimal::from_str(v).ok());
        let got = seen.get(k).and_then(|v| Decimal::from_str(v).ok());
        if want != got {
            let show = |v: Option<Decimal>| v.map_or("none".to_owned(), |d| d.normalize().to_string());
            diffs.push(format!("{k}: manifest {} vs files {}", show(want), show(got)));
        }
    }
    Ok((!diffs.is_empty()).then(|| format!("control totals do not tie out ({})", diffs.join("; "))))
}

/// What a dunning run did.
pub struct Ran {
    /// The plan it ran.
    pub built: Built,
    /// What it recorded.
    pub report: executor::RunReport,
    /// Actions not in the approved plan, held for the next approval.
    pub held: Vec<planner::PlannedAction>,
    /// What the outbox worker sent, when a channel was given.
    pub delivery: Option<cobro_workflow::delivery::DeliveryReport>,
}

/// A dunning run: plans at `req`, keeps to the approved `plan` when one is named (required when `[dunning]
/// approval_required` is on), records the actions once (step keys), and delivers through `channel` if given.
/// The CLI's `cobro dunning run` and the API's `POST /api/v1/dunning/run`.
pub async fn run(
    ctx: &Ctx,
    store: &cobro_workflow::Store,
    req: &PlanRequest,
    plan: Option<&str>,
    channel: Option<&cobro_workflow::delivery::Channel>,
    limit: Option<usize>,
) -> anyhow::Result<Ran> {
    let config = ctx.workflow()?;
    if config.dunning.approval_required && plan.is_none() {
        anyhow::bail!(
            "{}: [dunning] approval_required is on: save a plan (`cobro dunning plan --save`), have someone approve it, then `cobro dunning run --plan PLAN`",
            config.source
        );
    }
    let mut built = build(ctx, req).await?;
    let c = ctx.case_ctx(store, &built.ledger, "dunning", built.now)?;
    let held = match plan {
        Some(id) => executor::restrict_to_approved(&c, id, &mut built.plan).await?,
        None => Vec::new(),
    };
    let report = executor::record(&c, &built.plan).await?;
    if let Some(id) = plan {
        executor::mark_executed(store, id).await?;
    }
    let delivery = match channel {
        Some(ch) => Some(cobro_workflow::delivery::deliver(store, config, ch, built.now, limit).await?),
        None => None,
    };
    Ok(Ran { built, report, held, delivery })
}

/// The collector of a message's customer in the latest snapshot, for the bounce's task (none without a snapshot).
pub async fn collector_of_message(ctx: &Ctx, store: &cobro_workflow::Store, message: &str) -> Option<String> {
    let customer = cobro_workflow::delivery::find_message(store, message).await.ok()??.customer_id?;
    let opened = ctx.open(None).await.ok()?;
    let sql = format!("SELECT collector_id FROM customers WHERE customer_id = {}", crate::ledger::quote([&customer]));
    text_rows(&opened.session, &sql).await.ok()?.into_iter().next()?.into_iter().next()?
}
