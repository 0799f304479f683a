-- ar_monthly: one row per calendar month of the ledger (ledger_months), all money in the reporting currency
-- (DESIGN §4 and §8; every definition, with a worked example, is in docs/metrics.md).
-- S = credit_sales (invoices and debit notes issued in the month), AR = ar_end (open balance at the month end),
-- current = not yet past due at the month end (due_date ≥ month_end). Ratios are DOUBLE and unrounded.
-- Standard DSO N months = AR / Σ S × Σ d over the last N months; NULL with fewer than N months of history or
-- Σ S = 0. Countback walks back from the month, consuming whole months of sales until AR is used up; history is
-- exhausted when AR exceeds all the sales on record.
-- BPDSO = current AR / Σ S × Σ d; ADD = DSO − BPDSO; disputed DSO = disputed AR / Σ S × Σ d.
-- CEI = (BR + S − ETR) / (BR + S − ECR) × 100, BR = ar_begin, ETR = ar_end, ECR = ar_end_current; NULL when the
-- denominator is ≤ 0. fx_effect is the revaluation of foreign-currency balances, so that every month satisfies
-- ar_end = ar_begin + credit_sales − collections − credits + fx_effect.
WITH t AS (
    SELECT month_idx, month, month_end, days_in_month, is_partial,
           CAST(SUM(credit_sales_rc) AS DECIMAL(28, 4)) AS credit_sales,
           CAST(SUM(collections_rc) AS DECIMAL(28, 4)) AS collections,
           CAST(SUM(credits_rc) AS DECIMAL(28, 4)) AS credits,
           CAST(SUM(ar_begin_rc) AS DECIMAL(28, 4)) AS ar_begin,
           CAST(SUM(ar_end_rc) AS DECIMAL(28, 4)) AS ar_end,
           CAST(SUM(ar_end_current_rc) AS DECIMAL(28, 4)) AS ar_end_current,
           CAST(SUM(ar_end_disputed_rc) AS DECIMAL(28, 4)) AS ar_end_disputed,
           CAST(SUM(ar_end_current_undisputed_rc) AS DECIMAL(28, 4)) AS ar_end_current_undisputed,
           CAST(SUM(ar_end_past_due_undisputed_rc) AS DECIMAL(28, 4)) AS ar_end_past_due_undisputed,
           CAST(SUM(fx_effect_rc) AS DECIMAL(28, 4)) AS fx_effect,
           CAST(SUM(unconverted_items) AS BIGINT) AS unconverted_items
    FROM ar_monthly_by_currency
    GROUP BY month_idx, month, month_end, days_in_month, is_partial
),
w AS (
    SELECT t.*,
           SUM(credit_sales) OVER (ORDER BY month_idx ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) AS s3,
           SUM(days_in_month) OVER (ORDER BY month_idx ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) AS d3,
           COUNT(*) OVER (ORDER BY month_idx ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) AS n3,
           SUM(credit_sales) OVER (ORDER BY month_idx ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS s_cum,
           array_agg(credit_sales) OVER (ORDER BY month_idx ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS sales_so_far,
           array_agg(days_in_month) OVER (ORDER BY month_idx ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS days_so_far
    FROM t
),
-- Countback: walk back from the month over sales_so_far (oldest first): what is left of AR takes a whole month
-- while it covers the month's sales, then the covered fraction of the next, and stops (countback_dso, the same
-- walk as cobro_domain::metrics::countback_dso). Each `w` is used once: DataFusion re-runs a CTE at each use.
r AS (
    SELECT w.*,
           countback_dso(w.ar_end, w.sales_so_far, w.days_so_far) AS dso_countback,
           CASE WHEN w.credit_sales > 0 THEN CAST(w.days_in_month AS DOUBLE) / CAST(w.credit_sales AS DOUBLE) END AS k1,
           CASE WHEN w.n3 = 3 AND w.s3 > 0 THEN CAST(w.d3 AS DOUBLE) / CAST(w.s3 AS DOUBLE) END AS k3,
           CAST(w.ar_begin + w.credit_sales - w.ar_end_current AS DOUBLE) AS cei_den
    FROM w
)
SELECT month, month_end, days_in_month, credit_sales, collections, ar_begin, ar_end, ar_end_current,
       CAST(ar_end - ar_end_current AS DECIMAL(28, 4)) AS ar_end_past_due,
       ar_end_disputed,
       CAST(ar_end AS DOUBLE) * k1 AS dso_standard_1m,
       CAST(ar_end AS DOUBLE) * k3 AS dso_standard_3m,
       dso_countback,
       ar_end - s_cum > 0 AS countback_history_exhausted,
       CAST(ar_end_current AS DOUBLE) * k3 AS bpdso_3m,
       CAST(ar_end AS DOUBLE) * k3 - CAST(ar_end_current AS DOUBLE) * k3 AS add_3m,
       CAST(ar_end_disputed AS DOUBLE) * k3 AS dso_disputed_3m,
       CASE WHEN cei_den > 0 THEN CAST(ar_begin + credit_sales - ar_end AS DOUBLE) / cei_den * 100 END AS cei_pct,
       credits,
       fx_effect,
       CAST(ar_end_current_undisputed AS DOUBLE) * k3 AS dso_current_undisputed_3m,
       CAST(ar_end_past_due_undisputed AS DOUBLE) * k3 AS dso_past_due_undisputed_3m,
       ar_end_current_undisputed,
       ar_end_past_due_undisputed,
       is_partial,
       unconverted_items
FROM r
ORDER BY month
