"""The sandbox's data layer: a deterministic, lazily generated Klaviyo account.

``Account`` answers the HTTP layer's collection queries, single GETs, reports and
ground-truth questions; ``Sizes`` says how big the account is. The account iterates its
collection rows (``_collections``): large collections (profiles, events, list and segment
members) are generated per index on demand (``_lazy``), so memory does not grow with the
dataset; small ones are tables materialised at construction (``_catalog``,
``_storefront``). With ``quirks`` (the default) the account also sends the variants real
accounts do (``Account`` lists them; ``_quirks`` holds the mixed timestamp forms).
"""

from ._account import ACCOUNT_TIMEZONE, Account, Sizes
from ._statistics import STATISTICS

__all__ = ["ACCOUNT_TIMEZONE", "STATISTICS", "Account", "Sizes"]
