-- open_items: one row per receivable document (invoice or debit note) open at the end of the as-of date.
-- balance at D = amount − Σ allocations applied on or before D; open iff issued on or before D and balance > 0
-- (DESIGN §2.1). A payment applied on D closes the document at the end of D. Credit notes and payments are not
-- receivables: what is left of them unapplied is in `unapplied`.
-- balance_rc converts with the rate of D or the latest earlier one, rounded half-even to cents; it is NULL when
-- no rate is known yet.
WITH applied AS (
    SELECT document_id, SUM(amount) AS applied
    FROM allocations
    WHERE applied_date <= {{as_of}}
    GROUP BY document_id
),
rates AS (
    SELECT currency, rate_to_reporting
    FROM (
        SELECT currency, rate_to_reporting,
               ROW_NUMBER() OVER (PARTITION BY currency ORDER BY date DESC) AS rn
        FROM fx_rates
        WHERE date <= {{as_of}}
    ) latest
    WHERE rn = 1
),
open_docs AS (
    SELECT d.document_id, d.customer_id, d.kind, d.issue_date, d.due_date, d.currency, d.amount,
           CAST(d.amount - COALESCE(a.applied, CAST(0 AS DECIMAL(18, 4))) AS DECIMAL(18, 4)) AS balance,
           CAST({{as_of}} - d.due_date AS INT) AS days_past_due,
           COALESCE(d.disputed, false) AS erp_disputed
    FROM documents d
    LEFT JOIN applied a ON a.document_id = d.document_id
    WHERE d.kind <> 'credit_note' AND d.issue_date <= {{as_of}}
)
SELECT o.document_id, o.customer_id, o.kind, o.issue_date, o.due_date, o.currency, o.amount, o.balance,
       CAST(round_half_even(CASE WHEN o.currency = {{reporting_currency}} THEN CAST(o.balance AS DECIMAL(38, 14))
                                 ELSE o.balance * r.rate_to_reporting END, 2) AS DECIMAL(18, 4)) AS balance_rc,
       o.days_past_due,
       {{bucket_case_dpd}} AS bucket,
       'normal' AS status,
       o.erp_disputed
FROM open_docs o
LEFT JOIN rates r ON r.currency = o.currency
WHERE o.balance > 0
ORDER BY o.document_id
