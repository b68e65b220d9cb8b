-- Per account day, campaign or flow, message and channel: the conversions and revenue
-- Klaviyo credits, in the account's currency and timezone.
select
    conversion.occurred_on as day,
    conversion.source_type,
    conversion.campaign_or_flow_id,
    conversion.campaign_or_flow_name,
    conversion.message_id,
    conversion.channel,
    count(*) as conversions,
    count(distinct conversion.profile_id) as converters,
    sum(conversion.revenue) as revenue,
    account.currency,
    account.timezone
from {{ ref('int_klaviyo__attributed_conversions') }} as conversion
cross join {{ ref('stg_klaviyo__account') }} as account
group by 1, 2, 3, 4, 5, 6, account.currency, account.timezone
