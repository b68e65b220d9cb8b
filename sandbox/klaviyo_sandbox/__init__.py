"""The Klaviyo sandbox: a local HTTP server that behaves like Klaviyo's API.

Layout (the sandbox mirrors the API, never the tap: nothing here imports the tap; and no
module imports another layer's private ``_`` modules):

- ``model``     the types shared by the HTTP layer and the data layer
- ``data``      the account: one row per collection (``data._collections``), lazy seeded
                generators, the clock, ground truth, reports, and the quirks of real
                accounts
- ``endpoints`` the per-operation table: path, scopes, tier, page sizes, filters, sorts
- ``filters``   the filter grammar (``equals(x,"y")``, ``and(...)``, comma-AND)
- ``limits``    rate-limit windows per key and tier (burst, steady, daily)
- ``faults``    fault injection (5xx, 429, reset, timeout, html403, badjson, truncate...)
- ``api``       the HTTP layer by job: auth and revisions, parameters, documents,
                handlers, middleware, admin
- ``app``       the aiohttp application, assembled from ``api``
- ``server``    start/stop in-process (for pytest) and the console command

Adding a read endpoint: its operation in ``endpoints`` and, for a new collection, its row
in ``data._collections``.
"""


def main() -> None:
    """The ``tap-klaviyo-sandbox`` command."""
    from klaviyo_sandbox.cli import main as serve

    serve()
