//! What the workflow needs to know from the ledger snapshot, as plain rows: the documents a command or the
//! dunning planner looks at (with their balance at the snapshot date, so that paid and credited are derived, never
//! stored) and their customers. The caller reads them from the snapshot; this crate never names the query engine.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use rust_decimal::Decimal;

/// A document as the snapshot knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerDocument {
    /// Id.
    pub document_id: String,
    /// Customer.
    pub customer_id: String,
    /// invoice, debit_note, credit_note.
    pub kind: String,
    /// Currency.
    pub currency: String,
    /// Amount.
    pub amount: Decimal,
    /// Balance at the snapshot date.
    pub balance: Decimal,
    /// Issue date.
    pub issue_date: NaiveDate,
    /// Due date.
    pub due_date: NaiveDate,
    /// Applied from payments up to the snapshot date.
    pub paid: Decimal,
    /// Applied from credit notes up to the snapshot date.
    pub credited: Decimal,
}

impl LedgerDocument {
    /// `paid`, `credited` or `paid and credited` for a closed document.
    pub fn settled_how(&self) -> &'static str {
        match (self.paid > Decimal::ZERO, self.credited > Decimal::ZERO) {
            (true, true) => "paid and credited",
            (false, true) => "credited",
            _ => "paid",
        }
    }
}

/// A customer as the snapshot knows it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LedgerCustomer {
    /// Id.
    pub customer_id: String,
    /// Name.
    pub name: String,
    /// Collector.
    pub collector_id: Option<String>,
    /// Sales rep.
    pub sales_rep_id: Option<String>,
    /// Email for customer messages.
    pub email: Option<String>,
    /// Language of customer messages (`es`, `en`).
    pub language: Option<String>,
}

/// The slice of the ledger a command needs.
#[derive(Debug, Clone, Default)]
pub struct Ledger {
    /// Snapshot date.
    pub as_of: NaiveDate,
    /// Documents by id.
    pub documents: BTreeMap<String, LedgerDocument>,
    /// Customers by id.
    pub customers: BTreeMap<String, LedgerCustomer>,
}
