-- Conversions Klaviyo credits to a live campaign or flow message (its first attribution,
-- the events' `attributed_*` columns). Conversions credited to a message since deleted
-- are left out, as are that message's rows in every model. A campaign message of several
-- channels (revision 2026-10-15) lends its first channel.
select
    event.event_id,
    event.profile_id,
    event.occurred_at,
    event.occurred_on,
    coalesce(event.value, 0) as revenue,
    case when campaign.campaign_message_id is not null then 'campaign' else 'flow' end
        as source_type,
    coalesce(campaign.campaign_id, flow.flow_id) as campaign_or_flow_id,
    coalesce(campaign.campaign_name, flow.flow_name) as campaign_or_flow_name,
    coalesce(campaign.campaign_message_id, flow.flow_message_id) as message_id,
    coalesce(campaign.channel, flow.channel) as channel
from {{ ref('int_klaviyo__events') }} as event
left join {{ ref('stg_klaviyo__campaign_messages') }} as campaign
    on campaign.campaign_message_id = event.attributed_campaign_message_id
    and campaign.is_first_channel
left join {{ ref('stg_klaviyo__flow_messages') }} as flow
    on flow.flow_message_id = event.attributed_flow_message_id
where event.is_conversion
    and (campaign.campaign_message_id is not null or flow.flow_message_id is not null)
