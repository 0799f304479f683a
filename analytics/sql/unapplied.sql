-- unapplied: payments and credit notes not fully applied at the end of the as-of date. They are part of the
-- customer's net position and are shown, never silently netted into an invoice (DESIGN §2.1).
WITH used AS (
    SELECT source_id, SUM(amount) AS used
    FROM allocations
    WHERE applied_date <= {{as_of}}
    GROUP BY source_id
),
sources AS (
    SELECT payment_id AS source_id, 'payment' AS source_kind, customer_id, received_date AS source_date,
           currency, amount
    FROM payments
    WHERE received_date <= {{as_of}}
    UNION ALL
    SELECT document_id, 'credit_note', customer_id, issue_date, currency, amount
    FROM documents
    WHERE kind = 'credit_note' AND issue_date <= {{as_of}}
)
SELECT s.source_id, s.source_kind, s.customer_id, s.source_date, s.currency, s.amount,
       CAST(s.amount - COALESCE(u.used, CAST(0 AS DECIMAL(18, 4))) AS DECIMAL(18, 4)) AS unapplied
FROM sources s
LEFT JOIN used u ON u.source_id = s.source_id
WHERE s.amount - COALESCE(u.used, CAST(0 AS DECIMAL(18, 4))) > 0
ORDER BY s.source_id
