{{ config(
    materialized='incremental',
    unique_key='event_id',
    incremental_strategy='delete+insert',
) }}
-- Every event, typed once: the input of the event analyses. Incremental: each run adds the
-- events the last load wrote or rewrote (late events read again replace their row).
select
    event.id as event_id,
    event.profile_id,
    event.metric_id,
    event.metric_name,
    event.datetime as occurred_at,
    {{ local_day('event.datetime', 'account.timezone') }} as occurred_on,
    {{ json_number("event.event_properties -> '$value'") }} as value,
    event.metric_name = '{{ var("klaviyo_conversion_metric") }}' as is_conversion,
    event.attributed_campaign_id,
    event.attributed_campaign_message_id,
    event.attributed_flow_id,
    event.attributed_flow_message_id,
    event._sdc_batched_at as loaded_at
from {{ source('klaviyo', 'events') }} as event
cross join {{ ref('stg_klaviyo__account') }} as account
where {{ live('event') }}
{% if is_incremental() %}
    -- the rows of the loads since the last run (a target batch is one transaction)
    and event._sdc_batched_at > (select coalesce(max(loaded_at), '-infinity') from {{ this }})
{% endif %}
