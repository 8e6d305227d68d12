-- Why the bidder passed: per UTC hour, exchange and no-bid reason, how many opportunities
-- and what share of that exchange's opportunities of the hour.
{{
    config(
        materialized='incremental',
        incremental_strategy=bidlake_incremental_strategy(),
        on_schema_change='fail',
        meta={'incremental': {
            'partition_by': ['report_date', 'hour_of_day'],
            'inputs': {'lake': ['bid_request']},
        }},
    )
}}

{%- if is_incremental() -%}
    {%- set hours = bidlake_changed_hours()['bid_request'] -%}
{%- else -%}
{%- set hours = bidlake_lake_hours(['bid_request']) -%}
{%- endif %}

with

requests as (

    {#- One aggregate per batch of hours (bidlake_hour_batches). -#}
    {% call(batch) bidlake_for_each_batch(hours) %}
    select
        request_date as report_date,
        request_hour as hour_of_day,
        exchange,
        no_bid_reason,
        count(*) as bid_requests
    from {{ ref('stg_tracker__bid_requests') }}
    where {{ bidlake_hours_filter('request_date', 'request_hour', batch) }}
    group by all
    {% endcall %}

),

with_totals as (

    select
        *,
        sum(bid_requests) over (
            partition by report_date, hour_of_day, exchange
        )::bigint as exchange_bid_requests
    from requests

),

final as (

    select
        {{ bidlake_hour_start('report_date', 'hour_of_day') }} as report_hour,
        report_date,
        hour_of_day,
        exchange,
        no_bid_reason,
        bid_requests as no_bids,
        exchange_bid_requests as bid_requests,
        {{ safe_divide('bid_requests', 'exchange_bid_requests') }} as share_of_bid_requests
    from with_totals
    where no_bid_reason is not null

)

select * from final
