//! The SQL that cobro runs, loaded from `analytics/sql/*.sql`. Files are templates: `{{name}}` placeholders are
//! replaced with values that were parsed and typed first (dates, integers, generated `CASE` expressions), never
//! with raw user text.

use cobro_domain::{AgeingBuckets, AsOf};

/// The open items at the end of the as-of date (DESIGN §2.1).
pub const OPEN_ITEMS: &str = include_str!("../sql/open_items.sql");
/// Unapplied cash and credits at the end of the as-of date.
pub const UNAPPLIED: &str = include_str!("../sql/unapplied.sql");

/// Calendar months of the ledger up to the as-of month.
pub const LEDGER_MONTHS: &str = include_str!("../sql/ledger_months.sql");
/// The exchange rate of every day.
pub const FX_DAILY: &str = include_str!("../sql/fx_daily.sql");
/// Receivables open at each month end.
pub const AR_DOCUMENT_MONTHS: &str = include_str!("../sql/ar_document_months.sql");
/// Monthly flows and balances per currency.
pub const AR_MONTHLY_BY_CURRENCY: &str = include_str!("../sql/ar_monthly_by_currency.sql");
/// The DSO family and CEI per month.
pub const AR_MONTHLY: &str = include_str!("../sql/ar_monthly.sql");
/// Ageing by days past due.
pub const AGEING: &str = include_str!("../sql/ageing.sql");
/// Ageing by days since issue.
pub const AGEING_BY_ISSUE_DATE: &str = include_str!("../sql/ageing_by_issue_date.sql");
/// Settled receivables with days late and days to settle.
pub const SETTLED_DOCUMENTS: &str = include_str!("../sql/settled_documents.sql");
/// Per-customer payment behaviour.
pub const CUSTOMER_BEHAVIOUR: &str = include_str!("../sql/customer_behaviour.sql");
/// One row per dispute with its resolution time.
pub const DISPUTE_RESOLUTION: &str = include_str!("../sql/dispute_resolution.sql");
/// Share of disputes resolved in time by type, department and owner.
pub const DISPUTE_SLA: &str = include_str!("../sql/dispute_sla.sql");
/// One row per promise with its outcome.
pub const PROMISE_OUTCOMES: &str = include_str!("../sql/promise_outcomes.sql");
/// Promise keeping per collector.
pub const PROMISE_METRICS: &str = include_str!("../sql/promise_metrics.sql");
/// The CFO's KPI summary.
pub const METRICS_SUMMARY: &str = include_str!("../sql/metrics_summary.sql");

/// Views defined over every snapshot, in dependency order, with the tables and views each one reads. A view is
/// defined only when all it reads exists (an old snapshot without `disputes` simply has no dispute views).
pub const VIEWS: &[(&str, &str, &[&str])] = &[
    ("unapplied", UNAPPLIED, &["allocations", "payments", "documents"]),
    ("ledger_months", LEDGER_MONTHS, &["documents"]),
    ("fx_daily", FX_DAILY, &["fx_rates"]),
    ("ar_document_months", AR_DOCUMENT_MONTHS, &["documents", "allocations", "disputes", "ledger_months", "fx_daily"]),
    ("ar_monthly_by_currency", AR_MONTHLY_BY_CURRENCY, &["documents", "allocations", "fx_daily", "ar_document_months"]),
    ("ar_monthly", AR_MONTHLY, &["ar_monthly_by_currency"]),
    ("ageing", AGEING, &["open_items"]),
    ("ageing_by_issue_date", AGEING_BY_ISSUE_DATE, &["open_items"]),
    ("settled_documents", SETTLED_DOCUMENTS, &["documents", "allocations", "fx_daily"]),
    ("customer_behaviour", CUSTOMER_BEHAVIOUR, &["customers", "settled_documents", "open_items"]),
    ("dispute_resolution", DISPUTE_RESOLUTION, &["disputes"]),
    ("dispute_sla", DISPUTE_SLA, &["dispute_resolution"]),
    ("promise_outcomes", PROMISE_OUTCOMES, &["promises", "documents", "allocations"]),
    ("promise_metrics", PROMISE_METRICS, &["promise_outcomes", "fx_daily"]),
];

/// Parameters every snapshot query is rendered with.
#[derive(Debug, Clone)]
pub struct SqlParams {
    /// The as-of date.
    pub as_of: AsOf,
    /// Ageing bucket edges.
    pub buckets: AgeingBuckets,
    /// The reporting currency code.
    pub reporting_currency: String,
}

impl SqlParams {
    /// Renders a template.
    pub fn render(&self, template: &str) -> String {
        let currency: String = self.reporting_currency.chars().filter(char::is_ascii_alphabetic).collect();
        template
            .replace("{{as_of}}", &format!("DATE '{}'", self.as_of))
            .replace("{{bucket_case_dpd}}", &self.buckets.sql_case("days_past_due"))
            .replace("{{bucket_order_dpd}}", &self.buckets.sql_order_case("days_past_due"))
            .replace("{{bucket_case_since_issue}}", &self.buckets.sql_issue_case("days_since_issue"))
            .replace("{{bucket_order_since_issue}}", &self.buckets.sql_order_case("GREATEST(days_since_issue, 1)"))
            .replace("{{reporting_currency}}", &format!("'{currency}'"))
    }
}
