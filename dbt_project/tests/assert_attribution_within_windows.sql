-- Fails when a conversion is credited to a touch it may not be: a click or impression
-- after the conversion, outside the post-click / post-view window, of another campaign,
-- or a post-view credit although a qualifying click existed.
-- Shown by Dagster as a check on int_conversions_attributed.
{{ config(meta={'dagster': {'ref': {'name': 'int_conversions_attributed'}}}) }}
with

attributed as (

    select * from {{ ref('int_conversions_attributed') }}

),

clicks as (

    select click_id, campaign_id from {{ ref('stg_tracker__clicks') }}

)

select attributed.*
from attributed
left join clicks on attributed.attributed_click_id = clicks.click_id
where
    (attributed.attribution_type != 'none' and (
        attributed.attributed_touch_at > attributed.converted_at
        or attributed.attributed_bid_id is null
    ))
    or (attributed.attribution_type = 'post_click' and (
        clicks.click_id is null
        or clicks.campaign_id != attributed.campaign_id
        or attributed.attributed_touch_at
        <= attributed.converted_at - interval {{ var('post_click_window_days') | int }} day
    ))
    or (attributed.attribution_type = 'post_view' and (
        attributed.attributed_click_id is not null
        or attributed.attributed_touch_at
        <= attributed.converted_at - interval {{ var('post_view_window_days') | int }} day
    ))
    or (attributed.attribution_type = 'none' and attributed.attributed_bid_id is not null)
