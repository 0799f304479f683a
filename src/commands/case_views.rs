//! `cobro case show` and `cobro case tasks`: the store, read for people.

use cobro_workflow::views::{self, TextRow};

use super::{Ctx, Opened};
use crate::cli::Format;
use crate::{Done, output};

fn cell<'a>(r: &'a TextRow, k: &str) -> &'a str {
    r.get(k).and_then(|v| v.as_deref()).unwrap_or("")
}

/// Prints rows as aligned columns.
pub(crate) fn table(title: &str, rows: &[TextRow], cols: &[&str]) -> std::io::Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    out!("\n{title}")?;
    let widths: Vec<usize> =
        cols.iter().map(|c| rows.iter().map(|r| cell(r, c).chars().count()).max().unwrap_or(0).max(c.len())).collect();
    let line = |vals: Vec<&str>| {
        vals.iter().zip(&widths).map(|(v, w)| format!("{v:<w$}")).collect::<Vec<_>>().join("  ").trim_end().to_owned()
    };
    out!("  {}", line(cols.to_vec()))?;
    for r in rows {
        out!("  {}", line(cols.iter().map(|c| cell(r, c)).collect()))?;
    }
    Ok(())
}

/// `cobro case show CUSTOMER`.
pub async fn show(ctx: &Ctx, customer: &str, json: bool) -> anyhow::Result<Done> {
    let store = ctx.store().await?;
    let case = views::customer_case(&store, customer).await?;
    store.close().await;
    if json {
        out!("{}", serde_json::to_string_pretty(&case)?)?;
        return Ok(Done::Clean);
    }
    out!(
        "Customer {customer}: {} document(s) in the workflow, {} event(s)",
        case.documents.len(),
        case.timeline.len()
    )?;
    if !case.documents.is_empty() {
        out!("\nDocuments")?;
        for d in &case.documents {
            out!(
                "  {:<16} {:<17} {:<8} version {:<3} by {} at {}",
                d.document_id,
                d.status.as_str(),
                d.case_ref.as_deref().unwrap_or("-"),
                d.version,
                d.updated_by,
                d.updated_at
            )?;
        }
    }
    table(
        "Promises",
        &case.promises,
        &["promise_id", "document_id", "made_date", "promised_date", "amount", "currency", "state"],
    )?;
    table(
        "Payment reports",
        &case.payment_reports,
        &["report_id", "document_id", "reported_date", "paid_date", "reference", "state"],
    )?;
    table(
        "Disputes",
        &case.disputes,
        &[
            "dispute_id",
            "document_id",
            "dispute_type",
            "department",
            "owner",
            "amount",
            "opened_date",
            "deadline_date",
            "resolved_date",
            "resolution",
        ],
    )?;
    table("Tasks", &case.tasks, &["task_id", "kind", "assignee", "due_date", "state", "note"])?;
    table("Messages", &case.messages, &["message_id", "template", "recipient", "state", "subject"])?;
    table(
        "Timeline",
        &case.timeline,
        &["seq", "on_date", "actor", "kind", "document_id", "before_status", "after_status", "ref_id", "note"],
    )?;
    Ok(Done::Clean)
}

/// `cobro case tasks`.
pub async fn tasks(ctx: &Ctx, assignee: Option<&str>, all: bool) -> anyhow::Result<Done> {
    let store = ctx.store().await?;
    let rows = views::tasks(&store, assignee, all).await?;
    store.close().await;
    if rows.is_empty() {
        out!(
            "no {}tasks{}",
            if all { "" } else { "open " },
            assignee.map(|a| format!(" for {a}")).unwrap_or_default()
        )?;
        return Ok(Done::Clean);
    }
    table(
        "Tasks",
        &rows,
        &["task_id", "due_date", "kind", "customer_id", "document_ids", "assignee", "state", "note"],
    )?;
    Ok(Done::Clean)
}

/// `cobro case report`: the seed-002 reports and collector activity over the snapshot's ledger and the store's live records.
pub async fn report(ctx: &Ctx, as_of: Option<cobro_domain::AsOf>, format: Format) -> anyhow::Result<Done> {
    let Opened { manifest, session, .. } = ctx.open_live(as_of).await?;
    let parts = [
        ("Delay reasons (frequency and amount)", "SELECT * FROM delay_reason_report ORDER BY outcomes DESC, code"),
        ("Collection objectives", "SELECT * FROM objective_progress ORDER BY objective_id"),
        ("Collector activity by month", "SELECT * FROM collector_activity ORDER BY collector_id, month"),
        (
            "Dispute first responses against their target",
            "SELECT * FROM dispute_response ORDER BY opened_date, dispute_id",
        ),
    ];
    for (title, sql) in parts {
        if format == Format::Table {
            out!("\n== {title} as of {}", manifest.as_of)?;
        }
        output::query(&session, sql, format).await?;
    }
    Ok(Done::Clean)
}
