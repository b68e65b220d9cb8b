-- dbt_klaviyo's `campaign`: a campaign with its first message's sender, subject and
-- template (the connector's campaigns had one message).
with first_message as (
    select distinct on (campaign_id) *
    from {{ source('klaviyo', 'campaign_messages') }}
    where {{ live() }}
    order by campaign_id, created_at, id
)

select
    campaign.id,
    campaign.name,
    campaign.channel as campaign_type,
    campaign.status,
    cast(null as text) as status_id,
    campaign.status as status_label,
    campaign.created_at as created,
    campaign.updated_at as updated,
    campaign.send_time,
    case when campaign.status ilike '%sent%' then campaign.send_time end as sent_at,
    campaign.scheduled_at as scheduled,
    campaign.archived,
    message.template_id as email_template_id,
    message.from_email,
    message.from_label as from_name,
    message.subject,
    campaign._sdc_deleted_at is not null as _fivetran_deleted,
    campaign._sdc_batched_at as _fivetran_synced
from {{ source('klaviyo', 'campaigns') }} as campaign
left join first_message as message on message.campaign_id = campaign.id
