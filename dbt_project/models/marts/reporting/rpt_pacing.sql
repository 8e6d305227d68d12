-- Spend against budget per campaign and UTC hour: the hour's spend, the day's spend so
-- far, and where an even pacing of the daily budget would be by the end of that hour.
-- Every hour the bidder saw traffic appears for every campaign of the book, spend or not,
-- so a campaign that stopped delivering shows as a flat line rather than a gap.
-- The book is the one of that hour: each hour gets the version of each campaign that was
-- the book's at the end of the hour (valid_from < hour end <= valid_to), so a budget
-- changed mid-day paces the hours before the change against the old budget and the
-- hours after it against the new one; a campaign appears from the hour it was created.
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

book as (

    select
        campaign_id,
        daily_budget_micros,
        valid_from,
        valid_to
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

booked as (

    -- Each hour with every campaign version that was the book's at the end of that hour
    -- ([valid_from, valid_to) holds the hour's last instant).
    select
        hours.*,
        book.campaign_id,
        book.daily_budget_micros
    from hours
    inner join book
        on
            book.valid_from < hours.report_hour + interval 1 hour
            and (book.valid_to is null or book.valid_to >= hours.report_hour + interval 1 hour)

),

unbooked as (

    -- Campaigns that delivered in an hour when they were not in the book (deleted, or not
    -- created yet) keep their rows, without a budget.
    select
        hours.*,
        delivery.campaign_id,
        null::bigint as daily_budget_micros
    from delivery
    inner join hours
        on
            delivery.report_date = hours.report_date
            and delivery.hour_of_day = hours.hour_of_day
    left join booked
        on
            delivery.campaign_id = booked.campaign_id
            and delivery.report_date = booked.report_date
            and delivery.hour_of_day = booked.hour_of_day
    where booked.campaign_id is null

),

spine as (

    select * from booked
    union all
    select * from unbooked

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
        ({{ bidlake_int_div('daily_budget_micros * (hour_of_day + 1)', '24') }})::bigint
            as paced_budget_micros,
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
