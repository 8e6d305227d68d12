-- CTR training rows: one per served impression, with exactly the features the bidder saw
-- at bid time (the bid request's columns, and the campaign and creative it bid with) and
-- the label is_clicked. Nothing known only after the auction - clearing price, win time,
-- the click itself - is a feature; impression_at and the ids are there to split and join.
-- Read by ml/ through the published catalog; the columns are a contract (docs/interfaces.md).
{{
    config(
        materialized='incremental',
        incremental_strategy=bidlake_incremental_strategy(),
        on_schema_change='fail',
        meta={'incremental': {
            'partition_by': ['impression_date', bidlake_utc_hour_sql('impression_at')],
            'inputs': {
                'lake': ['click'],
                'models': ['int_impressions_joined_to_bids'],
            },
        }},
    )
}}

{%- if is_incremental() -%}
    {%- set changed = bidlake_changed_hours() -%}
    {#- A new click flips the label of an impression of an earlier hour: find those hours. -#}
    {%- set relabelled_hours = [] -%}
    {%- if execute and changed['click'] | length > 0 -%}
        {%- set click_max_delay = var('click_max_delay_hours') | int -%}
        {%- set query -%}
            select distinct (epoch(i.impression_date)::bigint // 3600 + i.impression_hour)::bigint
            from {{ ref('int_impressions_joined_to_bids') }} as i
            where
                i.impression_at >= {{ bidlake_epoch_hour_literal(changed['click'][0] - click_max_delay) }}
                and i.bid_id in (
                    select c.bid_id from {{ ref('stg_tracker__clicks') }} as c
                    where {{ bidlake_hours_filter('c.click_date', 'c.click_hour', changed['click']) }}
                )
        {%- endset -%}
        {%- set relabelled_hours = run_query(query).columns[0].values() | map('int') | list -%}
    {%- endif -%}
    {%- set hours = bidlake_hours_union(changed['int_impressions_joined_to_bids'], relabelled_hours) -%}
{%- endif %}

with

impressions as (

    select * from {{ ref('int_impressions_joined_to_bids') }}
    {%- if is_incremental() %}
        where
            {{ bidlake_hours_range('impression_at', hours) }}
            and {{ bidlake_hours_filter('impression_date', 'impression_hour', hours) }}
    {%- endif %}

),

clicked as (

    -- A click comes after its impression: clicks before the first impression hour of the
    -- batch cannot be its clicks, and their lake partitions are not read.
    select distinct bid_id
    from {{ ref('stg_tracker__clicks') }}
    {%- if is_incremental() %}
        where click_date >= {{ bidlake_epoch_day_literal(hours[0] // 24) if hours else "date '9999-12-31'" }}
    {%- endif %}

),

final as (

    select
        impressions.impression_id,
        impressions.bid_id,
        impressions.request_id,
        impressions.impression_at,
        impressions.impression_date,
        {{ bid_time_request_columns('impressions') }},
        impressions.campaign_id,
        impressions.creative_id,
        clicked.bid_id is not null as is_clicked
    from impressions
    left join clicked on impressions.bid_id = clicked.bid_id

)

select * from final
