"""A Moxie robot as its server sees it over MQTT, written from OpenMoxie's protocol.

It knows nothing of Moxie's integration (it imports no Moxie module): topics, frames and
messages are written here from the protocol notes (`OPENMOXIE-PROTOCOL.md`):

- it connects to the robot's broker (anonymous; TLS when given a context), subscribes to its
  commands (`/devices/<d_id>/commands/#`) and reports its state, as a robot does on connect;
- it streams its microphone only once a `embodied.logging.ProtoSubscribe` listing
  `embodied.perception.audio.zmqSTTRequest` arrived on `commands/zmq`;
- `say_to_robot(pcm)` is a person talking to it: the audio goes out as `zmqSTTRequest` frames of
  100 ms in real time, marked by the robot's own energy VAD (START_OF_SPEECH on the first loud
  frame, SPEECH, END_OF_SPEECH after 500 ms of quiet), one uuid per utterance;
- `chat(speech)` sends a RemoteChatRequest and returns the reply with the same event_id;
- every command received is recorded (`commands[name]`), e.g. telehealth PLAY_OUTPUT/INTERRUPT.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
import contextlib
from dataclasses import dataclass, field
import json
import math
import ssl
import struct
import time
from typing import Any
import uuid as uuid_lib

import aiomqtt

WAIT = 60.0  # generous bound for a loaded 2-core machine

SUBSCRIBE_NAME = "embodied.logging.ProtoSubscribe"
REQUEST_NAME = "embodied.perception.audio.zmqSTTRequest"
RESPONSE_NAME = "embodied.perception.audio.zmqSTTResponse"
START_OF_SPEECH, SPEECH, END_OF_SPEECH = 1, 2, 3
RATE = 16000  # the robot's microphone: 16 kHz, 16-bit, mono
FRAME_MS = 100
QUIET_FRAMES_TO_END = 5  # 500 ms of quiet ends the utterance
LOUD_RMS = 300.0


# -- the protobuf wire format, by hand ------------------------------------------------------------


def _uvarint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _tag(number: int, wire: int) -> bytes:
    return _uvarint((number << 3) | wire)


def encode_stt_request(timestamp: int, vad: int, audio: bytes, utterance: str) -> bytes:
    """Serialize a zmqSTTRequest (1 timestamp, 2 vad, 3 audio_content, 4 uuid)."""
    out = _tag(1, 0) + _uvarint(timestamp)
    if vad:
        out += _tag(2, 0) + _uvarint(vad)
    if audio:
        out += _tag(3, 2) + _uvarint(len(audio)) + audio
    raw = utterance.encode()
    return out + _tag(4, 2) + _uvarint(len(raw)) + raw


def decode_fields(data: bytes) -> dict[int, list[Any]]:
    """Every field of a message by number (varints as int, length-delimited as bytes)."""
    fields: dict[int, list[Any]] = defaultdict(list)
    i = 0

    def varint() -> int:
        nonlocal i
        shift = value = 0
        while True:
            byte = data[i]
            i += 1
            value |= (byte & 0x7F) << shift
            shift += 7
            if byte < 0x80:
                return value

    while i < len(data):
        key = varint()
        number, wire = key >> 3, key & 7
        if wire == 0:
            fields[number].append(varint())
        elif wire == 2:
            size = varint()
            fields[number].append(data[i : i + size])
            i += size
        elif wire == 5:
            fields[number].append(struct.unpack("<f", data[i : i + 4])[0])
            i += 4
        elif wire == 1:
            fields[number].append(struct.unpack("<d", data[i : i + 8])[0])
            i += 8
        else:
            raise ValueError(f"wire type {wire}")
    return fields


@dataclass(frozen=True)
class SttResponse:
    """A zmqSTTResponse as the robot reads it."""

    type: int
    speech: str
    uuid: str
    error_code: int
    language: str
    at: float  # monotonic time it arrived

    @classmethod
    def parse(cls, body: bytes, at: float) -> SttResponse:
        """Read the fields the robot uses."""
        f = decode_fields(body)
        return cls(
            type=f[2][0] if f[2] else 0,
            speech=f[3][0].decode() if f[3] else "",
            uuid=f[7][0].decode() if f[7] else "",
            error_code=f[8][0] if f[8] else 0,
            language=f[10][0].decode() if f[10] else "",
            at=at,
        )


@dataclass
class Command:
    """A command the robot received."""

    name: str
    payload: bytes
    at: float = field(default_factory=time.monotonic)

    def json(self) -> Any:
        """The payload as JSON."""
        return json.loads(self.payload)


def rms(pcm: bytes) -> float:
    """Root mean square of 16-bit PCM."""
    count = len(pcm) // 2
    if not count:
        return 0.0
    samples = struct.unpack(f"<{count}h", pcm[: count * 2])
    return math.sqrt(sum(s * s for s in samples) / count)


class RobotSim:
    """A simulated Moxie robot on the robot's broker."""

    def __init__(
        self,
        host: str,
        port: int,
        device_id: str | None = None,
        *,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        """Prepare a robot `d_<uuid>` (or device_id) on the broker at host:port."""
        self.device_id = device_id or f"d_{uuid_lib.uuid4()}"
        self._client = aiomqtt.Client(
            host, port, identifier=self.device_id, tls_context=tls_context
        )
        self.commands: dict[str, list[Command]] = defaultdict(list)
        self.subscribed_protos: list[str] = []
        self.responses: list[SttResponse] = []
        # Monotonic time each utterance's END_OF_SPEECH frame was published, by uuid.
        self.ended_at: dict[str, float] = {}
        self._changed = asyncio.Condition()
        self._reader: asyncio.Task[None] | None = None

    def topic(self, kind: str, name: str) -> str:
        """`/devices/<d_id>/<kind>/<name>` (kind: events or commands)."""
        return f"/devices/{self.device_id}/{kind}/{name}"

    async def start(self) -> None:
        """Connect, listen to the robot's commands, report the robot's state."""
        await self._client.__aenter__()
        await self._client.subscribe(f"/devices/{self.device_id}/commands/#", qos=1)
        self._reader = asyncio.create_task(self._read())
        await self.report_state()

    async def report_state(self) -> None:
        """Publish the robot's state, as it does after connecting."""
        await self._client.publish(
            f"/devices/{self.device_id}/state",
            json.dumps({"state": "connected", "ts": int(time.time() * 1000)}),
            qos=1,
        )

    async def stop(self) -> None:
        """Disconnect."""
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
                await self._reader
        with contextlib.suppress(aiomqtt.MqttError):
            await self._client.__aexit__(None, None, None)

    async def _read(self) -> None:
        prefix = f"/devices/{self.device_id}/commands/"
        async for message in self._client.messages:
            topic = str(message.topic)
            if not topic.startswith(prefix) or not isinstance(message.payload, bytes | bytearray):
                continue
            name, payload = topic[len(prefix) :], bytes(message.payload)
            async with self._changed:
                self.commands[name].append(Command(name, payload))
                if name == "zmq":
                    self._on_zmq(payload)
                self._changed.notify_all()

    def _on_zmq(self, payload: bytes) -> None:
        proto, _, body = payload.partition(b":")
        if proto.decode() == SUBSCRIBE_NAME:
            self.subscribed_protos += [p.decode() for p in decode_fields(body)[2]]
        elif proto.decode() == RESPONSE_NAME:
            self.responses.append(SttResponse.parse(body, time.monotonic()))

    async def wait(self, predicate: Any, timeout: float = WAIT) -> None:
        """Wait until predicate() holds (checked whenever a command arrives)."""
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(predicate)

    async def wait_microphone_subscribed(self, timeout: float = WAIT) -> None:
        """Wait for the server's ProtoSubscribe of zmqSTTRequest (the robot's stt mode 4)."""
        await self.wait(lambda: REQUEST_NAME in self.subscribed_protos, timeout)

    async def publish_raw(self, event: str, payload: bytes | str) -> None:
        """Publish anything on one of the robot's events (for malformed input)."""
        await self._client.publish(self.topic("events", event), payload, qos=1)

    async def say_to_robot(self, pcm: bytes, *, real_time: bool = True) -> str:
        """Stream pcm (16 kHz mono 16-bit) as zmqSTTRequest frames; return the uuid.

        The robot's VAD marks: nothing is sent before the first loud frame; it goes out as
        START_OF_SPEECH, then SPEECH; QUIET_FRAMES_TO_END quiet frames in a row end the
        utterance (the last one marked END_OF_SPEECH); the end of the audio ends it too.
        """
        if not await self._has_microphone():
            raise RuntimeError("the server never asked for the robot's microphone")
        utterance = str(uuid_lib.uuid4())
        size = RATE * 2 * FRAME_MS // 1000
        frames = [pcm[i : i + size] for i in range(0, len(pcm), size)]
        started = False
        quiet = 0
        next_at = time.monotonic()
        for index, chunk in enumerate(frames):
            loud = rms(chunk) >= LOUD_RMS
            if not started and not loud:
                continue
            last = index == len(frames) - 1
            quiet = 0 if loud else quiet + 1
            if not started:
                vad, started = START_OF_SPEECH, True
            elif quiet >= QUIET_FRAMES_TO_END or last:
                vad = END_OF_SPEECH
            else:
                vad = SPEECH
            if real_time:
                next_at += FRAME_MS / 1000
                await asyncio.sleep(max(0.0, next_at - time.monotonic()))  # the microphone's pace
            body = encode_stt_request(int(time.time() * 1000), vad, chunk, utterance)
            await self._client.publish(
                self.topic("events", "zmq"), REQUEST_NAME.encode() + b":" + body, qos=0
            )
            if vad == END_OF_SPEECH:
                self.ended_at[utterance] = time.monotonic()
                break
        return utterance

    async def _has_microphone(self) -> bool:
        with contextlib.suppress(TimeoutError):
            await self.wait_microphone_subscribed(WAIT)
            return True
        return False

    async def stt_response(self, utterance: str, timeout: float = WAIT) -> SttResponse:
        """Wait for the zmqSTTResponse of utterance (by uuid)."""
        await self.wait(lambda: any(r.uuid == utterance for r in self.responses), timeout)
        return next(r for r in self.responses if r.uuid == utterance)

    async def chat(
        self,
        speech: str,
        *,
        command: str = "continue",
        backend: str = "router",
        event_id: str | None = None,
        timeout: float = WAIT,
    ) -> dict[str, Any]:
        """Send a RemoteChatRequest; return the reply on commands/remote_chat echoing event_id."""
        event_id = event_id or str(uuid_lib.uuid4())
        await self.send_chat(speech, command=command, backend=backend, event_id=event_id)
        return await self.chat_reply(event_id, timeout)

    async def send_chat(
        self, speech: str, *, command: str, backend: str = "router", event_id: str
    ) -> None:
        """Publish a RemoteChatRequest (as the robot's chat module does)."""
        request = {
            "event_id": event_id,
            "command": command,
            "backend": backend,
            "module_id": "OPENMOXIE_CHAT",
            "content_id": "default",
            "speech": speech,
        }
        if command == "notify":
            request["extra_lines"] = [{"context_type": "output", "text": speech}]
        await self._client.publish(self.topic("events", "remote-chat"), json.dumps(request), qos=1)

    async def chat_reply(self, event_id: str, timeout: float = WAIT) -> dict[str, Any]:
        """Wait for the remote_chat reply echoing event_id."""

        def replies() -> list[dict[str, Any]]:
            return [
                c.json()
                for c in self.commands["remote_chat"]
                if c.json().get("event_id") == event_id
            ]

        await self.wait(lambda: bool(replies()), timeout)
        reply: dict[str, Any] = replies()[0]
        return reply

    def telehealth(self) -> list[dict[str, Any]]:
        """The telehealth commands received, in order."""
        return [c.json() for c in self.commands["telehealth"]]
