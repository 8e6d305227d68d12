-- One row per conversion the advertiser reported, de-duplicated.
with

source as (

    {{ bidlake_staging_source('conversion') }}

),

renamed as (

    select
        event_id as conversion_id,
        {{ epoch_ms_to_timestamptz('event_time') }} as converted_at,
        event_date as conversion_date,
        event_hour as conversion_hour,
        campaign_id,
        nullif(user_id, '') as user_id,
        conversion_value_micros,
        -- The bid id carried through the click URL, when the advertiser passed it back.
        nullif(bid_id, '') as bid_id,
        conversion_type
    from source
    -- Same-partition de-duplication: see stg_tracker__bid_requests.
    qualify row_number() over (
            partition by event_date, event_hour, event_id order by event_time
        ) = 1

)

select * from renamed
