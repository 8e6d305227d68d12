{# The bid request's context as the bidder saw it at bid time, read from `relation` (the
   impressions CTE of a training model): the columns both ftr_*_training tables carry, in
   this order, between the ids and campaign_id. Changing the list changes both tables'
   contract (docs/interfaces.md) and must agree with ml/features.py's field types.
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
