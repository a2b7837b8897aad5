"""The moxie_turn add-on's run script, run as the Supervisor runs it (tests/addons.py's harness).

Stubs on PATH: moxie-turn (records its argv, listens on --uri's port like the real one once
its models are loaded, and stays until the add-on's discovery was posted) and curl (the
Supervisor's discovery API). The port is moxie-turn's fixed 10303, so each run gets a network
namespace of its own (unshare), where that port is free whatever runs on this machine.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
import shutil
import socket
import subprocess
from typing import Any
from unittest.mock import patch

from homeassistant.config_entries import SOURCE_HASSIO
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers.service_info.hassio import HassioServiceInfo
from homeassistant.setup import async_setup_component
import pytest
from wyoming.event import Event
from wyoming.info import Describe
from wyoming.server import AsyncEventHandler, AsyncTcpServer

from peers.process import free_port
from tests.addons import ADDONS_DIR, Recorded, discovery_body, run_script
from wyoming_servers.turn.__main__ import InfoSource, build_parser
from wyoming_servers.turn.transcriber import RemoteWhisper

ADDON = ADDONS_DIR / "moxie_turn"
PORT = 10303
NETNS = ("unshare", "--user", "--map-root-user", "--net")
STUBS = {
    # Loads for FAKE_TURN_LOAD seconds, then listens and notes when; stays until curl ran (or
    # 20 s); exits FAKE_TURN_EXIT. FAKE_TURN_EXIT before listening: dies while loading.
    "moxie-turn": (
        "import socket, time\n"
        "record = os.environ['FAKE_RECORD']\n"
        "time.sleep(float(os.environ.get('FAKE_TURN_LOAD', '0')))\n"
        "if os.environ.get('FAKE_TURN_DIES'):\n"
        "    sys.exit(int(os.environ['FAKE_TURN_DIES']))\n"
        "port = int(sys.argv[sys.argv.index('--uri') + 1].rsplit(':', 1)[1])\n"
        "server = socket.create_server(('0.0.0.0', port))\n"
        "with open(os.path.join(record, 'listening_at'), 'w') as out:\n"
        "    out.write(repr(time.time()))\n"
        "deadline = time.time() + 20\n"
        "while not os.path.exists(os.path.join(record, 'posted_at')) and time.time() < deadline:\n"
        "    time.sleep(0.05)\n"
        "sys.exit(int(os.environ.get('FAKE_TURN_EXIT', '0')))\n"
    ),
    "curl": (
        "import time\n"
        "with open(os.path.join(os.environ['FAKE_RECORD'], 'posted_at'), 'w') as out:\n"
        "    out.write(repr(time.time()))\n"
        "sys.exit(int(os.environ.get('FAKE_CURL_EXIT', '0')))\n"
    ),
}


@pytest.fixture(autouse=True)
def _own_network() -> None:
    """A network namespace of the test's own (user namespaces allowed here)."""
    if shutil.which("unshare") is None:
        pytest.skip("no unshare")
    probe = subprocess.run([*NETNS, "true"], capture_output=True, check=False)
    if probe.returncode:
        pytest.skip(f"no user network namespace: {probe.stderr.decode().strip()}")


def _run(
    tmp_path: Path, user_options: dict[str, Any], env: dict[str, str] | None = None
) -> tuple[subprocess.CompletedProcess[str], Recorded]:
    return run_script(
        ADDON, "moxie-turn-run", tmp_path, user_options, stubs=STUBS, env=env, prefix=NETNS
    )


def _stamp(tmp_path: Path, name: str) -> float:
    return float((tmp_path / "record" / name).read_text(encoding="utf-8"))


def test_defaults(tmp_path: Path) -> None:
    """Default options: moxie-turn's command line, then the Wyoming discovery once it listens."""
    result, recorded = _run(tmp_path, {}, {"FAKE_TURN_LOAD": "1.5"})
    assert result.returncode == 0, result.stderr
    (turn,) = recorded["moxie-turn"]
    assert turn["argv"] == [
        "--uri", f"tcp://0.0.0.0:{PORT}",
        "--whisper-model", "default",
        "--language", "es",
        "--threshold", "0.6",
        "--max-silence", "1.4",
        "--data-dir", "/data",
    ]  # fmt: skip
    args = build_parser().parse_args(turn["argv"])  # every flag is moxie-turn's, every value too
    assert (args.whisper_model, args.language, args.threshold, args.max_silence) == (
        "default",
        "es",
        0.6,
        1.4,
    )
    assert args.debug is False
    (curl,) = recorded["curl"]
    # What Home Assistant's Wyoming integration reads from a Supervisor discovery: config.uri.
    assert discovery_body(curl) == {
        "service": "wyoming",
        "config": {"uri": f"tcp://{socket.gethostname()}:{PORT}"},
    }
    assert _stamp(tmp_path, "posted_at") >= _stamp(tmp_path, "listening_at")
    assert "Announced moxie-turn" in result.stderr


def test_options_reach_moxie_turn(tmp_path: Path) -> None:
    """The user's options become moxie-turn's flags; argparse reads them back as given."""
    options = {"whisper_model": "small-int8", "language": "en", "threshold": 0.75,
               "max_silence": 2, "debug": True}  # fmt: skip
    result, recorded = _run(tmp_path, options)
    assert result.returncode == 0, result.stderr
    args = build_parser().parse_args(recorded["moxie-turn"][0]["argv"])
    assert args.uri == f"tcp://0.0.0.0:{PORT}"
    assert args.data_dir == "/data"
    assert (args.whisper_model, args.language, args.threshold, args.max_silence, args.debug) == (
        "small-int8",
        "en",
        0.75,
        2.0,
        True,
    )


def test_empty_whisper_model_is_the_default(tmp_path: Path) -> None:
    result, recorded = _run(tmp_path, {"whisper_model": ""})
    assert result.returncode == 0, result.stderr
    argv = recorded["moxie-turn"][0]["argv"]
    assert argv[argv.index("--whisper-model") + 1] == "default"


def test_discovery_failure_is_logged(tmp_path: Path) -> None:
    """The Supervisor refusing the discovery: logged, moxie-turn runs on."""
    result, recorded = _run(tmp_path, {}, {"FAKE_CURL_EXIT": "22", "FAKE_TURN_EXIT": "0"})
    assert result.returncode == 0, result.stderr
    assert len(recorded["curl"]) == 1
    assert "Could not announce moxie-turn" in result.stderr
    assert f"port {PORT}" in result.stderr


def test_moxie_turn_exit_ends_the_addon(tmp_path: Path) -> None:
    """moxie-turn's exit status is the add-on's (the Supervisor's watchdog restarts it)."""
    result, _recorded = _run(tmp_path, {}, {"FAKE_TURN_EXIT": "3"})
    assert result.returncode == 3, result.stderr


def test_nothing_announced_when_moxie_turn_dies_loading(tmp_path: Path) -> None:
    """A moxie-turn that never listens (e.g. no model, exit 2) is not announced."""
    result, recorded = _run(tmp_path, {}, {"FAKE_TURN_DIES": "2", "FAKE_TURN_LOAD": "0.5"})
    assert result.returncode == 2, result.stderr
    assert "curl" not in recorded
    assert "Announced" not in result.stderr


class _Describe(AsyncEventHandler):
    """Answers `describe` with moxie-turn's own info (Smart Turn on, its Whisper server away)."""

    async def handle_event(self, event: Event) -> bool:
        if Describe.is_type(event.type):
            info = InfoSource(RemoteWhisper(f"tcp://127.0.0.1:{free_port()}"), smart=True)
            await self.write_event((await info()).event())
        return True


async def test_home_assistant_takes_the_announced_uri(
    hass: HomeAssistant, tmp_path: Path, socket_enabled: None
) -> None:
    """Home Assistant's Wyoming integration makes an entry from the payload the script posts.

    The Supervisor hands it the payload's config (source hassio). The add-on's host name is not
    reachable here, so the announced host and port are swapped for a server of the test's own
    that answers like moxie-turn.
    """
    result, recorded = await asyncio.to_thread(_run, tmp_path, {})
    assert result.returncode == 0, result.stderr
    # The Wyoming integration's dependencies (conversation) need Home Assistant's core component.
    assert await async_setup_component(hass, "homeassistant", {})
    announced = discovery_body(recorded["curl"][0])
    assert announced["service"] == "wyoming"
    port = free_port()
    server = AsyncTcpServer("127.0.0.1", port)
    await server.start(_Describe)
    try:
        uri = announced["config"]["uri"].replace(
            f"//{socket.gethostname()}:{PORT}", f"//127.0.0.1:{port}"
        )
        assert uri != announced["config"]["uri"]
        info = HassioServiceInfo(
            config={"uri": uri},
            name="Moxie turn",
            slug="a0d7b954_moxie_turn",
            uuid="1b4d2f7e9c3a4e5f8a6b7c8d9e0f1a2b",
        )
        flow = await hass.config_entries.flow.async_init(
            "wyoming", context={"source": SOURCE_HASSIO}, data=info
        )
        assert flow["type"] is FlowResultType.FORM
        assert flow["step_id"] == "hassio_confirm"
        assert flow["description_placeholders"] == {"addon": "Moxie turn"}
        with patch("homeassistant.components.wyoming.async_setup_entry", return_value=True):
            entry = await hass.config_entries.flow.async_configure(flow["flow_id"], {})
        assert entry["type"] is FlowResultType.CREATE_ENTRY
        assert entry["title"] == "Moxie turn"  # the add-on's name, as the Supervisor gives it
        assert entry["data"] == {"host": "127.0.0.1", "port": port}
    finally:
        await server.stop()
