"""The collections an account serves, one row each: what the account iterates to build its
tables, answer a query, a single GET, ground truth, deletes and its summary.

Adding a collection is adding its row here (and its operation in ``endpoints``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..model import Condition, Query, Resource
from . import _omnichannel as omnichannel
from . import _storefront as storefront
from ._lazy import Lazy
from ._pages import Plan
from ._tables import Table

if TYPE_CHECKING:
    from ._account import Account

CHANNEL_REQUIRED = (
    "A channel filter is required to list campaigns. Please try adding either "
    "\"equals(messages.channel,'email')\", \"equals(messages.channel,'sms')\" or "
    "\"equals(messages.channel,'mobile_push')\" to your filter."
)


@dataclass(frozen=True)
class RequiredFilter:
    """A filter Klaviyo insists on: a 400 naming ``filter`` without one on ``fields``."""

    fields: frozenset[str]
    detail: str
    op: str | None = None  # None: any operator

    def met(self, conditions: tuple[Condition, ...]) -> bool:
        return any(c.field in self.fields and self.op in (None, c.op) for c in conditions)


@dataclass(frozen=True)
class Collection:
    """One collection of the account.

    Its records come from exactly one source: ``table`` (materialised from the seed),
    ``view`` (the 2026-10-15 campaign model, derived from the catalog at each request), or
    ``plan`` (generated per index: profiles, events, members), whose ``one`` builds a
    record by id and ``count`` counts them. ``timeline`` is the field ground truth windows
    on; ``parent`` the collection whose path a child is read under
    (``/api/flows/{id}/flow-actions``).
    ``deletable``: ``advance`` and the admin route delete its records; ``vanishing``
    (quirks): some listed records answer 404 on detail, their children too. ``same_as``:
    the records are another collection's, seen another way (the summary counts them there).
    """

    name: str
    type: str
    timeline: str | None
    table: Callable[[Account], Table] | None = None
    view: bool = False
    plan: Callable[[Lazy, Query], Plan] | None = None
    one: Callable[[Lazy, str, frozenset[str], frozenset[str]], Resource] | None = None
    count: Callable[[Account], int] | None = None  # generated: how many (the summary)
    parent: str | None = None
    deletable: bool = False
    vanishing: bool = False
    paginated: bool = True
    required: RequiredFilter | None = None
    hides_archived: bool = False  # archived records are listed only when a filter asks
    same_as: str | None = None


def _store(name: str) -> Callable[[Account], Table]:
    """The table of one of the storefront's collections."""

    def table(account: Account) -> Table:
        return account.storefront.tables[name]

    return table


COLLECTIONS: tuple[Collection, ...] = (
    Collection(
        "profiles",
        "profile",
        "updated",
        plan=Lazy.profile_plan,
        one=Lazy.one_profile,
        count=lambda a: a.profiles.total - len(a.profiles.overlay.deleted),
    ),
    Collection(
        "events",
        "event",
        "datetime",
        plan=Lazy.event_plan,
        one=Lazy.one_event,
        count=lambda a: a.events.total,
    ),
    Collection(
        "lists", "list", "updated", table=lambda a: a.catalog.lists, deletable=True, vanishing=True
    ),
    Collection(
        "segments",
        "segment",
        "updated",
        table=lambda a: a.catalog.segments,
        deletable=True,
        vanishing=True,
    ),
    Collection(
        "campaigns",
        "campaign",
        "updated_at",
        table=lambda a: a.catalog.campaigns,
        deletable=True,
        required=RequiredFilter(frozenset({"messages.channel"}), CHANNEL_REQUIRED, "equals"),
        hides_archived=True,
    ),
    Collection(
        "campaign-messages",
        "campaign-message",
        "updated_at",
        table=lambda a: a.catalog.campaign_messages,
        parent="campaigns",
        paginated=False,
    ),
    Collection(
        "flows",
        "flow",
        "updated",
        table=lambda a: a.catalog.flows,
        deletable=True,
        hides_archived=True,
    ),
    Collection(
        "flow-actions",
        "flow-action",
        "updated",
        table=lambda a: a.catalog.flow_actions,
        parent="flows",
        vanishing=True,
    ),
    Collection(
        "flow-messages",
        "flow-message",
        "updated",
        table=lambda a: a.catalog.flow_messages,
        parent="flow-actions",
    ),
    Collection("metrics", "metric", "updated", table=lambda a: a.metric_table, vanishing=True),
    Collection(
        "templates", "template", "updated", table=lambda a: a.catalog.templates, deletable=True
    ),
    Collection("tags", "tag", None, table=lambda a: a.catalog.tags),
    Collection(
        "list-profiles",
        "profile",
        "joined_group_at",
        plan=lambda lazy, q: lazy.member_plan(q, lazy.lists),
        count=lambda a: a.member_count("lists"),
        parent="lists",
    ),
    Collection(
        "segment-profiles",
        "profile",
        "joined_group_at",
        plan=lambda lazy, q: lazy.member_plan(q, lazy.segments),
        count=lambda a: a.member_count("segments"),
        parent="segments",
    ),
    Collection("accounts", "account", None, table=lambda a: a.account_table, paginated=False),
    # Revision 2026-10-15's campaign model: the same campaigns, seen another way.
    Collection(
        omnichannel.CAMPAIGNS,
        "campaign",
        "updated_at",
        view=True,
        hides_archived=True,
        same_as="campaigns",
    ),
    Collection(
        omnichannel.MESSAGES, "campaign-message", "updated", view=True, same_as="campaign-messages"
    ),
    Collection(
        omnichannel.AUDIENCES,
        "campaign-audience",
        "updated",
        view=True,
        parent=omnichannel.CAMPAIGNS,
        paginated=False,
    ),
    Collection(
        omnichannel.VARIATIONS,
        "campaign-variation",
        "updated",
        view=True,
        parent=omnichannel.MESSAGES,
        paginated=False,
    ),
    Collection("tag-groups", "tag-group", None, table=lambda a: a.catalog.tag_groups),
    # The storefront.
    Collection(storefront.FORMS, "form", "updated_at", table=_store(storefront.FORMS)),
    Collection(
        storefront.FORM_VERSIONS,
        "form-version",
        "updated_at",
        table=_store(storefront.FORM_VERSIONS),
        parent=storefront.FORMS,
    ),
    Collection(storefront.COUPONS, "coupon", None, table=_store(storefront.COUPONS)),
    Collection(
        storefront.COUPON_CODES,
        "coupon-code",
        None,
        table=_store(storefront.COUPON_CODES),
        required=RequiredFilter(frozenset({"coupon.id", "profile.id"}), storefront.CODES_REQUIRED),
    ),
    Collection(
        "coupon-coupon-codes",  # one coupon's codes: how far a promotion went
        "coupon-code",
        None,
        table=_store(storefront.COUPON_CODES),
        parent=storefront.COUPONS,
        same_as=storefront.COUPON_CODES,
    ),
    Collection(
        storefront.CATALOG_ITEMS, "catalog-item", "created", table=_store(storefront.CATALOG_ITEMS)
    ),
    Collection(
        storefront.CATALOG_VARIANTS,
        "catalog-variant",
        "created",
        table=_store(storefront.CATALOG_VARIANTS),
    ),
    Collection(
        storefront.CATALOG_CATEGORIES,
        "catalog-category",
        None,
        table=_store(storefront.CATALOG_CATEGORIES),
    ),
    Collection(storefront.REVIEWS, "review", "created", table=_store(storefront.REVIEWS)),
    Collection(storefront.PUSH_TOKENS, "push-token", None, table=_store(storefront.PUSH_TOKENS)),
    Collection(
        storefront.OBJECT_TYPES,
        "object-type",
        None,
        table=_store(storefront.OBJECT_TYPES),
        paginated=False,
    ),
    Collection(
        storefront.OBJECT_RECORDS,
        "object-record",
        None,
        table=_store(storefront.OBJECT_RECORDS),
        parent=storefront.OBJECT_TYPES,
    ),
)
BY_NAME: Mapping[str, Collection] = {row.name: row for row in COLLECTIONS}
