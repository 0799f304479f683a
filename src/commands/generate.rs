use anyhow::Context;
use cobro_pipeline::generate::{GenerateConfig, generate};

use crate::cli::GenerateArgs;
use crate::{Done, progress};

pub fn run(args: GenerateArgs) -> anyhow::Result<Done> {
    let mut cfg = GenerateConfig::new(args.customers, args.invoices, args.seed, args.out.clone());
    cfg.months = args.months;
    let bar = progress::invoices(args.invoices);
    let summary = generate(&cfg, &mut |n| bar.set_position(n))
        .with_context(|| format!("generating into {}", args.out.display()))?;
    bar.finish_and_clear();
    out!(
        "generated {} customers, {} invoices, {} credit notes, {} payments, {} allocations, {} fx rates into {} (extract date {})",
        summary.customers,
        summary.invoices,
        summary.credit_notes,
        summary.payments,
        summary.allocations,
        summary.fx_rates,
        args.out.display(),
        summary.extract_date
    )?;
    Ok(Done::Clean)
}
