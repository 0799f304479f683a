//! Reading the store for people: a customer's case (statuses, records, tasks, timeline) and task lists.

use std::collections::BTreeMap;

use serde::Serialize;
use sqlx::{AssertSqlSafe, Column, Row};

use crate::cases::{self, CaseState};
use crate::error::CaseError;
use crate::store::Store;

/// A row as column → text.
pub type TextRow = BTreeMap<String, Option<String>>;

/// Everything the store knows about one customer.
#[derive(Debug, Clone, Serialize)]
pub struct CustomerCase {
    /// Customer.
    pub customer_id: String,
    /// Live status of every document the workflow touched.
    pub documents: Vec<CaseState>,
    /// Promises (one row per document).
    pub promises: Vec<TextRow>,
    /// Payment reports (one row per document).
    pub payment_reports: Vec<TextRow>,
    /// Disputes (one row per document).
    pub disputes: Vec<TextRow>,
    /// Tasks.
    pub tasks: Vec<TextRow>,
    /// Messages (without bodies).
    pub messages: Vec<TextRow>,
    /// Every event, oldest first: the timeline.
    pub timeline: Vec<TextRow>,
}

/// Runs a query with text binds; every column is read as text (cast in the SQL where needed).
async fn rows(store: &Store, sql: &str, binds: &[&str]) -> Result<Vec<TextRow>, CaseError> {
    let mut q = sqlx::query(AssertSqlSafe(sql.to_owned()));
    for b in binds {
        q = q.bind(*b);
    }
    let found = q.fetch_all(store.pool()).await.map_err(|e| store.err(e))?;
    found
        .iter()
        .map(|r| {
            r.columns()
                .iter()
                .map(|c| Ok((c.name().to_owned(), r.try_get::<Option<String>, _>(c.ordinal())?)))
                .collect::<Result<TextRow, sqlx::Error>>()
        })
        .collect::<Result<_, _>>()
        .map_err(|e| store.err(e))
}

/// A customer's case.
pub async fn customer_case(store: &Store, customer_id: &str) -> Result<CustomerCase, CaseError> {
    let by = [customer_id];
    Ok(CustomerCase {
        customer_id: customer_id.to_owned(),
        documents: cases::customer_states(store, customer_id).await?,
        promises: rows(
            store,
            "SELECT promise_id, document_id, made_date, promised_date, CAST(grace_days AS TEXT) AS grace_days, currency, \
             amount, state, closed_date FROM promises WHERE customer_id = $1 ORDER BY promise_id, document_id",
            &by,
        )
        .await?,
        payment_reports: rows(
            store,
            "SELECT report_id, document_id, reported_date, paid_date, reference, state, closed_date FROM payment_reports \
             WHERE customer_id = $1 ORDER BY report_id, document_id",
            &by,
        )
        .await?,
        disputes: rows(
            store,
            "SELECT dispute_id, document_id, dispute_type, department, owner, currency, amount, opened_date, \
             response_due_date, first_response_date, deadline_date, escalated_date, resolved_date, resolution \
             FROM disputes WHERE customer_id = $1 ORDER BY dispute_id, document_id",
            &by,
        )
        .await?,
        tasks: rows(
            store,
            "SELECT task_id, kind, document_ids, assignee_role, assignee, due_date, state, origin, origin_ref, note \
             FROM tasks WHERE customer_id = $1 ORDER BY task_id",
            &by,
        )
        .await?,
        messages: rows(
            store,
            "SELECT message_id, idempotency_key, channel, recipient, template, document_ids, subject, state, \
             created_date FROM messages WHERE customer_id = $1 ORDER BY message_id",
            &by,
        )
        .await?,
        timeline: rows(
            store,
            "SELECT CAST(seq AS TEXT) AS seq, at, on_date, actor, kind, document_id, before_status, after_status, ref_id, \
             outcome_id, currency, amount, delay_reason, note FROM events WHERE customer_id = $1 ORDER BY seq",
            &by,
        )
        .await?,
    })
}

/// Tasks, open only unless `all`, optionally one assignee's, by due date.
pub async fn tasks(store: &Store, assignee: Option<&str>, all: bool) -> Result<Vec<TextRow>, CaseError> {
    let mut sql = "SELECT task_id, due_date, kind, customer_id, document_ids, assignee_role, assignee, state, origin, \
                   origin_ref, note FROM tasks WHERE 1 = 1"
        .to_owned();
    if !all {
        sql.push_str(" AND state = 'open'");
    }
    let binds: Vec<&str> = assignee.into_iter().collect();
    if !binds.is_empty() {
        sql.push_str(" AND assignee = $1");
    }
    sql.push_str(" ORDER BY due_date, task_id");
    rows(store, &sql, &binds).await
}

/// The outbox: every message (without its body), newest first, optionally in one state.
pub async fn messages(store: &Store, state: Option<&str>) -> Result<Vec<TextRow>, CaseError> {
    let sql = "SELECT message_id, state, channel, recipient_role, recipient, template, customer_id, document_ids, \
                      CAST(attempts AS TEXT) AS attempts, send_after, sent_at, delivered_via, rfc_message_id, \
                      last_error, bounce_reason, subject \
               FROM messages WHERE ($1 = '' OR state = $1) ORDER BY created_date DESC, message_id DESC";
    rows(store, sql, &[state.unwrap_or("")]).await
}

/// One field of one record (`SELECT field FROM table WHERE key = id`): `None` when there is no such record, else
/// the field as text (`None` inside for NULL). The API checks a caller's scope with it before a change.
pub async fn record_field(
    store: &Store,
    table: &'static str,
    key: &'static str,
    id: &str,
    field: &'static str,
) -> Result<Option<Option<String>>, CaseError> {
    let sql = format!("SELECT {field} FROM {table} WHERE {key} = $1");
    Ok(rows(store, &sql, &[id]).await?.into_iter().next().map(|mut r| r.remove(field).flatten()))
}

/// A customer's thread in the portal: what we sent them (subject and body of every customer message that left
/// the outbox) and what they wrote (`customer_message` events), oldest first.
pub async fn customer_thread(store: &Store, customer_id: &str) -> Result<Vec<TextRow>, CaseError> {
    let sql = "SELECT at, direction, subject, body FROM ( \
                 SELECT COALESCE(sent_at, send_after) AS at, 'to_customer' AS direction, subject, body FROM messages \
                 WHERE customer_id = $1 AND recipient_role = 'customer' AND state IN ('sent', 'delivered') \
                 UNION ALL \
                 SELECT at, 'from_customer', NULL, note FROM events WHERE customer_id = $1 AND kind = 'customer_message' \
               ) t ORDER BY at";
    rows(store, sql, &[customer_id]).await
}

/// Disputes (one row per document), optionally of one department or one collector's customers, open ones only
/// unless `all`.
pub async fn disputes(
    store: &Store,
    department: Option<&str>,
    collector: Option<&str>,
    all: bool,
) -> Result<Vec<TextRow>, CaseError> {
    let sql = "SELECT dispute_id, document_id, customer_id, collector_id, dispute_type, department, owner, currency, \
                      amount, opened_date, deadline_date, response_due_date, first_response_date, escalated_date, \
                      resolved_date, resolution \
               FROM disputes WHERE ($1 = '' OR department = $1) AND ($2 = '' OR collector_id = $2) \
                 AND ($3 = 'all' OR resolved_date IS NULL) \
               ORDER BY deadline_date, dispute_id, document_id";
    rows(store, sql, &[department.unwrap_or(""), collector.unwrap_or(""), if all { "all" } else { "open" }]).await
}

/// Saved dunning plans, newest first: who saved each, who decided, and its summary (without the action keys).
pub async fn plans(store: &Store) -> Result<Vec<TextRow>, CaseError> {
    let sql = "SELECT plan_id, state, as_of, planned_at, planned_by, decided_by, decided_at, summary FROM dunning_plans \
               ORDER BY planned_at DESC, plan_id DESC";
    rows(store, sql, &[]).await
}
