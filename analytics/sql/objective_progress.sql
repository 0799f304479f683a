-- objective_progress: each collection objective (seed 002, "objetivos de cobro") against what happened, for every
-- objective whose period has started by the as-of date D (one that starts later has no row). Figures are measured
-- to E = measured_to = least(D, period_end): a running period to date, a finished one at its end.
-- The scope is the customers whose collector_id is `scope` (scope_kind collector) or whose account_group is `scope`
-- (scope_kind account_group). Money is in the reporting currency, converted as ar_monthly converts it:
--   collected_rc  = Σ allocations from payments (not credit notes) to the scope's receivables whose effective date
--                   (applied_date, or the document's issue date if applied earlier) is in [period_start, E], each
--                   converted at the rate of that date and rounded half-even to cents (ar_monthly's collections);
--   collect_progress_pct = collected_rc / collect_target_rc × 100 (NULL without a positive target);
--   ar_rc         = Σ balance at E of the scope's receivables open at the end of E, each converted at E's rate and
--                   rounded (ar_monthly's ar_end when E is a month end); past_due_rc = the part with due_date < E;
--   overdue_share = past_due_rc / ar_rc, a fraction like its target (NULL when ar_rc = 0);
--   dso_3m        = ar_rc / credit_sales_3m_rc × days_3m: the credit sales (invoices and debit notes, at their
--                   issue-date rate, rounded per document) of the scope issued in the 3 calendar months ending with
--                   E's month, up to E, over days_3m = the days from the first of those months to E. When E is a
--                   month end and the scope is every customer, this is ar_monthly.dso_standard_3m of E's month; when
--                   E is inside a month, that month counts to date, as ar_monthly's month-to-date row does. NULL
--                   when those sales are 0 or the ledger has less than 3 months of history at E.
-- On target (NULL when the target or the figure is missing): collect_on_target = collected_rc ≥ collect_target_rc,
-- dso_on_target = dso_3m ≤ dso_target, overdue_on_target = overdue_share ≤ overdue_share_target.
-- unconverted_items counts amounts left out for want of a rate (never summed as 0).
WITH obj AS (
    SELECT objective_id, scope_kind, scope, period_start, period_end, collect_target_rc, dso_target,
           overdue_share_target, LEAST(period_end, {{as_of}}) AS measured_to
    FROM objectives
    WHERE period_start <= {{as_of}}
),
members AS (
    SELECT o.objective_id, c.customer_id
    FROM obj o
    JOIN customers c ON (o.scope_kind = 'collector' AND c.collector_id = o.scope)
                     OR (o.scope_kind = 'account_group' AND c.account_group = o.scope)
),
recv AS (
    SELECT o.objective_id, o.period_start, o.measured_to, d.document_id, d.currency, d.amount, d.issue_date, d.due_date
    FROM members m
    JOIN obj o ON o.objective_id = m.objective_id
    JOIN documents d ON d.customer_id = m.customer_id
    WHERE d.kind <> 'credit_note' AND d.issue_date <= o.measured_to
),
credit_notes AS (
    SELECT document_id FROM documents WHERE kind = 'credit_note'
),
applied AS (
    SELECT r.objective_id, r.document_id, r.currency, a.amount,
           GREATEST(a.applied_date, r.issue_date) AS effective_date,
           cn.document_id IS NULL AND GREATEST(a.applied_date, r.issue_date) >= r.period_start AS collected
    FROM recv r
    JOIN allocations a ON a.document_id = r.document_id
    LEFT JOIN credit_notes cn ON cn.document_id = a.source_id
    WHERE a.applied_date <= r.measured_to
),
collections AS (
    SELECT x.objective_id,
           CAST(SUM(round_half_even(CASE WHEN x.currency = {{reporting_currency}} THEN CAST(x.amount AS DECIMAL(38, 14))
                                         ELSE x.amount * f.rate_to_reporting END, 2)) AS DECIMAL(28, 4)) AS collected_rc,
           SUM(CASE WHEN x.currency <> {{reporting_currency}} AND f.rate_to_reporting IS NULL THEN 1 ELSE 0 END)
               AS unconverted
    FROM applied x
    LEFT JOIN fx_daily f ON f.currency = x.currency AND f.date = x.effective_date
    WHERE x.collected
    GROUP BY x.objective_id
),
balances AS (
    SELECT r.objective_id, r.currency, r.due_date, r.measured_to,
           CAST(r.amount - COALESCE(SUM(x.amount), CAST(0 AS DECIMAL(18, 4))) AS DECIMAL(18, 4)) AS balance
    FROM recv r
    LEFT JOIN applied x ON x.objective_id = r.objective_id AND x.document_id = r.document_id
    GROUP BY r.objective_id, r.document_id, r.currency, r.amount, r.due_date, r.measured_to
),
ar AS (
    SELECT b.objective_id,
           CAST(SUM(b.balance_rc) AS DECIMAL(28, 4)) AS ar_rc,
           CAST(SUM(CASE WHEN b.due_date < b.measured_to THEN b.balance_rc END) AS DECIMAL(28, 4)) AS past_due_rc,
           SUM(CASE WHEN b.balance_rc IS NULL THEN 1 ELSE 0 END) AS unconverted
    FROM (
        SELECT y.objective_id, y.due_date, y.measured_to,
               round_half_even(CASE WHEN y.currency = {{reporting_currency}} THEN CAST(y.balance AS DECIMAL(38, 14))
                                    ELSE y.balance * f.rate_to_reporting END, 2) AS balance_rc
        FROM balances y
        LEFT JOIN fx_daily f ON f.currency = y.currency AND f.date = y.measured_to
        WHERE y.balance > 0
    ) b
    GROUP BY b.objective_id
),
sales AS (
    SELECT r.objective_id,
           CAST(SUM(round_half_even(CASE WHEN r.currency = {{reporting_currency}} THEN CAST(r.amount AS DECIMAL(38, 14))
                                         ELSE r.amount * f.rate_to_reporting END, 2)) AS DECIMAL(28, 4))
               AS credit_sales_3m_rc,
           SUM(CASE WHEN r.currency <> {{reporting_currency}} AND f.rate_to_reporting IS NULL THEN 1 ELSE 0 END)
               AS unconverted
    FROM recv r
    LEFT JOIN fx_daily f ON f.currency = r.currency AND f.date = r.issue_date
    WHERE month_index(r.issue_date) >= month_index(r.measured_to) - 2
    GROUP BY r.objective_id
),
history AS (
    SELECT month_index(MIN(issue_date)) AS first_idx FROM documents WHERE issue_date <= {{as_of}}
),
counted AS (
    SELECT objective_id, CAST(COUNT(*) AS BIGINT) AS customers FROM members GROUP BY objective_id
),
measured AS (
    SELECT o.*,
           COALESCE(n.customers, 0) AS customers,
           COALESCE(k.collected_rc, CAST(0 AS DECIMAL(28, 4))) AS collected_rc,
           COALESCE(a.ar_rc, CAST(0 AS DECIMAL(28, 4))) AS ar_rc,
           COALESCE(a.past_due_rc, CAST(0 AS DECIMAL(28, 4))) AS past_due_rc,
           COALESCE(s.credit_sales_3m_rc, CAST(0 AS DECIMAL(28, 4))) AS credit_sales_3m_rc,
           CAST(o.measured_to - make_date(CAST((month_index(o.measured_to) - 2) / 12 AS INT),
                                          CAST((month_index(o.measured_to) - 2) % 12 + 1 AS INT), 1) AS INT) + 1
               AS days_3m,
           month_index(o.measured_to) - 2 >= h.first_idx AS has_history,
           CAST(COALESCE(k.unconverted, 0) + COALESCE(a.unconverted, 0) + COALESCE(s.unconverted, 0) AS BIGINT)
               AS unconverted_items
    FROM obj o
    CROSS JOIN history h
    LEFT JOIN counted n ON n.objective_id = o.objective_id
    LEFT JOIN collections k ON k.objective_id = o.objective_id
    LEFT JOIN ar a ON a.objective_id = o.objective_id
    LEFT JOIN sales s ON s.objective_id = o.objective_id
),
ratios AS (
    SELECT m.*,
           CASE WHEN m.collect_target_rc > 0
                THEN CAST(m.collected_rc AS DOUBLE) / CAST(m.collect_target_rc AS DOUBLE) * 100 END AS collect_progress_pct,
           CASE WHEN m.ar_rc > 0 THEN CAST(m.past_due_rc AS DOUBLE) / CAST(m.ar_rc AS DOUBLE) END AS overdue_share,
           CASE WHEN m.has_history AND m.credit_sales_3m_rc > 0
                THEN CAST(m.ar_rc AS DOUBLE) * (CAST(m.days_3m AS DOUBLE) / CAST(m.credit_sales_3m_rc AS DOUBLE)) END
               AS dso_3m
    FROM measured m
)
SELECT objective_id, scope_kind, scope, period_start, period_end, measured_to, period_end <= {{as_of}} AS period_complete,
       customers,
       collect_target_rc, collected_rc, collect_progress_pct, collected_rc >= collect_target_rc AS collect_on_target,
       ar_rc, past_due_rc, overdue_share, overdue_share_target,
       overdue_share <= CAST(overdue_share_target AS DOUBLE) AS overdue_on_target,
       credit_sales_3m_rc, days_3m, dso_3m, dso_target, dso_3m <= CAST(dso_target AS DOUBLE) AS dso_on_target,
       unconverted_items
FROM ratios
