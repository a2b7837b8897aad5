"""Run a development Home Assistant with the Moxie integration and a local MQTT broker.

The first run writes `.dev/config` (configuration.yaml, the integration linked in, and config
entries for MQTT and Moxie), so the Moxie device, its entities and `moxie.say` work at once.
Automations, scripts and scenes live in their usual files, so blueprints can be used there.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
from pathlib import Path
import shutil
import signal
import socket
import subprocess
import sys
import time
from typing import Any
import uuid

from homeassistant.components.http.config import HTTP_STORAGE_SCHEMA

ROOT = Path(__file__).resolve().parent.parent
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


def config_entry(
    domain: str,
    title: str,
    data: dict[str, Any],
    unique_id: str | None,
    subentries: list[dict[str, Any]] | None = None,
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
        "options": {},
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


def prepare_config(config_dir: Path, mqtt_port: int, http_port: int) -> None:
    """Write configuration.yaml, link the integration and seed MQTT + Moxie entries once."""
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
        return
    entries = [
        config_entry("mqtt", "Local broker", {"broker": "127.0.0.1", "port": mqtt_port}, None),
        config_entry(
            "moxie", "Moxie", {"name": "Moxie", "base_topic": "moxie", "language": "es"}, "moxie"
        ),
    ]
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


def start_broker(kind: str, port: int, workdir: Path) -> subprocess.Popen[bytes]:
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
    process = subprocess.Popen(command)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"The {kind} broker exited (is port {port} in use?)")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            print(f"MQTT broker ({kind}) listening on 127.0.0.1:{port}")
            return process
        time.sleep(0.1)
    process.terminate()
    raise SystemExit(f"The {kind} broker did not start on port {port}")


def main() -> None:
    """Start the broker, then Home Assistant; stop both on Ctrl-C."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", type=Path, default=ROOT / ".dev" / "config")
    parser.add_argument(
        "--broker",
        choices=["amqtt", "mosquitto"],
        # Mosquitto is what users run (the add-on); amqtt (pure Python) needs nothing installed.
        default="mosquitto"
        if shutil.which("mosquitto") or Path("/usr/sbin/mosquitto").exists()
        else "amqtt",
    )
    parser.add_argument(
        "--mqtt-port", type=int, default=int(os.environ.get("MOXIE_DEV_MQTT_PORT", "1883"))
    )
    parser.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("MOXIE_DEV_PORT", "8123")),
        help="Home Assistant's web port (default 8123)",
    )
    parser.add_argument("--fresh", action="store_true", help="delete .dev/config first")
    args = parser.parse_args()
    if args.fresh and args.config.exists():
        shutil.rmtree(args.config)
    prepare_config(args.config, args.mqtt_port, args.port)
    broker = start_broker(args.broker, args.mqtt_port, args.config.parent / "broker")
    hass = subprocess.Popen(
        [str(Path(sys.executable).parent / "hass"), "--config", str(args.config), "--skip-pip"]
    )
    print(f"Home Assistant is starting: http://localhost:{args.port} (Ctrl-C to stop)")
    try:
        sys.exit(hass.wait())
    except KeyboardInterrupt:
        hass.send_signal(signal.SIGINT)
        hass.wait()
    finally:
        broker.terminate()
        broker.wait()


if __name__ == "__main__":
    main()
