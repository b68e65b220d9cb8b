{#- The Klaviyo API revision of the loaded campaign tables, `2026-07-15` or `2026-10-15`
    (README "Revisions"): the `klaviyo_revision` var when set, else what the `campaigns`
    table says: only 2026-10-15's has a `definition` column (a load without campaigns reads
    as 2026-07-15). While dbt parses, no table is read. -#}
{% macro klaviyo_revision() -%}
    {%- set revisions = ['2026-07-15', '2026-10-15'] -%}
    {%- set chosen = var('klaviyo_revision', none) -%}
    {%- if chosen is not none -%}
        {#- YAML reads an unquoted 2026-10-15 as a date: its text is the revision -#}
        {%- if chosen | string not in revisions -%}
            {{ exceptions.raise_compiler_error(
                "The var klaviyo_revision is '" ~ chosen ~ "': use 2026-07-15 or 2026-10-15, "
                ~ "or leave it unset to read it from the campaigns table.") }}
        {%- endif -%}
        {{ return(chosen | string) }}
    {%- endif -%}
    {%- if not execute -%}
        {{ return(revisions[0]) }}
    {%- endif -%}
    {%- set columns = adapter.get_columns_in_relation(source('klaviyo', 'campaigns')) -%}
    {%- set names = columns | map(attribute='name') | map('lower') | list -%}
    {{ return(revisions[1] if 'definition' in names else revisions[0]) }}
{%- endmacro %}

{#- An ISO 8601 text with its offset (a JSON value) as UTC without zone, as target-postgres
    stores timestamps. -#}
{% macro utc_timestamp(text) -%}
    (cast({{ text }} as timestamptz) at time zone 'UTC')
{%- endmacro %}

{#- A 2026-10-15 campaign channel in 2026-07-15's words (`push` is `mobile_push` there). -#}
{% macro campaign_channel(channel) -%}
    case when {{ channel }} = 'push' then 'mobile_push' else {{ channel }} end
{%- endmacro %}

{#- Each campaign's first live message: the first of the campaign's `campaign_message_ids`
    (Klaviyo's order) where the load has them, else the earliest created, to the second as
    Klaviyo sorts (the sub-second part varies with how a timestamp is written), then id. -#}
{% macro first_campaign_message(created) -%}
    select distinct on (message.campaign_id) message.*
    from {{ source('klaviyo', 'campaign_messages') }} as message
    left join {{ source('klaviyo', 'campaigns') }} as campaign
        on campaign.id = message.campaign_id
    where {{ live('message') }}
    order by message.campaign_id,
        array_position(campaign.campaign_message_ids, message.id),
        date_trunc('second', message.{{ created }}), message.id
{%- endmacro %}
