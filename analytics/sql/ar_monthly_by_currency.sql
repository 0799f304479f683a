-- ar_monthly_by_currency: ar_monthly's flows and balances per month and document currency, both in the currency
-- itself and in the reporting currency (the *_rc columns), with the FX effect that ties them
-- (docs/metrics.md, "Multi-currency").
-- Flows convert at the rate of their own date (sales at issue_date, collections and credits at the allocation's
-- effective date), balances at the rate of the month end; each amount is rounded half-even to cents once.
-- An allocation takes effect on its applied_date, or on the document's issue_date if it was applied earlier.
WITH recv AS (
    SELECT document_id, currency, issue_date
    FROM documents
    WHERE kind <> 'credit_note' AND issue_date <= {{as_of}}
),
credit_notes AS (
    SELECT document_id FROM documents WHERE kind = 'credit_note'
),
sales AS (
    SELECT month_index(d.issue_date) AS month_idx, d.currency,
           SUM(d.amount) AS credit_sales,
           SUM(round_half_even(CASE WHEN d.currency = {{reporting_currency}} THEN CAST(d.amount AS DECIMAL(38, 14))
                                    ELSE d.amount * f.rate_to_reporting END, 2)) AS credit_sales_rc,
           SUM(CASE WHEN d.currency <> {{reporting_currency}} AND f.rate_to_reporting IS NULL THEN 1 ELSE 0 END)
               AS unconverted
    FROM documents d
    LEFT JOIN fx_daily f ON f.currency = d.currency AND f.date = d.issue_date
    WHERE d.kind <> 'credit_note' AND d.issue_date <= {{as_of}}
    GROUP BY month_index(d.issue_date), d.currency
),
applied_rows AS (
    SELECT GREATEST(a.applied_date, r.issue_date) AS effective_date, r.currency, a.amount,
           cn.document_id IS NOT NULL AS is_credit
    FROM allocations a
    JOIN recv r ON r.document_id = a.document_id
    LEFT JOIN credit_notes cn ON cn.document_id = a.source_id
    WHERE a.applied_date <= {{as_of}}
),
applied AS (
    SELECT month_index(x.effective_date) AS month_idx, x.currency,
           SUM(CASE WHEN NOT x.is_credit THEN x.amount END) AS collections,
           SUM(CASE WHEN x.is_credit THEN x.amount END) AS credits,
           SUM(CASE WHEN NOT x.is_credit THEN x.amount_rc END) AS collections_rc,
           SUM(CASE WHEN x.is_credit THEN x.amount_rc END) AS credits_rc,
           SUM(CASE WHEN x.amount_rc IS NULL THEN 1 ELSE 0 END) AS unconverted
    FROM (
        SELECT y.effective_date, y.currency, y.amount, y.is_credit,
               round_half_even(CASE WHEN y.currency = {{reporting_currency}} THEN CAST(y.amount AS DECIMAL(38, 14))
                                    ELSE y.amount * f.rate_to_reporting END, 2) AS amount_rc
        FROM applied_rows y
        LEFT JOIN fx_daily f ON f.currency = y.currency AND f.date = y.effective_date
    ) x
    GROUP BY month_index(x.effective_date), x.currency
),
balances AS (
    SELECT month_idx, currency,
           SUM(balance) AS ar_end,
           SUM(CASE WHEN is_current THEN balance END) AS ar_end_current,
           SUM(CASE WHEN is_disputed THEN balance END) AS ar_end_disputed,
           SUM(balance_rc) AS ar_end_rc,
           SUM(CASE WHEN is_current THEN balance_rc END) AS ar_end_current_rc,
           SUM(CASE WHEN is_disputed THEN balance_rc END) AS ar_end_disputed_rc,
           SUM(CASE WHEN is_current AND NOT is_disputed THEN balance_rc END) AS ar_end_current_undisputed_rc,
           SUM(CASE WHEN NOT is_current AND NOT is_disputed THEN balance_rc END) AS ar_end_past_due_undisputed_rc,
           SUM(CASE WHEN balance_rc IS NULL THEN 1 ELSE 0 END) AS unconverted
    FROM ar_document_months
    GROUP BY month_idx, currency
),
currencies AS (
    SELECT DISTINCT currency FROM recv
),
grid AS (
    SELECT m.month_idx, m.month, m.month_end, m.days_in_month, m.is_partial, c.currency
    FROM ledger_months m
    CROSS JOIN currencies c
),
joined AS (
    SELECT g.month_idx, g.month, g.month_end, g.days_in_month, g.is_partial, g.currency,
           CAST(COALESCE(s.credit_sales, 0) AS DECIMAL(28, 4)) AS credit_sales,
           CAST(COALESCE(a.collections, 0) AS DECIMAL(28, 4)) AS collections,
           CAST(COALESCE(a.credits, 0) AS DECIMAL(28, 4)) AS credits,
           CAST(COALESCE(b.ar_end, 0) AS DECIMAL(28, 4)) AS ar_end,
           CAST(COALESCE(b.ar_end_current, 0) AS DECIMAL(28, 4)) AS ar_end_current,
           CAST(COALESCE(b.ar_end_disputed, 0) AS DECIMAL(28, 4)) AS ar_end_disputed,
           CAST(COALESCE(s.credit_sales_rc, 0) AS DECIMAL(28, 4)) AS credit_sales_rc,
           CAST(COALESCE(a.collections_rc, 0) AS DECIMAL(28, 4)) AS collections_rc,
           CAST(COALESCE(a.credits_rc, 0) AS DECIMAL(28, 4)) AS credits_rc,
           CAST(COALESCE(b.ar_end_rc, 0) AS DECIMAL(28, 4)) AS ar_end_rc,
           CAST(COALESCE(b.ar_end_current_rc, 0) AS DECIMAL(28, 4)) AS ar_end_current_rc,
           CAST(COALESCE(b.ar_end_disputed_rc, 0) AS DECIMAL(28, 4)) AS ar_end_disputed_rc,
           CAST(COALESCE(b.ar_end_current_undisputed_rc, 0) AS DECIMAL(28, 4)) AS ar_end_current_undisputed_rc,
           CAST(COALESCE(b.ar_end_past_due_undisputed_rc, 0) AS DECIMAL(28, 4)) AS ar_end_past_due_undisputed_rc,
           CAST(COALESCE(s.unconverted, 0) + COALESCE(a.unconverted, 0) + COALESCE(b.unconverted, 0) AS BIGINT)
               AS unconverted_items
    FROM grid g
    LEFT JOIN sales s ON s.month_idx = g.month_idx AND s.currency = g.currency
    LEFT JOIN applied a ON a.month_idx = g.month_idx AND a.currency = g.currency
    LEFT JOIN balances b ON b.month_idx = g.month_idx AND b.currency = g.currency
),
rolled AS (
    SELECT j.*,
           COALESCE(LAG(ar_end) OVER (PARTITION BY currency ORDER BY month_idx), CAST(0 AS DECIMAL(28, 4))) AS ar_begin,
           COALESCE(LAG(ar_end_rc) OVER (PARTITION BY currency ORDER BY month_idx), CAST(0 AS DECIMAL(28, 4)))
               AS ar_begin_rc
    FROM joined j
)
SELECT month, month_end, days_in_month, is_partial, currency,
       credit_sales, collections, credits, ar_begin, ar_end, ar_end_current,
       CAST(ar_end - ar_end_current AS DECIMAL(28, 4)) AS ar_end_past_due,
       ar_end_disputed,
       credit_sales_rc, collections_rc, credits_rc, ar_begin_rc, ar_end_rc, ar_end_current_rc,
       CAST(ar_end_rc - ar_end_current_rc AS DECIMAL(28, 4)) AS ar_end_past_due_rc,
       ar_end_disputed_rc, ar_end_current_undisputed_rc, ar_end_past_due_undisputed_rc,
       CAST(ar_end_rc - ar_begin_rc - credit_sales_rc + collections_rc + credits_rc AS DECIMAL(28, 4)) AS fx_effect_rc,
       unconverted_items,
       month_idx
FROM rolled
ORDER BY currency, month_idx
