use anyhow::Context;
use cobro_analytics::SnapshotSession;
use cobro_domain::clock::{Clock, SystemClock};
use cobro_pipeline::import::{ImportOptions, import};
use cobro_pipeline::mapping::CheckedMapping;

use crate::cli::{DemoArgs, Format};
use crate::{Done, output};

/// The IBM late-payment sample and its mapping, built into the binary so the demo needs nothing else.
const SAMPLE_CSV: &str = include_str!("../../data/samples/ibm-late-payment/WA_Fn-UseC_-Accounts-Receivable.csv");
const SAMPLE_MAPPING: &str = include_str!("../../data/mappings/ibm-late-payment.toml");

pub async fn run(owned: super::Ctx, args: DemoArgs) -> anyhow::Result<Done> {
    let ctx = &owned;
    let data_dir = ctx.data_dir.as_path();
    let input_dir = data_dir.join("demo-input");
    std::fs::create_dir_all(&input_dir).with_context(|| format!("creating {}", input_dir.display()))?;
    let csv = input_dir.join("WA_Fn-UseC_-Accounts-Receivable.csv");
    let mapping_path = input_dir.join("ibm-late-payment.toml");
    std::fs::write(&csv, SAMPLE_CSV).with_context(|| format!("writing {}", csv.display()))?;
    std::fs::write(&mapping_path, SAMPLE_MAPPING).with_context(|| format!("writing {}", mapping_path.display()))?;

    out!("== 1. import: IBM Watson Analytics late-payment sample (2,466 invoices, 100 customers)")?;
    let mapping = CheckedMapping::load(&mapping_path)?;
    let opts = ImportOptions {
        data_dir: data_dir.to_owned(),
        max_reject_rate: Some(0.0),
        now: SystemClock.now(),
        extend_staged: false,
    };
    let summary = import(&mapping, &[csv], &opts, &mut cobro_pipeline::import::NoProgress)?;
    super::import::print_summary(&summary)?;

    out!("\n== 2. snapshot as of {}", args.as_of)?;
    let (snap, manifest) = super::snapshot::build(ctx, args.as_of).await?;
    super::snapshot::print_summary(&snap, &manifest)?;

    out!("\n== 3. open items by ageing bucket at {}", args.as_of)?;
    let session = SnapshotSession::open(&snap.dir, ctx.params(&manifest)?).await?;
    let query = "SELECT bucket, CAST(SUM(open_count) AS BIGINT) AS open_count, SUM(balance) AS balance \
                 FROM ageing GROUP BY bucket, bucket_order ORDER BY bucket_order";
    let df = session.sql(query).await?;
    let schema = df.schema().inner().clone();
    let batches = df.collect().await?;
    output::write(&batches, schema, Format::Table, &mut std::io::stdout())?;

    out!("\n== 4. KPIs at {} (docs/metrics.md has every definition)", args.as_of)?;
    let df = session
        .template(cobro_analytics::sql::METRICS_SUMMARY)
        .await?
        .select_columns(&["metric", "value", "unit", "basis"])?;
    let schema = df.schema().inner().clone();
    let batches = df.collect().await?;
    output::write(&batches, schema, Format::Table, &mut std::io::stdout())?;

    out!(
        "\n== 5. segments and the top of the collectors' work queue (segment rules: {})",
        session.params().rules.source
    )?;
    output::query(
        &session,
        "SELECT effective_segment AS segment, COUNT(*) AS customers, CAST(SUM(open_balance_rc) AS DECIMAL(20, 2)) AS open_balance \
         FROM segments GROUP BY effective_segment ORDER BY customers DESC, segment",
        Format::Table,
    )
    .await?;
    output::query(
        &session,
        "SELECT queue_rank AS rank, customer_id, effective_segment AS segment, \
                CAST(actionable_balance_rc AS DECIMAL(20, 2)) AS actionable, oldest_days_past_due AS oldest_dpd, \
                next_step, priority_score AS score \
         FROM work_queue ORDER BY queue_rank LIMIT 5",
        Format::Table,
    )
    .await?;

    out!(
        "\n== 6. dunning plan at {as_of} 09:00 UTC (a dry run of data/strategies/default.toml; nothing is sent)",
        as_of = args.as_of
    )?;
    super::dunning::demo_summary(ctx, args.as_of).await?;
    out!(
        "  The sample has no email addresses, collectors or sales reps: `cobro dunning run` would keep those messages\n  as failed (no address) and the tasks unassigned. With a ledger that has them, the file channel writes each\n  email to <data-dir>/outbox/*.eml; `--channel smtp --smtp-url smtp://host:port` sends them."
    )?;

    out!(
        "\nNext:\n  cobro --data-dir {dir} dunning plan --as-of {as_of} --at {as_of}T09:00:00Z\n  cobro --data-dir {dir} queue --as-of {as_of}\n  cobro --data-dir {dir} segments --as-of {as_of}\n  cobro --data-dir {dir} metrics --as-of {as_of}\n  cobro --data-dir {dir} sql \"SELECT * FROM ar_monthly ORDER BY month\"\n  cobro --data-dir {dir} sql \"SELECT * FROM open_items ORDER BY days_past_due DESC LIMIT 10\"",
        dir = match &ctx.snapshots {
            cobro_pipeline::snapshot::SnapshotRoot::Local(_) => data_dir.display().to_string(),
            object => format!("{} --work-dir {}", object.data_dir(), data_dir.display()),
        },
        as_of = args.as_of
    )?;
    if args.no_serve {
        return Ok(Done::Clean);
    }
    // A token and a portal link to try the API with; the token is printed this once.
    let store = ctx.store().await?;
    let now = SystemClock.now();
    let role = cobro_workflow::access::Role::Admin;
    let t = cobro_workflow::access::create_token(&store, role, (None, None), "demo admin", "demo", now).await?;
    let top = cobro_app::ledger::text_rows(&session, "SELECT customer_id FROM work_queue ORDER BY queue_rank LIMIT 1")
        .await?
        .into_iter()
        .next()
        .and_then(|r| r.into_iter().next().flatten())
        .unwrap_or_default();
    let portal = cobro_workflow::access::portal_query(&store, &top, now + chrono::Duration::days(14)).await?;
    store.close().await;
    out!("\n== 7. the API (Ctrl-C stops it)")?;
    out!("  admin token (shown once): {}", t.token)?;
    // With port 0 the address is only known once bound: the paths are then under the `listening on` address.
    let base = if args.listen.port() == 0 { String::new() } else { format!("http://{}", args.listen) };
    out!("  try: curl -H 'Authorization: Bearer {}' {base}/api/v1/metrics", t.token)?;
    out!("  web UI: {base}/login (log in with the admin token)")?;
    out!("  portal link for {top}: {base}/portal?{portal}")?;
    let serve = crate::cli::ServeArgs {
        config: None,
        listen: Some(args.listen),
        pgwire: None,
        pgwire_tls_cert: None,
        pgwire_tls_key: None,
    };
    super::serve::serve(owned, serve).await
}
