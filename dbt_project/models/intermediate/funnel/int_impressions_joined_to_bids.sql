-- One row per served impression, with its winning bid and the bid-time context of the
-- opportunity. Spend and the CTR training rows come from here.
{{
    config(
        materialized='incremental',
        incremental_strategy=bidlake_incremental_strategy(),
        on_schema_change='fail',
        meta={'incremental': {
            'partition_by': ['impression_date', 'impression_hour'],
            'inputs': {
                'lake': ['impression'],
                'models': ['int_bids_joined_to_requests'],
            },
        }},
    )
}}

{%- set max_delay = var('win_notice_max_delay_hours') | int -%}
{%- if is_incremental() -%}
    {%- set changed = bidlake_changed_hours() -%}
    {#- A rebuilt bid hour h changes the impressions of hours h .. h + max_delay. -#}
    {%- set impression_hours = bidlake_hours_union(
        changed['impression'],
        bidlake_hours_shift(changed['int_bids_joined_to_requests'], 0, max_delay)
    ) -%}
    {%- set bid_hours = bidlake_hours_shift(impression_hours, -max_delay, 0) -%}
{%- endif %}

with

impressions as (

    select * from {{ ref('stg_tracker__impressions') }}
    {%- if is_incremental() %}
        where {{ bidlake_hours_filter('impression_date', 'impression_hour', impression_hours) }}
    {%- endif %}

),

bids as (

    select * from {{ ref('int_bids_joined_to_requests') }}
    {%- if is_incremental() %}
        where
            {{ bidlake_hours_range('bid_at', bid_hours) }}
            and {{ bidlake_hours_filter('bid_date', 'bid_hour', bid_hours) }}
    {%- endif %}

),

joined as (

    select
        impressions.impression_id,
        impressions.impression_at,
        impressions.impression_date,
        impressions.impression_hour,
        impressions.bid_id,
        impressions.request_id,
        bids.bid_request_id,
        bids.requested_at,
        bids.bid_at,
        impressions.campaign_id,
        impressions.creative_id,
        bids.advertiser_id,
        coalesce(impressions.user_id, bids.user_id) as user_id,
        impressions.clearing_price_micros,
        bids.bid_price_micros,
        bids.exchange,
        bids.publisher_id,
        bids.site_domain,
        bids.app_bundle,
        bids.placement_id,
        bids.ad_format,
        bids.ad_width,
        bids.ad_height,
        bids.slot_visibility,
        bids.device_type,
        bids.os,
        bids.browser,
        bids.country,
        bids.region,
        bids.city,
        bids.user_hour,
        bids.bidfloor_micros,
        bids.user_segments
    from impressions
    left join bids on impressions.bid_id = bids.bid_id

)

select * from joined
