"""The microphone fields of Moxie's options: where the Wyoming mic next to Moxie listens.

Moxie's options (Configure) > Microphone, a step of its own (options_flow); empty host: Moxie's
satellite has no ears (it stays unavailable). The satellite reconnects as soon as it is saved.
"""

from __future__ import annotations

from collections.abc import Mapping
import re
from typing import Any

from homeassistant.helpers.selector import (
    BooleanSelector,
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    TextSelector,
)
import probatio as vol

from .const import CONF_BARGE_IN, CONF_MIC_HOST, CONF_MIC_PORT, DEFAULT_BARGE_IN, DEFAULT_MIC_PORT

# A host name, IPv4 address or bracket-less IPv6 address: no scheme, port or spaces.
_HOST = re.compile(r"^[A-Za-z0-9._-]+$|^[0-9A-Fa-f:]+$")


def mic_schema(current: Mapping[str, Any]) -> dict[Any, Any]:
    """Return the form fields: the microphone's host (optional), port and barge-in."""
    return {
        vol.Optional(
            CONF_MIC_HOST, description={"suggested_value": current.get(CONF_MIC_HOST)}
        ): TextSelector(),
        vol.Optional(
            CONF_MIC_PORT, default=int(current.get(CONF_MIC_PORT) or DEFAULT_MIC_PORT)
        ): NumberSelector(
            NumberSelectorConfig(min=1, max=65535, step=1, mode=NumberSelectorMode.BOX)
        ),
        vol.Optional(
            CONF_BARGE_IN, default=bool(current.get(CONF_BARGE_IN, DEFAULT_BARGE_IN))
        ): BooleanSelector(),
    }


def validate_mic(user_input: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Return the options to store and the form's errors."""
    host = str(user_input.get(CONF_MIC_HOST) or "").strip()
    port = int(user_input.get(CONF_MIC_PORT) or DEFAULT_MIC_PORT)
    if host and not _HOST.match(host):
        return {}, {CONF_MIC_HOST: "invalid_host"}
    barge_in = bool(user_input.get(CONF_BARGE_IN, DEFAULT_BARGE_IN))
    return {CONF_MIC_HOST: host, CONF_MIC_PORT: port, CONF_BARGE_IN: barge_in}, {}
