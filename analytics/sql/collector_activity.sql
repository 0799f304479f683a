-- collector_activity: what each collector did and what came in, per calendar month (DESIGN §4, "collector activity
-- (contacts, outcomes, amounts promised and collected)"), up to the as-of date D. One row per collector × month
-- (YYYY-MM) with at least one contact outcome or one collection in it; a month with neither has no row.
-- The collector of anything is the customer's current customers.collector_id ('(none)' when it is null, or when
-- the customer is not in customers); who recorded an outcome (collection_actions.actor) does not matter, so a
-- customer moved to another collector takes its history with it.
-- Outcomes: the collection_actions rows of the five contact-outcome kinds (promise_to_pay, no_commitment,
-- reported_paid, dispute, no_contact) with on_date ≤ D, in the month of on_date. An outcome writes one row per
-- document it covers, all with its outcome_id; a row without one (a promise or dispute brought in by
-- `cobro case import`) belongs to the record named by its ref_id, and failing that is an outcome by itself.
--   contacts            = distinct outcomes (of the five kinds);
--   promises, no_commitments, reported_paid, disputes, no_contacts = distinct outcomes of that kind (an outcome
--                         has one kind, so they add up to contacts);
--   customers_contacted = distinct customer_id of those rows;
--   amount_promised_rc  = Σ amount of the promise_to_pay rows, each converted at D's rate (1 for the reporting
--                         currency) and rounded half-even to cents, as delay_reason_report converts; a row without
--                         an amount adds nothing.
-- Collections, as ar_monthly_by_currency counts them: allocations whose source is not a credit note (payments),
-- applied on or before D to receivables (invoices and debit notes issued on or before D) of the collector's
-- customers, in the month of the effective date (applied_date, or the document's issue_date if applied earlier),
-- each converted at the rate of that date and rounded half-even to cents. Summed over collectors, a month's
-- collected_rc is ar_monthly's collections.
--   collected_rc          = Σ those allocations;
--   promised_collected_rc = the part of collected_rc applied to documents that had a promise_to_pay row dated on
--                           or before the allocation's effective date (and ≤ D): money that came in on a promise,
--                           kept or not; a payment made before the document was first promised is not in it.
--   unconverted_items     = promise rows and allocations left out of the *_rc sums for want of a rate (never
--                           summed as 0).
WITH outcome_rows AS (
    SELECT COALESCE(c.collector_id, '(none)') AS collector_id,
           to_char(a.on_date, '%Y-%m') AS month,
           a.kind, a.customer_id,
           CASE WHEN a.outcome_id IS NOT NULL THEN a.outcome_id
                WHEN a.ref_id IS NOT NULL THEN 'ref:' || a.ref_id
                ELSE 'event:' || a.event_id END AS outcome_key,
           a.amount,
           round_half_even(CASE WHEN a.currency = {{reporting_currency}} THEN CAST(a.amount AS DECIMAL(38, 14))
                                ELSE a.amount * f.rate_to_reporting END, 2) AS amount_rc
    FROM collection_actions a
    LEFT JOIN customers c ON c.customer_id = a.customer_id
    LEFT JOIN fx_daily f ON f.currency = a.currency AND f.date = {{as_of}}
    WHERE a.kind IN ('promise_to_pay', 'no_commitment', 'reported_paid', 'dispute', 'no_contact')
      AND a.on_date <= {{as_of}}
),
outcomes AS (
    SELECT collector_id, month,
           CAST(COUNT(DISTINCT outcome_key) AS BIGINT) AS contacts,
           CAST(COUNT(DISTINCT CASE WHEN kind = 'promise_to_pay' THEN outcome_key END) AS BIGINT) AS promises,
           CAST(COUNT(DISTINCT CASE WHEN kind = 'no_commitment' THEN outcome_key END) AS BIGINT) AS no_commitments,
           CAST(COUNT(DISTINCT CASE WHEN kind = 'reported_paid' THEN outcome_key END) AS BIGINT) AS reported_paid,
           CAST(COUNT(DISTINCT CASE WHEN kind = 'dispute' THEN outcome_key END) AS BIGINT) AS disputes,
           CAST(COUNT(DISTINCT CASE WHEN kind = 'no_contact' THEN outcome_key END) AS BIGINT) AS no_contacts,
           CAST(COUNT(DISTINCT customer_id) AS BIGINT) AS customers_contacted,
           CAST(SUM(CASE WHEN kind = 'promise_to_pay' THEN amount_rc END) AS DECIMAL(28, 4)) AS amount_promised_rc,
           SUM(CASE WHEN kind = 'promise_to_pay' AND amount IS NOT NULL AND amount_rc IS NULL THEN 1 ELSE 0 END)
               AS unconverted
    FROM outcome_rows
    GROUP BY collector_id, month
),
recv AS (
    SELECT d.document_id, d.currency, d.issue_date, COALESCE(c.collector_id, '(none)') AS collector_id
    FROM documents d
    LEFT JOIN customers c ON c.customer_id = d.customer_id
    WHERE d.kind <> 'credit_note' AND d.issue_date <= {{as_of}}
),
credit_notes AS (
    SELECT document_id FROM documents WHERE kind = 'credit_note'
),
first_promised AS (
    SELECT document_id, MIN(on_date) AS first_promised
    FROM collection_actions
    WHERE kind = 'promise_to_pay' AND on_date <= {{as_of}} AND document_id IS NOT NULL
    GROUP BY document_id
),
collected_rows AS (
    SELECT r.collector_id, r.document_id, r.currency, a.amount,
           GREATEST(a.applied_date, r.issue_date) AS effective_date
    FROM allocations a
    JOIN recv r ON r.document_id = a.document_id
    LEFT JOIN credit_notes cn ON cn.document_id = a.source_id
    WHERE a.applied_date <= {{as_of}} AND cn.document_id IS NULL
),
collections AS (
    SELECT x.collector_id, to_char(x.effective_date, '%Y-%m') AS month,
           CAST(SUM(x.amount_rc) AS DECIMAL(28, 4)) AS collected_rc,
           CAST(SUM(CASE WHEN x.promised THEN x.amount_rc END) AS DECIMAL(28, 4)) AS promised_collected_rc,
           SUM(CASE WHEN x.amount_rc IS NULL THEN 1 ELSE 0 END) AS unconverted
    FROM (
        SELECT y.collector_id, y.effective_date,
               COALESCE(p.first_promised <= y.effective_date, false) AS promised,
               round_half_even(CASE WHEN y.currency = {{reporting_currency}} THEN CAST(y.amount AS DECIMAL(38, 14))
                                    ELSE y.amount * f.rate_to_reporting END, 2) AS amount_rc
        FROM collected_rows y
        LEFT JOIN fx_daily f ON f.currency = y.currency AND f.date = y.effective_date
        LEFT JOIN first_promised p ON p.document_id = y.document_id
    ) x
    GROUP BY x.collector_id, to_char(x.effective_date, '%Y-%m')
),
keys AS (
    SELECT collector_id, month FROM outcomes
    UNION
    SELECT collector_id, month FROM collections
)
SELECT k.collector_id, k.month,
       COALESCE(o.contacts, 0) AS contacts,
       COALESCE(o.promises, 0) AS promises,
       COALESCE(o.no_commitments, 0) AS no_commitments,
       COALESCE(o.reported_paid, 0) AS reported_paid,
       COALESCE(o.disputes, 0) AS disputes,
       COALESCE(o.no_contacts, 0) AS no_contacts,
       COALESCE(o.customers_contacted, 0) AS customers_contacted,
       COALESCE(o.amount_promised_rc, CAST(0 AS DECIMAL(28, 4))) AS amount_promised_rc,
       COALESCE(x.collected_rc, CAST(0 AS DECIMAL(28, 4))) AS collected_rc,
       COALESCE(x.promised_collected_rc, CAST(0 AS DECIMAL(28, 4))) AS promised_collected_rc,
       CAST(COALESCE(o.unconverted, 0) + COALESCE(x.unconverted, 0) AS BIGINT) AS unconverted_items
FROM keys k
LEFT JOIN outcomes o ON o.collector_id = k.collector_id AND o.month = k.month
LEFT JOIN collections x ON x.collector_id = k.collector_id AND x.month = k.month
