-- Messages of live campaigns (a deleted campaign's messages go with it), one row per message
-- and channel, from either revision's campaign tables (klaviyo_revision()). A 2026-07-15
-- message has one channel; a 2026-10-15 message one variation per channel, its name and
-- send time on the message, the campaign's name in its `definition`, the subject on the
-- variation, its push channel `push` (named `mobile_push` here, as 2026-07-15 names it).
-- `is_first_channel` marks the row a message's attributed conversions go to:
-- Klaviyo credits the message, not one of its channels.
-- 2026-10-15 also reads {{ source('klaviyo', 'campaign_variations') }}
{%- if klaviyo_revision() == '2026-10-15' %}
with messages as (
    select message.*, campaign.definition ->> 'name' as campaign_name
    from {{ source('klaviyo', 'campaign_messages') }} as message
    inner join {{ source('klaviyo', 'campaigns') }} as campaign
        on campaign.id = message.campaign_id and {{ live('campaign') }}
    where {{ live('message') }}
),

channels as (
    -- each channel's first variation, in the message's order of its variations
    select distinct on (variation.campaign_message_id, variation.channel)
        variation.campaign_message_id,
        {{ campaign_channel('variation.channel') }} as channel,
        nullif(variation.subject, '') as subject,
        array_position(message.campaign_variation_ids, variation.id) as position
    from {{ source('klaviyo', 'campaign_variations') }} as variation
    inner join messages as message on message.id = variation.campaign_message_id
    where {{ live('variation') }}
    order by variation.campaign_message_id, variation.channel, position, variation.id
)

select
    message.id as campaign_message_id,
    message.campaign_id,
    message.campaign_name,
    message.status as campaign_status,
    {{ utc_timestamp("message.definition #>> '{send_options,send_time}'") }} as send_time,
    coalesce(channel.channel, {{ campaign_channel('message.channels[1]') }}) as channel,
    channel.subject,
    message.name as message_label,
    row_number() over (
        partition by message.id order by channel.position nulls last, channel.channel
    ) = 1 as is_first_channel
from messages as message
left join channels as channel on channel.campaign_message_id = message.id
{%- else %}
select
    message.id as campaign_message_id,
    message.campaign_id,
    campaign.name as campaign_name,
    campaign.status as campaign_status,
    campaign.send_time,
    coalesce(message.channel, campaign.channel) as channel,
    message.subject,
    message.label as message_label,
    true as is_first_channel
from {{ source('klaviyo', 'campaign_messages') }} as message
inner join {{ source('klaviyo', 'campaigns') }} as campaign
    on campaign.id = message.campaign_id and {{ live('campaign') }}
where {{ live('message') }}
{%- endif %}
