-- One row per bid, with the opportunity it answered: where (exchange, publisher), to whom,
-- and every feature the bidder could see at bid time. The heaviest join of the project
-- (bids x bid requests), done once per bid hour; everything downstream reads this.
{{
    config(
        materialized='incremental',
        incremental_strategy=bidlake_incremental_strategy(),
        on_schema_change='fail',
        meta={'incremental': {
            'partition_by': ['bid_date', 'bid_hour'],
            'inputs': {'lake': ['bid', 'bid_request']},
        }},
    )
}}

{%- if is_incremental() -%}
    {%- set changed = bidlake_changed_hours() -%}
    {#- A bid leaves within tmax (about 100 ms) of its request, so the request of a bid of
        hour h is in hour h or h - 1, and a changed request hour h changes bids of hours h
        and h + 1. -#}
    {%- set bid_hours = bidlake_hours_union(
        changed['bid'], bidlake_hours_shift(changed['bid_request'], 0, 1)
    ) -%}
{%- endif %}

{#- Not batched by hour (bidlake_for_each_batch) like the aggregates: union branches that
    each hold a join's build side and de-duplication window ran DuckDB out of memory. -#}
with

bids as (

    select * from {{ ref('stg_tracker__bids') }}
    {%- if is_incremental() %}
        where {{ bidlake_hours_filter('bid_date', 'bid_hour', bid_hours) }}
    {%- endif %}

),

requests as (

    select * from {{ ref('stg_tracker__bid_requests') }}
    {%- if is_incremental() %}
        where
            {{ bidlake_hours_filter('request_date', 'request_hour', bidlake_hours_shift(bid_hours, -1, 0)) }}
    {%- endif %}

),

joined as (

    select
        bids.bid_id,
        bids.bid_at,
        bids.bid_date,
        bids.bid_hour,
        bids.request_id,
        bids.imp_id,
        requests.bid_request_id,
        requests.requested_at,
        bids.campaign_id,
        bids.creative_id,
        bids.advertiser_id,
        bids.bid_price_micros,
        bids.pctr,
        bids.pcvr,
        bids.model_version,
        bids.pacing_factor,
        bids.deal_id,
        requests.user_id,
        requests.exchange,
        requests.publisher_id,
        requests.site_domain,
        requests.app_bundle,
        requests.placement_id,
        requests.ad_format,
        requests.ad_width,
        requests.ad_height,
        requests.slot_visibility,
        requests.device_type,
        requests.os,
        requests.browser,
        requests.country,
        requests.region,
        requests.city,
        requests.user_hour,
        requests.bidfloor_micros,
        requests.user_segments
    from bids
    left join requests
        on
            bids.request_id = requests.request_id
            and bids.imp_id = requests.imp_id

)

select * from joined
