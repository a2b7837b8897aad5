"""Moxie's blueprints install themselves, load in Home Assistant and drive Moxie through MQTT."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
import hashlib
from pathlib import Path
import re
from typing import Any

from homeassistant.components.blueprint import models
from homeassistant.components.blueprint.schemas import BLUEPRINT_SCHEMA
from homeassistant.core import HomeAssistant
from homeassistant.helpers.storage import Store
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
from homeassistant.util.yaml import load_yaml_dict
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import WebSocketGenerator

from custom_components.moxie.blueprint_install import async_install_blueprints
from custom_components.moxie.discovery import ORIGIN_URL
from peers.mqtt import MqttProbe, Received
from peers.ollama_server import OllamaServer

ROOT = Path(__file__).parents[2]
# The source (Blueprint Exchange and the README's import buttons point here) and the copies the
# integration ships (HACS installs only custom_components/moxie/) and installs.
SOURCE = ROOT / "blueprints"
SHIPPED = ROOT / "custom_components" / "moxie" / "blueprints"
PATHS = sorted(SOURCE.rglob("*.yaml"))


def _inputs(inputs: dict[str, Any]) -> dict[str, Any]:
    """Every input, sections flattened."""
    flat: dict[str, Any] = {}
    for key, value in inputs.items():
        if isinstance(value, dict) and "input" in value:
            flat.update(_inputs(value["input"]))
        else:
            flat[key] = value
    return flat


def _bilingual(text: str) -> bool:
    """Spanish · English: both halves present."""
    spanish, _, english = text.partition(" · ")
    return bool(spanish.strip()) and bool(english.strip())


def _files(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


def test_the_integration_ships_the_source_unchanged() -> None:
    """Every file under blueprints/ has a byte-identical copy in the integration, and no more."""
    source, shipped = _files(SOURCE), _files(SHIPPED)
    assert len(source) >= 7
    assert "automation/moxie/announce.yaml" in source
    assert "script/moxie/say_and_wait.yaml" in source
    differ = sorted(
        name for name in source.keys() | shipped.keys() if source.get(name) != shipped.get(name)
    )
    assert not differ, (
        f"blueprints/ and custom_components/moxie/blueprints/ differ in {differ}: edit blueprints/ "
        "(the source), then run scripts/sync_blueprints to copy it into the integration"
    )


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_blueprint_is_valid_and_bilingual(path: Path) -> None:
    raw = load_yaml_dict(str(path))
    blueprint = models.Blueprint(raw, expected_domain=None, schema=BLUEPRINT_SCHEMA)
    metadata = blueprint.metadata
    relative = path.relative_to(ROOT).as_posix()
    assert metadata["source_url"] == f"{ORIGIN_URL}/blob/main/{relative}"
    assert metadata["author"]
    assert metadata["homeassistant"]["min_version"] >= "2026.10.0"
    assert "mode" in raw
    assert _bilingual(metadata["name"]), metadata["name"]
    assert _bilingual(metadata["description"]), metadata["description"]
    for key, spec in _inputs(metadata["input"]).items():
        assert _bilingual(spec["name"]), (key, spec["name"])
        selector = spec["selector"]
        if "entity" in selector:
            assert selector["entity"].get("filter"), f"{key}: unfiltered entity selector"
    for section in (v for v in metadata["input"].values() if "input" in v):
        assert _bilingual(section["name"])


def test_readme_has_an_import_button_for_each() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    links = set(re.findall(r"blueprint_import/\?blueprint_url=([^)\s]+)", readme))
    raw = "https%3A%2F%2Fraw.githubusercontent.com%2Fopenmoxie-community%2Fmoxie-home-assistant"
    for path in PATHS:
        quoted = path.relative_to(ROOT).as_posix().replace("/", "%2F")
        assert f"{raw}%2Fmain%2F{quoted}" in links, path.name


async def test_installed_on_setup_without_overwriting_edits(
    hass: HomeAssistant,
    moxie_entry: MockConfigEntry,
    hass_ws_client: WebSocketGenerator,
) -> None:
    target = Path(hass.config.config_dir) / "blueprints"
    for path in PATHS:
        relative = path.relative_to(SOURCE)
        assert (target / relative).read_bytes() == (SHIPPED / relative).read_bytes()

    # HA's blueprint integration lists them, under moxie/.
    for domain in ("automation", "script"):
        assert await async_setup_component(hass, domain, {})
    client = await hass_ws_client(hass)
    listed: set[str] = set()
    for domain in ("automation", "script"):
        await client.send_json_auto_id({"type": "blueprint/list", "domain": domain})
        response = await client.receive_json()
        assert response["success"]
        for name, blueprint in response["result"].items():
            assert "error" not in blueprint, (name, blueprint)
            listed.add(f"{domain}/{name}")
    assert {p.relative_to(SOURCE).as_posix() for p in PATHS} <= listed

    # The owner edits one, deletes another; an older release left a third behind.
    announce = target / "automation/moxie/announce.yaml"
    edited = announce.read_text(encoding="utf-8").replace("¡Atención!", "¡Oye!")
    announce.write_text(edited, encoding="utf-8")
    (target / "automation/moxie/doorbell.yaml").unlink()
    bedtime = target / "automation/moxie/bedtime.yaml"
    old = b"blueprint: {name: old}\n"
    bedtime.write_bytes(old)
    store: Store[dict[str, Any]] = Store(hass, 1, "moxie.blueprints")
    stored = await store.async_load()
    assert stored is not None
    stored["installed"]["automation/moxie/bedtime.yaml"] = hashlib.sha256(old).hexdigest()
    await store.async_save(stored)

    report = await async_install_blueprints(hass)

    assert announce.read_text(encoding="utf-8") == edited
    assert report.kept_edited == ["automation/moxie/announce.yaml"]
    assert sorted(report.written) == [
        "automation/moxie/bedtime.yaml",
        "automation/moxie/doorbell.yaml",
    ]
    assert bedtime.read_bytes() == (SHIPPED / "automation/moxie/bedtime.yaml").read_bytes()


async def _said(probe: MqttProbe, source: str = "automation") -> Received:
    [said] = await probe.wait_for("moxie/tts/text", where=lambda m: m.json()["source"] == source)
    return said


async def _automation(hass: HomeAssistant, path: str, **inputs: Any) -> None:
    config = {"use_blueprint": {"path": f"moxie/{path}", "input": inputs}}
    assert await async_setup_component(hass, "automation", {"automation": [config]})
    await hass.async_block_till_done()
    assert hass.states.async_all("automation")[0].state == "on"


async def _turn_off_automations(hass: HomeAssistant) -> None:
    await hass.services.async_call("automation", "turn_off", {"entity_id": "all"}, blocking=True)


def _soon(seconds: int = 2) -> str:
    """A time of day a few seconds from now, for time triggers."""
    return (dt_util.now() + timedelta(seconds=seconds)).strftime("%H:%M:%S")


async def test_announce_blueprint_makes_moxie_speak(
    hass: HomeAssistant, moxie_entry: MockConfigEntry, mqtt_probe: MqttProbe
) -> None:
    assert await async_setup_component(hass, "input_boolean", {"input_boolean": {"door": {}}})

    def announce(message: str, quiet_start: str, quiet_end: str) -> dict[str, object]:
        return {
            "use_blueprint": {
                "path": "moxie/announce.yaml",
                "input": {
                    "trigger_entity": "input_boolean.door",
                    "to_state": "on",
                    "message": message,
                    "priority": "high",
                    "quiet_start": quiet_start,
                    "quiet_end": quiet_end,
                },
            }
        }

    assert await async_setup_component(
        hass,
        "automation",
        {
            "automation": [
                # Quiet all day: stays silent.
                announce("No deberías oírme", "00:00:00", "23:59:59"),
                # Quiet hours that never match: speaks.
                announce("¡Se abrió la puerta!", "23:59:59", "00:00:00"),
            ]
        },
    )
    await hass.services.async_call(
        "input_boolean", "turn_on", {"entity_id": "input_boolean.door"}, blocking=True
    )
    said = await _said(mqtt_probe)
    assert said.json()["text"] == "¡Se abrió la puerta!"
    assert said.json()["priority"] == "high"
    await hass.async_block_till_done()
    assert [m.json()["text"] for m in mqtt_probe.messages["moxie/tts/text"]] == [
        "¡Se abrió la puerta!"
    ]


async def test_say_and_wait_script_blueprint(
    hass: HomeAssistant, moxie_entry: MockConfigEntry, mqtt_probe: MqttProbe
) -> None:
    assert await async_setup_component(
        hass,
        "script",
        {
            "script": {
                "teeth": {
                    "use_blueprint": {
                        "path": "moxie/say_and_wait.yaml",
                        "input": {"message": "¡A lavarse los dientes!"},
                    }
                }
            }
        },
    )
    await hass.services.async_call("script", "teeth", blocking=True)
    said = await _said(mqtt_probe, "script")
    assert said.json()["text"] == "¡A lavarse los dientes!"


async def test_greet_arrival_says_the_name(
    hass: HomeAssistant, moxie_entry: MockConfigEntry, mqtt_probe: MqttProbe
) -> None:
    hass.states.async_set("person.ana", "not_home", {"friendly_name": "Ana"})
    hass.states.async_set("person.luis", "not_home", {"friendly_name": "Luis"})
    await _automation(
        hass,
        "greet_arrival.yaml",
        people=["person.ana"],
        quiet_start="23:59:59",
        quiet_end="00:00:00",
    )
    hass.states.async_set("person.luis", "home", {"friendly_name": "Luis"})
    hass.states.async_set("person.ana", "home", {"friendly_name": "Ana"})
    said = await _said(mqtt_probe)
    assert said.json()["text"] == "¡Hola, Ana! ¡Qué bien que ya estás en casa!"


async def test_bedtime_reminder_at_its_time(
    hass: HomeAssistant, moxie_entry: MockConfigEntry, mqtt_probe: MqttProbe
) -> None:
    await _automation(hass, "bedtime.yaml", at=_soon(), message="¡A dormir, campeón!")
    try:
        said = await _said(mqtt_probe)
    finally:
        await _turn_off_automations(hass)  # its timer waits for tomorrow
    assert said.json()["text"] == "¡A dormir, campeón!"


async def test_doorbell_rings_through_moxie(
    hass: HomeAssistant, moxie_entry: MockConfigEntry, mqtt_probe: MqttProbe
) -> None:
    assert await async_setup_component(hass, "input_boolean", {"input_boolean": {"bell": {}}})
    await _automation(hass, "doorbell.yaml", doorbell="input_boolean.bell")
    await hass.services.async_call(
        "input_boolean", "turn_on", {"entity_id": "input_boolean.bell"}, blocking=True
    )
    said = await _said(mqtt_probe)
    assert said.json()["text"] == "¡Ding, dong! Hay alguien en la puerta."
    assert said.json()["priority"] == "high"


DING_DONG = "¡Ding, dong! Hay alguien en la puerta."


async def _doorbell_sensor(hass: HomeAssistant) -> tuple[str, list[Callable[[], Awaitable[None]]]]:
    """A sound sensor at the door: it turns on for a ring, off after it (off says nothing)."""
    entity_id = "binary_sensor.door_sound"
    hass.states.async_set(entity_id, "off", {"device_class": "sound"})

    async def ring() -> None:
        hass.states.async_set(entity_id, "on", {"device_class": "sound"})
        await hass.async_block_till_done()
        hass.states.async_set(entity_id, "off", {"device_class": "sound"})

    return entity_id, [ring, ring]


async def _doorbell_event(hass: HomeAssistant) -> tuple[str, list[Callable[[], Awaitable[None]]]]:
    """A doorbell event entity (Home Assistant's event platform, through a template)."""
    config = {
        "template": [
            {
                "triggers": [{"trigger": "event", "event_type": "front_door_pressed"}],
                "event": [
                    {
                        "name": "Front door",
                        "device_class": "doorbell",
                        "event_type": "ring",
                        "event_types": "{{ ['ring'] }}",
                    }
                ],
            }
        ]
    }
    assert await async_setup_component(hass, "template", config)
    await hass.async_block_till_done()
    assert hass.states.get("event.front_door").attributes["device_class"] == "doorbell"  # type: ignore[union-attr]

    async def ring() -> None:
        hass.bus.async_fire("front_door_pressed")
        await hass.async_block_till_done()

    return "event.front_door", [ring, ring]


async def _doorbell_button(hass: HomeAssistant) -> tuple[str, list[Callable[[], Awaitable[None]]]]:
    """A helper button (input_button) pressed from a dashboard."""
    assert await async_setup_component(hass, "input_button", {"input_button": {"bell": {}}})

    async def ring() -> None:
        await hass.services.async_call(
            "input_button", "press", {"entity_id": "input_button.bell"}, blocking=True
        )

    return "input_button.bell", [ring, ring]


@pytest.mark.parametrize(
    "doorbell", [_doorbell_sensor, _doorbell_event, _doorbell_button], ids=lambda f: f.__name__
)
async def test_doorbell_rings_through_moxie_once_per_ring(
    hass: HomeAssistant,
    moxie_entry: MockConfigEntry,
    mqtt_probe: MqttProbe,
    doorbell: Callable[[HomeAssistant], Awaitable[tuple[str, list[Callable[[], Awaitable[None]]]]]],
) -> None:
    """A binary sensor turning on, an event entity firing, a button pressed: one line per ring."""
    entity_id, rings = await doorbell(hass)
    await _automation(hass, "doorbell.yaml", doorbell=entity_id, cooldown={"seconds": 0})
    await rings[0]()
    said = await _said(mqtt_probe)
    assert said.json()["text"] == DING_DONG
    assert said.json()["priority"] == "high"
    await hass.async_block_till_done()

    # The next ring is said again; nothing in between (the sensor turning off says nothing).
    await rings[1]()
    await mqtt_probe.wait_for("moxie/tts/text", 2)
    await hass.async_block_till_done()
    assert [m.json()["text"] for m in mqtt_probe.messages["moxie/tts/text"]] == [DING_DONG] * 2


async def test_notification_read_aloud(
    hass: HomeAssistant, moxie_entry: MockConfigEntry, mqtt_probe: MqttProbe
) -> None:
    assert await async_setup_component(hass, "persistent_notification", {})
    await _automation(hass, "read_notifications.yaml", quiet_start="23:59:59", quiet_end="00:00:00")
    await hass.services.async_call(
        "persistent_notification",
        "create",
        {"title": "Lavadora", "message": "La colada está lista."},
        blocking=True,
    )
    said = await _said(mqtt_probe)
    assert said.json()["text"] == "Tienes un aviso: Lavadora. La colada está lista."


async def test_morning_briefing_asks_moxies_agent(
    hass: HomeAssistant,
    moxie_brain: MockConfigEntry,
    ollama_server: OllamaServer,
    mqtt_probe: MqttProbe,
) -> None:
    await _automation(
        hass,
        "morning_briefing.yaml",
        agent="conversation.moxie",
        at=_soon(),
        weekdays=["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
        request="Buenos días, ¿qué tiempo hace?",
    )
    try:
        said = await _said(mqtt_probe, "assistant")
    finally:
        await _turn_off_automations(hass)  # its timer waits for tomorrow
    assert said.json()["text"].startswith("Eco: Buenos días")
    last_user = [m for m in ollama_server.chat_requests[-1]["messages"] if m["role"] == "user"]
    assert last_user[-1]["content"] == "Buenos días, ¿qué tiempo hace?"
