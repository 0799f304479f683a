//! Importing disputes and promises from another tool (CSV), for teams migrating to cobro. Validated like the
//! ledger import: every refused row is kept (in `import_rejects`) with the file, the line, the column, the value
//! and the reason, and nothing of a refused row is applied. Accepted rows go through the same state machine and
//! write the same events as a collector's outcome (actor `import`).
//!
//! Disputes CSV columns: `dispute_id, customer_id, document_id, dispute_type, opened_date` (required), `amount`
//! (default: the balance), `owner`, `deadline_date` (default: from the type's business days), `resolved_date`,
//! `resolution`. Promises CSV: `promise_id, customer_id, document_id, made_date, promised_date, amount`
//! (required), `grace_days` (default: configured), `collector_id`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Serialize;

use crate::cases::Ctx;
use crate::error::CaseError;
use crate::status::{self, Status, Transition};
use crate::store::{self, NewEvent};

/// A refused row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reject {
    /// File.
    pub file: String,
    /// Line (1 = header).
    pub line: u64,
    /// Column, when one is at fault.
    pub column: Option<String>,
    /// The value.
    pub value: Option<String>,
    /// Why, and what to do.
    pub reason: String,
}

/// A CSV row by column name, with its line.
#[derive(Debug, Clone)]
pub struct CsvRow {
    /// Line number.
    pub line: u64,
    /// Cells by header name.
    pub cells: BTreeMap<String, String>,
}

/// What an import did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ImportSummary {
    /// Rows read.
    pub read: u64,
    /// Rows applied.
    pub accepted: u64,
    /// Rows refused (kept in `import_rejects`).
    pub rejects: Vec<Reject>,
}

/// The kind of file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Disputes.
    Disputes,
    /// Promises.
    Promises,
}

impl Kind {
    fn required(self) -> &'static [&'static str] {
        match self {
            Kind::Disputes => &["dispute_id", "customer_id", "document_id", "dispute_type", "opened_date"],
            Kind::Promises => &["promise_id", "customer_id", "document_id", "made_date", "promised_date", "amount"],
        }
    }

    fn optional(self) -> &'static [&'static str] {
        match self {
            Kind::Disputes => &["amount", "owner", "deadline_date", "resolved_date", "resolution"],
            Kind::Promises => &["grace_days", "collector_id"],
        }
    }
}

/// Reads a CSV file: a header that lacks a required column or has an unknown one fails the whole file (it is
/// the wrong file); rows with the wrong number of cells are rejects.
pub fn read_csv(path: &Path, kind: Kind) -> Result<(Vec<CsvRow>, Vec<Reject>), CaseError> {
    let file = path.display().to_string();
    let mut r = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(path)
        .map_err(|e| CaseError::invalid(&file, format!("cannot read: {e}")))?;
    let header: Vec<String> = r
        .headers()
        .map_err(|e| CaseError::invalid(&file, format!("line 1: cannot read the header: {e}")))?
        .iter()
        .map(|h| h.trim().to_owned())
        .collect();
    for need in kind.required() {
        if !header.iter().any(|h| h == need) {
            return Err(CaseError::invalid(
                &file,
                format!(
                    "line 1: the header has no `{need}` column; expected {} (optional: {})",
                    kind.required().join(", "),
                    kind.optional().join(", ")
                ),
            ));
        }
    }
    if let Some(h) =
        header.iter().find(|h| !kind.required().contains(&h.as_str()) && !kind.optional().contains(&h.as_str()))
    {
        return Err(CaseError::invalid(
            &file,
            format!(
                "line 1: unknown column `{h}`; expected {} (optional: {})",
                kind.required().join(", "),
                kind.optional().join(", ")
            ),
        ));
    }
    let mut rows = Vec::new();
    let mut rejects = Vec::new();
    for (i, rec) in r.records().enumerate() {
        let line = i as u64 + 2;
        match rec {
            Ok(rec) if rec.len() == header.len() => rows.push(CsvRow {
                line,
                cells: header.iter().cloned().zip(rec.iter().map(|c| c.trim().to_owned())).collect(),
            }),
            Ok(rec) => rejects.push(Reject {
                file: file.clone(),
                line,
                column: None,
                value: Some(rec.iter().collect::<Vec<_>>().join(",")),
                reason: format!("{} cells where the header has {}", rec.len(), header.len()),
            }),
            Err(e) => {
                rejects.push(Reject { file: file.clone(), line, column: None, value: None, reason: e.to_string() })
            }
        }
    }
    Ok((rows, rejects))
}

/// The document ids and customer ids a file mentions (to load the ledger slice).
pub fn mentioned(rows: &[CsvRow]) -> (BTreeSet<String>, BTreeSet<String>) {
    let get = |k: &str| rows.iter().filter_map(|r| r.cells.get(k).filter(|v| !v.is_empty()).cloned()).collect();
    (get("document_id"), get("customer_id"))
}

struct RowCheck<'a> {
    file: &'a str,
    row: &'a CsvRow,
}

impl RowCheck<'_> {
    fn reject(&self, column: &str, reason: impl Into<String>) -> Reject {
        Reject {
            file: self.file.to_owned(),
            line: self.row.line,
            column: Some(column.to_owned()),
            value: self.row.cells.get(column).cloned(),
            reason: reason.into(),
        }
    }
    fn text(&self, c: &str) -> Option<&str> {
        self.row.cells.get(c).map(String::as_str).filter(|v| !v.is_empty())
    }
    fn required(&self, c: &str) -> Result<&str, Reject> {
        self.text(c).ok_or_else(|| self.reject(c, "is required"))
    }
    fn date(&self, c: &str) -> Result<Option<NaiveDate>, Reject> {
        self.text(c)
            .map(|v| v.parse::<NaiveDate>().map_err(|_| self.reject(c, "is not a date (YYYY-MM-DD)")))
            .transpose()
    }
    fn amount(&self, c: &str) -> Result<Option<Decimal>, Reject> {
        match self.text(c) {
            None => Ok(None),
            Some(v) => match v.parse::<Decimal>() {
                Ok(d) if d > Decimal::ZERO => Ok(Some(d)),
                Ok(_) => Err(self.reject(c, "must be more than 0")),
                Err(_) => Err(self.reject(c, "is not a decimal amount (use . for decimals, no thousands separator)")),
            },
        }
    }
}

/// Validates and applies a disputes or promises file, row by row; each accepted row is one transaction.
pub async fn apply(
    ctx: &Ctx<'_>,
    kind: Kind,
    file: &str,
    rows: Vec<CsvRow>,
    mut rejects: Vec<Reject>,
) -> Result<ImportSummary, CaseError> {
    let mut summary = ImportSummary { read: (rows.len() + rejects.len()) as u64, ..ImportSummary::default() };
    let mut seen = BTreeSet::new();
    for row in &rows {
        let check = RowCheck { file, row };
        let result = match kind {
            Kind::Disputes => apply_dispute(ctx, &check, &mut seen).await?,
            Kind::Promises => apply_promise(ctx, &check, &mut seen).await?,
        };
        match result {
            Ok(()) => summary.accepted += 1,
            Err(r) => rejects.push(r),
        }
    }
    if !rejects.is_empty() {
        let batch = format!("import-{}", store::instant(ctx.now));
        let mut tx = ctx.store.begin().await?;
        for r in &rejects {
            sqlx::query("INSERT INTO import_rejects (batch_id, file, line, column_name, value, reason, at) VALUES ($1, $2, $3, $4, $5, $6, $7)")
                .bind(&batch)
                .bind(&r.file)
                .bind(r.line as i64)
                .bind(r.column.as_deref())
                .bind(r.value.as_deref())
                .bind(&r.reason)
                .bind(store::instant(ctx.now))
                .execute(&mut *tx)
                .await
                .map_err(|e| ctx.store.err(e))?;
        }
        tx.commit().await.map_err(|e| ctx.store.err(e))?;
    }
    rejects.sort_by_key(|r| r.line);
    summary.rejects = rejects;
    Ok(summary)
}

/// The checks both kinds share: the document exists, belongs to the customer, is a receivable, is not taken by
/// the same id twice, and its current status allows `t`.
async fn common(
    ctx: &Ctx<'_>,
    c: &RowCheck<'_>,
    id_col: &str,
    seen: &mut BTreeSet<(String, String)>,
    t: Option<Transition>,
) -> Result<Result<(String, String, String, Status, i64), Reject>, CaseError> {
    macro_rules! tri {
        ($e:expr) => {
            match $e {
                Ok(v) => v,
                Err(r) => return Ok(Err(r)),
            }
        };
    }
    let id = tri!(c.required(id_col)).to_owned();
    let customer = tri!(c.required("customer_id")).to_owned();
    let doc_id = tri!(c.required("document_id")).to_owned();
    let Some(doc) = ctx.ledger.documents.get(&doc_id) else {
        return Ok(Err(c.reject("document_id", format!("is not in the ledger snapshot as of {}", ctx.ledger.as_of))));
    };
    if doc.customer_id != customer {
        return Ok(Err(c.reject("customer_id", format!("document {doc_id} belongs to customer {}", doc.customer_id))));
    }
    if doc.kind == "credit_note" {
        return Ok(Err(c.reject("document_id", "is a credit note; only invoices and debit notes are collected")));
    }
    if !seen.insert((id.clone(), doc_id.clone())) {
        return Ok(Err(c.reject(id_col, format!("{id} covers {doc_id} twice in this file"))));
    }
    let table = if id_col == "dispute_id" { "disputes" } else { "promises" };
    let exists: Option<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT document_id FROM {table} WHERE {id_col} = $1 AND document_id = $2"
    )))
    .bind(&id)
    .bind(&doc_id)
    .fetch_optional(ctx.store.pool())
    .await
    .map_err(|e| ctx.store.err(e))?;
    if exists.is_some() {
        return Ok(Err(c.reject(id_col, format!("{id} on {doc_id} is already in the store (imported before?)"))));
    }
    let states = crate::cases::states(ctx.store, std::slice::from_ref(&doc_id)).await?;
    let (status, version) = states.get(&doc_id).map(|s| (s.status, s.version)).unwrap_or((Status::Normal, 0));
    if let Some(Err(e)) = t.map(|t| status::next(status, t)) {
        return Ok(Err(c.reject("document_id", e.to_string())));
    }
    Ok(Ok((id, customer, doc_id, status, version)))
}

/// Moves an imported document into `status` under record `id`, compare-and-set on the version read during the
/// checks; `false` when someone changed it meanwhile.
async fn import_status(
    ctx: &Ctx<'_>,
    tx: &mut store::Tx,
    (doc_id, customer, id): (&str, &str, &str),
    status: Status,
    version: i64,
) -> Result<bool, CaseError> {
    let done = sqlx::query(
        "INSERT INTO invoice_cases (document_id, customer_id, status, case_ref, version, updated_at, updated_by) \
         VALUES ($1, $2, $7, $3, 1, $4, $5) \
         ON CONFLICT (document_id) DO UPDATE SET status = $7, case_ref = $3, version = invoice_cases.version + 1, \
         updated_at = $4, updated_by = $5 WHERE invoice_cases.version = $6",
    )
    .bind(doc_id)
    .bind(customer)
    .bind(id)
    .bind(store::instant(ctx.now))
    .bind(ctx.actor)
    .bind(version)
    .bind(status.as_str())
    .execute(&mut **tx)
    .await
    .map_err(|e| ctx.store.err(e))?;
    Ok(done.rows_affected() > 0)
}

async fn apply_dispute(
    ctx: &Ctx<'_>,
    c: &RowCheck<'_>,
    seen: &mut BTreeSet<(String, String)>,
) -> Result<Result<(), Reject>, CaseError> {
    macro_rules! tri {
        ($e:expr) => {
            match $e {
                Ok(v) => v,
                Err(r) => return Ok(Err(r)),
            }
        };
    }
    let ty_name = tri!(c.required("dispute_type")).to_owned();
    let Ok(ty) = ctx.config.dispute_type(&ty_name) else {
        let known: Vec<&str> = ctx.config.dispute_types.keys().map(String::as_str).collect();
        return Ok(Err(c.reject("dispute_type", format!("is not a configured type; known: {}", known.join(", ")))));
    };
    let opened = tri!(tri!(c.date("opened_date")).ok_or_else(|| c.reject("opened_date", "is required")));
    let resolved = tri!(c.date("resolved_date"));
    let resolution = c.text("resolution").map(str::to_owned);
    match (&resolved, &resolution) {
        (Some(r), Some(res)) => {
            if *r < opened {
                return Ok(Err(c.reject("resolved_date", format!("is before opened_date {opened}"))));
            }
            if !crate::cases::RESOLUTIONS.contains(&res.as_str()) {
                return Ok(Err(
                    c.reject("resolution", format!("is not one of {}", crate::cases::RESOLUTIONS.join(", ")))
                ));
            }
        }
        (None, None) => {}
        (Some(_), None) => return Ok(Err(c.reject("resolution", "is required when resolved_date is given"))),
        (None, Some(_)) => return Ok(Err(c.reject("resolved_date", "is required when resolution is given"))),
    }
    let deadline = tri!(c.date("deadline_date"))
        .unwrap_or_else(|| ctx.config.calendar.add_business_days(opened, ty.deadline_business_days));
    let open_now = resolved.is_none();
    // An open dispute moves the document into `dispute`; a resolved one is history and leaves the status alone.
    let t = open_now.then_some(Transition::Dispute);
    let (id, customer, doc_id, status, version) = tri!(common(ctx, c, "dispute_id", seen, t).await?);
    let doc = &ctx.ledger.documents[&doc_id];
    if open_now && doc.balance <= Decimal::ZERO {
        return Ok(Err(c.reject(
            "document_id",
            format!("is {} at {}; an open dispute on it cannot be imported", doc.settled_how(), ctx.ledger.as_of),
        )));
    }
    let amount = match tri!(c.amount("amount")) {
        Some(a) if a > doc.amount => {
            return Ok(Err(c.reject("amount", format!("is more than the document's amount {}", doc.amount))));
        }
        Some(a) => a,
        None => {
            if open_now {
                doc.balance
            } else {
                doc.amount
            }
        }
    };
    let owner =
        c.text("owner").map(str::to_owned).unwrap_or_else(|| ctx.config.departments[&ty.department].owner.clone());
    let collector = ctx.ledger.customers.get(&customer).and_then(|x| x.collector_id.clone());
    let mut tx = ctx.store.begin().await?;
    let e = |e| ctx.store.err(e);
    if open_now && !import_status(ctx, &mut tx, (&doc_id, &customer, &id), Status::Dispute, version).await? {
        return Ok(Err(c.reject("document_id", "changed while it was being imported; import the file again")));
    }
    sqlx::query(
        "INSERT INTO disputes (dispute_id, document_id, customer_id, collector_id, dispute_type, department, owner, currency, \
         amount, opened_date, deadline_date, response_due_date, first_response_date, resolved_date, resolution) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
    )
    .bind(&id)
    .bind(&doc_id)
    .bind(&customer)
    .bind(collector)
    .bind(&ty_name)
    .bind(&ty.department)
    .bind(&owner)
    .bind(&doc.currency)
    .bind(amount.normalize().to_string())
    .bind(opened.to_string())
    .bind(deadline.to_string())
    .bind(ctx.config.calendar.add_business_days(opened, ty.response_business_days).to_string())
    .bind(resolved.map(|d| d.to_string()))
    .bind(resolved.map(|d| d.to_string()))
    .bind(resolution.as_deref())
    .execute(&mut *tx)
    .await
    .map_err(e)?;
    let note = format!("imported from {} line {}", c.file, c.row.line);
    store::append_event(
        &mut tx,
        NewEvent {
            customer_id: &customer,
            document_id: Some(&doc_id),
            kind: "dispute",
            actor: ctx.actor,
            at: ctx.now,
            on_date: opened,
            before: Some(status.as_str()),
            after: Some(if open_now { "dispute" } else { status.as_str() }),
            ref_id: Some(&id),
            currency: Some(&doc.currency),
            amount: Some(amount.normalize().to_string()),
            note: Some(&note),
            ..NewEvent::default()
        },
    )
    .await
    .map_err(e)?;
    tx.commit().await.map_err(e)?;
    Ok(Ok(()))
}

async fn apply_promise(
    ctx: &Ctx<'_>,
    c: &RowCheck<'_>,
    seen: &mut BTreeSet<(String, String)>,
) -> Result<Result<(), Reject>, CaseError> {
    macro_rules! tri {
        ($e:expr) => {
            match $e {
                Ok(v) => v,
                Err(r) => return Ok(Err(r)),
            }
        };
    }
    let made = tri!(tri!(c.date("made_date")).ok_or_else(|| c.reject("made_date", "is required")));
    let promised = tri!(tri!(c.date("promised_date")).ok_or_else(|| c.reject("promised_date", "is required")));
    if promised < made {
        return Ok(Err(c.reject("promised_date", format!("is before made_date {made}"))));
    }
    let amount = tri!(tri!(c.amount("amount")).ok_or_else(|| c.reject("amount", "is required")));
    let grace = match c.text("grace_days") {
        None => ctx.config.promises.grace_days,
        Some(g) => match g.parse::<i64>() {
            Ok(n) if (0..=365).contains(&n) => n,
            _ => return Ok(Err(c.reject("grace_days", "is not a whole number of days between 0 and 365"))),
        },
    };
    let (id, customer, doc_id, status, version) =
        tri!(common(ctx, c, "promise_id", seen, Some(Transition::PromiseToPay)).await?);
    let doc = &ctx.ledger.documents[&doc_id];
    if amount > doc.amount {
        return Ok(Err(c.reject("amount", format!("is more than the document's amount {}", doc.amount))));
    }
    let collector = c
        .text("collector_id")
        .map(str::to_owned)
        .or_else(|| ctx.ledger.customers.get(&customer).and_then(|x| x.collector_id.clone()));
    let mut tx = ctx.store.begin().await?;
    let e = |e| ctx.store.err(e);
    // The promise goes in pending; the next tick closes it as kept or broken from the ledger, like any other.
    if !import_status(ctx, &mut tx, (&doc_id, &customer, &id), Status::Promise, version).await? {
        return Ok(Err(c.reject("document_id", "changed while it was being imported; import the file again")));
    }
    sqlx::query(
        "INSERT INTO promises (promise_id, document_id, customer_id, collector_id, made_date, promised_date, grace_days, \
         currency, amount, state, closed_date) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'pending', NULL)",
    )
    .bind(&id)
    .bind(&doc_id)
    .bind(&customer)
    .bind(collector)
    .bind(made.to_string())
    .bind(promised.to_string())
    .bind(grace)
    .bind(&doc.currency)
    .bind(amount.normalize().to_string())
    .execute(&mut *tx)
    .await
    .map_err(e)?;
    let note = format!("imported from {} line {}", c.file, c.row.line);
    store::append_event(
        &mut tx,
        NewEvent {
            customer_id: &customer,
            document_id: Some(&doc_id),
            kind: "promise_to_pay",
            actor: ctx.actor,
            at: ctx.now,
            on_date: made,
            before: Some(status.as_str()),
            after: Some("promise"),
            ref_id: Some(&id),
            currency: Some(&doc.currency),
            amount: Some(amount.normalize().to_string()),
            note: Some(&note),
            ..NewEvent::default()
        },
    )
    .await
    .map_err(e)?;
    tx.commit().await.map_err(e)?;
    Ok(Ok(()))
}
