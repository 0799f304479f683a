-- settled_documents: every receivable (invoice or debit note) whose balance reached 0 on or before the as-of date,
-- with when and how it was settled (DESIGN §4, "Days late").
-- settled_date = the day the balance reached 0 (the latest allocation's effective date); days_to_settle = settled −
-- issue; pay_offset = settled − due (negative when paid early); days_late = max(0, pay_offset); settled_by = payment, credit_note (cancelled, not paid) or mixed.
-- amount_rc converts the amount at the issue date's rate, as credit_sales does; it weights the averages.
WITH credit_notes AS (
    SELECT document_id FROM documents WHERE kind = 'credit_note'
),
applied AS (
    SELECT a.document_id,
           SUM(a.amount) AS applied,
           MAX(a.applied_date) AS last_applied,
           SUM(CASE WHEN cn.document_id IS NULL THEN a.amount END) AS by_payment,
           SUM(CASE WHEN cn.document_id IS NOT NULL THEN a.amount END) AS by_credit
    FROM allocations a
    LEFT JOIN credit_notes cn ON cn.document_id = a.source_id
    WHERE a.applied_date <= {{as_of}}
    GROUP BY a.document_id
),
settled AS (
    SELECT d.document_id, d.customer_id, d.kind, d.currency, d.amount, d.issue_date, d.due_date,
           GREATEST(p.last_applied, d.issue_date) AS settled_date,
           CASE WHEN p.by_credit IS NULL THEN 'payment' WHEN p.by_payment IS NULL THEN 'credit_note' ELSE 'mixed' END
               AS settled_by
    FROM documents d
    JOIN applied p ON p.document_id = d.document_id
    WHERE d.kind <> 'credit_note' AND d.issue_date <= {{as_of}} AND p.applied >= d.amount
)
SELECT s.document_id, s.customer_id, s.kind, s.currency, s.amount,
       CAST(round_half_even(CASE WHEN s.currency = {{reporting_currency}} THEN CAST(s.amount AS DECIMAL(38, 14))
                                 ELSE s.amount * f.rate_to_reporting END, 2) AS DECIMAL(18, 4)) AS amount_rc,
       s.issue_date, s.due_date, s.settled_date,
       CAST(s.settled_date - s.issue_date AS INT) AS days_to_settle,
       CAST(s.settled_date - s.due_date AS INT) AS pay_offset,
       GREATEST(CAST(s.settled_date - s.due_date AS INT), 0) AS days_late,
       s.settled_date > s.due_date AS paid_late,
       s.settled_by
FROM settled s
LEFT JOIN fx_daily f ON f.currency = s.currency AND f.date = s.issue_date
