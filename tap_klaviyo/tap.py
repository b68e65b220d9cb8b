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

from tap_klaviyo import profile_columns, report_quota, state
from tap_klaviyo.budget import Budget
from tap_klaviyo.client import KlaviyoClient
from tap_klaviyo.errors import (
    OutputClosedError,
    PermissionDeniedError,
    StateAccountError,
    TapKlaviyoError,
)
from tap_klaviyo.logs import plural, quiet_sdk
from tap_klaviyo.output import SingerOutput, StateLines
from tap_klaviyo.parallel import run_at_once
from tap_klaviyo.profile_columns import PropertyColumns
from tap_klaviyo.records import Page
from tap_klaviyo.report_quota import ReportQuota
from tap_klaviyo.resources import PROFILES, QUOTA_STREAMS, STREAM_NAMES, Resource, resources_for
from tap_klaviyo.sdk_compat import TapInternals
from tap_klaviyo.settings import CONFIG_SCHEMA, Settings, validate
from tap_klaviyo.streams import STREAM_CLASSES
from tap_klaviyo.streams.base import Cancelled, KlaviyoStream
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
# The state's key for the account it was made with (``GET /api/accounts``' id).
STATE_ACCOUNT = "account_id"


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
        self._warned_scopes: set[tuple[str, ...]] = set()  # one warning per missing scope
        self._denied_lock = threading.Lock()
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
    def property_columns(self) -> PropertyColumns | None:
        """Profile properties as columns (a setting): those of the catalog's ``profiles``
        schema in a sync, else found in a sample of profiles (--discover)."""
        if not self.settings.profile_properties_as_columns:
            return None
        entry = self.input_catalog.get_stream("profiles") if self.input_catalog else None
        if entry is not None:
            return PropertyColumns.from_schema(entry.schema.to_dict())
        size = self.settings.profile_properties_sample
        params = profile_columns.sample_params(size)
        found: list[t.Any] = []
        requests = 0
        try:
            for document in self.client.paginate(
                PROFILES.path, params, tier=PROFILES.tier, endpoint=PROFILES.path
            ):
                requests += 1
                found.extend(
                    (row.get("attributes") or {}).get("properties")
                    for row in Page(document).objects(None)
                )
                if len(found) >= size:
                    break
        except PermissionDeniedError:
            self.logger.warning(
                "Profile properties as columns: the key lacks profiles:read; no columns."
            )
            return None
        columns = PropertyColumns.from_sample(found[:size])
        self.logger.info(
            "Profile properties as columns: %s from %s sampled in %s: %s",
            plural(len(columns.columns), "column"), plural(min(len(found), size), "profile"),
            plural(requests, "request"),
            ", ".join(f"{c.key!r} -> {c.name} ({c.kind})" for c in columns.columns) or "none",
        )  # fmt: skip
        return columns

    @functools.cached_property
    def account(self) -> dict[str, t.Any] | None:
        """The key's account, from the run's one ``GET /api/accounts`` (XS tier: 15/min),
        shared by the state's account check, the reports' timezone and the ``accounts``
        stream; None without the scope accounts:read."""
        try:
            accounts = self.listing("accounts")
        except PermissionDeniedError:
            return None
        return accounts[0] if accounts else None

    @property
    def account_timezone(self) -> str | None:
        timezone = (self.account or {}).get("timezone")
        return str(timezone) if timezone else None

    def describe_account(self) -> str:
        """The account's id, name and timezone, for ``--test`` and the account check."""
        account = self.account
        if account is None:
            return "unknown (the key lacks the scope accounts:read)"
        contact = account.get("contact_information") or {}
        name = contact.get("organization_name") or contact.get("default_sender_name")
        return f"{account.get('id')} ({name or 'no name'}, timezone {account.get('timezone')})"

    def check_account(self) -> None:
        """Before any record: a state that names its account must be the key's, else the run
        stops (its bookmarks would skip this account's data, and its table versions would mark
        the other's rows). A new or older state names none: ``record_account`` adopts it."""
        saved = self.state_dict.get(STATE_ACCOUNT)
        if not isinstance(saved, str):
            return
        account = self.account
        if account is None:
            self.warn_account_unknown()
            return
        key_account = str(account.get("id"))
        if saved != key_account:
            raise StateAccountError(
                f"The state is Klaviyo account {saved}'s, but the API key is account "
                f"{key_account}'s: run with account {key_account}'s own state file, or "
                f"without a state to sync it from start_date."
            )

    def record_account(self) -> None:
        """After the streams, a state that names no account takes the key's: from the run's
        one ``GET /api/accounts`` (made now if no stream needed it), so that a request there
        never comes before a first run's records."""
        if isinstance(self.state_dict.get(STATE_ACCOUNT), str):
            return
        try:
            account = self.account
        except TapKlaviyoError as error:  # the records are safe: only the check waits
            self.logger.warning(
                "The state's account could not be recorded (%s); the next run records it.",
                error,
            )
            return
        if account is None:
            self.warn_account_unknown()
            return
        self.state_dict[STATE_ACCOUNT] = str(account.get("id"))
        self.state_writer.write_state(self.state)

    def warn_account_unknown(self) -> None:
        self.logger.warning(
            "The key lacks the scope accounts:read: whether the state is this account's "
            "could not be checked. Add the scope to the key to have it checked."
        )

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

    @functools.cached_property
    def resources(self) -> dict[str, Resource]:
        """The streams of the configured revision (its campaign model), by name."""
        return {r.name: r for r in resources_for(self.settings.revision)}

    def discover_streams(self) -> list[KlaviyoStream]:
        return [self.stream_for(resource) for resource in self.resources.values()]

    def stream_for(self, resource: Resource) -> KlaviyoStream:
        return STREAM_CLASSES[resource.behaviour](self, resource)

    @functools.cache  # noqa: B019 - one reader per parent stream for the tap's life
    def reader(self, name: str) -> KlaviyoStream:
        """A stream object used only to read (a child's parents), apart from the synced one."""
        return self.stream_for(self.resources[name])

    def load_state(self, state_dict: dict[str, t.Any]) -> None:
        """Read older state formats too (see ``tap_klaviyo.state``)."""
        keys = {name: resource.replication_key for name, resource in self.resources.items()}
        migrated, warnings = state.migrate(state_dict, keys)
        for warning in warnings:
            self.logger.warning(warning)
        super().load_state(migrated)
        if isinstance(migrated.get(report_quota.STATE_KEY), dict):  # the SDK keeps bookmarks
            self.state_dict[report_quota.STATE_KEY] = migrated[report_quota.STATE_KEY]
        if isinstance(migrated.get(STATE_ACCOUNT), str):
            self.state_dict[STATE_ACCOUNT] = migrated[STATE_ACCOUNT]

    # -- how a sync ends --------------------------------------------------------------------

    def on_signal(self, signum: int) -> None:
        """SIGTERM/SIGINT: hand the target the last safe state, then stop non-zero."""
        self.logger.warning("Stopping on signal %d; the last safe state follows.", signum)
        self.output.when_idle(functools.partial(self._stop, 128 + signum))

    def _stop(self, exit_code: int) -> None:
        self.cancelled.set()
        # Streams still running on other threads write nothing after this final STATE.
        self.output.close(final_state=self.final_state())
        sys.exit(exit_code)

    def final_state(self) -> dict[str, t.Any]:
        """The STATE a run that stops early ends on; its report quota grants nothing more,
        so no report request can be sent that this STATE does not count."""
        if report_quota.STATE_KEY in self.state_dict:
            self.state_dict[report_quota.STATE_KEY] = self.report_quota.close()
        return dict(self.state)

    def run_streams(self) -> None:
        """Every selected stream at once (see ``tap_klaviyo.parallel``)."""
        selected = [stream for stream in self.streams.values() if stream.selected]
        for stream in self.streams.values():
            if not stream.selected:
                self.logger.info("Skipping deselected stream '%s'.", stream.name)
        self.plan_reports(t.cast("list[KlaviyoStream]", selected))
        run_at_once(selected, cancelled=self.cancelled, on_end=self.stream_ended)
        if report_quota.STATE_KEY in self.state_dict:
            self.state_dict[report_quota.STATE_KEY] = self.report_quota.saved()
            self.state_writer.write_state(self.state)
        for stream in self.streams.values():
            stream.log_sync_costs()
        self.log_activations(t.cast("list[KlaviyoStream]", selected))

    def log_activations(self, streams: list[KlaviyoStream]) -> None:
        """The run's last lines: per version activated, its rows and what it leaves out;
        first versions (none before in the state) in one line."""
        first = []
        for stream in streams:
            if stream.activation:
                self.logger.info("Deletes: %s: %s.", stream.name, stream.activation)
            elif stream.activated_rows is not None:
                first.append(f"{stream.name} {stream.activated_rows:,}")
        if first:
            self.logger.info(
                "Deletes: first table versions in this state (rows; a warehouse's rows of "
                "older versions are marked deleted): %s.",
                ", ".join(first),
            )

    def stream_ended(self, stream: t.Any, error: BaseException | None) -> None:
        """How each stream ended, for the run's summary: the one that failed says why."""
        if error is None:
            return
        log = t.cast("KlaviyoStream", stream).log_book
        if isinstance(error, OutputClosedError) or self.output.broken:
            log.outcome = "stopped: stdout was closed"
        elif isinstance(error, Cancelled):
            log.outcome = "stopped: another stream failed"
        else:
            log.outcome = f"failed: {describe_error(error)}"

    def skipped_for_scope(
        self, stream: str, scopes: tuple[str, ...], denied: PermissionDeniedError
    ) -> None:
        """A stream lacks a scope: one warning per scope a run, naming every selected stream
        that needs it (each of them is skipped), the Klaviyo answer that said so."""
        with self._denied_lock:
            self.denied[stream] = scopes
            if scopes in self._warned_scopes:
                return
            self._warned_scopes.add(scopes)
        needing = sorted(
            name
            for name, other in self.streams.items()
            if other.selected and set(scopes) <= set(self.resources[name].scopes)
        )
        names = needing or [stream]
        self.logger.warning(
            "Skipping %s %s: the API key lacks the scope %s (%s). Add the scope to the key in "
            "Klaviyo (Settings > API keys), or deselect %s.",
            "stream" if len(names) == 1 else "streams", ", ".join(f"'{n}'" for n in names),
            " + ".join(scopes), denied, "it" if len(names) == 1 else "them",
        )  # fmt: skip

    def warn_other_revision(self, selected: list[str]) -> None:
        """A catalog discovered under the other revision: its streams this revision does not
        offer are not synced, and campaign_messages gets the other replication key (read,
        but not incrementally). One line each says to discover again."""
        revision = self.settings.revision
        elsewhere = sorted(
            name
            for name, entry in (self.input_catalog or {}).items()
            if name in STREAM_NAMES and name not in self.resources and entry.metadata.root.selected
        )
        if elsewhere:
            self.logger.warning(
                "The catalog selects %s, which revision %s does not offer (not synced): run "
                "--discover again.",
                ", ".join(elsewhere), revision,
            )  # fmt: skip
        stale = [
            name
            for name in selected
            if self.streams[name].replication_key != self.resources[name].replication_key
        ]
        if stale:
            self.logger.warning(
                "The catalog's replication keys of %s are not revision %s's (was it discovered "
                "under another revision?): run --discover again.",
                ", ".join(stale), revision,
            )  # fmt: skip

    def sync_account(self, sync: t.Callable[[], None]) -> None:
        began = self.clock()
        self.logger.info("Syncing %s", self.settings.label)
        selected = [name for name, stream in self.streams.items() if stream.selected]
        if not selected:
            self.logger.warning(
                "The catalog selects no stream: nothing is synced. Select streams in the "
                "catalog (metadata 'selected': true), or run without --catalog to sync all."
            )
        self.warn_other_revision(selected)
        _ = self.client  # one client (and one budget) for every stream's thread
        self.output.on_broken = self.cancelled.set  # the reader is gone: every stream stops
        failure: BaseException | None = None
        try:
            self.check_account()  # before any record
            sync()
            self.record_account()
            self.end_on_denied_scopes(selected)
        except BaseException as error:
            failure = error
            if isinstance(error, TapKlaviyoError) and not isinstance(error, StateAccountError):
                # Bookmarks only ever cover records already emitted: hand them to the
                # target before stopping, so the next run resumes here (a state of another
                # account has nothing to hand back).
                self.output.close(final_state=self.final_state())
            raise
        finally:
            self.output.close()
            # One line says why (the CLI's), nothing more: the reader is gone, or the state
            # is another account's and nothing was read.
            if not self.output.broken and not isinstance(failure, StateAccountError):
                self.log_summary(selected, failure, self.clock() - began)

    def log_summary(
        self, selected: list[str], failure: BaseException | None, seconds: float
    ) -> None:
        """The run's last lines on stderr: per stream its records, requests, time and how it
        ended, then the totals and one ``finished:`` line."""
        log = self.logger.getChild("summary")
        stats = self.client.stats
        streams = [t.cast("KlaviyoStream", self.streams[name]) for name in selected]
        shown = [
            s for s in streams if s.log_book.started or s.log_book.skipped or s.log_book.outcome
        ]
        if shown:
            log.info("%-24s %12s %9s %9s  %s", "stream", "records", "requests", "time", "notes")
        for stream in shown:
            book = stream.log_book
            notes = book.outcome or (f"skipped: {book.skipped}" if book.skipped else "")
            if not notes and book.deletes_marked:
                notes = "rows Klaviyo no longer has: marked deleted"
            log.info(
                "%-24s %12s %9s %7.1f s  %s",
                stream.name, f"{book.records:,}", f"{stats.by_stream[stream.name]:,}",
                book.seconds(), notes,
            )  # fmt: skip
        if unstarted := [s.name for s in streams if s not in shown]:
            log.info("not started (the run stopped first): %s", ", ".join(unstarted))
        log.info(
            "Requests: %d, retries: %d (429: %d)", stats.requests, stats.retries, stats.throttled
        )
        records = sum(stream.log_book.records for stream in streams)
        synced = [s for s in streams if s.log_book.ended is not None and not s.log_book.skipped]
        skipped = [s for s in streams if s.log_book.skipped]
        marked = [s for s in streams if s.log_book.deletes_marked]
        if failure is None:
            how = "ok"
        elif isinstance(failure, SystemExit | KeyboardInterrupt):
            how = "stopped on a signal (the last safe STATE was written)"
        else:
            how = "failed (the error follows)"
        log.info(
            "finished: %s, %s from %d of %s in %.1f s; %d skipped; deletes marked in %s",
            how, plural(records, "record"), len(synced), plural(len(streams), "stream"),
            seconds, len(skipped), plural(len(marked), "stream"),
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
        self.logger.info("%-18s %s", "account", self.describe_account())
        for stream in self.streams.values():
            assert isinstance(stream, KlaviyoStream)
            scopes = " + ".join(stream.resource.scopes)
            try:
                stream.probe()
            except PermissionDeniedError as denied:
                lacking = stream.lacking_scopes(denied)
                self.denied[stream.name] = lacking
                self.logger.warning("%-18s missing scope: %s", stream.name, " + ".join(lacking))
            else:
                metric = None
                if isinstance(stream, ReportStream) and stream.resource.conversion_metric:
                    metric = self.describe_conversion_metric()
                if metric is not None and not metric[1]:  # its sync would skip it
                    self.logger.warning("%-18s would be skipped: %s", stream.name, metric[0])
                    continue
                self.logger.info("%-18s ok (%s)", stream.name, scopes)
                if metric is not None:
                    self.logger.info("%-18s %s", stream.name, metric[0])
        self.end_on_denied_scopes(list(self.streams))
        return True

    def describe_conversion_metric(self) -> tuple[str, bool]:
        """The values reports' conversion metric for ``--test``, and whether there is one."""
        configured = self.settings.conversion_metric_id
        if configured:
            return f"conversion metric: {configured} (set by 'conversion_metric_id')", True
        try:
            choice = self.conversion_metric
        except PermissionDeniedError:
            return "conversion metric: not chosen, the key lacks the scope metrics:read", False
        return choice.describe(), choice.chosen is not None


def describe_error(error: BaseException) -> str:
    """One line: a user's error as the tap words it, anything else by its type."""
    if isinstance(error, TapKlaviyoError):
        return str(error)
    return f"{type(error).__name__}: {error}"
