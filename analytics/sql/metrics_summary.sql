-- The CFO's KPI summary at the as-of date (`cobro metrics`): one row per KPI with its value rounded to 2 decimals,
-- its unit, its definition and the figures it was computed from. The month figures are ar_monthly's row for the
-- as-of month (month-to-date when the as-of date is not a month end). Every definition is in docs/metrics.md.
WITH m AS (
    SELECT * FROM ar_monthly WHERE month = to_char({{as_of}}, '%Y-%m')
),
w AS (
    SELECT CAST(SUM(credit_sales) AS DECIMAL(28, 2)) AS s3, SUM(days_in_month) AS d3, COUNT(*) AS n3,
           MIN(month) AS first_month, MAX(month) AS last_month
    FROM ar_monthly
    WHERE month >= to_char(CAST(make_date(CAST(date_part('year', {{as_of}}) AS INT),
                                          CAST(date_part('month', {{as_of}}) AS INT), 1) - INTERVAL '2 months' AS DATE), '%Y-%m')
      AND month <= to_char({{as_of}}, '%Y-%m')
),
a AS (
    SELECT CAST(COALESCE(SUM(balance_rc), 0) AS DECIMAL(28, 2)) AS total,
           CAST(COALESCE(SUM(CASE WHEN days_past_due <= 0 THEN balance_rc END), 0) AS DECIMAL(28, 2)) AS cur,
           CAST(COALESCE(SUM(CASE WHEN days_past_due > 90 THEN balance_rc END), 0) AS DECIMAL(28, 2)) AS over90
    FROM open_items
),
s AS (
    SELECT MAX(in_time_pct) AS in_time_pct, COALESCE(MAX(resolved), 0) AS resolved,
           COALESCE(MAX(resolved_in_time), 0) AS resolved_in_time, COALESCE(MAX(open_past_deadline), 0) AS past
    FROM dispute_sla WHERE dimension = 'all'
),
p AS (
    SELECT MAX(keeping_rate_pct) AS rate, COALESCE(MAX(kept), 0) AS kept, COALESCE(MAX(broken), 0) AS broken
    FROM promise_metrics WHERE collector_id = 'all'
),
b AS (
    SELECT SUM(CAST(amount_rc AS DOUBLE) * days_late) / NULLIF(SUM(CAST(amount_rc AS DOUBLE)), 0) AS wadl,
           AVG(CAST(days_to_settle AS DOUBLE)) AS avg_days_to_settle,
           CAST(SUM(CASE WHEN paid_late THEN 1 ELSE 0 END) AS DOUBLE) / CAST(NULLIF(COUNT(*), 0) AS DOUBLE) * 100 AS late_pct,
           COUNT(*) AS settled
    FROM settled_documents
    WHERE settled_by <> 'credit_note'
),
basis AS (
    SELECT 'AR ' || CAST(CAST(m.ar_end AS DECIMAL(28, 2)) AS VARCHAR) || ' / sales ' || CAST(w.s3 AS VARCHAR)
               || ' of ' || w.first_month || '..' || w.last_month || ' × ' || CAST(w.d3 AS VARCHAR) || ' days' AS dso,
           'current AR ' || CAST(CAST(m.ar_end_current AS DECIMAL(28, 2)) AS VARCHAR) || ' / sales ' || CAST(w.s3 AS VARCHAR)
               || ' × ' || CAST(w.d3 AS VARCHAR) || ' days' AS bpdso,
           'past-due AR ' || CAST(CAST(m.ar_end - m.ar_end_current AS DECIMAL(28, 2)) AS VARCHAR) || ' / sales '
               || CAST(w.s3 AS VARCHAR) || ' × ' || CAST(w.d3 AS VARCHAR) || ' days' AS past_due,
           'disputed AR ' || CAST(CAST(m.ar_end_disputed AS DECIMAL(28, 2)) AS VARCHAR) || ' / sales ' || CAST(w.s3 AS VARCHAR)
               || ' × ' || CAST(w.d3 AS VARCHAR) || ' days' AS disputed,
           'BR ' || CAST(CAST(m.ar_begin AS DECIMAL(28, 2)) AS VARCHAR) || ', S ' || CAST(CAST(m.credit_sales AS DECIMAL(28, 2)) AS VARCHAR)
               || ', ETR ' || CAST(CAST(m.ar_end AS DECIMAL(28, 2)) AS VARCHAR) || ', ECR '
               || CAST(CAST(m.ar_end_current AS DECIMAL(28, 2)) AS VARCHAR) || ' (' || m.month
               || CASE WHEN m.is_partial THEN ', month to date)' ELSE ')' END AS cei,
           CASE WHEN m.countback_history_exhausted THEN 'AR ' || CAST(CAST(m.ar_end AS DECIMAL(28, 2)) AS VARCHAR)
                     || ' exceeds all sales on record: history exhausted'
                ELSE 'AR ' || CAST(CAST(m.ar_end AS DECIMAL(28, 2)) AS VARCHAR) || ' walked back over monthly sales from '
                     || m.month END AS countback,
           m.dso_standard_3m, m.dso_countback, m.bpdso_3m, m.add_3m, m.dso_disputed_3m, m.cei_pct
    FROM m CROSS JOIN w
),
kpis AS (
    SELECT 1 AS ord, 'dso' AS metric, 'Standard DSO (3 months)' AS name, dso_standard_3m AS value, 'days' AS unit,
           'AR at the as-of date / credit sales of the last 3 calendar months × the days of those months' AS definition,
           dso AS basis
    FROM basis
    UNION ALL
    SELECT 2, 'dso_countback', 'Countback DSO', dso_countback, 'days',
           'the days of sales, walking back month by month from the as-of month, that add up to AR', countback
    FROM basis
    UNION ALL
    SELECT 3, 'bpdso', 'Best possible DSO (3 months)', bpdso_3m, 'days',
           'current (not yet due) AR / credit sales of the last 3 months × their days', bpdso
    FROM basis
    UNION ALL
    SELECT 4, 'add', 'Average days delinquent', add_3m, 'days', 'DSO − BPDSO: the days that past-due AR adds', past_due
    FROM basis
    UNION ALL
    SELECT 5, 'cei', 'Collection effectiveness index', cei_pct, '%',
           '(BR + S − ETR) / (BR + S − ECR) × 100 for the as-of month: the share of what could be collected that was',
           cei
    FROM basis
    UNION ALL
    SELECT 6, 'current_pct', 'AR current', CAST(cur AS DOUBLE) / CAST(NULLIF(total, 0) AS DOUBLE) * 100, '%',
           'open balance not yet past due (due date ≥ as-of date) / total open balance',
           CAST(cur AS VARCHAR) || ' of ' || CAST(total AS VARCHAR)
    FROM a
    UNION ALL
    SELECT 7, 'over_90_pct', 'AR over 90 days past due', CAST(over90 AS DOUBLE) / CAST(NULLIF(total, 0) AS DOUBLE) * 100, '%',
           'open balance more than 90 days past due / total open balance',
           CAST(over90 AS VARCHAR) || ' of ' || CAST(total AS VARCHAR)
    FROM a
    UNION ALL
    SELECT 8, 'dso_disputed', 'Disputed DSO (3 months)', dso_disputed_3m, 'days',
           'AR in an open dispute (or flagged disputed by the ERP) / credit sales of the last 3 months × their days',
           disputed
    FROM basis
    UNION ALL
    SELECT 9, 'dispute_sla_pct', 'Disputes resolved in time', in_time_pct, '%',
           'disputes resolved by their deadline / disputes resolved (goal ≥ 80 %)',
           CAST(resolved_in_time AS VARCHAR) || ' of ' || CAST(resolved AS VARCHAR) || ' resolved in time; '
               || CAST(past AS VARCHAR) || ' open past their deadline'
    FROM s
    UNION ALL
    SELECT 10, 'promise_keeping_pct', 'Promises kept', rate, '%', 'promises kept / promises come due (kept + broken)',
           CAST(kept AS VARCHAR) || ' kept, ' || CAST(broken AS VARCHAR) || ' broken'
    FROM p
    UNION ALL
    SELECT 11, 'wadl', 'Amount-weighted days late', wadl, 'days',
           'Σ amount × days late / Σ amount over the invoices settled by payment',
           CAST(settled AS VARCHAR) || ' settled invoices'
    FROM b
    UNION ALL
    SELECT 12, 'paid_late_pct', 'Invoices paid late', late_pct, '%',
           'invoices settled after their due date / invoices settled by payment',
           CAST(settled AS VARCHAR) || ' settled invoices'
    FROM b
)
SELECT metric, name, CAST(round(value, 2) AS DECIMAL(18, 2)) AS value, unit, definition, basis
FROM kpis
ORDER BY ord
