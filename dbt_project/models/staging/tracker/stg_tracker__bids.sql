-- One row per bid the bidder answered with, de-duplicated.
with

source as (

    {{ bidlake_staging_source('bid') }}

),

renamed as (

    select
        event_id as bid_id,
        request_id,
        imp_id,
        {{ epoch_ms_to_timestamptz('event_time') }} as bid_at,
        event_date as bid_date,
        event_hour as bid_hour,
        campaign_id,
        creative_id,
        advertiser_id,
        bid_price_micros,
        pctr,
        pcvr,
        nullif(model_version, '') as model_version,
        pacing_factor,
        nullif(deal_id, '') as deal_id
    from source
    -- Same-partition de-duplication: see stg_tracker__bid_requests.
    qualify row_number() over (
            partition by event_date, event_hour, event_id order by event_time
        ) = 1

)

select * from renamed
