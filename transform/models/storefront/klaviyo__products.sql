-- Ordered products: per product in the conversion metric's events (their `Items`: ProductID,
-- SKU, ProductName, Quantity, RowTotal), its orders, units, revenue and customers, beside
-- its catalog item: the live `catalog_items` row whose external_id is the ProductID (a
-- store's integration), else one of its SKUs (a custom catalog keyed by SKU).
with lines as (
    select
        event.id as event_id,
        event.profile_id,
        event.datetime as ordered_at,
        line ->> 'ProductID' as product_id,
        nullif(line ->> 'SKU', '') as sku,
        line ->> 'ProductName' as product_name,
        {{ json_number("line -> 'Quantity'") }} as quantity,
        coalesce(
            {{ json_number("line -> 'RowTotal'") }},
            {{ json_number("line -> 'ItemPrice'") }} * {{ json_number("line -> 'Quantity'") }}
        ) as revenue
    from {{ source('klaviyo', 'events') }} as event
    cross join lateral jsonb_array_elements(
        case when jsonb_typeof(event.event_properties -> 'Items') = 'array'
            then event.event_properties -> 'Items' else '[]'::jsonb end
    ) as line
    where {{ live('event') }}
        and event.metric_name = '{{ var("klaviyo_conversion_metric") }}'
        and jsonb_typeof(line) = 'object'
        and nullif(line ->> 'ProductID', '') is not null
),

products as (
    select
        product_id,
        (array_agg(product_name order by ordered_at desc, event_id))[1] as product_name,
        (array_agg(sku order by ordered_at desc, event_id))[1] as sku,
        count(distinct event_id) as orders,
        coalesce(sum(quantity), 0) as units,
        coalesce(sum(revenue), 0) as revenue,
        count(distinct profile_id) as customers,
        min(ordered_at) as first_ordered_at,
        max(ordered_at) as last_ordered_at
    from lines
    group by product_id
),

catalog as (
    select distinct on (line.product_id)
        line.product_id,
        item.id as catalog_item_id,
        item.title,
        item.price,
        item.url,
        item.published
    from (select distinct product_id, sku from lines) as line
    inner join {{ source('klaviyo', 'catalog_items') }} as item
        on item.external_id in (line.product_id, line.sku) and {{ live('item') }}
    order by line.product_id, item.external_id = line.product_id desc, item.id
)

select
    product.product_id,
    product.product_name,
    product.sku,
    catalog.catalog_item_id,
    catalog.title as catalog_title,
    catalog.price as catalog_price,
    catalog.url as catalog_url,
    catalog.published as catalog_published,
    product.orders,
    product.units,
    product.revenue,
    product.customers,
    product.first_ordered_at,
    product.last_ordered_at,
    account.currency
from products as product
cross join {{ ref('stg_klaviyo__account') }} as account
left join catalog on catalog.product_id = product.product_id
