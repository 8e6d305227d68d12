-- Per campaign and UTC day: delivery, cost, outcomes and the ratios advertisers are billed
-- and judged by. Each count is in the day of its own event; conversions are the attributed
-- ones (post-click and post-view), in the day they happened.
-- A table rebuilt every run from hourly and per-conversion inputs, which stay small.
-- Name and advertiser are the campaign's as the book had it at the end of that day (its
-- version valid at that instant): a rename shows from the day it happened.
with

delivery as (

    select
        campaign_id,
        report_date,
        sum(bids)::bigint as bids,
        sum(impressions)::bigint as impressions,
        sum(clearing_price_micros_sum)::bigint as clearing_price_micros_sum,
        sum(clicks)::bigint as clicks
    from {{ ref('int_campaign_hourly') }}
    group by campaign_id, report_date

),

conversions as (

    select
        campaign_id,
        conversion_date as report_date,
        count(*) filter (where attribution_type != 'none') as conversions,
        count(*) filter (where attribution_type = 'post_click') as post_click_conversions,
        count(*) filter (where attribution_type = 'post_view') as post_view_conversions,
        coalesce(
            sum(conversion_value_micros) filter (where attribution_type != 'none'), 0
        )::bigint as conversion_value_micros
    from {{ ref('int_conversions_attributed') }}
    group by campaign_id, conversion_date

),

book as (

    select * from {{ ref('stg_campaign_book__campaigns') }}

),

joined as (

    select
        coalesce(delivery.campaign_id, conversions.campaign_id) as campaign_id,
        coalesce(delivery.report_date, conversions.report_date) as report_date,
        coalesce(delivery.bids, 0) as bids,
        coalesce(delivery.impressions, 0) as impressions,
        coalesce(delivery.clicks, 0) as clicks,
        coalesce(delivery.clearing_price_micros_sum, 0) as clearing_price_micros_sum,
        coalesce(conversions.conversions, 0) as conversions,
        coalesce(conversions.post_click_conversions, 0) as post_click_conversions,
        coalesce(conversions.post_view_conversions, 0) as post_view_conversions,
        coalesce(conversions.conversion_value_micros, 0) as conversion_value_micros,
        -- The day's end (next day, 00:00 UTC): the instant whose book version names it.
        {{ bidlake_hour_start('coalesce(delivery.report_date, conversions.report_date)', 24) }}
            as day_end
    from delivery
    full outer join conversions
        on
            delivery.campaign_id = conversions.campaign_id
            and delivery.report_date = conversions.report_date

),

final as (

    select
        joined.campaign_id,
        joined.report_date,
        campaigns.campaign_name,
        campaigns.advertiser_id,
        joined.bids,
        joined.impressions,
        joined.clicks,
        joined.conversions,
        joined.post_click_conversions,
        joined.post_view_conversions,
        {{ spend_micros('joined.clearing_price_micros_sum') }} as spend_micros,
        joined.conversion_value_micros,
        {{ safe_divide('joined.impressions', 'joined.bids') }} as win_rate,
        {{ safe_divide('joined.clicks', 'joined.impressions') }} as ctr,
        -- Post-click conversions per click: the quantity the CVR model predicts.
        {{ safe_divide('joined.post_click_conversions', 'joined.clicks') }} as cvr,
        -- Costs in currency units (micros / 1e6), from the exact integer sum.
        {{ safe_divide('joined.clearing_price_micros_sum / 1e6', 'joined.impressions') }} as ecpm,
        {{ safe_divide('joined.clearing_price_micros_sum / 1e9', 'joined.clicks') }} as ecpc,
        {{ safe_divide('joined.clearing_price_micros_sum / 1e9', 'joined.conversions') }} as cpa,
        {{ safe_divide(
            'joined.conversion_value_micros * 1000', 'joined.clearing_price_micros_sum'
        ) }} as roas
    from joined
    left join book as campaigns
        on
            joined.campaign_id = campaigns.campaign_id
            and joined.day_end > campaigns.valid_from
            and (campaigns.valid_to is null or joined.day_end <= campaigns.valid_to)

)

select * from final
