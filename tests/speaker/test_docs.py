"""The speaker's README documents every option, its environment variable and every topic."""

from __future__ import annotations

import argparse
from pathlib import Path
import re

import pytest

from wyoming_servers.speaker.__main__ import ENV_PREFIX, build_parser
from wyoming_servers.speech_core import Topics

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "wyoming_servers" / "speaker" / "README.md"
MQTT_DOC = ROOT / "custom_components" / "moxie" / "MQTT.md"


def _options() -> list[argparse.Action]:
    return [
        action
        for action in build_parser()._actions
        if action.option_strings and action.dest not in {"help", "version"}
    ]


def test_every_option_and_env_variable_is_documented() -> None:
    doc = README.read_text(encoding="utf-8")
    options = _options()
    assert len(options) > 15
    for action in options:
        long_option = action.option_strings[-1]
        assert f"`{long_option}`" in doc, long_option
        env = ENV_PREFIX + long_option.removeprefix("--").replace("-", "_").upper()
        assert f"`{env}`" in doc, env


def test_every_topic_is_documented() -> None:
    doc = README.read_text(encoding="utf-8")
    topics = Topics("<base>", "<prefix>")
    names = (
        "tts_text",
        "tts_stop",
        "tts_status",
        "speaker_availability",
        "speaker_volume",
        "speaker_volume_set",
        "ha_status",
    )
    for name in names:
        assert f"`{getattr(topics, name)}`" in doc, name
    assert "`<prefix>/device/<device id>_speaker/config`" in doc


def test_options_read_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for action in _options():
        env = ENV_PREFIX + action.dest.upper()
        if isinstance(action, argparse._StoreTrueAction):
            monkeypatch.setenv(env, "true")
        elif action.type in {int, float}:
            monkeypatch.setenv(env, "7")
        else:
            monkeypatch.setenv(env, f"from-env-{action.dest}")
    args = build_parser().parse_args([])
    for action in _options():
        value = getattr(args, action.dest)
        if isinstance(action, argparse._StoreTrueAction):
            assert value is True, action.dest
        elif action.type in {int, float}:
            assert value == 7, action.dest
        else:
            assert value == f"from-env-{action.dest}", action.dest
    assert build_parser().parse_args(["--tts-uri", "tcp://x:1"]).tts_uri == "tcp://x:1"


def test_contract_is_linked_not_restated() -> None:
    """The speech payload is specified once, in MQTT.md; the README links to it."""
    doc = README.read_text(encoding="utf-8")
    links = re.findall(r"\]\(([^)#]*MQTT\.md)(?:#[^)]*)?\)", doc)
    assert links
    for link in links:
        assert (README.parent / link).resolve() == MQTT_DOC
    mqtt_doc = MQTT_DOC.read_text(encoding="utf-8")
    anchors = re.findall(r"\]\([^)#]*MQTT\.md#([^)]+)\)", doc)
    headings = {
        re.sub(r"[^a-z0-9 _-]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
        for line in mqtt_doc.splitlines()
        if line.startswith("#")
    }
    assert set(anchors) <= headings
    # No second copy of the field list or of the field rules.
    assert '"total_chunks"' not in doc
    assert "### Field rules" not in doc
