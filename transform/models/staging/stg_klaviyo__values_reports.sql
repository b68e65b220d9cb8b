-- The latest values report row of each campaign or flow message and channel: a run's
-- report covers the last `report_timeframe_days` days and replaces the runs before.
{%- set statistics = [
    "recipients", "delivered", "opens_unique", "clicks_unique", "conversions",
    "conversion_uniques", "conversion_value", "unsubscribe_uniques", "delivery_rate",
    "open_rate", "click_rate", "click_to_open_rate", "conversion_rate", "unsubscribe_rate",
    "revenue_per_recipient", "average_order_value",
] %}

with reports as (
    {%- for source_type in ["campaign", "flow"] %}
    select
        '{{ source_type }}' as source_type,
        {{ source_type }}_message_id as message_id,
        send_channel as channel,
        timeframe_start,
        timeframe_end,
        extracted_at,
        {{ statistics | join(", ") }}
    from {{ source('klaviyo', source_type ~ '_values_reports') }}
    where {{ live() }}
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
)

select distinct on (source_type, message_id, channel)
    source_type, message_id, channel, timeframe_start, timeframe_end,
    {{ statistics | join(", ") }}
from reports
order by source_type, message_id, channel, timeframe_end desc, extracted_at desc
