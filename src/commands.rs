//! One function per command; each only calls the libraries.

mod alarms;
mod backtest;
mod case;
mod case_import;
mod case_views;
mod demo;
mod dunning;
mod generate;
mod import;
mod metrics;
mod queue;
mod report;
mod segments;
mod serve;
mod snapshot;
mod sql;
mod views;

pub use cobro_app::{Ctx, Opened};

use crate::Done;
use crate::cli::{Cli, Command, SegmentsAction};

/// Who is acting: `--as`, else `$COBRO_USER`, else `$USER`, else `cli`.
pub fn actor(by: Option<&str>) -> String {
    by.map(str::to_owned)
        .or_else(|| std::env::var("COBRO_USER").ok())
        .or_else(|| std::env::var("USER").ok())
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| "cli".to_owned())
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<Done> {
    use cobro_pipeline::snapshot::SnapshotRoot;
    let root = SnapshotRoot::for_data_dir(&cli.data_dir)?;
    let work_dir = cli.work_dir.unwrap_or_else(|| match root {
        SnapshotRoot::Local(_) => std::path::PathBuf::from(&cli.data_dir),
        SnapshotRoot::Object(_) => std::path::PathBuf::from("./cobro-work"),
    });
    // Only snapshots in an object store are copied locally (decision 0016).
    let cache = match (&root, cli.snapshot_cache.as_deref()) {
        (SnapshotRoot::Local(_), _) | (_, Some("off")) => None,
        (_, Some(dir)) => Some(std::path::PathBuf::from(dir)),
        (_, None) => Some(work_dir.join("snapshot-cache")),
    };
    let cache = cache.map(cobro_pipeline::snapshot_cache::SnapshotCache::new);
    let ctx = Ctx::new(work_dir, root, cache, cli.segments, cli.workflow, cli.templates, cli.store);
    match cli.command {
        Command::Demo(args) => demo::run(ctx, args).await,
        Command::Generate(args) => generate::run(args),
        Command::Import(args) => import::run(&ctx.data_dir, args),
        Command::Snapshot(args) => snapshot::run(&ctx, args).await,
        Command::Sql(args) => sql::run(&ctx, args).await,
        Command::Metrics(args) => metrics::run(&ctx, args).await,
        Command::Report(args) => report::run(&ctx, args).await,
        Command::Segments(args) => match args.action {
            Some(SegmentsAction::Diff(diff)) => segments::diff(&ctx, diff).await,
            None => segments::list(&ctx, args.as_of, args.format).await,
        },
        Command::Queue(args) => queue::run(&ctx, args).await,
        Command::Backtest(args) => backtest::run(&ctx, args).await,
        Command::Views(args) => views::run(&ctx, args).await,
        Command::Case(args) => case::run(&ctx, args.action).await,
        Command::Alarms(args) => alarms::run(&ctx, args).await,
        Command::Dunning(args) => dunning::run(&ctx, args.action).await,
        Command::Serve(args) => serve::serve(ctx, args).await,
        Command::Token(args) => serve::token(&ctx, args.action).await,
        Command::Portal(args) => serve::portal(&ctx, args.action).await,
    }
}
