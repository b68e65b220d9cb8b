{#- Live profiles per channel (email, sms) and consent state, with how many of them can be
    sent marketing and how many are suppressed. -#}
{% macro consent_counts() -%}
    {%- for channel in ["email", "sms"] %}
    select
        '{{ channel }}' as channel,
        {{ channel }}_consent as consent,
        count(*) as profiles,
        count(*) filter (where can_receive_{{ channel }}_marketing) as can_receive_marketing,
        count(*) filter (where {{ 'email_suppressed' if channel == 'email' else 'false' }})
            as suppressed
    from {{ ref('stg_klaviyo__profiles') }}
    group by {{ channel }}_consent
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
{%- endmacro %}
