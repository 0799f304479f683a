-- backtest: one month of the pay-date back-test (`cobro backtest`), rendered with {{as_of}} = a past month end. Every
-- view reads only what was effective by the month end, so the predictions use only what was known then (bitemporal
-- caveat: an allocation keyed in late with an earlier applied_date is treated as known on that date).
-- `actual_settlement` is the snapshot's own settled_documents (document_id, settled_date, settled_by), computed once
-- at the snapshot's date and registered into each month's session.
-- For each receivable open at the month end: its predicted_date (predicted_payments), the baseline "pays on the due
-- date" (clamped like the model to the day after the month end, so the two differ only by the offset), and what
-- happened by the snapshot's date: outcome 'paid' (balance reached 0 with at least one payment; actual_date = the
-- day it did), 'credited' (cancelled by credit notes only) or 'open'. Errors are absolute days, for paid documents.
WITH scored AS (
    SELECT p.document_id, p.customer_id, p.segment, p.offset_source, p.due_date, p.predicted_date,
           GREATEST(p.due_date, CAST(CAST({{as_of}} AS INT) + 1 AS DATE)) AS baseline_date,
           CASE WHEN a.settled_by IS NULL THEN 'open'
                WHEN a.settled_by = 'credit_note' THEN 'credited'
                ELSE 'paid' END AS outcome,
           CASE WHEN a.settled_by <> 'credit_note' THEN a.settled_date END AS actual_date
    FROM predicted_payments p
    LEFT JOIN actual_settlement a ON a.document_id = p.document_id
)
SELECT {{as_of}} AS month_end, document_id, customer_id, segment, offset_source, due_date, predicted_date,
       baseline_date, outcome, actual_date,
       abs(CAST(actual_date - predicted_date AS INT)) AS error_days,
       abs(CAST(actual_date - baseline_date AS INT)) AS baseline_error_days
FROM scored
