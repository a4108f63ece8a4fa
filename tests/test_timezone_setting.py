"""CITYVITALS_TIMEZONE: the city's zone, checked as it is read."""

from __future__ import annotations

import re

import pytest

from cityvitals.config import ConfigError, load_settings


def test_the_citys_zone_defaults_to_shanghai_and_takes_any_iana_name(tmp_path):
    assert load_settings(tmp_path, env={}).timezone == "Asia/Shanghai"
    assert load_settings(tmp_path, env={"CITYVITALS_TIMEZONE": ""}).timezone == "Asia/Shanghai"  # set but empty
    assert load_settings(tmp_path, env={"CITYVITALS_TIMEZONE": "Asia/Urumqi"}).timezone == "Asia/Urumqi"


@pytest.mark.parametrize("name", ["Beijing", "UTC+8", "../etc/passwd"])
def test_a_zone_that_is_not_an_iana_name_is_refused_with_what_was_given(tmp_path, name):
    with pytest.raises(ConfigError, match=f"CITYVITALS_TIMEZONE must be an IANA time zone.*{re.escape(repr(name))}"):
        load_settings(tmp_path, env={"CITYVITALS_TIMEZONE": name})
