//! `cobro dunning`: the planner fed from a snapshot (documents, customers, segments, unapplied cash, control
//! totals) and the operational store (statuses, step keys and messages already recorded, pauses, bounced
//! addresses); the executor that records a plan; the outbox worker; approval, bounces and pauses.

use std::collections::BTreeMap;

use cobro_domain::clock::{Clock, SystemClock};
use cobro_workflow::executor;
use rust_decimal::Decimal;

use cobro_app::dunning::{Built, PlanRequest, build};

use super::Ctx;
use crate::Done;
use crate::cli::{ChannelArg, Delivery, DunningAction, Format};
use cobro_workflow::config::ChannelKind;
use cobro_workflow::delivery::{self, ChannelOverride};

pub async fn run(ctx: &Ctx, action: DunningAction) -> anyhow::Result<Done> {
    match action {
        DunningAction::Plan { run, format, save, by } => {
            let built = build(ctx, &run.request()).await?;
            let saved = if save {
                let store = ctx.store().await?;
                let who = who(by);
                let id =
                    executor::save_plan(&ctx.case_ctx(&store, &built.ledger, &who, built.now)?, &built.plan).await?;
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
            // Check the channel before recording anything: a wrong --smtp-url must not leave a half-done run.
            let channel = (!no_deliver).then(|| open_channel(ctx, &delivery)).transpose()?;
            let store = ctx.store().await?;
            let ran =
                cobro_app::dunning::run(ctx, &store, &run.request(), plan.as_deref(), channel.as_ref(), delivery.limit)
                    .await;
            store.close().await;
            let ran = ran?;
            let report = &ran.report;
            out!(
                "dunning run at {} over the snapshot as of {}: {} message(s) queued, {} task(s) created, {} action(s) already recorded by another run, {} step key(s) superseded",
                ran.built.now,
                ran.built.as_of,
                report.messages.len(),
                report.tasks.len(),
                report.already_recorded,
                report.superseded
            )?;
            if !ran.held.is_empty() {
                out!(
                    "{} action(s) not in the approved plan {} are held for the next approval",
                    ran.held.len(),
                    plan.as_deref().unwrap_or_default()
                )?;
            }
            if let (Some(channel), Some(r)) = (&channel, &ran.delivery) {
                print_delivery(channel, r)?;
            }
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
                executor::decide_plan(&ctx.case_ctx(&store, &ledger, &who, SystemClock.now())?, &plan, !reject).await?;
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
            let c = ctx.case_ctx(&store, &ledger, &who, SystemClock.now())?;
            let collector = cobro_app::dunning::collector_of_message(ctx, &store, &message).await;
            let r = delivery::bounce(&c, &message, &reason, collector.as_deref()).await?;
            store.close().await;
            super::case::print_recorded(&r, false)?;
        }
        DunningAction::Pause { customer, until, reason, at, by } => {
            let store = ctx.store().await?;
            let who = who(by);
            let ledger = cobro_workflow::Ledger::default();
            let now = at.unwrap_or_else(|| SystemClock.now());
            executor::pause(&ctx.case_ctx(&store, &ledger, &who, now)?, &customer, until, &reason).await?;
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
            executor::resume(&ctx.case_ctx(&store, &ledger, &who, SystemClock.now())?, &customer).await?;
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
    let built = build(ctx, &PlanRequest { as_of: Some(as_of), at, strategies: None }).await?;
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
    super::actor(by.as_deref())
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
