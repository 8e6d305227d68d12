-- One row per won and served impression (win notice), de-duplicated.
with

source as (

    {{ bidlake_staging_source('impression') }}

),

renamed as (

    select
        event_id as impression_id,
        bid_id,
        request_id,
        {{ epoch_ms_to_timestamptz('event_time') }} as impression_at,
        event_date as impression_date,
        event_hour as impression_hour,
        campaign_id,
        creative_id,
        clearing_price_micros,
        nullif(user_id, '') as user_id
    from source
    -- Same-partition de-duplication: see stg_tracker__bid_requests.
    qualify row_number() over (
            partition by event_date, event_hour, event_id order by event_time
        ) = 1

)

select * from renamed
