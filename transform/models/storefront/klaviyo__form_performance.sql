-- Sign-up forms: per live form and version, the latest form values report (the last
-- `report_timeframe_days`): views, unique views, submits, Klaviyo's submit rate, closes.
with report as (
    select distinct on (form_id, form_version_id) *
    from {{ source('klaviyo', 'form_values_reports') }}
    where {{ live() }}
    order by form_id, form_version_id, timeframe_end desc, extracted_at desc
)

select
    form.id as form_id,
    form.name as form_name,
    form.status as form_status,
    version.id as form_version_id,
    version.form_type,
    version.variation_name,
    version.status as form_version_status,
    report.timeframe_start as report_timeframe_start,
    report.timeframe_end as report_timeframe_end,
    report.viewed_form,
    report.viewed_form_uniques,
    report.submits,
    report.submit_rate,
    report.closed_form,
    report.closed_form_uniques
from {{ source('klaviyo', 'form_versions') }} as version
inner join {{ source('klaviyo', 'forms') }} as form
    on form.id = version.form_id and {{ live('form') }}
left join report on report.form_id = form.id and report.form_version_id = version.id
where {{ live('version') }}
