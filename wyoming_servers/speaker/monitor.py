"""The speaker's monitor: a live page, a JSON API, health and Prometheus metrics.

It shows what was said and can stop Moxie, so off loopback it asks for a token (`Authorization:
Bearer <token>`, or `?token=<token>` once: a cookie then carries it for the page's own fetches).
`/health` stays open for health checks; a trusted address (Home Assistant's ingress proxy in the
add-on) needs no token.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
import hmac
import ipaddress
import logging
import os
from pathlib import Path
import secrets
import socket

from aiohttp import web

from wyoming_servers.speech_core import StopRequest

from .discovery import DEFAULT_LANGUAGE
from .page import render_page
from .speaker import Speaker

_LOGGER = logging.getLogger(__name__)

SPEAKER_KEY = web.AppKey("speaker", Speaker)
MQTT_STATE_KEY = web.AppKey("mqtt_connected", object)
PAGE_KEY = web.AppKey("page", str)

TOKEN_FILE = "monitor-token"  # noqa: S105 - a file name
COOKIE = "moxie_speaker_monitor"
OPEN_PATHS = frozenset({"/health"})


type Address = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class MonitorAccess:
    """Who may use the monitor: everyone (no token), else token holders and trusted_ip."""

    token: str | None = None
    trusted_ip: Address | None = None

    def trusts(self, remote: str | None) -> bool:
        """Tell whether the peer at remote is the trusted address (IPv4-mapped IPv6 too)."""
        if self.trusted_ip is None or not remote:
            return False
        try:
            address = ipaddress.ip_address(remote)
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return address == self.trusted_ip


ACCESS_KEY = web.AppKey("access", MonitorAccess)


def is_loopback(host: str) -> bool:
    """Tell whether host is reachable from this machine only (127.0.0.0/8, ::1, localhost)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def monitor_access(
    host: str,
    port: int,
    *,
    token: str | None = None,
    trusted_ip: str | None = None,
    state_dir: Path | None = None,
) -> MonitorAccess:
    """Decide the monitor's access on host:port (trusted_ip: an address let in without token).

    A configured token is always required. Without one, loopback stays open; any other address
    gets a random token, kept in state_dir (when given) so it survives restarts, and logged once
    with the monitor's URL.
    """
    trusted = ipaddress.ip_address(trusted_ip) if trusted_ip else None
    if token:
        return MonitorAccess(token, trusted)
    if is_loopback(host):
        return MonitorAccess(None, trusted)
    path = state_dir / TOKEN_FILE if state_dir is not None else None
    if path is not None and path.exists():
        token = path.read_text(encoding="utf-8").strip()
    if not token:
        token = secrets.token_urlsafe(24)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as file:
                file.write(token + "\n")
    shown = socket.gethostname() if host in {"", "0.0.0.0", "::", "[::]"} else host  # noqa: S104
    _LOGGER.warning(
        "The monitor on %s:%s is reachable from other machines, so it requires a token. "
        "No --monitor-token was set: using %s. Open http://%s:%s/?token=%s",
        host,
        port,
        f"the one kept in {path}" if path is not None else "a new one until it stops",
        shown,
        port,
        token,
    )
    return MonitorAccess(token, trusted)


def _offered_tokens(request: web.Request) -> list[str]:
    header = request.headers.get("Authorization", "")
    scheme, _, bearer = header.partition(" ")
    offered = [bearer.strip()] if scheme.lower() == "bearer" else []
    return [*offered, request.query.get("token", ""), request.cookies.get(COOKIE, "")]


@web.middleware
async def require_token(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Let a request through when the monitor is open, or it carries the token."""
    access = request.app[ACCESS_KEY]
    if access.token is None or request.path in OPEN_PATHS or access.trusts(request.remote):
        return await handler(request)
    expected = access.token.encode()
    if not any(hmac.compare_digest(t.encode(), expected) for t in _offered_tokens(request) if t):
        return web.Response(
            status=401,
            text="This monitor needs its token: Authorization: Bearer <token>, or ?token=<token>\n",
            headers={"WWW-Authenticate": 'Bearer realm="moxie-speaker"'},
        )
    response = await handler(request)
    if request.query.get("token"):
        # The page's fetches and buttons carry it from now on (never sent to other sites).
        response.set_cookie(COOKIE, access.token, httponly=True, samesite="Strict")
    return response


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
    metric("stopped_unsaid_total", "counter",
           "Utterances of a stopped answer (group) dropped before they were said.",
           {"": stats.stopped_unsaid})  # fmt: skip
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
    speaker: Speaker,
    mqtt_state: object | None = None,
    *,
    language: str = DEFAULT_LANGUAGE,
    access: MonitorAccess | None = None,
) -> web.Application:
    """Build the monitor's aiohttp application (its page in language; open unless access says)."""
    app = web.Application(middlewares=[require_token])
    app[ACCESS_KEY] = access or MonitorAccess()
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
