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
    col("response_due_date", Date, false, "first-response target (business days per type from the opening)"),
    col("first_response_date", Date, false, "day the department first responded; empty until it does"),
    col("escalated_date", Date, false, "day the dispute was escalated for missing its deadline; empty if never"),
    col("collector_id", Text, false, "collector of the customer, for the collectors' weekly dispute alarm"),
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
    col("state", Text, false, "as the store knows it: pending, kept, broken, superseded or cancelled"),
    col("closed_date", Date, false, "day the store closed the promise (kept, broken, superseded, cancelled)"),
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
    col("collector_id", Text, false, "collector of the customer, for the weekly reported-not-credited alarm"),
    col("state", Text, false, "open, credited (the ledger shows it paid), reopened (never credited) or superseded"),
    col("closed_date", Date, false, "day the report was closed as credited or reopened"),
];

/// `tasks`: the work the workflow hands to people (DESIGN §2.2): a call, an email, a review, a decision on a
/// customer past the action date, a dispute to resolve.
pub const TASKS: &[ColumnSpec] = &[
    col("task_id", Text, true, "task key"),
    col("kind", Text, true, "call, email, follow_up, review, decide_action, resolve_dispute, escalation"),
    col("customer_id", Text, true, "customer the task is about"),
    col("document_ids", Text, false, "documents it covers, comma-separated"),
    col("assignee_role", Text, true, "collector, sales_rep, ar_manager or department"),
    col("assignee", Text, false, "who: a collector id, a sales rep id, the AR manager, a department owner"),
    col("due_date", Date, true, "day it is due"),
    col("state", Text, true, "open, done or cancelled"),
    col("origin", Text, true, "what created it: outcome:<kind>, dispute:<id>, promise:<id>, alarm:<name>, import"),
    col("origin_ref", Text, false, "id of the record that created it (outcome, dispute, promise)"),
    col("created_date", Date, true, "day it was created"),
    col("closed_date", Date, false, "day it was done or cancelled"),
    col("note", Text, false, "what to do, in words"),
];

/// `messages`: every message the workflow has queued or sent (customer emails, reminders to dispute owners).
/// The body stays in the operational store; the snapshot carries what analysts count.
pub const MESSAGES: &[ColumnSpec] = &[
    col("message_id", Text, true, "message key"),
    col("idempotency_key", Text, true, "what makes it unique: the same key is never sent twice"),
    col("channel", Text, true, "email, sms, webhook, file"),
    col("recipient", Text, false, "address; empty when the customer has none (the message then fails visibly)"),
    col("recipient_role", Text, true, "customer, collector, department, ar_manager"),
    col("template", Text, true, "template name, e.g. no_contact, dispute_reminder_before"),
    col("customer_id", Text, false, "customer it is about"),
    col("document_ids", Text, false, "documents it lists, comma-separated"),
    col("subject", Text, true, "subject line"),
    col("state", Text, true, "queued, sending, sent, bounced or failed"),
    col("attempts", Int, true, "delivery attempts so far"),
    col("created_date", Date, true, "day it was queued"),
    col("origin_ref", Text, false, "record that caused it (outcome, dispute, strategy step)"),
    col("send_after", Text, false, "not before this instant (UTC, RFC 3339); empty to go at once"),
    col("send_date", Date, false, "the customer's local date it goes out on (what the daily cap counts)"),
    col("rfc_message_id", Text, false, "the Message-ID it was sent under (the same on every attempt)"),
    col("sent_at", Text, false, "when the channel accepted it (UTC, RFC 3339)"),
    col("delivered_via", Text, false, "file, smtp, webhook or in_app"),
    col("last_error", Text, false, "what the channel said on the last failed attempt"),
    col("bounced_at", Text, false, "when a bounce was reported (UTC, RFC 3339)"),
    col("bounce_reason", Text, false, "what the bounce said"),
];

/// `collection_actions`: the event log of the operational store, one row per change to one document or record,
/// in order. Together they are each customer's timeline (DESIGN §2.2).
pub const COLLECTION_ACTIONS: &[ColumnSpec] = &[
    col("event_id", Text, true, "event key"),
    col("seq", Int, true, "global order of the events"),
    col("customer_id", Text, true, "customer"),
    col("document_id", Text, false, "document the event changed, if any"),
    col("kind", Text, true, "promise_to_pay, no_commitment, reported_paid, dispute, no_contact, promise_broken, ..."),
    col("actor", Text, true, "who: a user, `system` for the daily tick, `import` for migrated records"),
    col("at", Text, true, "when it was recorded (UTC, RFC 3339): the knowledge time"),
    col("on_date", Date, true, "business date it happened on"),
    col("before_status", Text, false, "document's collection status before (for segment_changed: the segment)"),
    col("after_status", Text, false, "document's collection status after (for segment_changed: the segment)"),
    col("ref_id", Text, false, "record it belongs to: promise, report, dispute, task or message id"),
    col("outcome_id", Text, false, "the contact outcome it belongs to (one outcome can cover several documents)"),
    col("currency", Text, false, "currency of `amount`"),
    col("amount", Money, false, "amount concerned (promised, disputed, or the balance chased)"),
    col("delay_reason", Text, false, "delay reason code recorded with the outcome"),
    col("note", Text, false, "the collector's note"),
];

/// `objectives`: collection targets per collector or account group for a period (seed 002), copied from the
/// workflow configuration into each snapshot so that the progress view reads them with the ledger.
pub const OBJECTIVES: &[ColumnSpec] = &[
    col("objective_id", Text, true, "objective key"),
    col("scope_kind", Text, true, "collector or account_group"),
    col("scope", Text, true, "the collector id or the account group"),
    col("period_start", Date, true, "first day of the period"),
    col("period_end", Date, true, "last day of the period"),
    col("collect_target_rc", Money, false, "amount to collect in the period, in the reporting currency"),
    col("dso_target", Money, false, "DSO target in days"),
    col("overdue_share_target", Money, false, "target share of the open balance that is past due (0.25 = 25 %)"),
];

/// `delay_reasons`: the configured delay-reason codes (seed 002), so reports can show labels and unused codes.
pub const DELAY_REASONS: &[ColumnSpec] =
    &[col("code", Text, true, "reason code recorded with an outcome"), col("label", Text, true, "what it means")];

/// The collection tables every snapshot carries, with their columns.
pub const COLLECTION_TABLES: &[(&str, &[ColumnSpec])] = &[
    ("disputes", DISPUTES),
    ("promises", PROMISES),
    ("payment_reports", PAYMENT_REPORTS),
    ("tasks", TASKS),
    ("messages", MESSAGES),
    ("collection_actions", COLLECTION_ACTIONS),
    ("objectives", OBJECTIVES),
    ("delay_reasons", DELAY_REASONS),
];

/// A table as text cells, in its columns' order (`None` is empty): how the operational store hands its records
/// to the snapshot writer, which parses each cell by its column's type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextTable {
    /// Table name.
    pub name: &'static str,
    /// Its columns.
    pub columns: &'static [ColumnSpec],
    /// Rows, each with one cell per column.
    pub rows: Vec<Vec<Option<String>>>,
}

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
