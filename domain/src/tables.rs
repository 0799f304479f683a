//! The canonical ledger tables (DESIGN §2.1) as plain data: name, columns, logical types, and what each column
//! means. The pipeline validates rows against these specs, and the Arrow schemas are derived from them, so the
//! import, the snapshot files and the docs cannot drift apart.

/// Logical type of a canonical column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ColumnType {
    /// Text (ids, names, codes).
    Text,
    /// A calendar date.
    Date,
    /// Exact money: `Decimal128(18, 4)`.
    Money,
    /// An exchange rate: `Decimal128(18, 10)`.
    Rate,
    /// A whole number (days).
    Int,
    /// true / false.
    Bool,
}

/// Decimal places of a stored exchange rate.
pub const RATE_SCALE: u32 = 10;
/// Total digits of a stored exchange rate.
pub const RATE_PRECISION: u8 = 18;

/// One column of a canonical table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ColumnSpec {
    /// Column name, as in DESIGN §2.1.
    pub name: &'static str,
    /// Logical type.
    pub ty: ColumnType,
    /// Whether a row must carry a value.
    pub required: bool,
    /// One line on what the column holds.
    pub doc: &'static str,
}

/// The canonical tables, in load order (a table only references tables before it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Table {
    /// Customers (debtor accounts).
    Customers,
    /// Invoices, credit notes and debit notes.
    Documents,
    /// Payments received.
    Payments,
    /// Applications of a payment or credit note to a document.
    Allocations,
    /// Exchange rates to the reporting currency.
    FxRates,
}

const fn col(name: &'static str, ty: ColumnType, required: bool, doc: &'static str) -> ColumnSpec {
    ColumnSpec { name, ty, required, doc }
}

use ColumnType::{Bool, Date, Int, Money, Rate, Text};

const CUSTOMERS: &[ColumnSpec] = &[
    col("customer_id", Text, true, "the ERP's customer key; leading zeros are kept"),
    col("name", Text, false, "customer name"),
    col("country", Text, false, "country code as the ERP gives it"),
    col("currency", Text, true, "the customer's default ISO 4217 currency"),
    col("account_group", Text, false, "ERP account group, e.g. VIP, retail, wholesale"),
    col("payment_terms_days", Int, false, "agreed payment terms in days"),
    col("credit_limit", Money, false, "credit limit in the customer's currency"),
    col("collector_id", Text, false, "collector who owns the account"),
    col("sales_rep_id", Text, false, "sales representative of the account"),
    col("email", Text, false, "dunning e-mail address"),
    col("phone", Text, false, "phone number"),
    col("language", Text, false, "language for messages (es, en, ...)"),
    col("timezone", Text, false, "IANA time zone, e.g. Europe/Madrid"),
    col("vip", Bool, false, "VIP customers get no automatic messages"),
    col("supplier_id", Text, false, "the same party as a supplier, for netting"),
];

const DOCUMENTS: &[ColumnSpec] = &[
    col("document_id", Text, true, "document number; unique across the ledger"),
    col("customer_id", Text, true, "customer the document is issued to"),
    col("kind", Text, true, "invoice, credit_note or debit_note"),
    col("issue_date", Date, true, "issue date"),
    col("due_date", Date, true, "due date; never before the issue date"),
    col("currency", Text, true, "ISO 4217 currency of the amount"),
    col("amount", Money, true, "gross amount, positive; the kind gives the sign"),
    col("reference", Text, false, "free reference (order, contract)"),
    col("disputed", Bool, false, "dispute flag kept from the ERP"),
];

const PAYMENTS: &[ColumnSpec] = &[
    col("payment_id", Text, true, "payment key; unique"),
    col("customer_id", Text, true, "paying customer"),
    col("received_date", Date, true, "date the cash was received"),
    col("currency", Text, true, "ISO 4217 currency"),
    col("amount", Money, true, "amount received, positive"),
    col("method", Text, false, "transfer, card, cheque, ..."),
    col("reference", Text, false, "bank reference"),
];

const ALLOCATIONS: &[ColumnSpec] = &[
    col("source_id", Text, true, "payment_id, or document_id of a credit note"),
    col("document_id", Text, true, "document the amount is applied to"),
    col("applied_date", Date, true, "date the application takes effect"),
    col("amount", Money, true, "amount applied, positive, in the document's currency"),
];

const FX_RATES: &[ColumnSpec] = &[
    col("date", Date, true, "first day the rate applies"),
    col("currency", Text, true, "ISO 4217 currency"),
    col("rate_to_reporting", Rate, true, "units of reporting currency per unit of currency"),
];

impl Table {
    /// Every canonical table, in load order.
    pub const ALL: [Table; 5] =
        [Table::Customers, Table::Documents, Table::Payments, Table::Allocations, Table::FxRates];

    /// The table's name in files, mappings and SQL.
    pub fn name(self) -> &'static str {
        match self {
            Table::Customers => "customers",
            Table::Documents => "documents",
            Table::Payments => "payments",
            Table::Allocations => "allocations",
            Table::FxRates => "fx_rates",
        }
    }

    /// Looks a table up by name.
    pub fn from_name(name: &str) -> Option<Table> {
        Table::ALL.into_iter().find(|t| t.name() == name)
    }

    /// The table's columns, in file order.
    pub fn columns(self) -> &'static [ColumnSpec] {
        match self {
            Table::Customers => CUSTOMERS,
            Table::Documents => DOCUMENTS,
            Table::Payments => PAYMENTS,
            Table::Allocations => ALLOCATIONS,
            Table::FxRates => FX_RATES,
        }
    }

    /// A column by name.
    pub fn column(self, name: &str) -> Option<&'static ColumnSpec> {
        self.columns().iter().find(|c| c.name == name)
    }

    /// Column names, comma-separated (for error messages that list what is expected).
    pub fn column_list(self) -> String {
        self.columns().iter().map(|c| c.name).collect::<Vec<_>>().join(", ")
    }
}

/// `disputes`: one row per disputed document of a dispute (a dispute over several invoices has one row per
/// invoice, sharing `dispute_id`). Written into every snapshot from the collections store (DESIGN §2.2); empty
/// until the case workflow records disputes, but always present with this schema so that the metric views
/// never change shape.
pub const DISPUTES: &[ColumnSpec] = &[
    col("dispute_id", Text, true, "dispute key; shared by the rows of a dispute over several documents"),
    col("document_id", Text, true, "disputed document"),
    col("customer_id", Text, true, "customer of the document"),
    col("dispute_type", Text, true, "billing_error, delivery, breakdown, price, ... (routes to a department)"),
    col("department", Text, true, "department the dispute is routed to"),
    col("owner", Text, false, "person in the department who owns the resolution"),
    col("currency", Text, true, "currency of the disputed amount (the document's)"),
    col("amount", Money, true, "disputed amount of this document; part or all of its balance"),
    col("opened_date", Date, true, "day the dispute was opened"),
    col("deadline_date", Date, true, "resolution deadline (business days per type from the opening)"),
    col("resolved_date", Date, false, "day it was resolved; empty while open"),
    col("resolution", Text, false, "credit_note, corrected_invoice or rejected; empty while open"),
];

/// `promises`: one row per document of a promise to pay (a promise over several invoices has one row per
/// invoice, sharing `promise_id`). Written into every snapshot from the collections store; empty until the case
/// workflow records promises.
pub const PROMISES: &[ColumnSpec] = &[
    col("promise_id", Text, true, "promise key; shared by the rows of a promise over several documents"),
    col("document_id", Text, true, "document the customer promised to pay"),
    col("customer_id", Text, true, "customer who promised"),
    col("collector_id", Text, false, "collector who obtained the promise"),
    col("made_date", Date, true, "day the promise was made"),
    col("promised_date", Date, true, "day the customer promised to pay by"),
    col("grace_days", Int, true, "days after promised_date before the promise counts as broken"),
    col("currency", Text, true, "currency of the promised amount (the document's)"),
    col("amount", Money, true, "amount promised on this document"),
];

/// `payment_reports`: one row per document a customer says it has paid (the `reported_paid` outcome of seed 003;
/// a report over several invoices has one row per invoice, sharing `report_id`). Written into every snapshot from
/// the collections store; empty until the case workflow records reports.
pub const PAYMENT_REPORTS: &[ColumnSpec] = &[
    col("report_id", Text, true, "report key; shared by the rows of a report over several documents"),
    col("document_id", Text, true, "document the customer says it paid"),
    col("customer_id", Text, true, "customer who reported the payment"),
    col("reported_date", Date, true, "day the customer reported it"),
    col("paid_date", Date, false, "day the customer says it paid"),
    col("reference", Text, false, "the customer's payment reference"),
];

/// The collection tables every snapshot carries, with their columns.
pub const COLLECTION_TABLES: &[(&str, &[ColumnSpec])] =
    &[("disputes", DISPUTES), ("promises", PROMISES), ("payment_reports", PAYMENT_REPORTS)];

/// Document kinds.
pub const DOCUMENT_KINDS: &[&str] = &["invoice", "credit_note", "debit_note"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_round_trips_by_name_and_has_a_required_key() {
        for t in Table::ALL {
            assert_eq!(Table::from_name(t.name()), Some(t));
            assert!(t.columns().first().is_some_and(|c| c.required), "{}", t.name());
        }
    }
}
