//! cobro's metric pack on an Apache Ballista 55 cluster (docs/scale-out.md).
//!
//! One binary, three roles, each run as its own process:
//!
//! - `cobro-ballista scheduler [--bind 127.0.0.1] [--port 50050] [--finished-job-data-cleanup-secs 300]`:
//!   Ballista's scheduler (the library's `start_server`, as the stock `ballista-scheduler` binary runs it), with
//!   cobro's SQL functions in the session state it decodes submitted logical plans with.
//! - `cobro-ballista executor --port P --grpc-port G [--scheduler-host localhost] [--scheduler-port 50050]
//!   [--vcores N] [--memory-pool BYTES] [--work-dir DIR]`: a Ballista executor (the library's
//!   `start_executor_process`) whose function registry is the scheduler's (DataFusion's built-in functions, nested
//!   ones included, and cobro's), so that it can decode and run the stage plans that call them.
//! - `cobro-ballista client --scheduler df://localhost:50050 --snapshot DIR --views DIR --define a,b,c
//!   --run x,y --out DIR [--set key=value]... [--local]`: registers the snapshot's Parquet tables, defines the views
//!   from `DIR/<name>.sql` (as `cobro views NAME` renders them) in the `--define` order, then runs
//!   `SELECT * FROM <view>` for each `--run` view on the cluster, writes `OUT/<view>.parquet` and prints one JSON
//!   line per view with its wall time. `--local` runs the same SQL in a plain in-process DataFusion session instead
//!   (no Ballista), to tell Ballista's behaviour from the SQL's.
//!
//! Functions cross the process boundary by name: the client's plan names `round_half_even`, `month_index`,
//! `business_days` and `countback_dso`, and the scheduler and executors look the names up in their own registries.
//! `business_days` is registered with the default calendar (Monday to Friday, no holidays) everywhere; a company
//! calendar would have to be configured identically on every process (the metric pack does not call it).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use ballista::prelude::{SessionConfigExt, SessionContextExt};
use ballista_core::registry::BallistaFunctionRegistry;
use ballista_executor::executor_process::{ExecutorProcessConfig, start_executor_process};
use ballista_scheduler::cluster::BallistaCluster;
use ballista_scheduler::config::SchedulerConfig;
use ballista_scheduler::scheduler_process::start_server;
use cobro_analytics::udf::{BusinessDays, CountbackDso, MonthIndex, RoundHalfEven};
use datafusion::execution::FunctionRegistry;
use datafusion::execution::SessionState;
use datafusion::logical_expr::ScalarUDF;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::prelude::{ParquetReadOptions, SessionConfig, SessionContext};
use futures::StreamExt;

type Error = Box<dyn std::error::Error + Send + Sync>;

/// cobro's SQL functions, as `SnapshotSession::open_with` registers them (default business calendar).
fn cobro_udfs() -> Vec<ScalarUDF> {
    vec![
        RoundHalfEven::udf(),
        MonthIndex::udf(),
        BusinessDays::udf(&cobro_domain::BusinessCalendar::default()),
        CountbackDso::udf(),
    ]
}

/// Ballista's default session state (what the stock scheduler decodes and plans with) plus cobro's functions.
/// Without them the scheduler refuses a submitted plan: "There is no UDF named ...".
fn cobro_session_state(config: SessionConfig) -> datafusion::common::Result<SessionState> {
    let mut state = ballista_core::utils::default_session_builder(config)?;
    for udf in cobro_udfs() {
        state.register_udf(Arc::new(udf))?;
    }
    Ok(state)
}

/// `--key value` options (a repeated key keeps every value), and bare `--flag`s as "true".
struct Args {
    values: BTreeMap<String, Vec<String>>,
}

impl Args {
    fn parse(args: &[String]) -> Result<Self, Error> {
        let mut values: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut i = 0;
        while i < args.len() {
            let Some(key) = args[i].strip_prefix("--") else {
                return Err(format!("unexpected argument `{}`", args[i]).into());
            };
            if i + 1 < args.len() && !args[i + 1].starts_with("--") {
                values.entry(key.to_owned()).or_default().push(args[i + 1].clone());
                i += 2;
            } else {
                values.entry(key.to_owned()).or_default().push("true".to_owned());
                i += 1;
            }
        }
        Ok(Self { values })
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.values.get(key).and_then(|v| v.last()).map(String::as_str)
    }

    fn get_or<'a>(&'a self, key: &str, default: &'a str) -> &'a str {
        self.get(key).unwrap_or(default)
    }

    fn require(&self, key: &str) -> Result<&str, Error> {
        self.get(key).ok_or_else(|| format!("--{key} is required").into())
    }

    fn all(&self, key: &str) -> Vec<String> {
        self.values.get(key).cloned().unwrap_or_default()
    }

    fn list(&self, key: &str) -> Result<Vec<String>, Error> {
        Ok(self.require(key)?.split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect())
    }
}

/// A size such as `6G`, `512M` or plain bytes.
fn parse_bytes(text: &str) -> Result<u64, Error> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let n: u64 = digits.parse().map_err(|_| format!("`{text}` is not a size"))?;
    let scale = match unit.to_ascii_uppercase().as_str() {
        "" | "B" => 1,
        "K" | "KB" | "KIB" => 1 << 10,
        "M" | "MB" | "MIB" => 1 << 20,
        "G" | "GB" | "GIB" => 1 << 30,
        _ => return Err(format!("`{text}` is not a size").into()),
    };
    Ok(n * scale)
}

fn main() -> Result<(), Error> {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let Some((role, rest)) = argv.split_first() else {
        eprintln!("usage: cobro-ballista scheduler|executor|client [--option value]... (see src/main.rs)");
        std::process::exit(2);
    };
    let args = Args::parse(rest)?;
    // The stock scheduler binary runs with 32 MiB worker stacks (deep plans recurse); so do all three roles here.
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().thread_stack_size(32 << 20).build()?;
    match role.as_str() {
        "scheduler" => runtime.block_on(scheduler(&args)),
        "executor" => runtime.block_on(executor(&args)),
        "client" => runtime.block_on(client(&args)),
        other => Err(format!("unknown role `{other}`: scheduler, executor or client").into()),
    }
}

async fn scheduler(args: &Args) -> Result<(), Error> {
    let bind = args.get_or("bind", "127.0.0.1");
    let port: u16 = args.get_or("port", "50050").parse()?;
    // Shuffle files of a finished job stay on the executors until the scheduler asks them to delete them, by
    // default 300 s later; a run of back-to-back 10M jobs can fill a small disk in that time.
    let cleanup: u64 = args.get_or("finished-job-data-cleanup-secs", "300").parse()?;
    let mut config = SchedulerConfig::default()
        .with_hostname(args.get_or("external-host", "localhost"))
        .with_port(port)
        .with_finished_job_data_clean_up_interval_seconds(cleanup);
    config.bind_host = bind.to_owned();
    // The session state the scheduler decodes logical plans with and plans them in: Ballista's default, plus
    // cobro's functions (without them: "There is no UDF named ..." when a plan is submitted).
    let config = config.with_override_session_builder(Arc::new(cobro_session_state));
    let addr = format!("{bind}:{port}").parse()?;
    let cluster = BallistaCluster::new_from_config(&config).await?;
    start_server(cluster, addr, Arc::new(config)).await?;
    Ok(())
}

async fn executor(args: &Args) -> Result<(), Error> {
    let mut config = ExecutorProcessConfig {
        bind_host: args.get_or("bind", "127.0.0.1").to_owned(),
        external_host: Some(args.get_or("external-host", "localhost").to_owned()),
        port: args.get_or("port", "50051").parse()?,
        grpc_port: args.get_or("grpc-port", "50052").parse()?,
        scheduler_host: args.get_or("scheduler-host", "localhost").to_owned(),
        scheduler_port: args.get_or("scheduler-port", "50050").parse()?,
        scheduler_connect_timeout_seconds: 30,
        print_thread_info: false,
        work_dir: args.get("work-dir").map(str::to_owned),
        ..ExecutorProcessConfig::default()
    };
    if let Some(v) = args.get("vcores") {
        config.vcores = v.parse()?;
    }
    if let Some(v) = args.get("memory-pool") {
        config.memory_pool_size = Some(parse_bytes(v)?);
    }
    // The functions of the scheduler's session state: DataFusion's built-in ones, nested ones included, plus
    // cobro's. Not `BallistaFunctionRegistry::default()`: in Ballista 55 that has DataFusion's core scalar functions
    // but not the nested (array) ones, so a stage calling `range` (ledger_months, fx_daily) fails to decode with
    // "PhysicalExtensionCodec is not provided for scalar function range".
    let state = cobro_session_state(SessionConfig::new_with_ballista())?;
    config.override_function_registry = Some(Arc::new(BallistaFunctionRegistry::from(&state)));
    start_executor_process(Arc::new(config)).await?;
    Ok(())
}

/// Registers every `<table>.parquet` of the snapshot directory, as cobro does (collection tables read with
/// today's schema).
async fn register_snapshot(ctx: &SessionContext, dir: &Path) -> Result<Vec<String>, Error> {
    let mut tables = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "parquet")
            && let Some(stem) = path.file_stem().and_then(|s| s.to_str())
        {
            tables.push((stem.to_owned(), path.clone()));
        }
    }
    tables.sort();
    let mut names = Vec::new();
    for (table, path) in tables {
        let current = cobro_domain::tables::COLLECTION_TABLES
            .iter()
            .find(|(name, _)| *name == table)
            .map(|(_, columns)| cobro_analytics::schema::columns_schema(columns));
        let mut options = ParquetReadOptions::default();
        if let Some(schema) = &current {
            options = options.schema(schema);
        }
        let path = std::fs::canonicalize(&path)?;
        ctx.register_parquet(table.as_str(), path.to_string_lossy().as_ref(), options).await?;
        names.push(table);
    }
    Ok(names)
}

/// A view's SQL as `cobro views NAME` printed it, whole-line comments dropped (as bench/common.py does).
fn view_sql(dir: &Path, name: &str) -> Result<String, Error> {
    let path = dir.join(format!("{name}.sql"));
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(text.lines().filter(|l| !l.trim_start().starts_with("--")).collect::<Vec<_>>().join("\n"))
}

fn json_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

async fn client(args: &Args) -> Result<(), Error> {
    let t_start = Instant::now();
    let local = args.get("local").is_some();
    let snapshot = PathBuf::from(args.require("snapshot")?);
    let views_dir = PathBuf::from(args.require("views")?);
    let define = args.list("define")?;
    let run = args.list("run")?;
    let out = PathBuf::from(args.require("out")?);
    std::fs::create_dir_all(&out)?;

    let ctx = if local {
        SessionContext::new_with_config(SessionConfig::new().with_information_schema(true))
    } else {
        SessionContext::remote(args.get_or("scheduler", "df://localhost:50050")).await?
    };
    for udf in cobro_udfs() {
        ctx.register_udf(udf);
    }
    // Session settings travel with each job to the scheduler and the executors.
    for kv in args.all("set") {
        let (k, v) = kv.split_once('=').ok_or_else(|| format!("--set {kv}: expected key=value"))?;
        ctx.sql(&format!("SET {k} = '{v}'")).await?.collect().await?;
    }
    let tables = register_snapshot(&ctx, &snapshot).await?;
    for name in &define {
        let sql = view_sql(&views_dir, name)?;
        ctx.sql(&format!("CREATE VIEW {name} AS {sql}")).await.map_err(|e| format!("defining view {name}: {e}"))?;
    }
    let setup = t_start.elapsed().as_secs_f64();
    println!(
        "{{\"event\":\"setup\",\"mode\":{},\"tables\":{},\"views\":{},\"seconds\":{setup:.3}}}",
        json_str(if local { "local" } else { "ballista" }),
        tables.len(),
        define.len()
    );

    let mut failed = 0;
    for view in &run {
        let t0 = Instant::now();
        let result: Result<(usize, usize), Error> = async {
            let df = ctx.sql(&format!("SELECT * FROM {view}")).await?;
            let schema = Arc::new(df.schema().as_arrow().clone());
            let mut stream = df.execute_stream().await?;
            let path = out.join(format!("{view}.parquet"));
            let mut writer = ArrowWriter::try_new(std::fs::File::create(&path)?, schema, None)?;
            let (mut rows, mut batches) = (0, 0);
            while let Some(batch) = stream.next().await {
                let batch = batch?;
                rows += batch.num_rows();
                batches += 1;
                writer.write(&batch)?;
            }
            writer.close()?;
            Ok((rows, batches))
        }
        .await;
        let seconds = t0.elapsed().as_secs_f64();
        match result {
            Ok((rows, batches)) => println!(
                "{{\"event\":\"view\",\"view\":{},\"rows\":{rows},\"batches\":{batches},\"seconds\":{seconds:.3}}}",
                json_str(view)
            ),
            Err(e) => {
                failed += 1;
                println!(
                    "{{\"event\":\"view\",\"view\":{},\"error\":{},\"seconds\":{seconds:.3}}}",
                    json_str(view),
                    json_str(&e.to_string())
                );
            }
        }
    }
    println!("{{\"event\":\"done\",\"failed\":{failed},\"seconds\":{:.3}}}", t_start.elapsed().as_secs_f64());
    if failed > 0 {
        std::process::exit(1);
    }
    Ok(())
}
