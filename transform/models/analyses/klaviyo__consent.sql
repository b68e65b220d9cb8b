-- Live profiles per channel and consent state, as of the last load.
{{ consent_counts() }}
