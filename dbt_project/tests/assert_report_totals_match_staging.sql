-- Fails when a report loses or invents events: for every UTC hour this build (re)built,
-- the delivery base (int_publisher_hourly), the exchange report built on it, and the
-- campaign base (int_campaign_hourly) must count exactly the de-duplicated events of
-- staging in that hour - opportunities, bids, impressions, clicks, clearing prices. An
-- event without a known exchange still counts (in the NULL exchange), so nothing drops.
-- A failing row names the hour and both counts of the metric that differs.
-- Shown by Dagster as a check on rpt_exchange_hourly.
{{ config(meta={'dagster': {'ref': {'name': 'rpt_exchange_hourly'}}}) }}
{%- set hours = bidlake_window_hours('model:int_publisher_hourly') %}

with

staging as (

    select report_date, hour_of_day, sum(n) as n, metric
    from (
        select request_date as report_date, request_hour as hour_of_day, 1 as n, 'bid_requests' as metric
        from {{ ref('stg_tracker__bid_requests') }}
        where {{ bidlake_hours_filter('request_date', 'request_hour', hours) }}
        union all
        select bid_date, bid_hour, 1, 'bids'
        from {{ ref('stg_tracker__bids') }}
        where {{ bidlake_hours_filter('bid_date', 'bid_hour', hours) }}
        union all
        select impression_date, impression_hour, 1, 'impressions'
        from {{ ref('stg_tracker__impressions') }}
        where {{ bidlake_hours_filter('impression_date', 'impression_hour', hours) }}
        union all
        select impression_date, impression_hour, clearing_price_micros, 'clearing_price_micros'
        from {{ ref('stg_tracker__impressions') }}
        where {{ bidlake_hours_filter('impression_date', 'impression_hour', hours) }}
        union all
        select click_date, click_hour, 1, 'clicks'
        from {{ ref('stg_tracker__clicks') }}
        where {{ bidlake_hours_filter('click_date', 'click_hour', hours) }}
    )
    group by report_date, hour_of_day, metric

),

publisher_hourly as (

    {% set publisher_hourly_sums -%}
    (
        select
            report_date,
            hour_of_day,
            sum(bid_requests) as bid_requests,
            sum(bids) as bids,
            sum(impressions) as impressions,
            sum(clearing_price_micros_sum) as clearing_price_micros,
            sum(clicks) as clicks
        from {{ ref('int_publisher_hourly') }}
        where {{ bidlake_hours_filter('report_date', 'hour_of_day', hours) }}
        group by report_date, hour_of_day
    )
    {%- endset %}
    {{ bidlake_unpivot(
        publisher_hourly_sums,
        ['bid_requests', 'bids', 'impressions', 'clearing_price_micros', 'clicks'], 'metric', 'n'
    ) }}

),

exchange_hourly as (

    {% set exchange_hourly_sums -%}
    (
        select
            report_date,
            hour_of_day,
            sum(bid_requests) as bid_requests,
            sum(bids) as bids,
            sum(impressions) as impressions,
            sum(clicks) as clicks
        from {{ ref('rpt_exchange_hourly') }}
        where {{ bidlake_hours_filter('report_date', 'hour_of_day', hours) }}
        group by report_date, hour_of_day
    )
    {%- endset %}
    {{ bidlake_unpivot(exchange_hourly_sums, ['bid_requests', 'bids', 'impressions', 'clicks'], 'metric', 'n') }}

),

campaign_hourly as (

    {% set campaign_hourly_sums -%}
    (
        select
            report_date,
            hour_of_day,
            sum(bids) as bids,
            sum(impressions) as impressions,
            sum(clearing_price_micros_sum) as clearing_price_micros,
            sum(clicks) as clicks
        from {{ ref('int_campaign_hourly') }}
        where {{ bidlake_hours_filter('report_date', 'hour_of_day', hours) }}
        group by report_date, hour_of_day
    )
    {%- endset %}
    {{ bidlake_unpivot(campaign_hourly_sums, ['bids', 'impressions', 'clearing_price_micros', 'clicks'], 'metric', 'n') }}

),

compared as (

    select 'int_publisher_hourly' as report, s.report_date, s.hour_of_day, s.metric, s.n as staging_n, r.n as report_n
    from staging as s
    full outer join publisher_hourly as r using (report_date, hour_of_day, metric)
    union all
    select 'rpt_exchange_hourly', s.report_date, s.hour_of_day, s.metric, s.n, r.n
    from (select * from staging where metric != 'clearing_price_micros') as s
    full outer join exchange_hourly as r using (report_date, hour_of_day, metric)
    union all
    select 'int_campaign_hourly', s.report_date, s.hour_of_day, s.metric, s.n, r.n
    from (select * from staging where metric != 'bid_requests') as s
    full outer join campaign_hourly as r using (report_date, hour_of_day, metric)

)

select *
from compared
where coalesce(staging_n, 0) != coalesce(report_n, 0)
