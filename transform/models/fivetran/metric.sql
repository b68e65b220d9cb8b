-- dbt_klaviyo's `metric`: the integration object flattened (its category is a name, or an
-- object holding one on some accounts).
select
    id,
    name,
    created,
    updated,
    integration ->> 'id' as integration_id,
    integration ->> 'name' as integration_name,
    case jsonb_typeof(integration -> 'category')
        when 'object' then integration -> 'category' ->> 'category'
        else integration ->> 'category'
    end as integration_category,
    _sdc_deleted_at is not null as _fivetran_deleted,
    _sdc_batched_at as _fivetran_synced
from {{ source('klaviyo', 'metrics') }}
