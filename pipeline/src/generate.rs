//! The seeded, streaming synthetic ledger generator behind `cobro generate`.
//!
//! It writes the canonical CSV tables (docs/canonical-format.md) for a population of customers whose sizes,
//! amounts and payment behaviour follow the distributions in docs/generator.md, plus customers_truth.csv
//! with the behaviour class each customer was drawn with. The same [`GenerateConfig`] always gives
//! byte-identical files. Memory is O(customers): invoices are drawn day by day and written as they are
//! drawn, together with their credit notes, payments and allocations.

mod calendar;
mod customers;
mod fx;
mod ledger;
mod sampling;
mod sink;
#[cfg(test)]
mod tests;

use std::path::PathBuf;

use chrono::{Datelike, Months, NaiveDate};

use calendar::{DateTable, daily_counts};
use customers::{Staff, Volume, draw_population, write_customers};
use ledger::{Counts, Ledger, Picks};
use sampling::{AliasTable, Stream};
use sink::CsvSink;

/// Progress is reported after every this many invoices (and once at the end).
pub const PROGRESS_EVERY: u64 = 10_000;

/// Header lines, exactly as docs/canonical-format.md lists the columns.
const CUSTOMERS_HEADER: &str = "customer_id,name,country,currency,account_group,payment_terms_days,credit_limit,\
collector_id,sales_rep_id,email,phone,language,timezone,vip,supplier_id";
const DOCUMENTS_HEADER: &str = "document_id,customer_id,kind,issue_date,due_date,currency,amount,reference,disputed";
const PAYMENTS_HEADER: &str = "payment_id,customer_id,received_date,currency,amount,method,reference";
const ALLOCATIONS_HEADER: &str = "source_id,document_id,applied_date,amount";
const FX_HEADER: &str = "date,currency,rate_to_reporting";
const TRUTH_HEADER: &str = "customer_id,behaviour_class";

/// The default first issue date, 2024-01-01 (checked at compile time).
const DEFAULT_START: NaiveDate = match NaiveDate::from_ymd_opt(2024, 1, 1) {
    Some(date) => date,
    None => panic!("2024-01-01 is a valid date"),
};
/// The default period length in months.
const DEFAULT_MONTHS: u32 = 24;
/// Most customers accepted: the in-memory model takes about 36 bytes each, so this bounds memory at ~4 GB.
const MAX_CUSTOMERS: u64 = 100_000_000;
/// Longest period accepted, in months (100 years).
const MAX_MONTHS: u32 = 1_200;
/// Days after the extract date that the date table covers (the longest terms are 90 days).
const DATE_TABLE_MARGIN: u32 = 120;

/// What to generate and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenerateConfig {
    /// Number of customers (1 to 100 million).
    pub customers: u64,
    /// Number of invoices (documents of kind `invoice`); credit and debit notes come on top.
    pub invoices: u64,
    /// Seed of every random draw.
    pub seed: u64,
    /// Output directory, created if missing; existing files of the same names are replaced.
    pub out: PathBuf,
    /// First possible issue date.
    pub start: NaiveDate,
    /// Length of the period in calendar months; the extract date is the last day of the last month.
    pub months: u32,
}

impl GenerateConfig {
    /// A config over 24 months from 2024-01-01.
    pub fn new(customers: u64, invoices: u64, seed: u64, out: PathBuf) -> Self {
        Self { customers, invoices, seed, out, start: DEFAULT_START, months: DEFAULT_MONTHS }
    }
}

/// Row counts of a finished run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenerateSummary {
    /// Rows of customers.csv (and of customers_truth.csv).
    pub customers: u64,
    /// Invoice rows of documents.csv.
    pub invoices: u64,
    /// Credit-note rows of documents.csv (documents.csv also holds about 0.5 % debit notes).
    pub credit_notes: u64,
    /// Rows of payments.csv.
    pub payments: u64,
    /// Rows of allocations.csv.
    pub allocations: u64,
    /// Rows of fx_rates.csv.
    pub fx_rates: u64,
    /// The extract date: the last day of the last month; nothing is dated later except due dates.
    pub extract_date: NaiveDate,
}

/// Why generation failed.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    /// A config value is out of range.
    #[error("invalid generator setting `{field}`: {reason}")]
    InvalidConfig {
        /// The config field.
        field: &'static str,
        /// What is expected.
        reason: String,
    },
    /// The output directory or one of its files could not be created.
    #[error("cannot create {}: {source}; check that the path is writable", path.display())]
    CreateOutput {
        /// The directory or file.
        path: PathBuf,
        /// The IO error.
        source: std::io::Error,
    },
    /// Writing rows to an output file failed (disk full, ...).
    #[error("cannot write rows to {}: {source}; check free disk space and re-run", path.display())]
    WriteRow {
        /// The file being written.
        path: PathBuf,
        /// The IO error.
        source: std::io::Error,
    },
    /// A completed `.partial` file could not be renamed to its final name.
    #[error("cannot move the finished file into place at {}: {source}", path.display())]
    PublishOutput {
        /// The final path.
        path: PathBuf,
        /// The IO error.
        source: std::io::Error,
    },
}

/// The calendar of a run: days are offsets from `start`.
struct Period {
    start: NaiveDate,
    extract: NaiveDate,
    /// Days from `start` to `extract`, both included.
    days: u32,
}

impl Period {
    fn of(cfg: &GenerateConfig) -> Result<Self, GenerateError> {
        if cfg.months == 0 || cfg.months > MAX_MONTHS {
            return Err(GenerateError::InvalidConfig {
                field: "months",
                reason: format!("got {}; use 1 to {MAX_MONTHS} months", cfg.months),
            });
        }
        let out_of_range = || GenerateError::InvalidConfig {
            field: "start",
            reason: format!("{} plus {} months is past the last representable date", cfg.start, cfg.months),
        };
        let extract = cfg
            .start
            .with_day(1)
            .and_then(|first| first.checked_add_months(Months::new(cfg.months)))
            .and_then(|next| next.pred_opt())
            .filter(|d| d.checked_add_days(chrono::Days::new(u64::from(DATE_TABLE_MARGIN) + 400)).is_some())
            .ok_or_else(out_of_range)?;
        let days = u32::try_from((extract - cfg.start).num_days() + 1).map_err(|_| out_of_range())?;
        Ok(Self { start: cfg.start, extract, days })
    }
}

fn validate(cfg: &GenerateConfig) -> Result<(), GenerateError> {
    if cfg.customers == 0 {
        return Err(GenerateError::InvalidConfig { field: "customers", reason: "got 0; use at least 1".into() });
    }
    if cfg.customers > MAX_CUSTOMERS {
        return Err(GenerateError::InvalidConfig {
            field: "customers",
            reason: format!("got {}; at most {MAX_CUSTOMERS} are supported", cfg.customers),
        });
    }
    Ok(())
}

/// The files a run writes, in the order they are published.
const FILES: [&str; 6] =
    ["customers.csv", "customers_truth.csv", "fx_rates.csv", "documents.csv", "payments.csv", "allocations.csv"];

/// Generates the ledger described by `cfg` into `cfg.out`.
///
/// Files are written as `<name>.partial` and renamed into place only when all are complete, so a failed run
/// never leaves a half-written table under its final name (its `.partial` files are removed). `progress`
/// receives the number of invoices written so far, every [`PROGRESS_EVERY`] invoices and once at the end.
pub fn generate(cfg: &GenerateConfig, progress: &mut dyn FnMut(u64)) -> Result<GenerateSummary, GenerateError> {
    validate(cfg)?;
    let period = Period::of(cfg)?;
    std::fs::create_dir_all(&cfg.out)
        .map_err(|source| GenerateError::CreateOutput { path: cfg.out.clone(), source })?;
    let result = std::thread::scope(|scope| write_ledger(scope, cfg, &period, progress));
    if result.is_err() {
        for name in FILES {
            // Best effort: the error being returned matters more than a leftover temporary file.
            let _ = std::fs::remove_file(cfg.out.join(format!("{name}.partial")));
        }
    }
    result
}

/// Draws and writes every file; the writer threads live in `scope`.
fn write_ledger<'scope>(
    scope: &'scope std::thread::Scope<'scope, '_>,
    cfg: &GenerateConfig,
    period: &Period,
    progress: &mut dyn FnMut(u64),
) -> Result<GenerateSummary, GenerateError> {
    let dates = DateTable::new(period.start, period.days + DATE_TABLE_MARGIN);
    let start_weekday = period.start.weekday().num_days_from_monday();
    let extract = (period.days - 1) as i32;
    let create = |name: &str, header: &str| CsvSink::create(scope, &cfg.out, name, header);

    let staff = Staff::for_customers(cfg.customers);
    let population = draw_population(cfg.seed, cfg.customers, period.days, &staff);
    let volume = Volume { invoices: cfg.invoices, months: cfg.months, total_weight: population.weights.iter().sum() };
    let mut master = create(FILES[0], CUSTOMERS_HEADER)?;
    let mut truth = create(FILES[1], TRUTH_HEADER)?;
    write_customers(cfg.seed, cfg.customers, period.days, &staff, &volume, &mut master, &mut truth)?;
    let alias = AliasTable::new(&population.weights);
    drop(population.weights);

    let mut fx = create(FILES[2], FX_HEADER)?;
    fx::write_fx(cfg.seed, period.days, start_weekday, &dates, &mut fx)?;
    let fx_rows = fx.rows();

    let mut ledger = Ledger {
        stream: Stream::new(cfg.seed, "invoices"),
        picks: Picks::new(cfg.seed),
        customers: &population.customers,
        alias: &alias,
        dates: &dates,
        start_weekday,
        extract,
        documents: create(FILES[3], DOCUMENTS_HEADER)?,
        payments: create(FILES[4], PAYMENTS_HEADER)?,
        allocations: create(FILES[5], ALLOCATIONS_HEADER)?,
        counts: Counts::default(),
    };
    for (day, count) in daily_counts(period.start, period.days, cfg.invoices).into_iter().enumerate() {
        for _ in 0..count {
            ledger.invoice(day as i32)?;
            if ledger.counts.invoices.is_multiple_of(PROGRESS_EVERY) {
                progress(ledger.counts.invoices);
            }
        }
    }
    if !ledger.counts.invoices.is_multiple_of(PROGRESS_EVERY) {
        progress(ledger.counts.invoices);
    }
    let counts = ledger.counts;
    tracing::info!(
        invoices = counts.invoices,
        credit_notes = counts.credit_notes,
        debit_notes = counts.debit_notes,
        payments = counts.payments,
        unapplied_payments = counts.unapplied_payments,
        allocations = counts.allocations,
        extract_date = %period.extract,
        "generated synthetic ledger"
    );

    let written = [
        master.finish()?,
        truth.finish()?,
        fx.finish()?,
        ledger.documents.finish()?,
        ledger.payments.finish()?,
        ledger.allocations.finish()?,
    ];
    for file in written {
        file.publish()?;
    }
    Ok(GenerateSummary {
        customers: cfg.customers,
        invoices: counts.invoices,
        credit_notes: counts.credit_notes,
        payments: counts.payments,
        allocations: counts.allocations,
        fx_rates: fx_rows,
        extract_date: period.extract,
    })
}
