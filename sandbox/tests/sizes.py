"""Account sizes of the sandbox's tests."""

from klaviyo_sandbox.data import Sizes

# Several pages of every collection (the tap's tests use the same sizes).
SMALL = Sizes(
    profiles=450, events=3500, lists=6, segments=4, campaigns=24, flows=6, templates=12, tags=6
)
# A few pages of everything, and cheap to build.
TINY = Sizes(
    profiles=60, events=300, lists=3, segments=2, campaigns=6, flows=3, templates=3, tags=3
)
