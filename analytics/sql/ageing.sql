-- ageing: the open receivables at the end of the as-of date by customer and days-past-due bucket (DESIGN §4, §8):
-- one row per customer × bucket × currency with at least one open document. balance is in the documents' currency,
-- balance_rc in the reporting currency (the sum of open_items' per-row conversions at the as-of rate). The bucket
-- edges are the session's (default current, 1-30, 31-60, 61-90, 91-120, 120+); bucket_order sorts them.
SELECT customer_id,
       {{bucket_case_dpd}} AS bucket,
       CAST(COUNT(*) AS BIGINT) AS open_count,
       CAST(SUM(balance) AS DECIMAL(28, 4)) AS balance,
       CAST(SUM(balance_rc) AS DECIMAL(28, 4)) AS balance_rc,
       currency,
       {{bucket_order_dpd}} AS bucket_order
FROM open_items
GROUP BY customer_id, {{bucket_case_dpd}}, {{bucket_order_dpd}}, currency
