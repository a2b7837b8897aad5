"""The Robot Moxie (OpenMoxie) steps of Moxie's options: the robot's broker, then which robot.

Moxie's options (Configure) > Robot Moxie: on/off, the broker OpenMoxie's robot talks to (host,
port, TLS with a CA file or without verification), then the robot's device id, chosen among the
robots heard on `/devices/+/events/#` for a few seconds (or typed). Saving reloads Moxie, which
adds (or removes) the robot's satellite.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
import re
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.helpers.selector import (
    BooleanSelector,
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
)
import probatio as vol

from .const import (
    CONF_ROBOT_CA_FILE,
    CONF_ROBOT_DEVICE_ID,
    CONF_ROBOT_ENABLED,
    CONF_ROBOT_HOST,
    CONF_ROBOT_INSECURE,
    CONF_ROBOT_PORT,
    CONF_ROBOT_TLS,
    DEFAULT_ROBOT_PORT,
)
from .robot import RobotConnectError, async_discover_robots, tls_context
from .robot_protocol import valid_device_id

# Seconds Moxie listens for robots on the broker before offering their ids.
DISCOVERY_SECONDS = 4.0

_HOST = re.compile(r"^[A-Za-z0-9._-]+$|^[0-9A-Fa-f:]+$")


def broker_schema(current: Mapping[str, Any]) -> dict[Any, Any]:
    """Return the broker step's fields."""
    return {
        vol.Optional(
            CONF_ROBOT_ENABLED, default=bool(current.get(CONF_ROBOT_ENABLED, True))
        ): BooleanSelector(),
        vol.Optional(
            CONF_ROBOT_HOST, description={"suggested_value": current.get(CONF_ROBOT_HOST)}
        ): TextSelector(),
        vol.Optional(
            CONF_ROBOT_PORT, default=int(current.get(CONF_ROBOT_PORT) or DEFAULT_ROBOT_PORT)
        ): NumberSelector(
            NumberSelectorConfig(min=1, max=65535, step=1, mode=NumberSelectorMode.BOX)
        ),
        vol.Optional(CONF_ROBOT_TLS, default=bool(current.get(CONF_ROBOT_TLS, True))): (
            BooleanSelector()
        ),
        vol.Optional(
            CONF_ROBOT_CA_FILE, description={"suggested_value": current.get(CONF_ROBOT_CA_FILE)}
        ): TextSelector(),
        vol.Optional(
            CONF_ROBOT_INSECURE, default=bool(current.get(CONF_ROBOT_INSECURE, False))
        ): BooleanSelector(),
    }


async def async_validate_broker(
    hass: HomeAssistant, user_input: Mapping[str, Any]
) -> tuple[dict[str, Any], list[str], dict[str, str]]:
    """Return the broker options, the robots heard on it, and the form's errors.

    Robot Moxie off: the options with nothing else checked.
    """
    enabled = bool(user_input.get(CONF_ROBOT_ENABLED, True))
    host = str(user_input.get(CONF_ROBOT_HOST) or "").strip()
    options: dict[str, Any] = {
        CONF_ROBOT_ENABLED: enabled,
        CONF_ROBOT_HOST: host,
        CONF_ROBOT_PORT: int(user_input.get(CONF_ROBOT_PORT) or DEFAULT_ROBOT_PORT),
        CONF_ROBOT_TLS: bool(user_input.get(CONF_ROBOT_TLS, True)),
        CONF_ROBOT_CA_FILE: str(user_input.get(CONF_ROBOT_CA_FILE) or "").strip(),
        CONF_ROBOT_INSECURE: bool(user_input.get(CONF_ROBOT_INSECURE, False)),
    }
    if not enabled:
        return options, [], {}
    if not host or not _HOST.match(host):
        return options, [], {CONF_ROBOT_HOST: "invalid_host"}
    tls, ca_file = options[CONF_ROBOT_TLS], options[CONF_ROBOT_CA_FILE] or None
    insecure = options[CONF_ROBOT_INSECURE]
    if (
        tls
        and not insecure
        and ca_file
        and not await hass.async_add_executor_job(Path(ca_file).is_file)
    ):
        return options, [], {CONF_ROBOT_CA_FILE: "ca_file_missing"}
    try:
        context = await hass.async_add_executor_job(tls_context, tls, ca_file, insecure)
        robots = await async_discover_robots(
            hass, host, options[CONF_ROBOT_PORT], context, DISCOVERY_SECONDS
        )
    except RobotConnectError as err:
        return options, [], {"base": err.reason}
    except OSError:  # an unreadable CA file
        return options, [], {CONF_ROBOT_CA_FILE: "ca_file_missing"}
    return options, robots, {}


def device_schema(robots: list[str], current: str | None) -> dict[Any, Any]:
    """Return the robot step's field: a robot heard on the broker, or one typed."""
    choices = list(dict.fromkeys([*robots, *([current] if current else [])]))
    default = current or (robots[0] if robots else None)
    key = (
        vol.Required(CONF_ROBOT_DEVICE_ID, default=default)
        if default
        else vol.Required(CONF_ROBOT_DEVICE_ID)
    )
    return {
        key: SelectSelector(
            SelectSelectorConfig(
                options=choices, custom_value=True, mode=SelectSelectorMode.DROPDOWN
            )
        )
    }


def validate_device(user_input: Mapping[str, Any]) -> tuple[str, dict[str, str]]:
    """Return the robot's device id and the form's errors."""
    device_id = str(user_input.get(CONF_ROBOT_DEVICE_ID) or "").strip()
    if not valid_device_id(device_id):
        return device_id, {CONF_ROBOT_DEVICE_ID: "invalid_device_id"}
    return device_id, {}
