use anyhow::Context;
use cobro_analytics::SnapshotSession;

use super::Ctx;
use crate::cli::SqlArgs;
use crate::{Done, output};

pub async fn run(ctx: &Ctx, args: SqlArgs) -> anyhow::Result<Done> {
    let (snap, _, mut params) = ctx.resolve(args.as_of).await?;
    if let Some(buckets) = args.buckets {
        params.buckets = buckets;
    }
    let session = SnapshotSession::open(&snap.dir, params).await?;
    let df = session.sql(&args.query).await?;
    let schema = df.schema().inner().clone();
    let batches = df.collect().await.context("running the query")?;
    match &args.out {
        Some(path) => {
            let mut f = std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
            output::write(&batches, schema, args.format, &mut f)?;
        }
        None => output::print(&batches, schema, args.format)?,
    }
    Ok(Done::Clean)
}
