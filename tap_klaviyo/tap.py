"""The Klaviyo tap: settings, the client shared by every stream, and the stream list."""

from __future__ import annotations

import functools
import typing as t
from importlib.metadata import PackageNotFoundError, version

from singer_sdk import Tap

from tap_klaviyo import settings
from tap_klaviyo.client import KlaviyoClient
from tap_klaviyo.errors import PermissionDeniedError, TapKlaviyoError
from tap_klaviyo.resources import RESOURCE_BY_NAME, RESOURCES, Resource
from tap_klaviyo.streams.base import KlaviyoStream
from tap_klaviyo.streams.events import EventsStream
from tap_klaviyo.streams.profiles import ProfilesStream

# The few resources whose behaviour differs from the generic stream.
STREAM_CLASSES: dict[str, type[KlaviyoStream]] = {
    "profiles": ProfilesStream,
    "events": EventsStream,
}


def package_version() -> str:
    try:
        return version("tap-klaviyo")
    except PackageNotFoundError:  # pragma: no cover - running from a bare source tree
        return "0+unknown"


class TapKlaviyo(Tap):
    """Singer tap for Klaviyo."""

    name = "tap-klaviyo"
    config_jsonschema = settings.CONFIG_SCHEMA

    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        # Our own checks first: one line per problem, naming the setting, never the key.
        warnings = settings.validate(self.config)
        for warning in warnings:
            self.logger.warning(warning)
        return [*warnings, *super()._validate_config(raise_errors=raise_errors)]

    @functools.cached_property
    def client(self) -> KlaviyoClient:
        config = self.config
        return KlaviyoClient(
            api_key=settings.resolve_api_key(config),
            base_url=settings.check_base_url(config.get("base_url", settings.DEFAULT_BASE_URL)),
            revision=config.get("revision", settings.DEFAULT_REVISION),
            user_agent=config.get("user_agent") or f"tap-klaviyo/{package_version()}",
            timeout=float(config.get("request_timeout", 60)),
            max_retries=int(config.get("max_retries", 8)),
        )

    def discover_streams(self) -> list[KlaviyoStream]:
        return [self.stream_for(resource) for resource in RESOURCES]

    def stream_for(self, resource: Resource) -> KlaviyoStream:
        return STREAM_CLASSES.get(resource.name, KlaviyoStream)(self, resource)

    def reader(self, name: str) -> KlaviyoStream:
        """A stream object used only to read (a child's parents), apart from the synced one."""
        return self.stream_for(RESOURCE_BY_NAME[name])

    @property
    def label(self) -> str:
        return self.config.get("account_name") or "Klaviyo account"

    def sync_all(self) -> None:
        self.logger.info("Syncing %s", self.label)
        try:
            super().sync_all()
        except TapKlaviyoError:
            # Bookmarks only ever cover records already emitted: hand them to the target
            # before stopping, so the next run resumes here.
            self.state_writer.write_state(self.state)
            raise
        finally:
            stats = self.client.stats
            self.logger.info(
                "Requests: %d, retries: %d (429: %d)",
                stats.requests, stats.retries, stats.throttled,
            )  # fmt: skip

    def run_connection_test(self) -> bool:
        """Check the key, then whether each stream's scope is granted."""
        self.logger.info("Testing the connection to %s", self.label)
        for stream in self.streams.values():
            assert isinstance(stream, KlaviyoStream)
            scopes = " + ".join(stream.resource.scopes)
            partition = (stream.partitions or [None])[0]
            try:
                next(iter(stream.read(partition)), None)
            except PermissionDeniedError:
                self.logger.warning("%-18s missing scope: %s", stream.name, scopes)
            else:
                self.logger.info("%-18s ok (%s)", stream.name, scopes)
        return True
