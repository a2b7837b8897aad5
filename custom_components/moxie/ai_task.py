"""Moxie's AI task: generate data (text or structured JSON) with Moxie's Ollama, silently."""

from __future__ import annotations

from json import JSONDecodeError
import logging
from typing import override

from homeassistant.components import ai_task, conversation
from homeassistant.config_entries import ConfigSubentry
from homeassistant.const import CONF_MODEL
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.util.json import json_loads

from .brain import Brain, BrainError
from .chat import async_stream_answer
from .const import DOMAIN, SUBENTRY_AI_TASK
from .entity import MoxieEntity
from .models import MoxieConfigEntry

_LOGGER = logging.getLogger(__name__)

# Generation requests run concurrently, as in Home Assistant's own ollama integration.
PARALLEL_UPDATES = 0


async def async_setup_entry(
    hass: HomeAssistant,
    entry: MoxieConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add one AI task entity per AI task subentry (none for a Moxie without Ollama URL)."""
    if (brain := entry.runtime_data.brain) is None:
        return
    for subentry in entry.subentries.values():
        if subentry.subentry_type == SUBENTRY_AI_TASK:
            async_add_entities(
                [MoxieTaskEntity(entry, subentry, brain)],
                config_subentry_id=subentry.subentry_id,
            )


def _ignore(_content: str) -> None:
    """AI task results are data, never Moxie speech."""


class MoxieTaskEntity(ai_task.AITaskEntity, MoxieEntity):
    """Generates data for automations with the subentry's model; nothing is mirrored."""

    _attr_supported_features = (
        ai_task.AITaskEntityFeature.GENERATE_DATA | ai_task.AITaskEntityFeature.SUPPORT_ATTACHMENTS
    )

    def __init__(self, entry: MoxieConfigEntry, subentry: ConfigSubentry, brain: Brain) -> None:
        """Set up the AI task of one subentry."""
        super().__init__(entry, subentry, ai_task.DOMAIN)
        self.brain = brain
        self._attr_name = None  # the AI task is its device, named after the subentry

    @override
    async def _async_generate_data(
        self,
        task: ai_task.GenDataTask,
        chat_log: conversation.ChatLog,
    ) -> ai_task.GenDataTaskResult:
        """Ask the model; parse its JSON when the task has a structure."""
        model: str = self.subentry.data[CONF_MODEL]
        try:
            await async_stream_answer(
                self.brain,
                self.subentry.data,
                chat_log,
                self.entity_id,
                _ignore,
                structure=task.structure,
            )
        except BrainError as err:
            self.brain.async_report_problem(err)
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key=f"brain_{err.problem}",
                translation_placeholders={"url": self.brain.url, "model": model},
            ) from err
        self.brain.async_report_ok(model)
        last = chat_log.content[-1]
        if not isinstance(last, conversation.AssistantContent):
            raise HomeAssistantError(translation_domain=DOMAIN, translation_key="no_answer")
        text = last.content or ""
        if not task.structure:
            return ai_task.GenDataTaskResult(conversation_id=chat_log.conversation_id, data=text)
        try:
            data = json_loads(text)
        except JSONDecodeError as err:
            _LOGGER.warning("The model's answer is not the JSON asked for: %s", text)
            raise HomeAssistantError(
                translation_domain=DOMAIN, translation_key="invalid_structured_answer"
            ) from err
        return ai_task.GenDataTaskResult(conversation_id=chat_log.conversation_id, data=data)
