"""MQTT.md, the public contract, stays true to the code."""

from __future__ import annotations

import json
from pathlib import Path
import re

from custom_components.moxie.discovery import discovery_payload
from custom_components.moxie.speech_core import (
    CHUNK_MAX_CHARS,
    OUTCOMES,
    PAYLOAD_MAX_BYTES,
    SAY_MAX_CHARS,
    SOURCES,
    SpeakerStatus,
    Topics,
    Utterance,
    build_speech,
    device_id,
    parse_speech,
)
from tests.contract_cases import accepted

DOC = (Path(__file__).parents[2] / "custom_components" / "moxie" / "MQTT.md").read_text()


def _table(heading: str) -> list[list[str]]:
    section = DOC.split(heading, 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ")]
    return [[cell.strip() for cell in re.split(r"(?<!\\)\|", row)[1:-1]] for row in rows[1:]]


def test_every_integration_topic_is_documented() -> None:
    documented = {row[0].strip("`") for row in _table("## Topics")}
    topics = Topics("<base>")
    for name in (
        "tts_text",
        "tts_stop",
        "tts_status",
        "puppet_set",
        "puppet_state",
        "speaker_availability",
        "speech",
        "status",
        "availability",
    ):
        assert getattr(topics, name) in documented, name
    assert "homeassistant/device/<device_id>/config" in documented


def test_speech_json_fields_match_what_is_published() -> None:
    documented = [row[0].strip("`") for row in _table("## Speech JSON")]
    [chunk] = build_speech("Hola", source="action", group="g")
    assert list(json.loads(chunk.as_payload())) == documented


def test_every_field_has_its_rule_and_cases() -> None:
    """The doc's field list, its "Field rules" and the shared table of cases agree."""
    documented = [row[0].strip("`") for row in _table("## Speech JSON")]
    rules = DOC.split("### Field rules", 1)[1].split("\n## ", 1)[0]
    ruled = {
        name
        for line in rules.splitlines()
        if line.startswith("- `")
        for name in re.findall(r"`([a-z_]+)`(?=[,:])", line.split(":", 1)[0] + ":")
    }
    assert ruled == set(documented)
    assert set(accepted("x")) == set(documented)


def test_limits_in_the_doc_are_the_code_limits() -> None:
    assert f"at most {CHUNK_MAX_CHARS} characters" in DOC
    assert f"over {PAYLOAD_MAX_BYTES} bytes" in DOC
    assert f"over {SAY_MAX_CHARS}" in DOC


def test_device_id_rule() -> None:
    assert device_id("moxie") == "moxie_moxie"
    assert device_id("Casa/Moxie 2") == "moxie_casa_moxie_2"
    assert discovery_payload(Topics("Casa/Moxie 2"), "M", "es")["dev"]["ids"] == [
        "moxie_casa_moxie_2"
    ]


def test_rejection_reasons_are_documented() -> None:
    reasons = set()
    for payload in (b"{x", b'{"text": 1}', b"\xff", b" ", b"a" * (PAYLOAD_MAX_BYTES + 1)):
        try:
            parse_speech(payload)
        except ValueError as err:
            reasons.add(err.reason)  # type: ignore[attr-defined]
    assert reasons == {"invalid_json", "invalid_field", "not_utf8", "empty", "too_large"}
    for reason in reasons | {"too_long", "incomplete"}:
        assert f"`{reason}`" in DOC


def test_speaker_status_fields_are_documented() -> None:
    """`<base>/tts/status` as the doc lists it is what the speaker publishes."""
    documented = [row[0].strip("`") for row in _table("## Speaker status")]
    assert list(json.loads(SpeakerStatus().as_payload())) == documented
    for outcome in OUTCOMES:
        assert f"`{outcome}`" in DOC, outcome


def test_speech_event_attributes_are_documented() -> None:
    """The Speech event carries exactly the attributes the doc names."""
    section = DOC.split("## Speech event", 1)[1].split("\n## ", 1)[0]
    event = Utterance(text="a", id="b").event()
    named = set(re.findall(r"`([a-z_]+)`", section))
    assert set(event) - {"event_type"} <= named


def test_every_source_is_documented() -> None:
    """Every source Moxie names is in the doc's list of sources."""
    for source in SOURCES:
        assert f"`{source}`" in DOC, source


def test_blueprints_name_only_known_sources() -> None:
    """The sources Moxie's blueprints give `moxie.say` are the speech core's."""
    root = Path(__file__).parents[2] / "blueprints"
    used = {
        match
        for path in root.rglob("*.yaml")
        for match in re.findall(r"^\s*source:\s*(\w+)\s*$", path.read_text(), re.MULTILINE)
    }
    assert used
    assert used <= set(SOURCES), used - set(SOURCES)
