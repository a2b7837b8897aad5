"""Who may use the speaker's monitor: open on loopback, a token anywhere else.

The speaker runs as users run it, its monitor bound to 0.0.0.0 (every address of this machine,
so not loopback); every request of these tests goes to 127.0.0.1. The monitor bound to
127.0.0.1 stays open as before: test_monitor.py's tests use it without a token.
"""

from __future__ import annotations

from pathlib import Path
import re
from typing import Any

import aiohttp
import pytest

from peers.process import free_port
from peers.speaker import SpeakerProcess, wait_until
from tests.speaker.conftest import SpeakerFactory
from wyoming_servers.speaker.monitor import is_loopback

TOKEN = "el-secreto-de-moxie"  # noqa: S105 - a test monitor's token
PATHS = ["/", "/api/status", "/api/queue", "/api/stats", "/metrics"]


def _everywhere(speaker: SpeakerFactory, *args: str) -> tuple[SpeakerProcess, str]:
    """Start a speaker with its monitor on 0.0.0.0; return it and the URL to reach it."""
    port = free_port()
    process = speaker(["--monitor", f"0.0.0.0:{port}", *args])
    return process, f"http://127.0.0.1:{port}"


async def _get(url: str, **kwargs: Any) -> aiohttp.ClientResponse:
    async with aiohttp.ClientSession() as session, session.get(url, **kwargs) as response:
        await response.read()
        return response


async def _stop_requests(url: str, token: str) -> int:
    async with (
        aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as session,
        session.get(f"{url}/api/stats") as response,
    ):
        stats = await response.json()
    return int(stats["stop_requests"])


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),  # every address: reachable from the network
        ("::", False),
        ("192.168.1.20", False),
        ("moxie.local", False),
    ],
)
def test_what_counts_as_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


async def test_token_required_off_loopback(start_speaker: SpeakerFactory) -> None:
    """401 without the token (wrong ones too), 200 with the header or ?token; /health open."""
    _, url = _everywhere(start_speaker, "--monitor-token", TOKEN)

    health = await _get(f"{url}/health")
    assert health.status == 200
    for path in PATHS:
        refused = await _get(f"{url}{path}")
        assert refused.status == 401, path
        assert refused.headers["WWW-Authenticate"].startswith("Bearer"), path
        wrong = await _get(f"{url}{path}", headers={"Authorization": "Bearer not-the-token"})
        assert wrong.status == 401, path
        assert (await _get(f"{url}{path}", params={"token": "nope"})).status == 401, path
        with_header = await _get(f"{url}{path}", headers={"Authorization": f"Bearer {TOKEN}"})
        assert with_header.status == 200, path
        assert (await _get(f"{url}{path}", params={"token": TOKEN})).status == 200, path
    # Unknown paths say nothing without the token either.
    assert (await _get(f"{url}/api/nothing")).status == 401

    # Stop refused without the token: the speaker never saw a stop request.
    async with aiohttp.ClientSession() as session:
        for stop in (f"{url}/api/stop", f"{url}/api/stop?clear_queue=1"):
            async with session.post(stop) as response:
                assert response.status == 401
    assert await _stop_requests(url, TOKEN) == 0
    async with (
        aiohttp.ClientSession(headers={"Authorization": f"Bearer {TOKEN}"}) as session,
        session.post(f"{url}/api/stop") as response,
    ):
        assert response.status == 200
    assert await _stop_requests(url, TOKEN) == 1


async def test_page_opened_with_token_keeps_working(start_speaker: SpeakerFactory) -> None:
    """Opened as /?token=..., the page's own fetches and its Stop button work (a cookie)."""
    _, url = _everywhere(start_speaker, "--monitor-token", TOKEN)
    # Browsers keep cookies of IP-address hosts; aiohttp's jar needs unsafe=True for that.
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as session:
        async with session.get(f"{url}/", params={"token": TOKEN}) as response:
            assert response.status == 200
            assert "api/status" in await response.text()
            cookie = response.cookies["moxie_speaker_monitor"]
            assert cookie["httponly"]
            assert cookie["samesite"] == "Strict"
        # What the page's script asks, with no token in the URL.
        for path in ("api/status", "api/stats", "api/queue"):
            async with session.get(f"{url}/{path}") as response:
                assert response.status == 200, path
        async with session.post(f"{url}/api/stop") as response:
            assert response.status == 200
    async with aiohttp.ClientSession() as stranger, stranger.get(f"{url}/api/status") as response:
        assert response.status == 401


def _logged_token(log: Path) -> list[str]:
    """Tokens of the monitor URLs the speaker logged at WARNING level."""
    return re.findall(r" WARNING .*Open http://\S+:\d+/\?token=(\S+)", log.read_text())


async def test_generated_token_logged_and_kept(
    start_speaker: SpeakerFactory, tmp_path: Path
) -> None:
    """No token set off loopback: one is generated, logged once, kept in --state-dir."""
    state = tmp_path / "state"
    speaker, url = _everywhere(start_speaker, "--state-dir", str(state))
    [token] = _logged_token(speaker.log)
    assert (state / "monitor-token").read_text().strip() == token
    assert (state / "monitor-token").stat().st_mode & 0o077 == 0
    assert (await _get(f"{url}/api/queue")).status == 401
    assert (await _get(f"{url}/api/queue", params={"token": token})).status == 200

    # After a restart the same link still works.
    speaker.stop()
    speaker.start()

    async def logged() -> list[str]:
        return _logged_token(speaker.log)

    # The log is appended to: wait for the second start's line, and its monitor.
    assert await wait_until(logged, lambda tokens: len(tokens) == 2) == [token, token]
    authorized: aiohttp.ClientResponse = await wait_until(
        lambda: _get(f"{url}/api/status", headers={"Authorization": f"Bearer {token}"}),
        lambda response: response.status == 200,
    )
    assert authorized.status == 200
    assert (await _get(f"{url}/api/queue")).status == 401


async def test_trusted_address_needs_no_token(start_speaker: SpeakerFactory) -> None:
    """The add-on lets Home Assistant's ingress proxy in: here the trusted peer is 127.0.0.1."""
    _, url = _everywhere(
        start_speaker, "--monitor-token", TOKEN, "--monitor-trusted-ip", "127.0.0.1"
    )
    for path in PATHS:
        assert (await _get(f"{url}{path}")).status == 200, path


async def test_token_set_on_loopback_is_required(start_speaker: SpeakerFactory) -> None:
    """A token given on purpose is required even on loopback (e.g. behind a local proxy)."""
    speaker = start_speaker(["--monitor-token", TOKEN])
    assert (await _get(f"{speaker.url}/api/status")).status == 401
    assert (await _get(f"{speaker.url}/api/status", params={"token": TOKEN})).status == 200
    assert (await _get(f"{speaker.url}/health")).status == 200
