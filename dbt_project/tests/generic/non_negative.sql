{#- Fails on every row where the column is below zero (NULLs pass: not_null says if they may). -#}
{% test non_negative(model, column_name) %}

select {{ column_name }}
from {{ model }}
where {{ column_name }} < 0

{% endtest %}
