"""The public MQTT contract of Moxie's speech mirror, as the speaker reads and writes it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
import json
import re
import time
from typing import Any
import uuid

MAX_PAYLOAD_BYTES = 64 * 1024
DEFAULT_BASE_TOPIC = "moxie"
DEFAULT_DISCOVERY_PREFIX = "homeassistant"
DEFAULT_SOURCE = "external"


class Priority(IntEnum):
    """Speech priority: higher plays first; critical preempts what is playing."""

    NORMAL = 0
    HIGH = 1
    CRITICAL = 2

    @property
    def label(self) -> str:
        """Name used on the wire."""
        return self.name.lower()


PRIORITIES = {p.label: p for p in Priority}


class BadPayloadError(ValueError):
    """A payload on the mirror topic that the contract does not allow."""

    def __init__(self, reason: str, detail: str) -> None:
        """Remember the reason (a stats key, as the integration's) and a readable detail."""
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class SpeechPart:
    """One message of the mirror topic: a whole utterance or one chunk of it."""

    id: str
    text: str
    chunk: int
    total_chunks: int
    priority: Priority
    source: str
    language: str | None
    timestamp: float | None
    plain: bool = False
    # False: a voice satellite plays this answer; the speaker stays silent.
    speak: bool = True
    satellite: str | None = None


@dataclass(frozen=True, slots=True)
class StopRequest:
    """An interrupt from `<base>/tts/stop`."""

    reason: str | None = None
    clear_queue: bool = False


def device_id(base_topic: str) -> str:
    """Device id shared with the Home Assistant integration."""
    return "moxie_" + re.sub(r"[^a-z0-9]+", "_", base_topic.lower()).strip("_")


def now_iso() -> str:
    """Return the current UTC time as ISO 8601 (seconds precision plus milliseconds)."""
    now = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}Z"


def _decode(payload: bytes) -> str:
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise BadPayloadError("too_large", f"{len(payload)} bytes > {MAX_PAYLOAD_BYTES}")
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError as err:
        raise BadPayloadError("not_utf8", str(err)) from err


def _invalid(key: str, rule: str) -> BadPayloadError:
    return BadPayloadError("invalid_field", f"{key!r} {rule}")


def _optional_str(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None or isinstance(value, str):
        return value
    raise _invalid(key, "must be a string or null")


def _positive_int(data: dict[str, Any], key: str) -> int:
    value = data.get(key, 1)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise _invalid(key, "must be an integer >= 1")
    return value


def parse_text(payload: bytes) -> SpeechPart:
    """Parse a `<base>/tts/text` payload (contract JSON or plain UTF-8 text).

    The field rules are those of custom_components/moxie/MQTT.md; the integration's parser
    follows the same table of cases (tests/contract_cases.py).
    """
    text = _decode(payload)
    stripped = text.strip()
    if not stripped:
        raise BadPayloadError("empty", "no text")
    if not stripped.startswith("{"):
        return SpeechPart(
            id=f"plain-{uuid.uuid4().hex}",
            text=stripped,
            chunk=1,
            total_chunks=1,
            priority=Priority.NORMAL,
            source=DEFAULT_SOURCE,
            language=None,
            timestamp=None,
            plain=True,
        )
    try:
        data = json.loads(stripped)
    except ValueError as err:
        raise BadPayloadError("invalid_json", str(err)) from err
    if not isinstance(data, dict):
        raise BadPayloadError("invalid_json", "not a JSON object")
    speech = data.get("text")
    if not isinstance(speech, str) or not speech.strip():
        raise _invalid("text", "must be a non-blank string")
    chunk = _positive_int(data, "chunk")
    total = _positive_int(data, "total_chunks")
    if chunk > total:
        raise _invalid("chunk", f"{chunk} is over total_chunks {total}")
    priority_name = data.get("priority")
    if priority_name is None:
        priority_name = Priority.NORMAL.label
    elif not isinstance(priority_name, str) or priority_name.lower() not in PRIORITIES:
        raise _invalid("priority", "must be critical, high or normal")
    message_id = data.get("id")
    if (
        isinstance(message_id, bool)
        or not isinstance(message_id, str | int | None)
        or message_id == ""
    ):
        raise _invalid("id", "must be a non-empty string or an integer")
    if message_id is None and total > 1:
        raise _invalid("id", "is needed when total_chunks > 1")
    timestamp = data.get("timestamp")
    if isinstance(timestamp, bool) or not isinstance(timestamp, int | float | None):
        raise _invalid("timestamp", "must be a number (Unix time)")
    source = _optional_str(data, "source")
    speak = data.get("speak")
    if speak is None:
        speak = True
    elif not isinstance(speak, bool):
        raise _invalid("speak", "must be true or false")
    return SpeechPart(
        id=f"json-{uuid.uuid4().hex}" if message_id is None else str(message_id),
        text=speech.strip(),
        chunk=chunk,
        total_chunks=total,
        priority=PRIORITIES[priority_name.lower()],
        source=DEFAULT_SOURCE if source is None else source,
        language=_optional_str(data, "language"),
        timestamp=None if timestamp is None else float(timestamp),
        speak=speak,
        satellite=_optional_str(data, "satellite"),
    )


def parse_stop(payload: bytes) -> StopRequest:
    """Parse a `<base>/tts/stop` payload; anything that is not a JSON object is a plain stop."""
    try:
        text = _decode(payload).strip()
    except BadPayloadError:
        return StopRequest(reason="invalid payload")
    if not text.startswith("{"):
        return StopRequest(reason=text or None)
    try:
        data = json.loads(text)
    except ValueError:
        return StopRequest(reason="invalid payload")
    if not isinstance(data, dict):
        return StopRequest()
    reason = data.get("reason")
    return StopRequest(
        reason=None if reason is None else str(reason),
        clear_queue=data.get("clear_queue") is True,
    )


def status_payload(status: str, current_text: str | None, queue_size: int) -> bytes:
    """Retained `<base>/tts/status` payload."""
    return json.dumps(
        {
            "status": status,
            "current_text": current_text,
            "queue_size": queue_size,
            "timestamp": now_iso(),
        },
        ensure_ascii=False,
    ).encode()
