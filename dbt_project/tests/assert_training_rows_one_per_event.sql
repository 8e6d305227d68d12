-- Fails when a training mart drops or duplicates events: ftr_ctr_training must hold
-- exactly one row per de-duplicated impression of every hour this build (re)built, and
-- ftr_cvr_training one row per click whose impression is known (a click ahead of its win
-- notice waits for it). A failing row names the hour and both counts.
-- Shown by Dagster as a check on ftr_ctr_training.
{{ config(meta={'dagster': {'ref': {'name': 'ftr_ctr_training'}}}) }}
{%- set hours = bidlake_window_hours('model:ftr_ctr_training') %}

with

impressions as (

    select impression_date, impression_hour, count(*) as staging_rows
    from {{ ref('stg_tracker__impressions') }}
    where {{ bidlake_hours_filter('impression_date', 'impression_hour', hours) }}
    group by all

),

ctr_rows as (

    select
        impression_date,
        {{ utc_hour('impression_at') }} as impression_hour,
        count(*) as mart_rows
    from {{ ref('ftr_ctr_training') }}
    where {{ bidlake_hours_filter('impression_date', utc_hour('impression_at'), hours) }}
    group by all

),

clicks as (

    select 'ftr_cvr_training' as mart, null::date as impression_date, null::integer as impression_hour,
        (
            select count(*) from {{ ref('stg_tracker__clicks') }} as c
            where c.bid_id in (
                select i.bid_id from {{ ref('int_impressions_joined_to_bids') }} as i
            )
        ) as staging_rows,
        (select count(*) from {{ ref('ftr_cvr_training') }}) as mart_rows

)

select 'ftr_ctr_training' as mart, impression_date, impression_hour, staging_rows, mart_rows
from impressions full outer join ctr_rows using (impression_date, impression_hour)
where coalesce(staging_rows, 0) != coalesce(mart_rows, 0)
union all
select * from clicks where staging_rows != mart_rows
