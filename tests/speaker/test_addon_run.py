"""The add-on's run script, run as the Supervisor runs it, with Moxie's ears.

The harness (a stand-in for bashio on a real options.json, stubs on PATH) is tests/addons.py's.
The stubs here: moxie-speaker, wyoming-mic-external (which also listens on its port, as the real
one does), pactl and curl (the Supervisor's discovery API). jq, hostname, awk and /proc are real.
"""

from __future__ import annotations

from pathlib import Path
import shlex
import socket
import subprocess
from typing import Any

import pytest

from peers.process import free_port
from tests.addons import ADDONS_DIR, CURL_STUB, Recorded, discovery_body, run_script

ADDON = ADDONS_DIR / "moxie_speaker"
STUBS = {
    "moxie-speaker": "",
    # `list short modules` answers FAKE_PACTL_MODULES; load-module exits FAKE_PACTL_EXIT.
    "pactl": (
        "if sys.argv[1:3] == ['list', 'short']:\n"
        "    print(os.environ.get('FAKE_PACTL_MODULES', ''), end='')\n"
        "elif sys.argv[1] == 'load-module':\n"
        "    sys.exit(int(os.environ.get('FAKE_PACTL_EXIT', '0')))\n"
    ),
    "curl": CURL_STUB,
    # Listens on --uri's port like the real server, until the run script stops it.
    "wyoming-mic-external": (
        "import signal, socket, time\n"
        "signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))\n"
        "port = int(sys.argv[sys.argv.index('--uri') + 1].rsplit(':', 1)[1])\n"
        "server = socket.create_server(('0.0.0.0', port))\n"
        "time.sleep(30)\n"
    ),
}
MQTT = {"mqtt": {"host": "core-mosquitto", "port": 1883, "username": "addons",
                 "password": "secret", "ssl": False}}  # fmt: skip


pytestmark = pytest.mark.usefixtures("socket_enabled")


def _run(
    tmp_path: Path, user_options: dict[str, Any], env: dict[str, str] | None = None
) -> tuple[subprocess.CompletedProcess[str], Recorded]:
    """Run the real run script; return it and what each stub recorded."""
    return run_script(
        ADDON, "moxie-speaker-run", tmp_path, user_options, stubs=STUBS, env=env, services=MQTT
    )


def _mic_program(call: dict[str, Any]) -> list[str]:
    argv = call["argv"]
    return shlex.split(argv[argv.index("--program") + 1])


def test_defaults_with_pulseaudio(tmp_path: Path) -> None:
    """Default options on HA OS: ears with echo cancellation, announced as service `moxie`."""
    port = free_port()
    # The audio service still has the canceller of the add-on's previous start (module 17).
    modules = (
        "3\tmodule-alsa-card\tdevice_id=0\t\n"
        "17\tmodule-echo-cancel\tsource_name=moxie_echo_cancel_source"
        " sink_name=moxie_echo_cancel_sink\t\n"
        "21\tmodule-echo-cancel\tsource_name=someone_elses\t\n"
    )
    result, recorded = _run(
        tmp_path,
        {"microphone_port": port},
        {"PULSE_SERVER": "unix:/run/audio/pulse.sock", "FAKE_PACTL_MODULES": modules},
    )
    assert result.returncode == 0, result.stderr
    # The old canceller is replaced by one new one (unloaded again when the add-on stops):
    # the speaker plays into its sink, the mic records its source.
    calls = [call["argv"] for call in recorded["pactl"]]
    assert [argv[:2] for argv in calls] == [
        ["list", "short"],
        ["unload-module", "17"],
        ["load-module", "module-echo-cancel"],
        ["list", "short"],
        ["unload-module", "17"],
    ]
    pactl = recorded["pactl"][2]
    assert "source_name=moxie_echo_cancel_source" in pactl["argv"]
    assert "sink_name=moxie_echo_cancel_sink" in pactl["argv"]
    assert not any(arg.startswith("source_master=") for arg in pactl["argv"])
    (mic,) = recorded["wyoming-mic-external"]
    argv = mic["argv"]
    assert argv[argv.index("--uri") + 1] == f"tcp://0.0.0.0:{port}"
    assert [argv[argv.index(flag) + 1] for flag in ("--rate", "--width", "--channels")] == [
        "16000",
        "2",
        "1",
    ]
    assert _mic_program(mic) == [
        "parecord",
        "--raw",
        "--format=s16le",
        "--rate=16000",
        "--channels=1",
        "--device=moxie_echo_cancel_source",
    ]
    (speaker,) = recorded["moxie-speaker"]
    assert speaker["env"]["PULSE_SINK"] == "moxie_echo_cancel_sink"
    assert speaker["env"]["MOXIE_SPEAKER_MQTT_HOST"] == "core-mosquitto"
    assert speaker["env"]["MOXIE_SPEAKER_SINK"] == "paplay"
    (curl,) = recorded["curl"]
    assert discovery_body(curl) == {
        "service": "moxie",
        "config": {"mic_host": socket.gethostname(), "mic_port": port, "echo_cancel": True},
    }
    assert "Announced Moxie's microphone" in result.stderr


def test_echo_cancel_fails_is_logged(tmp_path: Path) -> None:
    """Pactl refusing the module: logged, the mic records the chosen device, no PULSE_SINK."""
    port = free_port()
    result, recorded = _run(
        tmp_path,
        {"microphone_port": port, "microphone_device": "alsa_input.usb-mic"},
        {"PULSE_SERVER": "unix:/run/audio/pulse.sock", "FAKE_PACTL_EXIT": "1"},
    )
    assert result.returncode == 0, result.stderr
    # Nothing to unload before; the canceller failed, so nothing to unload after either.
    assert [call["argv"][0] for call in recorded["pactl"]] == ["list", "load-module"]
    pactl = recorded["pactl"][1]
    assert "source_master=alsa_input.usb-mic" in pactl["argv"]
    assert "Echo cancellation failed" in result.stderr
    (mic,) = recorded["wyoming-mic-external"]
    assert _mic_program(mic)[-1] == "--device=alsa_input.usb-mic"
    (speaker,) = recorded["moxie-speaker"]
    assert "PULSE_SINK" not in speaker["env"]
    config = discovery_body(recorded["curl"][0])["config"]
    assert config["mic_port"] == port
    assert config["echo_cancel"] is False  # so Moxie's integration leaves barge-in off


def test_alsa_without_pulseaudio(tmp_path: Path) -> None:
    """No audio service: arecord on the chosen device, no echo canceller (logged)."""
    port = free_port()
    result, recorded = _run(
        tmp_path, {"microphone_port": port, "microphone_device": "plughw:1,0", "debug": True}
    )
    assert result.returncode == 0, result.stderr
    assert "pactl" not in recorded
    assert "Echo cancellation needs" in result.stderr
    (mic,) = recorded["wyoming-mic-external"]
    assert "--debug" in mic["argv"]
    assert _mic_program(mic) == shlex.split("arecord -D plughw:1,0 -r 16000 -c 1 -f S16_LE -t raw")
    assert len(recorded["curl"]) == 1


def test_alsa_default_device_without_echo_cancel(tmp_path: Path) -> None:
    """Empty device: arecord records HA's default input."""
    result, recorded = _run(tmp_path, {"microphone_port": free_port(), "echo_cancel": False})
    assert result.returncode == 0, result.stderr
    assert "Echo cancellation" not in result.stderr
    assert _mic_program(recorded["wyoming-mic-external"][0])[:3] == ["arecord", "-D", "default"]


def test_discovery_failure_is_logged(tmp_path: Path) -> None:
    """The Supervisor refusing the discovery: logged, the speaker and the mic still run."""
    result, recorded = _run(tmp_path, {"microphone_port": free_port()}, {"FAKE_CURL_EXIT": "22"})
    assert result.returncode == 0, result.stderr
    assert "Could not announce Moxie's microphone" in result.stderr
    assert len(recorded["moxie-speaker"]) == 1
    assert len(recorded["wyoming-mic-external"]) == 1


def test_microphone_off(tmp_path: Path) -> None:
    """`microphone: false`: the speaker only, nothing announced, no echo canceller."""
    result, recorded = _run(
        tmp_path, {"microphone": False}, {"PULSE_SERVER": "unix:/run/audio/pulse.sock"}
    )
    assert result.returncode == 0, result.stderr
    assert set(recorded) == {"moxie-speaker"}
    assert "PULSE_SINK" not in recorded["moxie-speaker"][0]["env"]


def test_speaker_exit_stops_the_addon(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The speaker ending ends the run script with its status (the watchdog restarts it)."""
    monkeypatch.setitem(STUBS, "moxie-speaker", "sys.exit(3)\n")
    result, recorded = _run(tmp_path, {"microphone_port": free_port()})
    assert result.returncode == 3, result.stderr
    assert len(recorded["wyoming-mic-external"]) == 1
