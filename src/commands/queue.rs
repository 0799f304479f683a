use cobro_analytics::arrow::array::Array;
use cobro_analytics::{SnapshotSession, cells};

use super::{Ctx, Opened};
use crate::cli::{Format, QueueArgs};
use crate::{Done, output};

/// `cobro queue`: the ranked work queue, optionally one collector's part of it.
pub async fn run(ctx: &Ctx, args: QueueArgs) -> anyhow::Result<Done> {
    // The store's live records: a promise recorded a minute ago takes its customer out of the chase now, not at
    // the next snapshot.
    let Opened { snap, manifest, session } = ctx.open_live(args.as_of).await?;
    let filter = match &args.collector {
        // Quoted as a SQL string literal: the id is data, never SQL.
        Some(id) => format!("WHERE collector_id = {}", cobro_app::ledger::quote([id])),
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
    if let Some(id) = &args.collector {
        warn_if_unknown_collector(&session, id).await?;
    }
    Ok(Done::Clean)
}

/// An empty queue for a collector nobody is assigned to is most likely a typo: say so, with the ids that exist.
async fn warn_if_unknown_collector(session: &SnapshotSession, id: &str) -> anyhow::Result<()> {
    let batches = session
        .collect("SELECT DISTINCT collector_id FROM customers WHERE collector_id IS NOT NULL ORDER BY collector_id")
        .await?;
    let mut known = Vec::new();
    for batch in &batches {
        let ids = cells::strings(batch.column(0))?;
        known.extend((0..ids.len()).map(|i| ids.value(i).to_owned()));
    }
    if !known.iter().any(|k| k == id) {
        let shown: Vec<&str> = known.iter().take(20).map(String::as_str).collect();
        let more =
            if known.len() > shown.len() { format!(" and {} more", known.len() - shown.len()) } else { String::new() };
        eprintln!(
            "warning: no customer has collector_id `{id}` in this snapshot; collectors: {}{more}",
            if shown.is_empty() { "(none assigned)".to_owned() } else { shown.join(", ") }
        );
    }
    Ok(())
}
