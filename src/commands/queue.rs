use super::{Ctx, Opened};
use crate::cli::{Format, QueueArgs};
use crate::{Done, output};

/// `cobro queue`: the ranked work queue, optionally one collector's part of it.
pub async fn run(ctx: &Ctx, args: QueueArgs) -> anyhow::Result<Done> {
    let Opened { snap, manifest, session } = ctx.open(args.as_of).await?;
    let filter = match &args.collector {
        // Quoted as a SQL string literal: the id is data, never SQL.
        Some(id) => format!("WHERE collector_id = '{}'", id.replace('\'', "''")),
        None => String::new(),
    };
    let limit = args.limit.map(|n| format!("LIMIT {n}")).unwrap_or_default();
    let columns = if args.format == Format::Table {
        "customer_id, name, collector_id AS collector, effective_segment AS segment, \
         CAST(actionable_balance_rc AS DECIMAL(20, 2)) AS actionable, oldest_days_past_due AS oldest_dpd, \
         open_cases, next_step, priority_score AS score, reasons"
    } else {
        "*"
    };
    if args.format == Format::Table {
        let who = args.collector.as_deref().map(|c| format!(" for collector {c}")).unwrap_or_default();
        out!(
            "Work queue{who} as of {} (snapshot v{}), amounts in {}; rank 1 first",
            manifest.as_of,
            snap.version,
            manifest.reporting_currency
        )?;
    }
    let query = format!(
        "SELECT CAST(ROW_NUMBER() OVER (ORDER BY queue_rank) AS BIGINT) AS rank, {columns} \
         FROM work_queue {filter} ORDER BY queue_rank {limit}"
    );
    output::query(&session, &query, args.format).await?;
    Ok(Done::Clean)
}
