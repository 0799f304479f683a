//! `cobro report`: the CFO report as HTML or an Excel workbook, and its charts as SVG and PNG.

use super::{Ctx, Opened};
use crate::Done;
use crate::cli::{ReportArgs, ReportFormat};

pub async fn run(ctx: &Ctx, args: ReportArgs) -> anyhow::Result<Done> {
    let Opened { session, .. } = ctx.open(args.as_of).await?;
    let company = ctx.workflow()?.company.name.clone();
    let report = cobro_app::report::cfo(&session, &company).await?;
    match args.format {
        ReportFormat::Html => std::fs::write(&args.out, &report.html)?,
        ReportFormat::Xlsx => cobro_app::report::write_xlsx(&report, &args.out)?,
    }
    out!("CFO report as of {} ({}) written to {}", report.as_of, report.currency, args.out.display())?;
    if let Some(dir) = &args.charts {
        let files = cobro_app::report::write_charts(&report, dir)?;
        out!("{} charts written to {} (SVG and PNG)", files.len() / 2, dir.display())?;
    }
    Ok(Done::Clean)
}
