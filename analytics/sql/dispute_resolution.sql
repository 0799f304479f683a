-- dispute_resolution: one row per dispute known at the as-of date (DESIGN §4, "Dispute resolution time").
-- A dispute over several documents has one row per document in `disputes`; it is resolved when every row is
-- resolved on or before the as-of date. resolution_days = resolved − opened (calendar days); resolution_business_days
-- counts Monday-to-Friday days after the opening up to the resolution (business_days). In time iff resolved ≤
-- deadline. An open dispute is past its deadline when the as-of date is after the deadline.
WITH d AS (
    SELECT dispute_id,
           MIN(customer_id) AS customer_id,
           MIN(dispute_type) AS dispute_type,
           MIN(department) AS department,
           MIN(owner) AS owner,
           MIN(currency) AS currency,
           CAST(SUM(amount) AS DECIMAL(28, 4)) AS amount,
           CAST(COUNT(*) AS BIGINT) AS documents,
           MIN(opened_date) AS opened_date,
           MAX(deadline_date) AS deadline_date,
           CASE WHEN COUNT(CASE WHEN resolved_date <= {{as_of}} THEN 1 END) = COUNT(*) THEN MAX(resolved_date) END
               AS resolved_date,
           MAX(CASE WHEN resolved_date <= {{as_of}} THEN resolution END) AS resolution
    FROM disputes
    WHERE opened_date <= {{as_of}}
    GROUP BY dispute_id
)
SELECT dispute_id, customer_id, dispute_type, department, owner, currency, amount, documents,
       opened_date, deadline_date, resolved_date,
       CASE WHEN resolved_date IS NULL THEN NULL ELSE resolution END AS resolution,
       CASE WHEN resolved_date IS NULL THEN 'open' ELSE 'resolved' END AS state,
       CAST(resolved_date - opened_date AS INT) AS resolution_days,
       business_days(opened_date, resolved_date) AS resolution_business_days,
       resolved_date <= deadline_date AS resolved_in_time,
       resolved_date IS NULL AND {{as_of}} > deadline_date AS open_past_deadline,
       CASE WHEN resolved_date IS NULL AND {{as_of}} > deadline_date THEN CAST({{as_of}} - deadline_date AS INT) END
           AS days_past_deadline,
       CAST(COALESCE(resolved_date, {{as_of}}) - opened_date AS INT) AS age_days
FROM d
