"""What Home Assistant and a browser see of the speaker: discovery, status, monitor endpoints."""

from __future__ import annotations

from array import array
from datetime import datetime
import json
import math
import shutil
from zoneinfo import ZoneInfo

import aiohttp
from playwright.async_api import async_playwright
import pytest

from peers.broker import Mosquitto
from peers.mqtt import MqttProbe
from peers.speaker import (
    direct_synthesize,
    get_json,
    wait_connected,
    wait_history,
    wait_until,
    wav_pcm,
)
from peers.voices import LaunchedServer
from tests.speaker.conftest import SpeakerFactory

DISCOVERY = "homeassistant/device/moxie_moxie_speaker/config"


async def test_discovery_availability_and_volume(
    mosquitto: Mosquitto, piper: LaunchedServer, start_speaker: SpeakerFactory
) -> None:
    """Discovery on the shared Moxie device; HA's birth re-publishes it; volume; last will."""
    async with MqttProbe(
        mosquitto.host, mosquitto.port, "moxie/#", "homeassistant/device/#"
    ) as peer:
        speaker = start_speaker(["--no-pacing"])
        await wait_connected(speaker)
        config = (await peer.wait_for(DISCOVERY))[0].json()
        assert config["dev"] == {"ids": ["moxie_moxie"], "name": "Moxie"}
        assert config["o"]["name"] == "moxie-speaker"
        assert config["availability_topic"] == "moxie/speaker/availability"
        components = config["cmps"]
        assert {c["p"] for c in components.values()} == {
            "binary_sensor",
            "sensor",
            "button",
            "number",
        }
        for component in components.values():
            assert component["unique_id"].startswith("moxie_moxie_speaker_")
            assert "object_id" not in component
            assert component["default_entity_id"].startswith(f"{component['p']}.moxie_speaker_")
        assert components["stop"]["command_topic"] == "moxie/tts/stop"
        assert components["volume"]["command_topic"] == "moxie/speaker/volume/set"
        await peer.wait_for("moxie/speaker/availability", where=lambda m: m.payload == b"online")
        status = (await peer.wait_for("moxie/tts/status"))[0].json()
        assert set(status) == {
            "status", "current_text", "current_id", "queue_size", "finished_id",
            "finished_outcome", "timestamp",
        }  # fmt: skip
        assert (status["status"], status["current_id"], status["finished_id"]) == (
            "idle",
            None,
            None,
        )

        count = len(peer.payloads(DISCOVERY))
        await peer.publish("homeassistant/status", "online")
        await peer.wait_for(DISCOVERY, count + 1)

        await peer.publish("moxie/speaker/volume/set", "50")
        await peer.wait_for("moxie/speaker/volume", where=lambda m: m.payload == b"50")
        await peer.publish("moxie/tts/text", json.dumps({"text": "Más bajito.", "id": "soft"}))
        await wait_history(speaker, lambda h: len(h) == 1)

        def statuses() -> list[str]:
            return [json.loads(p)["status"] for p in peer.payloads("moxie/tts/status")]

        # The status went speaking, then back to idle.
        await peer.wait_for(
            "moxie/tts/status", where=lambda _: statuses()[-2:] == ["speaking", "idle"]
        )

        speaker.stop()
        await peer.wait_for("moxie/speaker/availability", where=lambda m: m.payload == b"offline")

        # Restarted without --volume, the speaker takes back the retained volume.
        speaker.start()
        await wait_connected(speaker)
        status = await wait_until(
            lambda: get_json(f"{speaker.url}/api/status"), lambda s: s["volume"] == 50
        )
        assert status["volume"] == 50
        assert b"100" not in peer.payloads("moxie/speaker/volume")[1:]
        speaker.stop()

    (wav,) = speaker.wavs()
    loud = array("h", await direct_synthesize(piper.uri, "Más bajito."))
    soft = array("h", wav_pcm(wav))
    assert len(soft) == len(loud)
    assert max(abs(s) for s in soft) <= max(abs(s) for s in loud) // 2 + 1
    assert max(abs(s) for s in soft) > 0


LONG = " ".join(["Larga."] * 40)


async def test_monitor_endpoints(mosquitto: Mosquitto, start_speaker: SpeakerFactory) -> None:
    """The page, JSON API, health, Prometheus metrics and the page's stop button."""
    speaker = start_speaker()
    await wait_connected(speaker)
    async with MqttProbe(mosquitto.host, mosquitto.port, "moxie/#") as peer:
        await peer.publish("moxie/tts/text", "Primera cosa.")
        await peer.publish("moxie/tts/text", json.dumps({"text": LONG, "id": "long"}))
        await peer.publish(
            "moxie/tts/text", json.dumps({"text": "Espera.", "id": "w", "source": "t"})
        )
        await peer.publish("moxie/tts/text", b"{oops")
        await peer.wait_for("moxie/tts/status", where=lambda m: m.json()["current_text"] == LONG)

    async with aiohttp.ClientSession() as session:
        async with session.get(f"{speaker.url}/") as response:
            assert response.status == 200
            assert response.content_type == "text/html"
            page = await response.text()
            assert "Altavoz de Moxie" in page  # Spanish unless --language en
            assert "api/stop" in page

        status = await get_json(f"{speaker.url}/api/status")
        assert status["status"] == "speaking"
        assert status["current_id"] == "long"
        assert status["queue_size"] == 1

        queue = await get_json(f"{speaker.url}/api/queue")
        assert queue["now"] == LONG
        assert [(u["id"], u["priority"], u["source"]) for u in queue["queue"]] == [
            ("w", "normal", "t")
        ]
        assert queue["history"][0]["outcome"] == "played"
        assert queue["history"][0]["text"] == "Primera cosa."

        stats = await get_json(f"{speaker.url}/api/stats")
        assert stats["messages"] == 4
        assert stats["rejected"] == {"invalid_json": 1}

        health = await get_json(f"{speaker.url}/health")
        assert health["status"] == "ok"

        async with session.get(f"{speaker.url}/metrics") as response:
            assert response.status == 200
            assert response.content_type == "text/plain"
            metrics = await response.text()
        samples = {
            line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
            for line in metrics.splitlines()
            if line and not line.startswith("#")
        }
        assert samples["moxie_speaker_messages_total"] == 4
        assert samples['moxie_speaker_rejected_total{kind="invalid_json"}'] == 1
        assert samples["moxie_speaker_speaking"] == 1
        assert samples["moxie_speaker_queue_size"] == 1
        assert samples['moxie_speaker_utterances_finished_total{outcome="played"}'] == 1
        for line in metrics.splitlines():
            if line.startswith("# TYPE"):
                assert line.split()[3] in {"counter", "gauge"}

        async with session.post(f"{speaker.url}/api/stop?clear_queue=1") as response:
            assert response.status == 200
        entries = await wait_history(speaker, lambda h: len(h) == 2)
        assert entries[-1]["outcome"] == "stopped"
        status = await get_json(f"{speaker.url}/api/status")
        assert status["queue_size"] == 0


async def test_monitor_page_in_spanish_with_dates(
    mosquitto: Mosquitto, start_speaker: SpeakerFactory
) -> None:
    """In a real browser: Spanish labels and words, times as local dates, latency split."""
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("Debian's chromium is not installed")
    speaker = start_speaker(["--no-pacing"])
    await wait_connected(speaker)
    async with MqttProbe(mosquitto.host, mosquitto.port, "moxie/#") as peer:
        await peer.publish(
            "moxie/tts/text", json.dumps({"text": "Hola.", "id": "h", "priority": "high"})
        )
        (entry,) = await wait_history(speaker, lambda h: len(h) == 1)
    started = datetime.fromtimestamp(entry["started"], ZoneInfo("America/Bogota"))

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium)
        try:
            context = await browser.new_context(timezone_id="America/Bogota")
            page = await context.new_page()
            await page.goto(f"{speaker.url}/")
            cells = page.locator("#history tr td")
            await cells.first.wait_for()
            row = await cells.all_text_contents()
            heading = await page.text_content("h1")
            status = await page.text_content("#status")
            latency = await page.text_content("#latency")
        finally:
            await browser.close()
    assert heading == "Altavoz de Moxie"
    assert status == "en silencio"
    assert row[:4] == [started.strftime("%Y-%m-%d %H:%M:%S"), "dicha", "Hola.", "alta"]
    assert str(int(entry["started"])) not in " ".join(row)
    wait, synthesis = (math.floor(entry[key] + 0.5) for key in ("queue_wait_ms", "synthesis_ms"))
    assert latency == f"{wait} ms / {synthesis} ms"  # Math.round


async def test_monitor_page_in_english(mosquitto: Mosquitto, start_speaker: SpeakerFactory) -> None:
    """`--language en` serves the page in English."""
    speaker = start_speaker(["--language", "en"])
    async with aiohttp.ClientSession() as session, session.get(f"{speaker.url}/") as response:
        page = await response.text()
    assert '<html lang="en">' in page
    assert "<h1>Moxie speaker</h1>" in page
    assert "Queue wait (ms)" in page
    assert "Altavoz" not in page
