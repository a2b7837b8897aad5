"""The blueprints load in Home Assistant and drive Moxie through moxie.say."""

from __future__ import annotations

from pathlib import Path
import shutil

from homeassistant.components.blueprint import models
from homeassistant.components.blueprint.schemas import BLUEPRINT_SCHEMA
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from tests.mqtt_probe import MqttProbe

BLUEPRINTS = Path(__file__).parents[2] / "blueprints"


@pytest.mark.parametrize("path", sorted(BLUEPRINTS.rglob("*.yaml")), ids=lambda p: p.name)
def test_blueprint_is_valid(path: Path) -> None:
    from homeassistant.util.yaml import load_yaml_dict

    blueprint = models.Blueprint(
        load_yaml_dict(str(path)), expected_domain=None, schema=BLUEPRINT_SCHEMA
    )
    metadata = blueprint.metadata
    assert metadata["source_url"].endswith(path.relative_to(BLUEPRINTS.parent).as_posix())
    assert metadata["author"]
    assert metadata["homeassistant"]["min_version"] >= "2026.10.0"


async def test_announce_blueprint_makes_moxie_speak(
    hass: HomeAssistant, moxie_entry: MockConfigEntry, mqtt_probe: MqttProbe
) -> None:
    shutil.copytree(BLUEPRINTS, Path(hass.config.config_dir) / "blueprints")
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
    [said] = await mqtt_probe.wait_for("moxie/tts/text")
    assert said.json()["text"] == "¡Se abrió la puerta!"
    assert said.json()["priority"] == "high"
    assert said.json()["source"] == "automation"


async def test_say_and_wait_script_blueprint(
    hass: HomeAssistant, moxie_entry: MockConfigEntry, mqtt_probe: MqttProbe
) -> None:
    shutil.copytree(BLUEPRINTS, Path(hass.config.config_dir) / "blueprints")
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
    [said] = await mqtt_probe.wait_for("moxie/tts/text")
    assert said.json()["text"] == "¡A lavarse los dientes!"
    assert said.json()["source"] == "script"
