-- predicted_payments: the predicted pay date of every open receivable at the as-of date (DESIGN §5).
--   predicted_date = max(due_date + expected offset, as-of + 1): a document open at the end of the as-of date can
--   be paid the next day at the earliest.
--   expected offset (days, settled − due, negative for early payers) = the amount-weighted median pay_offset of the
--   customer's last 12 invoices settled by payment (by settled date, then document id) → offset_source 'customer';
--   a customer with none falls back to the weighted median over those invoices of every customer in its segment
--   → 'segment'; and then to 0 → 'default'.
--   Weighted median: sort by pay_offset; the smallest pay_offset whose cumulative weight reaches half the total
--   (amount_rc, exact decimals, so ties and order cannot change it).
WITH paid AS (
    SELECT customer_id, document_id, pay_offset, amount_rc,
           ROW_NUMBER() OVER (PARTITION BY customer_id ORDER BY settled_date DESC, document_id DESC) AS rn
    FROM settled_documents
    WHERE settled_by <> 'credit_note' AND amount_rc IS NOT NULL AND amount_rc > 0
),
recent AS (
    SELECT p.customer_id, s.segment, p.pay_offset, p.amount_rc
    FROM paid p
    JOIN segments s ON s.customer_id = p.customer_id
    WHERE p.rn <= 12
),
own_cum AS (
    SELECT customer_id, pay_offset,
           SUM(amount_rc) OVER (PARTITION BY customer_id ORDER BY pay_offset
                                RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS cum,
           SUM(amount_rc) OVER (PARTITION BY customer_id) AS total
    FROM recent
),
own AS (
    SELECT customer_id, MIN(pay_offset) AS offset_days
    FROM own_cum
    WHERE cum * 2 >= total
    GROUP BY customer_id
),
seg_cum AS (
    SELECT segment, pay_offset,
           SUM(amount_rc) OVER (PARTITION BY segment ORDER BY pay_offset
                                RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS cum,
           SUM(amount_rc) OVER (PARTITION BY segment) AS total
    FROM recent
),
seg AS (
    SELECT segment, MIN(pay_offset) AS offset_days
    FROM seg_cum
    WHERE cum * 2 >= total
    GROUP BY segment
),
expected AS (
    SELECT s.customer_id, s.segment,
           COALESCE(o.offset_days, g.offset_days, 0) AS offset_days,
           CASE WHEN o.offset_days IS NOT NULL THEN 'customer'
                WHEN g.offset_days IS NOT NULL THEN 'segment'
                ELSE 'default' END AS offset_source
    FROM segments s
    LEFT JOIN own o ON o.customer_id = s.customer_id
    LEFT JOIN seg g ON g.segment = s.segment
)
SELECT i.document_id, i.customer_id, i.issue_date, i.due_date, i.amount, i.balance, i.balance_rc, i.days_past_due,
       e.segment, e.offset_days, e.offset_source,
       GREATEST(CAST(CAST(i.due_date AS INT) + e.offset_days AS DATE), CAST(CAST({{as_of}} AS INT) + 1 AS DATE))
           AS predicted_date
FROM open_items i
JOIN expected e ON e.customer_id = i.customer_id
