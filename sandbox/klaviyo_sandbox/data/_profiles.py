"""Profiles, generated lazily by index (list and segment membership: ``_groups``).

Profile ``p`` lives in one of a few *cohorts* (contiguous index ranges). Inside a cohort
both ``created`` and ``updated`` are non-decreasing in ``p``, so every timeline sort is a
merge of a few monotone runs plus the small overlay of profiles changed by ``advance``.
The id is a ULID whose time part is ``created`` and whose random part starts with ``p``,
so sorting by id is sorting by ``(created, p)`` and an id decodes back to its index.
"""

from __future__ import annotations

import bisect
import random
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from ._core import (
    DAY,
    Keys,
    Run,
    Stream,
    Timeline,
    iso,
    iso_or_none,
    mix,
    salt,
    ulid,
    unbase32,
)
from ._words import (
    CATEGORIES,
    CITIES,
    EMAIL_DOMAINS,
    FIRST_NAMES,
    LAST_NAMES,
    LOCALES,
    ORGANIZATIONS,
    TITLES,
)

COHORT_SHARES = (0.4, 0.3, 0.2, 0.1)
SUPPRESSION_REASONS = (
    "HARD_BOUNCE",
    "INVALID_EMAIL",
    "SPAM_COMPLAINT",
    "UNSUBSCRIBE",
    "USER_SUPPRESSED",
)
SUPPRESSION = "subscriptions.email.marketing.suppression.timestamp"
LIST_SUPPRESSION = "subscriptions.email.marketing.list_suppressions.timestamp"
RELATIONSHIPS = ("lists", "segments", "push-tokens", "conversations")
_ASCII = str.maketrans("éüøöçã'", "euooca-")
_EMAIL_INDEX = re.compile(r"(\d+)@")


@dataclass(frozen=True)
class Cohort:
    lo: int
    hi: int
    created: Timeline
    updated: Timeline


@dataclass
class Overlay:
    """What ``advance`` changed: memory proportional to the changes only."""

    created: list[int] = field(default_factory=list)  # created of new profiles, by p - base
    updated: dict[int, int] = field(default_factory=dict)
    updated_keys: list[tuple[int, int]] = field(default_factory=list)
    suppressed: dict[int, tuple[int, str]] = field(default_factory=dict)
    deleted: set[int] = field(default_factory=set)  # gone from every listing, 404 by id


class Profiles:
    def __init__(
        self, seed: int, count: int, anchor: int, list_ids: list[str], *, live_fields: bool = False
    ) -> None:
        self.base = count
        self.anchor = anchor
        self.list_ids = list_ids
        self.overlay = Overlay()
        self.live_fields = live_fields  # quirks: attributes live accounts send beyond the spec
        self._salt = salt(seed, "profile")
        self._salt_id = salt(seed, "profile-id")
        self._salt_flags = salt(seed, "profile-flags")
        # an order-preserving offset so ids do not start their random part with zeros
        self._id_offset = salt(seed, "profile-id-offset") % 2**39
        self.cohorts = self._cohorts(seed, count, anchor)
        self._starts = [c.lo for c in self.cohorts]
        # a profile's id never changes (created is fixed), and events ask for it a lot
        self.id = lru_cache(maxsize=1 << 18)(self._id)

    @staticmethod
    def _cohorts(seed: int, count: int, anchor: int) -> list[Cohort]:
        cohorts, lo = [], 0
        for number, share in enumerate(COHORT_SHARES):
            hi = count if number == len(COHORT_SHARES) - 1 else min(count, lo + int(count * share))
            n = hi - lo
            # older cohorts were created earlier; everyone keeps being updated until now
            created = Timeline(
                anchor - (730 - 150 * number) * DAY,
                anchor - (300 - 70 * number) * DAY,
                n,
                (1, 2, 1, 3, 1, 1, 4),
                salt(seed, f"cohort-created-{number}"),
            )
            updated = Timeline(
                anchor - (600 - 120 * number) * DAY,
                anchor - 600,
                n,
                (3, 1, 5, 2, 7, 1, 4, 2),
                salt(seed, f"cohort-updated-{number}"),
            )
            cohorts.append(Cohort(lo, hi, created, updated))
            lo = hi
        return cohorts

    # --- timeline values -------------------------------------------------------------

    @property
    def total(self) -> int:
        return self.base + len(self.overlay.created)

    def _cohort(self, p: int) -> Cohort:
        return self.cohorts[bisect.bisect_right(self._starts, p) - 1]

    def base_created(self, p: int) -> int:
        cohort = self._cohort(p)
        return cohort.created.at(p - cohort.lo)

    def base_updated(self, p: int) -> int:
        cohort = self._cohort(p)
        j = p - cohort.lo
        return max(cohort.created.at(j), cohort.updated.at(j))

    def created(self, p: int) -> int:
        return self.base_created(p) if p < self.base else self.overlay.created[p - self.base]

    def updated(self, p: int) -> int:
        changed = self.overlay.updated.get(p)
        return self.base_updated(p) if changed is None else changed

    def _flags(self, p: int) -> int:
        return mix(self._salt_flags ^ p)

    def base_suppressed(self, p: int) -> bool:
        """About 3% of the base profiles are globally suppressed (decided from the index)."""
        return p < self.base and self._flags(p) % 1000 < 30

    def base_list_suppressed(self, p: int) -> bool:
        return p < self.base and (self._flags(p) >> 10) % 1000 < 20 and bool(self.list_ids)

    def suppression(self, p: int) -> tuple[int, str] | None:
        """(timestamp, reason) of the global suppression; base ones date from ``updated``."""
        if self.base_suppressed(p):
            return self.base_updated(p), SUPPRESSION_REASONS[(self._flags(p) >> 20) % 5]
        return self.overlay.suppressed.get(p)

    def list_suppression(self, p: int) -> tuple[str, str, int] | None:
        if not self.base_list_suppressed(p):
            return None
        flags = self._flags(p)
        list_id = self.list_ids[(flags >> 30) % len(self.list_ids)]
        reason = ("UNSUBSCRIBE", "USER_SUPPRESSED")[(flags >> 40) % 2]
        return list_id, reason, self.base_updated(p)

    # --- orderings -------------------------------------------------------------------

    def streams(self, field_name: str) -> list[Stream] | None:
        """Monotone runs + overlay for a sort field; None when it has no cheap order."""
        overlay = self.overlay
        if field_name in ("id", "created"):
            runs: list[Stream] = [Run(c.lo, c.hi, self.base_created) for c in self.cohorts]
            new = [(ts, self.base + k) for k, ts in enumerate(overlay.created)]
            return [*runs, Keys(new)]
        if field_name == "updated":
            changed = overlay.updated
            skip = changed.__contains__ if changed else None
            runs = [Run(c.lo, c.hi, self.base_updated, skip) for c in self.cohorts]
            return [*runs, Keys(overlay.updated_keys)]
        if field_name == SUPPRESSION:
            skip_unsuppressed = self._not_base_suppressed
            runs = [Run(c.lo, c.hi, self.base_updated, skip_unsuppressed) for c in self.cohorts]
            return [*runs, Keys((ts, p) for p, (ts, _) in overlay.suppressed.items())]
        if field_name == LIST_SUPPRESSION:
            skip_unlisted = self._not_base_list_suppressed
            return [Run(c.lo, c.hi, self.base_updated, skip_unlisted) for c in self.cohorts]
        return None

    def _not_base_suppressed(self, p: int) -> bool:
        return self._flags(p) % 1000 >= 30

    def _not_base_list_suppressed(self, p: int) -> bool:
        return not self.base_list_suppressed(p)

    def value(self, field_name: str, p: int) -> int | None:
        """The current value of a timeline field (None: not in that ordering)."""
        if field_name in ("id", "created"):
            return self.created(p)
        if field_name == "updated":
            return self.updated(p)
        if field_name == SUPPRESSION:
            found = self.suppression(p)
            return None if found is None else found[0]
        if field_name == LIST_SUPPRESSION:
            listed = self.list_suppression(p)
            return None if listed is None else listed[2]
        return None

    # --- identity --------------------------------------------------------------------

    def _id(self, p: int) -> str:
        prefix = (p + self._id_offset) << 40
        return ulid(self.created(p) * 1000, prefix | (mix(self._salt_id ^ p) & (2**40 - 1)))

    def index_of_id(self, text: str) -> int | None:
        if len(text) != 26:
            return None
        randomness = unbase32(text[10:])
        if randomness is None:
            return None
        p = (randomness >> 40) - self._id_offset
        if p in self.overlay.deleted:
            return None
        return p if 0 <= p < self.total and self.id(p) == text else None

    def _names(self, rng: random.Random) -> tuple[str, str]:
        return rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)

    def email(self, p: int) -> str | None:
        rng = random.Random(mix(self._salt ^ p))
        first, last = self._names(rng)
        if rng.random() < 0.05:
            return None
        local = f"{first}.{last}".lower().translate(_ASCII)
        return f"{local}{p}@{EMAIL_DOMAINS[p % len(EMAIL_DOMAINS)]}"

    def phone_number(self, p: int) -> str | None:
        flags = self._flags(p)
        if (flags >> 50) % 10 >= 6:
            return None
        # E.164: +1, a 3-digit area code, then 7 digits that encode the index
        return f"+1{201 + (flags >> 33) % 700}{p % 10_000_000:07d}"

    def external_id(self, p: int) -> str | None:
        return None if (self._flags(p) >> 54) % 10 >= 7 else str(6_000_000_000 + p)

    def indices_for(self, field_name: str, value: str) -> list[int]:
        """Decode an identifier back to candidate indices (then verified by the caller)."""
        if field_name in ("id", "profile_id"):
            found = self.index_of_id(value)
            return [] if found is None else [found]
        if field_name == "email":
            match = _EMAIL_INDEX.search(value)
            return [int(match.group(1))] if match and int(match.group(1)) < self.total else []
        if field_name == "external_id":
            number = int(value) - 6_000_000_000 if value.isdigit() else -1
            return [number] if 0 <= number < self.total else []
        if field_name == "phone_number":
            if not value[-7:].isdigit():
                return []
            return list(range(int(value[-7:]), self.total, 10_000_000))
        return []

    # --- records ---------------------------------------------------------------------

    def build(self, p: int, fields: frozenset[str] = frozenset()) -> dict[str, Any]:
        rng = random.Random(mix(self._salt ^ p))
        first, last = self._names(rng)
        created, updated = self.created(p), self.updated(p)
        attributes = {
            "email": self.email(p),
            "phone_number": self.phone_number(p),
            "external_id": self.external_id(p),
            "first_name": first,
            "last_name": last,
            "organization": rng.choice(ORGANIZATIONS) if rng.random() < 0.3 else None,
            "locale": rng.choice(LOCALES) if rng.random() < 0.8 else None,
            "title": rng.choice(TITLES) if rng.random() < 0.25 else None,
            "image": f"https://images.example.com/avatars/{p}.png" if rng.random() < 0.1 else None,
            "created": iso(created),
            "updated": iso(updated),
            "last_event_date": (
                iso(created + int(rng.random() * max(0, self.anchor - created)))
                if rng.random() < 0.85
                else None
            ),
            "location": self._location(rng),
            "properties": self._properties(rng, p),
        }
        if self.live_fields:
            # Live accounts send these, absent from the spec's profile schema (hashed, not
            # drawn from ``rng``: the other attributes stay as they are without quirks).
            h = mix(self._salt_flags ^ p ^ 0xA11)
            attributes["anonymous_id"] = f"anon-{h % 10**12:012d}" if h % 5 < 2 else None
            attributes["whatsapp_bsuid"] = f"bsuid.{h >> 24:x}" if h % 7 == 0 else None
        if "subscriptions" in fields:
            attributes["subscriptions"] = self._subscriptions(rng, p, created)
        if "predictive_analytics" in fields:
            attributes["predictive_analytics"] = self._predictive(rng)
        return {
            "type": "profile",
            "id": self.id(p),
            "attributes": attributes,
            "relationships": {name: {} for name in RELATIONSHIPS},
        }

    @staticmethod
    def _location(rng: random.Random) -> dict[str, Any]:
        city, region, country, zip_code, timezone, lat, lon = rng.choice(CITIES)
        shape = rng.random()
        latitude: float | str | None
        longitude: float | str | None
        if shape < 0.6:
            latitude, longitude = round(lat + rng.uniform(-0.1, 0.1), 4), round(lon, 4)
        elif shape < 0.85:  # Klaviyo stores whatever the source sent: strings happen
            latitude, longitude = f"{lat:.4f}", f"{lon:.4f}"
        else:
            latitude = longitude = None
        known = rng.random() < 0.9
        return {
            "address1": f"{rng.randint(1, 999)} Main St" if known and rng.random() < 0.5 else None,
            "address2": None,
            "city": city if known else None,
            "country": country if known else None,
            "latitude": latitude,
            "longitude": longitude,
            "region": region if known else None,
            "zip": zip_code if known else None,
            "timezone": timezone if known else None,
            "ip": ".".join(str(rng.randint(1, 254)) for _ in range(4))
            if rng.random() < 0.7
            else None,
        }

    @staticmethod
    def _properties(rng: random.Random, p: int) -> dict[str, Any]:
        if rng.random() < 0.1:
            return {}
        properties: dict[str, Any] = {"$source": rng.choice(("Shopify", "Signup Form", -9, "API"))}
        points = rng.randint(0, 5000)
        # the same key holds an int for some profiles and a float for others
        properties["loyalty_points"] = points if p % 3 else points + 0.5
        if rng.random() < 0.6:
            properties["favorite_categories"] = rng.sample(CATEGORIES, rng.randint(1, 3))
        if rng.random() < 0.5:
            properties["preferences"] = {
                "newsletter": rng.random() < 0.7,
                "frequency": rng.choice(("daily", "weekly", "monthly")),
                "sizes": {"shirt": rng.choice(("S", "M", "L")), "shoe": rng.randint(5, 13)},
            }
        if rng.random() < 0.4:
            properties["birthday"] = (
                f"{rng.randint(1950, 2005)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
            )
        if rng.random() < 0.3:
            spent = round(rng.uniform(10, 2000), 2)
            properties["total_spent"] = str(spent) if rng.random() < 0.5 else spent
        if rng.random() < 0.2:
            properties["Accepts Marketing"] = rng.random() < 0.5
        return properties

    def _subscriptions(self, rng: random.Random, p: int, created: int) -> dict[str, Any]:
        suppressed = self.suppression(p)
        listed = self.list_suppression(p)
        subscribed = rng.random() < 0.6
        if suppressed and suppressed[1] == "UNSUBSCRIBE":
            consent = "UNSUBSCRIBED"
        else:
            consent = "SUBSCRIBED" if subscribed else "NEVER_SUBSCRIBED"
        consent_at = iso(created) if consent != "NEVER_SUBSCRIBED" else None
        phone = self.phone_number(p)
        sms_consent = (
            rng.choice(("SUBSCRIBED", "UNSUBSCRIBED", "NEVER_SUBSCRIBED"))
            if phone
            else "NEVER_SUBSCRIBED"
        )
        sms_at = iso(created) if sms_consent != "NEVER_SUBSCRIBED" else None
        push = rng.random() < 0.15
        return {
            "email": {
                "marketing": {
                    "can_receive_email_marketing": consent == "SUBSCRIBED" and suppressed is None,
                    "consent": consent,
                    "consent_timestamp": consent_at,
                    "last_updated": iso(suppressed[0]) if suppressed else consent_at,
                    "method": rng.choice(("FORM", "API", "IMPORT")) if consent_at else None,
                    "method_detail": rng.choice(("Popup", "Footer", None)) if consent_at else None,
                    "custom_method_detail": None,
                    "double_optin": (rng.random() < 0.3) if consent_at else None,
                    "suppression": (
                        [{"reason": suppressed[1], "timestamp": iso(suppressed[0])}]
                        if suppressed
                        else []
                    ),
                    "list_suppressions": (
                        [{"list_id": listed[0], "reason": listed[1], "timestamp": iso(listed[2])}]
                        if listed
                        else []
                    ),
                },
                "open_tracking": {
                    "consent": "SUBSCRIBED" if consent == "SUBSCRIBED" else "NEVER_SUBSCRIBED",
                    "consent_timestamp": consent_at,
                    "last_updated": consent_at,
                    "created_timestamp": iso(created),
                    "metadata": None,
                    "can_receive": consent == "SUBSCRIBED",
                    "valid_until": None,
                },
            },
            "sms": {
                "marketing": {
                    "can_receive_sms_marketing": sms_consent == "SUBSCRIBED",
                    "consent": sms_consent,
                    "consent_timestamp": sms_at,
                    "method": "TEXT" if sms_at else None,
                    "method_detail": "JOIN" if sms_at else None,
                    "last_updated": sms_at,
                },
                "transactional": {
                    "can_receive_sms_transactional": sms_consent == "SUBSCRIBED",
                    "consent": sms_consent,
                    "consent_timestamp": sms_at,
                    "method": "TEXT" if sms_at else None,
                    "method_detail": None,
                    "last_updated": sms_at,
                },
            },
            "mobile_push": {
                "marketing": {
                    "can_receive_push_marketing": push,
                    "consent": "SUBSCRIBED" if push else "NEVER_SUBSCRIBED",
                    "consent_timestamp": iso(created) if push else None,
                }
            },
            "whatsapp": {
                kind: {
                    "consent": "NEVER_SUBSCRIBED",
                    "consent_timestamp": None,
                    "last_updated": None,
                    "created_timestamp": None,
                    "metadata": None,
                    "can_receive": False,
                    "valid_until": None,
                    "phone_number": phone,
                }
                for kind in ("marketing", "transactional", "conversational")
            },
        }

    def _predictive(self, rng: random.Random) -> dict[str, Any]:
        if rng.random() < 0.3:  # not enough history for a prediction
            keys = (
                "historic_clv", "predicted_clv", "total_clv", "historic_number_of_orders",
                "predicted_number_of_orders", "average_days_between_orders", "average_order_value",
                "churn_probability", "expected_date_of_next_order", "ranked_channel_affinity",
            )  # fmt: skip
            return dict.fromkeys(keys)
        historic = round(rng.uniform(0, 1500), 2)
        predicted = round(rng.uniform(0, 800), 2)
        orders = rng.randint(0, 25)
        channels = ["email", "sms", "push", "whatsapp"]
        rng.shuffle(channels)
        return {
            "historic_clv": historic,
            "predicted_clv": predicted,
            "total_clv": round(historic + predicted, 2),
            "historic_number_of_orders": orders,
            "predicted_number_of_orders": round(rng.uniform(0, 6), 2),
            "average_days_between_orders": round(rng.uniform(5, 200), 1) if orders > 1 else None,
            "average_order_value": round(historic / orders, 2) if orders else 0.0,
            "churn_probability": round(rng.random(), 2),
            "expected_date_of_next_order": (
                iso_or_none(self.anchor + rng.randint(1, 120) * DAY) if orders > 1 else None
            ),
            "ranked_channel_affinity": channels[: rng.randint(1, 4)],
        }
