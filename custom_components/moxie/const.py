"""Constants for the Moxie integration."""

from typing import Final

DOMAIN: Final = "moxie"

CONF_BASE_TOPIC: Final = "base_topic"
CONF_LANGUAGE: Final = "language"

DEFAULT_NAME: Final = "Moxie"
DEFAULT_BASE_TOPIC: Final = "moxie"
DEFAULT_LANGUAGE: Final = "es"
LANGUAGES: Final = ["es", "en"]

DISCOVERY_PREFIX: Final = "homeassistant"
HA_STATUS_TOPIC: Final = "homeassistant/status"

# The speech mirror contract (see custom_components/moxie/MQTT.md).
CHUNK_MAX_CHARS: Final = 400
PAYLOAD_MAX_BYTES: Final = 64 * 1024
SAY_MAX_CHARS: Final = 10_000
PRIORITIES: Final = ["critical", "high", "normal"]
DEFAULT_PRIORITY: Final = "normal"
ASSISTANT_STATES: Final = ["idle", "listening", "thinking", "speaking"]
# An utterance whose chunks have not all arrived after this long is dropped (and counted).
REASSEMBLY_TIMEOUT: Final = 30.0

SOURCE_PUPPET: Final = "puppet"
SOURCE_ACTION: Final = "action"
SOURCE_ASSISTANT: Final = "assistant"
SOURCE_EXTERNAL: Final = "external"

SERVICE_SAY: Final = "say"
SERVICE_STOP: Final = "stop"
