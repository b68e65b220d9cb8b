"""What an online store adds to an account: sign-up forms and their versions, coupons and
their codes, the product catalog (items, variants, categories), reviews, mobile push tokens,
and custom objects (two object types with their records).

Small collections, materialised once from the seed; their ``Sizes`` are modest (forms,
coupons, catalog items, reviews), the rest follows from them. Form report statistics are
derived from each form version's hash and the day, so every report agrees with itself.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from ._core import DAY, mix, salt, ulid, unit, uuid_text
from ._core import iso as _iso
from ._tables import Item, Table, unique_short_ids

FORMS = "forms"
FORM_VERSIONS = "form-versions"
COUPONS = "coupons"
COUPON_CODES = "coupon-codes"
CATALOG_ITEMS = "catalog-items"
CATALOG_VARIANTS = "catalog-variants"
CATALOG_CATEGORIES = "catalog-categories"
REVIEWS = "reviews"
PUSH_TOKENS = "push-tokens"
OBJECT_TYPES = "object-types"
OBJECT_RECORDS = "object-records"
COLLECTIONS = (
    FORMS, FORM_VERSIONS, COUPONS, COUPON_CODES, CATALOG_ITEMS, CATALOG_VARIANTS,
    CATALOG_CATEGORIES, REVIEWS, PUSH_TOKENS, OBJECT_TYPES, OBJECT_RECORDS,
)  # fmt: skip
# Klaviyo lists coupon codes only for given coupons or profiles (a required filter).
CODES_REQUIRED = (
    "A coupon/coupons or a profile/profiles must be provided as required filter params."
)

FORM_TYPES = ("popup", "embed", "flyout", "full_page", "banner")
FORM_STATISTICS = (
    "closed_form", "closed_form_uniques", "qualified_form", "qualified_form_uniques",
    "submit_rate", "submits", "submitted_form_step", "submitted_form_step_uniques",
    "viewed_form", "viewed_form_step", "viewed_form_step_uniques", "viewed_form_uniques",
)  # fmt: skip
CATEGORY_NAMES = ("Apparel", "Shoes", "Accessories", "Home", "Sale")
PRODUCTS = ("Linen Shirt", "Canvas Sneaker", "Leather Belt", "Wool Scarf", "Ceramic Mug",
            "Denim Jacket", "Silk Tie", "Cotton Tee", "Rain Boot", "Travel Bag")  # fmt: skip
SIZES = ("S", "M", "L")
REVIEW_TEXTS = ("Fits well, fast shipping.", "Runs small.", "Great quality for the price.",
                "Colour differs from the photo.", "Would buy again!")  # fmt: skip
# Two object types, as a store would define them: (title, namespace, its records' properties).
OBJECT_TYPE_SHAPES = (
    ("Loyalty Account", "loyalty", ("points", "tier")),
    ("Vehicle", "garage", ("make", "model", "year")),
)


RECORDS_PER_TYPE = 6  # and one more per type after the first
MAX_PUSH_TOKENS = 40


class Storefront:
    """The eleven collections (``tables``), and the forms' report numbers."""

    def __init__(self, seed: int, sizes: Any, anchor: int, profile_id: Any, profiles: int) -> None:
        self.seed, self.anchor = seed, anchor
        self.tables = {name: Table() for name in COLLECTIONS}
        rng = random.Random(salt(seed, "storefront"))
        self._forms(rng, sizes.forms)
        self._coupons(rng, sizes.coupons, profile_id, profiles)
        self._catalog(rng, sizes.catalog_items)
        self._reviews(rng, sizes.reviews)
        self._push_tokens(rng, profile_id, profiles)
        self._objects(rng)

    def _created(self, rng: random.Random, most_days: int) -> int:
        return self.anchor - rng.randint(2, most_days) * DAY - rng.randint(0, DAY - 1)

    def _forms(self, rng: random.Random, count: int) -> None:
        for number, form_id in enumerate(unique_short_ids(self.seed, "form", count)):
            created = self._created(rng, 400)
            ab_test = number % 3 == 2
            versions = 2 if ab_test else 1 + number % 2
            updated = created
            version_ids = []
            for k in range(versions):
                version_created = created + k * rng.randint(1, 30) * DAY
                version_updated = min(version_created + rng.randint(0, 20) * DAY, self.anchor - DAY)
                updated = max(updated, version_updated)
                version_id = str(mix(salt(self.seed, "form-version") ^ (number * 8 + k)) % 10**7)
                version_ids.append(("form-version", version_id))
                live = k == versions - 1 or ab_test
                self.tables[FORM_VERSIONS].add(
                    Item(
                        number * 8 + k,
                        {
                            "type": "form-version",
                            "id": version_id,
                            "attributes": {
                                "form_type": FORM_TYPES[(number + k) % len(FORM_TYPES)],
                                "variation_name": f"Variation {'AB'[k]}" if ab_test else "Default",
                                "ab_test": {"variation_name": f"Variation {'AB'[k]}"}
                                if ab_test
                                else None,
                                "status": "live" if live else "draft",
                                "created_at": _iso(version_created),
                                "updated_at": _iso(version_updated),
                            },
                            "relationships": {"form": {"data": {"type": "form", "id": form_id}}},
                        },
                        parent=form_id,
                        extra={"form_created": created},
                    )
                )
            self.tables[FORMS].add(
                Item(
                    number,
                    {
                        "type": "form",
                        "id": form_id,
                        "attributes": {
                            "name": f"{('Welcome', 'Exit intent', 'Newsletter')[number % 3]} "
                            f"form {number + 1}",
                            "status": "draft" if number % 5 == 4 else "live",
                            "ab_test": ab_test,
                            "created_at": _iso(created),
                            "updated_at": _iso(updated),
                        },
                    },
                    to_many={"form-versions": version_ids},
                )
            )

    def _coupons(self, rng: random.Random, count: int, profile_id: Any, profiles: int) -> None:
        for number in range(count):
            coupon_id = f"{(number + 1) * 5}OFF" if number < 8 else f"COUPON{number}"
            self.tables[COUPONS].add(
                Item(
                    number,
                    {
                        "type": "coupon",
                        "id": coupon_id,
                        "attributes": {
                            "external_id": coupon_id,
                            "description": f"{(number + 1) * 5}% off the next order",
                            "monitor_configuration": {"low_balance_threshold": 10 + number},
                        },
                    },
                )
            )
            for k in range(3 + number % 4):
                h = mix(salt(self.seed, "coupon-code") ^ (number * 64 + k))
                assigned = k % 2 == 0 and profiles > 0
                profile = profile_id(h % profiles) if assigned else None
                status = ("ASSIGNED_TO_PROFILE", "USED")[k % 4 == 2] if assigned else "UNASSIGNED"
                code = f"{coupon_id}-{uuid_text(h, mix(h))[:8].upper()}"
                relationships: dict[str, Any] = {
                    "coupon": {"data": {"type": "coupon", "id": coupon_id}},
                    **(
                        {"profile": {"data": {"type": "profile", "id": profile}}} if profile else {}
                    ),
                }
                self.tables[COUPON_CODES].add(
                    Item(
                        number * 64 + k,
                        {
                            "type": "coupon-code",
                            "id": str(h % 10**9),
                            "attributes": {
                                "unique_code": code,
                                "expires_at": _iso(self.anchor + rng.randint(10, 200) * DAY)
                                if k % 3
                                else None,
                                "status": status,
                            },
                            "relationships": relationships,
                        },
                        parent=coupon_id,
                        virtual={"coupon.id": coupon_id, "profile.id": profile},
                    )
                )

    def _catalog(self, rng: random.Random, count: int) -> None:
        categories = self.tables[CATALOG_CATEGORIES]
        category_items: dict[str, list[tuple[str, str]]] = {}
        for number, name in enumerate(CATEGORY_NAMES):
            category_id = f"$custom:::$default:::{name.upper()}"
            category_items[category_id] = []
            categories.add(
                Item(
                    number,
                    {
                        "type": "catalog-category",
                        "id": category_id,
                        "attributes": {
                            "external_id": name.upper(),
                            "name": name,
                            "updated": _iso(self._created(rng, 300)),
                        },
                    },
                    to_many={"items": category_items[category_id]},
                )
            )
        for number in range(count):
            external = f"SKU-{number + 1:04d}"
            item_id = f"$custom:::$default:::{external}"
            created = self._created(rng, 500)
            price = round(9.5 + (mix(salt(self.seed, "price") ^ number) % 9000) / 100, 2)
            title = PRODUCTS[number % len(PRODUCTS)] + (
                f" {number // len(PRODUCTS) + 1}" if number >= len(PRODUCTS) else ""
            )
            variant_ids = []
            for k, size in enumerate(SIZES[: 1 + number % 3]):
                variant_external = f"{external}-{size}"
                variant_id = f"$custom:::$default:::{variant_external}"
                variant_ids.append(("catalog-variant", variant_id))
                self.tables[CATALOG_VARIANTS].add(
                    Item(
                        number * 4 + k,
                        {
                            "type": "catalog-variant",
                            "id": variant_id,
                            "attributes": {
                                **_product(title, external, price, created + k, created),
                                "external_id": variant_external,
                                "title": f"{title} ({size})",
                                "sku": variant_external,
                                "inventory_policy": k % 3,
                                "inventory_quantity": float(rng.randint(0, 80)),
                            },
                            "relationships": {
                                "item": {"data": {"type": "catalog-item", "id": item_id}}
                            },
                        },
                        parent=item_id,
                        virtual={"item.id": item_id},
                    )
                )
            category = categories.items[number % len(categories.items)]
            category_items[category.id].append(("catalog-item", item_id))
            self.tables[CATALOG_ITEMS].add(
                Item(
                    number,
                    {
                        "type": "catalog-item",
                        "id": item_id,
                        "attributes": _product(title, external, price, created, created),
                    },
                    to_many={"variants": variant_ids},
                    virtual={"category.id": category.id},
                )
            )

    def _reviews(self, rng: random.Random, count: int) -> None:
        items = self.tables[CATALOG_ITEMS].items
        for number in range(count):
            h = mix(salt(self.seed, "review") ^ number)
            created = self._created(rng, 300)
            item = items[h % len(items)] if items else None
            rating = 1 + (h >> 8) % 5
            self.tables[REVIEWS].add(
                Item(
                    number,
                    {
                        "type": "review",
                        "id": f"{h % 10**9:09d}",
                        "attributes": {
                            "email": f"reviewer{number}@example.com",
                            "status": {"value": "published"},
                            "verified": number % 3 != 0,
                            "review_type": "review" if number % 7 else "question",
                            "created": _iso(created),
                            "updated": _iso(created + rng.randint(0, 5) * DAY),
                            "images": [],
                            "product": {
                                "url": item.attributes["url"],
                                "name": item.attributes["title"],
                                "image_url": item.attributes["image_full_url"],
                                "external_id": item.attributes["external_id"],
                            }
                            if item
                            else None,
                            "rating": rating,
                            "author": f"Reviewer {number}",
                            "content": REVIEW_TEXTS[number % len(REVIEW_TEXTS)],
                            "title": None,
                            "smart_quote": None,
                            "public_reply": None,
                        },
                        "relationships": {
                            "item": {"data": {"type": "catalog-item", "id": item.id}}
                            if item
                            else {"data": None}
                        },
                    },
                    virtual={"item.id": item.id if item else None, "status": "published"},
                )
            )

    def _push_tokens(self, rng: random.Random, profile_id: Any, profiles: int) -> None:
        """Push tokens for one profile in twenty (a mobile app's users), at most
        ``MAX_PUSH_TOKENS``: the account is built without generating its profiles."""
        for number, p in enumerate(range(0, min(profiles, 20 * MAX_PUSH_TOKENS), 20)):
            h = mix(salt(self.seed, "push-token") ^ p)
            platform = ("ios", "android")[h % 2]
            created = self._created(rng, 300)
            profile = profile_id(p)
            self.tables[PUSH_TOKENS].add(
                Item(
                    number,
                    {
                        "type": "push-token",
                        "id": uuid_text(h, mix(h)),
                        "attributes": {
                            "created": _iso(created),
                            "token": f"{h:016x}{mix(h):016x}",
                            "enablement_status": ("AUTHORIZED", "DENIED", "AUTHORIZED")[h % 3],
                            "platform": platform,
                            "vendor": "apns" if platform == "ios" else "fcm",
                            "background": "AVAILABLE",
                            "recorded_date": _iso(created),
                            "metadata": {"app_name": "Example Shop", "app_version": "4.2.0"},
                        },
                        "relationships": {"profile": {"data": {"type": "profile", "id": profile}}},
                    },
                    virtual={
                        "profile.id": profile,
                        "enablement_status": ("AUTHORIZED", "DENIED", "AUTHORIZED")[h % 3],
                        "platform": platform,
                    },
                )
            )

    def _objects(self, rng: random.Random) -> None:
        for number, (title, namespace, properties) in enumerate(OBJECT_TYPE_SHAPES):
            created = self._created(rng, 200)
            type_id = ulid(created * 1000, mix(salt(self.seed, "object-type") ^ number))
            self.tables[OBJECT_TYPES].add(
                Item(
                    number,
                    {
                        "type": "object-type",
                        "id": type_id,
                        "attributes": {
                            "title": title,
                            "description": f"{title}s synced from the store",
                            "status": "active",
                            "namespace": namespace,
                            "created_at": _iso(created),
                            "updated_at": _iso(created + DAY),
                        },
                    },
                    virtual={"namespace": namespace},
                )
            )
            for k in range(RECORDS_PER_TYPE + number):
                h = mix(salt(self.seed, f"object-record-{number}") ^ k)
                values = {
                    "points": h % 5000,
                    "tier": ("bronze", "silver", "gold")[h % 3],
                    "make": ("Volvo", "Ford", "Kia")[h % 3],
                    "model": f"Model {h % 9}",
                    "year": 2005 + h % 20,
                }
                self.tables[OBJECT_RECORDS].add(
                    Item(
                        number * 1000 + k,
                        {
                            "type": "object-record",
                            "id": ulid((created + k * 3600) * 1000, h),
                            "attributes": {
                                "record_properties": {name: values[name] for name in properties}
                            },
                        },
                        parent=type_id,
                    )
                )

    # --- form reports ------------------------------------------------------------------

    def form_day(self, version_id: str, day: dt.date) -> dict[str, float]:
        """One form version's statistics on one local day (zero before it existed)."""
        version = self.tables[FORM_VERSIONS].by_id[version_id]
        created = dt.datetime.fromisoformat(version.attributes["created_at"]).date()
        if day < created or version.attributes["status"] != "live":
            return dict.fromkeys(FORM_STATISTICS, 0)
        h = mix(salt(self.seed, f"form-day|{version_id}|{day.isoformat()}"))
        viewed = 20 + h % 400
        uniques = max(1, round(viewed * (0.6 + 0.3 * unit(mix(h)))))
        submits = round(uniques * 0.02 + uniques * 0.1 * unit(mix(h + 1)))
        closed = round(viewed * 0.4 * unit(mix(h + 2)))
        qualified = viewed + (h >> 20) % 50
        return {
            "viewed_form": viewed,
            "viewed_form_uniques": uniques,
            "viewed_form_step": viewed,
            "viewed_form_step_uniques": uniques,
            "submits": submits,
            "submit_rate": submits / uniques,
            "submitted_form_step": submits,
            "submitted_form_step_uniques": submits,
            "closed_form": closed,
            "closed_form_uniques": min(closed, uniques),
            "qualified_form": qualified,
            "qualified_form_uniques": min(qualified, uniques + (h >> 20) % 50),
        }

    def form_versions(self) -> list[Item]:
        return list(self.tables[FORM_VERSIONS].items)


def _product(title: str, external: str, price: float, created: int, updated: int) -> dict[str, Any]:
    slug = external.lower()
    return {
        "external_id": external,
        "title": title,
        "description": f"{title}, made to last.",
        "price": price,
        "url": f"https://shop.example.com/products/{slug}",
        "image_full_url": f"https://shop.example.com/images/{slug}.jpg",
        "image_thumbnail_url": f"https://shop.example.com/images/{slug}-thumb.jpg",
        "images": [f"https://shop.example.com/images/{slug}.jpg"],
        "custom_metadata": {"material": ("linen", "cotton", "leather")[len(title) % 3]},
        "published": True,
        "created": _iso(created),
        "updated": _iso(updated),
    }
