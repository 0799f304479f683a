//! `cobro dunning`: the planner fed from a snapshot (documents, customers, segments, unapplied cash, control
//! totals) and the operational store (statuses, step keys and messages already recorded, pauses, bounced
//! addresses); the executor that records a plan; the outbox worker; approval, bounces and pauses.

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
use crate::cli::{ChannelArg, Delivery, DunningAction, DunningRun, Format};
use cobro_workflow::config::ChannelKind;
use cobro_workflow::delivery::{self, ChannelOverride};

pub async fn run(ctx: &Ctx, action: DunningAction) -> anyhow::Result<Done> {
    match action {
        DunningAction::Plan { run, format, save, by } => {
            let built = build(ctx, &run).await?;
            let saved = if save {
                let store = ctx.store().await?;
                let who = who(by);
                let id =
                    executor::save_plan(&case_ctx(ctx, &store, &built.ledger, &who, built.now)?, &built.plan).await?;
                store.close().await;
                Some(id)
            } else {
                None
            };
            if format == Format::Json {
                out!("{}", serde_json::to_string_pretty(&built.plan)?)?;
            } else {
                print_table(&built)?;
            }
            if let Some(id) = saved {
                let next = format!("cobro dunning approve {id} --as SOMEONE-ELSE, then cobro dunning run --plan {id}");
                if format == Format::Json {
                    eprintln!("saved for approval as {id}: {next}");
                } else {
                    out!("\nSaved for approval as {id}: {next}")?;
                }
            }
        }
        DunningAction::Run { run, plan, no_deliver, delivery } => {
            let config = ctx.workflow()?;
            if config.dunning.approval_required && plan.is_none() {
                anyhow::bail!(
                    "{}: [dunning] approval_required is on: save a plan (`cobro dunning plan --save`), have someone approve it, then `cobro dunning run --plan PLAN`",
                    config.source
                );
            }
            // Check the channel before recording anything: a wrong --smtp-url must not leave a half-done run.
            let channel = (!no_deliver).then(|| open_channel(ctx, &delivery)).transpose()?;
            let mut built = build(ctx, &run).await?;
            let store = ctx.store().await?;
            let c = case_ctx(ctx, &store, &built.ledger, "dunning", built.now)?;
            let held = match &plan {
                Some(id) => executor::restrict_to_approved(&c, id, &mut built.plan).await?,
                None => Vec::new(),
            };
            let report = executor::record(&c, &built.plan).await?;
            if let Some(id) = &plan {
                executor::mark_executed(&store, id).await?;
            }
            out!(
                "dunning run at {} over the snapshot as of {}: {} message(s) queued, {} task(s) created, {} action(s) already recorded by another run, {} step key(s) superseded",
                built.now,
                built.as_of,
                report.messages.len(),
                report.tasks.len(),
                report.already_recorded,
                report.superseded
            )?;
            if !held.is_empty() {
                out!(
                    "{} action(s) not in the approved plan {} are held for the next approval",
                    held.len(),
                    plan.as_deref().unwrap_or_default()
                )?;
            }
            if let Some(channel) = channel {
                let r = delivery::deliver(&store, config, &channel, built.now, delivery.limit).await?;
                print_delivery(&channel, &r)?;
            }
            store.close().await;
        }
        DunningAction::Deliver { at, delivery } => {
            let config = ctx.workflow()?;
            let channel = open_channel(ctx, &delivery)?;
            let store = ctx.store().await?;
            let r =
                delivery::deliver(&store, config, &channel, at.unwrap_or_else(|| SystemClock.now()), delivery.limit)
                    .await?;
            store.close().await;
            print_delivery(&channel, &r)?;
            if !r.failed.is_empty() {
                return Ok(Done::WithRejects);
            }
        }
        DunningAction::Approve { plan, reject, by } => {
            let store = ctx.store().await?;
            let who = who(by);
            let ledger = cobro_workflow::Ledger::default();
            let saved =
                executor::decide_plan(&case_ctx(ctx, &store, &ledger, &who, SystemClock.now())?, &plan, !reject)
                    .await?;
            store.close().await;
            out!("{} {} by {}: {}", saved.plan_id, saved.state, who, saved.summary)?;
            if !reject {
                out!("next: cobro dunning run --plan {}", saved.plan_id)?;
            }
        }
        DunningAction::Bounce { message, reason, by } => {
            let store = ctx.store().await?;
            let who = who(by);
            let ledger = cobro_workflow::Ledger::default();
            let c = case_ctx(ctx, &store, &ledger, &who, SystemClock.now())?;
            let collector = collector_of_message(ctx, &store, &message).await;
            let r = delivery::bounce(&c, &message, &reason, collector.as_deref()).await?;
            store.close().await;
            super::case::print_recorded(&r, false)?;
        }
        DunningAction::Pause { customer, until, reason, at, by } => {
            let store = ctx.store().await?;
            let who = who(by);
            let ledger = cobro_workflow::Ledger::default();
            let now = at.unwrap_or_else(|| SystemClock.now());
            executor::pause(&case_ctx(ctx, &store, &ledger, &who, now)?, &customer, until, &reason).await?;
            store.close().await;
            match until {
                Some(u) => out!("{customer}: automatic dunning paused until {u} (inclusive): {reason}")?,
                None => out!("{customer}: automatic dunning paused until `cobro dunning resume {customer}`: {reason}")?,
            }
        }
        DunningAction::Resume { customer, by } => {
            let store = ctx.store().await?;
            let who = who(by);
            let ledger = cobro_workflow::Ledger::default();
            executor::resume(&case_ctx(ctx, &store, &ledger, &who, SystemClock.now())?, &customer).await?;
            store.close().await;
            out!("{customer}: automatic dunning resumed; the strategy continues where the calendar is")?;
        }
        DunningAction::Messages { state, format } => {
            let store = ctx.store().await?;
            let rows = cobro_workflow::views::messages(&store, state.as_deref()).await?;
            store.close().await;
            if format == Format::Json {
                out!("{}", serde_json::to_string_pretty(&rows)?)?;
            } else if rows.is_empty() {
                out!("no messages{}", state.map(|s| format!(" in state {s}")).unwrap_or_default())?;
            } else {
                super::case_views::table(
                    "Messages",
                    &rows,
                    &[
                        "message_id",
                        "state",
                        "channel",
                        "recipient",
                        "template",
                        "customer_id",
                        "attempts",
                        "sent_at",
                        "last_error",
                    ],
                )?;
            }
        }
    }
    Ok(Done::Clean)
}

/// The demo's dunning step: the dry run at 09:00 UTC on the snapshot date, summarised by step and template, with
/// the skips by reason.
pub async fn demo_summary(ctx: &Ctx, as_of: cobro_domain::AsOf) -> anyhow::Result<()> {
    let at = as_of.date().and_hms_opt(9, 0, 0).map(|t| t.and_utc());
    let built = build(ctx, &DunningRun { as_of: Some(as_of), at, strategies: None }).await?;
    let mut by_step: BTreeMap<(String, String, String), (usize, Decimal)> = BTreeMap::new();
    for a in &built.plan.actions {
        let e = by_step.entry((a.step.clone(), a.to.as_str().to_owned(), a.template.clone())).or_default();
        e.0 += 1;
        e.1 += a.total;
    }
    out!("  {:<6} {:<10} {:<22} {:>7} {:>12}", "step", "to", "template", "actions", "amount")?;
    for ((step, to, template), (n, total)) in &by_step {
        out!("  {step:<6} {to:<10} {template:<22} {n:>7} {:>12}", total.round_dp(2))?;
    }
    let mut by_reason: BTreeMap<String, usize> = BTreeMap::new();
    for s in &built.plan.skipped {
        *by_reason.entry(serde_json::to_value(s.reason)?.as_str().unwrap_or_default().to_owned()).or_default() += 1;
    }
    let reasons: Vec<String> = by_reason.iter().map(|(r, n)| format!("{r} {n}")).collect();
    out!("  not chased: {}", reasons.join(", "))?;
    Ok(())
}

fn who(by: Option<String>) -> String {
    by.or_else(|| std::env::var("USER").ok()).filter(|s| !s.trim().is_empty()).unwrap_or_else(|| "cli".to_owned())
}

/// The workflow context of a dunning command: the company's local date at `now`.
fn case_ctx<'a>(
    ctx: &'a Ctx,
    store: &'a cobro_workflow::Store,
    ledger: &'a cobro_workflow::Ledger,
    actor: &'a str,
    now: DateTime<Utc>,
) -> anyhow::Result<CaseCtx<'a>> {
    let config = ctx.workflow()?;
    let tz: chrono_tz::Tz = config.company.timezone.parse().unwrap_or(chrono_tz::UTC);
    Ok(CaseCtx {
        store,
        config,
        ledger,
        templates: ctx.templates()?,
        actor,
        now,
        on: now.with_timezone(&tz).date_naive(),
    })
}

fn open_channel(ctx: &Ctx, d: &Delivery) -> anyhow::Result<delivery::Channel> {
    let o = ChannelOverride {
        channel: d.channel.map(|c| match c {
            ChannelArg::File => ChannelKind::File,
            ChannelArg::Smtp => ChannelKind::Smtp,
            ChannelArg::Webhook => ChannelKind::Webhook,
        }),
        dir: d.outbox.clone(),
        smtp_url: d.smtp_url.clone(),
        webhook_url: d.webhook_url.clone(),
    };
    Ok(delivery::Channel::open(&ctx.workflow()?.delivery, &o, &ctx.data_dir)?)
}

fn print_delivery(channel: &delivery::Channel, r: &delivery::DeliveryReport) -> std::io::Result<()> {
    out!(
        "delivery via {}: {} sent, {} in-app alert(s) posted, {} to retry, {} failed",
        channel.describe(),
        r.sent.len(),
        r.alerts,
        r.retrying.len(),
        r.failed.len()
    )?;
    for (id, e) in &r.retrying {
        out!("  retry {id}: {e}")?;
    }
    for (id, e) in &r.failed {
        out!("  FAILED {id}: {e}")?;
    }
    Ok(())
}

/// The collector of a message's customer in the latest snapshot, for the bounce's task (none without a snapshot).
async fn collector_of_message(ctx: &Ctx, store: &cobro_workflow::Store, message: &str) -> Option<String> {
    let customer = cobro_workflow::views::messages(store, None)
        .await
        .ok()?
        .into_iter()
        .find(|r| {
            r.get("message_id").and_then(|v| v.as_deref()) == Some(message)
                || r.get("rfc_message_id")
                    .and_then(|v| v.as_deref())
                    .is_some_and(|m| m.trim_matches(['<', '>']) == message.trim_matches(['<', '>']))
        })?
        .get("customer_id")?
        .clone()?;
    let opened = ctx.open(None).await.ok()?;
    let sql = format!("SELECT collector_id FROM customers WHERE customer_id = {}", super::case::quote([&customer]));
    text_rows(&opened.session, &sql).await.ok()?.into_iter().next()?.into_iter().next()?
}

/// A plan and what it was made at.
struct Built {
    plan: planner::Plan,
    now: DateTime<Utc>,
    as_of: NaiveDate,
    /// The documents and customers of the plan, for rendering its messages.
    ledger: cobro_workflow::Ledger,
    /// Why the freshness gate is shut, if it is.
    feed_problem: Option<String>,
}

async fn build(ctx: &Ctx, run: &DunningRun) -> anyhow::Result<Built> {
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
    let documents = super::case::load_documents(&session, as_of.date(), &recent, "TRUE").await?;
    // From the store: pauses in force today and addresses that bounced.
    let (paused, bounced) = if ctx.has_store() {
        let store = ctx.store().await?;
        let p = executor::paused(&store, today).await?;
        let b = executor::bounced(&store).await?;
        store.close().await;
        (p, b)
    } else {
        (BTreeSet::new(), BTreeSet::new())
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

fn print_table(built: &Built) -> std::io::Result<()> {
    let (plan, now, as_of) = (&built.plan, built.now, built.as_of);
    out!("Dunning plan at {now} over the snapshot as of {as_of} (dry run: nothing is sent)")?;
    if let Some(p) = &built.feed_problem {
        out!("Freshness gate: {p}; customers of strategies whose limit it exceeds are not chased (stale_feed)")?;
    }
    out!("\n{} action(s)", plan.actions.len())?;
    for a in &plan.actions {
        out!(
            "  {}  {:<6} {:<10} {:<22} {:<12} {} {} {}  [{}]",
            a.send_at.format("%Y-%m-%d %H:%M"),
            a.step,
            a.to.as_str(),
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
