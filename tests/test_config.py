"""Settings from the environment: names, types, empty values, errors."""

from __future__ import annotations

import dataclasses

import pytest

from pagework.config import Config, from_env


def test_every_field_is_read_from_its_upper_case_name():
    env = {"PORT": "4000", "HOST": "0.0.0.0", "MYSQL_CONNECT_TIMEOUT": "1.5",
           "PIXEL_BUDGET": "1000", "API_KEY": "k", "PROMETHEUS_MULTIPROC_DIR": "/x"}
    config = from_env(env)
    assert (config.port, config.host, config.mysql_connect_timeout) == (4000, "0.0.0.0", 1.5)
    assert (config.pixel_budget, config.api_key, config.prometheus_multiproc_dir) == (1000, "k",
                                                                                       "/x")


def test_defaults_are_safe_for_a_local_run():
    config = from_env({})
    assert config == Config()
    assert config.host == "127.0.0.1"  # gunicorn alone is not exposed to a network
    assert config.pixel_budget >= config.max_pixels  # the largest page always fits
    assert config.max_request_bytes > config.max_image_bytes * 4 // 3


def test_empty_values_keep_defaults_except_for_text():
    config = from_env({"PORT": "", "MAX_IMAGE_BYTES": "", "MYSQL_PASSWORD": ""})
    assert config.port == 3030 and config.max_image_bytes == Config().max_image_bytes
    assert config.mysql_password == ""


@pytest.mark.parametrize(("raw", "value"), [("1", True), ("true", True), ("Yes", True),
                                            ("on", True), ("0", False), ("false", False),
                                            ("NO", False), ("off", False)])
def test_booleans_are_parsed_not_kept_as_text(raw, value):
    @dataclasses.dataclass(frozen=True)
    class WithFlag(Config):
        flag: bool = False

    import pagework.config as module

    original = module.Config
    module.Config = WithFlag
    try:
        assert module.from_env({"FLAG": raw}).flag is value
    finally:
        module.Config = original


@pytest.mark.parametrize(("name", "raw", "message"), [
    ("PORT", "eighty", "PORT='eighty' is not a valid int"),
    ("TF_SERVING_TIMEOUT", "1s", "TF_SERVING_TIMEOUT='1s' is not a valid float"),
])
def test_bad_values_name_the_variable(name, raw, message):
    with pytest.raises(ValueError, match=message):
        from_env({name: raw})


def test_overrides_are_for_tests_and_tools():
    assert Config().with_overrides({"port": 1}).port == 1
    assert Config().with_overrides(None) == Config()
