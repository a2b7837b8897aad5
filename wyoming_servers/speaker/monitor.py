"""The speaker's monitor: a live page, a JSON API, health and Prometheus metrics."""

from __future__ import annotations

from dataclasses import asdict
import logging

from aiohttp import web

from .contract import StopRequest
from .discovery import DEFAULT_LANGUAGE
from .page import render_page
from .speaker import Speaker

_LOGGER = logging.getLogger(__name__)

SPEAKER_KEY = web.AppKey("speaker", Speaker)
MQTT_STATE_KEY = web.AppKey("mqtt_connected", object)
PAGE_KEY = web.AppKey("page", str)


def _speaker(request: web.Request) -> Speaker:
    return request.app[SPEAKER_KEY]


async def index(request: web.Request) -> web.Response:
    """Serve the live page in the speaker's language (it polls the JSON API)."""
    return web.Response(text=request.app[PAGE_KEY], content_type="text/html")


async def api_status(request: web.Request) -> web.Response:
    """Report what the speaker is doing now."""
    speaker = _speaker(request)
    data = speaker.snapshot()
    data["mqtt_connected"] = _mqtt_connected(request)
    return web.json_response(data)


async def api_queue(request: web.Request) -> web.Response:
    """List waiting utterances in play order, and the recent history."""
    speaker = _speaker(request)
    queue = [
        {
            "id": u.id,
            "text": u.text,
            "priority": u.priority.label,
            "source": u.source,
            "chunks_received": len(u.parts),
            "total_chunks": u.total_chunks,
            "received": u.received,
        }
        for u in speaker.queue.snapshot()
    ]
    history = [asdict(entry) for entry in reversed(speaker.history)]
    return web.json_response({"now": speaker.current_text, "queue": queue, "history": history})


async def api_stats(request: web.Request) -> web.Response:
    """Report counters: received, played, duplicates, rejected payloads by kind, errors."""
    speaker = _speaker(request)
    data = speaker.stats.as_dict()
    data["queue_size"] = len(speaker.queue)
    data["playing"] = int(speaker.current is not None)
    return web.json_response(data)


async def api_stop(request: web.Request) -> web.Response:
    """Stop button of the page (POST; `?clear_queue=1` drops the queue too)."""
    clear = request.query.get("clear_queue", "") in {"1", "true", "yes"}
    _speaker(request).stop(StopRequest(reason="monitor", clear_queue=clear))
    return web.json_response({"stopped": True, "clear_queue": clear})


async def health(request: web.Request) -> web.Response:
    """200 while the service runs (MQTT and TTS state included for information)."""
    speaker = _speaker(request)
    return web.json_response(
        {
            "status": "ok",
            "mqtt_connected": _mqtt_connected(request),
            "mqtt_connections": getattr(request.app.get(MQTT_STATE_KEY), "connections", 0),
            "speaker_status": speaker.status,
            "last_error": speaker.last_error,
        }
    )


def _mqtt_connected(request: web.Request) -> bool:
    state = request.app.get(MQTT_STATE_KEY)
    return bool(getattr(state, "connected", False))


async def metrics(request: web.Request) -> web.Response:
    """Report metrics in the Prometheus text exposition format."""
    speaker = _speaker(request)
    stats = speaker.stats
    lines: list[str] = []

    def metric(name: str, kind: str, help_text: str, samples: dict[str, float]) -> None:
        lines.append(f"# HELP moxie_speaker_{name} {help_text}")
        lines.append(f"# TYPE moxie_speaker_{name} {kind}")
        for labels, value in samples.items():
            lines.append(f"moxie_speaker_{name}{labels} {value:g}")

    metric("messages_total", "counter", "Messages received on the mirror topic.",
           {"": stats.messages})  # fmt: skip
    metric("utterances_total", "counter", "Utterances accepted.", {"": stats.utterances})
    metric("duplicates_total", "counter", "Redeliveries ignored.", {"": stats.duplicates})
    metric("expired_total", "counter", "Speech older than --max-age.", {"": stats.expired})
    metric("retained_ignored_total", "counter", "Retained speech ignored.",
           {"": stats.retained_ignored})  # fmt: skip
    metric(
        "rejected_total",
        "counter",
        "Bad payloads rejected, by kind.",
        {f'{{kind="{kind}"}}': n for kind, n in sorted(stats.rejected.items())} or {"": 0},
    )
    metric(
        "utterances_finished_total",
        "counter",
        "Utterances by outcome.",
        {
            '{outcome="played"}': stats.played,
            '{outcome="stopped"}': stats.stopped,
            '{outcome="preempted"}': stats.preempted,
            '{outcome="cleared"}': stats.cleared,
            '{outcome="failed"}': stats.failed,
        },
    )
    metric("tts_errors_total", "counter", "Failed TTS attempts.", {"": stats.tts_errors})
    metric("stop_requests_total", "counter", "Stop requests.", {"": stats.stop_requests})
    metric("audio_seconds_total", "counter", "Seconds of audio played.",
           {"": stats.audio_seconds})  # fmt: skip
    metric("queue_size", "gauge", "Utterances waiting.", {"": len(speaker.queue)})
    metric("speaking", "gauge", "1 while speaking.", {"": int(speaker.status == "speaking")})
    metric("error", "gauge", "1 while the TTS server fails.", {"": int(speaker.status == "error")})
    metric("volume_percent", "gauge", "Playback volume.", {"": speaker.volume})
    metric("mqtt_connected", "gauge", "1 while connected to the broker.",
           {"": int(_mqtt_connected(request))})  # fmt: skip
    metric("skipped_not_for_speaker_total", "counter",
           "Utterances not spoken here (speak: false, a voice satellite plays them).",
           {"": stats.skipped_not_for_speaker})  # fmt: skip
    latencies = (
        ("first_audio_ms", "Receive to first audio of the last utterance (queue wait + synthesis).",
         stats.last_first_audio_ms),
        ("queue_wait_ms", "Receive to TTS request of the last utterance (time in the queue).",
         stats.last_queue_wait_ms),
        ("synthesis_ms", "TTS request to first audio of the last utterance.",
         stats.last_synthesis_ms),
    )  # fmt: skip
    for name, help_text, value in latencies:
        if value is not None:
            metric(name, "gauge", help_text, {"": value})
    return web.Response(
        text="\n".join(lines) + "\n", content_type="text/plain", charset="utf-8",
        headers={"X-Content-Type-Options": "nosniff"},
    )  # fmt: skip


def make_app(
    speaker: Speaker, mqtt_state: object | None = None, *, language: str = DEFAULT_LANGUAGE
) -> web.Application:
    """Build the monitor's aiohttp application (its page in language)."""
    app = web.Application()
    app[SPEAKER_KEY] = speaker
    app[MQTT_STATE_KEY] = mqtt_state
    app[PAGE_KEY] = render_page(language)
    app.router.add_get("/", index)
    app.router.add_get("/api/status", api_status)
    app.router.add_get("/api/queue", api_queue)
    app.router.add_get("/api/stats", api_stats)
    app.router.add_post("/api/stop", api_stop)
    app.router.add_get("/health", health)
    app.router.add_get("/metrics", metrics)
    return app


async def start_monitor(app: web.Application, host: str, port: int) -> web.AppRunner:
    """Serve app on host:port; the caller cleans the returned runner up."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    _LOGGER.info("Monitor on http://%s:%s/", host, port)
    return runner
