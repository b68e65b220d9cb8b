-- dbt_klaviyo's `flow`.
select
    id,
    name,
    status,
    created,
    updated,
    archived,
    trigger_type,
    _sdc_deleted_at is not null as _fivetran_deleted,
    _sdc_batched_at as _fivetran_synced
from {{ source('klaviyo', 'flows') }}
