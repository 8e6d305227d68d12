-- Delivery per exchange, publisher and UTC hour: opportunities, bids, impressions, spend,
-- clicks - each counted in the hour of its own event. The base of the exchange and
-- publisher reports: they roll this up, never the event tables.
{{
    config(
        materialized='incremental',
        incremental_strategy=bidlake_incremental_strategy(),
        on_schema_change='fail',
        meta={'incremental': {
            'partition_by': ['report_date', 'hour_of_day'],
            'inputs': {
                'lake': ['bid_request', 'click'],
                'models': ['int_bids_joined_to_requests', 'int_impressions_joined_to_bids'],
            },
        }},
    )
}}

{%- set click_max_delay = var('click_max_delay_hours') | int -%}
{%- if is_incremental() -%}
    {%- set changed = bidlake_changed_hours() -%}
    {%- set impression_hours = changed['int_impressions_joined_to_bids'] -%}
    {#- Clicks take their exchange and publisher from their impression: a rebuilt impression
        hour can change the clicks of later hours. Clicks are few; find their hours. -#}
    {%- set clicked_hours = [] -%}
    {%- if execute and impression_hours | length > 0 -%}
        {%- set query -%}
            select distinct (epoch(c.click_date)::bigint // 3600 + c.click_hour)::bigint
            from {{ ref('stg_tracker__clicks') }} as c
            where
                c.click_date >= {{ bidlake_epoch_day_literal(impression_hours[0] // 24) }}
                and c.bid_id in (
                    select i.bid_id from {{ ref('int_impressions_joined_to_bids') }} as i
                    where
                        {{ bidlake_hours_range('i.impression_at', impression_hours) }}
                        and {{ bidlake_hours_filter('i.impression_date', 'i.impression_hour', impression_hours) }}
                )
        {%- endset -%}
        {%- set clicked_hours = run_query(query).columns[0].values() | map('int') | list -%}
    {%- endif -%}
    {%- set hours = bidlake_hours_union(
        bidlake_hours_union(changed['bid_request'], changed['click']),
        bidlake_hours_union(
            bidlake_hours_union(changed['int_bids_joined_to_requests'], impression_hours),
            clicked_hours
        )
    ) -%}
    {%- set request_hours = hours -%}
{%- else -%}
{%- set request_hours = bidlake_lake_hours(['bid_request']) -%}
{%- endif %}

with

requests as (

    {#- One aggregate per batch of hours (bidlake_hour_batches). -#}
    {% call(batch) bidlake_for_each_batch(request_hours) %}
    select
        request_date as report_date,
        request_hour as hour_of_day,
        exchange,
        publisher_id,
        count(*) as bid_requests
    from {{ ref('stg_tracker__bid_requests') }}
    where {{ bidlake_hours_filter('request_date', 'request_hour', batch) }}
    group by all
    {% endcall %}

),

bids as (

    select
        bid_date as report_date,
        bid_hour as hour_of_day,
        exchange,
        publisher_id,
        count(*) as bids
    from {{ ref('int_bids_joined_to_requests') }}
    {%- if is_incremental() %}
        where
            {{ bidlake_hours_range('bid_at', hours) }}
            and {{ bidlake_hours_filter('bid_date', 'bid_hour', hours) }}
    {%- endif %}
    group by all

),

impressions as (

    select
        impression_date as report_date,
        impression_hour as hour_of_day,
        exchange,
        publisher_id,
        count(*) as impressions,
        sum(clearing_price_micros)::bigint as clearing_price_micros_sum
    from {{ ref('int_impressions_joined_to_bids') }}
    {%- if is_incremental() %}
        where
            {{ bidlake_hours_range('impression_at', hours) }}
            and {{ bidlake_hours_filter('impression_date', 'impression_hour', hours) }}
    {%- endif %}
    group by all

),

clicks as (

    select
        clicks.click_date as report_date,
        clicks.click_hour as hour_of_day,
        impressions.exchange,
        impressions.publisher_id,
        count(*) as clicks
    from {{ ref('stg_tracker__clicks') }} as clicks
    left join {{ ref('int_impressions_joined_to_bids') }} as impressions
        on
            clicks.bid_id = impressions.bid_id
    {%- if is_incremental() %}
            and impressions.impression_at
            >= {{ bidlake_epoch_hour_literal(hours[0] - click_max_delay) if hours else 'null' }}
            {%- endif %}
    {%- if is_incremental() %}
        where {{ bidlake_hours_filter('clicks.click_date', 'clicks.click_hour', hours) }}
    {%- endif %}
    group by all

),

unioned as (

    -- Each branch names every column (not UNION ALL BY NAME: DuckDB only).
    select
        report_date,
        hour_of_day,
        exchange,
        publisher_id,
        bid_requests,
        null::bigint as bids,
        null::bigint as impressions,
        null::bigint as clearing_price_micros_sum,
        null::bigint as clicks
    from requests
    union all
    select
        report_date,
        hour_of_day,
        exchange,
        publisher_id,
        null::bigint as bid_requests,
        bids,
        null::bigint as impressions,
        null::bigint as clearing_price_micros_sum,
        null::bigint as clicks
    from bids
    union all
    select
        report_date,
        hour_of_day,
        exchange,
        publisher_id,
        null::bigint as bid_requests,
        null::bigint as bids,
        impressions,
        clearing_price_micros_sum,
        null::bigint as clicks
    from impressions
    union all
    select
        report_date,
        hour_of_day,
        exchange,
        publisher_id,
        null::bigint as bid_requests,
        null::bigint as bids,
        null::bigint as impressions,
        null::bigint as clearing_price_micros_sum,
        clicks
    from clicks

),

final as (

    select
        report_date,
        hour_of_day,
        exchange,
        publisher_id,
        coalesce(sum(bid_requests), 0)::bigint as bid_requests,
        coalesce(sum(bids), 0)::bigint as bids,
        coalesce(sum(impressions), 0)::bigint as impressions,
        coalesce(sum(clearing_price_micros_sum), 0)::bigint as clearing_price_micros_sum,
        coalesce(sum(clicks), 0)::bigint as clicks
    from unioned
    group by report_date, hour_of_day, exchange, publisher_id

)

select
    report_date,
    hour_of_day,
    {{ bidlake_hour_start('report_date', 'hour_of_day') }} as report_hour,
    exchange,
    publisher_id,
    bid_requests,
    bids,
    impressions,
    clearing_price_micros_sum,
    clicks
from final
