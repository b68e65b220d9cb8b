-- dbt_klaviyo's `event`: the metric name as `type`, the credited campaign or flow as
-- columns, `$value` as property_value.
select
    id,
    metric_name as type,
    metric_id,
    profile_id as person_id,
    datetime,
    coalesce(to_timestamp(timestamp) at time zone 'UTC', datetime) as timestamp,
    uuid,
    attributed_campaign_id as campaign_id,
    attributed_flow_id as flow_id,
    attributed_flow_message_id as flow_message_id,
    attributed_variation_id as _variation,
    event_properties ->> '$value' as property_value,
    case when attributions is not null then array_to_json(attributions)::text end
        as property_attribution,
    event_properties ->> 'Subject' as property_subject,
    _sdc_deleted_at is not null as _fivetran_deleted,
    _sdc_batched_at as _fivetran_synced
from {{ source('klaviyo', 'events') }}
