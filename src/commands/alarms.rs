//! `cobro alarms`: the four internal alarms of seed 003, over the snapshot's ledger and the store's live records.

use super::{Ctx, Opened};
use crate::cli::{AlarmsArgs, Format};
use crate::{Done, output};

/// Name, view, cadence and recipient, and the table columns shown.
const ALARMS: &[(&str, &str, &str, &str)] = &[
    (
        "action-needed",
        "alarm_action_needed",
        "daily, to the AR manager: customers to decide on (suspend, legal action, write-off)",
        "ORDER BY oldest_days_past_due DESC, customer_id",
    ),
    (
        "broken-promises",
        "alarm_broken_promises",
        "daily, to each collector: promises to pay not kept; call these customers first",
        "ORDER BY collector_id, broken_after, promise_id",
    ),
    (
        "reported-not-credited",
        "alarm_reported_not_credited",
        "weekly, to each collector: payments customers reported that the ledger still does not show",
        "ORDER BY collector_id, reported_date, report_id, document_id",
    ),
    (
        "open-disputes",
        "alarm_open_disputes",
        "weekly, to each department and each collector: disputes waiting for a resolution",
        "ORDER BY department, past_deadline DESC, deadline_date, dispute_id, document_id",
    ),
];

pub async fn run(ctx: &Ctx, args: AlarmsArgs) -> anyhow::Result<Done> {
    if let Some(only) = &args.only
        && !ALARMS.iter().any(|(n, ..)| n == only)
    {
        let names: Vec<&str> = ALARMS.iter().map(|(n, ..)| *n).collect();
        anyhow::bail!("--only `{only}` is not an alarm; use one of {}", names.join(", "));
    }
    let Opened { manifest, session, .. } = ctx.open_live(args.as_of).await?;
    for (name, view, cadence, order) in ALARMS {
        if args.only.as_deref().is_some_and(|o| o != *name) {
            continue;
        }
        if args.format == Format::Table {
            out!("\n== {name} as of {} ({cadence})", manifest.as_of)?;
        }
        output::query(&session, &format!("SELECT * FROM {view} {order}"), args.format).await?;
    }
    Ok(Done::Clean)
}
