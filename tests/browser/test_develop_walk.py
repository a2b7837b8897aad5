"""Moxie in a box, walked in a real Chromium: `scripts/develop --fresh`, onboarding, the card.

The real develop script brings up Home Assistant, the broker, moxie-speaker (writing WAV files),
moxie-whisper, moxie-piper and moxie-file-mic; only Ollama is the loopback stand-in (it answers
"Eco: <the question>"). Its .dev lives in the test's tmp dir. The parent onboards, logs in, puts
the Moxie card on a dashboard, types a Puppet line (heard: a WAV), presses Listen and drops a
Spanish question for the file mic: the card shows the transcript and the answer, which the
speaker says exactly once. Ctrl-C (SIGINT) then stops everything.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
import json
from pathlib import Path
import re
import shutil
import signal
import subprocess
import time
from typing import Any
import unicodedata
import wave

from playwright.async_api import APIRequestContext, Browser, Page, async_playwright, expect
import pytest
import pytest_socket

from peers.process import ROOT, outside_free_port, wait_for_log
from peers.speaker import get_json, wait_until
from tests.browser.home import PASSWORD, USERNAME, LoopThread, OllamaProcess, RealHome
from tests.test_dev_home import _gone

ARTIFACTS = ROOT / ".artifacts" / "browser"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
WAIT_MS = 60_000
PUPPET_LINE = "Hola, soy Moxie y hablo desde la marioneta."
QUESTION = "¿Qué tiempo hace hoy?"

pytestmark = [
    pytest.mark.skipif(shutil.which("chromium") is None, reason="needs chromium"),
    pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng"),
]


def plain(text: str) -> str:
    """Lowercase text without accents or punctuation, for loose comparisons."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    letters = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(re.sub(r"[^a-z0-9 ]+", " ", letters).split())


def wav_seconds(path: Path) -> float:
    """Return the duration of a WAV file (0 while its header is not written yet)."""
    try:
        with wave.open(str(path), "rb") as wav:
            return wav.getnframes() / wav.getframerate()
    except EOFError, wave.Error, OSError:
        return 0.0


@dataclass
class Develop:
    """scripts/develop running, onboarded, with Chromium ready."""

    proc: subprocess.Popen[bytes]
    out: Path
    dev: Path
    home: RealHome
    monitor: str
    browser: Browser
    request: APIRequestContext
    loop: LoopThread
    workdir: Path


@pytest.fixture(scope="module")
def develop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Develop]:
    """Start the Ollama stand-in, `scripts/develop --fresh`, Chromium; onboard the owner."""
    pytest_socket.enable_socket()  # module fixtures run before a test's socket_enabled
    workdir = tmp_path_factory.mktemp("develop-walk")
    # The question a child asks, spoken by espeak-ng in Spanish (the file mic converts it).
    question = workdir / "q.wav"
    # Slower than espeak's default (175 words a minute): Whisper base, after the pipeline's
    # audio processing, misheard the default speed once ("que tiene un placer hoy").
    speak = ["espeak-ng", "-v", "es", "-s", "130", "-w", str(question), QUESTION]
    subprocess.run(speak, check=True)
    ollama = OllamaProcess(workdir)
    ollama.start()
    names = ("port", "mqtt-port", "whisper-port", "turn-port", "piper-port", "mic-port")
    names += ("monitor-port",)
    ports = {name: outside_free_port() for name in names}
    dev = workdir / "dev"
    argv = [str(ROOT / "scripts" / "develop"), "--fresh", "--config", str(dev / "config")]
    argv += ["--offline", "--ollama", ollama.url, "--mic", "file"]
    argv += ["--sink", f"wav:{dev / 'speaker'}"]  # WAV files even where a sound card is
    for name, port in ports.items():
        argv += [f"--{name}", str(port)]
    out = workdir / "develop.log"
    with out.open("wb") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    # RealHome's HTTP helpers (onboarding, REST) pointed at develop's Home Assistant.
    home = RealHome(workdir, ports["mqtt-port"], ollama.url)
    home.port = ports["port"]
    home.log = dev / "logs" / "home-assistant.log"
    home._proc = proc  # wait_started stops waiting when develop exits
    loop = LoopThread()
    playwright = loop.run(async_playwright().start())
    request = loop.run(playwright.request.new_context())
    browser = loop.run(
        playwright.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS)
    )
    try:
        wait_for_log(proc, out, "Home Assistant started", 300, "scripts/develop")
        loop.run(home.wait_started(request), timeout=300)
        loop.run(home.onboard(request))
        loop.run(home.wait_running(request), timeout=300)
        monitor = f"http://127.0.0.1:{ports['monitor-port']}"
        yield Develop(proc, out, dev, home, monitor, browser, request, loop, workdir)
    finally:
        loop.run(browser.close())
        loop.run(request.dispose())
        loop.run(playwright.stop())
        loop.stop()
        if proc.poll() is None:  # the test stops it; this is for a failure before
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        ollama.stop()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        for log in (out, *(dev / "logs").glob("*.log")):
            shutil.copy(log, ARTIFACTS / f"develop-walk-{log.name}")


async def _open_card(stack: Develop) -> Page:
    """Log in through the login page (Spanish), put the Moxie card on a dashboard, open it."""
    context = await stack.browser.new_context(
        viewport={"width": 1280, "height": 900}, locale="es-ES"
    )
    await context.add_init_script(
        f"localStorage.setItem('selectedLanguage', {json.dumps(json.dumps('es'))});"
    )
    page = await context.new_page()
    page.set_default_timeout(WAIT_MS)
    await page.goto(stack.home.url)
    await page.locator("input[name='username']").fill(USERNAME)
    await page.locator("input[name='password']").fill(PASSWORD)
    await page.locator("input[name='password']").press("Enter")
    await page.wait_for_function(
        "() => document.querySelector('home-assistant')?.hass?.connected === true"
    )
    await page.evaluate(
        """async () => {
            const hass = document.querySelector('home-assistant').hass;
            await hass.callWS({type: 'lovelace/dashboards/create', url_path: 'moxie-box',
                               title: 'Moxie', mode: 'storage', show_in_sidebar: true});
            await hass.callWS({type: 'lovelace/config/save', url_path: 'moxie-box', config: {
              views: [{title: 'Moxie', path: 'moxie', cards: [{type: 'custom:moxie-card'}]}]}});
        }"""
    )
    await page.goto(f"{stack.home.url}/moxie-box/moxie")
    await expect(page.locator("moxie-card .title")).to_have_text("Moxie", timeout=WAIT_MS)
    return page


def _new_wavs(folder: Path, before: set[Path]) -> list[Path]:
    return sorted(set(folder.glob("*.wav")) - before)


async def _walk(stack: Develop) -> None:
    speaker_dir = stack.dev / "speaker"
    page = await _open_card(stack)
    await expect(page.locator("moxie-card .status")).to_have_attribute("data-status", "idle")

    # Moxie's pipeline hears Spanish and, with only the English joe voice, speaks through it.
    pipelines = await page.evaluate(
        """() => document.querySelector('home-assistant').hass.callWS(
            {type: 'assist_pipeline/pipeline/list'})"""
    )
    (moxie,) = [p for p in pipelines["pipelines"] if p["name"] == "Moxie"]
    assert pipelines["preferred_pipeline"] == moxie["id"]
    assert (moxie["language"], moxie["stt_language"]) == ("es", "es"), moxie
    assert (moxie["tts_language"], moxie["tts_voice"]) == ("en_US", "en_US-joe-medium"), moxie

    # The Puppet box: typed and Enter -> the speaker says it (a WAV file, no sound card).
    before = set(speaker_dir.glob("*.wav"))
    puppet = page.locator("moxie-card .puppet input")
    await puppet.fill(PUPPET_LINE)
    await puppet.press("Enter")
    deadline = time.monotonic() + 60
    while not any(wav_seconds(p) > 0.2 for p in _new_wavs(speaker_dir, before)):
        assert time.monotonic() < deadline, "no WAV for the Puppet line"
        await page.wait_for_timeout(250)

    async def history() -> list[dict[str, Any]]:
        return list((await get_json(f"{stack.monitor}/api/queue"))["history"])

    said = await wait_until(history, lambda h: any(e["text"] == PUPPET_LINE for e in h), 60)
    assert [e["outcome"] for e in said if e["text"] == PUPPET_LINE] == ["played"], said
    # A Puppet line may hand the conversation to the Puppet: end it on the card, as a parent.
    end = page.locator("moxie-card button.end-takeover")
    if await end.count():
        await end.first.click()
        await expect(end).to_have_count(0)

    # Listen (the button entity over REST), then a Spanish question for the file microphone.
    await stack.home.call(stack.request, "button", "press", entity_id="button.moxie_listen")
    shutil.copy(stack.workdir / "q.wav", stack.dev / "mic" / "q.wav")

    # The card shows the transcript and the answer, as the parent sees them.
    turn = page.locator("moxie-card .turn[data-kind=question]").last
    await expect(turn).to_be_visible(timeout=120_000)
    asked = plain(await turn.locator(".bubble.q").inner_text())
    # Loosely: most of the key words (Whisper base may miss one), accents ignored.
    assert sum(word in asked.split() for word in ("tiempo", "hace", "hoy")) >= 2, asked
    await expect(turn).to_contain_text("Eco:", timeout=60_000)
    answer_text = plain(await turn.inner_text())
    assert f"eco {asked}" in answer_text, answer_text

    # The answer is heard exactly once: one utterance in the speaker's history, one WAV.
    def answers(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [e for e in entries if plain(e["text"]).startswith("eco")]

    entries = await wait_until(history, lambda h: any(answers(h)), 120)
    await page.wait_for_timeout(5000)  # a repeat would come within this
    spoken = answers(await history())
    assert len(spoken) == 1, spoken
    assert spoken[0]["outcome"] == "played", entries
    assert plain(spoken[0]["text"]) == f"eco {asked}", spoken
    safe_id = re.sub(r"[^A-Za-z0-9._-]+", "_", spoken[0]["id"])[:80]
    files = [p for p in speaker_dir.glob("*.wav") if p.name.endswith(f"_{safe_id}.wav")]
    assert len(files) == 1, sorted(p.name for p in speaker_dir.glob("*.wav"))
    assert wav_seconds(files[0]) > 0.2

    # (Moxie may be listening again: an answer ending in a question continues the talk.)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=ARTIFACTS / "develop-walk.png", full_page=True)
    await page.locator("moxie-card").screenshot(path=ARTIFACTS / "develop-walk-card.png")
    await page.context.close()


@pytest.mark.timeout(900)
def test_develop_puppet_and_spanish_question_in_the_card(
    develop: Develop, socket_enabled: None
) -> None:
    develop.loop.run(_walk(develop), timeout=600)

    # Ctrl-C stops develop and every service it started (and what those started).
    text = develop.out.read_text("utf-8", errors="replace")
    assert " exited (code" not in text  # no service died on the way
    assert "Moxie speaks es: speech-to-text es" in text
    pids = [int(pid) for pid in re.findall(r"started \(pid (\d+)\)", text)]
    develop.proc.send_signal(signal.SIGINT)
    develop.proc.wait(60)
    assert len(pids) == 7  # broker, piper, whisper, turn, speaker, file mic, Home Assistant
    left = [pgid for pgid in pids if not _gone(pgid)]
    assert left == [], left
    assert "Stopped Home Assistant" in develop.out.read_text("utf-8")
