"""The Moxie card in a real Chromium, on a real Home Assistant with real peers.

One Home Assistant for the module (it takes a while to start): Mosquitto, the loopback Ollama,
wyoming-piper with the tiny voice and the moxie-speaker are real processes. The parent logs in
through the login page, the dashboard holds the Moxie card, and what the card shows and does is
checked against the broker and the speaker. Screenshots go to the test's tmp dir and `.artifacts/`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
import json
from pathlib import Path
import shutil
from typing import Any

from PIL import Image
from playwright.async_api import APIRequestContext, Browser, Page, async_playwright, expect
import pytest
import pytest_socket

from peers.broker import Mosquitto
from peers.mqtt import MqttProbe
from peers.speaker import SpeakerProcess, get_json, wait_until
from peers.tiny_voice import write_voice
from peers.voices import LaunchedServer
from tests.browser.home import PASSWORD, USERNAME, LoopThread, OllamaProcess, RealHome

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / ".artifacts" / "browser"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
WAIT_MS = 30_000
LONG_TEXT = " ".join(
    f"Esta es la frase número {i} de un cuento largo que Moxie lee despacio." for i in range(10)
)

expect.set_options(timeout=WAIT_MS)
pytestmark = pytest.mark.skipif(shutil.which("chromium") is None, reason="needs chromium")


@dataclass
class Stack:
    """Everything the module's tests share."""

    home: RealHome
    broker: Mosquitto
    speaker: SpeakerProcess
    browser: Browser
    request: APIRequestContext
    loop: LoopThread
    shots: Path


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Start the broker, Ollama, Piper, the speaker, Home Assistant and Chromium once.

    Playwright's async API runs on a loop in its own thread (pytest's loop belongs to the
    Home Assistant plugin); each test hands its steps to that loop.
    """
    # Module fixtures run before a test's socket_enabled: these start real local servers.
    pytest_socket.enable_socket()
    workdir = tmp_path_factory.mktemp("browser")
    shots = workdir / "screenshots"
    shots.mkdir()
    (workdir / "broker").mkdir()
    broker = Mosquitto(workdir / "broker")
    broker.start()
    ollama = OllamaProcess(workdir)
    ollama.start()
    voice = workdir / "voice"
    voice.mkdir()
    write_voice(voice)
    (workdir / "piper").mkdir()
    piper = LaunchedServer.tiny_piper(voice, workdir / "piper")
    piper.start()
    (workdir / "speaker").mkdir()
    speaker = SpeakerProcess(workdir / "speaker", broker, piper.uri)
    speaker.start()
    home = RealHome(workdir, broker.port, ollama.url)
    home.prepare()
    home.start()
    loop = LoopThread()
    playwright = loop.run(async_playwright().start())
    request = loop.run(playwright.request.new_context())
    browser = loop.run(
        playwright.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS)
    )
    try:
        loop.run(home.wait_started(request), timeout=300)
        loop.run(home.onboard(request))
        loop.run(home.wait_running(request), timeout=300)
        yield Stack(home, broker, speaker, browser, request, loop, shots)
    finally:
        loop.run(browser.close())
        loop.run(request.dispose())
        loop.run(playwright.stop())
        loop.stop()
        home.stop()
        speaker.stop()
        piper.stop()
        ollama.stop()
        broker.stop()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        for shot in shots.glob("*.png"):
            shutil.copy(shot, ARTIFACTS / shot.name)
        if home.log.exists():
            shutil.copy(home.log, ARTIFACTS / "home-assistant.log")


@pytest.fixture
def probe(stack: Stack, socket_enabled: None) -> Iterator[MqttProbe]:
    """A real MQTT client on the broker, recording moxie/#."""

    async def start() -> MqttProbe:
        started = MqttProbe(stack.broker.host, stack.broker.port)
        await started.start("moxie/#")
        return started

    mqtt_probe = stack.loop.run(start())
    yield mqtt_probe
    stack.loop.run(mqtt_probe.stop())


async def _sign_in(
    stack: Stack,
    language: str,
    viewport: dict[str, int],
    username: str = USERNAME,
    password: str = PASSWORD,
) -> Page:
    """Log in through the login page in language; return the page, connected."""
    context = await stack.browser.new_context(viewport=viewport, locale=f"{language}-ES")
    await context.add_init_script(
        f"localStorage.setItem('selectedLanguage', {json.dumps(json.dumps(language))});"
    )
    page = await context.new_page()
    page.set_default_timeout(WAIT_MS)
    await page.goto(stack.home.url)
    await page.locator("input[name='username']").fill(username)
    await page.locator("input[name='password']").fill(password)
    await page.locator("input[name='password']").press("Enter")
    await page.wait_for_function(
        "() => document.querySelector('home-assistant')?.hass?.connected === true"
    )
    return page


async def _login(stack: Stack, language: str, viewport: dict[str, int]) -> Page:
    """Log in as the parent (an administrator), choose the language, open the dashboard."""
    page = await _sign_in(stack, language, viewport)
    # The owner makes a dashboard with the Moxie card (what the card picker saves).
    await page.evaluate(
        """async () => {
            const hass = document.querySelector('home-assistant').hass;
            const dashboards = await hass.callWS({type: 'lovelace/dashboards/list'});
            if (!dashboards.some((d) => d.url_path === 'moxie-home')) {
              await hass.callWS({type: 'lovelace/dashboards/create', url_path: 'moxie-home',
                                 title: 'Moxie', mode: 'storage', show_in_sidebar: true});
            }
            await hass.callWS({type: 'lovelace/config/save', url_path: 'moxie-home', config: {
              views: [{title: 'Moxie', path: 'moxie', cards: [{type: 'custom:moxie-card'}]}]}});
        }"""
    )
    await page.goto(f"{stack.home.url}/moxie-home/moxie")
    await expect(page.locator("moxie-card .title")).to_have_text("Moxie")
    return page


def _in_browser(
    stack: Stack, language: str, viewport: dict[str, int], steps: Callable[[Page], Awaitable[None]]
) -> None:
    """Run steps on a logged-in dashboard page (on the browser's loop), then close it."""

    async def run() -> None:
        page = await _login(stack, language, viewport)
        try:
            await steps(page)
        finally:
            await page.context.close()

    stack.loop.run(run(), timeout=300)


async def _shot(stack: Stack, page: Page, name: str) -> Path:
    path = stack.shots / f"{name}.png"
    await page.locator("moxie-card").screenshot(path=path)
    return path


async def _end_takeover(stack: Stack) -> None:
    state = await stack.home.state(stack.request, "switch.moxie_puppet_takeover")
    if state and state["state"] == "on":
        await stack.home.call(
            stack.request, "switch", "turn_off", entity_id="switch.moxie_puppet_takeover"
        )


def test_card_shows_moxie_in_spanish_at_phone_width(stack: Stack) -> None:
    async def steps(page: Page) -> None:
        language = "() => document.querySelector('home-assistant').hass.language"
        assert await page.evaluate(language) == "es"
        status = page.locator("moxie-card .status")
        await expect(status).to_have_attribute("data-status", "idle")
        await expect(status).to_have_text("En reposo")
        await expect(page.locator("moxie-card h3")).to_have_text("Conversación")
        await expect(page.locator("moxie-card .puppet input")).to_have_attribute(
            "placeholder", "Escribe lo que dice Moxie y pulsa Intro"
        )
        await expect(page.locator("moxie-card button.stop")).to_have_text("Parar")
        await expect(page.locator("moxie-card button.stop-clear")).to_have_text(
            "Parar y vaciar la cola"
        )
        # The speaker's volume (its MQTT number joins the Moxie device) is on the card.
        await expect(page.locator("moxie-card .volume input[type=range]")).to_be_visible()
        # Nothing wider than a phone.
        box = await page.locator("moxie-card").bounding_box()
        assert box is not None
        assert box["width"] <= PHONE["width"]
        await _shot(stack, page, "card-es-phone")

        # The editor lists the Moxie.
        options = await page.evaluate(
            """async () => {
                const editor = document.createElement('moxie-card-editor');
                editor.hass = document.querySelector('home-assistant').hass;
                editor.setConfig({});
                const count = () => editor.shadowRoot.querySelectorAll('option').length;
                for (let i = 0; i < 50 && count() < 2; i++)
                  await new Promise((r) => setTimeout(r, 100));
                return [...editor.shadowRoot.querySelectorAll('option')].map((o) => o.textContent);
            }"""
        )
        assert options == ["El único Moxie", "Moxie"]

    _in_browser(stack, "es", PHONE, steps)


def test_moxie_brand_images_are_served(stack: Stack) -> None:
    async def check() -> None:
        for image, size in (("icon.png", (256, 256)), ("icon@2x.png", (512, 512))):
            response = await stack.request.get(
                f"{stack.home.url}/api/brands/integration/moxie/{image}",
                headers=stack.home.headers,
            )
            assert response.ok
            path = stack.shots.parent / image
            path.write_bytes(await response.body())
            with Image.open(path) as served:
                assert served.size == size
        logo = await stack.request.get(
            f"{stack.home.url}/api/brands/integration/moxie/logo.png", headers=stack.home.headers
        )
        assert await logo.body() == (ROOT / "custom_components/moxie/brand/logo.png").read_bytes()

    stack.loop.run(check())


MOXIE_IMAGES = """() => {
    const found = [];
    const walk = (root) => {
        for (const el of root.querySelectorAll('*')) {
            const moxie = el.tagName === 'IMG' && el.src.includes('/brands/integration/moxie/');
            if (moxie) found.push(el);
            if (el.shadowRoot) walk(el.shadowRoot);
        }
    };
    walk(document);
    return found.map((img) => ({complete: img.complete, width: img.naturalWidth}));
}"""


def test_settings_show_moxies_logo_and_blueprints(stack: Stack) -> None:
    """No broken image: Settings > Devices & services loads Moxie's own brand icon."""

    async def steps(page: Page) -> None:
        await page.goto(f"{stack.home.url}/config/integrations/dashboard")
        await page.wait_for_function(
            f"() => ({MOXIE_IMAGES})().some((img) => img.complete && img.width > 0)"
        )
        images = await page.evaluate(MOXIE_IMAGES)
        assert images
        assert all(img["complete"] and img["width"] > 0 for img in images), images
        await page.screenshot(path=stack.shots / "integrations-es.png")

        # Moxie's blueprints installed themselves: Settings > Automations > Blueprints.
        await page.goto(f"{stack.home.url}/config/blueprint/dashboard")
        for name in (
            "Moxie anuncia un cambio · Moxie announces a change",
            "Moxie saluda al llegar a casa · Moxie greets who comes home",
            "Moxie dice y espera · Moxie says and waits",
        ):
            await expect(page.get_by_text(name, exact=True)).to_be_visible()
        await page.screenshot(path=stack.shots / "blueprints-es.png")

    _in_browser(stack, "es", DESKTOP, steps)


def test_devices_show_one_clearly_named_moxie_in_spanish(stack: Stack) -> None:
    """Settings > Dispositivos: the robot, its brain and its voice assistant, named apart."""

    async def steps(page: Page) -> None:
        await page.goto(f"{stack.home.url}/config/devices/dashboard")
        # Each Moxie device shows once, under its own name, in the Device column.
        for name in ("Moxie", "Cerebro de Moxie", "Asistente de voz Moxie"):
            await expect(page.get_by_role("rowheader", name=name, exact=True)).to_have_count(1)
        await page.screenshot(path=stack.shots / "devices-es.png")
        devices = await page.evaluate(
            """async () => {
                const hass = document.querySelector('home-assistant').hass;
                return await hass.callWS({type: 'config/device_registry/list'});
            }"""
        )
        moxie = [
            device
            for device in devices
            if any(
                ident[0] == "moxie" or ident == ["mqtt", "moxie_moxie"]
                for ident in device["identifiers"]
            )
        ]
        names = sorted(device["name_by_user"] or device["name"] for device in moxie)
        assert names == ["Asistente de voz Moxie", "Cerebro de Moxie", "Moxie"]

        # The robot's device: its entities and the speaker's, all in Spanish.
        [robot] = [d for d in moxie if ["mqtt", "moxie_moxie"] in d["identifiers"]]
        await page.goto(f"{stack.home.url}/config/devices/device/{robot['id']}")
        for name in ("Marioneta", "Habla", "Estado", "Hablando", "Volumen del altavoz"):
            await expect(page.get_by_text(name, exact=True).first).to_be_visible()
        await page.screenshot(path=stack.shots / "device-moxie-es.png")

    _in_browser(stack, "es", DESKTOP, steps)


def test_puppet_line_reaches_the_broker_and_the_conversation(
    stack: Stack, probe: MqttProbe
) -> None:
    async def steps(page: Page) -> None:
        box = page.locator("moxie-card .puppet input")
        await box.fill("¡Hola! Soy la marioneta de Moxie.")
        await box.press("Enter")
        await expect(box).to_have_value("")
        [sent] = await probe.wait_for("moxie/puppet/set")
        assert sent.text == "¡Hola! Soy la marioneta de Moxie."
        [mirrored] = await probe.wait_for(
            "moxie/tts/text", where=lambda m: m.json()["source"] == "puppet"
        )
        assert mirrored.json()["text"] == "¡Hola! Soy la marioneta de Moxie."
        line = page.locator("moxie-card .turn[data-source='puppet']").last
        await expect(line).to_contain_text("¡Hola! Soy la marioneta de Moxie.")
        await expect(line.locator(".tag")).to_have_text("Marioneta")

        # The Puppet took the conversation over: the card says until when, and gives it back.
        takeover = page.locator("moxie-card .takeover")
        await expect(takeover).to_contain_text("La marioneta lleva la conversación hasta las")
        await _shot(stack, page, "card-es-puppet-takeover")
        await takeover.locator("button").click()
        await expect(takeover).to_have_count(0)
        state = await stack.home.state(stack.request, "switch.moxie_puppet_takeover")
        assert state is not None
        assert state["state"] == "off"

    _in_browser(stack, "es", PHONE, steps)


def test_question_appears_with_its_answer(stack: Stack) -> None:
    question = "¿De qué color es el cielo?"

    async def steps(page: Page) -> None:
        await _end_takeover(stack)
        result = await stack.home.call(
            stack.request,
            "conversation",
            "process",
            agent_id="conversation.moxie",
            text=question,
            language="es",
        )
        answer = result["service_response"]["response"]["speech"]["plain"]["speech"]
        assert answer == f"Eco: {question}"
        turn = page.locator("moxie-card .turn[data-kind='question']").last
        await expect(turn.locator(".bubble.q")).to_have_text(question)
        await expect(turn.locator(".bubble.a")).to_contain_text(answer)
        await expect(turn.locator(".meta")).to_contain_text("Pregunta")
        await _shot(stack, page, "card-es-question")

    _in_browser(stack, "es", PHONE, steps)


def test_stop_button_stops_the_speaker(stack: Stack, probe: MqttProbe) -> None:
    async def steps(page: Page) -> None:
        await stack.home.call(stack.request, "moxie", "say", text=LONG_TEXT)
        # The speaker is reading it: the card shows what Moxie is saying now.
        now = page.locator("moxie-card .now .text")
        await expect(now).to_contain_text("Esta es la frase número 0")
        await _shot(stack, page, "card-es-speaking")
        await page.locator("moxie-card button.stop").click()
        [stop] = await probe.wait_for("moxie/tts/stop")
        assert stop.json()["reason"] == "card"
        await expect(now).to_have_count(0)

        async def history() -> list[dict[str, Any]]:
            queue = await get_json(f"{stack.speaker.url}/api/queue")
            return list(queue["history"])

        entries = await wait_until(history, lambda h: any(e["outcome"] == "stopped" for e in h))
        stopped = [e["text"] for e in entries if e["outcome"] == "stopped"]
        assert stopped[0].startswith("Esta es la frase número 0")

        # The second button also asks the speaker to drop what is waiting.
        await page.locator("moxie-card button.stop-clear").click()
        [clear] = await probe.wait_for(
            "moxie/tts/stop", where=lambda m: m.json().get("clear_queue") is True
        )
        assert clear.json()["reason"] == "card"

    _in_browser(stack, "es", PHONE, steps)


CHILD, CHILD_PASSWORD = "nino", "moxie-secret-2"


def test_non_admin_sees_controls_but_not_the_conversation(stack: Stack, probe: MqttProbe) -> None:
    """A person who is not an administrator: status and controls, a note instead of the talk."""

    async def make_user(page: Page) -> None:
        await page.evaluate(
            """async ([username, password]) => {
                const hass = document.querySelector('home-assistant').hass;
                const users = await hass.callWS({type: 'config/auth/list'});
                if (users.some((u) => u.username === username)) return;
                const {user} = await hass.callWS({type: 'config/auth/create', name: 'Niño',
                                                  group_ids: ['system-users']});
                await hass.callWS({type: 'config/auth_provider/homeassistant/create',
                                   user_id: user.id, username, password});
            }""",
            [CHILD, CHILD_PASSWORD],
        )

    _in_browser(stack, "es", PHONE, make_user)  # the parent also saves the dashboard

    async def as_child() -> None:
        page = await _sign_in(stack, "es", PHONE, CHILD, CHILD_PASSWORD)
        try:
            user = "() => document.querySelector('home-assistant').hass.user"
            await page.wait_for_function(f"() => ({user})() != null")
            assert await page.evaluate(f"() => ({user})().is_admin") is False
            await page.goto(f"{stack.home.url}/moxie-home/moxie")
            card = page.locator("moxie-card")
            await expect(card.locator(".admin-only")).to_have_text(
                "Solo un administrador puede ver la conversación de Moxie."
            )
            await expect(card.locator(".status")).to_have_attribute("data-status", "idle")
            await expect(card.locator(".puppet input")).to_be_visible()
            await expect(card.locator("button.stop")).to_have_text("Parar")
            await expect(card.locator(".volume input[type=range]")).to_be_visible()
            await expect(card.locator(".turn")).to_have_count(0)
            await _shot(stack, page, "card-es-non-admin")
            await card.locator("button.stop-clear").click()
            [clear] = await probe.wait_for(
                "moxie/tts/stop", where=lambda m: m.json().get("clear_queue") is True
            )
            assert clear.json()["reason"] == "card"
        finally:
            await page.context.close()

    stack.loop.run(as_child(), timeout=300)


def test_card_in_english(stack: Stack) -> None:
    async def steps(page: Page) -> None:
        language = "() => document.querySelector('home-assistant').hass.language"
        assert await page.evaluate(language) == "en"
        await expect(page.locator("moxie-card .status")).to_have_text("Idle")
        await expect(page.locator("moxie-card h3")).to_have_text("Conversation")
        await expect(page.locator("moxie-card button.stop")).to_have_text("Stop")
        await expect(page.locator("moxie-card button.stop-clear")).to_have_text(
            "Stop and clear the queue"
        )
        # The Spanish session's conversation is still there (kept by the integration).
        puppet = page.locator("moxie-card .turn[data-source='puppet'] .tag").first
        await expect(puppet).to_have_text("Puppet")
        question = page.locator("moxie-card .turn[data-kind='question']").first
        await expect(question).to_contain_text("Question")
        await _shot(stack, page, "card-en-desktop")

    _in_browser(stack, "en", DESKTOP, steps)


@pytest.mark.timeout(400)
def test_conversation_survives_a_restart(stack: Stack) -> None:
    """Home Assistant stops and starts again: the card still shows what was said before."""

    async def before(page: Page) -> None:
        await stack.home.call(stack.request, "moxie", "say", text="Hasta mañana, campeones.")
        said = page.locator("moxie-card .turn[data-source='action']").last
        await expect(said).to_contain_text("Hasta mañana, campeones.")

    _in_browser(stack, "es", PHONE, before)
    stack.home.stop()
    stack.home.start()
    stack.loop.run(stack.home.wait_started(stack.request), timeout=300)
    stack.loop.run(stack.home.wait_running(stack.request), timeout=300)

    async def after(page: Page) -> None:
        said = page.locator("moxie-card .turn[data-source='action']").last
        await expect(said).to_contain_text("Hasta mañana, campeones.")
        question = page.locator("moxie-card .turn[data-kind='question'] .bubble.q").last
        await expect(question).to_have_text("¿De qué color es el cielo?")
        # Moxie is back too (its MQTT entities return once HA's MQTT client is up).
        await expect(page.locator("moxie-card .status")).to_have_attribute("data-status", "idle")
        await _shot(stack, page, "card-es-after-restart")

    _in_browser(stack, "es", PHONE, after)
