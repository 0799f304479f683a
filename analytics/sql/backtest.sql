-- backtest: one month of the pay-date back-test (`cobro backtest`). Rendered with {{as_of}} = a past month end and
-- {{known_until}} = the snapshot's as-of date. Every view reads only what was effective by the month end, so the
-- predictions use only what was known then (bitemporal caveat: an allocation keyed in late with an earlier
-- applied_date is treated as known on that date).
-- For each receivable open at the month end: its predicted_date (predicted_payments), the baseline "pays on the due
-- date" (clamped like the model to the day after the month end, so the two differ only by the offset), and what
-- happened by {{known_until}}: outcome 'paid' (balance reached 0 with at least one payment; actual_date = the day
-- it did), 'credited' (cancelled by credit notes only) or 'open'. Errors are absolute days, for paid documents.
WITH credit_notes AS (
    SELECT document_id FROM documents WHERE kind = 'credit_note'
),
final AS (
    SELECT a.document_id,
           SUM(a.amount) AS applied,
           MAX(a.applied_date) AS last_applied,
           SUM(CASE WHEN cn.document_id IS NULL THEN a.amount END) AS by_payment
    FROM allocations a
    LEFT JOIN credit_notes cn ON cn.document_id = a.source_id
    WHERE a.applied_date <= {{known_until}}
    GROUP BY a.document_id
),
scored AS (
    SELECT p.document_id, p.customer_id, p.segment, p.offset_source, p.due_date, p.predicted_date,
           GREATEST(p.due_date, CAST(CAST({{as_of}} AS INT) + 1 AS DATE)) AS baseline_date,
           CASE WHEN f.applied >= p.amount AND f.by_payment IS NOT NULL THEN 'paid'
                WHEN f.applied >= p.amount THEN 'credited'
                ELSE 'open' END AS outcome,
           CASE WHEN f.applied >= p.amount AND f.by_payment IS NOT NULL THEN f.last_applied END AS actual_date
    FROM predicted_payments p
    LEFT JOIN final f ON f.document_id = p.document_id
)
SELECT {{as_of}} AS month_end, document_id, customer_id, segment, offset_source, due_date, predicted_date,
       baseline_date, outcome, actual_date,
       abs(CAST(actual_date - predicted_date AS INT)) AS error_days,
       abs(CAST(actual_date - baseline_date AS INT)) AS baseline_error_days
FROM scored
