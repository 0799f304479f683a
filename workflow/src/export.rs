//! The store's records as the snapshot's collection tables (`disputes`, `promises`, `payment_reports`, `tasks`,
//! `messages`, `collection_actions`), plus the configured `objectives` and `delay_reasons`, as text tables in the
//! column order of `cobro_domain::tables`. The snapshot writer parses them by column type, so a store value that
//! does not fit its column fails the build loudly instead of being dropped.

use std::collections::BTreeSet;

use cobro_domain::tables::{self, ColumnSpec, TextTable};
use sqlx::{AssertSqlSafe, Row};

use crate::config::WorkflowConfig;
use crate::error::CaseError;
use crate::store::Store;

/// Store table and sort key behind each exported table.
const SOURCES: &[(&str, &str, &str)] = &[
    ("disputes", "disputes", "dispute_id, document_id"),
    ("promises", "promises", "promise_id, document_id"),
    ("payment_reports", "payment_reports", "report_id, document_id"),
    ("tasks", "tasks", "task_id"),
    ("messages", "messages", "message_id"),
    ("collection_actions", "events", "seq"),
];

/// Every collection table, in the order of [`tables::COLLECTION_TABLES`]. Without a store (nothing recorded
/// yet) only the configured ones (`objectives`, `delay_reasons`) have rows.
pub async fn export(store: Option<&Store>, config: &WorkflowConfig) -> Result<Vec<TextTable>, CaseError> {
    let mut out = Vec::new();
    for (name, columns) in tables::COLLECTION_TABLES {
        let rows = match SOURCES.iter().find(|(n, _, _)| n == name) {
            Some((_, table, order)) => match store {
                Some(store) => read(store, table, columns, order).await?,
                None => Vec::new(),
            },
            None if *name == "objectives" => config
                .objectives
                .iter()
                .map(|o| {
                    vec![
                        Some(o.id.clone()),
                        Some(o.scope_kind.to_owned()),
                        Some(o.scope.clone()),
                        Some(o.from.to_string()),
                        Some(o.to.to_string()),
                        o.collect_target.map(|v| v.to_string()),
                        o.dso_target.map(|v| v.to_string()),
                        o.overdue_share_target.map(|v| v.to_string()),
                    ]
                })
                .collect(),
            None if *name == "delay_reasons" => {
                config.delay_reasons.iter().map(|d| vec![Some(d.code.clone()), Some(d.label.clone())]).collect()
            }
            None => return Err(CaseError::invalid("export", format!("no source for collection table `{name}`"))),
        };
        out.push(TextTable { name, columns, rows });
    }
    Ok(out)
}

async fn read(
    store: &Store,
    table: &str,
    columns: &[ColumnSpec],
    order: &str,
) -> Result<Vec<Vec<Option<String>>>, CaseError> {
    let list: Vec<String> = columns.iter().map(|c| format!("CAST({0} AS TEXT) AS {0}", c.name)).collect();
    let sql = format!("SELECT {} FROM {table} ORDER BY {order}", list.join(", "));
    let rows = sqlx::query(AssertSqlSafe(sql)).fetch_all(store.pool()).await.map_err(|e| store.err(e))?;
    rows.iter()
        .map(|r| (0..columns.len()).map(|i| r.try_get::<Option<String>, _>(i)).collect::<Result<Vec<_>, _>>())
        .collect::<Result<_, _>>()
        .map_err(|e| store.err(e))
}

/// The documents of one record (a promise, report or dispute by id, or a task's `document_ids`) and their
/// customers: the ledger slice a command on that record needs.
pub async fn record_documents(
    store: &Store,
    table: &str,
    key: &str,
    id: &str,
) -> Result<(BTreeSet<String>, BTreeSet<String>), CaseError> {
    // Only these names reach the SQL below.
    let docs_col = match (table, key) {
        ("promises", "promise_id") | ("payment_reports", "report_id") | ("disputes", "dispute_id") => "document_id",
        ("tasks", "task_id") => "document_ids",
        _ => return Err(CaseError::invalid("record", format!("no records in `{table}` by `{key}`"))),
    };
    let sql = format!("SELECT {docs_col}, customer_id FROM {table} WHERE {key} = $1");
    let rows = sqlx::query(AssertSqlSafe(sql)).bind(id).fetch_all(store.pool()).await.map_err(|e| store.err(e))?;
    let mut docs = BTreeSet::new();
    let mut customers = BTreeSet::new();
    for r in &rows {
        let d: Option<String> = r.try_get(0).map_err(|e| store.err(e))?;
        docs.extend(d.unwrap_or_default().split(',').filter(|s| !s.is_empty()).map(str::to_owned));
        customers.insert(r.try_get::<String, _>(1).map_err(|e| store.err(e))?);
    }
    Ok((docs, customers))
}

/// The documents under a live record (pending promise, open report, open dispute) and their customers: what the
/// daily tick may change.
pub async fn live_documents(store: &Store) -> Result<(BTreeSet<String>, BTreeSet<String>), CaseError> {
    let rows = sqlx::query(
        "SELECT document_id, customer_id FROM promises WHERE state = 'pending' \
         UNION SELECT document_id, customer_id FROM payment_reports WHERE state = 'open' \
         UNION SELECT document_id, customer_id FROM disputes WHERE resolved_date IS NULL",
    )
    .fetch_all(store.pool())
    .await
    .map_err(|e| store.err(e))?;
    let mut docs = BTreeSet::new();
    let mut customers = BTreeSet::new();
    for r in &rows {
        docs.insert(r.try_get::<String, _>(0).map_err(|e| store.err(e))?);
        customers.insert(r.try_get::<String, _>(1).map_err(|e| store.err(e))?);
    }
    Ok((docs, customers))
}
