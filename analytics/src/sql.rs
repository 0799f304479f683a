//! The SQL that cobro runs, loaded from `analytics/sql/*.sql`. Files are templates: `{{name}}` placeholders are
//! replaced with values that were parsed and typed first (dates, integers, generated `CASE` expressions), never
//! with raw user text.

use std::sync::Arc;

use chrono::{Days, Months};
use cobro_domain::{AgeingBuckets, AsOf, BusinessCalendar};

use crate::segments::SegmentRules;

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
/// Customer segments with their reasons.
pub const SEGMENTS: &str = include_str!("../sql/segments.sql");
/// The predicted pay date of every open receivable.
pub const PREDICTED_PAYMENTS: &str = include_str!("../sql/predicted_payments.sql");
/// The collectors' ranked work queue.
pub const WORK_QUEUE: &str = include_str!("../sql/work_queue.sql");
/// One month of the pay-date back-test (not a view: it reads `actual_settlement`, registered by the back-test).
pub const BACKTEST: &str = include_str!("../sql/backtest.sql");
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
/// Alarm: customers the AR manager must act on (daily).
pub const ALARM_ACTION_NEEDED: &str = include_str!("../sql/alarm_action_needed.sql");
/// Alarm: broken promises still unpaid (daily, per collector).
pub const ALARM_BROKEN_PROMISES: &str = include_str!("../sql/alarm_broken_promises.sql");
/// Alarm: payments reported but not credited (weekly, per collector).
pub const ALARM_REPORTED_NOT_CREDITED: &str = include_str!("../sql/alarm_reported_not_credited.sql");
/// Alarm: documents in an open dispute (weekly, per department and per collector).
pub const ALARM_OPEN_DISPUTES: &str = include_str!("../sql/alarm_open_disputes.sql");
/// Outcomes, customers and amounts per delay reason.
pub const DELAY_REASON_REPORT: &str = include_str!("../sql/delay_reason_report.sql");
/// Progress of each collection objective.
pub const OBJECTIVE_PROGRESS: &str = include_str!("../sql/objective_progress.sql");
/// First-response time of each dispute.
pub const DISPUTE_RESPONSE: &str = include_str!("../sql/dispute_response.sql");
/// Contacts, outcomes, amounts promised and collected per collector and month.
pub const COLLECTOR_ACTIVITY: &str = include_str!("../sql/collector_activity.sql");

/// Views defined over every snapshot, in dependency order, with the tables and views each one reads. A view is
/// defined only when all it reads exists (an old snapshot without `disputes` simply has no dispute views).
pub const VIEWS: &[(&str, &str, &[&str])] = &[
    // Stored in every snapshot (derived at its date); a view only when a session replays an earlier date.
    ("open_items", OPEN_ITEMS, &["documents", "allocations", "fx_rates"]),
    ("unapplied", UNAPPLIED, &["allocations", "payments", "documents"]),
    ("ledger_months", LEDGER_MONTHS, &["documents"]),
    ("fx_daily", FX_DAILY, &["fx_rates"]),
    ("ar_document_months", AR_DOCUMENT_MONTHS, &["documents", "allocations", "disputes", "ledger_months", "fx_daily"]),
    ("ar_monthly_by_currency", AR_MONTHLY_BY_CURRENCY, &["documents", "allocations", "fx_daily", "ar_document_months"]),
    ("ar_monthly", AR_MONTHLY, &["ar_monthly_by_currency"]),
    ("ageing", AGEING, &["open_items"]),
    ("ageing_by_issue_date", AGEING_BY_ISSUE_DATE, &["open_items"]),
    ("settled_documents", SETTLED_DOCUMENTS, &["documents", "allocations", "fx_daily"]),
    ("dispute_resolution", DISPUTE_RESOLUTION, &["disputes"]),
    ("dispute_sla", DISPUTE_SLA, &["dispute_resolution"]),
    ("promise_outcomes", PROMISE_OUTCOMES, &["promises", "documents", "allocations"]),
    (
        "customer_behaviour",
        CUSTOMER_BEHAVIOUR,
        &["customers", "documents", "settled_documents", "open_items", "disputes", "promise_outcomes", "fx_daily"],
    ),
    ("segments", SEGMENTS, &["customer_behaviour"]),
    ("predicted_payments", PREDICTED_PAYMENTS, &["open_items", "settled_documents", "segments"]),
    (
        "work_queue",
        WORK_QUEUE,
        &[
            "open_items",
            "segments",
            "customer_behaviour",
            "disputes",
            "promise_outcomes",
            "promises",
            "payment_reports",
        ],
    ),
    ("promise_metrics", PROMISE_METRICS, &["promise_outcomes", "fx_daily"]),
    ("dispute_response", DISPUTE_RESPONSE, &["disputes"]),
    (
        "alarm_action_needed",
        ALARM_ACTION_NEEDED,
        &["customers", "open_items", "disputes", "promise_outcomes", "promises", "payment_reports", "tasks"],
    ),
    ("alarm_broken_promises", ALARM_BROKEN_PROMISES, &["promise_outcomes", "promises", "open_items", "customers"]),
    ("alarm_reported_not_credited", ALARM_REPORTED_NOT_CREDITED, &["payment_reports", "open_items", "customers"]),
    ("alarm_open_disputes", ALARM_OPEN_DISPUTES, &["disputes", "customers"]),
    ("delay_reason_report", DELAY_REASON_REPORT, &["collection_actions", "delay_reasons", "fx_daily"]),
    ("objective_progress", OBJECTIVE_PROGRESS, &["objectives", "customers", "documents", "allocations", "fx_daily"]),
    (
        "collector_activity",
        COLLECTOR_ACTIVITY,
        &["collection_actions", "customers", "documents", "allocations", "fx_daily"],
    ),
];

/// Tables a snapshot stores already derived at its as-of date (see `SnapshotSession::open_replay`).
pub const DERIVED_TABLES: &[&str] = &["open_items"];

/// Thresholds of the alarms (seed 003), from the workflow configuration (`[alarms]` and `[payment_reports]` of
/// `data/strategies/workflow.toml`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlarmParams {
    /// "Customers needing action": an unblocked receivable more than this many days past due (`{{action_days_past_due}}`).
    pub action_days_past_due: u32,
    /// "Payments reported but not credited": a report still open this many days after it was made
    /// (`{{credit_wait_days}}`).
    pub credit_wait_days: u32,
}

impl Default for AlarmParams {
    /// The shipped workflow configuration: the D+30 action notice, and 5 days for a reported payment to arrive.
    fn default() -> Self {
        Self { action_days_past_due: 30, credit_wait_days: 5 }
    }
}

/// Parameters every snapshot query is rendered with.
#[derive(Debug, Clone)]
pub struct SqlParams {
    /// The as-of date.
    pub as_of: AsOf,
    /// Ageing bucket edges.
    pub buckets: AgeingBuckets,
    /// The reporting currency code.
    pub reporting_currency: String,
    /// Segment rules and queue settings.
    pub rules: Arc<SegmentRules>,
    /// Alarm thresholds.
    pub alarms: AlarmParams,
    /// The company calendar `business_days` counts in (Monday to Friday, no holidays, unless set).
    pub calendar: BusinessCalendar,
}

impl SqlParams {
    /// Parameters with the built-in segment rules.
    pub fn new(as_of: AsOf, buckets: AgeingBuckets, reporting_currency: String) -> Self {
        Self {
            as_of,
            buckets,
            reporting_currency,
            rules: SegmentRules::builtin(),
            alarms: AlarmParams::default(),
            calendar: BusinessCalendar::default(),
        }
    }

    /// The same parameters counting business days in another calendar.
    pub fn with_calendar(self, calendar: BusinessCalendar) -> Self {
        Self { calendar, ..self }
    }

    /// The same parameters with other alarm thresholds.
    #[must_use]
    pub fn with_alarms(self, alarms: AlarmParams) -> Self {
        Self { alarms, ..self }
    }

    /// The same parameters at another as-of date.
    pub fn at(&self, as_of: AsOf) -> Self {
        Self { as_of, ..self.clone() }
    }

    /// Renders a template.
    pub fn render(&self, template: &str) -> String {
        let currency: String = self.reporting_currency.chars().filter(char::is_ascii_alphabetic).collect();
        let d = self.as_of.date();
        let date = |shifted: Option<chrono::NaiveDate>| format!("DATE '{}'", shifted.unwrap_or(d).format("%Y-%m-%d"));
        let q = &self.rules.queue;
        template
            .replace("{{window_start}}", &date(d.checked_sub_months(Months::new(12))))
            .replace("{{trend_start}}", &date(d.checked_sub_months(Months::new(3))))
            .replace("{{days_90_before}}", &date(d.checked_sub_days(Days::new(90))))
            .replace("{{segment_case}}", &self.rules.segment_case())
            .replace("{{segment_reason_case}}", &self.rules.segment_reason_case())
            .replace("{{overlays}}", &self.rules.overlays_expr())
            .replace("{{overlay_reasons}}", &self.rules.overlay_reasons_expr())
            .replace("{{due_soon_days}}", &q.due_soon_days.to_string())
            .replace("{{urgency_days}}", &q.urgency_days.to_string())
            .replace("{{prior_weight}}", &format!("CAST({:?} AS DOUBLE)", q.prior_weight))
            .replace("{{broken_promise_boost}}", &format!("CAST({:?} AS DOUBLE)", q.broken_promise_boost))
            .replace("{{overlay_boost}}", &format!("CAST({:?} AS DOUBLE)", q.overlay_boost))
            .replace("{{payment_report_hold_days}}", &q.payment_report_hold_days.to_string())
            .replace("{{action_days_past_due}}", &self.alarms.action_days_past_due.to_string())
            .replace("{{credit_wait_days}}", &self.alarms.credit_wait_days.to_string())
            .replace("{{as_of}}", &format!("DATE '{}'", self.as_of))
            .replace("{{bucket_case_dpd}}", &self.buckets.sql_case("days_past_due"))
            .replace("{{bucket_order_dpd}}", &self.buckets.sql_order_case("days_past_due"))
            .replace("{{bucket_case_since_issue}}", &self.buckets.sql_issue_case("days_since_issue"))
            .replace("{{bucket_order_since_issue}}", &self.buckets.sql_order_case("GREATEST(days_since_issue, 1)"))
            .replace("{{reporting_currency}}", &format!("'{currency}'"))
    }
}
