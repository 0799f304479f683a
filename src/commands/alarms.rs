//! `cobro alarms`: the four internal alarms of seed 003, over the snapshot's ledger and the store's live records.

use super::{Ctx, Opened};
use crate::cli::{AlarmsArgs, Format};
use crate::{Done, output};

use cobro_app::alarms::ALARMS;

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
