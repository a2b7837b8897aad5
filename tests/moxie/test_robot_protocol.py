"""The robot protocol's hand-written protobuf against Google's protobuf runtime.

The messages are declared here from the protocol's field table (OPENMOXIE-PROTOCOL.md), with
the real protobuf library serializing and parsing them: what Moxie writes the robot's own
protobuf code reads, and what the robot writes Moxie reads.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
import pytest

from custom_components.moxie.robot_protocol import (
    PROTO_SUBSCRIBE,
    STT_REQUEST,
    STT_RESPONSE,
    RobotProtocolError,
    SttResponse,
    decode_stt_request,
    encode_proto_subscribe,
    frame,
    make_markup,
    parse_remote_chat,
    remote_chat_reply,
    speakable_text,
    telehealth_play,
    unframe,
)

F = descriptor_pb2.FieldDescriptorProto
UINT64, UINT32, INT32, STRING, BYTES, FLOAT = (
    F.TYPE_UINT64,
    F.TYPE_UINT32,
    F.TYPE_INT32,
    F.TYPE_STRING,
    F.TYPE_BYTES,
    F.TYPE_FLOAT,
)


def _messages() -> dict[str, Any]:
    pool = descriptor_pool.DescriptorPool()
    declared = {
        ("embodied.logging", "ProtoSubscribe"): [
            ("timestamp", 1, UINT64, False),
            ("protos", 2, STRING, True),
            ("software_version", 100, STRING, False),
            ("module_name", 101, STRING, False),
        ],
        ("embodied.perception.audio", "zmqSTTRequest"): [
            ("timestamp", 1, UINT64, False),
            ("vad", 2, INT32, False),  # an enum on the wire is a varint
            ("audio_content", 3, BYTES, False),
            ("uuid", 4, STRING, False),
            ("software_version", 100, STRING, False),
            ("module_name", 101, STRING, False),
        ],
        ("embodied.perception.audio", "zmqSTTResponse"): [
            ("timestamp", 1, UINT64, False),
            ("type", 2, INT32, False),
            ("speech", 3, STRING, False),
            ("confidence", 4, FLOAT, False),
            ("end_timestamp", 5, UINT64, False),
            ("start_timestamp", 6, UINT64, False),
            ("uuid", 7, STRING, False),
            ("error_code", 8, UINT32, False),
            ("error_message", 9, STRING, False),
            ("language", 10, STRING, False),
        ],
    }
    classes: dict[str, Any] = {}
    for (package, name), fields in declared.items():
        file = descriptor_pb2.FileDescriptorProto(
            name=f"{package}.{name}.proto", package=package, syntax="proto3"
        )
        message = file.message_type.add(name=name)
        for field_name, number, kind, repeated in fields:
            message.field.add(
                name=field_name,
                number=number,
                type=kind,
                label=F.LABEL_REPEATED if repeated else F.LABEL_OPTIONAL,
            )
        pool.Add(file)
        full = f"{package}.{name}"
        classes[full] = message_factory.GetMessageClass(pool.FindMessageTypeByName(full))
    return classes


MESSAGES = _messages()


def test_proto_subscribe_reads_as_protobuf() -> None:
    """ProtoSubscribe listing zmqSTTRequest, as the robot parses it."""
    parsed = MESSAGES[PROTO_SUBSCRIBE].FromString(encode_proto_subscribe([STT_REQUEST], 1234))
    assert list(parsed.protos) == [STT_REQUEST]
    assert parsed.timestamp == 1234


def test_stt_response_reads_as_protobuf() -> None:
    """FINAL with the text and uuid; error 66 with its message."""
    ok = SttResponse(uuid="u-1", speech="¿Qué hora es?", language="es", timestamp=7)
    ok.start_timestamp, ok.end_timestamp = 100, 2100
    parsed = MESSAGES[STT_RESPONSE].FromString(ok.encode())
    assert (parsed.type, parsed.speech, parsed.uuid, parsed.language) == (
        1,
        "¿Qué hora es?",
        "u-1",
        "es",
    )
    assert (parsed.timestamp, parsed.start_timestamp, parsed.end_timestamp) == (7, 100, 2100)
    assert parsed.error_code == 0
    failed = SttResponse(uuid="u-2", error_code=66, error_message="no engine")
    parsed = MESSAGES[STT_RESPONSE].FromString(failed.encode())
    assert (parsed.type, parsed.uuid, parsed.error_code, parsed.error_message, parsed.speech) == (
        1,
        "u-2",
        66,
        "no engine",
        "",
    )


def test_stt_request_from_protobuf() -> None:
    """A robot's frame (with fields Moxie does not use) decodes; the frame name round-trips."""
    message = MESSAGES[STT_REQUEST](
        timestamp=1_764_000_000_123,
        vad=3,
        audio_content=b"\x01\x00\xff\x7f",
        uuid="utt-9",
        software_version="803",
        module_name="GLOBAL",
    )
    name, body = unframe(frame(STT_REQUEST, message.SerializeToString()))
    assert name == STT_REQUEST
    request = decode_stt_request(body)
    assert (request.timestamp, request.vad, request.audio, request.uuid) == (
        1_764_000_000_123,
        3,
        b"\x01\x00\xff\x7f",
        "utt-9",
    )


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"", "no_name"),
        (b":abc", "no_name"),
        (b"x" * 200 + b":", "no_name"),
        (b"not a name:\x08\x01", "bad_name"),
        (b"\xff\xfe.x:\x08", "bad_name"),
        (b"a.b:" + b"\x00" * (257 * 1024), "too_large"),
    ],
)
def test_bad_frames(payload: bytes, reason: str) -> None:
    """Frames without a proper name, or too large, are refused with their reason."""
    with pytest.raises(RobotProtocolError) as err:
        unframe(payload)
    assert err.value.reason == reason


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"\x08", "truncated"),  # a varint cut short
        (b"\x1a\x05ab", "truncated"),  # audio longer than the frame
        (b"\x0f", "bad_wire_type"),
        (b"\x22\x02\xff\xfe", "bad_field"),  # uuid not UTF-8
        (b"\x10\x01", "no_uuid"),
        (b"\x1a\x01\x00\x22\x01u", "bad_audio"),  # odd number of PCM bytes
        (b"\x08" + b"\xff" * 11, "bad_varint"),
    ],
)
def test_bad_stt_requests(body: bytes, reason: str) -> None:
    """Broken messages are refused with their reason."""
    with pytest.raises(RobotProtocolError) as err:
        decode_stt_request(body)
    assert err.value.reason == reason


def test_remote_chat_reply_and_markup() -> None:
    """The reply echoes event_id and backend; markup escapes XML; action tags are not said."""
    request = parse_remote_chat(
        b'{"event_id": 17, "command": "continue", "backend": "router", "speech": " hola "}'
    )
    assert request.speech == "hola"
    text = speakable_text("Tom & Jerry <3 <exit>  said <launch:STORY:1> hi")
    assert text == "Tom & Jerry <3 said hi"
    reply = remote_chat_reply(request, text)
    assert reply["event_id"] == 17
    assert reply["backend"] == "router"
    assert reply["output"] == {"text": text, "markup": "Tom &amp; Jerry &lt;3 said hi"}
    assert reply["response_actions"] == [{"output_type": "GLOBAL_RESPONSE"}]
    assert make_markup("a < b") == "a &lt; b"
    assert telehealth_play("Hi")["message"]["action"] == "PLAY_OUTPUT"


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"{", "invalid_json"),
        (b"\xff", "invalid_json"),
        (b"[1]", "invalid_json"),
        (b'{"speech": "hi"}', "no_event_id"),
        (b'{"event_id": {"a": 1}}', "no_event_id"),
        (b'{"event_id": 1, "pad": "' + b"x" * 70000 + b'"}', "too_large"),
    ],
)
def test_bad_remote_chat(payload: bytes, reason: str) -> None:
    """Broken RemoteChatRequests are refused with their reason."""
    with pytest.raises(RobotProtocolError) as err:
        parse_remote_chat(payload)
    assert err.value.reason == reason
