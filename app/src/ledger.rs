//! The ledger as the workflow sees it, read from a snapshot session: documents with their balance and what paid
//! and credited them, customers, and small helpers to query a session as text.

use std::collections::BTreeSet;
use std::str::FromStr;

use anyhow::Context as _;
use chrono::NaiveDate;
use cobro_analytics::arrow::array::Array;
use cobro_analytics::{SnapshotSession, cells};
use cobro_workflow::{Ledger, LedgerCustomer, LedgerDocument};
use rust_decimal::Decimal;

/// Runs a query whose columns are all cast to text, as rows of optional strings.
pub async fn text_rows(session: &SnapshotSession, sql: &str) -> anyhow::Result<Vec<Vec<Option<String>>>> {
    let mut out = Vec::new();
    for batch in session.collect(sql).await? {
        let cols = (0..batch.num_columns()).map(|c| cells::strings(batch.column(c))).collect::<Result<Vec<_>, _>>()?;
        for r in 0..batch.num_rows() {
            out.push(cols.iter().map(|c| (!c.is_null(r)).then(|| c.value(r).to_owned())).collect());
        }
    }
    Ok(out)
}

/// A list of SQL string literals for ids: quoted, never spliced raw.
pub fn quote(ids: impl IntoIterator<Item = impl AsRef<str>>) -> String {
    let list: Vec<String> = ids.into_iter().map(|s| format!("'{}'", s.as_ref().replace('\'', "''"))).collect();
    if list.is_empty() { "NULL".to_owned() } else { list.join(", ") }
}

/// Per document: what payments and what credit notes applied to it by `as_of` (`document_id, paid, credited`),
/// for the allocations that pass `filter`: how a settled document is told paid from credited.
pub fn applied_by_document(as_of: NaiveDate, filter: &str) -> String {
    format!(
        "SELECT a.document_id, \
                SUM(CASE WHEN cn.document_id IS NULL THEN a.amount END) AS paid, \
                SUM(CASE WHEN cn.document_id IS NOT NULL THEN a.amount END) AS credited \
         FROM allocations a \
         LEFT JOIN (SELECT document_id FROM documents WHERE kind = 'credit_note') cn ON cn.document_id = a.source_id \
         WHERE a.applied_date <= DATE '{as_of}' AND {filter} \
         GROUP BY a.document_id"
    )
}

/// Documents as the workflow sees them, with their balance and what paid and credited them at `as_of`: those
/// issued by `as_of` that pass `doc_filter` (over `d` documents and `o` open_items), counting the allocations that
/// pass `alloc_filter` (over `a`).
pub async fn load_documents(
    session: &SnapshotSession,
    as_of: NaiveDate,
    doc_filter: &str,
    alloc_filter: &str,
) -> anyhow::Result<Vec<LedgerDocument>> {
    let sql = format!(
        "WITH applied AS ({applied}) \
         SELECT d.document_id, d.customer_id, d.kind, d.currency, CAST(d.amount AS VARCHAR), \
                CAST(COALESCE(o.balance, 0) AS VARCHAR), CAST(d.issue_date AS VARCHAR), CAST(d.due_date AS VARCHAR), \
                CAST(COALESCE(p.paid, 0) AS VARCHAR), CAST(COALESCE(p.credited, 0) AS VARCHAR) \
         FROM documents d \
         LEFT JOIN open_items o ON o.document_id = d.document_id \
         LEFT JOIN applied p ON p.document_id = d.document_id \
         WHERE d.issue_date <= DATE '{as_of}' AND {doc_filter}",
        applied = applied_by_document(as_of, alloc_filter)
    );
    let mut out = Vec::new();
    for r in text_rows(session, &sql).await? {
        let s = |i: usize| r[i].clone().unwrap_or_default();
        let dec = |i: usize| Decimal::from_str(&s(i)).with_context(|| format!("document {}: reading `{}`", s(0), s(i)));
        let date =
            |i: usize| s(i).parse::<NaiveDate>().with_context(|| format!("document {}: reading `{}`", s(0), s(i)));
        out.push(LedgerDocument {
            document_id: s(0),
            customer_id: s(1),
            kind: s(2),
            currency: s(3),
            amount: dec(4)?,
            balance: dec(5)?,
            issue_date: date(6)?,
            due_date: date(7)?,
            paid: dec(8)?,
            credited: dec(9)?,
        });
    }
    Ok(out)
}

/// The ledger slice of some documents and customers, read from a snapshot session.
pub async fn load_ledger(
    session: &SnapshotSession,
    as_of: NaiveDate,
    documents: &BTreeSet<String>,
    customers: &BTreeSet<String>,
) -> anyhow::Result<Ledger> {
    let mut ledger = Ledger { as_of, ..Ledger::default() };
    let mut customers = customers.clone();
    if !documents.is_empty() {
        let ids = quote(documents);
        let filter = |table: &str| format!("{table}.document_id IN ({ids})");
        for doc in load_documents(session, as_of, &filter("d"), &filter("a")).await? {
            customers.insert(doc.customer_id.clone());
            ledger.documents.insert(doc.document_id.clone(), doc);
        }
    }
    if !customers.is_empty() {
        let sql = format!(
            "SELECT customer_id, name, collector_id, sales_rep_id, email, language FROM customers WHERE customer_id IN ({})",
            quote(&customers)
        );
        for r in text_rows(session, &sql).await? {
            let c = LedgerCustomer {
                customer_id: r[0].clone().unwrap_or_default(),
                name: r[1].clone().unwrap_or_default(),
                collector_id: r[2].clone(),
                sales_rep_id: r[3].clone(),
                email: r[4].clone(),
                language: r[5].clone(),
            };
            ledger.customers.insert(c.customer_id.clone(), c);
        }
    }
    Ok(ledger)
}
