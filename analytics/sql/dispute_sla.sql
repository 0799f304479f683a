-- dispute_sla: the share of disputes resolved in time, overall and by type, department and owner (DESIGN §4; the
-- goal is ≥ 80 %), with the average resolution time and the open disputes past their deadline.
-- in_time_pct = resolved in time / resolved × 100, NULL when nothing is resolved yet.
WITH keyed AS (
    SELECT 'all' AS dimension, 'all' AS key, * FROM dispute_resolution
    UNION ALL
    SELECT 'type' AS dimension, dispute_type AS key, * FROM dispute_resolution
    UNION ALL
    SELECT 'department' AS dimension, department AS key, * FROM dispute_resolution
    UNION ALL
    SELECT 'owner' AS dimension, COALESCE(owner, '(unassigned)') AS key, * FROM dispute_resolution
)
SELECT dimension, key,
       CAST(COUNT(*) AS BIGINT) AS disputes,
       CAST(SUM(CASE WHEN state = 'resolved' THEN 1 ELSE 0 END) AS BIGINT) AS resolved,
       CAST(SUM(CASE WHEN resolved_in_time THEN 1 ELSE 0 END) AS BIGINT) AS resolved_in_time,
       CAST(SUM(CASE WHEN resolved_in_time THEN 1 ELSE 0 END) AS DOUBLE)
           / CAST(NULLIF(SUM(CASE WHEN state = 'resolved' THEN 1 ELSE 0 END), 0) AS DOUBLE) * 100 AS in_time_pct,
       80.0 AS goal_pct,
       AVG(CAST(resolution_days AS DOUBLE)) AS avg_resolution_days,
       AVG(CAST(resolution_business_days AS DOUBLE)) AS avg_resolution_business_days,
       CAST(SUM(CASE WHEN state = 'open' THEN 1 ELSE 0 END) AS BIGINT) AS open,
       CAST(SUM(CASE WHEN open_past_deadline THEN 1 ELSE 0 END) AS BIGINT) AS open_past_deadline
FROM keyed
GROUP BY dimension, key
