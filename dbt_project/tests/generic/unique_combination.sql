{#- The grain of a model: fails once per combination of `columns` that occurs more than once.
    NULLs are a value like any other here (an impression without a known exchange still
    belongs to exactly one row). -#}
{% test unique_combination(model, columns) %}

select {{ columns | join(', ') }}, count(*) as rows_with_this_key
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1

{% endtest %}
