-- customer_behaviour: how each customer pays (DESIGN §4, "Days late"), from the documents it settled by payment
-- on or before the as-of date (settled_documents without the ones only cancelled by credit notes), plus what it
-- owes at the as-of date (open_items).
-- share_paid_late = paid late / settled (by count), share_paid_late_amount the same by amount; wadl =
-- amount-weighted days late = Σ amount_rc × days_late / Σ amount_rc; weighted_days_to_settle likewise.
-- Customers with nothing settled have NULL averages, not 0.
WITH paid AS (
    SELECT customer_id, amount_rc, CAST(amount_rc AS DOUBLE) AS w, days_late, days_to_settle, paid_late, settled_date
    FROM settled_documents
    WHERE settled_by <> 'credit_note'
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
           MAX(settled_date) AS last_settled_date
    FROM paid
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
)
SELECT c.customer_id, c.name, c.currency, c.collector_id,
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
       p.max_days_late,
       p.last_settled_date,
       COALESCE(o.open_count, 0) AS open_count,
       COALESCE(o.open_balance_rc, CAST(0 AS DECIMAL(28, 4))) AS open_balance_rc,
       COALESCE(o.past_due_balance_rc, CAST(0 AS DECIMAL(28, 4))) AS past_due_balance_rc,
       o.max_days_past_due
FROM customers c
LEFT JOIN per p ON p.customer_id = c.customer_id
LEFT JOIN owed o ON o.customer_id = c.customer_id
