"""The speaker's discovered entities in the real Home Assistant, driven as a user would."""

from __future__ import annotations

import asyncio
import json

from homeassistant.components import mqtt
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry

from peers.speaker import get_json, wait_audio, wait_connected, wait_until
from tests.moxie.conftest import mqtt_ready, wait_state  # noqa: F401
from tests.speaker.conftest import SpeakerFactory

LONG = " ".join(f"Frase número {i} de la historia." for i in range(30))


async def _entity(hass: HomeAssistant, platform: str, key: str) -> str:
    registry = er.async_get(hass)
    unique_id = f"moxie_moxie_speaker_{key}"
    async with asyncio.timeout(30):
        while not (entity_id := registry.async_get_entity_id(platform, "mqtt", unique_id)):
            await asyncio.sleep(0.05)
    return entity_id


async def _names(hass: HomeAssistant, *entity_ids: str) -> list[str]:
    """Friendly names, as the UI shows them (once each entity has a state)."""
    return [
        (await wait_state(hass, entity_id, lambda _: True)).attributes["friendly_name"]
        for entity_id in entity_ids
    ]


async def test_entity_names_in_english(
    hass: HomeAssistant,
    mqtt_ready: MockConfigEntry,  # noqa: F811
    start_speaker: SpeakerFactory,
) -> None:
    """`--language en` names the speaker's entities in English; their ids do not change."""
    speaker = start_speaker(["--language", "en"])
    await wait_connected(speaker)
    entity_ids = [
        await _entity(hass, platform, key)
        for platform, key in (
            ("binary_sensor", "speaking"),
            ("sensor", "queue_size"),
            ("number", "volume"),
            ("button", "stop"),
        )
    ]
    assert entity_ids == [
        "binary_sensor.moxie_speaker_speaking",
        "sensor.moxie_speaker_queue_size",
        "number.moxie_speaker_volume",
        "button.moxie_speaker_stop",
    ]
    await wait_state(hass, entity_ids[0], lambda s: s.state == "off")
    assert await _names(hass, *entity_ids) == [
        "Moxie Speaking",
        "Moxie Speech queue",
        "Moxie Speaker volume",
        "Moxie Stop speaking",
    ]


async def test_entities_follow_and_drive_the_speaker(
    hass: HomeAssistant,
    mqtt_ready: MockConfigEntry,  # noqa: F811
    start_speaker: SpeakerFactory,
) -> None:
    """Speaking (with the text), queue size, volume and Stop work from Home Assistant."""
    speaker = start_speaker()
    await wait_connected(speaker)
    speaking = await _entity(hass, "binary_sensor", "speaking")
    queue_size = await _entity(hass, "sensor", "queue_size")
    volume = await _entity(hass, "number", "volume")
    stop = await _entity(hass, "button", "stop")
    assert speaking == "binary_sensor.moxie_speaker_speaking"
    state = await wait_state(hass, speaking, lambda s: s.state == "off")
    # Spanish by default (--language): names in Spanish, entity ids in English.
    assert state.attributes["friendly_name"] == "Moxie Hablando"
    assert await _names(hass, queue_size, volume, stop) == [
        "Moxie Cola de habla",
        "Moxie Volumen del altavoz",
        "Moxie Dejar de hablar",
    ]
    await wait_state(hass, volume, lambda s: s.state in {"100", "100.0"})

    await hass.services.async_call(
        "number", "set_value", {"entity_id": volume, "value": 40}, blocking=True
    )
    await wait_until(lambda: get_json(f"{speaker.url}/api/status"), lambda s: s["volume"] == 40)
    await wait_state(hass, volume, lambda s: s.state in {"40", "40.0"})

    await mqtt.async_publish(hass, "moxie/tts/text", json.dumps({"text": LONG, "id": "story"}), 1)
    await mqtt.async_publish(hass, "moxie/tts/text", "Y luego esto.", 1)
    await wait_state(hass, queue_size, lambda s: s.state == "1", timeout=30)
    state = await wait_state(hass, speaking, lambda s: s.state == "on", timeout=30)
    assert state.attributes["current_text"] == LONG
    await wait_audio(speaker, "story")

    await hass.services.async_call("button", "press", {"entity_id": stop}, blocking=True)
    history = await wait_until(
        lambda: get_json(f"{speaker.url}/api/queue"), lambda q: len(q["history"]) == 2
    )
    oldest = history["history"][-1]
    assert (oldest["id"], oldest["outcome"]) == ("story", "stopped")
    await wait_state(hass, speaking, lambda s: s.state == "off", timeout=30)
    await wait_state(hass, queue_size, lambda s: s.state == "0")
