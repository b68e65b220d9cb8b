"""The Klaviyo tap as singer-sdk sees it: its settings, its streams (one per row of the
resource table), the run they share (``tap_klaviyo.run``), ``--test``, and how a sync
ends, whatever stops it."""

from __future__ import annotations

import copy
import functools
import sys
import typing as t

import click

from tap_klaviyo import account, profile_columns, report_quota, state, summary
from tap_klaviyo.budget import Budget
from tap_klaviyo.client import KlaviyoClient
from tap_klaviyo.config_checks import validate
from tap_klaviyo.config_schema import CONFIG_SCHEMA
from tap_klaviyo.connection import TEST_HELP, check_connection
from tap_klaviyo.errors import StateAccountError, TapKlaviyoError
from tap_klaviyo.logs import quiet_sdk
from tap_klaviyo.output import SingerOutput, StateLines
from tap_klaviyo.parallel import run_at_once
from tap_klaviyo.resources import STREAM_NAMES, Resource, resources_for
from tap_klaviyo.run import RunContext
from tap_klaviyo.sdk_compat import TapInternals
from tap_klaviyo.settings import Settings
from tap_klaviyo.streams import STREAM_CLASSES
from tap_klaviyo.streams.base import KlaviyoStream
from tap_klaviyo.streams.reports import plan_reports


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
        self.output = SingerOutput()
        super().__init__(*args, message_writer=self.output, **kwargs)

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
    def run(self) -> RunContext:
        """What this run's streams share; built with the first stream."""
        chosen = self.settings
        client = KlaviyoClient(
            api_key=chosen.api_key,
            base_url=chosen.base_url,
            revision=chosen.revision,
            user_agent=chosen.user_agent or f"tap-klaviyo/{self.plugin_version}",
            timeout=chosen.request_timeout,
            max_retries=chosen.max_retries,
            max_in_flight=chosen.max_workers,
            budget=Budget(enabled=chosen.rate_limit_budget),
        )
        columns = None
        if chosen.profile_properties_as_columns:
            # The catalog's columns in a sync, else a sample's (--discover).
            entry = self.input_catalog.get_stream("profiles") if self.input_catalog else None
            schema = entry.schema.to_dict() if entry is not None else None
            size = chosen.profile_properties_sample
            columns = profile_columns.discover(client, size, schema, self.logger)
        return RunContext(
            settings=chosen,
            client=client,
            output=self.output,
            initialized_at=self.initialized_at,
            logger=self.logger,
            state=self.state_dict,
            reader=self.reader,
            property_columns=columns,
        )

    @property
    def clock(self) -> t.Callable[[], float]:
        """The run's clock (injectable: tests of progress lines and timed STATEs)."""
        return self.run.clock

    @clock.setter
    def clock(self, clock: t.Callable[[], float]) -> None:
        self.run.clock = clock

    @functools.cached_property
    def state_writer(self) -> StateLines:
        """Every STATE, the tap's and its streams', through the output's lock."""
        return StateLines(self.output)

    @functools.cached_property
    def resources(self) -> dict[str, Resource]:
        """The streams of the configured revision (its campaign model), by name."""
        return {r.name: r for r in resources_for(self.settings.revision)}

    def discover_streams(self) -> list[KlaviyoStream]:
        return [self.stream_for(resource) for resource in self.resources.values()]

    def stream_for(self, resource: Resource) -> KlaviyoStream:
        return STREAM_CLASSES[resource.behaviour](self, resource, self.run)

    @functools.cache  # noqa: B019 - one reader per parent stream for the tap's life
    def reader(self, name: str) -> KlaviyoStream:
        """A stream object used only to read (a child's parents), apart from the synced one."""
        return self.stream_for(self.resources[name])

    def klaviyo_streams(self) -> list[KlaviyoStream]:
        return [s for s in self.streams.values() if isinstance(s, KlaviyoStream)]

    def load_state(self, state_dict: dict[str, t.Any]) -> None:
        """Read older state formats too (see ``tap_klaviyo.state``)."""
        keys = {name: resource.replication_key for name, resource in self.resources.items()}
        migrated, warnings = state.migrate(state_dict, keys)
        for warning in warnings:
            self.logger.warning(warning)
        super().load_state(migrated)
        if isinstance(migrated.get(report_quota.STATE_KEY), dict):  # the SDK keeps bookmarks
            self.state_dict[report_quota.STATE_KEY] = migrated[report_quota.STATE_KEY]
        if isinstance(migrated.get(account.STATE_ACCOUNT), str):
            self.state_dict[account.STATE_ACCOUNT] = migrated[account.STATE_ACCOUNT]

    # -- how a sync ends --------------------------------------------------------------------

    def on_signal(self, signum: int) -> None:
        """SIGTERM/SIGINT: hand the target the last safe state, then stop non-zero."""
        self.logger.warning("Stopping on signal %d; the last safe state follows.", signum)
        self.output.when_idle(functools.partial(self._stop, 128 + signum))

    def _stop(self, exit_code: int) -> None:
        self.run.cancelled.set()
        # Streams still running on other threads write nothing after this final STATE.
        self.output.close(final_state=self.final_state())
        sys.exit(exit_code)

    def final_state(self) -> dict[str, t.Any]:
        """The STATE a run that stops early ends on; its report quota grants nothing more,
        so no report request can be sent that this STATE does not count."""
        if report_quota.STATE_KEY in self.state_dict:
            self.state_dict[report_quota.STATE_KEY] = self.run.report_quota.close()
        return dict(self.state)

    def sync(self) -> None:
        """Every selected stream at once, between the state's account check and the run's
        summary; a failure hands the target the last safe STATE first."""
        began = self.run.clock()
        self.logger.info("Syncing %s", self.settings.label)
        selected = [stream for stream in self.klaviyo_streams() if stream.selected]
        names = [stream.name for stream in selected]
        if not selected:
            self.logger.warning(
                "The catalog selects no stream: nothing is synced. Select streams in the "
                "catalog (metadata 'selected': true), or run without --catalog to sync all."
            )
        self.warn_other_revision(names)
        self.run.missing_scopes.needs = {name: self.resources[name].scopes for name in names}
        self.output.on_broken = self.run.cancelled.set  # the reader is gone: every stream stops
        failure: BaseException | None = None
        try:
            account.check_account(self.run, self.state_dict)  # before any record
            self.run_streams(selected)
            if account.record_account(self.run, self.state_dict):
                self.state_writer.write_state(self.state)
            summary.end_on_denied_scopes(self.logger, self.run.missing_scopes.denied, names)
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
                streams = [s for s in self.klaviyo_streams() if s.name in names]
                seconds = self.run.clock() - began
                log = self.logger.getChild("summary")
                summary.log_summary(log, streams, self.run.client.stats, failure, seconds)

    def run_streams(self, selected: list[KlaviyoStream]) -> None:
        """What the SDK's ``sync_all`` does first, then every selected stream at once (see
        ``tap_klaviyo.parallel``), the quota kept, and the run's last lines."""
        self.reset_progress_markers()
        if self.state:
            self.state_writer.write_state(self.state)
        for stream in self.streams.values():
            if not stream.selected:
                self.logger.info("Skipping deselected stream '%s'.", stream.name)
        plan_reports(self.run, selected)
        run_at_once(selected, cancelled=self.run.cancelled, on_end=self.stream_ended)
        if report_quota.STATE_KEY in self.state_dict:
            self.state_dict[report_quota.STATE_KEY] = self.run.report_quota.saved()
            self.state_writer.write_state(self.state)
        for stream in self.streams.values():
            stream.log_sync_costs()
        summary.log_activations(self.logger, selected)

    def stream_ended(self, stream: KlaviyoStream, error: BaseException | None) -> None:
        """How each stream ended, for the run's summary: the one that failed says why."""
        if error is not None:
            stream.log_book.outcome = summary.outcome(error, output_broken=self.output.broken)

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

    def test_connection(self) -> bool:
        """Check the key, then whether each stream's scope is granted."""
        check_connection(self.run, self.klaviyo_streams())
        return True
