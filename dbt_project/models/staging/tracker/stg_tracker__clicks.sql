-- One row per click on a served impression, de-duplicated.
with

source as (

    {{ bidlake_staging_source('click') }}

),

renamed as (

    select
        event_id as click_id,
        bid_id,
        {{ epoch_ms_to_timestamptz('event_time') }} as clicked_at,
        event_date as click_date,
        event_hour as click_hour,
        campaign_id,
        nullif(user_id, '') as user_id
    from source
    -- Same-partition de-duplication: see stg_tracker__bid_requests.
    qualify row_number() over (
            partition by event_date, event_hour, event_id order by event_time
        ) = 1

)

select * from renamed
