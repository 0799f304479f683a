-- promise_metrics: promise keeping, overall and per collector (DESIGN §4): promises kept, broken and pending,
-- keeping_rate_pct = kept / (kept + broken) × 100 (NULL while none has come due), and the amounts promised and
-- kept in the reporting currency at the as-of rate.
WITH rc AS (
    SELECT o.*, CASE WHEN o.currency = {{reporting_currency}} THEN CAST(1 AS DECIMAL(18, 10)) ELSE f.rate_to_reporting END AS rate
    FROM promise_outcomes o
    LEFT JOIN fx_daily f ON f.currency = o.currency AND f.date = {{as_of}}
),
keyed AS (
    SELECT 'all' AS collector_id, status, amount, kept_amount, rate FROM rc
    UNION ALL
    SELECT COALESCE(collector_id, '(none)') AS collector_id, status, amount, kept_amount, rate FROM rc
)
SELECT collector_id,
       CAST(COUNT(*) AS BIGINT) AS promises,
       CAST(SUM(CASE WHEN status = 'kept' THEN 1 ELSE 0 END) AS BIGINT) AS kept,
       CAST(SUM(CASE WHEN status = 'broken' THEN 1 ELSE 0 END) AS BIGINT) AS broken,
       CAST(SUM(CASE WHEN status = 'pending' THEN 1 ELSE 0 END) AS BIGINT) AS pending,
       CAST(SUM(CASE WHEN status = 'kept' THEN 1 ELSE 0 END) AS DOUBLE)
           / CAST(NULLIF(SUM(CASE WHEN status <> 'pending' THEN 1 ELSE 0 END), 0) AS DOUBLE) * 100 AS keeping_rate_pct,
       CAST(SUM(round_half_even(CAST(amount AS DECIMAL(18, 4)) * rate, 2)) AS DECIMAL(28, 4)) AS amount_promised_rc,
       CAST(SUM(round_half_even(CAST(kept_amount AS DECIMAL(18, 4)) * rate, 2)) AS DECIMAL(28, 4)) AS amount_kept_rc
FROM keyed
GROUP BY collector_id
