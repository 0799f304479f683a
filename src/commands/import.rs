use std::path::Path;

use cobro_domain::clock::{Clock, SystemClock};
use cobro_pipeline::import::{ImportOptions, ImportSummary, import};
use cobro_pipeline::mapping::CheckedMapping;

use crate::cli::ImportArgs;
use crate::{Done, progress};

pub fn run(data_dir: &Path, args: ImportArgs) -> anyhow::Result<Done> {
    if let Some(rate) = args.max_reject_rate
        && !(0.0..=100.0).contains(&rate)
    {
        anyhow::bail!("--max-reject-rate is a percentage between 0 and 100, got {rate}");
    }
    let mapping = CheckedMapping::load(&args.mapping)?;
    let opts = ImportOptions {
        data_dir: data_dir.to_owned(),
        max_reject_rate: args.max_reject_rate,
        now: SystemClock.now(),
        extend_staged: args.append,
    };
    let summary = import(&mapping, &args.inputs, &opts, &mut progress::ImportBar::default())?;
    print_summary(&summary)?;
    Ok(if summary.batch.values().any(|c| c.rejected > 0) { Done::WithRejects } else { Done::Clean })
}

/// Prints rows read / accepted / rejected per table and the first rejects.
pub fn print_summary(s: &ImportSummary) -> std::io::Result<()> {
    let m = &s.manifest;
    out!("imported with mapping `{}` into {}", m.mapping, s.staging_dir.display())?;
    out!("{:<12} {:>12} {:>12} {:>10} {:>10}", "table", "read", "accepted", "merged", "rejected")?;
    // In load order, the order in which references are resolved.
    for table in cobro_domain::tables::Table::ALL.map(|t| t.name()) {
        let c = s.batch.get(table).copied().unwrap_or_default();
        out!("{:<12} {:>12} {:>12} {:>10} {:>10}", table, c.read, c.accepted, c.merged, c.rejected)?;
    }
    let rejected: u64 = s.batch.values().map(|c| c.rejected).sum();
    if m.tables != s.batch {
        let staged: u64 = m.tables.values().map(|c| c.accepted).sum();
        out!("appended: the staged ledger now holds {staged} row(s), {} rejected in all", m.rejected)?;
    }
    if rejected > 0 {
        out!(
            "\n{} row(s) rejected; every one is kept in {} (and in the snapshot's `rejects` table):",
            rejected,
            s.staging_dir.join("rejects.csv").display()
        )?;
        for r in &s.first_rejects {
            let column = r.column.as_deref().map(|c| format!(", column {c}")).unwrap_or_default();
            out!("  {} line {} ({}{}): {}", r.file, r.line, r.table, column, r.reason)?;
        }
        if rejected as usize > s.first_rejects.len() {
            out!("  … and {} more", rejected as usize - s.first_rejects.len())?;
        }
    }
    Ok(())
}
