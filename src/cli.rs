//! Command-line options (clap).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use cobro_domain::{AgeingBuckets, AsOf};

/// cobro: accounts-receivable collections and DSO analytics over immutable Parquet snapshots.
#[derive(Debug, Parser)]
#[command(name = "cobro", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// Data directory (staged ledger and snapshots).
    #[arg(long, global = true, env = "COBRO_DATA_DIR", default_value = "./cobro-data")]
    pub data_dir: PathBuf,
    /// Segment rules and work-queue settings (TOML); by default the built-in data/strategies/segments.toml.
    #[arg(long, global = true, env = "COBRO_SEGMENTS", value_name = "FILE")]
    pub segments: Option<PathBuf>,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Import the bundled IBM late-payment sample, snapshot it and print a summary.
    #[command(after_help = "Examples:\n  cobro demo\n  cobro demo --data-dir /tmp/cobro-demo --as-of 2013-06-30")]
    Demo(DemoArgs),
    /// Write a seeded, realistic synthetic ledger as canonical CSV files.
    #[command(
        after_help = "Examples:\n  cobro generate --customers 1000 --invoices 100000 --seed 7 --out gen/\n  cobro import --mapping data/mappings/cobro-canonical.toml gen/customers.csv gen/documents.csv gen/payments.csv gen/allocations.csv gen/fx_rates.csv"
    )]
    Generate(GenerateArgs),
    /// Validate ERP export files through a mapping and stage them; rejected rows are kept with their reason.
    #[command(
        after_help = "Exit codes: 0 all rows accepted, 3 done with rejected rows (see the rejects table), 1 failed.\n\nExamples:\n  cobro import --mapping data/mappings/ibm-late-payment.toml data/samples/ibm-late-payment/WA_Fn-UseC_-Accounts-Receivable.csv\n  cobro import --mapping data/mappings/cobro-canonical.toml --max-reject-rate 1 exports/*.csv"
    )]
    Import(ImportArgs),
    /// Build an immutable, versioned snapshot of the staged ledger at an as-of date.
    #[command(
        after_help = "Examples:\n  cobro snapshot --as-of 2013-06-30\n  cobro snapshot --as-of 2024-12-31 --data-dir /srv/cobro"
    )]
    Snapshot(SnapshotArgs),
    /// Run SQL over a snapshot's tables and views (customers, documents, payments, allocations, fx_rates, open_items,
    /// unapplied, ageing, ar_monthly, customer_behaviour, disputes, promises, ...; docs/metrics.md lists them all).
    #[command(
        after_help = "Examples:\n  cobro sql \"SELECT bucket, COUNT(*), SUM(balance) FROM open_items GROUP BY bucket ORDER BY bucket\"\n  cobro sql --as-of 2013-06-30 --format csv \"SELECT * FROM open_items\" > open.csv\n  cobro sql --format parquet --out open.parquet \"SELECT * FROM open_items\""
    )]
    Sql(SqlArgs),
    /// The CFO's KPI summary at an as-of date (DSO, BPDSO, ADD, CEI, % current, % over 90, disputed DSO, dispute
    /// SLA, promises kept, days late), each with its definition and the figures behind it.
    #[command(
        after_help = "Examples:\n  cobro metrics --as-of 2024-12-31\n  cobro metrics --as-of 2013-06-30 --format json\n  cobro sql --as-of 2024-12-31 \"SELECT * FROM ar_monthly\"   # the monthly series behind it"
    )]
    Metrics(MetricsArgs),
    /// Customer segments with the reasons behind each (rules: data/strategies/segments.toml); `segments diff`
    /// lists the customers whose segment changed between two snapshots.
    #[command(
        after_help = "Examples:\n  cobro segments --as-of 2013-06-30\n  cobro segments diff --from 2013-03-31 --to 2013-06-30\n  cobro --segments my-rules.toml segments --format csv"
    )]
    Segments(SegmentsArgs),
    /// The collectors' work queue: one row per customer with open debt, ranked by priority, with the next step and
    /// the reasons.
    #[command(
        after_help = "Examples:\n  cobro queue --as-of 2013-06-30\n  cobro queue --collector COL01 --limit 20\n  cobro queue --format csv > queue.csv"
    )]
    Queue(QueueArgs),
    /// Back-test the predicted pay dates: replay month ends with only what was known then, and compare the
    /// predictions and the "pays on the due date" baseline with what happened.
    #[command(
        after_help = "Examples:\n  cobro backtest --from 2012-06 --to 2013-06\n  cobro backtest --from 2024-01 --to 2024-10 --format json"
    )]
    Backtest(BacktestArgs),
    /// List the views defined over a snapshot, or print one view's SQL as rendered for it (the as-of date, bucket
    /// edges and segment rules filled in): the exact definition behind every number.
    #[command(
        after_help = "Examples:\n  cobro views\n  cobro views segments\n  cobro --segments my-rules.toml views work_queue"
    )]
    Views(ViewsArgs),
}

/// `cobro views`.
#[derive(Debug, Args)]
pub struct ViewsArgs {
    /// Snapshot date; defaults to the latest snapshot.
    #[arg(long)]
    pub as_of: Option<AsOf>,
    /// A view's name: print its SQL.
    pub name: Option<String>,
}

/// `cobro segments`.
#[derive(Debug, Args)]
pub struct SegmentsArgs {
    /// Snapshot date; defaults to the latest snapshot.
    #[arg(long)]
    pub as_of: Option<AsOf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// `diff`: compare two snapshots.
    #[command(subcommand)]
    pub action: Option<SegmentsAction>,
}

/// Subcommands of `cobro segments`.
#[derive(Debug, Subcommand)]
pub enum SegmentsAction {
    /// Customers whose segment, overlays or effective segment changed between two snapshots.
    Diff(SegmentsDiffArgs),
}

/// `cobro segments diff`.
#[derive(Debug, Args)]
pub struct SegmentsDiffArgs {
    /// The earlier snapshot's date.
    #[arg(long)]
    pub from: AsOf,
    /// The later snapshot's date.
    #[arg(long)]
    pub to: AsOf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

/// `cobro queue`.
#[derive(Debug, Args)]
pub struct QueueArgs {
    /// Snapshot date; defaults to the latest snapshot.
    #[arg(long)]
    pub as_of: Option<AsOf>,
    /// Only this collector's customers (ranked among themselves).
    #[arg(long)]
    pub collector: Option<String>,
    /// Show at most this many rows.
    #[arg(long)]
    pub limit: Option<u64>,
    /// Output format (table shows the main columns; csv, json and parquet have them all).
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

/// A calendar month, `YYYY-MM`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct YearMonth {
    /// Year.
    pub year: i32,
    /// Month, 1-12.
    pub month: u32,
}

impl std::str::FromStr for YearMonth {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let bad = || format!("`{text}` is not a month in YYYY-MM form (for example 2024-06)");
        let (y, m) = text.split_once('-').ok_or_else(bad)?;
        let (year, month) = (y.parse::<i32>().map_err(|_| bad())?, m.parse::<u32>().map_err(|_| bad())?);
        if y.len() != 4 || m.len() != 2 || !(1..=12).contains(&month) {
            return Err(bad());
        }
        Ok(Self { year, month })
    }
}

/// `cobro backtest`.
#[derive(Debug, Args)]
pub struct BacktestArgs {
    /// First month end to replay (YYYY-MM).
    #[arg(long)]
    pub from: YearMonth,
    /// Last month end to replay (YYYY-MM); must end before the snapshot's date.
    #[arg(long)]
    pub to: YearMonth,
    /// The snapshot whose ledger says what happened; defaults to the latest.
    #[arg(long)]
    pub as_of: Option<AsOf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

/// Parses `--buckets 30,60,90,120`: the last day past due of each ageing bucket after `current`.
fn parse_buckets(text: &str) -> Result<AgeingBuckets, String> {
    let edges = text
        .split(',')
        .map(|part| {
            part.trim()
                .parse::<i64>()
                .map_err(|_| format!("`{}` is not a whole number of days (e.g. 30,60,90,120)", part.trim()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    AgeingBuckets::new(edges).map_err(|e| e.to_string())
}

/// `cobro metrics`.
#[derive(Debug, Args)]
pub struct MetricsArgs {
    /// Snapshot date; defaults to the latest snapshot.
    #[arg(long)]
    pub as_of: Option<AsOf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

/// `cobro demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// As-of date of the demo snapshot.
    #[arg(long, default_value = "2013-06-30")]
    pub as_of: AsOf,
}

/// `cobro generate`.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Number of customers.
    #[arg(long)]
    pub customers: u64,
    /// Number of invoices.
    #[arg(long)]
    pub invoices: u64,
    /// Random seed: the same seed gives the same files.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Output directory.
    #[arg(long)]
    pub out: PathBuf,
    /// Number of months of history.
    #[arg(long, default_value_t = 24)]
    pub months: u32,
}

/// `cobro import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Mapping file (TOML), e.g. data/mappings/cobro-canonical.toml.
    #[arg(long)]
    pub mapping: PathBuf,
    /// Fail (exit 1, nothing staged) when more than this percentage of rows is rejected.
    #[arg(long, value_name = "PERCENT")]
    pub max_reject_rate: Option<f64>,
    /// Input files (CSV, JSON or Parquet, as the mapping says).
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
}

/// `cobro snapshot`.
#[derive(Debug, Args)]
pub struct SnapshotArgs {
    /// As-of date (YYYY-MM-DD).
    #[arg(long)]
    pub as_of: AsOf,
}

/// Output formats of `cobro sql`.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Format {
    /// Aligned text table.
    Table,
    /// CSV with a header.
    Csv,
    /// JSON array of objects.
    Json,
    /// Parquet (binary; use --out or redirect).
    Parquet,
}

/// `cobro sql`.
#[derive(Debug, Args)]
pub struct SqlArgs {
    /// Snapshot date; defaults to the latest snapshot.
    #[arg(long)]
    pub as_of: Option<AsOf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Write to this file instead of standard output.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Ageing bucket edges for the `ageing` views: the last day past due of each bucket after `current`
    /// (default: the snapshot's, normally 30,60,90,120).
    #[arg(long, value_name = "DAYS,DAYS,...", value_parser = parse_buckets)]
    pub buckets: Option<AgeingBuckets>,
    /// The query.
    pub query: String,
}
