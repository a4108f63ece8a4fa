"""Property-based: any feeds file is a configuration or a FeedsConfigError naming file and line, never a crash."""

from __future__ import annotations

from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feeds.config import FeedsConfigError, load_feeds
from tests.conftest import documents, nested

GOOD = {"feeds": [{"type": "simulator", "name": "simulator", "interval_s": 60},
                  {"type": "mqtt", "name": "sensors", "host": "127.0.0.1", "port": 1883, "prefix": "city"}]}


def check(tmp_path: Path, text: str | bytes) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    try:
        load_feeds(path)
    except FeedsConfigError as exc:
        lines = str(exc).splitlines()
        assert lines and all(line.startswith(f"{path}:") for line in lines), lines[:3]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=300) | st.binary(max_size=100))
def test_any_text_is_a_configuration_or_located_errors(tmp_path, text):
    check(tmp_path, text)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(feed=st.integers(0, 1), key=st.sampled_from(["type", "name", "interval_s", "host", "port", "prefix", "x"]),
       value=documents | st.integers(1, 3000).map(lambda n: nested(n, "[")))
def test_a_good_file_with_one_field_replaced_is_loaded_or_refused(tmp_path, feed, key, value):
    doc = {"feeds": [dict(f) for f in GOOD["feeds"]]}
    doc["feeds"][feed][key] = "PLACEHOLDER"
    text = yaml.safe_dump(doc, allow_unicode=True)
    check(tmp_path, text.replace("PLACEHOLDER", value if isinstance(value, str) and value.startswith("[")
                                 else yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("...")))
