-- One row per live profile: consent, suppression, lifecycle stage, churn, value, groups.
with load as (
    -- "now" is the load's time, not the clock's: a rebuild gives the same stages
    select max(loaded_at) as as_of from {{ ref('stg_klaviyo__profiles') }}
),

activity as (
    -- what happened by the load (Klaviyo accepts future-dated events: not activity yet)
    select
        profile_id,
        min(occurred_at) as first_event_at,
        max(occurred_at) as last_event_at,
        count(*) filter (where is_conversion) as orders,
        coalesce(sum(value) filter (where is_conversion), 0) as revenue,
        max(occurred_at) filter (where is_conversion) as last_order_at
    from {{ ref('int_klaviyo__events') }}
    where profile_id is not null and occurred_at <= (select as_of from load)
    group by profile_id
),

groups as (
    select
        profile_id,
        count(*) filter (where group_type = 'list') as lists_count,
        count(*) filter (where group_type = 'segment') as segments_count
    from {{ ref('stg_klaviyo__memberships') }}
    group by profile_id
),

persons as (
    select
        profile.*,
        least(activity.first_event_at, profile.created_at) as first_activity_at,
        greatest(activity.last_event_at, profile.last_event_at) as last_activity_at,
        coalesce(activity.orders, 0) as orders,
        coalesce(activity.revenue, 0) as revenue,
        activity.last_order_at,
        coalesce(groups.lists_count, 0) as lists_count,
        coalesce(groups.segments_count, 0) as segments_count,
        load.as_of
    from {{ ref('stg_klaviyo__profiles') }} as profile
    cross join load
    left join activity on activity.profile_id = profile.profile_id
    left join groups on groups.profile_id = profile.profile_id
)

select
    profile_id,
    email,
    phone_number,
    created_at,
    email_consent,
    can_receive_email_marketing,
    email_suppressed,
    email_suppression_reason,
    sms_consent,
    can_receive_sms_marketing,
    first_activity_at,
    last_activity_at,
    orders,
    revenue,
    last_order_at,
    case
        when coalesce(last_activity_at, created_at) < as_of - interval '{{ var("klaviyo_lapsed_days") }} days'
            then 'lapsed'
        when coalesce(last_activity_at, created_at) < as_of - interval '{{ var("klaviyo_active_days") }} days'
            then 'at_risk'
        when orders = 0 then 'prospect'
        when orders = 1 then 'new_customer'
        else 'repeat_customer'
    end as lifecycle_stage,
    churn_probability,
    case when churn_probability is not null
        then least(10, greatest(1, floor(churn_probability * 10)::int + 1))
    end as churn_decile,
    predicted_clv,
    historic_clv,
    predicted_historic_orders,
    lists_count,
    segments_count,
    as_of
from persons
