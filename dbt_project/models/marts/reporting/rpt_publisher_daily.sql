-- Per exchange, publisher and UTC day: supply, what we bought, what it cost, clicks.
-- A roll-up of int_publisher_hourly, rebuilt only for the days it changed.
{{
    config(
        materialized='incremental',
        incremental_strategy=bidlake_incremental_strategy(),
        on_schema_change='fail',
        meta={'incremental': {
            'partition_by': ['report_date'],
            'inputs': {'models': ['int_publisher_hourly']},
        }},
    )
}}

{%- if is_incremental() -%}
    {%- set days = bidlake_hours_days(bidlake_changed_hours()['int_publisher_hourly']) -%}
{%- endif %}

with

publisher_hourly as (

    select * from {{ ref('int_publisher_hourly') }}
    {%- if is_incremental() %}
        where {{ bidlake_days_filter('report_date', days) }}
    {%- endif %}

),

rolled_up as (

    select
        report_date,
        exchange,
        publisher_id,
        sum(bid_requests)::bigint as bid_requests,
        sum(bids)::bigint as bids,
        sum(impressions)::bigint as impressions,
        sum(clearing_price_micros_sum)::bigint as clearing_price_micros_sum,
        sum(clicks)::bigint as clicks
    from publisher_hourly
    group by report_date, exchange, publisher_id

),

final as (

    select
        report_date,
        exchange,
        publisher_id,
        bid_requests,
        bids,
        {{ safe_divide('bids', 'bid_requests') }} as bid_rate,
        impressions,
        {{ safe_divide('impressions', 'bids') }} as win_rate,
        {{ spend_micros('clearing_price_micros_sum') }} as spend_micros,
        clicks,
        {{ safe_divide('clicks', 'impressions') }} as ctr,
        {{ safe_divide('clearing_price_micros_sum / 1e6', 'impressions') }} as ecpm
    from rolled_up

)

select * from final
