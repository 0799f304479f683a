-- alarm_open_disputes: the documents in a dispute open at the as-of date, for the weekly alarms to each department
-- (its disputes to resolve) and to each collector (its customers' disputes, with who must resolve them) (seed 003,
-- "facturas en disputa"). One row per document of a dispute whose row is open at the as-of date: opened_date ≤
-- as-of and (resolved_date IS NULL or resolved_date > as-of); a dispute resolved after the as-of date was open at it.
-- collector_id = the dispute's, else the customer's. days_open = as-of − opened_date; past_deadline = as-of >
-- deadline_date, days_past_deadline = as-of − deadline_date when past it, else 0; escalated = escalated_date ≤ as-of.
SELECT d.dispute_id, d.document_id, d.customer_id, COALESCE(d.collector_id, c.collector_id) AS collector_id,
       d.dispute_type, d.department, d.owner, d.amount, d.currency, d.opened_date, d.deadline_date,
       CAST({{as_of}} - d.opened_date AS INT) AS days_open,
       CASE WHEN {{as_of}} > d.deadline_date THEN CAST({{as_of}} - d.deadline_date AS INT) ELSE 0 END AS days_past_deadline,
       {{as_of}} > d.deadline_date AS past_deadline,
       COALESCE(d.escalated_date <= {{as_of}}, false) AS escalated
FROM disputes d
LEFT JOIN customers c ON c.customer_id = d.customer_id
WHERE d.opened_date <= {{as_of}} AND (d.resolved_date IS NULL OR d.resolved_date > {{as_of}})
