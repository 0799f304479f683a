//! The `cobro` command: thin commands over the cobro libraries. It reads options, builds what a command needs,
//! runs it, and maps the outcome to an exit code: 0 done, 3 done with rejected rows, 1 failed, 2 usage error.

/// `println!` that returns the write error instead of panicking (a closed pipe, as in `cobro sql … | head`).
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*)
    }};
}

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
    /// Done, but some input rows were rejected (they are kept in `rejects`), or some messages failed (kept in the
    /// outbox with their error).
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
        // The reader went away (`cobro … | head`): stop quietly, as other command-line tools do.
        Err(e)
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) =>
        {
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            // A cause whose text the line above already shows is not repeated.
            let mut shown = e.to_string();
            for cause in e.chain().skip(1) {
                let text = cause.to_string();
                if !shown.contains(&text) {
                    eprintln!("  caused by: {text}");
                }
                shown = text;
            }
            ExitCode::FAILURE
        }
    }
}
