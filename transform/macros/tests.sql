{#- The rows whose combination of `columns` is not unique (as dbt_utils's test, without the
    package: `dbt deps` would need the dbt Hub, and PyPI is all this project installs from). -#}
{% test unique_combination(model, columns) %}
select {{ columns | join(', ') }}
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}
