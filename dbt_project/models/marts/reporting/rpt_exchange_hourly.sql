-- Per exchange and UTC hour: opportunities, bids, impressions, spend, clicks and the rates
-- between them. A roll-up of int_publisher_hourly, rebuilt only for the hours it changed.
{{
    config(
        materialized='incremental',
        incremental_strategy=bidlake_incremental_strategy(),
        on_schema_change='fail',
        meta={'incremental': {
            'partition_by': ['report_date', 'hour_of_day'],
            'inputs': {'models': ['int_publisher_hourly']},
        }},
    )
}}

{%- if is_incremental() -%}
    {%- set hours = bidlake_changed_hours()['int_publisher_hourly'] -%}
{%- endif %}

with

publisher_hourly as (

    select * from {{ ref('int_publisher_hourly') }}
    {%- if is_incremental() %}
        where {{ bidlake_hours_filter('report_date', 'hour_of_day', hours) }}
    {%- endif %}

),

rolled_up as (

    select
        exchange,
        report_hour,
        report_date,
        hour_of_day,
        sum(bid_requests)::bigint as bid_requests,
        sum(bids)::bigint as bids,
        sum(impressions)::bigint as impressions,
        sum(clearing_price_micros_sum)::bigint as clearing_price_micros_sum,
        sum(clicks)::bigint as clicks
    from publisher_hourly
    group by exchange, report_hour, report_date, hour_of_day

),

final as (

    select
        exchange,
        report_hour,
        report_date,
        hour_of_day,
        bid_requests,
        bids,
        {{ safe_divide('bids', 'bid_requests') }} as bid_rate,
        impressions,
        {{ safe_divide('impressions', 'bids') }} as win_rate,
        {{ spend_micros('clearing_price_micros_sum') }} as spend_micros,
        clicks,
        {{ safe_divide('clicks', 'impressions') }} as ctr,
        -- Cost per thousand impressions in currency units (micros / 1e6).
        {{ safe_divide('clearing_price_micros_sum / 1e6', 'impressions') }} as ecpm
    from rolled_up

)

select * from final
