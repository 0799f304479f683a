-- alarm_action_needed: the customers the AR manager must act on at the as-of date, for the daily alarm (seed 003,
-- "clientes con los que se deben tomar acciones": suspend the account, go to law, write the sale off; DESIGN §6,
-- the D+{{action_days_past_due}} action notice). One row per customer that has at least one of:
--   * action documents: receivables open at the as-of date (open_items) more than {{action_days_past_due}} days past
--     due and not blocked by a live case. Blocked = in a dispute open at the as-of date (opened on or before it and
--     not resolved by it; a document with no dispute record falls back to the ERP's `disputed` flag), in a pending
--     promise (promise_outcomes), or in a payment report made on or before the as-of date that is still open
--     (state NULL or open, or closed only after the as-of date);
--   * open decision tasks: tasks of kind decide_action or escalation created on or before the as-of date and open at
--     it (state open, or closed only after the as-of date).
-- oldest_days_past_due = the largest days past due of its action documents (NULL when only its tasks list it);
-- action_balance_rc = Σ balance_rc of the action documents (0 when none); documents = how many;
-- blocked_documents = receivables past the threshold that a live case holds back (shown in the reasons, never in
-- the balance). owner_role is always ar_manager: the person who takes these decisions.
WITH dispute_docs AS (
    SELECT document_id, MAX(CASE WHEN resolved_date IS NULL OR resolved_date > {{as_of}} THEN 1 ELSE 0 END) AS open_now
    FROM disputes
    WHERE opened_date <= {{as_of}}
    GROUP BY document_id
),
promised AS (
    SELECT DISTINCT p.document_id
    FROM promises p
    JOIN promise_outcomes o ON o.promise_id = p.promise_id
    WHERE o.status = 'pending'
),
reported AS (
    SELECT DISTINCT document_id
    FROM payment_reports
    WHERE reported_date <= {{as_of}} AND (COALESCE(state, 'open') = 'open' OR closed_date > {{as_of}})
),
past AS (
    SELECT i.customer_id, i.document_id, i.days_past_due, i.balance_rc,
           CASE WHEN d.document_id IS NOT NULL THEN d.open_now = 1 ELSE i.erp_disputed END
               OR p.document_id IS NOT NULL OR r.document_id IS NOT NULL AS blocked
    FROM open_items i
    LEFT JOIN dispute_docs d ON d.document_id = i.document_id
    LEFT JOIN promised p ON p.document_id = i.document_id
    LEFT JOIN reported r ON r.document_id = i.document_id
    WHERE i.days_past_due > {{action_days_past_due}}
),
docs AS (
    SELECT customer_id,
           CAST(SUM(CASE WHEN NOT blocked THEN 1 ELSE 0 END) AS BIGINT) AS documents,
           CAST(SUM(CASE WHEN blocked THEN 1 ELSE 0 END) AS BIGINT) AS blocked_documents,
           CAST(SUM(CASE WHEN NOT blocked THEN balance_rc END) AS DECIMAL(28, 4)) AS action_balance_rc,
           MAX(CASE WHEN NOT blocked THEN days_past_due END) AS oldest_days_past_due
    FROM past
    GROUP BY customer_id
),
decisions AS (
    SELECT customer_id,
           CAST(COUNT(*) AS BIGINT) AS open_decision_tasks,
           string_agg(concat(task_id, ' ', kind, ' due ', CAST(due_date AS VARCHAR)), ', ' ORDER BY due_date, task_id)
               AS task_list
    FROM tasks
    WHERE kind IN ('decide_action', 'escalation') AND created_date <= {{as_of}}
      AND (state = 'open' OR closed_date > {{as_of}})
    GROUP BY customer_id
),
listed AS (
    SELECT customer_id FROM docs WHERE documents > 0
    UNION
    SELECT customer_id FROM decisions
),
joined AS (
    SELECT l.customer_id, c.name, c.collector_id,
           x.oldest_days_past_due,
           COALESCE(x.action_balance_rc, CAST(0 AS DECIMAL(28, 4))) AS action_balance_rc,
           COALESCE(x.documents, 0) AS documents,
           COALESCE(x.blocked_documents, 0) AS blocked_documents,
           COALESCE(t.open_decision_tasks, 0) AS open_decision_tasks,
           t.task_list
    FROM listed l
    LEFT JOIN customers c ON c.customer_id = l.customer_id
    LEFT JOIN docs x ON x.customer_id = l.customer_id
    LEFT JOIN decisions t ON t.customer_id = l.customer_id
)
SELECT customer_id, name, collector_id, 'ar_manager' AS owner_role, oldest_days_past_due, action_balance_rc, documents,
       blocked_documents, open_decision_tasks,
       concat_ws('; ',
                 CASE WHEN documents > 0
                      THEN concat(CAST(documents AS VARCHAR), ' document(s) more than {{action_days_past_due}} days past due',
                                  ' and not blocked, ', CAST(CAST(action_balance_rc AS DECIMAL(20, 2)) AS VARCHAR),
                                  ' (oldest ', CAST(oldest_days_past_due AS VARCHAR), ' days)') END,
                 CASE WHEN blocked_documents > 0
                      THEN concat(CAST(blocked_documents AS VARCHAR),
                                  ' more held by an open dispute, a pending promise or a payment report') END,
                 CASE WHEN open_decision_tasks > 0 THEN concat('open task(s): ', task_list) END)
           AS reasons
FROM joined
