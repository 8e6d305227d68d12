-- One row per impression opportunity the bidder saw (bid or not), de-duplicated.
with

source as (

    {{ bidlake_staging_source('bid_request') }}

),

renamed as (

    select
        event_id as bid_request_id,
        request_id,
        imp_id,
        {{ epoch_ms_to_timestamptz('event_time') }} as requested_at,
        -- The lake partition of the event: the UTC date and hour of event_time. Filtering
        -- on these two prunes lake files.
        event_date as request_date,
        event_hour as request_hour,
        exchange,
        publisher_id,
        -- Descriptive strings keep the contract's "" for "not given": they are model
        -- features, and the bidder sees "" at bid time, not NULL.
        site_domain,
        app_bundle,
        page_url,
        placement_id,
        ad_format,
        ad_width,
        ad_height,
        slot_visibility,
        device_type,
        os,
        browser,
        user_agent,
        ip_truncated,
        country,
        region,
        city,
        user_hour,
        user_segments,
        bidfloor_micros,
        currency,
        tmax_ms,
        auction_type,
        -- Optional ids and codes: "" means absent, which SQL spells NULL.
        nullif(user_id, '') as user_id,
        nullif(deal_id, '') as deal_id,
        nullif(no_bid_reason, '') as no_bid_reason
    from source
    -- A duplicate is the same event delivered twice, so it has the same event_time and
    -- lies in the same hour partition: de-duplicating within the partition lets filters on
    -- request_date/request_hour reach the lake files. Two different events sharing an id
    -- in different hours would both stay, and fail the unique test, loudly.
    qualify row_number() over (
            partition by event_date, event_hour, event_id order by event_time
        ) = 1

)

select * from renamed
