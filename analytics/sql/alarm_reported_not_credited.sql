-- alarm_reported_not_credited: payments customers say they have made that the ledger still does not show, for each
-- collector's weekly alarm (seed 003, "pagos informados no acreditados": a payment applied to another invoice or
-- customer, a transfer that failed). One row per document of a payment report that is
--   * still open at the as-of date: state NULL (imported) or open, or closed (credited, reopened, superseded) only
--     after the as-of date;
--   * at least {{credit_wait_days}} days old: reported_date ≤ as-of − {{credit_wait_days}} days, i.e.
--     days_since_report = as-of − reported_date ≥ {{credit_wait_days}};
--   * on a document still open at the as-of date (open_items): balance is what it still owes, in its currency.
-- collector_id = the report's collector, else the customer's.
SELECT COALESCE(r.collector_id, c.collector_id) AS collector_id, r.customer_id, r.report_id, r.document_id,
       r.reported_date, CAST({{as_of}} - r.reported_date AS INT) AS days_since_report, r.paid_date, r.reference,
       i.currency, i.balance
FROM payment_reports r
JOIN open_items i ON i.document_id = r.document_id
LEFT JOIN customers c ON c.customer_id = r.customer_id
WHERE r.reported_date <= CAST(CAST({{as_of}} AS INT) - {{credit_wait_days}} AS DATE)
  AND (COALESCE(r.state, 'open') = 'open' OR r.closed_date > {{as_of}})
