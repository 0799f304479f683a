-- ledger_months: one row per calendar month, from the month of the earliest document issued on or before the
-- as-of date to the as-of month (docs/metrics.md, "Months"). The as-of month ends on the as-of date: when that is
-- not the month's last day the row is month-to-date (is_partial = true, days_in_month = the days elapsed).
WITH bounds AS (
    SELECT month_index(MIN(issue_date)) AS first_idx, month_index({{as_of}}) AS last_idx
    FROM documents
    WHERE issue_date <= {{as_of}}
),
idx AS (
    SELECT unnest(range(first_idx, last_idx + 1)) AS month_idx
    FROM bounds
    WHERE first_idx IS NOT NULL
),
starts AS (
    SELECT month_idx,
           make_date(CAST(month_idx / 12 AS INT), CAST(month_idx % 12 + 1 AS INT), 1) AS month_start
    FROM idx
),
ends AS (
    SELECT month_idx, month_start,
           CAST(month_start + INTERVAL '1 month' - INTERVAL '1 day' AS DATE) AS calendar_end
    FROM starts
)
SELECT month_idx,
       to_char(month_start, '%Y-%m') AS month,
       month_start,
       LEAST(calendar_end, {{as_of}}) AS month_end,
       CAST(LEAST(calendar_end, {{as_of}}) - month_start AS INT) + 1 AS days_in_month,
       calendar_end > {{as_of}} AS is_partial
FROM ends
