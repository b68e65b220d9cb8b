-- The account's timezone and currency: the days and money of every analysis.
select
    id as account_id,
    coalesce(nullif(timezone, ''), 'UTC') as timezone,
    coalesce(nullif(preferred_currency, ''), 'USD') as currency
from {{ source('klaviyo', 'accounts') }}
where {{ live() }}
order by _sdc_batched_at desc
limit 1
