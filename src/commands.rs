//! One function per command; each only calls the libraries.

mod backtest;
mod demo;
mod generate;
mod import;
mod metrics;
mod queue;
mod segments;
mod snapshot;
mod sql;
mod views;

use std::path::PathBuf;
use std::sync::Arc;

use cobro_analytics::SnapshotSession;
use cobro_analytics::segments::SegmentRules;
use cobro_analytics::sql::SqlParams;
use cobro_domain::AsOf;
use cobro_pipeline::snapshot::{self as snap, SnapshotManifest, SnapshotRef};

use crate::Done;
use crate::cli::{Cli, Command, SegmentsAction};

/// What every command may need besides its own arguments.
pub struct Ctx {
    /// The data directory.
    pub data_dir: PathBuf,
    /// `--segments FILE`, when given.
    pub segments: Option<PathBuf>,
}

/// A snapshot opened for querying.
pub struct Opened {
    /// Which snapshot.
    pub snap: SnapshotRef,
    /// Its manifest.
    pub manifest: SnapshotManifest,
    /// A session over it, with the views rendered at the snapshot's date.
    pub session: SnapshotSession,
}

impl Ctx {
    /// The SQL parameters of a snapshot, with the segment rules of `--segments` (validated) or the built-in ones.
    pub fn params(&self, manifest: &SnapshotManifest) -> anyhow::Result<SqlParams> {
        let mut params = snap::sql_params(manifest);
        if let Some(path) = &self.segments {
            params.rules = Arc::new(SegmentRules::load(path)?);
        }
        Ok(params)
    }

    /// Finds the snapshot of `as_of` (the latest when `None`): where it is, its manifest, its SQL parameters.
    pub fn resolve(&self, as_of: Option<AsOf>) -> anyhow::Result<(SnapshotRef, SnapshotManifest, SqlParams)> {
        let snap = snap::resolve(&self.data_dir, as_of)?;
        let manifest = snap::read_manifest(&snap.dir)?;
        let params = self.params(&manifest)?;
        Ok((snap, manifest, params))
    }

    /// Resolves and opens the snapshot of `as_of` (the latest when `None`).
    pub async fn open(&self, as_of: Option<AsOf>) -> anyhow::Result<Opened> {
        let (snap, manifest, params) = self.resolve(as_of)?;
        let session = SnapshotSession::open(&snap.dir, params).await?;
        Ok(Opened { snap, manifest, session })
    }
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<Done> {
    let ctx = Ctx { data_dir: cli.data_dir, segments: cli.segments };
    match cli.command {
        Command::Demo(args) => demo::run(&ctx, args).await,
        Command::Generate(args) => generate::run(args),
        Command::Import(args) => import::run(&ctx.data_dir, args),
        Command::Snapshot(args) => snapshot::run(&ctx.data_dir, args).await,
        Command::Sql(args) => sql::run(&ctx, args).await,
        Command::Metrics(args) => metrics::run(&ctx, args).await,
        Command::Segments(args) => match args.action {
            Some(SegmentsAction::Diff(diff)) => segments::diff(&ctx, diff).await,
            None => segments::list(&ctx, args.as_of, args.format).await,
        },
        Command::Queue(args) => queue::run(&ctx, args).await,
        Command::Backtest(args) => backtest::run(&ctx, args).await,
        Command::Views(args) => views::run(&ctx, args).await,
    }
}
