//! One function per command; each only calls the libraries.

mod demo;
mod generate;
mod import;
mod metrics;
mod snapshot;
mod sql;

use crate::Done;
use crate::cli::{Cli, Command};

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<Done> {
    let data_dir = cli.data_dir;
    match cli.command {
        Command::Demo(args) => demo::run(&data_dir, args).await,
        Command::Generate(args) => generate::run(args),
        Command::Import(args) => import::run(&data_dir, args),
        Command::Snapshot(args) => snapshot::run(&data_dir, args).await,
        Command::Sql(args) => sql::run(&data_dir, args).await,
        Command::Metrics(args) => metrics::run(&data_dir, args).await,
    }
}
