{{ config(
    materialized='incremental',
    unique_key='day',
    incremental_strategy='delete+insert',
) }}
-- Per account day and metric: events, unique profiles and value. Incremental: each run
-- recounts the days the last load brought events for; the other days stay as they are.
select
    occurred_on as day,
    coalesce(metric_id, '(unknown)') as metric_id,
    coalesce(max(metric_name), '(unknown metric)') as metric_name,
    count(*) as events,
    count(distinct profile_id) as unique_profiles,
    coalesce(sum(value), 0) as value,
    max(loaded_at) as loaded_at
from {{ ref('int_klaviyo__events') }}
{% if is_incremental() %}
where occurred_on in (
    select occurred_on from {{ ref('int_klaviyo__events') }}
    where loaded_at > (select coalesce(max(loaded_at), '-infinity') from {{ this }})
)
{% endif %}
group by 1, 2
