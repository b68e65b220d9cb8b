-- Messages of live campaigns (a deleted campaign's messages go with it).
select
    message.id as campaign_message_id,
    message.campaign_id,
    campaign.name as campaign_name,
    campaign.status as campaign_status,
    campaign.send_time,
    coalesce(message.channel, campaign.channel) as channel,
    message.subject,
    message.label as message_label
from {{ source('klaviyo', 'campaign_messages') }} as message
inner join {{ source('klaviyo', 'campaigns') }} as campaign
    on campaign.id = message.campaign_id and {{ live('campaign') }}
where {{ live('message') }}
