//! `cobro case import`: disputes and promises from another tool.

use std::path::PathBuf;

use cobro_domain::AsOf;
use cobro_domain::clock::{Clock, SystemClock};
use cobro_workflow::cases::Ctx as CaseCtx;
use cobro_workflow::import::{self, Kind};

use super::Ctx;
use crate::Done;

pub async fn run(
    ctx: &Ctx,
    disputes: Option<PathBuf>,
    promises: Option<PathBuf>,
    max_reject_rate: f64,
    as_of: Option<AsOf>,
) -> anyhow::Result<Done> {
    if disputes.is_none() && promises.is_none() {
        anyhow::bail!("nothing to import: give --disputes FILE and/or --promises FILE");
    }
    let config = ctx.workflow()?;
    let opened = ctx.open(as_of).await?;
    let store = ctx.store().await?;
    let (mut read, mut rejected) = (0u64, 0u64);
    for (kind, path) in [(Kind::Disputes, disputes), (Kind::Promises, promises)] {
        let Some(path) = path else { continue };
        let (rows, rejects) = import::read_csv(&path, kind)?;
        let (docs, custs) = import::mentioned(&rows);
        let ledger =
            cobro_app::ledger::load_ledger(&opened.session, opened.manifest.as_of.date(), &docs, &custs).await?;
        let c = CaseCtx {
            store: &store,
            config,
            ledger: &ledger,
            templates: ctx.templates()?,
            actor: "import",
            now: SystemClock.now(),
            on: opened.manifest.as_of.date(),
        };
        let file = path.display().to_string();
        let summary = import::apply(&c, kind, &file, rows, rejects).await?;
        out!("{file}: {} row(s) read, {} applied, {} rejected", summary.read, summary.accepted, summary.rejects.len())?;
        for r in &summary.rejects {
            out!(
                "  line {}{}{}: {}",
                r.line,
                r.column.as_deref().map(|c| format!(", column {c}")).unwrap_or_default(),
                r.value.as_deref().map(|v| format!(" = `{v}`")).unwrap_or_default(),
                r.reason
            )?;
        }
        read += summary.read;
        rejected += summary.rejects.len() as u64;
    }
    store.close().await;
    if read > 0 && rejected as f64 * 100.0 / read as f64 > max_reject_rate {
        anyhow::bail!(
            "{rejected} of {read} rows rejected, more than --max-reject-rate {max_reject_rate} %; the rejected rows are listed above and kept in the store's import_rejects table"
        );
    }
    Ok(if rejected > 0 { Done::WithRejects } else { Done::Clean })
}
