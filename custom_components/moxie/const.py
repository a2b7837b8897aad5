"""Constants for the Moxie integration."""

from typing import Final

from . import speech_core

DOMAIN: Final = "moxie"

CONF_BASE_TOPIC: Final = "base_topic"
CONF_LANGUAGE: Final = "language"

DEFAULT_NAME: Final = "Moxie"
DEFAULT_BASE_TOPIC: Final = speech_core.DEFAULT_BASE_TOPIC
DEFAULT_LANGUAGE: Final = "es"
LANGUAGES: Final = ["es", "en"]

# The speech contract (topics, payloads, sources, priorities, limits) lives in speech_core.py.

# Moxie's voice satellite: the Wyoming microphone next to Moxie (entry options).
CONF_MIC_HOST: Final = "mic_host"
CONF_MIC_PORT: Final = "mic_port"
DEFAULT_MIC_PORT: Final = 10600
# Talking over Moxie interrupts it (barge-in): only with echo cancellation, or Moxie's own voice
# in the microphone interrupts it. The wake word always interrupts.
CONF_BARGE_IN: Final = "barge_in"
DEFAULT_BARGE_IN: Final = False

SERVICE_SAY: Final = "say"
SERVICE_STOP: Final = "stop"

# Moxie's brain: the Ollama conversation agent (config entry data and agent subentry options).
SUBENTRY_AGENT: Final = "conversation"
SUBENTRY_AI_TASK: Final = "ai_task_data"
DEFAULT_URL: Final = "http://localhost:11434"
DEFAULT_MODEL: Final = "qwen3:4b-instruct"
# Default subentry titles, by the entry's language; `{name}` is the Moxie's name. A title already
# in use gets a number (see agent_flow.free_title).
DEFAULT_AGENT_TITLES: Final = {"es": "Cerebro de {name}", "en": "{name}'s brain"}
DEFAULT_AI_TASK_TITLES: Final = {"es": "Tareas IA de {name}", "en": "{name} AI tasks"}
CONF_KEEP_ALIVE: Final = "keep_alive"
DEFAULT_KEEP_ALIVE: Final = -1  # seconds; -1 keeps the model loaded, 0 unloads it at once
CONF_NUM_CTX: Final = "num_ctx"
DEFAULT_NUM_CTX: Final = 8192
MIN_NUM_CTX: Final = 2048
CONF_MAX_HISTORY: Final = "max_history"
DEFAULT_MAX_HISTORY: Final = 20  # previous messages sent with each question; 0 sends all
CONF_THINK: Final = "think"
DEFAULT_THINK: Final = False
CONF_TAKEOVER_MINUTES: Final = "takeover_minutes"
DEFAULT_TAKEOVER_MINUTES: Final = 10
# Whether Moxie's speaker voices an agent's answers: always, never, or automatic (not when a
# voice satellite asked: the satellite plays the pipeline's TTS, so every answer is heard once).
CONF_SPEAKER_PLAYBACK: Final = "speaker_playback"
PLAYBACK_ALWAYS: Final = "always"
PLAYBACK_NEVER: Final = "never"
PLAYBACK_AUTOMATIC: Final = "automatic"
PLAYBACK_OPTIONS: Final = [PLAYBACK_AUTOMATIC, PLAYBACK_ALWAYS, PLAYBACK_NEVER]
DEFAULT_SPEAKER_PLAYBACK: Final = PLAYBACK_AUTOMATIC
# Seconds to wait for Ollama when checking the connection.
CONNECT_TIMEOUT: Final = 10.0
# Seconds between connection checks while Ollama is unreachable.
RECHECK_INTERVAL: Final = 30.0
# Max rounds of model -> tools -> model in one answer.
MAX_TOOL_ITERATIONS: Final = 10

# Robot Moxie (OpenMoxie): the robot's broker and device id (entry options, robot_flow.py).
CONF_ROBOT_ENABLED: Final = "robot_enabled"
CONF_ROBOT_HOST: Final = "robot_host"
CONF_ROBOT_PORT: Final = "robot_port"
CONF_ROBOT_TLS: Final = "robot_tls"
CONF_ROBOT_CA_FILE: Final = "robot_ca_file"
CONF_ROBOT_INSECURE: Final = "robot_insecure"
CONF_ROBOT_DEVICE_ID: Final = "robot_device_id"
DEFAULT_ROBOT_PORT: Final = 8883
# The robot satellite's unique id is `<entry id>-robot`: a satellite whose answers the robot says.
ROBOT_UNIQUE_SUFFIX: Final = "-robot"
