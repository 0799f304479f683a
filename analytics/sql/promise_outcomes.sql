-- promise_outcomes: one row per promise to pay made on or before the as-of date (DESIGN §2.2, §4).
-- A promise is kept when payments (not credit notes) applied to its documents between the day it was made and
-- promised_date + grace_days cover the promised amount (each document's cover is capped at what was promised on
-- it); it is broken when that day has passed without it; otherwise it is pending.
-- The store's own `state` only removes promises: one the store closed as cancelled or superseded (by a later
-- outcome on its documents) on or before the as-of date is not a promise at all and has no row. A NULL state
-- (imported), pending, kept or broken stay, and the ledger decides kept or broken as above. A promise cancelled or
-- superseded after the as-of date was still live at it (closed_date > as-of), so it keeps its row when a session
-- replays an earlier date.
WITH credit_notes AS (
    SELECT document_id FROM documents WHERE kind = 'credit_note'
),
p AS (
    SELECT promise_id, document_id, customer_id, collector_id, made_date, promised_date, grace_days, currency, amount,
           CAST(CAST(promised_date AS INT) + grace_days AS DATE) AS broken_after
    FROM promises
    WHERE made_date <= {{as_of}}
      AND NOT (COALESCE(state, '') IN ('cancelled', 'superseded') AND COALESCE(closed_date, {{as_of}}) <= {{as_of}})
),
rows_paid AS (
    SELECT p.promise_id, p.document_id, p.amount,
           COALESCE(SUM(CASE WHEN cn.document_id IS NULL AND a.applied_date >= p.made_date
                                  AND a.applied_date <= p.broken_after AND a.applied_date <= {{as_of}}
                             THEN a.amount END), CAST(0 AS DECIMAL(18, 4))) AS paid
    FROM p
    LEFT JOIN allocations a ON a.document_id = p.document_id
    LEFT JOIN credit_notes cn ON cn.document_id = a.source_id
    GROUP BY p.promise_id, p.document_id, p.amount
),
per AS (
    SELECT promise_id,
           CAST(SUM(amount) AS DECIMAL(28, 4)) AS amount,
           CAST(SUM(LEAST(paid, amount)) AS DECIMAL(28, 4)) AS kept_amount,
           CAST(COUNT(*) AS BIGINT) AS documents
    FROM rows_paid
    GROUP BY promise_id
),
head AS (
    SELECT promise_id, MIN(customer_id) AS customer_id, MIN(collector_id) AS collector_id,
           MIN(made_date) AS made_date, MIN(promised_date) AS promised_date, MIN(grace_days) AS grace_days,
           MIN(broken_after) AS broken_after, MIN(currency) AS currency
    FROM p
    GROUP BY promise_id
)
SELECT h.promise_id, h.customer_id, h.collector_id, h.made_date, h.promised_date, h.grace_days, h.broken_after,
       h.currency, x.amount, x.kept_amount, x.documents,
       CASE WHEN x.kept_amount >= x.amount THEN 'kept'
            WHEN {{as_of}} > h.broken_after THEN 'broken'
            ELSE 'pending' END AS status
FROM head h
JOIN per x ON x.promise_id = h.promise_id
