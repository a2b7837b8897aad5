"""Both parsers of `<base>/tts/text` give the same outcome for every case of the one table.

Also: the constants both sides hold separately (topics, device id rule, limits, priorities,
defaults) are equal. The integration's copy lives in custom_components/moxie, the speaker's in
wyoming_servers/speaker; packaging keeps them apart, these tests keep them the same.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from custom_components.moxie import const
from custom_components.moxie.speech import PayloadError, parse_payload
from custom_components.moxie.topics import MoxieTopics, device_id as integration_device_id
from tests.contract_cases import CASES, GENERATED, LIMIT, RECEIVE_TIME, Case
from wyoming_servers.speaker import contract
from wyoming_servers.speaker.contract import BadPayloadError, parse_text
from wyoming_servers.speaker.discovery import Topics

type Outcome = str | dict[str, Any]


def integration_outcome(payload: bytes) -> Outcome:
    """The rejection reason, or the normalised fields, as the integration reads payload."""
    before = time.time()
    try:
        chunk = parse_payload(payload)
    except PayloadError as err:
        return err.reason
    after = time.time()
    return {
        "text": chunk.text,
        "chunk": chunk.chunk,
        "total_chunks": chunk.total_chunks,
        "priority": chunk.priority,
        "source": chunk.source,
        "language": chunk.language,
        "id": chunk.id,
        # Without a timestamp the integration stamps the utterance with its receive time.
        "timestamp": RECEIVE_TIME if before <= chunk.timestamp <= after else chunk.timestamp,
        "speak": chunk.speak,
        "satellite": chunk.satellite,
    }


def speaker_outcome(payload: bytes) -> Outcome:
    """The rejection reason, or the normalised fields, as the speaker reads payload."""
    try:
        part = parse_text(payload)
    except BadPayloadError as err:
        return err.reason
    return {
        "text": part.text,
        "chunk": part.chunk,
        "total_chunks": part.total_chunks,
        "priority": part.priority.label,
        "source": part.source,
        "language": part.language,
        "id": part.id,
        # Without a timestamp the speaker keeps none (its receive time applies, e.g. --max-age).
        "timestamp": RECEIVE_TIME if part.timestamp is None else part.timestamp,
        "speak": part.speak,
        "satellite": part.satellite,
    }


PARSERS = {"integration": integration_outcome, "speaker": speaker_outcome}


@pytest.mark.parametrize("side", PARSERS)
@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_case(case: Case, side: str) -> None:
    """Each side accepts or rejects the payload exactly as the table says."""
    parse = PARSERS[side]
    outcome = parse(case.payload)
    if case.reason is not None:
        assert outcome == case.reason
        return
    assert isinstance(outcome, dict), outcome
    expected = case.fields
    assert expected is not None
    if expected["id"] == GENERATED:
        # A fresh id per message: two deliveries of an id-less payload are two utterances.
        again = parse(case.payload)
        assert isinstance(again, dict)
        assert isinstance(outcome["id"], str)
        assert outcome["id"]
        assert outcome["id"] != again["id"]
        outcome["id"] = GENERATED
    assert outcome == expected


def test_the_table_covers_every_reason_and_field() -> None:
    """Every rejection reason and every field of the contract has cases."""
    reasons = {case.reason for case in CASES if case.reason}
    assert reasons == {"empty", "not_utf8", "too_large", "invalid_json", "invalid_field"}
    names = " ".join(case.name for case in CASES)
    for field in ("text", "chunk", "total_chunks", "priority", "source", "language", "id"):
        assert field in names, field
    for field in ("timestamp", "speak", "satellite"):
        assert field in names, field
    assert len(CASES) == len({case.name for case in CASES})


@pytest.mark.parametrize(
    "base", ["moxie", "Casa/Moxie 2", "/moxie/", "MOXIE", "casa-1/robot_2", "ñandú", "a//b"]
)
def test_device_id_rule(base: str) -> None:
    """The integration and the speaker describe the same Moxie device."""
    assert integration_device_id(base) == contract.device_id(base)
    assert MoxieTopics(base).device_id == Topics(base).device_id


@pytest.mark.parametrize("base", ["moxie", "casa/moxie"])
def test_topics(base: str) -> None:
    """The speech, status and stop topics are the same; discovery sits side by side."""
    integration, speaker = MoxieTopics(base), Topics(base)
    assert integration.tts_text == speaker.text == f"{base}/tts/text"
    assert integration.tts_status == speaker.status == f"{base}/tts/status"
    assert integration.tts_stop == speaker.stop == f"{base}/tts/stop"
    assert integration.availability == f"{base}/availability"
    assert speaker.availability == f"{base}/speaker/availability"
    assert speaker.ha_status == const.HA_STATUS_TOPIC
    assert integration.discovery == f"{const.DISCOVERY_PREFIX}/device/{speaker.device_id}/config"
    assert speaker.discovery == (
        f"{const.DISCOVERY_PREFIX}/device/{integration.device_id}_speaker/config"
    )


def test_limits_priorities_and_defaults() -> None:
    """Payload limit, priority names and order, default priority, source, base and prefix."""
    assert const.PAYLOAD_MAX_BYTES == contract.MAX_PAYLOAD_BYTES == LIMIT
    # The speaker has no chunk limit of its own: it speaks chunks of any length.
    assert [p.label for p in sorted(contract.Priority, reverse=True)] == const.PRIORITIES
    assert contract.Priority.NORMAL.label == const.DEFAULT_PRIORITY
    assert const.SOURCE_EXTERNAL == contract.DEFAULT_SOURCE
    assert const.DEFAULT_BASE_TOPIC == contract.DEFAULT_BASE_TOPIC
    assert const.DISCOVERY_PREFIX == contract.DEFAULT_DISCOVERY_PREFIX
