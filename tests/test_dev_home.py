"""scripts/develop's Home Assistant configuration: port, blueprint-ready files, seeded entries."""

from __future__ import annotations

import json
from pathlib import Path

from homeassistant.config import async_hass_config_yaml
from homeassistant.core import HomeAssistant

from scripts.dev_home import prepare_config


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
    assert [e["domain"] for e in entries["data"]["entries"]] == ["mqtt", "moxie"]


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
