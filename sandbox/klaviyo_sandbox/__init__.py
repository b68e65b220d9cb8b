"""The Klaviyo sandbox: a local HTTP server that behaves like Klaviyo's API.

Layout (the sandbox mirrors the API, never the tap: nothing here imports the tap):

- ``model``     the types shared by the HTTP layer and the data layer
- ``data``      the account: lazy, seeded generators, the clock, ground truth, reports,
                and the quirks of real accounts (``data._quirks``)
- ``endpoints`` the per-operation table: path, scopes, tier, page sizes, filters, sorts
- ``filters``   the filter grammar (``equals(x,"y")``, ``and(...)``, comma-AND)
- ``limits``    rate-limit windows per key and tier (burst, steady, daily)
- ``faults``    fault injection (5xx, 429, reset, timeout, html403, badjson, truncate...)
- ``app``       the aiohttp application: auth, revision, routes, pagination, admin
- ``server``    start/stop in-process (for pytest) and the console command
"""


def main() -> None:
    """The ``tap-klaviyo-sandbox`` command."""
    from klaviyo_sandbox.cli import main as serve

    serve()
