-- fx_daily: the rate of every day, per currency, from the currency's first rate to the as-of date: the rate dated
-- that day or else the latest earlier one (DESIGN §2.1). rate_date says which rate was used. The reporting currency
-- has no rows (its rate is 1 by definition), and neither has any day before a currency's first rate: amounts on
-- such days cannot be converted and are counted as unconverted, never as 0.
WITH bounds AS (
    SELECT currency, CAST(MIN(date) AS INT) AS first_day
    FROM fx_rates
    WHERE date <= {{as_of}}
    GROUP BY currency
),
days AS (
    SELECT currency, unnest(range(first_day, CAST({{as_of}} AS INT) + 1)) AS day
    FROM bounds
),
filled AS (
    SELECT d.currency, d.day,
           MAX(CASE WHEN r.date IS NOT NULL THEN d.day END)
               OVER (PARTITION BY d.currency ORDER BY d.day ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS rate_day
    FROM days d
    LEFT JOIN fx_rates r ON r.currency = d.currency AND CAST(r.date AS INT) = d.day
)
SELECT CAST(CAST(f.day AS INT) AS DATE) AS date, f.currency, r.rate_to_reporting, r.date AS rate_date
FROM filled f
JOIN fx_rates r ON r.currency = f.currency AND CAST(r.date AS INT) = f.rate_day
