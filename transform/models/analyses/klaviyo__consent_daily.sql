{{ config(
    materialized='incremental',
    unique_key='day',
    incremental_strategy='delete+insert',
    full_refresh=false,
) }}
-- The history of klaviyo__consent: one snapshot per account day (the day of the load; a
-- second load that day replaces it). History cannot be rebuilt from the profiles, so a
-- --full-refresh keeps this table.
select snapshot.day, counts.*
from ({{ consent_counts() }}) as counts
cross join (
    select {{ local_day('max(profile.loaded_at)', 'max(account.timezone)') }} as day
    from {{ ref('stg_klaviyo__profiles') }} as profile
    cross join {{ ref('stg_klaviyo__account') }} as account
) as snapshot
