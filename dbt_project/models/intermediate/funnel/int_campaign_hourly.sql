-- Delivery per campaign and UTC hour: bids, impressions, spend, clicks, each counted in the
-- hour of its own event. Every one of these events carries its campaign, so this reads
-- staging directly. The base of the campaign report and of pacing.
{{
    config(
        materialized='incremental',
        incremental_strategy=bidlake_incremental_strategy(),
        on_schema_change='fail',
        meta={'incremental': {
            'partition_by': ['report_date', 'hour_of_day'],
            'inputs': {'lake': ['bid', 'impression', 'click']},
        }},
    )
}}

{%- if is_incremental() -%}
    {%- set changed = bidlake_changed_hours() -%}
    {%- set hours = bidlake_hours_union(
        changed['bid'], bidlake_hours_union(changed['impression'], changed['click'])
    ) -%}
{%- endif %}

with

bids as (

    select
        bid_date as report_date,
        bid_hour as hour_of_day,
        campaign_id,
        count(*) as bids,
        sum(bid_price_micros)::bigint as bid_price_micros_sum
    from {{ ref('stg_tracker__bids') }}
    {%- if is_incremental() %}
        where {{ bidlake_hours_filter('bid_date', 'bid_hour', hours) }}
    {%- endif %}
    group by all

),

impressions as (

    select
        impression_date as report_date,
        impression_hour as hour_of_day,
        campaign_id,
        count(*) as impressions,
        sum(clearing_price_micros)::bigint as clearing_price_micros_sum
    from {{ ref('stg_tracker__impressions') }}
    {%- if is_incremental() %}
        where {{ bidlake_hours_filter('impression_date', 'impression_hour', hours) }}
    {%- endif %}
    group by all

),

clicks as (

    select
        click_date as report_date,
        click_hour as hour_of_day,
        campaign_id,
        count(*) as clicks
    from {{ ref('stg_tracker__clicks') }}
    {%- if is_incremental() %}
        where {{ bidlake_hours_filter('click_date', 'click_hour', hours) }}
    {%- endif %}
    group by all

),

unioned as (

    -- Each branch names every column (not UNION ALL BY NAME: DuckDB only).
    select
        report_date,
        hour_of_day,
        campaign_id,
        bids,
        bid_price_micros_sum,
        null::bigint as impressions,
        null::bigint as clearing_price_micros_sum,
        null::bigint as clicks
    from bids
    union all
    select
        report_date,
        hour_of_day,
        campaign_id,
        null::bigint as bids,
        null::bigint as bid_price_micros_sum,
        impressions,
        clearing_price_micros_sum,
        null::bigint as clicks
    from impressions
    union all
    select
        report_date,
        hour_of_day,
        campaign_id,
        null::bigint as bids,
        null::bigint as bid_price_micros_sum,
        null::bigint as impressions,
        null::bigint as clearing_price_micros_sum,
        clicks
    from clicks

),

final as (

    select
        report_date,
        hour_of_day,
        campaign_id,
        coalesce(sum(bids), 0)::bigint as bids,
        coalesce(sum(bid_price_micros_sum), 0)::bigint as bid_price_micros_sum,
        coalesce(sum(impressions), 0)::bigint as impressions,
        coalesce(sum(clearing_price_micros_sum), 0)::bigint as clearing_price_micros_sum,
        coalesce(sum(clicks), 0)::bigint as clicks
    from unioned
    group by report_date, hour_of_day, campaign_id

)

select
    report_date,
    hour_of_day,
    {{ bidlake_hour_start('report_date', 'hour_of_day') }} as report_hour,
    campaign_id,
    bids,
    bid_price_micros_sum,
    impressions,
    clearing_price_micros_sum,
    clicks
from final
