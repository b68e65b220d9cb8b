-- Sign-up forms day by day: per live form, version and account day, the form series
-- report's views, unique views, submits, submit rate and closes.
select
    report.date as day,
    form.id as form_id,
    form.name as form_name,
    report.form_version_id,
    version.variation_name,
    report.viewed_form,
    report.viewed_form_uniques,
    report.submits,
    report.submit_rate,
    report.closed_form,
    report.closed_form_uniques
from {{ source('klaviyo', 'form_series_reports') }} as report
inner join {{ source('klaviyo', 'forms') }} as form
    on form.id = report.form_id and {{ live('form') }}
inner join {{ source('klaviyo', 'form_versions') }} as version
    on version.id = report.form_version_id and {{ live('version') }}
where {{ live('report') }}
