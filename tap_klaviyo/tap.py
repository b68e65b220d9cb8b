"""The Klaviyo tap: its settings, the client every stream shares, the streams of the table,
``--test``, and how a sync ends (whatever stops it)."""

from __future__ import annotations

import copy
import datetime as dt
import functools
import sys
import threading
import time
import typing as t
from zoneinfo import ZoneInfo

import click

from tap_klaviyo import report_quota, state
from tap_klaviyo.budget import Budget
from tap_klaviyo.client import KlaviyoClient
from tap_klaviyo.errors import PermissionDeniedError, TapKlaviyoError
from tap_klaviyo.logs import quiet_sdk
from tap_klaviyo.output import SingerOutput, StateLines
from tap_klaviyo.parallel import run_at_once
from tap_klaviyo.report_quota import ReportQuota
from tap_klaviyo.resources import QUOTA_STREAMS, RESOURCE_BY_NAME, RESOURCES, Resource
from tap_klaviyo.sdk_compat import TapInternals
from tap_klaviyo.settings import CONFIG_SCHEMA, Settings, validate
from tap_klaviyo.streams import STREAM_CLASSES
from tap_klaviyo.streams.base import KlaviyoStream
from tap_klaviyo.streams.reports import (
    ConversionMetric,
    ReportStream,
    choose_conversion_metric,
)

TEST_HELP = (
    "Check the API key and each stream's scope with one small GET per stream (no report "
    "POST: the reports' daily quota is kept for syncs), print the values reports' "
    "conversion metric, write no records. Exits non-zero when the key is rejected or "
    "lacks every stream's scope. --test=schema prints the streams' SCHEMA messages."
)


class TapKlaviyo(TapInternals):
    """Singer tap for Klaviyo."""

    name = "tap-klaviyo"
    # The distribution: "tap-klaviyo" on PyPI is another project (--about, the User-Agent).
    package_name = "singer-tap-klaviyo"
    # A copy: singer-sdk adds its own settings to the tap's schema in place.
    config_jsonschema = copy.deepcopy(CONFIG_SCHEMA)
    message_writer_class = SingerOutput

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        quiet_sdk()  # before the SDK's first line
        self.denied: dict[str, tuple[str, ...]] = {}  # stream -> the scopes it lacked
        # Injectable, so tests of progress lines and timed STATEs need no sleeps.
        self.clock: t.Callable[[], float] = time.monotonic
        self.cancelled = threading.Event()  # set when one stream fails: the others stop
        self._listings: dict[str, list[dict]] = {}
        self._listing_lock = threading.Lock()
        super().__init__(*args, **kwargs)

    @classmethod
    def get_singer_command(cls) -> click.Command:
        """singer-sdk's command, with ``--test`` described as this tap does it."""
        command = super().get_singer_command()
        for option in command.params:
            if option.name == "test" and isinstance(option, click.Option):
                option.help = TEST_HELP
        return command

    @functools.cached_property
    def settings(self) -> Settings:
        return Settings.from_config(self.config)

    @property
    def output(self) -> SingerOutput:
        return t.cast("SingerOutput", self.message_writer)

    def check_settings(self) -> list[str]:
        """Our own checks, before the SDK's: one line per problem, never the key."""
        warnings = validate(self.config)
        for warning in warnings:
            self.logger.warning(warning)
        return warnings

    def aliased_config(self, config: dict[str, t.Any]) -> dict[str, t.Any]:
        """``auth_token`` (the MeltanoLabs variant's name) stands for ``api_key``."""
        if config.get("api_key") is None and config.get("auth_token") is not None:
            return {**config, "api_key": config["auth_token"]}
        return config

    @functools.cached_property
    def client(self) -> KlaviyoClient:
        chosen = self.settings
        return KlaviyoClient(
            api_key=chosen.api_key,
            base_url=chosen.base_url,
            revision=chosen.revision,
            user_agent=chosen.user_agent or f"tap-klaviyo/{self.plugin_version}",
            timeout=chosen.request_timeout,
            max_retries=chosen.max_retries,
            max_in_flight=chosen.max_workers,
            budget=Budget(enabled=chosen.rate_limit_budget),
        )

    @functools.cached_property
    def state_lines_writer(self) -> StateLines:
        return StateLines(self.output)

    def state_lines(self) -> StateLines:
        return self.state_lines_writer

    def listing(self, name: str) -> list[dict]:
        """Every row of the parent stream ``name``, listed once per run for all its children
        (and the conversion metric), whichever stream asks first; the others wait for it."""
        with self._listing_lock:
            if name not in self._listings:
                reader = self.reader(name)
                self._listings[name] = [
                    row
                    for partition in reader.partitions or [None]  # type: ignore[list-item]
                    for row in reader.read_all(partition)
                ]
            return self._listings[name]

    @functools.cached_property
    def conversion_metric(self) -> ConversionMetric:
        """The values reports' conversion metric, chosen once per run (one metrics listing)."""
        name = self.settings.conversion_metric_name
        choice = choose_conversion_metric(self.listing("metrics"), name)
        if len(choice.candidates) > 1:
            self.logger.warning("Values reports: %s.", choice.describe())
        return choice

    @functools.cached_property
    def account_timezone(self) -> str | None:
        """The account's timezone (one ``GET /api/accounts`` a run); None without the scope
        accounts:read."""
        try:
            accounts = self.listing("accounts")
        except PermissionDeniedError:
            return None
        return str(accounts[0]["timezone"]) if accounts and accounts[0].get("timezone") else None

    @functools.cached_property
    def report_timezone(self) -> ZoneInfo:
        """The timezone reports and aggregates cut days in: the setting, else the account's."""
        name = self.settings.report_timezone or self.account_timezone
        if name is None:
            self.logger.warning(
                "Reports: the key lacks the scope accounts:read, so the account's timezone is "
                "unknown; days are cut in UTC. Add the scope or set 'report_timezone'."
            )
        return ZoneInfo(name or "UTC")

    @property
    def state_dict(self) -> dict[str, t.Any]:
        """The tap's state as a plain dict: it carries the report quota beside the bookmarks."""
        return t.cast("dict[str, t.Any]", self.state)

    @functools.cached_property
    def report_quota(self) -> ReportQuota:
        saved = self.state_dict.get(report_quota.STATE_KEY)
        return ReportQuota(
            self.settings.report_requests_per_day,
            saved if isinstance(saved, dict) else None,
            lambda: dt.datetime.now(dt.timezone.utc),
            keep=functools.partial(self.state_dict.__setitem__, report_quota.STATE_KEY),
        )

    def plan_reports(self, selected: list[KlaviyoStream]) -> None:
        """The run's report requests, planned up front within the daily quota (one line)."""
        reports = {s.name: s for s in selected if isinstance(s, ReportStream)}
        needs = {
            name: t.cast("ReportStream", reports[name]).requests_needed()
            for name in QUOTA_STREAMS
            if name in reports
        }
        if not needs:
            return
        quota = self.report_quota
        grants = quota.plan(needs)
        self.logger.info("%s.", quota.describe(needs, grants))
        self.state_dict[report_quota.STATE_KEY] = quota.saved()

    def discover_streams(self) -> list[KlaviyoStream]:
        return [self.stream_for(resource) for resource in RESOURCES]

    def stream_for(self, resource: Resource) -> KlaviyoStream:
        return STREAM_CLASSES[resource.behaviour](self, resource)

    @functools.cache  # noqa: B019 - one reader per parent stream for the tap's life
    def reader(self, name: str) -> KlaviyoStream:
        """A stream object used only to read (a child's parents), apart from the synced one."""
        return self.stream_for(RESOURCE_BY_NAME[name])

    def load_state(self, state_dict: dict[str, t.Any]) -> None:
        """Read older state formats too (see ``tap_klaviyo.state``)."""
        keys = {resource.name: resource.replication_key for resource in RESOURCES}
        migrated, warnings = state.migrate(state_dict, keys)
        for warning in warnings:
            self.logger.warning(warning)
        super().load_state(migrated)
        if isinstance(migrated.get(report_quota.STATE_KEY), dict):  # the SDK keeps bookmarks
            self.state_dict[report_quota.STATE_KEY] = migrated[report_quota.STATE_KEY]

    # -- how a sync ends --------------------------------------------------------------------

    def on_signal(self, signum: int) -> None:
        """SIGTERM/SIGINT: hand the target the last safe state, then stop non-zero."""
        self.logger.warning("Stopping on signal %d; the last safe state follows.", signum)
        self.output.when_idle(functools.partial(self._stop, 128 + signum))

    def _stop(self, exit_code: int) -> None:
        self.cancelled.set()
        # Streams still running on other threads write nothing after this final STATE.
        self.output.close(final_state=dict(self.state))
        sys.exit(exit_code)

    def run_streams(self) -> None:
        """Every selected stream at once (see ``tap_klaviyo.parallel``)."""
        selected = [stream for stream in self.streams.values() if stream.selected]
        for stream in self.streams.values():
            if not stream.selected:
                self.logger.info("Skipping deselected stream '%s'.", stream.name)
        self.plan_reports(t.cast("list[KlaviyoStream]", selected))
        run_at_once(selected, cancelled=self.cancelled, logger=self.logger)
        if report_quota.STATE_KEY in self.state_dict:
            self.state_dict[report_quota.STATE_KEY] = self.report_quota.saved()
            self.state_writer.write_state(self.state)
        for stream in self.streams.values():
            stream.log_sync_costs()

    def skipped_for_scope(self, stream: str, scopes: tuple[str, ...]) -> None:
        self.denied[stream] = scopes

    def sync_account(self, sync: t.Callable[[], None]) -> None:
        self.logger.info("Syncing %s", self.settings.label)
        selected = [name for name, stream in self.streams.items() if stream.selected]
        if not selected:
            self.logger.warning(
                "The catalog selects no stream: nothing is synced. Select streams in the "
                "catalog (metadata 'selected': true), or run without --catalog to sync all."
            )
        _ = self.client  # one client (and one budget) for every stream's thread
        try:
            sync()
            self.end_on_denied_scopes(selected)
        except TapKlaviyoError:
            # Bookmarks only ever cover records already emitted: hand them to the target
            # before stopping, so the next run resumes here.
            self.output.close(final_state=dict(self.state))
            raise
        finally:
            self.output.close()
            stats = self.client.stats
            self.logger.info(
                "Requests: %d, retries: %d (429: %d)",
                stats.requests, stats.retries, stats.throttled,
            )  # fmt: skip

    # -- --test ---------------------------------------------------------------------------

    def end_on_denied_scopes(self, selected: list[str]) -> None:
        """One summary line for the streams skipped for scopes; none synced: an error."""
        if not self.denied:
            return
        lacking = ", ".join(f"{name} ({' + '.join(s)})" for name, s in sorted(self.denied.items()))
        if selected and set(selected) <= set(self.denied):
            raise PermissionDeniedError(
                f"The API key lacks the scopes of every selected stream, so nothing was "
                f"synced: {lacking}. Add them to the key in Klaviyo (Settings > API keys)."
            )
        self.logger.warning("Streams skipped for missing scopes: %s.", lacking)

    def test_connection(self) -> bool:
        """Check the key, then whether each stream's scope is granted."""
        self.logger.info("Testing the connection to %s", self.settings.label)
        for stream in self.streams.values():
            assert isinstance(stream, KlaviyoStream)
            scopes = " + ".join(stream.resource.scopes)
            try:
                stream.probe()
            except PermissionDeniedError:
                self.denied[stream.name] = stream.resource.scopes
                self.logger.warning("%-18s missing scope: %s", stream.name, scopes)
            else:
                self.logger.info("%-18s ok (%s)", stream.name, scopes)
                if isinstance(stream, ReportStream) and stream.resource.conversion_metric:
                    self.logger.info("%-18s %s", stream.name, self.describe_conversion_metric())
        self.end_on_denied_scopes(list(self.streams))
        return True

    def describe_conversion_metric(self) -> str:
        configured = self.settings.conversion_metric_id
        if configured:
            return f"conversion metric: {configured} (set by 'conversion_metric_id')"
        try:
            return self.conversion_metric.describe()
        except PermissionDeniedError:
            return "conversion metric: not chosen, the key lacks the scope metrics:read"
