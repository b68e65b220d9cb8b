{#- A model's own schema (the compatibility layer's) is used as named, not appended to the
    profile's schema as dbt does by default: users point dbt_klaviyo at klaviyo_fivetran. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {{ custom_schema_name | trim if custom_schema_name else target.schema }}
{%- endmacro %}
