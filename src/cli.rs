//! Command-line options (clap).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use cobro_domain::{AgeingBuckets, AsOf};

/// cobro: accounts-receivable collections and DSO analytics over immutable Parquet snapshots.
#[derive(Debug, Parser)]
#[command(name = "cobro", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// Data directory (staged ledger, snapshots, operational store), or `s3://bucket/prefix` to publish and read
    /// snapshots in an S3-compatible object store (settings from AWS_REGION, AWS_ENDPOINT, AWS_ACCESS_KEY_ID,
    /// AWS_SECRET_ACCESS_KEY, AWS_ALLOW_HTTP); the rest then lives in `--work-dir`.
    #[arg(long, global = true, env = "COBRO_DATA_DIR", default_value = "./cobro-data", value_name = "DIR|URL")]
    pub data_dir: String,
    /// The local directory for the staged ledger, the SQLite operational store and the file outbox when
    /// `--data-dir` is an object store; by default the data directory itself (when local), else ./cobro-work.
    #[arg(long, global = true, env = "COBRO_WORK_DIR", value_name = "DIR")]
    pub work_dir: Option<PathBuf>,
    /// Where snapshots read from an object store are copied, each file checked against the manifest's sha256,
    /// before they are queried (once per snapshot version; later queries make no request for data); `off` reads the
    /// store on every query instead. By default `<work-dir>/snapshot-cache`.
    #[arg(long, global = true, env = "COBRO_SNAPSHOT_CACHE", value_name = "DIR|off")]
    pub snapshot_cache: Option<String>,
    /// Segment rules and work-queue settings (TOML); by default the built-in data/strategies/segments.toml.
    #[arg(long, global = true, env = "COBRO_SEGMENTS", value_name = "FILE")]
    pub segments: Option<PathBuf>,
    /// Workflow configuration (dispute routing, calendar, promise grace, alarms, delay reasons, objectives);
    /// by default the built-in data/strategies/workflow.toml.
    #[arg(long, global = true, env = "COBRO_WORKFLOW", value_name = "FILE")]
    pub workflow: Option<PathBuf>,
    /// Message templates: a directory of `<language>.toml` files (es.toml, en.toml); by default the built-in
    /// data/templates.
    #[arg(long, global = true, env = "COBRO_TEMPLATES", value_name = "DIR")]
    pub templates: Option<PathBuf>,
    /// Operational store URL; by default the SQLite file collections.db in the data directory
    /// (`postgres://...` needs a build with `--features postgres`).
    #[arg(long, global = true, env = "COBRO_STORE", value_name = "URL")]
    pub store: Option<String>,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Import the bundled IBM late-payment sample, snapshot it, print a summary and the dunning plan, then serve the
    /// API with a printed admin token and a demo portal link (`--no-serve` to stop after the summary).
    #[command(
        after_help = "Examples:\n  cobro demo\n  cobro demo --data-dir /tmp/cobro-demo --as-of 2013-06-30\n  cobro demo --no-serve"
    )]
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
        after_help = "Examples:\n  cobro snapshot --as-of 2013-06-30\n  cobro snapshot --as-of 2024-12-31 --data-dir /srv/cobro\n  AWS_ENDPOINT=http://127.0.0.1:5055 AWS_ALLOW_HTTP=true cobro snapshot --as-of 2024-12-31 --data-dir s3://bucket/acme --work-dir ./acme-work\n  cobro snapshot --list"
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
    /// The CFO report: KPI tiles with definitions, the month's movement and its drivers, charts and tables, as one
    /// self-contained HTML file (or the same tables as an Excel workbook).
    #[command(
        after_help = "Examples:\n  cobro report --as-of 2013-06-30 --out report.html\n  cobro report --as-of 2024-12-31 --format xlsx --out report.xlsx"
    )]
    Report(ReportArgs),
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
    /// Record what happened with a customer (the five contact outcomes of a collection call), and everything
    /// that follows: promises, payment reports, disputes routed to departments, tasks, the daily tick.
    #[command(
        after_help = "Examples:\n  cobro case promise --customer C1 --invoices INV-1,INV-2 --date 2024-12-20 --note \"pays Friday\"\n  cobro case dispute --customer C1 --invoices INV-3 --type delivery --amount 250\n  cobro case no-contact --customer C1 --invoices INV-1\n  cobro case resolve DSP-1 --resolution credit_note\n  cobro case tick --as-of 2024-12-31\n  cobro case show C1"
    )]
    Case(CaseArgs),
    /// The four internal alarms of seed 003: customers needing action (daily, AR manager), broken promises (daily,
    /// per collector), payments reported but not credited (weekly, per collector), open disputes (weekly, per
    /// department and per collector).
    #[command(after_help = "Examples:\n  cobro alarms --as-of 2024-12-31\n  cobro alarms --format json")]
    Alarms(AlarmsArgs),
    /// Dunning by strategy (data/strategies/*.toml): `plan` shows every action the run would take and every item
    /// it would not act on, with the reason; `run` records it (messages queued in the outbox, tasks created, each
    /// step at most once) and delivers what is due; `deliver` runs the outbox worker alone. Optional approval:
    /// `plan --save`, `approve`, `run --plan`. Bounces, pauses and the outbox: `bounce`, `pause`, `resume`,
    /// `messages`.
    #[command(
        after_help = "Examples:\n  cobro dunning plan --as-of 2024-12-31\n  cobro dunning plan --at 2024-12-10T09:00:00Z --format json\n  cobro dunning run --channel smtp --smtp-url smtp://127.0.0.1:2525\n  cobro dunning plan --save --as alice && cobro dunning approve PLAN-1 --as bob && cobro dunning run --plan PLAN-1\n  cobro dunning pause C042 --until 2025-01-15 --reason \"CFO negotiating a payment plan\"\n  cobro dunning bounce MSG-17 --reason \"550 5.1.1 user unknown\""
    )]
    Dunning(DunningArgs),
    /// Serve the HTTP API (`/api/v1`, OpenAPI at /api/v1/openapi.json) until Ctrl-C or SIGTERM.
    #[command(
        after_help = "Examples:\n  cobro serve\n  cobro serve --listen 0.0.0.0:8080 --config config/example.toml\n  cobro token create --role admin --label me   # then: curl -H 'Authorization: Bearer …' localhost:8080/api/v1/metrics"
    )]
    Serve(ServeArgs),
    /// API tokens: create (shown once; only its hash is kept), list, revoke.
    #[command(
        after_help = "Examples:\n  cobro token create --role analyst --label \"BI dashboards\"\n  cobro token create --role collector --collector COL01 --label ana\n  cobro token create --role department --department logistics --label \"logistics owner\"\n  cobro token revoke TOK-3"
    )]
    Token(TokenArgs),
    /// Customer portal links: signed, expiring, for one customer.
    #[command(after_help = "Examples:\n  cobro portal link 000201 --days 14")]
    Portal(PortalArgs),
}

/// `cobro serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Settings file (config/example.toml documents every key).
    #[arg(long, env = "COBRO_SERVER_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Address to listen on, over the file and $COBRO_LISTEN (port 0 picks a free one).
    #[arg(long)]
    pub listen: Option<std::net::SocketAddr>,
    /// Also serve read-only SQL over the PostgreSQL wire protocol here (psql, DBeaver, Metabase, Power BI); the
    /// password is an admin, cfo or analyst token. Without --pgwire-tls-cert passwords travel in clear: keep it on
    /// loopback.
    #[arg(long, value_name = "ADDR")]
    pub pgwire: Option<std::net::SocketAddr>,
    /// The wire protocol's TLS certificate (PEM: the server's certificate, then its chain). With it, connections
    /// that do not ask for TLS are refused (clients: sslmode=require, or verify-full with the CA).
    #[arg(long, env = "COBRO_PGWIRE_TLS_CERT", value_name = "FILE", requires = "pgwire_tls_key")]
    pub pgwire_tls_cert: Option<PathBuf>,
    /// The private key of --pgwire-tls-cert (PEM).
    #[arg(long, env = "COBRO_PGWIRE_TLS_KEY", value_name = "FILE", requires = "pgwire_tls_cert")]
    pub pgwire_tls_key: Option<PathBuf>,
}

/// `cobro token`.
#[derive(Debug, Args)]
pub struct TokenArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: TokenAction,
}

/// Subcommands of `cobro token`.
#[derive(Debug, Subcommand)]
pub enum TokenAction {
    /// Create a token and print it (the only time it is shown).
    Create {
        /// admin, cfo, analyst, collector or department.
        #[arg(long)]
        role: String,
        /// The collector a collector token belongs to.
        #[arg(long)]
        collector: Option<String>,
        /// The department a department token belongs to.
        #[arg(long)]
        department: Option<String>,
        /// What or who it is for.
        #[arg(long)]
        label: String,
    },
    /// Revoke a token by id.
    Revoke {
        /// Token id (`TOK-n`).
        token_id: String,
    },
}

/// `cobro portal`.
#[derive(Debug, Args)]
pub struct PortalArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: PortalAction,
}

/// Subcommands of `cobro portal`.
#[derive(Debug, Subcommand)]
pub enum PortalAction {
    /// Print a signed link to one customer's portal.
    Link {
        /// Customer id.
        customer: String,
        /// Days the link stays valid.
        #[arg(long, default_value_t = 14)]
        days: u32,
        /// The portal's public address, over the server configuration's `public_url`.
        #[arg(long, env = "COBRO_PUBLIC_URL")]
        base_url: Option<String>,
    },
}

/// `cobro dunning`.
#[derive(Debug, Args)]
pub struct DunningArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: DunningAction,
}

/// What a dunning plan is made of.
#[derive(Debug, Args, Clone)]
pub struct DunningRun {
    /// Snapshot date; defaults to the latest.
    #[arg(long)]
    pub as_of: Option<AsOf>,
    /// The run's instant (RFC 3339); defaults to now. Steps fall due on each customer's local date at it.
    #[arg(long)]
    pub at: Option<chrono::DateTime<chrono::Utc>>,
    /// Strategy directory (every *.toml but segments.toml and workflow.toml); by default the built-in one.
    #[arg(long, env = "COBRO_STRATEGIES", value_name = "DIR")]
    pub strategies: Option<PathBuf>,
}

/// How the outbox delivers, over the workflow file's `[delivery]`.
#[derive(Debug, Args, Clone, Default)]
pub struct Delivery {
    /// Channel: file (.eml files), smtp or webhook; by default `[delivery] channel` (file).
    #[arg(long, value_enum, env = "COBRO_CHANNEL")]
    pub channel: Option<ChannelArg>,
    /// Folder of the file channel; relative to the data directory (default `outbox`).
    #[arg(long, value_name = "DIR")]
    pub outbox: Option<PathBuf>,
    /// SMTP server: smtp://host:port, smtp://host:port?tls=required (STARTTLS), smtps://user@host:465 (TLS); the
    /// password comes from $COBRO_SMTP_PASSWORD.
    #[arg(long, env = "COBRO_SMTP_URL", value_name = "URL")]
    pub smtp_url: Option<String>,
    /// Webhook URL (JSON POST, signed with $COBRO_WEBHOOK_SECRET when set).
    #[arg(long, env = "COBRO_WEBHOOK_URL", value_name = "URL")]
    pub webhook_url: Option<String>,
    /// Deliver at most this many messages in this pass.
    #[arg(long)]
    pub limit: Option<usize>,
}

/// `--channel`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ChannelArg {
    /// `.eml` files.
    File,
    /// SMTP.
    Smtp,
    /// JSON POST.
    Webhook,
}

impl DunningRun {
    /// As the application layer takes it.
    pub fn request(&self) -> cobro_app::dunning::PlanRequest {
        cobro_app::dunning::PlanRequest { as_of: self.as_of, at: self.at, strategies: self.strategies.clone() }
    }
}

/// Subcommands of `cobro dunning`.
#[derive(Debug, Subcommand)]
pub enum DunningAction {
    /// A dry run: the plan, with every skip and its reason; nothing is sent or recorded (unless `--save`, which
    /// keeps it for approval).
    Plan {
        /// What the plan is made of.
        #[command(flatten)]
        run: DunningRun,
        /// Output: table or json (`{"actions": [...], "skipped": [...]}`).
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// Keep the plan for approval (`cobro dunning approve PLAN`); prints its id.
        #[arg(long)]
        save: bool,
        /// Who plans (recorded with a saved plan).
        #[arg(long = "as", value_name = "USER", env = "COBRO_USER")]
        by: Option<String>,
    },
    /// Plan and record: queue the messages, create the tasks, record every step key so that nothing fires twice
    /// (two runs at once included); then deliver what is due.
    Run {
        /// What the plan is made of.
        #[command(flatten)]
        run: DunningRun,
        /// Fire only the actions of this approved plan (needed when `[dunning] approval_required`).
        #[arg(long, value_name = "PLAN")]
        plan: Option<String>,
        /// Record only; leave delivery to `cobro dunning deliver`.
        #[arg(long)]
        no_deliver: bool,
        /// How to deliver.
        #[command(flatten)]
        delivery: Delivery,
    },
    /// The outbox worker: deliver every queued message that is due (retries included).
    Deliver {
        /// The worker's instant (RFC 3339); defaults to now.
        #[arg(long)]
        at: Option<chrono::DateTime<chrono::Utc>>,
        /// How to deliver.
        #[command(flatten)]
        delivery: Delivery,
    },
    /// Approve (or `--reject`) a saved plan. Whoever saved it cannot approve it.
    Approve {
        /// Plan id (`PLAN-n`).
        plan: String,
        /// Reject instead.
        #[arg(long)]
        reject: bool,
        /// Who decides.
        #[arg(long = "as", value_name = "USER", env = "COBRO_USER")]
        by: Option<String>,
    },
    /// Report a bounce: the message is marked bounced, its address held, and the collector gets a task.
    Bounce {
        /// Message id (`MSG-n`) or the Message-ID it was sent under.
        message: String,
        /// What the bounce said.
        #[arg(long)]
        reason: String,
        /// Who reports it.
        #[arg(long = "as", value_name = "USER", env = "COBRO_USER")]
        by: Option<String>,
    },
    /// Pause a customer's automatic dunning (messages, alerts and tasks), until a date or until resumed.
    Pause {
        /// Customer id.
        customer: String,
        /// Last day of the pause (inclusive); without it, until `resume`.
        #[arg(long)]
        until: Option<chrono::NaiveDate>,
        /// Why (shown on the customer's timeline).
        #[arg(long)]
        reason: String,
        /// When it is recorded (RFC 3339); defaults to now.
        #[arg(long)]
        at: Option<chrono::DateTime<chrono::Utc>>,
        /// Who pauses.
        #[arg(long = "as", value_name = "USER", env = "COBRO_USER")]
        by: Option<String>,
    },
    /// Resume a paused customer.
    Resume {
        /// Customer id.
        customer: String,
        /// Who resumes.
        #[arg(long = "as", value_name = "USER", env = "COBRO_USER")]
        by: Option<String>,
    },
    /// The outbox: messages with their state, attempts and last error.
    Messages {
        /// Only this state (queued, sending, sent, bounced, failed).
        #[arg(long)]
        state: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
}

/// `cobro alarms`.
#[derive(Debug, Args)]
pub struct AlarmsArgs {
    /// Snapshot date; defaults to the latest snapshot.
    #[arg(long)]
    pub as_of: Option<AsOf>,
    /// Only one alarm: action-needed, broken-promises, reported-not-credited or open-disputes.
    #[arg(long)]
    pub only: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

/// `cobro case`.
#[derive(Debug, Args)]
pub struct CaseArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: CaseAction,
}

/// Options shared by every recording command.
#[derive(Debug, Args, Clone)]
pub struct Recording {
    /// The snapshot whose ledger the documents are checked against (paid and credited ones are refused); defaults
    /// to the latest.
    #[arg(long)]
    pub as_of: Option<AsOf>,
    /// The business date it happened on; defaults to today.
    #[arg(long)]
    pub on: Option<AsOf>,
    /// Who records it; defaults to $COBRO_USER, then $USER.
    #[arg(long)]
    pub by: Option<String>,
    /// A note for the customer's timeline.
    #[arg(long)]
    pub note: Option<String>,
    /// Print what was recorded as JSON.
    #[arg(long)]
    pub json: bool,
}

/// The documents and context of a contact outcome.
#[derive(Debug, Args, Clone)]
pub struct OutcomeArgs {
    /// Customer.
    #[arg(long)]
    pub customer: String,
    /// Documents it covers, comma-separated.
    #[arg(long, value_delimiter = ',', required = true)]
    pub invoices: Vec<String>,
    /// Delay reason code (see data/strategies/workflow.toml).
    #[arg(long)]
    pub reason: Option<String>,
    /// The version of each document you decided from, `DOC=VERSION,...` (as `cobro case show` prints it): if
    /// someone changed one since, nothing is written and you get a conflict.
    #[arg(long, value_delimiter = ',')]
    pub expect_version: Vec<String>,
    /// Common options.
    #[command(flatten)]
    pub rec: Recording,
}

/// Subcommands of `cobro case`.
#[derive(Debug, Subcommand)]
pub enum CaseAction {
    /// Outcome 1: the customer promises to pay by a date (the documents leave the reminders until then).
    Promise {
        /// Promised date.
        #[arg(long)]
        date: AsOf,
        /// Promised amount (all the balances by default); spread oldest due first.
        #[arg(long)]
        amount: Option<rust_decimal::Decimal>,
        /// Documents and context.
        #[command(flatten)]
        o: OutcomeArgs,
    },
    /// Outcome 2: the customer acknowledges the debt but commits to nothing; a follow-up call is scheduled.
    NoCommitment {
        /// Days until the follow-up (the configured default otherwise).
        #[arg(long)]
        follow_up_days: Option<i64>,
        /// Documents and context.
        #[command(flatten)]
        o: OutcomeArgs,
    },
    /// Outcome 3: the customer says it has already paid.
    ReportedPaid {
        /// Day the customer says it paid.
        #[arg(long)]
        paid_date: Option<AsOf>,
        /// Its payment reference.
        #[arg(long)]
        reference: Option<String>,
        /// Documents and context.
        #[command(flatten)]
        o: OutcomeArgs,
    },
    /// Outcome 4: the customer disputes; routed by type to a department with a deadline.
    Dispute {
        /// Dispute type (billing_error, delivery, breakdown, price, ... as configured).
        #[arg(long = "type")]
        dispute_type: String,
        /// Disputed amount of a single document (the full balances by default).
        #[arg(long)]
        amount: Option<rust_decimal::Decimal>,
        /// Owner, when not the department's.
        #[arg(long)]
        owner: Option<String>,
        /// Documents and context.
        #[command(flatten)]
        o: OutcomeArgs,
    },
    /// Outcome 5: nobody could be reached; emails the invoices and schedules a call for the next business day.
    NoContact {
        /// Documents and context.
        #[command(flatten)]
        o: OutcomeArgs,
    },
    /// Withdraw a pending promise (recorded by mistake, or before recording a renegotiated one).
    CancelPromise {
        /// Promise id (PRM-n).
        promise: String,
        /// Common options.
        #[command(flatten)]
        rec: Recording,
    },
    /// A reported payment never arrived: back to collection, with a call task.
    ReopenReport {
        /// Report id (RPT-n).
        report: String,
        /// Common options.
        #[command(flatten)]
        rec: Recording,
    },
    /// The department's first response to a dispute.
    Respond {
        /// Dispute id (DSP-n).
        dispute: String,
        /// Common options.
        #[command(flatten)]
        rec: Recording,
    },
    /// Resolve a dispute; its documents re-enter collection.
    Resolve {
        /// Dispute id (DSP-n).
        dispute: String,
        /// credit_note, corrected_invoice or rejected.
        #[arg(long)]
        resolution: String,
        /// Common options.
        #[command(flatten)]
        rec: Recording,
    },
    /// Mark a task done.
    TaskDone {
        /// Task id (TSK-n).
        task: String,
        /// Common options.
        #[command(flatten)]
        rec: Recording,
    },
    /// The daily job: promises kept or broken against the ledger, reported payments credited, dispute reminders
    /// and escalations. Safe to run twice.
    Tick {
        /// Common options.
        #[command(flatten)]
        rec: Recording,
    },
    /// A customer's case: document statuses (with versions), promises, reports, disputes, tasks and timeline.
    Show {
        /// Customer.
        customer: String,
        /// Output as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Open tasks, optionally one assignee's.
    Tasks {
        /// Only this assignee's.
        #[arg(long)]
        assignee: Option<String>,
        /// Include done and cancelled tasks.
        #[arg(long)]
        all: bool,
    },
    /// The team's report at a date: delay reasons by frequency and amount, collection objectives with their
    /// progress, collector activity by month, and dispute first responses against their target.
    Report {
        /// Snapshot date; defaults to the latest.
        #[arg(long)]
        as_of: Option<AsOf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Import disputes and promises from another tool (CSV), validated like the ledger: bad rows are kept with
    /// their reason and not applied.
    Import {
        /// Disputes CSV.
        #[arg(long)]
        disputes: Option<PathBuf>,
        /// Promises CSV.
        #[arg(long)]
        promises: Option<PathBuf>,
        /// Fail when more than this percentage of rows is rejected.
        #[arg(long, default_value_t = 100.0)]
        max_reject_rate: f64,
        /// The snapshot the documents are checked against; defaults to the latest.
        #[arg(long)]
        as_of: Option<AsOf>,
    },
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

/// `cobro report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Snapshot date; defaults to the latest snapshot.
    #[arg(long)]
    pub as_of: Option<AsOf>,
    /// The file to write.
    #[arg(long)]
    pub out: PathBuf,
    /// html (charts inline, no external assets) or xlsx (the same tables, one sheet each).
    #[arg(long, value_enum, default_value_t = ReportFormat::Html)]
    pub format: ReportFormat,
    /// Also write every chart into this directory as SVG and PNG (for slides and documents).
    #[arg(long)]
    pub charts: Option<PathBuf>,
}

/// `cobro report --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    /// One self-contained HTML page.
    Html,
    /// An Excel workbook.
    Xlsx,
}

/// `cobro demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// As-of date of the demo snapshot.
    #[arg(long, default_value = "2013-06-30")]
    pub as_of: AsOf,
    /// Stop after the summary instead of serving the API.
    #[arg(long)]
    pub no_serve: bool,
    /// Where the demo serves the API (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: std::net::SocketAddr,
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
    /// Add the files to the staged ledger instead of replacing it (an incremental extract: new invoices,
    /// payments and allocations). Ids already staged are refused as duplicates; earlier rejects are kept.
    #[arg(long)]
    pub append: bool,
    /// Input files (CSV, JSON or Parquet, as the mapping says).
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
}

/// `cobro snapshot`.
#[derive(Debug, Args)]
pub struct SnapshotArgs {
    /// As-of date (YYYY-MM-DD).
    #[arg(long, required_unless_present_any = ["list", "prune_unfinished", "prune_cache"])]
    pub as_of: Option<AsOf>,
    /// List the published snapshots (date, version, build time, where) instead of building one.
    #[arg(long, conflicts_with = "as_of")]
    pub list: bool,
    /// In an object store: delete the versions that builds claimed but never published (they died before the
    /// manifest), once claimed longer than --grace-minutes ago. Published snapshots are never touched.
    #[arg(long, conflicts_with_all = ["as_of", "list"])]
    pub prune_unfinished: bool,
    /// Remove the local copies of object-store snapshots (--snapshot-cache) that readers no longer use: versions
    /// that are not the latest of their date in the bucket, or are gone from it.
    #[arg(long, conflicts_with_all = ["as_of", "list", "prune_unfinished"])]
    pub prune_cache: bool,
    /// With --prune-unfinished: how long a build may still be uploading (a younger unfinished version is kept).
    #[arg(long, default_value_t = 1440, requires = "prune_unfinished", value_name = "MINUTES")]
    pub grace_minutes: u32,
}

pub use cobro_app::output::Format;

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
