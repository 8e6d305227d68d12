{# The bid request's context as the bidder saw it at bid time, read from `relation` (the
   impressions CTE of a training model): the columns both ftr_*_training tables carry, in
   this order, between the ids and campaign_id (docs/interfaces.md).
   The list is not owned here: it is ml/features.py's RAW_FIELDS, the bid-time fields the
   bidder scores and training reads, minus campaign_id and creative_id (those come from the
   bid, selected after it). dbt cannot import Python, so the names are repeated here, and
   tests/ml/test_features.py renders this macro and fails unless it lists exactly those
   fields in RAW_FIELDS's order (and the marts' contracts declare them with its types).
   Renders `relation.column` comma-separated, one per line, with no trailing comma. #}
{% macro bid_time_request_columns(relation) -%}
    {%- set columns = [
        'exchange', 'publisher_id', 'site_domain', 'app_bundle', 'placement_id',
        'ad_format', 'ad_width', 'ad_height', 'slot_visibility', 'device_type', 'os',
        'browser', 'country', 'region', 'city', 'user_hour', 'bidfloor_micros',
        'user_segments',
    ] -%}
    {%- for column in columns -%}
        {{ relation }}.{{ column }}{{ ",\n        " if not loop.last }}
    {%- endfor -%}
{%- endmacro %}
