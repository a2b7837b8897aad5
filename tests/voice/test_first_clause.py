"""Moxie's agent mirrors an answer's first clause alone, so the speaker starts after a few words.

Through the real Home Assistant conversation API, the loopback Ollama streaming token by token,
and the real Mosquitto: what a speaker on `moxie/tts/text` receives.
"""

from __future__ import annotations

from typing import Any

from homeassistant.components import conversation
from homeassistant.core import Context, HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from peers.mqtt import MqttProbe
from peers.ollama_server import ChatReply, OllamaServer, tokenize


async def _mirrored(hass: HomeAssistant, probe: MqttProbe, answer: str, count: int) -> list[str]:
    await conversation.async_converse(
        hass, "Hola", None, Context(), language="es", agent_id="conversation.moxie"
    )
    messages = await probe.wait_for(
        "moxie/tts/text", count, where=lambda m: m.json()["source"] == "assistant"
    )
    said: list[str] = [m.json()["text"] for m in messages]
    assert " ".join(said) == answer
    return said


@pytest.mark.parametrize(
    ("answer", "pieces"),
    [
        (
            "Good morning, I hope you slept well. The stars were bright!",
            ["Good morning,", "I hope you slept well.", "The stars were bright!"],
        ),
        (
            "Claro que sí: vamos a jugar, tú empiezas. ¿Listo?",
            ["Claro que sí:", "vamos a jugar, tú empiezas.", "¿Listo?"],
        ),
        ("Mira amigo ¿quieres jugar conmigo?", ["Mira amigo", "¿quieres jugar conmigo?"]),
        ("Well - that is a good question.", ["Well - that is a good question."]),
        ("Oh well - that is a good one.", ["Oh well -", "that is a good one."]),
        # One word is too short to be said alone; a sentence that ends first is said whole.
        ("Sí, claro que sí.", ["Sí, claro que sí."]),
        ("¡Hola! Soy Moxie, tu amigo.", ["¡Hola!", "Soy Moxie, tu amigo."]),
        # Digits around a comma are a number, not a clause.
        ("There are 1,000 stars, at least.", ["There are 1,000 stars,", "at least."]),
    ],
)
async def test_first_clause_is_mirrored_alone(
    hass: HomeAssistant,
    moxie_brain: MockConfigEntry,
    ollama_server: OllamaServer,
    mqtt_probe: MqttProbe,
    *,
    answer: str,
    pieces: list[str],
) -> None:
    """Token by token, the first clause is its own utterance; later ones are whole sentences."""
    ollama_server.replies.append(ChatReply(content=tokenize(answer)))

    assert await _mirrored(hass, mqtt_probe, answer, len(pieces)) == pieces


async def test_first_clause_also_from_one_chunk(
    hass: HomeAssistant,
    moxie_brain: MockConfigEntry,
    ollama_server: OllamaServer,
    mqtt_probe: MqttProbe,
) -> None:
    """A model that sends the answer at once: the first clause is still said first, alone."""
    answer = "Good morning, sunshine! Time to wake up."
    ollama_server.replies.append(ChatReply(content=[answer]))

    said = await _mirrored(hass, mqtt_probe, answer, 2)

    # What arrives together after the clause is said together, as before.
    assert said == ["Good morning,", "sunshine! Time to wake up."]


async def test_a_failure_after_the_first_clause(
    hass: HomeAssistant,
    moxie_brain: MockConfigEntry,
    ollama_server: OllamaServer,
    mqtt_probe: MqttProbe,
) -> None:
    """The first clause was said as soon as it was complete, before the model failed."""
    tokens: list[Any] = tokenize("Good morning, I hope you")
    ollama_server.replies.append(ChatReply(content=tokens, error="boom", error_after=3))

    await conversation.async_converse(
        hass, "Hola", None, Context(), language="es", agent_id="conversation.moxie"
    )
    messages = await mqtt_probe.wait_for(
        "moxie/tts/text", 3, where=lambda m: m.json()["source"] == "assistant"
    )

    said = [m.json()["text"] for m in messages]
    assert said[0] == "Good morning,"
    assert said[1] == "I"
