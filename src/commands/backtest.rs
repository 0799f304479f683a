use anyhow::Context;
use chrono::NaiveDate;
use cobro_analytics::backtest;

use super::Ctx;
use crate::cli::{BacktestArgs, Format, YearMonth};
use crate::{Done, output};

fn first_day(m: YearMonth) -> anyhow::Result<NaiveDate> {
    NaiveDate::from_ymd_opt(m.year, m.month, 1).with_context(|| format!("{}-{:02} is not a month", m.year, m.month))
}

/// `cobro backtest`: mean and median absolute error of the predicted pay dates against the due-date baseline.
pub async fn run(ctx: &Ctx, args: BacktestArgs) -> anyhow::Result<Done> {
    if args.from > args.to {
        anyhow::bail!("--from must not be after --to");
    }
    let (snap, manifest, params) = ctx.resolve(args.as_of).await?;
    let months = backtest::month_ends(first_day(args.from)?, cobro_domain::asof::month_end(first_day(args.to)?));
    let rows = backtest::run(&snap.dir, &params, &months).await?;
    let (schema, batch) = backtest::to_batch(&rows)?;
    if args.format == Format::Table {
        out!(
            "Pay-date back-test: {} month ends ({} to {}) replayed over the snapshot as of {} (v{}).\n\
             Model: due date + the customer's weighted median pay offset (segment's, then 0), never before the day \
             after the month end.\nBaseline: pays on the due date (same floor). Errors in days, over the documents \
             paid by {}.",
            months.len(),
            months.first().map(|d| d.to_string()).unwrap_or_default(),
            months.last().map(|d| d.to_string()).unwrap_or_default(),
            manifest.as_of,
            snap.version,
            manifest.as_of
        )?;
    }
    output::print(&[batch], schema, args.format)?;
    Ok(Done::Clean)
}
