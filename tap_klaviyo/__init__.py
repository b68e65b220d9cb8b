"""tap-klaviyo: a Singer tap for Klaviyo."""
