-- One row per campaign of the advertiser book, with its daily budget and goal.
with

source as (

    -- The file is one JSON object; unnest its list of campaigns into one row each, and
    -- each campaign's fields into columns (max_depth 2: the list, then the struct).
    select
        currency,
        -- noqa: disable=AL03
        unnest(campaigns, max_depth := 2)
        -- noqa: enable=AL03
    from {{ source('campaign_book', 'campaigns') }}

),

renamed as (

    select
        campaign_id::varchar as campaign_id,
        advertiser_id::varchar as advertiser_id,
        coalesce(name, campaign_id)::varchar as campaign_name,
        goal::varchar as goal,
        goal_micros::bigint as goal_micros,
        max_bid_cpm_micros::bigint as max_bid_cpm_micros,
        daily_budget_micros::bigint as daily_budget_micros,
        coalesce(frequency_cap_per_day, 0)::integer as frequency_cap_per_day,
        currency::varchar as currency
    from source

)

select * from renamed
