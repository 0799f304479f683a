use cobro_pipeline::snapshot::{SnapshotManifest, SnapshotRef};

use crate::cli::SnapshotArgs;
use crate::{Done, progress};

pub async fn run(ctx: &super::Ctx, args: SnapshotArgs) -> anyhow::Result<Done> {
    if args.prune_unfinished {
        return prune(ctx, args.grace_minutes).await;
    }
    if args.prune_cache {
        let Some(cache) = &ctx.snapshot_cache else {
            anyhow::bail!(
                "there is no snapshot cache to prune: it is used when --data-dir is s3://… and --snapshot-cache is not off"
            );
        };
        let removed = cache.prune(&ctx.snapshots).await?;
        if removed.is_empty() {
            out!("no local copies to remove: each is the latest version of its date")?;
        }
        for (dir, bytes) in removed {
            out!("removed {}  {bytes} bytes", dir.display())?;
        }
        return Ok(Done::Clean);
    }
    let Some(as_of) = args.as_of else {
        let all = ctx.snapshots.list().await?;
        if all.is_empty() {
            out!("no snapshots in {}", ctx.snapshots)?;
        }
        for s in &all {
            let m = cobro_pipeline::snapshot::read_manifest(&s.dir).await?;
            out!("{}  v={:<3} built {}  {}", s.as_of, s.version, m.created_at.format("%Y-%m-%d %H:%M:%S UTC"), s.dir)?;
        }
        return Ok(Done::Clean);
    };
    let (snap, manifest) = build(ctx, as_of).await?;
    print_summary(&snap, &manifest)?;
    Ok(Done::Clean)
}

async fn prune(ctx: &super::Ctx, grace_minutes: u32) -> anyhow::Result<Done> {
    use cobro_domain::clock::{Clock, SystemClock};
    let now = SystemClock.now();
    let found = ctx.snapshots.prune_unfinished(now, chrono::Duration::minutes(grace_minutes.into())).await?;
    if found.is_empty() {
        out!("no unfinished versions in {}", ctx.snapshots)?;
    }
    for u in &found {
        let what = format!("{}  {} objects, {} bytes", u.dir, u.objects, u.bytes);
        match (u.removed, u.claimed_at) {
            (true, Some(at)) => out!("removed {what} (claimed {})", at.format("%Y-%m-%d %H:%M:%S UTC"))?,
            (_, Some(at)) => out!(
                "kept {what}: claimed {} min ago, its build may still be uploading (--grace-minutes {grace_minutes})",
                (now - at).num_minutes()
            )?,
            (_, None) => out!("kept {what}: no readable claim, so nothing says its build is over; delete it by hand")?,
        }
    }
    Ok(Done::Clean)
}

/// Builds a snapshot of the staged ledger, with the operational store's collection records as known now.
pub async fn build(ctx: &super::Ctx, as_of: cobro_domain::AsOf) -> anyhow::Result<(SnapshotRef, SnapshotManifest)> {
    let collections = ctx.collections(ctx.workflow()?).await?;
    let spinner = progress::spinner(&format!("building snapshot as of {as_of}"));
    let built = ctx.build_snapshot(as_of, collections, None).await;
    spinner.finish_and_clear();
    built
}

pub fn print_summary(snap: &SnapshotRef, m: &SnapshotManifest) -> std::io::Result<()> {
    out!("snapshot as of {} version {} written to {}", snap.as_of, snap.version, snap.dir)?;
    for (table, f) in &m.files {
        out!("  {:<12} {:>12} rows  {:>12} bytes  sha256 {}", table, f.rows, f.bytes, &f.sha256[..16])?;
    }
    for (k, v) in m.control_totals.iter().filter(|(k, _)| k.starts_with("open_items")) {
        out!("  {k} = {v}")?;
    }
    Ok(())
}
