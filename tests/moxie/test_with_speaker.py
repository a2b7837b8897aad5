"""Home Assistant, the Moxie integration and the real speaker service together on one broker.

A user calls moxie.say in Home Assistant and hears it; the integration and the speaker describe
one Moxie device; the speaker's Stop button in Home Assistant stops the speaker.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from homeassistant.components import conversation
from homeassistant.core import Context, HomeAssistant
from homeassistant.helpers import entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry

from peers.mqtt import MqttProbe
from peers.ollama_server import ChatReply, OllamaServer
from peers.speaker import SpeakerProcess, direct_synthesize, wait_connected, wait_history, wav_pcm
from tests.moxie.conftest import wait_state
from tests.speaker.conftest import piper, start_speaker, voice_dir  # noqa: F401

INTEGRATION = ("text.moxie_puppet", "event.moxie_speech", "sensor.moxie_status")


async def test_say_in_home_assistant_is_heard_and_one_device_holds_all(
    hass: HomeAssistant,
    moxie_entry: MockConfigEntry,
    mqtt_probe: MqttProbe,
    start_speaker,  # noqa: F811
    piper,  # noqa: F811
) -> None:
    speaker: SpeakerProcess = start_speaker(["--no-pacing"])
    await wait_connected(speaker)

    # The speaker's entities join the integration's Moxie device.
    [discovery] = await mqtt_probe.wait_for("homeassistant/device/moxie_moxie_speaker/config")
    registry = er.async_get(hass)
    speaker_entities = []
    async with asyncio.timeout(30):
        for component in discovery.json()["cmps"].values():
            while not (
                entity_id := registry.async_get_entity_id(
                    component["p"], "mqtt", component["unique_id"]
                )
            ):
                await asyncio.sleep(0.05)
            speaker_entities.append(entity_id)
    devices = {registry.async_get(e).device_id for e in (*INTEGRATION, *speaker_entities)}  # type: ignore[union-attr]
    assert len(devices) == 1

    # moxie.say in Home Assistant becomes the Piper server's audio at the speaker's sink.
    response = await hass.services.async_call(
        "moxie", "say", {"text": "Hola, familia."}, blocking=True, return_response=True
    )
    assert response is not None
    said = str(response["id"])
    await wait_history(
        speaker, lambda h: any(e["id"] == said and e["outcome"] == "played" for e in h)
    )
    [wav] = [p for p in speaker.wavs() if p.stem.endswith(f"_{said}")]
    assert wav_pcm(wav) == await direct_synthesize(piper.uri, "Hola, familia.")

    # The speaker's status reaches Home Assistant through its discovered entities.
    speaking = next(e for e in speaker_entities if e.startswith("binary_sensor."))
    await wait_state(hass, speaking, lambda s: s.state == "off")

    # The speaker's Stop button, pressed in Home Assistant, reaches the stop topic.
    stop_button = next(e for e in speaker_entities if e.startswith("button."))
    await wait_state(hass, stop_button, lambda s: s.state != "unavailable")
    await hass.services.async_call("button", "press", {"entity_id": stop_button}, blocking=True)
    [stop] = await mqtt_probe.wait_for("moxie/tts/stop")
    assert stop.json()["reason"] == "button"


STORY = (
    "Había una vez un robot llamado Moxie. Vivía en una casa con un jardín enorme. "
    "Cada mañana regaba las flores y saludaba a los pájaros. Un día encontró una llave dorada. "
    "La llave abría una puerta que nadie había visto nunca. Detrás había un mundo de colores."
)


async def test_stop_silences_the_whole_answer(
    hass: HomeAssistant,
    *,
    moxie_brain: MockConfigEntry,
    ollama_server: OllamaServer,
    mqtt_probe: MqttProbe,
    start_speaker,  # noqa: F811
    piper,  # noqa: F811
) -> None:
    """moxie.stop during a streamed answer ends all of it: said, queued and still to come."""
    speaker: SpeakerProcess = start_speaker()  # plays in real time, so the stop lands mid-way
    await wait_connected(speaker)
    ollama_server.token_interval = 0.03
    ollama_server.replies.append(ChatReply(content=STORY))
    asked = hass.async_create_task(
        conversation.async_converse(
            hass,
            "Cuéntame un cuento",
            None,
            Context(),
            language="es",
            agent_id="conversation.moxie",
        )
    )
    [first] = await mqtt_probe.wait_for("moxie/tts/text")
    first_id = first.json()["id"]
    await mqtt_probe.wait_for(
        "moxie/tts/status", where=lambda m: m.json().get("current_id") == first_id, timeout=30
    )

    await hass.services.async_call("moxie", "stop", {}, blocking=True)
    result = await asked
    assert result.response.speech["plain"]["speech"] == STORY  # the chat still has it all

    # Moxie is idle at once, and the card no longer shows a sentence being said.
    await wait_state(hass, "sensor.moxie_status", lambda s: s.state == "idle", timeout=10)
    await wait_until(lambda: moxie_brain.runtime_data.conversation_log.now["text"] is None)
    # Whatever comes next is said after anything still queued: nothing of the story is.
    response = await hass.services.async_call(
        "moxie", "say", {"text": "Fin."}, blocking=True, return_response=True
    )
    assert response is not None
    end = str(response["id"])
    said = await wait_history(
        speaker, lambda h: any(e["id"] == end and e["outcome"] == "played" for e in h)
    )
    story_ids = {m.json()["id"] for m in mqtt_probe.messages["moxie/tts/text"]} - {end}
    outcomes = {e["id"]: e["outcome"] for e in said if e["id"] in story_ids}
    assert outcomes[first_id] == "stopped"
    assert "played" not in outcomes.values(), outcomes
    # Not the whole story reached the mirror: the pieces after the stop were never sent.
    mirrored = [m.json()["text"] for m in mqtt_probe.messages["moxie/tts/text"]]
    assert " ".join(mirrored[:-1]) != " ".join(STORY.split())


async def wait_until(predicate: Callable[[], bool], timeout: float = 10) -> None:
    """Wait until predicate holds."""
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.02)
