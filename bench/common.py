"""What the benchmarks share: a real Home Assistant on the broker, Moxie's entry, the servers.

Imported after each benchmark put the repository on sys.path (it uses `peers` and
`custom_components`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
import contextlib
from pathlib import Path
import time
from typing import Any, override

from aiohttp import web
from homeassistant import loader
from homeassistant.components import mqtt, tts
from homeassistant.config_entries import SOURCE_USER
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er, frame
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_test_home_assistant,
)

from custom_components.moxie.pipeline import PipelineSettings
from peers.broker import Mosquitto
from peers.entries import moxie_entry
from peers.ollama_server import OllamaServer
from peers.process import free_port
from peers.voices import LaunchedServer, stt_metadata
from wyoming_servers.speaker.mqtt import MqttBridge, MqttSettings
from wyoming_servers.speaker.sinks import Sink
from wyoming_servers.speaker.speaker import Speaker
from wyoming_servers.speaker.synth import WyomingSynth
from wyoming_servers.speech_core import Topics

# The model of the pipeline benchmarks: the loopback Ollama at this pace, after this delay.
TOKENS_PER_SECOND = 15
FIRST_TOKEN_DELAY = 0.5
# What a satellite streams to the pipeline: 16 kHz, 16-bit, mono.
METADATA = stt_metadata()


class SlowStartOllama(OllamaServer):
    """The loopback Ollama, taking a while before its first token (prompt processing)."""

    @override
    async def _chat(self, request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(FIRST_TOKEN_DELAY)
        return await super()._chat(request)


async def until(condition: Callable[[], bool], limit: float = 90, poll: float = 0.01) -> None:
    """Poll condition until it holds (bounded)."""
    async with asyncio.timeout(limit):
        while not condition():  # noqa: ASYNC110 (states and peers have no event to wait on)
            await asyncio.sleep(poll)


@contextlib.asynccontextmanager
async def home_assistant(workdir: Path, broker: Mosquitto) -> AsyncIterator[HomeAssistant]:
    """Run a real Home Assistant in workdir, connected to broker through its MQTT integration."""
    (workdir / "configuration.yaml").write_text("", encoding="utf-8")
    async with async_test_home_assistant(config_dir=str(workdir)) as hass:
        hass.data.pop(loader.DATA_CUSTOM_COMPONENTS)
        frame.async_setup(hass)
        assert await async_setup_component(hass, "homeassistant", {})
        # A private port: 8123 may belong to a real Home Assistant on this machine.
        http = {"server_host": ["127.0.0.1"], "server_port": free_port()}
        assert await async_setup_component(hass, "http", {"http": http})
        mqtt_entry = MockConfigEntry(
            domain=mqtt.DOMAIN, data={"broker": broker.host, "port": broker.port}
        )
        mqtt_entry.add_to_hass(hass)
        assert await hass.config_entries.async_setup(mqtt_entry.entry_id)
        await until(lambda: mqtt.is_connected(hass))
        try:
            yield hass
        finally:
            await hass.config_entries.async_unload(mqtt_entry.entry_id)
            await hass.async_stop(force=True)


@contextlib.asynccontextmanager
async def loaded(hass: HomeAssistant, entry: MockConfigEntry) -> AsyncIterator[MockConfigEntry]:
    """Add and set up entry for the time of the block; unload it after."""
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    try:
        yield entry
    finally:
        await hass.config_entries.async_unload(entry.entry_id)


async def add_wyoming(hass: HomeAssistant, servers: Sequence[LaunchedServer]) -> list[str]:
    """Add each server as a user does (wyoming config flow), load assist_pipeline.

    Returns each server's entity id, in order.
    """
    engines: list[str] = []
    registry = er.async_get(hass)
    for server in servers:
        result = await hass.config_entries.flow.async_init(
            "wyoming",
            context={"source": SOURCE_USER},
            data={"host": server.host, "port": server.port},
        )
        await hass.async_block_till_done()
        [entity] = er.async_entries_for_config_entry(registry, result["result"].entry_id)
        engines.append(entity.entity_id)
    assert await async_setup_component(hass, "assist_pipeline", {})
    return engines


@contextlib.asynccontextmanager
async def english_moxie(
    workdir: Path,
    broker: Mosquitto,
    ollama: OllamaServer,
    servers: Sequence[LaunchedServer],
    options: dict[str, Any] | None = None,
) -> AsyncIterator[tuple[HomeAssistant, MockConfigEntry, list[str]]]:
    """Run a real Home Assistant: MQTT, the Wyoming servers and an English Moxie's pipeline.

    The pipeline hears with the first server and speaks with the second; yields Home Assistant,
    Moxie's entry and each server's entity id.
    """
    async with home_assistant(workdir, broker) as hass:
        engines = await add_wyoming(hass, servers)
        pipeline = PipelineSettings(stt_engine=engines[0], tts_engine=engines[1])
        agent = {"model": "qwen3:4b", "prompt": "You are Moxie."}
        entry = moxie_entry(ollama.url, "en", agent, pipeline, options)
        async with loaded(hass, entry):
            yield hass, entry, engines


async def read_first_audio(hass: HomeAssistant, token: str, first: asyncio.Future[float]) -> None:
    """Read the pipeline's TTS stream as a satellite does; note the first sound after the header."""
    stream = tts.async_get_stream(hass, token)
    assert stream is not None
    received = 0
    async for chunk in stream.async_stream_result():
        received += len(chunk)
        if received > 44 and not first.done():
            first.set_result(time.monotonic())


@contextlib.asynccontextmanager
async def speaker_on(
    broker: Mosquitto, synth: WyomingSynth, sink: Sink, client_id: str
) -> AsyncIterator[Speaker]:
    """Run the Moxie speaker in this process, on base topic `moxie`."""
    speaker = Speaker(synth, sink)
    bridge = MqttBridge(
        MqttSettings(host=broker.host, port=broker.port, client_id=client_id),
        Topics("moxie"),
        speaker,
    )
    tasks = [asyncio.create_task(speaker.run()), asyncio.create_task(bridge.run())]
    try:
        await until(lambda: bridge.connected)
        await asyncio.sleep(0.3)
        yield speaker
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
