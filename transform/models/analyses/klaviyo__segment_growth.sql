-- Per live segment and account day: members added, removed, net and total (Klaviyo's
-- segment series report) beside the day's last profile_count snapshot (segments_detailed).
with series as (
    select segment_id, date as day, members_added, members_removed, net_members_changed,
        total_members
    from {{ source('klaviyo', 'segment_series_reports') }}
    where {{ live() }}
),

snapshots as (
    select distinct on (snapshot.id, day)
        snapshot.id as segment_id,
        {{ local_day('snapshot.snapshot_at', 'account.timezone') }} as day,
        snapshot.profile_count
    from {{ source('klaviyo', 'segments_detailed') }} as snapshot
    cross join {{ ref('stg_klaviyo__account') }} as account
    where {{ live('snapshot') }}
    order by snapshot.id, day, snapshot.snapshot_at desc
)

select
    segment.id as segment_id,
    segment.name as segment_name,
    coalesce(series.day, snapshots.day) as day,
    series.members_added,
    series.members_removed,
    series.net_members_changed,
    series.total_members,
    snapshots.profile_count
from series
full outer join snapshots
    on snapshots.segment_id = series.segment_id and snapshots.day = series.day
inner join {{ source('klaviyo', 'segments') }} as segment
    on segment.id = coalesce(series.segment_id, snapshots.segment_id) and {{ live('segment') }}
