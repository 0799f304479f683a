-- work_queue: one row per customer with something open at the as-of date, ranked for the collectors (DESIGN §5).
-- Settings come from the [queue] section of the segment rules.
-- An open receivable is blocked while it has a live case: an open dispute (a dispute record opened by the as-of
-- date and not yet resolved; a document with no dispute record falls back to the ERP's dispute flag, as disputed
-- AR does, so a dispute resolved in cobro no longer blocks because the ERP still flags it), a pending promise (promise_outcomes), or a payment the
-- customer reported in the last {{payment_report_hold_days}} days that is still open: a report the store closed
-- as credited, reopened (the money never came) or superseded on or before the as-of date no longer blocks (NULL
-- state = open; one closed after the as-of date was open at it). Otherwise it is actionable when it is past due
-- or due within {{due_soon_days}} days.
--   p_late  = (paid late + {{prior_weight}} × portfolio share paid late) / (settled + {{prior_weight}}), trailing 12
--             months (customer_behaviour): the customer's own share, pulled towards the portfolio's when it has
--             few invoices, so a new customer is never 0 or 1.
--   urgency = 1 + max(oldest days past due of the actionable items, 0) / {{urgency_days}}.
--   score   = actionable balance × p_late × urgency × {{broken_promise_boost}} if a promise broke in the last 90 days
--             × {{overlay_boost}} if an overlay (e.g. critical) is raised; rounded to 2 decimals.
-- Order (queue_rank): customers with actionable debt first, by score, then oldest days past due, actionable
-- balance, and customer_id, so ties always break the same way; then customers whose open items are all blocked,
-- by blocked balance and customer_id. Customers whose open items are neither actionable nor blocked (nothing due
-- within {{due_soon_days}} days) are not in the queue.
WITH disputed AS (
    -- Every document with a dispute record by the as-of date; dispute_id, department and deadline of its open ones.
    SELECT document_id,
           MIN(CASE WHEN resolved_date IS NULL OR resolved_date > {{as_of}} THEN dispute_id END) AS dispute_id,
           MIN(CASE WHEN resolved_date IS NULL OR resolved_date > {{as_of}} THEN department END) AS department,
           MIN(CASE WHEN resolved_date IS NULL OR resolved_date > {{as_of}} THEN deadline_date END) AS deadline
    FROM disputes
    WHERE opened_date <= {{as_of}}
    GROUP BY document_id
),
promised AS (
    SELECT p.document_id, MIN(p.promise_id) AS promise_id, MIN(o.promised_date) AS promised_date
    FROM promises p
    JOIN promise_outcomes o ON o.promise_id = p.promise_id
    WHERE o.status = 'pending'
    GROUP BY p.document_id
),
reported AS (
    SELECT document_id, MIN(report_id) AS report_id, MAX(reported_date) AS reported_date
    FROM payment_reports
    WHERE reported_date <= {{as_of}} AND reported_date > CAST(CAST({{as_of}} AS INT) - {{payment_report_hold_days}} AS DATE)
      AND (COALESCE(state, 'open') = 'open' OR closed_date > {{as_of}})
    GROUP BY document_id
),
items AS (
    SELECT i.customer_id, i.document_id, i.days_past_due, COALESCE(i.balance_rc, CAST(0 AS DECIMAL(18, 4))) AS balance_rc,
           d.dispute_id, d.department, d.deadline, p.promise_id, p.promised_date, r.report_id,
           CASE WHEN d.dispute_id IS NOT NULL OR (d.document_id IS NULL AND i.erp_disputed) THEN 'dispute'
                WHEN p.document_id IS NOT NULL THEN 'promise'
                WHEN r.document_id IS NOT NULL THEN 'payment_reported'
                ELSE 'normal' END AS status
    FROM open_items i
    LEFT JOIN disputed d ON d.document_id = i.document_id
    LEFT JOIN promised p ON p.document_id = i.document_id
    LEFT JOIN reported r ON r.document_id = i.document_id
),
per AS (
    SELECT customer_id,
           CAST(COUNT(*) AS BIGINT) AS open_items,
           CAST(SUM(balance_rc) AS DECIMAL(28, 4)) AS open_balance_rc,
           CAST(SUM(CASE WHEN status = 'normal' AND days_past_due > 0 THEN balance_rc ELSE 0 END) AS DECIMAL(28, 4))
               AS overdue_balance_rc,
           CAST(SUM(CASE WHEN status = 'normal' AND days_past_due <= 0 AND days_past_due >= -{{due_soon_days}}
                         THEN balance_rc ELSE 0 END) AS DECIMAL(28, 4)) AS due_soon_balance_rc,
           CAST(SUM(CASE WHEN status <> 'normal' THEN balance_rc ELSE 0 END) AS DECIMAL(28, 4)) AS blocked_balance_rc,
           MAX(CASE WHEN status = 'normal' AND days_past_due >= -{{due_soon_days}} THEN days_past_due END)
               AS actionable_days_past_due,
           MAX(days_past_due) AS max_days_past_due,
           CAST(COUNT(DISTINCT dispute_id) + SUM(CASE WHEN status = 'dispute' AND dispute_id IS NULL THEN 1 ELSE 0 END)
                AS BIGINT) AS open_disputes,
           CAST(COUNT(DISTINCT promise_id) AS BIGINT) AS live_promises,
           CAST(COUNT(DISTINCT report_id) AS BIGINT) AS payment_reports,
           MIN(promised_date) AS next_promised_date,
           MIN(deadline) AS next_dispute_deadline,
           MIN(department) AS dispute_department
    FROM items
    GROUP BY customer_id
),
customers_seg AS (
    -- The portfolio's share paid late as a window over every customer, so that segments (and the
    -- customer_behaviour under it) is computed once for the whole query.
    SELECT s.*,
           COALESCE(CAST(SUM(paid_late_count) OVER () AS DOUBLE) / CAST(NULLIF(SUM(settled_count) OVER (), 0) AS DOUBLE), 0.5)
               AS portfolio_share_paid_late
    FROM segments s
),
scored AS (
    SELECT x.*, s.segment, s.overlays, s.effective_segment, s.reasons AS segment_reasons, s.vip, s.collector_id,
           s.name, s.settled_count, s.paid_late_count, s.broken_promises_90d, s.last_broken_after,
           CAST(x.overdue_balance_rc + x.due_soon_balance_rc AS DECIMAL(28, 4)) AS actionable_balance_rc,
           COALESCE((CAST(s.paid_late_count AS DOUBLE) + {{prior_weight}} * s.portfolio_share_paid_late)
                    / NULLIF(CAST(s.settled_count AS DOUBLE) + {{prior_weight}}, 0), s.portfolio_share_paid_late) AS p_late,
           1.0 + CAST(GREATEST(COALESCE(x.actionable_days_past_due, 0), 0) AS DOUBLE) / {{urgency_days}} AS urgency,
           CASE WHEN s.broken_promises_90d > 0 THEN {{broken_promise_boost}} ELSE 1.0 END
               * CASE WHEN s.overlays <> '' THEN {{overlay_boost}} ELSE 1.0 END AS boost
    FROM per x
    JOIN customers_seg s ON s.customer_id = x.customer_id
    WHERE x.open_balance_rc > 0
),
ranked AS (
    SELECT *,
           round(CAST(actionable_balance_rc AS DOUBLE) * p_late * urgency * boost, 2) AS priority_score,
           CASE WHEN actionable_balance_rc > 0 THEN 1 ELSE 2 END AS tier
    FROM scored
    WHERE actionable_balance_rc > 0 OR blocked_balance_rc > 0
)
SELECT CAST(ROW_NUMBER() OVER (ORDER BY tier, priority_score DESC, COALESCE(actionable_days_past_due, -2147483648) DESC,
                                        actionable_balance_rc DESC, blocked_balance_rc DESC, customer_id) AS BIGINT)
           AS queue_rank,
       customer_id, name, collector_id, vip, segment, overlays, effective_segment,
       actionable_balance_rc, overdue_balance_rc, due_soon_balance_rc, blocked_balance_rc, open_balance_rc,
       GREATEST(COALESCE(actionable_days_past_due, 0), 0) AS oldest_days_past_due,
       open_disputes, live_promises, payment_reports,
       concat_ws(', ',
                 CASE WHEN open_disputes > 0 THEN concat(CAST(open_disputes AS VARCHAR), ' dispute(s)') END,
                 CASE WHEN live_promises > 0 THEN concat(CAST(live_promises AS VARCHAR), ' promise(s)') END,
                 CASE WHEN payment_reports > 0 THEN concat(CAST(payment_reports AS VARCHAR), ' payment report(s)') END)
           AS open_cases,
       CASE WHEN tier = 2 AND open_disputes > 0
                THEN concat('wait: dispute with ', COALESCE(dispute_department, 'the ERP (flagged disputed)'),
                            COALESCE(concat(', deadline ', CAST(next_dispute_deadline AS VARCHAR)), ''))
            WHEN tier = 2 AND live_promises > 0
                THEN concat('wait: promise to pay by ', CAST(next_promised_date AS VARCHAR))
            WHEN tier = 2 THEN 'verify the reported payment with the bank'
            WHEN broken_promises_90d > 0
                THEN concat('call: promise broken on ', CAST(last_broken_after AS VARCHAR), ', ask for payment now')
            WHEN actionable_days_past_due > 90 THEN 'escalate: action notice and AR manager review'
            WHEN actionable_days_past_due > 30 THEN 'call'
            WHEN actionable_days_past_due > 0 THEN 'reminder, then call'
            ELSE 'pre-due reminder'
       END AS next_step,
       priority_score,
       round(p_late, 4) AS p_late,
       round(urgency, 4) AS urgency,
       boost,
       concat_ws('; ',
                 segment_reasons,
                 CASE WHEN tier = 1 THEN concat('actionable ', CAST(CAST(actionable_balance_rc AS DECIMAL(20, 2)) AS VARCHAR),
                                                ' (overdue ', CAST(CAST(overdue_balance_rc AS DECIMAL(20, 2)) AS VARCHAR),
                                                ', due within {{due_soon_days}} days ',
                                                CAST(CAST(due_soon_balance_rc AS DECIMAL(20, 2)) AS VARCHAR), ')') END,
                 CASE WHEN tier = 1 THEN concat('oldest ', CAST(GREATEST(COALESCE(actionable_days_past_due, 0), 0) AS VARCHAR),
                                                ' days past due, urgency ', CAST(round(urgency, 2) AS VARCHAR)) END,
                 concat('p_late ', CAST(round(p_late, 4) AS VARCHAR), ' (', CAST(paid_late_count AS VARCHAR), ' of ',
                        CAST(settled_count AS VARCHAR), ' paid late)'),
                 CASE WHEN broken_promises_90d > 0 THEN concat(CAST(broken_promises_90d AS VARCHAR),
                                                               ' promise(s) broken in 90 days') END,
                 CASE WHEN blocked_balance_rc > 0 THEN concat('blocked ', CAST(CAST(blocked_balance_rc AS DECIMAL(20, 2)) AS VARCHAR),
                                                              ' by open cases') END,
                 CASE WHEN vip THEN 'VIP: no automatic messages' END)
           AS reasons
FROM ranked
