-- Spend against budget per campaign and UTC hour: the hour's spend, the day's spend so
-- far, and where an even pacing of the daily budget would be by the end of that hour.
-- Every hour the bidder saw traffic appears for every campaign of the book, spend or not,
-- so a campaign that stopped delivering shows as a flat line rather than a gap.
with

hours as (

    -- Hours with traffic, and hours with delivery (a win notice can land in the hour after
    -- the last request).
    select
        report_date,
        hour_of_day,
        report_hour
    from {{ ref('int_publisher_hourly') }}
    union
    select
        report_date,
        hour_of_day,
        report_hour
    from {{ ref('int_campaign_hourly') }}

),

campaigns as (

    select
        campaign_id,
        daily_budget_micros
    from {{ ref('stg_campaign_book__campaigns') }}

),

delivery as (

    select
        campaign_id,
        report_date,
        hour_of_day,
        impressions,
        clearing_price_micros_sum
    from {{ ref('int_campaign_hourly') }}

),

spine as (

    -- Campaigns that delivered but are no longer in the book keep their rows (no budget).
    select
        hours.*,
        campaigns.campaign_id,
        campaigns.daily_budget_micros
    from hours cross join campaigns
    union
    select
        hours.*,
        delivery.campaign_id,
        null::bigint as daily_budget_micros
    from delivery
    inner join hours
        on
            delivery.report_date = hours.report_date
            and delivery.hour_of_day = hours.hour_of_day
    where delivery.campaign_id not in (select c.campaign_id from campaigns as c)

),

hourly as (

    select
        spine.campaign_id,
        spine.report_hour,
        spine.report_date,
        spine.hour_of_day,
        spine.daily_budget_micros,
        coalesce(delivery.impressions, 0) as impressions,
        coalesce(delivery.clearing_price_micros_sum, 0) as clearing_price_micros_sum,
        sum(coalesce(delivery.clearing_price_micros_sum, 0)) over (
            partition by spine.campaign_id, spine.report_date
            order by spine.hour_of_day
            rows between unbounded preceding and current row
        ) as day_clearing_price_micros_sum
    from spine
    left join delivery
        on
            spine.campaign_id = delivery.campaign_id
            and spine.report_date = delivery.report_date
            and spine.hour_of_day = delivery.hour_of_day

),

final as (

    select
        campaign_id,
        report_hour,
        report_date,
        hour_of_day,
        impressions,
        {{ spend_micros('clearing_price_micros_sum') }} as spend_micros,
        {{ spend_micros('day_clearing_price_micros_sum') }} as day_spend_micros,
        daily_budget_micros,
        -- Even pacing: by the end of hour h, (h + 1) / 24 of the daily budget.
        (daily_budget_micros * (hour_of_day + 1) // 24)::bigint as paced_budget_micros,
        {{ safe_divide('day_clearing_price_micros_sum / 1000', 'daily_budget_micros') }}
            as budget_spent_ratio,
        {{ safe_divide(
            'day_clearing_price_micros_sum / 1000', 'daily_budget_micros * (hour_of_day + 1) / 24'
        ) }} as pacing_ratio,
        coalesce(day_clearing_price_micros_sum / 1000 >= daily_budget_micros, false)
            as is_budget_exhausted
    from hourly

)

select * from final
