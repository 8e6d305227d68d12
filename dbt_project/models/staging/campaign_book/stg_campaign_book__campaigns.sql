-- One row per campaign and version of the advertiser book: the campaign's state and the
-- interval [valid_from, valid_to) it was the book's (a type-2 history). Reports join an
-- event to the version valid at the event's time; `is_current` picks today's book.
-- The book's own history table already is this history, with exact change times and
-- every intermediate state, so it is staged as is rather than re-derived by a dbt
-- snapshot (which would see only the state at each build).
with

source as (

    select * from {{ source('campaign_book', 'campaigns') }}

),

versions as (

    -- A delete leaves no state: it only ends the interval of the version before it.
    select * from source
    where action != 'delete'

),

renamed as (

    -- string: the name DuckDB (an alias of varchar) and Spark share; timestamptz through
    -- bidlake_type (Spark: timestamp, an instant too).
    select
        campaign_id::string as campaign_id,
        book_version::bigint as book_version,
        valid_from::{{ bidlake_type('timestamptz') }} as valid_from,
        valid_to::{{ bidlake_type('timestamptz') }} as valid_to,
        valid_to is null as is_current,
        advertiser_id::string as advertiser_id,
        coalesce(name, campaign_id)::string as campaign_name,
        goal::string as goal,
        goal_micros::bigint as goal_micros,
        max_bid_cpm_micros::bigint as max_bid_cpm_micros,
        daily_budget_micros::bigint as daily_budget_micros,
        coalesce(frequency_cap_per_day, 0)::integer as frequency_cap_per_day,
        status::string as campaign_status,
        currency::string as currency,
        -- Who made this version, and how; when is valid_from (the seed's own commit
        -- time, a property of the database rather than of the book, stays in the source).
        action::string as change_action,
        changed_by::string as changed_by
    from versions

)

select * from renamed
