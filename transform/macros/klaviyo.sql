{#- A JSON value as a number: numbers as they are, numeric strings (some integrations send
    them) cast, anything else null. -#}
{% macro json_number(value) -%}
    case
        when jsonb_typeof({{ value }}) = 'number' then ({{ value }} #>> '{}')::numeric
        when jsonb_typeof({{ value }}) = 'string'
            and btrim({{ value }} #>> '{}') ~ '^-?[0-9]+(\.[0-9]+)?$'
            then btrim({{ value }} #>> '{}')::numeric
    end
{%- endmacro %}

{#- The account's local day of a UTC timestamp (target-postgres stores them without zone). -#}
{% macro local_day(utc_timestamp, timezone) -%}
    cast(({{ utc_timestamp }} at time zone 'UTC') at time zone {{ timezone }} as date)
{%- endmacro %}

{#- Rows of a loaded table that Klaviyo still has: target-postgres marks the others. -#}
{% macro live(alias=none) -%}
    {{ alias ~ '.' if alias else '' }}_sdc_deleted_at is null
{%- endmacro %}

{#- One name for the push channel: messages say `mobile_push` (campaigns) or `push` (flows),
    values reports `push-notification`. -#}
{% macro channel_family(channel) -%}
    case when {{ channel }} in ('mobile_push', 'push', 'push-notification') then 'push'
        else {{ channel }} end
{%- endmacro %}
