-- ageing_by_issue_date: the same open receivables, bucketed by days since issue (as-of − issue_date, never
-- negative) with the same edges: 0-30, 31-60, 61-90, 91-120, 120+ by default.
SELECT customer_id,
       {{bucket_case_since_issue}} AS bucket,
       CAST(COUNT(*) AS BIGINT) AS open_count,
       CAST(SUM(balance) AS DECIMAL(28, 4)) AS balance,
       CAST(SUM(balance_rc) AS DECIMAL(28, 4)) AS balance_rc,
       currency,
       {{bucket_order_since_issue}} AS bucket_order
FROM (SELECT *, CAST({{as_of}} - issue_date AS INT) AS days_since_issue FROM open_items) o
GROUP BY customer_id, {{bucket_case_since_issue}}, {{bucket_order_since_issue}}, currency
