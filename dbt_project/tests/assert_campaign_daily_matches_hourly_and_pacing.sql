-- Fails when the campaign report disagrees with its hourly base or with pacing: per
-- campaign and day, rpt_campaign_daily's bids, impressions, clicks and spend must be the
-- sums of int_campaign_hourly, and rpt_pacing's spend of the day's last hour must equal
-- the day's spend (both divide the same integer sum of clearing prices once).
-- Shown by Dagster as a check on rpt_campaign_daily.
{{ config(meta={'dagster': {'ref': {'name': 'rpt_campaign_daily'}}}) }}
with

daily as (

    select campaign_id, report_date, bids, impressions, clicks, spend_micros
    from {{ ref('rpt_campaign_daily') }}

),

hourly as (

    select
        campaign_id,
        report_date,
        sum(bids) as bids,
        sum(impressions) as impressions,
        sum(clicks) as clicks,
        {{ spend_micros('sum(clearing_price_micros_sum)') }} as spend_micros
    from {{ ref('int_campaign_hourly') }}
    group by campaign_id, report_date

),

pacing as (

    select campaign_id, report_date, day_spend_micros
    from {{ ref('rpt_pacing') }}
    qualify row_number() over (
        partition by campaign_id, report_date order by hour_of_day desc
    ) = 1

)

select daily.*, hourly.bids as hourly_bids, hourly.spend_micros as hourly_spend_micros,
    pacing.day_spend_micros as pacing_day_spend_micros
from daily
left join hourly using (campaign_id, report_date)
left join pacing using (campaign_id, report_date)
where
    coalesce(hourly.bids, 0) != daily.bids
    or coalesce(hourly.impressions, 0) != daily.impressions
    or coalesce(hourly.clicks, 0) != daily.clicks
    or coalesce(hourly.spend_micros, 0) != daily.spend_micros
    or coalesce(pacing.day_spend_micros, 0) != daily.spend_micros
