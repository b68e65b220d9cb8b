"""Where the stream schemas are: inside the wheel, or the repo's top-level ``schemas/``."""

from __future__ import annotations

import functools
import importlib.resources
import typing as t
from pathlib import Path

import orjson


@functools.cache
def schema_dir() -> t.Any:  # Traversable | Path
    packaged = importlib.resources.files("tap_klaviyo") / "schemas"
    if packaged.is_dir():
        return packaged
    # A source checkout (editable install): the schemas sit beside the package.
    return Path(__file__).resolve().parent.parent / "schemas"


def load_schema(stream_name: str) -> dict[str, t.Any]:
    schema: dict[str, t.Any] = orjson.loads((schema_dir() / f"{stream_name}.json").read_bytes())
    return schema
