"""The tap's streams: the generic stream the resource table drives, and the few behaviours
that read differently (parallel time windows, report POSTs)."""

from tap_klaviyo.resources import Behaviour
from tap_klaviyo.streams.base import KlaviyoStream
from tap_klaviyo.streams.reports import (
    MetricAggregatesStream,
    SeriesReportStream,
    ValuesReportStream,
)
from tap_klaviyo.streams.windows import WindowedStream

STREAM_CLASSES: dict[Behaviour, type[KlaviyoStream]] = {
    Behaviour.PAGES: KlaviyoStream,
    Behaviour.WINDOWS: WindowedStream,
    Behaviour.VALUES_REPORT: ValuesReportStream,
    Behaviour.SERIES_REPORT: SeriesReportStream,
    Behaviour.METRIC_AGGREGATES: MetricAggregatesStream,
}
