-- alarm_broken_promises: the broken promises to pay that are still unpaid at the as-of date, for each collector's
-- daily alarm (seed 003, "promesas de pago incumplidas": call these customers first). One row per promise whose
-- status in promise_outcomes is broken (less than the promised amount was applied by broken_after =
-- promised_date + grace_days) and whose documents still owe something at the as-of date: open_balance = Σ balance
-- at the as-of date (open_items, in the promise's currency) of its documents, listed only when > 0. A broken promise
-- whose documents have been paid or credited since is not listed.
-- collector_id = the collector who obtained the promise, else the customer's; days_since_broken = as-of −
-- broken_after; open_documents = its documents still open, comma-separated.
WITH docs AS (
    SELECT p.promise_id,
           CAST(SUM(i.balance) AS DECIMAL(28, 4)) AS open_balance,
           string_agg(i.document_id, ',' ORDER BY i.document_id) AS open_documents
    FROM promises p
    JOIN open_items i ON i.document_id = p.document_id
    GROUP BY p.promise_id
)
SELECT COALESCE(o.collector_id, c.collector_id) AS collector_id, o.customer_id, o.promise_id, o.promised_date,
       o.broken_after, CAST({{as_of}} - o.broken_after AS INT) AS days_since_broken, o.currency, o.amount,
       o.kept_amount, x.open_balance, x.open_documents
FROM promise_outcomes o
JOIN docs x ON x.promise_id = o.promise_id
LEFT JOIN customers c ON c.customer_id = o.customer_id
WHERE o.status = 'broken' AND x.open_balance > 0
