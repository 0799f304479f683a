use anyhow::Context;
use cobro_analytics::arrow::array::Array;
use cobro_analytics::{SnapshotSession, cells, sql};

use super::{Ctx, Opened};
use crate::cli::MetricsArgs;
use crate::{Done, output};

pub async fn run(ctx: &Ctx, args: MetricsArgs) -> anyhow::Result<Done> {
    let Opened { snap, manifest, session } = ctx.open(args.as_of).await?;
    let df = session.template(sql::METRICS_SUMMARY).await?;
    let schema = df.schema().inner().clone();
    let batches = df.collect().await.context("computing the KPI summary")?;
    if args.format == crate::cli::Format::Table {
        out!(
            "KPIs as of {} (snapshot v{}), in {}; the monthly series is `cobro sql \"SELECT * FROM ar_monthly\"`",
            manifest.as_of,
            snap.version,
            manifest.reporting_currency
        )?;
    }
    output::print(&batches, schema, args.format)?;
    warn_about_gaps(&session).await?;
    Ok(Done::Clean)
}

/// Says on stderr when the figures rest on something a reader should know: amounts with no exchange rate (left out
/// of every sum) or a month that is not over yet.
async fn warn_about_gaps(session: &SnapshotSession) -> anyhow::Result<()> {
    let as_of = session.params().as_of;
    let rows = session
        .collect(&format!(
            "SELECT CAST(SUM(unconverted_items) AS BIGINT), CAST(MAX(CASE WHEN is_partial THEN 1 ELSE 0 END) AS BIGINT) \
             FROM ar_monthly WHERE month_end <= DATE '{as_of}'"
        ))
        .await?;
    let Some(batch) = rows.first().filter(|b| b.num_rows() > 0) else {
        return Ok(());
    };
    let unconverted = cells::ints(batch.column(0))?;
    let partial = cells::ints(batch.column(1))?;
    if !unconverted.is_null(0) && unconverted.value(0) > 0 {
        eprintln!(
            "warning: {} conversions (a sale, a collection or a month-end balance) found no exchange rate on or \
             before their date and are left out of the reporting-currency figures; import fx_rates that start \
             earlier (see `SELECT * FROM ar_monthly_by_currency WHERE unconverted_items > 0`)",
            unconverted.value(0)
        );
    }
    if !partial.is_null(0) && partial.value(0) > 0 {
        eprintln!(
            "note: {as_of} is not a month end, so the as-of month is month to date (its days, sales and collections up to {as_of})"
        );
    }
    Ok(())
}
