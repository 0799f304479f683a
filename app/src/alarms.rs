//! The four internal alarms of seed 003: name, view, cadence and recipient, and the order rows are listed in.
//! `cobro alarms` and `GET /api/v1/alarms/{name}` list the same.

/// Name, view, cadence and recipient, and the table columns shown.
pub const ALARMS: &[(&str, &str, &str, &str)] = &[
    (
        "action-needed",
        "alarm_action_needed",
        "daily, to the AR manager: customers to decide on (suspend, legal action, write-off)",
        "ORDER BY oldest_days_past_due DESC, customer_id",
    ),
    (
        "broken-promises",
        "alarm_broken_promises",
        "daily, to each collector: promises to pay not kept; call these customers first",
        "ORDER BY collector_id, broken_after, promise_id",
    ),
    (
        "reported-not-credited",
        "alarm_reported_not_credited",
        "weekly, to each collector: payments customers reported that the ledger still does not show",
        "ORDER BY collector_id, reported_date, report_id, document_id",
    ),
    (
        "open-disputes",
        "alarm_open_disputes",
        "weekly, to each department and each collector: disputes waiting for a resolution",
        "ORDER BY department, past_deadline DESC, deadline_date, dispute_id, document_id",
    ),
];
