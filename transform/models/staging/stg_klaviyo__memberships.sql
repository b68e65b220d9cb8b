-- Who is on each live list and in each live segment.
select 'list' as group_type, member.list_id as group_id, member.profile_id, member.joined_group_at
from {{ source('klaviyo', 'list_members') }} as member
inner join {{ source('klaviyo', 'lists') }} as list
    on list.id = member.list_id and {{ live('list') }}
where {{ live('member') }}
union all
select 'segment', member.segment_id, member.profile_id, member.joined_group_at
from {{ source('klaviyo', 'segment_members') }} as member
inner join {{ source('klaviyo', 'segments') }} as segment
    on segment.id = member.segment_id and {{ live('segment') }}
where {{ live('member') }}
