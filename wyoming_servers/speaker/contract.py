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

    def __init__(self, kind: str, detail: str) -> None:
        """Remember the kind of fault (a stats key) and a human readable detail."""
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.detail = detail


@dataclass(frozen=True, slots=True)
class SpeechPart:
    """One message of the mirror topic: a whole utterance or one chunk of it."""

    id: str
    text: str
    chunk: int
    total_chunks: int
    priority: Priority
    source: str | None
    language: str | None
    timestamp: float | None
    plain: bool = False


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


def _optional_str(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadPayloadError("invalid_field", f"{key!r} must be a string")
    return value


def _positive_int(data: dict[str, Any], key: str) -> int:
    value = data.get(key, 1)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise BadPayloadError("invalid_field", f"{key!r} must be an integer >= 1")
    return value


def parse_text(payload: bytes) -> SpeechPart:
    """Parse a `<base>/tts/text` payload (contract JSON or plain UTF-8 text)."""
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
            source=None,
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
    if not isinstance(speech, str):
        raise BadPayloadError("invalid_field", "'text' must be a string")
    chunk = _positive_int(data, "chunk")
    total = _positive_int(data, "total_chunks")
    if chunk > total:
        raise BadPayloadError("invalid_field", f"chunk {chunk} > total_chunks {total}")
    if total > 1 and not data.get("id"):
        raise BadPayloadError("invalid_field", "chunked text needs an 'id'")
    message_id = data.get("id")
    if message_id is None:
        message_id = f"json-{uuid.uuid4().hex}"
    elif isinstance(message_id, int) and not isinstance(message_id, bool):
        message_id = str(message_id)
    elif not isinstance(message_id, str) or not message_id:
        raise BadPayloadError("invalid_field", "'id' must be a non-empty string")
    priority_name = data.get("priority", "normal")
    if priority_name is None:
        priority_name = "normal"
    if not isinstance(priority_name, str) or priority_name.lower() not in PRIORITIES:
        raise BadPayloadError("invalid_field", "'priority' must be critical, high or normal")
    if not speech.strip():
        raise BadPayloadError("invalid_field", "'text' is missing or empty")
    timestamp = data.get("timestamp")
    if timestamp is not None and (
        isinstance(timestamp, bool) or not isinstance(timestamp, int | float)
    ):
        raise BadPayloadError("invalid_field", "'timestamp' must be a number (Unix time)")
    return SpeechPart(
        id=message_id,
        text=speech.strip(),
        chunk=chunk,
        total_chunks=total,
        priority=PRIORITIES[priority_name.lower()],
        source=_optional_str(data, "source"),
        language=_optional_str(data, "language"),
        timestamp=None if timestamp is None else float(timestamp),
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
