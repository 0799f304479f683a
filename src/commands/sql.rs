use std::io::Write;

use anyhow::Context;
use cobro_analytics::SnapshotSession;
use cobro_pipeline::snapshot;

use super::Ctx;
use crate::cli::SqlArgs;
use crate::{Done, output};

pub async fn run(ctx: &Ctx, args: SqlArgs) -> anyhow::Result<Done> {
    let snap = snapshot::resolve(&ctx.data_dir, args.as_of)?;
    let manifest = snapshot::read_manifest(&snap.dir)?;
    let mut params = ctx.params(&manifest)?;
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
        None => {
            let stdout = std::io::stdout();
            let mut lock = stdout.lock();
            output::write(&batches, schema, args.format, &mut lock)?;
            lock.flush()?;
        }
    }
    Ok(Done::Clean)
}
