{#- One row per live campaign (or flow) message and channel: Klaviyo's reported statistics
    (the latest values report) beside what the events credit to the message, on the row of
    its first channel (a campaign message of several channels, revision 2026-10-15). -#}
{% macro message_performance(source_type) -%}
with attributed as (
    select
        message_id,
        count(*) as attributed_conversions,
        count(distinct profile_id) as attributed_converters,
        sum(revenue) as attributed_revenue
    from {{ ref('int_klaviyo__attributed_conversions') }}
    where source_type = '{{ source_type }}'
    group by message_id
)

select
    message.{{ source_type }}_message_id,
    message.channel,
    message.{{ source_type }}_id,
    message.{{ source_type }}_name,
    message.{{ source_type }}_status,
    {%- if source_type == 'campaign' %}
    message.send_time,
    message.subject,
    {%- else %}
    message.trigger_type,
    message.message_name,
    {%- endif %}
    report.timeframe_start as report_timeframe_start,
    report.timeframe_end as report_timeframe_end,
    report.recipients,
    report.delivered,
    report.opens_unique,
    report.clicks_unique,
    report.conversions as reported_conversions,
    report.conversion_uniques as reported_conversion_uniques,
    report.conversion_value as reported_conversion_value,
    report.unsubscribe_uniques,
    report.delivery_rate,
    report.open_rate,
    report.click_rate,
    report.click_to_open_rate,
    report.conversion_rate,
    report.unsubscribe_rate,
    report.revenue_per_recipient,
    report.average_order_value,
    coalesce(attributed.attributed_conversions, 0) as attributed_conversions,
    coalesce(attributed.attributed_converters, 0) as attributed_converters,
    coalesce(attributed.attributed_revenue, 0) as attributed_revenue,
    account.currency
from {{ ref('stg_klaviyo__' ~ source_type ~ '_messages') }} as message
cross join {{ ref('stg_klaviyo__account') }} as account
left join {{ ref('stg_klaviyo__values_reports') }} as report
    on report.source_type = '{{ source_type }}'
    and report.message_id = message.{{ source_type }}_message_id
    and {{ channel_family('report.channel') }} = {{ channel_family('message.channel') }}
left join attributed on attributed.message_id = message.{{ source_type }}_message_id
    {%- if source_type == 'campaign' %}
    and message.is_first_channel
    {%- endif %}
{%- endmacro %}
