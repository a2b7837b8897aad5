"""Moxie's speech core: authored once, copied byte for byte, and the contract's table of cases.

The integration uses custom_components/moxie/speech_core.py; the speaker and moxie-tts use
wyoming_servers/speech_core.py (HACS installs only custom_components/moxie, so packaging forces
the copy). These tests keep the copy identical, the module free of anything but the standard
library, and run the one table of `<base>/tts/text` cases through the one parser.
"""

from __future__ import annotations

import ast
from pathlib import Path
import sys
import time
from typing import Any

import pytest

from custom_components.moxie import speech_core
from tests.contract_cases import CASES, GENERATED, LIMIT, RECEIVE_TIME, Case
from wyoming_servers import speech_core as service_core

ROOT = Path(__file__).resolve().parent.parent
AUTHORED = ROOT / "custom_components" / "moxie" / "speech_core.py"
COPY = ROOT / "wyoming_servers" / "speech_core.py"

type Outcome = str | dict[str, Any]


def test_the_services_copy_is_byte_identical() -> None:
    """One truth: the services' copy is the authored file, byte for byte."""
    assert COPY.read_bytes() == AUTHORED.read_bytes(), (
        "wyoming_servers/speech_core.py differs from custom_components/moxie/speech_core.py: "
        "edit the latter, then run scripts/sync_core"
    )


def test_the_core_needs_only_the_standard_library() -> None:
    """No package-relative and no third-party imports: it runs in HA and in the services."""
    tree = ast.parse(AUTHORED.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"relative import on line {node.lineno}"
            names = [node.module or ""]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        for name in names:
            top = name.split(".")[0]
            assert top == "__future__" or top in sys.stdlib_module_names, name


def outcome(payload: bytes) -> Outcome:
    """The rejection reason, or the normalised fields, as the core reads payload."""
    try:
        chunk = speech_core.parse_speech(payload)
    except speech_core.PayloadError as err:
        return err.reason
    return {
        "text": chunk.text,
        "chunk": chunk.chunk,
        "total_chunks": chunk.total_chunks,
        "priority": chunk.priority.label,
        "source": chunk.source,
        "language": chunk.language,
        "id": chunk.id,
        # Without a timestamp none is kept (the receiver's clock applies).
        "timestamp": RECEIVE_TIME if chunk.timestamp is None else chunk.timestamp,
        "group": chunk.group,
    }


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_case(case: Case) -> None:
    """The payload is accepted or rejected exactly as the table says."""
    result = outcome(case.payload)
    if case.reason is not None:
        assert result == case.reason
        return
    assert isinstance(result, dict), result
    expected = case.fields
    assert expected is not None
    if expected["id"] == GENERATED:
        # A fresh id per message: two deliveries of an id-less payload are two utterances.
        again = outcome(case.payload)
        assert isinstance(again, dict)
        assert isinstance(result["id"], str)
        assert result["id"]
        assert result["id"] != again["id"]
        result["id"] = GENERATED
    assert result == expected


def test_the_table_covers_every_reason_and_field() -> None:
    """Every rejection reason and every field of the contract has cases."""
    reasons = {case.reason for case in CASES if case.reason}
    assert reasons == {"empty", "not_utf8", "too_large", "invalid_json", "invalid_field"}
    names = " ".join(case.name for case in CASES)
    fields = ("text", "chunk", "total_chunks", "priority", "source", "language", "id")
    for field in (*fields, "timestamp", "group"):
        assert field in names, field
    assert len(CASES) == len({case.name for case in CASES})
    assert speech_core.PAYLOAD_MAX_BYTES == LIMIT


def test_built_chunks_read_back_as_they_were_made() -> None:
    """What the integration publishes, any receiver parses to the same utterance."""
    text = "Había una vez un robot. " * 40
    chunks = speech_core.build_speech(
        text, source="action", priority=speech_core.Priority.HIGH, language="es", group="g"
    )
    assert len(chunks) > 1
    assert all(len(chunk.text) <= speech_core.CHUNK_MAX_CHARS for chunk in chunks)
    parsed = [speech_core.parse_speech(chunk.as_payload()) for chunk in chunks]
    assert [(p.id, p.chunk, p.total_chunks) for p in parsed] == [
        (chunks[0].id, index, len(chunks)) for index in range(1, len(chunks) + 1)
    ]
    assert {(p.source, p.priority, p.language, p.group) for p in parsed} == {
        ("action", speech_core.Priority.HIGH, "es", "g")
    }
    assert speech_core.join_chunks(p.text for p in parsed) == " ".join(text.split())


def test_chunks_are_not_cut_after_an_abbreviation() -> None:
    """An abbreviation ("Sr.") does not end a sentence, so no chunk ends on it."""
    text = ("El Sr. López vino a casa. " * 20).strip()
    chunks = speech_core.chunk_text(text, 100)
    assert all(chunk.endswith("casa.") for chunk in chunks), chunks


def test_speaker_status_round_trip_and_a_speaker_from_before_ids() -> None:
    """`<base>/tts/status` carries the ids; a status without them still reads."""
    status = speech_core.SpeakerStatus(
        status="speaking",
        current_text="Hola",
        current_id="u2",
        queue_size=1,
        finished_id="u1",
        finished_outcome="played",
    )
    again = speech_core.parse_status(status.as_payload())
    assert (again.status, again.current_id, again.finished_id, again.queue_size) == (
        "speaking",
        "u2",
        "u1",
        1,
    )
    old = speech_core.parse_status(b'{"status": "idle", "current_text": null, "queue_size": 0}')
    assert (old.status, old.current_id, old.finished_id) == ("idle", None, None)
    for bad in (b"", b"[]", b'{"status": "dancing"}', b"\xff"):
        with pytest.raises(speech_core.PayloadError):
            speech_core.parse_status(bad)


def test_the_speech_event_has_an_iso_date() -> None:
    """The Speech event's timestamp reads as a date in Home Assistant."""
    event = speech_core.Utterance(
        text="a", id="x", timestamp=time.mktime((2026, 10, 1, 0, 0, 0, 0, 0, -1))
    ).event()
    assert event["timestamp"].startswith("2026-")
    assert event["timestamp"].endswith("+00:00")


@pytest.mark.parametrize(
    "base", ["moxie", "Casa/Moxie 2", "/moxie/", "MOXIE", "casa-1/robot_2", "ñandú", "a//b"]
)
def test_device_id_rule(base: str) -> None:
    """Lower case, every run of other characters one underscore, none at the ends."""
    device = speech_core.device_id(base)
    assert device.startswith("moxie_")
    assert device == device.lower()
    assert "__" not in device
    assert not device.endswith("_")
    assert speech_core.Topics(base).discovery == f"homeassistant/device/{device}/config"
    assert service_core.Topics(base).speaker_discovery == (
        f"homeassistant/device/{device}_speaker/config"
    )


@pytest.mark.parametrize(
    "text",
    [
        "Hola.",
        "¿Quieres jugar? ¡Claro que sí! " * 40,
        "palabra " * 300,
        "x" * 1234,  # one huge "word" is cut
        "Una frase muy larga " + "sin puntos " * 80 + "y al final un punto. Y otra más.",
        "  espacios   raros \n\t entre   palabras. " * 30,
    ],
)
def test_chunks_keep_every_word_in_order(text: str) -> None:
    """Chunks fit the limit and join back to the text."""
    pieces = speech_core.chunk_text(text)
    assert all(0 < len(piece) <= speech_core.CHUNK_MAX_CHARS for piece in pieces)
    assert " ".join(pieces) == " ".join(text.split()) or "".join(pieces) == text


def test_chunks_prefer_sentence_boundaries() -> None:
    """A long text of sentences is cut between sentences."""
    sentence = "Esta es una frase de unos cincuenta caracteres más o menos. "
    pieces = speech_core.chunk_text(sentence * 20)
    assert len(pieces) > 1
    assert all(piece.endswith(".") for piece in pieces)
