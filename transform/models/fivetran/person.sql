-- dbt_klaviyo's `person`: the location object flattened into columns.
select
    id,
    email,
    phone_number,
    first_name,
    last_name,
    organization,
    title,
    created,
    updated,
    last_event_date,
    location ->> 'address1' as address_1,
    location ->> 'address2' as address_2,
    location ->> 'city' as city,
    location ->> 'region' as region,
    location ->> 'country' as country,
    location ->> 'zip' as zip,
    location ->> 'timezone' as timezone,
    cast({{ json_number("location -> 'latitude'") }} as double precision) as latitude,
    cast({{ json_number("location -> 'longitude'") }} as double precision) as longitude,
    _sdc_deleted_at is not null as _fivetran_deleted,
    _sdc_batched_at as _fivetran_synced
from {{ source('klaviyo', 'profiles') }}
