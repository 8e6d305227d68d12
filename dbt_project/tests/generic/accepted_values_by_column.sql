{#- accepted_values for several columns in one streaming pass: fails once per (column,
    value) that is not accepted, with its count. NULLs pass, as with accepted_values.
    `values` maps each column to its accepted values. -#}
{% test accepted_values_by_column(model, values) %}

with

rejected as (

    -- Per column, the value when it is not accepted, else NULL (which UNPIVOT drops).
    select
    {%- for column, accepted in values.items() %}
        case
            when {{ column }} not in ({% for v in accepted %}'{{ v }}'{{ ', ' if not loop.last }}{% endfor %})
                then {{ column }}::{{ bidlake_type('varchar') }}
        end as {{ column }}{{ ',' if not loop.last }}
    {%- endfor %}
    from {{ model }}

)

select column_name, value, count(*) as n_records
from (
    {{ bidlake_unpivot('rejected', values.keys() | list, 'column_name', 'value') }}
) as unpivoted
group by column_name, value

{% endtest %}
