-- delay_reason_report: why customers pay late, per delay-reason code (seed 002, "motivos de retraso"), from the
-- contact outcomes recorded up to the as-of date. It counts the collection_actions rows that carry a delay_reason
-- and happened on or before the as-of date (on_date ≤ as-of); an outcome writes one such row per document it
-- covers, all with its reason. One row per code configured in delay_reasons (configured = true; an unused code has
-- zeros), plus one per code found in those rows but not configured (label '(not configured)', configured = false).
--   outcomes  = distinct outcome_id; customers = distinct customer_id; documents = distinct document_id;
--   amount_rc = Σ amount of the rows (the balance chased, promised or disputed on each document), each converted at
--               the as-of rate (1 for the reporting currency) and rounded half-even to cents; a row without an
--               amount, or in a currency with no rate by the as-of date, adds nothing;
--   share_of_outcomes_pct = outcomes / distinct outcomes with any delay reason × 100 (NULL when there are none), so
--               the shares add up to 100.
WITH ev AS (
    SELECT a.delay_reason AS code, a.outcome_id, a.customer_id, a.document_id,
           round_half_even(CASE WHEN a.currency = {{reporting_currency}} THEN CAST(a.amount AS DECIMAL(38, 14))
                                ELSE a.amount * f.rate_to_reporting END, 2) AS amount_rc
    FROM collection_actions a
    LEFT JOIN fx_daily f ON f.currency = a.currency AND f.date = {{as_of}}
    WHERE a.delay_reason IS NOT NULL AND a.on_date <= {{as_of}}
),
per AS (
    SELECT code,
           CAST(COUNT(DISTINCT outcome_id) AS BIGINT) AS outcomes,
           CAST(COUNT(DISTINCT customer_id) AS BIGINT) AS customers,
           CAST(COUNT(DISTINCT document_id) AS BIGINT) AS documents,
           CAST(SUM(amount_rc) AS DECIMAL(28, 4)) AS amount_rc
    FROM ev
    GROUP BY code
),
total AS (
    SELECT CAST(COUNT(DISTINCT outcome_id) AS BIGINT) AS outcomes FROM ev
),
codes AS (
    SELECT code, label, true AS configured FROM delay_reasons
    UNION ALL
    SELECT p.code, '(not configured)' AS label, false AS configured
    FROM per p
    LEFT JOIN delay_reasons r ON r.code = p.code
    WHERE r.code IS NULL
)
SELECT k.code, k.label, k.configured,
       COALESCE(p.outcomes, 0) AS outcomes,
       COALESCE(p.customers, 0) AS customers,
       COALESCE(p.documents, 0) AS documents,
       COALESCE(p.amount_rc, CAST(0 AS DECIMAL(28, 4))) AS amount_rc,
       CAST(COALESCE(p.outcomes, 0) AS DOUBLE) / CAST(NULLIF(t.outcomes, 0) AS DOUBLE) * 100 AS share_of_outcomes_pct
FROM codes k
CROSS JOIN total t
LEFT JOIN per p ON p.code = k.code
