-- dispute_response: how soon the department first answered each dispute (seed 002, "tiempos de respuesta a una
-- reclamación"). One row per dispute opened on or before the as-of date (its rows share the dates; the earliest is
-- taken). first_response_date is the day the department first responded, shown only when it is on or before the
-- as-of date. response_days = first_response_date − opened_date (calendar days); response_business_days =
-- business_days(opened_date, first_response_date), the Monday-to-Friday days after the opening up to the response;
-- both NULL without a response. responded_in_time = first_response_date ≤ response_due_date; with no response yet
-- it is false once the as-of date is after response_due_date, and NULL until then; NULL too when the dispute has no
-- response target (records imported without one).
WITH d AS (
    SELECT dispute_id,
           MIN(customer_id) AS customer_id,
           MIN(dispute_type) AS dispute_type,
           MIN(department) AS department,
           MIN(owner) AS owner,
           MIN(opened_date) AS opened_date,
           MIN(response_due_date) AS response_due_date,
           MIN(CASE WHEN first_response_date <= {{as_of}} THEN first_response_date END) AS first_response_date
    FROM disputes
    WHERE opened_date <= {{as_of}}
    GROUP BY dispute_id
)
SELECT dispute_id, customer_id, dispute_type, department, owner, opened_date, response_due_date, first_response_date,
       CAST(first_response_date - opened_date AS INT) AS response_days,
       business_days(opened_date, first_response_date) AS response_business_days,
       CASE WHEN first_response_date IS NOT NULL THEN first_response_date <= response_due_date
            WHEN {{as_of}} > response_due_date THEN false END AS responded_in_time
FROM d
