-- customer_behaviour: how each customer pays and what it owes, at the as-of date (DESIGN §5), the input of the
-- segment rules (data/strategies/segments.toml) and of the work queue.
-- Payment behaviour covers the trailing 12 months: receivables settled by payment (not only cancelled by credit
-- notes, see settled_documents) with settled_date in ({{window_start}}, as-of].
--   share_paid_late = paid late / settled (by count); share_paid_late_amount the same by amount; wadl =
--   amount-weighted days late = Σ amount_rc × days_late / Σ amount_rc; p90_days_late = the nearest-rank 90th
--   percentile (the smallest days_late with at least 90 % of the settled invoices at or below it).
--   Trend: the last 3 months (settled after {{trend_start}}) against the 9 months before;
--   trend_days_late = avg_days_late_3m − avg_days_late_prev_9m, and trend says `worsening` above +5 days,
--   `improving` below −5, `stable` otherwise (NULL when either side has nothing settled).
-- Disputes: dispute_share = receivables issued in the window that were disputed (a dispute record opened by the
-- as-of date, or the ERP flag) / receivables issued in the window.
-- broken_promises_90d = promises that became broken in the 90 days up to the as-of date (broken_after in
-- ({{days_90_before}}, as-of)).
-- What it owes now (open_items): open and past-due balance, oldest_days_past_due = the largest days past due of
-- an open item, 0 when none is past due; exposure_ratio = open_balance_rc / credit_limit_rc, the limit converted at
-- the as-of rate (NULL without a limit).
-- Customers with nothing settled have NULL averages, not 0.
WITH paid AS (
    SELECT customer_id, document_id, amount_rc, CAST(amount_rc AS DOUBLE) AS w, days_late, days_to_settle,
           paid_late, settled_date, settled_date > {{trend_start}} AS recent
    FROM settled_documents
    WHERE settled_by <> 'credit_note' AND settled_date > {{window_start}}
),
ranked AS (
    -- p90 by nearest rank: the ceil(0.9 × n)-th smallest days late, found in the same pass as the other figures
    -- (a second read of `paid` would compute settled_documents again).
    SELECT *,
           ROW_NUMBER() OVER (PARTITION BY customer_id ORDER BY days_late, document_id) AS rn,
           COUNT(*) OVER (PARTITION BY customer_id) AS n
    FROM paid
),
per AS (
    SELECT customer_id,
           CAST(COUNT(*) AS BIGINT) AS settled_count,
           CAST(SUM(CASE WHEN paid_late THEN 1 ELSE 0 END) AS BIGINT) AS paid_late_count,
           CAST(SUM(amount_rc) AS DECIMAL(28, 4)) AS settled_amount_rc,
           CAST(SUM(CASE WHEN paid_late THEN amount_rc ELSE 0 END) AS DECIMAL(28, 4)) AS paid_late_amount_rc,
           AVG(CAST(days_to_settle AS DOUBLE)) AS avg_days_to_settle,
           AVG(CAST(days_late AS DOUBLE)) AS avg_days_late,
           SUM(w) AS weight,
           SUM(w * days_late) AS weighted_late,
           SUM(w * days_to_settle) AS weighted_settle,
           MAX(days_late) AS max_days_late,
           MAX(settled_date) AS last_settled_date,
           AVG(CASE WHEN recent THEN CAST(days_late AS DOUBLE) END) AS avg_days_late_3m,
           AVG(CASE WHEN NOT recent THEN CAST(days_late AS DOUBLE) END) AS avg_days_late_prev_9m,
           CAST(SUM(CASE WHEN recent THEN 1 ELSE 0 END) AS BIGINT) AS settled_count_3m,
           MIN(CASE WHEN rn * 10 >= n * 9 THEN days_late END) AS p90_days_late
    FROM ranked
    GROUP BY customer_id
),
disputed_docs AS (
    SELECT DISTINCT document_id FROM disputes WHERE opened_date <= {{as_of}}
),
issued AS (
    SELECT d.customer_id,
           CAST(COUNT(*) AS BIGINT) AS issued_count,
           CAST(SUM(CASE WHEN x.document_id IS NOT NULL OR COALESCE(d.disputed, false) THEN 1 ELSE 0 END) AS BIGINT)
               AS disputed_count
    FROM documents d
    LEFT JOIN disputed_docs x ON x.document_id = d.document_id
    WHERE d.kind <> 'credit_note' AND d.issue_date > {{window_start}} AND d.issue_date <= {{as_of}}
    GROUP BY d.customer_id
),
broken AS (
    SELECT customer_id, CAST(COUNT(*) AS BIGINT) AS broken_promises_90d, MAX(broken_after) AS last_broken_after
    FROM promise_outcomes
    WHERE status = 'broken' AND broken_after > {{days_90_before}}
    GROUP BY customer_id
),
owed AS (
    SELECT customer_id,
           CAST(COUNT(*) AS BIGINT) AS open_count,
           CAST(SUM(balance_rc) AS DECIMAL(28, 4)) AS open_balance_rc,
           CAST(SUM(CASE WHEN days_past_due > 0 THEN balance_rc ELSE 0 END) AS DECIMAL(28, 4)) AS past_due_balance_rc,
           MAX(days_past_due) AS max_days_past_due
    FROM open_items
    GROUP BY customer_id
),
limits AS (
    SELECT c.customer_id,
           CAST(round_half_even(CASE WHEN c.currency = {{reporting_currency}}
                                     THEN CAST(c.credit_limit AS DECIMAL(38, 14))
                                     ELSE c.credit_limit * f.rate_to_reporting END, 2) AS DECIMAL(18, 4))
               AS credit_limit_rc
    FROM customers c
    LEFT JOIN fx_daily f ON f.currency = c.currency AND f.date = {{as_of}}
    WHERE c.credit_limit IS NOT NULL AND c.credit_limit > 0
)
SELECT c.customer_id, c.name, c.currency, c.collector_id, c.account_group, COALESCE(c.vip, false) AS vip,
       COALESCE(p.settled_count, 0) AS settled_count,
       COALESCE(p.paid_late_count, 0) AS paid_late_count,
       CAST(p.paid_late_count AS DOUBLE) / CAST(p.settled_count AS DOUBLE) AS share_paid_late,
       CASE WHEN p.settled_amount_rc > 0
            THEN CAST(p.paid_late_amount_rc AS DOUBLE) / CAST(p.settled_amount_rc AS DOUBLE) END AS share_paid_late_amount,
       p.settled_amount_rc, p.paid_late_amount_rc,
       p.avg_days_to_settle,
       CASE WHEN p.weight > 0 THEN p.weighted_settle / p.weight END AS weighted_days_to_settle,
       p.avg_days_late,
       CASE WHEN p.weight > 0 THEN p.weighted_late / p.weight END AS wadl,
       p.p90_days_late,
       p.max_days_late,
       p.last_settled_date,
       COALESCE(p.settled_count_3m, 0) AS settled_count_3m,
       p.avg_days_late_3m,
       p.avg_days_late_prev_9m,
       p.avg_days_late_3m - p.avg_days_late_prev_9m AS trend_days_late,
       CASE WHEN p.avg_days_late_3m IS NULL OR p.avg_days_late_prev_9m IS NULL THEN NULL
            WHEN p.avg_days_late_3m - p.avg_days_late_prev_9m > 5 THEN 'worsening'
            WHEN p.avg_days_late_3m - p.avg_days_late_prev_9m < -5 THEN 'improving'
            ELSE 'stable' END AS trend,
       COALESCE(i.issued_count, 0) AS issued_count,
       COALESCE(i.disputed_count, 0) AS disputed_count,
       CASE WHEN i.issued_count > 0 THEN CAST(i.disputed_count AS DOUBLE) / CAST(i.issued_count AS DOUBLE) END
           AS dispute_share,
       COALESCE(b.broken_promises_90d, 0) AS broken_promises_90d,
       b.last_broken_after,
       COALESCE(o.open_count, 0) AS open_count,
       COALESCE(o.open_balance_rc, CAST(0 AS DECIMAL(28, 4))) AS open_balance_rc,
       COALESCE(o.past_due_balance_rc, CAST(0 AS DECIMAL(28, 4))) AS past_due_balance_rc,
       o.max_days_past_due,
       COALESCE(GREATEST(o.max_days_past_due, 0), 0) AS oldest_days_past_due,
       c.credit_limit,
       l.credit_limit_rc,
       CASE WHEN l.credit_limit_rc > 0
            THEN CAST(COALESCE(o.open_balance_rc, 0) AS DOUBLE) / CAST(l.credit_limit_rc AS DOUBLE) END AS exposure_ratio
FROM customers c
LEFT JOIN per p ON p.customer_id = c.customer_id
LEFT JOIN issued i ON i.customer_id = c.customer_id
LEFT JOIN broken b ON b.customer_id = c.customer_id
LEFT JOIN owed o ON o.customer_id = c.customer_id
LEFT JOIN limits l ON l.customer_id = c.customer_id
