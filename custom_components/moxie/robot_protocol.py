"""The Moxie robot's protocol with its server (OpenMoxie's), as far as conversation needs it.

Standard library only. Facts from OpenMoxie's server code (`/work/shared/docs/OPENMOXIE-PROTOCOL.md`
in the project's notes):

- Topics, with a leading slash: robot -> server `/devices/<d_id>/events/<event>` (`zmq`: a
  protobuf frame, `remote-chat`: JSON), server -> robot `/devices/<d_id>/commands/<command>`
  (`zmq`: a protobuf frame; `remote_chat`, `telehealth`: JSON).
- A protobuf frame is the message's full name, a colon, then the serialized message.
- The three messages needed, by field number: `embodied.logging.ProtoSubscribe` (1 timestamp,
  2 protos), `embodied.perception.audio.zmqSTTRequest` (1 timestamp, 2 vad, 3 audio_content,
  4 uuid) and `embodied.perception.audio.zmqSTTResponse` (1 timestamp, 2 type, 3 speech,
  5 end_timestamp, 6 start_timestamp, 7 uuid, 8 error_code, 9 error_message, 10 language).

Everything malformed raises RobotProtocolError with a short reason (what the bridge counts).
"""

from __future__ import annotations

from dataclasses import dataclass, field
import json
import re
import time
from typing import Any
from xml.sax.saxutils import escape

PROTO_SUBSCRIBE = "embodied.logging.ProtoSubscribe"
STT_REQUEST = "embodied.perception.audio.zmqSTTRequest"
STT_RESPONSE = "embodied.perception.audio.zmqSTTResponse"

# zmqSTTRequest.vad
VAD_UNKNOWN, VAD_START, VAD_SPEECH, VAD_END = 0, 1, 2, 3
# zmqSTTResponse.type
RESPONSE_PARTIAL, RESPONSE_FINAL = 0, 1
# zmqSTTResponse.error_code of a failed transcription (OpenMoxie's).
STT_ERROR = 66

# The robot's microphone audio: 16 kHz, 16-bit, mono PCM.
AUDIO_RATE, AUDIO_WIDTH, AUDIO_CHANNELS = 16000, 2, 1

# Limits of what is accepted from the broker.
MAX_FRAME_BYTES = 256 * 1024  # one zmq frame (a robot sends about 0.1 s of audio per frame)
MAX_JSON_BYTES = 64 * 1024  # one JSON event
MAX_NAME_CHARS = 128

# Remote modules answer with this output type (the robot keeps the best of local and remote).
OUTPUT_GLOBAL_RESPONSE = "GLOBAL_RESPONSE"

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$")
_DEVICE_TOPIC = re.compile(r"^/devices/([^/]+)/events/")
# Action tags an LLM may write for OpenMoxie (`<exit>`, `<sleep>`, `<launch:...>`) and any other
# tag: never spoken.
_TAG = re.compile(r"<[^<>]{0,200}>")


class RobotProtocolError(ValueError):
    """A frame or event that breaks the protocol; `reason` is what is counted."""

    def __init__(self, reason: str, detail: str = "") -> None:
        """Reject with reason (e.g. `truncated`), detail for the log."""
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


def now_ms() -> int:
    """Wall clock in milliseconds, as the robot's timestamps."""
    return int(time.time() * 1000)


# -- topics -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RobotTopics:
    """The topics of one robot (its device id is `d_<uuid>` on a real Moxie)."""

    device_id: str

    @property
    def events(self) -> str:
        """Every event of the robot (`#`)."""
        return f"/devices/{self.device_id}/events/#"

    @property
    def events_zmq(self) -> str:
        """Protobuf frames from the robot (microphone audio)."""
        return f"/devices/{self.device_id}/events/zmq"

    @property
    def events_remote_chat(self) -> str:
        """RemoteChatRequest JSON from the robot."""
        return f"/devices/{self.device_id}/events/remote-chat"

    @property
    def state(self) -> str:
        """The robot's state reports (it publishes one when it connects)."""
        return f"/devices/{self.device_id}/state"

    def command(self, name: str) -> str:
        """Return the topic of a command to the robot (`zmq`, `remote_chat`, `telehealth`, ...)."""
        return f"/devices/{self.device_id}/commands/{name}"


def device_of_topic(topic: str) -> str | None:
    """Return the device id of an event topic (`/devices/<d_id>/events/...`), else None."""
    match = _DEVICE_TOPIC.match(topic)
    return match.group(1) if match else None


def valid_device_id(device_id: str) -> bool:
    """Whether device_id can be a topic level (no wildcard, slash or blank)."""
    return bool(device_id) and not any(c in device_id for c in "/+#\x00 ") and len(device_id) < 200


# -- protobuf wire format (the subset these messages use) ---------------------------------------

WIRE_VARINT, WIRE_64, WIRE_LEN, WIRE_32 = 0, 1, 2, 5


def _varint(value: int) -> bytes:
    if value < 0:
        value &= (1 << 64) - 1  # negative int64/int32 as protobuf writes them
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data):
            raise RobotProtocolError("truncated", "varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift >= 70:
            raise RobotProtocolError("bad_varint")


def _key(number: int, wire: int) -> bytes:
    return _varint(number << 3 | wire)


def _field_varint(number: int, value: int) -> bytes:
    return _key(number, WIRE_VARINT) + _varint(value)


def _field_bytes(number: int, value: bytes) -> bytes:
    return _key(number, WIRE_LEN) + _varint(len(value)) + value


def _field_text(number: int, value: str) -> bytes:
    return _field_bytes(number, value.encode())


def iter_fields(data: bytes) -> list[tuple[int, int, int | bytes]]:
    """Return (number, wire type, value) of every field; 64/32-bit values as raw bytes."""
    fields: list[tuple[int, int, int | bytes]] = []
    pos = 0
    while pos < len(data):
        key, pos = _read_varint(data, pos)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise RobotProtocolError("bad_field", "field number 0")
        value: int | bytes
        if wire == WIRE_VARINT:
            value, pos = _read_varint(data, pos)
        elif wire == WIRE_LEN:
            length, pos = _read_varint(data, pos)
            if pos + length > len(data):
                raise RobotProtocolError("truncated", f"field {number}")
            value, pos = data[pos : pos + length], pos + length
        elif wire in (WIRE_64, WIRE_32):
            size = 8 if wire == WIRE_64 else 4
            if pos + size > len(data):
                raise RobotProtocolError("truncated", f"field {number}")
            value, pos = data[pos : pos + size], pos + size
        else:
            raise RobotProtocolError("bad_wire_type", f"{wire} in field {number}")
        fields.append((number, wire, value))
    return fields


def _text(value: int | bytes, number: int) -> str:
    if not isinstance(value, bytes):
        raise RobotProtocolError("bad_field", f"field {number} is not a string")
    try:
        return value.decode()
    except UnicodeDecodeError as err:
        raise RobotProtocolError("bad_field", f"field {number} is not UTF-8") from err


def _int(value: int | bytes, number: int) -> int:
    if not isinstance(value, int):
        raise RobotProtocolError("bad_field", f"field {number} is not a varint")
    return value


# -- frames -------------------------------------------------------------------------------------


def frame(name: str, body: bytes) -> bytes:
    """Return the bytes of a zmq frame: `<full name>:<serialized message>`."""
    return name.encode() + b":" + body


def unframe(payload: bytes) -> tuple[str, bytes]:
    """Return (full name, serialized message) of a zmq frame."""
    if len(payload) > MAX_FRAME_BYTES:
        raise RobotProtocolError("too_large", f"{len(payload)} bytes")
    colon = payload.find(b":", 0, MAX_NAME_CHARS + 1)
    if colon <= 0:
        raise RobotProtocolError("no_name")
    try:
        name = payload[:colon].decode("ascii")
    except UnicodeDecodeError:
        raise RobotProtocolError("bad_name") from None
    if not _NAME.match(name):
        raise RobotProtocolError("bad_name", name)
    return name, payload[colon + 1 :]


# -- the messages -------------------------------------------------------------------------------


def encode_proto_subscribe(protos: list[str], timestamp: int | None = None) -> bytes:
    """Serialize a ProtoSubscribe asking the robot to send these messages."""
    body = _field_varint(1, now_ms() if timestamp is None else timestamp)
    for proto in protos:
        body += _field_text(2, proto)
    return body


@dataclass(slots=True)
class SttRequest:
    """One zmqSTTRequest: a piece of the robot's microphone audio in one utterance."""

    timestamp: int = 0
    vad: int = VAD_UNKNOWN
    audio: bytes = b""
    uuid: str = ""


def decode_stt_request(body: bytes) -> SttRequest:
    """Parse a zmqSTTRequest (unknown fields are skipped, as protobuf does)."""
    request = SttRequest()
    for number, _wire, value in iter_fields(body):
        if number == 1:
            request.timestamp = _int(value, number)
        elif number == 2:
            request.vad = _int(value, number)
        elif number == 3:
            if not isinstance(value, bytes):
                raise RobotProtocolError("bad_field", "audio_content is not bytes")
            request.audio = bytes(value)
        elif number == 4:
            request.uuid = _text(value, number)
    if not request.uuid:
        raise RobotProtocolError("no_uuid")
    if len(request.audio) % AUDIO_WIDTH:
        raise RobotProtocolError("bad_audio", "odd number of bytes")
    return request


@dataclass(slots=True)
class SttResponse:
    """One zmqSTTResponse (only FINAL is ever sent)."""

    uuid: str
    speech: str = ""
    type: int = RESPONSE_FINAL
    timestamp: int = field(default_factory=now_ms)
    start_timestamp: int = 0
    end_timestamp: int = 0
    error_code: int = 0
    error_message: str = ""
    language: str = ""

    def encode(self) -> bytes:
        """Serialize (proto3: fields at their default value are left out)."""
        body = _field_varint(1, self.timestamp)
        if self.type:
            body += _field_varint(2, self.type)
        if self.speech:
            body += _field_text(3, self.speech)
        if self.end_timestamp:
            body += _field_varint(5, self.end_timestamp)
        if self.start_timestamp:
            body += _field_varint(6, self.start_timestamp)
        body += _field_text(7, self.uuid)
        if self.error_code:
            body += _field_varint(8, self.error_code)
        if self.error_message:
            body += _field_text(9, self.error_message)
        if self.language:
            body += _field_text(10, self.language)
        return body


def pcm_seconds(size: int) -> float:
    """Seconds of robot audio in size bytes."""
    return size / (AUDIO_RATE * AUDIO_WIDTH * AUDIO_CHANNELS)


# -- JSON: the chat turn and telehealth ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RemoteChatRequest:
    """What the robot asks its server in a chat turn."""

    event_id: Any
    command: str
    backend: str
    speech: str
    module_id: str | None
    content_id: str | None
    raw: dict[str, Any]

    @property
    def is_query(self) -> bool:
        """A data query (`backend: data`, e.g. which modules are remote)."""
        return self.backend == "data"

    @property
    def user_lines(self) -> list[str]:
        """The user's lines a `notify` carries (`extra_lines` of type `input`)."""
        lines = self.raw.get("extra_lines")
        if not isinstance(lines, list):
            return []
        return [
            str(line["text"])
            for line in lines
            if isinstance(line, dict)
            and line.get("context_type") == "input"
            and isinstance(line.get("text"), str)
        ]


def parse_remote_chat(payload: bytes) -> RemoteChatRequest:
    """Parse a RemoteChatRequest; event_id is required (the reply must echo it)."""
    if len(payload) > MAX_JSON_BYTES:
        raise RobotProtocolError("too_large", f"{len(payload)} bytes")
    try:
        data = json.loads(payload)
    except (UnicodeDecodeError, ValueError) as err:
        raise RobotProtocolError("invalid_json", str(err)) from None
    if not isinstance(data, dict):
        raise RobotProtocolError("invalid_json", "not an object")
    event_id = data.get("event_id")
    if event_id is None or isinstance(event_id, (dict, list, bool)):
        raise RobotProtocolError("no_event_id")
    speech = data.get("speech")
    command = data.get("command")
    backend = data.get("backend")
    module_id = data.get("module_id")
    content_id = data.get("content_id")
    return RemoteChatRequest(
        event_id=event_id,
        command=command if isinstance(command, str) else "",
        backend=backend if isinstance(backend, str) else "router",
        speech=speech.strip() if isinstance(speech, str) else "",
        module_id=module_id if isinstance(module_id, str) else None,
        content_id=content_id if isinstance(content_id, str) else None,
        raw=data,
    )


def speakable_text(text: str) -> str:
    """Return the answer as the robot must say it: no tags (action tags, markup), one line."""
    return " ".join(_TAG.sub(" ", text).split())


def make_markup(text: str) -> str:
    """Markup for text: the text itself, XML-escaped (no gestures or mood).

    Moxie's markup is an SSML-like XML fragment; plain escaped text is its simplest valid form.
    """
    return escape(text)


def remote_chat_reply(
    request: RemoteChatRequest, text: str, *, output_type: str = OUTPUT_GLOBAL_RESPONSE
) -> dict[str, Any]:
    """Return the reply to request on `commands/remote_chat`: event_id and backend echoed."""
    reply: dict[str, Any] = {
        "command": "remote_chat",
        "result": 0,
        "backend": request.backend,
        "event_id": request.event_id,
        "output": {"text": text, "markup": make_markup(text)},
        "response_actions": [{"output_type": output_type}],
        "response_action": {"output_type": output_type},
        "fallback": False,
    }
    if request.speech:
        reply["input_speech"] = request.speech
    return reply


def telehealth_play(text: str) -> dict[str, Any]:
    """Return the telehealth command making the robot say text now."""
    return {
        "command": "telehealth",
        "message": {"action": "PLAY_OUTPUT", "output": {"text": text, "markup": make_markup(text)}},
    }


def telehealth_interrupt() -> dict[str, Any]:
    """Return the telehealth command making the robot stop speaking."""
    return {"command": "telehealth", "message": {"action": "INTERRUPT"}}
