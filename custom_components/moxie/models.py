"""Runtime data of a Moxie config entry."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from homeassistant.config_entries import ConfigEntry

from .satellite_device import SatelliteDevice

if TYPE_CHECKING:
    from .answer import AnswerBook
    from .assistant_status import AssistantStatus
    from .brain import Brain
    from .conversation_log import ConversationLog
    from .discovery import MoxieDiscovery
    from .memory import MemoryStore
    from .mirror import SpeechMirror
    from .pipeline import MoxiePipeline
    from .robot import RobotLink
    from .speaker_watch import SpeakerWatch
    from .takeover import Takeover


@dataclass
class MoxieData:
    """What a loaded Moxie entry holds: its speech mirror and its MQTT device."""

    mirror: SpeechMirror
    discovery: MoxieDiscovery
    # Moxie's speaker as it reports itself (status, availability).
    speaker: SpeakerWatch
    # The assistant Status as the agent drives it (thinking, speaking, idle).
    status: AssistantStatus
    # Moxie's answers in flight and by conversation (who voices them, stop, heard).
    answers: AnswerBook
    # Moxie's brain (the Ollama client); None for a Moxie without Ollama URL.
    brain: Brain | None = None
    # The Puppet takeover of each agent, by agent subentry id.
    takeovers: dict[str, Takeover] = field(default_factory=dict)
    # Moxie's Assist pipeline (kept, repaired and watched for the Status).
    pipeline: MoxiePipeline | None = None
    # The conversation kept for the Moxie card (questions, answers, everything Moxie said).
    conversation_log: ConversationLog | None = None
    # What Moxie remembers of each person (Moxie's memory).
    memory: MemoryStore | None = None
    # Moxie's voice satellite as its entities share it (the Listen button asks it to listen).
    satellite_device: SatelliteDevice = field(default_factory=SatelliteDevice)
    # The link to the robot Moxie serves (Robot Moxie, OpenMoxie), while its satellite is added.
    robot: RobotLink | None = None


type MoxieConfigEntry = ConfigEntry[MoxieData]
