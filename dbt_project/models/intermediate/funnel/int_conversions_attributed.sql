-- One row per conversion, with the touch it is credited to:
--   post_click: the user's last click on the same campaign in the post_click_window_days
--               before the conversion (the click the conversion's bid_id names counts as
--               the user's, even when the user id is unknown);
--   post_view:  failing a click, the user's last impression of the campaign in the
--               post_view_window_days before;
--   none:       unattributed (organic): counted nowhere in the reports.
-- Rebuilt in full every run: conversions and clicks are a few thousand a day, and a full
-- rebuild picks up a late click or conversion without any bookkeeping. What grows with
-- history is one scan of impressions' (campaign, user, time) for the post-view lookup.
with

conversions as (

    select * from {{ ref('stg_tracker__conversions') }}

),

clicks as (

    select * from {{ ref('stg_tracker__clicks') }}

),

impressions as (

    select
        impression_id,
        bid_id,
        campaign_id,
        user_id,
        impression_at
    from {{ ref('int_impressions_joined_to_bids') }}

),

click_candidates as (

    -- Two equality joins (by user, by carried bid id) rather than one join on an OR,
    -- which DuckDB would run as a nested loop.
    select
        conversions.conversion_id,
        clicks.click_id,
        clicks.bid_id,
        clicks.clicked_at
    from conversions
    inner join clicks
        on
            conversions.campaign_id = clicks.campaign_id
            and conversions.user_id = clicks.user_id
    where
        clicks.clicked_at <= conversions.converted_at
        and clicks.clicked_at
        > conversions.converted_at - interval {{ var('post_click_window_days') | int }} day

    union

    select
        conversions.conversion_id,
        clicks.click_id,
        clicks.bid_id,
        clicks.clicked_at
    from conversions
    inner join clicks
        on
            conversions.campaign_id = clicks.campaign_id
            and conversions.bid_id = clicks.bid_id
    where
        clicks.clicked_at <= conversions.converted_at
        and clicks.clicked_at
        > conversions.converted_at - interval {{ var('post_click_window_days') | int }} day

),

last_click as (

    select * from click_candidates
    qualify row_number() over (
            partition by conversion_id order by clicked_at desc, click_id desc
        ) = 1

),

last_view as (

    select
        conversions.conversion_id,
        impressions.impression_id,
        impressions.bid_id,
        impressions.impression_at
    from conversions
    inner join impressions
        on
            conversions.campaign_id = impressions.campaign_id
            and conversions.user_id = impressions.user_id
    where
        impressions.impression_at <= conversions.converted_at
        and impressions.impression_at
        > conversions.converted_at - interval {{ var('post_view_window_days') | int }} day
    qualify row_number() over (
            partition by conversions.conversion_id
            order by impressions.impression_at desc, impressions.impression_id desc
        ) = 1

),

final as (

    select
        conversions.conversion_id,
        conversions.converted_at,
        conversions.conversion_date,
        conversions.conversion_hour,
        conversions.campaign_id,
        conversions.user_id,
        conversions.conversion_value_micros,
        conversions.conversion_type,
        case
            when last_click.click_id is not null then 'post_click'
            when last_view.impression_id is not null then 'post_view'
            else 'none'
        end as attribution_type,
        last_click.click_id as attributed_click_id,
        case
            when last_click.click_id is not null then last_click.bid_id
            else last_view.bid_id
        end as attributed_bid_id,
        case
            when last_click.click_id is not null then last_click.clicked_at
            else last_view.impression_at
        end as attributed_touch_at
    from conversions
    left join last_click on conversions.conversion_id = last_click.conversion_id
    left join last_view on conversions.conversion_id = last_view.conversion_id

)

select * from final
