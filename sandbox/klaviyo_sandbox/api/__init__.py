"""The sandbox's HTTP layer, one module per job (``klaviyo_sandbox.app`` assembles it)."""
