-- Live profiles with their consent and predictions as columns.
with profiles as (
    select
        *,
        subscriptions -> 'email' -> 'marketing' as email_marketing,
        subscriptions -> 'sms' -> 'marketing' as sms_marketing
    from {{ source('klaviyo', 'profiles') }}
    where {{ live() }}
)

select
    id as profile_id,
    email,
    phone_number,
    created as created_at,
    updated as updated_at,
    last_event_date as last_event_at,
    coalesce(email_marketing ->> 'consent', 'UNKNOWN') as email_consent,
    coalesce((email_marketing ->> 'can_receive_email_marketing')::boolean, false)
        as can_receive_email_marketing,
    coalesce(jsonb_array_length(
        case when jsonb_typeof(email_marketing -> 'suppression') = 'array'
            then email_marketing -> 'suppression' end
    ), 0) > 0 as email_suppressed,
    email_marketing -> 'suppression' -> 0 ->> 'reason' as email_suppression_reason,
    coalesce(sms_marketing ->> 'consent', 'UNKNOWN') as sms_consent,
    coalesce((sms_marketing ->> 'can_receive_sms_marketing')::boolean, false)
        as can_receive_sms_marketing,
    {{ json_number("predictive_analytics -> 'churn_probability'") }} as churn_probability,
    {{ json_number("predictive_analytics -> 'predicted_clv'") }} as predicted_clv,
    {{ json_number("predictive_analytics -> 'historic_clv'") }} as historic_clv,
    {{ json_number("predictive_analytics -> 'historic_number_of_orders'") }}
        as predicted_historic_orders,
    _sdc_batched_at as loaded_at
from profiles
