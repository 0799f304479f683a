-- ar_document_months: one row per receivable (invoice or debit note) per month end at which it is open: the
-- building block of ar_monthly (docs/metrics.md, "AR at a month end"; decision 0007).
-- balance at E = amount − Σ allocations applied on or before E; open at the end of E iff issue_date ≤ E and
-- balance > 0 (DESIGN §2.1). A document's balance only changes in months with an allocation, so each document is
-- cut into segments of constant balance (from its issue month, then from each month with allocations) and each
-- open segment is expanded to the month ends it covers.
-- balance_rc converts at the rate of the month end (or the latest earlier one), rounded half-even to cents, once
-- per row; NULL when no rate is known yet. is_current: due_date ≥ month end. is_disputed: in a dispute open at
-- the month end, or, for a document with no dispute record, flagged disputed by the ERP.
WITH recv AS (
    SELECT document_id, customer_id, currency, amount, issue_date, due_date,
           COALESCE(disputed, false) AS erp_disputed, month_index(issue_date) AS issue_idx
    FROM documents
    WHERE kind <> 'credit_note' AND issue_date <= {{as_of}}
),
alloc_months AS (
    SELECT document_id, month_index(applied_date) AS month_idx, SUM(amount) AS applied
    FROM allocations
    WHERE applied_date <= {{as_of}}
    GROUP BY document_id, month_index(applied_date)
),
per_doc AS (
    SELECT document_id, COUNT(*) AS n_months, MIN(month_idx) AS first_idx, SUM(applied) AS applied
    FROM alloc_months
    GROUP BY document_id
),
-- Most documents have allocations in at most one month: their segments need no window (no sort by document).
-- (GREATEST ignores NULLs in DataFusion, hence the CASE for documents with no allocation.)
simple AS (
    SELECT r.document_id, r.customer_id, r.currency, r.issue_date, r.due_date, r.erp_disputed, r.amount,
           r.issue_idx, CASE WHEN p.first_idx IS NOT NULL THEN GREATEST(p.first_idx, r.issue_idx) END AS applied_idx,
           p.applied
    FROM recv r
    LEFT JOIN per_doc p ON p.document_id = r.document_id
    WHERE COALESCE(p.n_months, 0) <= 1
),
simple_segments AS (
    SELECT document_id, customer_id, currency, issue_date, due_date, erp_disputed,
           issue_idx AS from_idx, COALESCE(applied_idx, month_index({{as_of}}) + 1) AS to_idx, amount AS seg_balance
    FROM simple
    UNION ALL
    SELECT document_id, customer_id, currency, issue_date, due_date, erp_disputed,
           applied_idx AS from_idx, month_index({{as_of}}) + 1 AS to_idx, amount - applied AS seg_balance
    FROM simple
    WHERE applied_idx IS NOT NULL
),
-- Documents with allocations in several months: one segment from the issue month, then one from each month
-- with allocations, with the running balance.
multi_events AS (
    SELECT a.document_id, a.month_idx, a.applied
    FROM alloc_months a
    JOIN per_doc p ON p.document_id = a.document_id
    WHERE p.n_months > 1
    UNION ALL
    SELECT r.document_id, r.issue_idx AS month_idx, CAST(0 AS DECIMAL(28, 4)) AS applied
    FROM recv r
    JOIN per_doc p ON p.document_id = r.document_id
    WHERE p.n_months > 1
),
events AS (
    SELECT document_id, month_idx, SUM(applied) AS applied
    FROM multi_events
    GROUP BY document_id, month_idx
),
multi_segments AS (
    SELECT r.document_id, r.customer_id, r.currency, r.issue_date, r.due_date, r.erp_disputed,
           GREATEST(e.month_idx, r.issue_idx) AS from_idx,
           COALESCE(LEAD(e.month_idx) OVER (PARTITION BY e.document_id ORDER BY e.month_idx),
                    month_index({{as_of}}) + 1) AS to_idx,
           r.amount - SUM(e.applied) OVER (PARTITION BY e.document_id ORDER BY e.month_idx
                                           ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS seg_balance
    FROM events e
    JOIN recv r ON r.document_id = e.document_id
),
segments AS (
    SELECT document_id, customer_id, currency, issue_date, due_date, erp_disputed, from_idx, to_idx,
           CAST(seg_balance AS DECIMAL(28, 4)) AS seg_balance
    FROM simple_segments
    UNION ALL
    SELECT document_id, customer_id, currency, issue_date, due_date, erp_disputed, from_idx, to_idx,
           CAST(seg_balance AS DECIMAL(28, 4)) AS seg_balance
    FROM multi_segments
),
open_months AS (
    SELECT document_id, customer_id, currency, issue_date, due_date, erp_disputed,
           CAST(seg_balance AS DECIMAL(18, 4)) AS balance,
           unnest(range(from_idx, to_idx)) AS month_idx
    FROM segments
    WHERE seg_balance > 0 AND from_idx < to_idx
),
disputed_docs AS (
    SELECT DISTINCT document_id FROM disputes WHERE opened_date <= {{as_of}}
),
dispute_spans AS (
    SELECT document_id,
           unnest(range(month_index(opened_date),
                        CASE WHEN resolved_date <= {{as_of}} THEN month_index(resolved_date)
                             ELSE month_index({{as_of}}) + 1 END)) AS month_idx
    FROM disputes
    WHERE opened_date <= {{as_of}}
),
dispute_months AS (
    SELECT DISTINCT document_id, month_idx FROM dispute_spans
)
SELECT o.document_id, o.customer_id, o.currency, m.month, m.month_idx, m.month_end, o.issue_date, o.due_date,
       o.balance,
       CAST(round_half_even(CASE WHEN o.currency = {{reporting_currency}} THEN CAST(o.balance AS DECIMAL(38, 14))
                                 ELSE o.balance * r.rate_to_reporting END, 2) AS DECIMAL(18, 4)) AS balance_rc,
       CAST(m.month_end - o.due_date AS INT) AS days_past_due,
       o.due_date >= m.month_end AS is_current,
       CASE WHEN dd.document_id IS NULL THEN o.erp_disputed ELSE dm.document_id IS NOT NULL END AS is_disputed
FROM open_months o
JOIN ledger_months m ON m.month_idx = o.month_idx
LEFT JOIN fx_daily r ON r.currency = o.currency AND r.date = m.month_end
LEFT JOIN disputed_docs dd ON dd.document_id = o.document_id
LEFT JOIN dispute_months dm ON dm.document_id = o.document_id AND dm.month_idx = o.month_idx
