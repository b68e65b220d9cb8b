"""The baseline of scenario 5: a plain singer-sdk Klaviyo tap, written the way peers write one.

Deliberately nothing clever, only SDK defaults: ``RESTStream`` subclasses, the SDK's JSONPath
``parse_response`` (``$.data[*]``, floats as Decimal), a plain ``links.next`` paginator (the
SDK's ``BaseHATEOASPaginator``), the SDK's default message writer (simplejson, a flush per
message) and record conforming, the SDK's default backoff (exponential, 5 tries, 429 and 5xx
retried, ``Retry-After`` not read), one request at a time, no rate-limit budget, and each
endpoint's default page size where the peers leave it (events: 200).

It reads the same core streams as tap-klaviyo (events, profiles, lists, segments, campaigns
per channel and archived/not, flows, metrics, templates, tags) into the same row shape and
schemas, so the two can be compared record for record:

    python -m benchmarks.baseline_tap --config config.json [--catalog catalog.json]

with ``{"api_key", "base_url", "start_date"?, "profile_predictive_analytics"?}``.
"""

from __future__ import annotations

import datetime as dt
import typing as t
from urllib.parse import parse_qsl

from singer_sdk import RESTStream, Tap
from singer_sdk import typing as th
from singer_sdk.authenticators import APIKeyAuthenticator
from singer_sdk.pagination import BaseHATEOASPaginator

from tap_klaviyo.records import to_record
from tap_klaviyo.schemas import load_schema

if t.TYPE_CHECKING:
    import requests


class LinksNextPaginator(BaseHATEOASPaginator):
    """Follow JSON:API ``links.next`` until it is null."""

    def get_next_url(self, response: requests.Response) -> str | None:
        return (response.json().get("links") or {}).get("next")


class BaselineStream(RESTStream):
    """One Klaviyo endpoint, read sequentially with the SDK's defaults."""

    records_jsonpath = "$.data[*]"
    primary_keys: t.ClassVar[list[str]] = ["id"]
    # Subclasses: the filter that makes them incremental, and the request's extras.
    filter_field: str | None = None
    lower_bound = "greater-than"
    page_size: int | None = None
    extra: t.ClassVar[dict[str, str]] = {}

    def __init__(self, tap: Tap) -> None:
        super().__init__(tap, name=self.name, schema=load_schema(self.name))

    @property
    def url_base(self) -> str:
        return str(self.config.get("base_url", "https://a.klaviyo.com")).rstrip("/")

    @property
    def authenticator(self) -> APIKeyAuthenticator:
        return APIKeyAuthenticator(
            key="Authorization", value=f"Klaviyo-API-Key {self.config['api_key']}"
        )

    @property
    def http_headers(self) -> dict[str, str]:
        return {
            "revision": self.config.get("revision", "2026-07-15"),
            "Accept": "application/vnd.api+json",
        }

    def get_new_paginator(self) -> LinksNextPaginator:
        return LinksNextPaginator()

    def get_url_params(
        self, context: t.Mapping[str, t.Any] | None, next_page_token: t.Any
    ) -> dict[str, t.Any]:
        if next_page_token:
            return dict(parse_qsl(next_page_token.query))  # links.next has every parameter
        params: dict[str, t.Any] = dict(self.extra)
        if self.page_size:
            params["page[size]"] = self.page_size
        filters = []
        if context and "channel" in context:
            filters.append(f"equals(messages.channel,'{context['channel']}')")
        if context and "archived" in context:
            filters.append(f"equals(archived,{str(context['archived']).lower()})")
        if self.filter_field:
            params["sort"] = self.filter_field
            start = self.get_starting_timestamp(context)
            if start is not None:
                moment = start.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
                filters.append(f"{self.lower_bound}({self.filter_field},{moment})")
        if filters:
            params["filter"] = ",".join(filters)
        return params

    def post_process(
        self, row: dict[str, t.Any], context: t.Mapping[str, t.Any] | None = None
    ) -> dict[str, t.Any] | None:
        return to_record(row)


class EventsStream(BaselineStream):
    name = "events"
    path = "/api/events"
    replication_key = "datetime"
    filter_field = "datetime"
    lower_bound = "greater-or-equal"
    is_sorted = True  # page size: the API default (200)


class ProfilesStream(BaselineStream):
    name = "profiles"
    path = "/api/profiles"
    replication_key = "updated"
    filter_field = "updated"
    page_size = 100
    is_sorted = True

    @property
    def extra(self) -> dict[str, str]:  # type: ignore[override]
        # The same columns as tap-klaviyo's default: consent and (optionally) predictions.
        fields = ["subscriptions"]
        if self.config.get("profile_predictive_analytics", True):
            fields.append("predictive_analytics")
        return {"additional-fields[profile]": ",".join(fields)}


class ListsStream(BaselineStream):
    name = "lists"
    path = "/api/lists"
    replication_key = "updated"
    filter_field = "updated"
    is_sorted = True


class SegmentsStream(BaselineStream):
    name = "segments"
    path = "/api/segments"
    replication_key = "updated"
    filter_field = "updated"
    is_sorted = True


class CampaignsStream(BaselineStream):
    name = "campaigns"
    path = "/api/campaigns"
    replication_key = "updated_at"
    filter_field = "updated_at"
    lower_bound = "greater-or-equal"
    is_sorted = False

    @property
    def partitions(self) -> list[dict]:
        # Klaviyo wants one channel per request, and hides archived campaigns unless asked.
        return [
            {"channel": channel, "archived": archived}
            for channel in ("email", "sms", "mobile_push")
            for archived in (False, True)
        ]


class FlowsStream(BaselineStream):
    name = "flows"
    path = "/api/flows"
    replication_key = "updated"
    filter_field = "updated"
    lower_bound = "greater-or-equal"
    is_sorted = True

    @property
    def partitions(self) -> list[dict]:
        return [{"archived": False}, {"archived": True}]


class MetricsStream(BaselineStream):
    name = "metrics"
    path = "/api/metrics"


class TemplatesStream(BaselineStream):
    name = "templates"
    path = "/api/templates"
    replication_key = "updated"
    filter_field = "updated"
    lower_bound = "greater-or-equal"
    is_sorted = True


class TagsStream(BaselineStream):
    name = "tags"
    path = "/api/tags"


STREAMS: tuple[type[BaselineStream], ...] = (
    EventsStream,
    ProfilesStream,
    ListsStream,
    SegmentsStream,
    CampaignsStream,
    FlowsStream,
    MetricsStream,
    TemplatesStream,
    TagsStream,
)
STREAM_NAMES = tuple(str(vars(stream)["name"]) for stream in STREAMS)  # each class names itself


class BaselineTap(Tap):
    """A plain Klaviyo tap on singer-sdk defaults (benchmark baseline)."""

    name = "tap-klaviyo-baseline"
    config_jsonschema = th.PropertiesList(
        th.Property("api_key", th.StringType, required=True, secret=True),
        th.Property("base_url", th.StringType, default="https://a.klaviyo.com"),
        th.Property("revision", th.StringType, default="2026-07-15"),
        th.Property("start_date", th.DateTimeType),
        th.Property("profile_predictive_analytics", th.BooleanType, default=True),
    ).to_dict()

    def discover_streams(self) -> list[BaselineStream]:
        return [stream(self) for stream in STREAMS]


if __name__ == "__main__":
    BaselineTap.cli()
