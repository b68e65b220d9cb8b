"""Profiles: consent and predictions by default, at the rate-limit tier they really cost."""

from __future__ import annotations

from tap_klaviyo.resources import M, Tier
from tap_klaviyo.streams.base import KlaviyoStream


class ProfilesStream(KlaviyoStream):
    @property
    def additional_fields(self) -> list[str]:
        fields = []
        if self.config.get("profile_subscriptions", True):
            fields.append("subscriptions")
        if self.config.get("profile_predictive_analytics", True):
            fields.append("predictive_analytics")
        return fields

    @property
    def tier(self) -> Tier:
        # Klaviyo drops profiles from the L to the M tier when predictions are requested.
        return M if "predictive_analytics" in self.additional_fields else self.resource.tier

    def extra_params(self) -> dict[str, str]:
        fields = self.additional_fields
        return {"additional-fields[profile]": ",".join(fields)} if fields else {}
