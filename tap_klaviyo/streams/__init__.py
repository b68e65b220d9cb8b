"""The tap's streams: one generic stream driven by the resource table, plus the few behaviours
that differ (events' metric names, profiles' additional fields)."""
