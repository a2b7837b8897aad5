"""Moxie's conversation agent: Ollama with Moxie's persona, streamed, mirrored as Moxie speech."""

from __future__ import annotations

import logging
from typing import Literal, override

from homeassistant.components import conversation
from homeassistant.config_entries import ConfigSubentry
from homeassistant.const import CONF_LLM_HASS_API, CONF_MODEL, CONF_PROMPT, MATCH_ALL
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import intent, llm
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .answer import AnswerSpeaker, speaker_playback
from .brain import Brain, BrainError, Problem
from .chat import async_stream_answer
from .const import CONF_SPEAKER_PLAYBACK, DEFAULT_SPEAKER_PLAYBACK, DOMAIN, SUBENTRY_AGENT
from .conversation_log import log_turn
from .entity import MoxieEntity, base_entity_id_changed
from .memory import CONF_MEMORY_NOTICE, DEFAULT_MEMORY_NOTICE, scope_of
from .memory_llm import MemoryAPI, memory_api_id, memory_prompt, memory_tools
from .models import MoxieConfigEntry
from .persona import Line, line, persona_prompt

_LOGGER = logging.getLogger(__name__)

# Answers are streamed one at a time per agent by Home Assistant; no extra limit here.
PARALLEL_UPDATES = 0

_PROBLEM_LINES: dict[Problem, Line] = {
    Problem.CANNOT_CONNECT: "unreachable",
    Problem.TIMEOUT: "unreachable",
    Problem.INVALID_AUTH: "unauthorized",
    Problem.MODEL_MISSING: "model_missing",
    Problem.UNKNOWN: "failed",
}


async def async_setup_entry(
    hass: HomeAssistant,
    entry: MoxieConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add one agent per conversation subentry (a Moxie without Ollama URL has none).

    Each agent is added with its subentry, so Home Assistant removes it with the subentry.
    """
    if (brain := entry.runtime_data.brain) is None:
        return
    for subentry in entry.subentries.values():
        if subentry.subentry_type == SUBENTRY_AGENT:
            async_add_entities(
                [MoxieConversationEntity(entry, subentry, brain)],
                config_subentry_id=subentry.subentry_id,
            )


class MoxieConversationEntity(
    conversation.ConversationEntity, conversation.AbstractConversationAgent, MoxieEntity
):
    """Answers in Assist as Moxie, and makes Moxie say the answer."""

    _attr_supports_streaming = True

    def __init__(self, entry: MoxieConfigEntry, subentry: ConfigSubentry, brain: Brain) -> None:
        """Set up the agent of one subentry."""
        super().__init__(entry, subentry, conversation.DOMAIN)
        self.brain = brain
        self._attr_name = None  # the agent is its device, named after the subentry
        if subentry.data.get(CONF_LLM_HASS_API):
            self._attr_supported_features = conversation.ConversationEntityFeature.CONTROL

    @property
    @override
    def supported_languages(self) -> list[str] | Literal["*"]:
        """Ollama models speak many languages."""
        return MATCH_ALL

    @override
    async def async_added_to_hass(self) -> None:
        """Register as a conversation agent."""
        await super().async_added_to_hass()
        conversation.async_set_agent(self.hass, self.entry, self)

    @override
    async def async_will_remove_from_hass(self) -> None:
        """Unregister the agent."""
        conversation.async_unset_agent(self.hass, self.entry)
        await super().async_will_remove_from_hass()

    # Not @override: Home Assistant 2026.10 has no such hook (it re-adds the entity instead).
    @callback
    def async_entity_id_changed(self, old_entity_id: str) -> None:
        """Take a new entity id in place (Home Assistant 2026.11): nothing is keyed on it."""
        base_entity_id_changed(super(), old_entity_id)

    @override
    @log_turn
    async def _async_handle_message(
        self,
        user_input: conversation.ConversationInput,
        chat_log: conversation.ChatLog,
    ) -> conversation.ConversationResult:
        """Answer through Ollama (or with a fixed line during a takeover or a problem)."""
        data = self.entry.runtime_data
        language = user_input.language
        speak, satellite = speaker_playback(
            self.hass,
            user_input,
            self.subentry.data.get(CONF_SPEAKER_PLAYBACK, DEFAULT_SPEAKER_PLAYBACK),
        )
        speaker = data.answers.answer(
            chat_log.conversation_id, language, speak=speak, satellite=satellite
        )
        takeover = data.takeovers.get(self.subentry.subentry_id)
        if takeover is not None and takeover.active:
            text = line("takeover", language)
            chat_log.async_add_assistant_content_without_tools(
                conversation.AssistantContent(agent_id=self.entity_id, content=text)
            )
            speaker.say_now(text)
            await speaker.async_finish()
            return conversation.async_get_result_from_chat_log(user_input, chat_log)

        settings = self.subentry.data
        # Moxie's own memory is added below (scoped to the speaker), never twice.
        configured = settings.get(CONF_LLM_HASS_API) or []
        if isinstance(configured, str):
            configured = [configured]
        apis = [api for api in configured if api != memory_api_id(self.entry.entry_id)] or None
        try:
            await chat_log.async_provide_llm_data(
                user_input.as_llm_context(DOMAIN),
                apis,
                settings.get(CONF_PROMPT) or persona_prompt(language),
                user_input.extra_system_prompt,
            )
        except conversation.ConverseError as err:
            return err.as_conversation_result()

        await speaker.async_think()
        try:
            remembered = await self._async_memory(user_input, chat_log)
            await self._async_answer(chat_log, speaker, language, remembered)
        except BrainError as err:
            self.brain.async_report_problem(err)
            return await self._async_problem_result(user_input, chat_log, speaker, err)
        finally:
            await speaker.async_finish()
        self.brain.async_report_ok(settings[CONF_MODEL])
        return conversation.async_get_result_from_chat_log(user_input, chat_log)

    async def _async_memory(
        self, user_input: conversation.ConversationInput, chat_log: conversation.ChatLog
    ) -> str | None:
        """Offer what Moxie remembers of the speaker, and memory tools when the model calls tools.

        Only the speaker's memories and the household's are offered, a few at a time (the ones
        the question is about), so the prompt stays small however much Moxie remembers.
        """
        store = self.entry.runtime_data.memory
        if store is None or not store.enabled:
            return None
        llm_context = user_input.as_llm_context(DOMAIN)
        offered = store.for_prompt(scope_of(llm_context), user_input.text)
        notice: str | None = None
        if await self.brain.async_calls_tools(self.subentry.data[CONF_MODEL]):
            notice = self.subentry.data.get(CONF_MEMORY_NOTICE, DEFAULT_MEMORY_NOTICE)
            tools = memory_tools(store)
            if chat_log.llm_api is None:
                api = MemoryAPI(
                    hass=self.hass,
                    id=memory_api_id(self.entry.entry_id),
                    name=f"{self.entry.title} memory",
                    store=store,
                )
                chat_log.llm_api = llm.APIInstance(api, "", llm_context, tools)
            else:
                chat_log.llm_api.tools.extend(tools)
        return memory_prompt(offered, user_input.language, notice) or None

    async def _async_answer(
        self,
        chat_log: conversation.ChatLog,
        speaker: AnswerSpeaker,
        language: str,
        remembered: str | None = None,
    ) -> None:
        """Stream the model's answer into the chat log and the mirror; tools run in a loop."""
        if await async_stream_answer(
            self.brain,
            self.subentry.data,
            chat_log,
            self.entity_id,
            speaker.feed,
            memory_prompt=remembered,
        ):
            return
        text = line("too_many_steps", language)
        chat_log.async_add_assistant_content_without_tools(
            conversation.AssistantContent(agent_id=self.entity_id, content=text)
        )
        speaker.say_now(text)

    async def _async_problem_result(
        self,
        user_input: conversation.ConversationInput,
        chat_log: conversation.ChatLog,
        speaker: AnswerSpeaker,
        err: BrainError,
    ) -> conversation.ConversationResult:
        """Say what is wrong, in the user's language, as the answer."""
        _LOGGER.debug("Answering with the %s line: %s", err.problem, err)
        text = line(_PROBLEM_LINES[err.problem], user_input.language, model=err.model or "")
        speaker.say_now(text)
        response = intent.IntentResponse(language=user_input.language)
        response.async_set_error(intent.IntentResponseErrorCode.UNKNOWN, text)
        return conversation.ConversationResult(
            response=response, conversation_id=chat_log.conversation_id
        )
