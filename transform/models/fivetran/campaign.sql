-- dbt_klaviyo's `campaign`: a campaign with its first message's sender, subject and
-- template (the connector's campaigns had one message), from either revision's campaign
-- tables (klaviyo_revision()). In 2026-10-15 the name is the campaign's `definition`'s, the
-- channel, status and send time its first message's, the sender, subject and template the
-- variation of that message's first channel; nothing says when it was scheduled.
-- 2026-10-15 also reads {{ source('klaviyo', 'campaign_variations') }}
{%- if klaviyo_revision() == '2026-10-15' %}
with first_message as (
    {{ first_campaign_message('created') }}
),

first_variation as (
    select distinct on (variation.campaign_message_id) variation.*
    from {{ source('klaviyo', 'campaign_variations') }} as variation
    inner join first_message as message on message.id = variation.campaign_message_id
    where {{ live('variation') }}
    order by variation.campaign_message_id,
        array_position(message.campaign_variation_ids, variation.id), variation.id
),

campaigns as (
    select
        campaign.*,
        campaign.definition ->> 'name' as name,
        {{ campaign_channel('coalesce(variation.channel, message.channels[1])') }} as channel,
        message.status,
        {{ utc_timestamp("message.definition #>> '{send_options,send_time}'") }} as send_time,
        cast(null as timestamp) as scheduled_at,
        variation.template_id,
        variation.from_email,
        variation.from_label,
        nullif(variation.subject, '') as subject
    from {{ source('klaviyo', 'campaigns') }} as campaign
    left join first_message as message on message.campaign_id = campaign.id
    left join first_variation as variation on variation.campaign_message_id = message.id
)
{%- else %}
with first_message as (
    {{ first_campaign_message('created_at') }}
),

campaigns as (
    select
        campaign.*,
        message.template_id,
        message.from_email,
        message.from_label,
        message.subject
    from {{ source('klaviyo', 'campaigns') }} as campaign
    left join first_message as message on message.campaign_id = campaign.id
)
{%- endif %}

select
    id,
    name,
    channel as campaign_type,
    status,
    cast(null as text) as status_id,
    status as status_label,
    created_at as created,
    updated_at as updated,
    send_time,
    case when status ilike '%sent%' then send_time end as sent_at,
    scheduled_at as scheduled,
    archived,
    template_id as email_template_id,
    from_email,
    from_label as from_name,
    subject,
    _sdc_deleted_at is not null as _fivetran_deleted,
    _sdc_batched_at as _fivetran_synced
from campaigns
