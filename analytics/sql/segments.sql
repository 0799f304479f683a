-- segments: one row per customer with its segment at the as-of date and the reasons (DESIGN §5). The rules come
-- from data/strategies/segments.toml (or --segments FILE), compiled into the CASE expressions below:
--   segment  = the first base segment whose conditions all hold ('unclassified' if none);
--   overlays = the overlays raised, comma-separated ('' when none);
--   effective_segment = the first overlay raised, else segment (what strategies and the work queue use);
--   reasons  = the rule that fired with the customer's values, then each overlay with the conditions that hold.
WITH b AS (
    SELECT *,
           {{segment_case}} AS segment,
           {{segment_reason_case}} AS segment_reason,
           {{overlays}} AS overlays,
           {{overlay_reasons}} AS overlay_reasons
    FROM customer_behaviour
)
SELECT customer_id, name, collector_id, account_group, vip,
       segment,
       overlays,
       CASE WHEN overlays = '' THEN segment ELSE split_part(overlays, ',', 1) END AS effective_segment,
       CASE WHEN overlay_reasons = '' THEN segment_reason ELSE concat(segment_reason, '; ', overlay_reasons) END
           AS reasons,
       settled_count, paid_late_count, share_paid_late, wadl, p90_days_late, trend, dispute_share,
       broken_promises_90d, last_broken_after, open_balance_rc, past_due_balance_rc, oldest_days_past_due, exposure_ratio
FROM b
