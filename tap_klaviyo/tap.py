"""The Klaviyo tap: settings, the client shared by every stream, and the stream list."""

from __future__ import annotations

import copy
import functools
import sys
import typing as t
from importlib.metadata import PackageNotFoundError, version
from types import FrameType

from singer_sdk import Tap

from tap_klaviyo import settings, state
from tap_klaviyo.client import KlaviyoClient
from tap_klaviyo.errors import PermissionDeniedError, TapKlaviyoError
from tap_klaviyo.output import SingerOutput
from tap_klaviyo.resources import RESOURCE_BY_NAME, RESOURCES, Resource
from tap_klaviyo.streams.base import KlaviyoStream
from tap_klaviyo.streams.detailed import CampaignsDetailedStream, SnapshotStream
from tap_klaviyo.streams.reports import (
    ConversionMetric,
    MetricAggregatesStream,
    ValuesReportStream,
    choose_conversion_metric,
)
from tap_klaviyo.streams.windows import WindowedEventsStream, WindowedProfilesStream

# The few resources whose behaviour differs from the generic stream.
STREAM_CLASSES: dict[str, type[KlaviyoStream]] = {
    "profiles": WindowedProfilesStream,
    "events": WindowedEventsStream,
    "campaigns_detailed": CampaignsDetailedStream,
    "lists_detailed": SnapshotStream,
    "segments_detailed": SnapshotStream,
    "campaign_values_reports": ValuesReportStream,
    "flow_values_reports": ValuesReportStream,
    "metric_aggregates": MetricAggregatesStream,
}


def package_version() -> str:
    try:
        return version("singer-tap-klaviyo")
    except PackageNotFoundError:  # pragma: no cover - running from a bare source tree
        return "0+unknown"


class TapKlaviyo(Tap):
    """Singer tap for Klaviyo."""

    name = "tap-klaviyo"
    # A copy: singer-sdk adds its own settings to the tap's schema in place.
    config_jsonschema = copy.deepcopy(settings.CONFIG_SCHEMA)
    message_writer_class = SingerOutput

    @property
    def output(self) -> SingerOutput:
        return t.cast("SingerOutput", self.message_writer)

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
            pool_size=int(config.get("max_workers", settings.DEFAULT_MAX_WORKERS)) + 4,
        )

    @functools.cached_property
    def conversion_metric(self) -> ConversionMetric:
        """The values reports' conversion metric, chosen once per run (one metrics listing)."""
        name = self.config.get("conversion_metric_name", "Placed Order")
        choice = choose_conversion_metric(self.reader("metrics").read(None), name)
        if len(choice.candidates) > 1:
            self.logger.warning("Values reports: %s.", choice.describe())
        return choice

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

    # singer-sdk marks these two final; they are overridden on purpose (and pinned to the
    # 0.54 line, and covered by the sync and --test tests): a failed sync must hand over its
    # safe state, and --test reports each stream's scope rather than syncing a record.
    def load_state(self, state_dict: dict[str, t.Any]) -> None:
        """Read older state formats too (see ``tap_klaviyo.state``)."""
        keys = {resource.name: resource.replication_key for resource in RESOURCES}
        migrated, warnings = state.migrate(state_dict, keys)
        for warning in warnings:
            self.logger.warning(warning)
        super().load_state(migrated)

    def _handle_termination(self, signum: int, frame: FrameType | None) -> None:
        """SIGTERM/SIGINT: hand the target the last safe state, then stop non-zero."""
        self.logger.warning("Stopping on signal %d; the last safe state follows.", signum)
        self.output.when_idle(functools.partial(self._stop, 128 + signum))

    def _stop(self, exit_code: int) -> None:
        self.state_writer.write_state(self.state)
        self.output.flush()
        sys.exit(exit_code)

    def sync_all(self) -> None:  # type: ignore[misc]
        self.logger.info("Syncing %s", self.label)
        try:
            super().sync_all()
        except TapKlaviyoError:
            # Bookmarks only ever cover records already emitted: hand them to the target
            # before stopping, so the next run resumes here.
            self.state_writer.write_state(self.state)
            raise
        finally:
            self.output.flush()
            stats = self.client.stats
            self.logger.info(
                "Requests: %d, retries: %d (429: %d)",
                stats.requests, stats.retries, stats.throttled,
            )  # fmt: skip

    def run_connection_test(self) -> bool:  # type: ignore[misc]
        """Check the key, then whether each stream's scope is granted."""
        self.logger.info("Testing the connection to %s", self.label)
        for stream in self.streams.values():
            assert isinstance(stream, KlaviyoStream)
            scopes = " + ".join(stream.resource.scopes)
            try:
                stream.probe()
            except PermissionDeniedError:
                self.logger.warning("%-18s missing scope: %s", stream.name, scopes)
            else:
                self.logger.info("%-18s ok (%s)", stream.name, scopes)
                if isinstance(stream, ValuesReportStream):
                    self.logger.info("%-18s %s", stream.name, self.describe_conversion_metric())
        return True

    def describe_conversion_metric(self) -> str:
        configured = self.config.get("conversion_metric_id")
        if configured:
            return f"conversion metric: {configured} (set by 'conversion_metric_id')"
        try:
            return self.conversion_metric.describe()
        except PermissionDeniedError:
            return "conversion metric: not chosen, the key lacks the scope metrics:read"
