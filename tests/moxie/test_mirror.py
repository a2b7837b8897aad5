"""The speech mirror: moxie.say, the Puppet entity and the Speech event, on a real broker."""

from __future__ import annotations

import json
import logging

from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from peers.broker import Mosquitto
from peers.mqtt import MqttProbe
from tests.moxie.conftest import MOXIE_DATA, wait_state

SPEECH = "event.moxie_speech"

# 1,500 characters of Spanish prose with sentences of varied length.
LONG_TEXT = (
    " ".join(
        f"Frase número {i}: hoy aprendemos algo nuevo sobre las estrellas, los planetas "
        "y la amistad."
        for i in range(1, 40)
    )[:1499]
    + "."
)


async def test_say_publishes_contract_json(
    hass: HomeAssistant, moxie_entry: MockConfigEntry, mqtt_probe: MqttProbe
) -> None:
    response = await hass.services.async_call(
        "moxie",
        "say",
        {"text": "¡Hola, soy Moxie!", "priority": "high", "source": "cocina"},
        blocking=True,
        return_response=True,
    )
    [message] = await mqtt_probe.wait_for("moxie/tts/text")
    assert message.qos == 1
    assert not message.retain
    payload = message.json()
    assert set(payload) == {
        "text", "timestamp", "source", "chunk", "total_chunks", "id", "priority", "language",
    }  # fmt: skip
    assert payload["text"] == "¡Hola, soy Moxie!"
    assert payload["source"] == "cocina"
    assert payload["priority"] == "high"
    assert payload["language"] == "es"
    assert (payload["chunk"], payload["total_chunks"]) == (1, 1)
    assert response == {"id": payload["id"]}


async def test_long_say_is_chunked_and_reassembles(
    hass: HomeAssistant, moxie_entry: MockConfigEntry, mqtt_probe: MqttProbe
) -> None:
    assert len(LONG_TEXT) == 1500
    await hass.services.async_call("moxie", "say", {"text": LONG_TEXT}, blocking=True)
    [first, *_] = await mqtt_probe.wait_for("moxie/tts/text")
    total = first.json()["total_chunks"]
    chunks = [m.json() for m in await mqtt_probe.wait_for("moxie/tts/text", total)]
    assert total == len(chunks) >= 4
    assert len({c["id"] for c in chunks}) == 1
    assert [c["chunk"] for c in chunks] == list(range(1, total + 1))
    assert all(len(c["text"]) <= 400 for c in chunks)
    # Split at sentence boundaries: every chunk but the last ends a sentence.
    assert all(c["text"].endswith(".") for c in chunks[:-1])
    assert " ".join(c["text"] for c in chunks) == LONG_TEXT
    # The Speech event carries the whole utterance once, far over 255 characters.
    state = await wait_state(hass, SPEECH, lambda s: s.attributes.get("id") == chunks[0]["id"])
    assert state.attributes["text"] == LONG_TEXT
    assert state.attributes["chunks"] == total
    assert state.attributes["source"] == "action"
    [event] = await mqtt_probe.wait_for("moxie/speech")
    assert event.json()["text"] == LONG_TEXT


async def test_plain_text_from_openmoxie_fires_speech_event(
    hass: HomeAssistant, moxie_entry: MockConfigEntry, mqtt_probe: MqttProbe
) -> None:
    await wait_state(hass, SPEECH, lambda s: s.state != "unavailable")
    await mqtt_probe.publish("moxie/tts/text", "Buenos días, ¿cómo dormiste?".encode())
    state = await wait_state(hass, SPEECH, lambda s: s.attributes.get("event_type") == "speech")
    assert state.attributes["text"] == "Buenos días, ¿cómo dormiste?"
    assert state.attributes["source"] == "external"
    assert state.attributes["priority"] == "normal"
    assert (state.attributes["speak"], state.attributes["satellite"]) == (True, None)


async def test_external_chunks_out_of_order_and_redelivered(
    hass: HomeAssistant, moxie_entry: MockConfigEntry, mqtt_probe: MqttProbe
) -> None:
    parts = ["Primera parte.", "Segunda parte.", "Tercera parte."]
    order = [2, 1, 2, 3, 3]  # out of order, with QoS 1 redeliveries
    for index in order:
        payload = {"text": parts[index - 1], "chunk": index, "total_chunks": 3, "id": "u-7"}
        await mqtt_probe.publish("moxie/tts/text", json.dumps(payload))
    [event] = await mqtt_probe.wait_for("moxie/speech")
    assert event.json()["text"] == "Primera parte. Segunda parte. Tercera parte."
    state = await wait_state(hass, SPEECH, lambda s: s.attributes.get("id") == "u-7")
    assert state.attributes["text"] == event.json()["text"]
    # A late duplicate of a finished utterance does not fire again.
    await mqtt_probe.publish(
        "moxie/tts/text",
        json.dumps({"text": "Tercera parte.", "chunk": 3, "total_chunks": 3, "id": "u-7"}),
    )
    await mqtt_probe.publish("moxie/tts/text", "siguiente")
    await mqtt_probe.wait_for("moxie/speech", 2)
    assert [m.json()["text"] for m in mqtt_probe.messages["moxie/speech"]] == [
        "Primera parte. Segunda parte. Tercera parte.",
        "siguiente",
    ]


async def test_puppet_entity_makes_moxie_speak(
    hass: HomeAssistant, moxie_entry: MockConfigEntry, mqtt_probe: MqttProbe
) -> None:
    await wait_state(hass, "text.moxie_puppet", lambda s: s.state != "unavailable")
    await hass.services.async_call(
        "text",
        "set_value",
        {"entity_id": "text.moxie_puppet", "value": "Hola, niños, soy yo"},
        blocking=True,
    )
    [command] = await mqtt_probe.wait_for("moxie/puppet/set")
    assert command.text == "Hola, niños, soy yo"
    [mirrored] = await mqtt_probe.wait_for("moxie/tts/text")
    assert mirrored.json()["text"] == "Hola, niños, soy yo"
    assert mirrored.json()["source"] == "puppet"
    state = await wait_state(hass, SPEECH, lambda s: s.attributes.get("source") == "puppet")
    assert state.attributes["text"] == "Hola, niños, soy yo"


async def test_puppet_box_is_empty_and_ready_for_the_next_line(
    hass: HomeAssistant, moxie_entry: MockConfigEntry, mqtt_probe: MqttProbe
) -> None:
    """The Puppet box never shows "unknown" and does not keep the last line for good."""
    puppet = await wait_state(hass, "text.moxie_puppet", lambda s: s.state != "unavailable")
    assert puppet.state == ""
    shown: list[str] = []
    hass.bus.async_listen(
        "state_changed",
        lambda event: (
            shown.append(event.data["new_state"].state)
            if event.data["entity_id"] == "text.moxie_puppet"
            else None
        ),
    )
    await hass.services.async_call(
        "text", "set_value", {"entity_id": "text.moxie_puppet", "value": "¡A cenar!"}, blocking=True
    )
    await mqtt_probe.wait_for("moxie/puppet/state", where=lambda m: m.json()["text"] == "")
    await wait_state(hass, "text.moxie_puppet", lambda s: s.state == "" and bool(shown))
    assert shown == ["¡A cenar!", ""]


async def test_stop_action_publishes_interrupt(
    hass: HomeAssistant, moxie_entry: MockConfigEntry, mqtt_probe: MqttProbe
) -> None:
    await hass.services.async_call(
        "moxie", "stop", {"clear_queue": True, "reason": "siesta"}, blocking=True
    )
    [stop] = await mqtt_probe.wait_for("moxie/tts/stop")
    assert stop.json() == {"reason": "siesta", "clear_queue": True}


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"text": "   "}, "empty_text"),
        ({"text": "a" * 10_001}, "text_too_long"),
        ({"text": "hola", "priority": "urgente"}, "invalid_priority"),
    ],
)
async def test_say_rejects_bad_text(
    hass: HomeAssistant,
    moxie_entry: MockConfigEntry,
    mqtt_probe: MqttProbe,
    data: dict[str, str],
    key: str,
) -> None:
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call("moxie", "say", data, blocking=True)
    assert err.value.translation_key == key
    assert str(err.value)  # a readable, translated message
    assert str(err.value) != key
    await hass.services.async_call("moxie", "say", {"text": "sigo aquí"}, blocking=True)
    [message] = await mqtt_probe.wait_for("moxie/tts/text")
    assert message.json()["text"] == "sigo aquí"


async def test_say_with_unknown_entry(hass: HomeAssistant, moxie_entry: MockConfigEntry) -> None:
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            "moxie", "say", {"text": "hola", "config_entry_id": "nope"}, blocking=True
        )
    assert err.value.translation_key == "entry_not_loaded"


BAD_PAYLOADS = [
    (b"{not json", "invalid_json"),
    (json.dumps({"text": 42}).encode(), "invalid_field"),
    (json.dumps({"text": "hola", "chunk": "1"}).encode(), "invalid_field"),
    (json.dumps({"text": "hola", "priority": "urgentísimo"}).encode(), "invalid_field"),
    (
        json.dumps({"text": "hola", "chunk": 3, "total_chunks": 2, "id": "x"}).encode(),
        "invalid_field",
    ),
    (b"\xff\xfe hola \xc3\x28", "not_utf8"),
    (b"a" * (64 * 1024 + 1), "too_large"),
    (b"   ", "empty"),
]


async def test_bad_payloads_are_rejected_counted_and_survived(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    moxie_entry: MockConfigEntry,
    mqtt_probe: MqttProbe,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="custom_components.moxie")
    for payload, _ in BAD_PAYLOADS:
        await mqtt_probe.publish("moxie/tts/text", payload)
    await mqtt_probe.publish("moxie/tts/text", "todavía funciono")
    [event] = await mqtt_probe.wait_for("moxie/speech")
    assert event.json()["text"] == "todavía funciono"
    rejections = [r for r in caplog.records if "Rejected message on moxie/tts/text" in r.message]
    assert sorted(r.message.split("(")[1].split(")")[0] for r in rejections) == sorted(
        key for _, key in BAD_PAYLOADS
    )
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, moxie_entry)
    expected: dict[str, int] = {}
    for _, key in BAD_PAYLOADS:
        expected[key] = expected.get(key, 0) + 1
    assert diagnostics["mirror"]["rejected"] == expected
    assert diagnostics["mirror"]["rejected_total"] == len(BAD_PAYLOADS)
    assert diagnostics["mirror"]["heard_utterances"] == 1


async def test_bad_puppet_payloads_are_rejected(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    moxie_entry: MockConfigEntry,
    mqtt_probe: MqttProbe,
) -> None:
    await mqtt_probe.publish("moxie/puppet/set", b"\xff\xfe")
    await mqtt_probe.publish("moxie/puppet/set", b"")
    await mqtt_probe.publish("moxie/puppet/set", "b" * 10_001)
    await mqtt_probe.publish("moxie/puppet/set", "ya está")
    [mirrored] = await mqtt_probe.wait_for("moxie/tts/text")
    assert mirrored.json()["text"] == "ya está"
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, moxie_entry)
    assert diagnostics["mirror"]["rejected"] == {"not_utf8": 1, "empty": 1, "too_long": 1}


async def test_partial_and_inconsistent_chunks_are_rejected(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    moxie_entry: MockConfigEntry,
    mqtt_probe: MqttProbe,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Chunks whose total changes midway are rejected.
    first = {"text": "uno", "chunk": 1, "total_chunks": 3, "id": "z"}
    await mqtt_probe.publish("moxie/tts/text", json.dumps(first))
    await mqtt_probe.publish(
        "moxie/tts/text", json.dumps({"text": "dos", "chunk": 2, "total_chunks": 2, "id": "z"})
    )
    # An utterance whose chunks stop arriving is dropped (and counted) once it is stale.
    monkeypatch.setattr("custom_components.moxie.mirror.REASSEMBLY_TIMEOUT", 0.0)
    await mqtt_probe.publish("moxie/tts/text", "siguiente")
    [event] = await mqtt_probe.wait_for("moxie/speech")
    assert event.json()["text"] == "siguiente"
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, moxie_entry)
    assert diagnostics["mirror"]["rejected"] == {"invalid_field": 1, "incomplete": 1}


async def test_oversized_puppet_payload_is_rejected(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    moxie_entry: MockConfigEntry,
    mqtt_probe: MqttProbe,
) -> None:
    await mqtt_probe.publish("moxie/puppet/set", b"p" * (64 * 1024 + 1))
    await mqtt_probe.publish("moxie/puppet/set", "corto")
    [mirrored] = await mqtt_probe.wait_for("moxie/tts/text")
    assert mirrored.json()["text"] == "corto"
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, moxie_entry)
    assert diagnostics["mirror"]["rejected"] == {"too_large": 1}


async def test_retained_leftover_on_the_mirror_is_not_an_utterance(
    hass: HomeAssistant,
    enable_custom_integrations: None,
    mqtt_ready: MockConfigEntry,
    mqtt_probe: MqttProbe,
    mosquitto: Mosquitto,
) -> None:
    # Someone left a retained message on the mirror topic before Moxie started.
    await mqtt_probe.publish("moxie/tts/text", "viejo", retain=True)
    await mqtt_probe.wait_for("moxie/tts/text")
    entry = MockConfigEntry(domain="moxie", title="Moxie", data=MOXIE_DATA, unique_id="moxie")
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await wait_state(hass, SPEECH, lambda s: s.state != "unavailable")
    await mosquitto.wait_subscribed("moxie/tts/text")
    await mqtt_probe.publish("moxie/tts/text", "nuevo")
    [event] = await mqtt_probe.wait_for("moxie/speech")
    assert event.json()["text"] == "nuevo"
    await mqtt_probe.publish("moxie/tts/text", "", retain=True)  # clear it
