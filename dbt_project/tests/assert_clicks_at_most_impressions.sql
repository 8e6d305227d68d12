-- Fails when a campaign has more clicks than impressions over its whole history: a click
-- is on a served impression, so this means lost win notices or invented clicks. (Per day
-- or hour it can legitimately tip over: a click just after midnight on an impression
-- just before it.)
-- Shown by Dagster as a check on rpt_campaign_daily.
{{ config(meta={'dagster': {'ref': {'name': 'rpt_campaign_daily'}}}) }}
select
    campaign_id,
    sum(clicks) as clicks,
    sum(impressions) as impressions
from {{ ref('rpt_campaign_daily') }}
group by campaign_id
having sum(clicks) > sum(impressions)
