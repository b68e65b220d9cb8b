-- Messages of live flows (a deleted flow's messages go with it).
select
    message.id as flow_message_id,
    message.flow_id,
    flow.name as flow_name,
    flow.status as flow_status,
    flow.trigger_type,
    message.channel,
    message.name as message_name
from {{ source('klaviyo', 'flow_messages') }} as message
inner join {{ source('klaviyo', 'flows') }} as flow
    on flow.id = message.flow_id and {{ live('flow') }}
where {{ live('message') }}
