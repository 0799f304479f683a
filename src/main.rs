//! The `cobro` command: thin commands over the cobro libraries. It reads options, builds what a command needs,
//! runs it, and maps the outcome to an exit code: 0 done, 3 done with rejected rows, 1 failed, 2 usage error.

mod cli;
mod commands;
mod output;
mod progress;

use std::process::ExitCode;

use clap::Parser;

/// How a command ended, when it did not fail.
pub enum Done {
    /// Everything went through.
    Clean,
    /// Done, but some input rows were rejected (they are kept in `rejects`).
    WithRejects,
}

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("COBRO_LOG").unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(Done::Clean) => ExitCode::SUCCESS,
        Ok(Done::WithRejects) => ExitCode::from(3),
        Err(e) => {
            eprintln!("error: {e}");
            for cause in e.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::FAILURE
        }
    }
}
