-- CVR training rows: one per click whose impression is known, with the bid-time features
-- of the clicked impression
-- (as in ftr_ctr_training), the label is_converted - a conversion credited to this click by
-- the post-click attribution (int_conversions_attributed) - and is_label_mature: whether
-- the whole attribution window after the click lies within the data we have. An immature
-- row may still convert, so it must not be used as a negative.
-- A click can land before its win notice (the exchange sends notices late, or retries):
-- it has no features yet, so it gets its row in the first build after its impression
-- arrives (the reports count it in its own hour either way).
-- A table rebuilt every run: clicks are a few thousand a day, and maturity moves with the
-- newest data anyway.
with

clicks as (

    select * from {{ ref('stg_tracker__clicks') }}

),

impressions as (

    select * from {{ ref('int_impressions_joined_to_bids') }}

),

converted_clicks as (

    select distinct attributed_click_id as click_id
    from {{ ref('int_conversions_attributed') }}
    where attribution_type = 'post_click'

),

data_as_of as (

    -- The newest event time seen: labels are known up to here.
    select greatest(
        (select max(impression_at) from impressions),
        (select max(clicked_at) from clicks),
        (select max(converted_at) from {{ ref('stg_tracker__conversions') }})
    ) as as_of

),

final as (

    select
        clicks.click_id,
        clicks.bid_id,
        impressions.request_id,
        clicks.clicked_at,
        clicks.click_date,
        {{ bid_time_request_columns('impressions') }},
        clicks.campaign_id,
        impressions.creative_id,
        converted_clicks.click_id is not null as is_converted,
        clicks.clicked_at
        <= data_as_of.as_of - interval {{ var('post_click_window_days') | int }} day
            as is_label_mature
    from clicks
    cross join data_as_of
    inner join impressions on clicks.bid_id = impressions.bid_id
    left join converted_clicks on clicks.click_id = converted_clicks.click_id

)

select * from final
