"""The agent and AI task subentry flow: model (pulled when missing), persona, control, tuning."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
import logging
from typing import Any

from homeassistant.config_entries import ConfigEntryState, ConfigSubentryFlow, SubentryFlowResult
from homeassistant.const import CONF_LLM_HASS_API, CONF_MODEL, CONF_NAME, CONF_PROMPT
from homeassistant.core import HomeAssistant
from homeassistant.helpers import llm
from homeassistant.helpers.selector import (
    BooleanSelector,
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
    TemplateSelector,
    TextSelector,
)
import probatio as vol

from .brain import Brain, BrainError, async_list_models
from .const import (
    CONF_KEEP_ALIVE,
    CONF_LANGUAGE,
    CONF_MAX_HISTORY,
    CONF_NUM_CTX,
    CONF_SPEAKER_PLAYBACK,
    CONF_TAKEOVER_MINUTES,
    CONF_THINK,
    DEFAULT_AGENT_TITLES,
    DEFAULT_AI_TASK_TITLES,
    DEFAULT_KEEP_ALIVE,
    DEFAULT_LANGUAGE,
    DEFAULT_MAX_HISTORY,
    DEFAULT_MODEL,
    DEFAULT_NUM_CTX,
    DEFAULT_SPEAKER_PLAYBACK,
    DEFAULT_TAKEOVER_MINUTES,
    DEFAULT_THINK,
    MIN_NUM_CTX,
    PLAYBACK_OPTIONS,
    SUBENTRY_AGENT,
)
from .memory import (
    CONF_MEMORY_NOTICE,
    CONF_MEMORY_RETENTION_DAYS,
    DEFAULT_MEMORY_NOTICE,
    DEFAULT_MEMORY_RETENTION_DAYS,
    NOTICE_OPTIONS,
)
from .models import MoxieConfigEntry
from .persona import base_language, persona_prompt

_LOGGER = logging.getLogger(__name__)

# Offered after the installed models: small models that follow a persona and call tools well.
SUGGESTED_MODELS = [
    "qwen3:4b-instruct",
    "qwen3:8b",
    "llama3.2:3b",
    "gemma3:4b",
    "mistral-nemo:latest",
]


def installed(model: str, models: list[str]) -> bool:
    """Whether model (with or without its `:latest` tag) is installed."""
    return model in models or (":" not in model and f"{model}:latest" in models)


def default_title(subentry_type: str, name: str, language: str) -> str:
    """Return the default title of a new agent or AI task of the Moxie called name."""
    titles = DEFAULT_AGENT_TITLES if subentry_type == SUBENTRY_AGENT else DEFAULT_AI_TASK_TITLES
    return titles.get(base_language(language), titles["en"]).format(name=name)


def free_title(wanted: str, taken: set[str]) -> str:
    """Return wanted, or wanted with the first number that makes it unused (case-insensitive)."""
    used = {title.casefold() for title in taken}
    title, number = wanted, 2
    while title.casefold() in used:
        title, number = f"{wanted} {number}", number + 1
    return title


def agent_defaults(hass: HomeAssistant, language: str, model: str) -> dict[str, Any]:
    """Return the options of a new agent: Moxie's persona, Home Assistant control and defaults."""
    return {
        CONF_MODEL: model,
        CONF_PROMPT: persona_prompt(language),
        CONF_LLM_HASS_API: [llm.LLM_API_ASSIST]
        if any(api.id == llm.LLM_API_ASSIST for api in llm.async_get_apis(hass))
        else [],
        CONF_MAX_HISTORY: DEFAULT_MAX_HISTORY,
        CONF_KEEP_ALIVE: DEFAULT_KEEP_ALIVE,
        CONF_NUM_CTX: DEFAULT_NUM_CTX,
        CONF_THINK: DEFAULT_THINK,
        CONF_TAKEOVER_MINUTES: DEFAULT_TAKEOVER_MINUTES,
        CONF_SPEAKER_PLAYBACK: DEFAULT_SPEAKER_PLAYBACK,
        CONF_MEMORY_NOTICE: DEFAULT_MEMORY_NOTICE,
        CONF_MEMORY_RETENTION_DAYS: DEFAULT_MEMORY_RETENTION_DAYS,
    }


def task_defaults(model: str) -> dict[str, Any]:
    """Return the options of a new AI task: the model and its tuning."""
    return {
        CONF_MODEL: model,
        CONF_KEEP_ALIVE: DEFAULT_KEEP_ALIVE,
        CONF_NUM_CTX: DEFAULT_NUM_CTX,
        CONF_THINK: DEFAULT_THINK,
    }


def _box(minimum: float, maximum: float | None = None) -> NumberSelector:
    config = NumberSelectorConfig(min=minimum, step=1, mode=NumberSelectorMode.BOX)
    if maximum is not None:
        config["max"] = maximum
    return NumberSelector(config)


def agent_schema(
    hass: HomeAssistant,
    options: Mapping[str, Any],
    models: list[str],
    *,
    title: str | None = None,
    subentry_type: str = SUBENTRY_AGENT,
) -> vol.Schema:
    """Return the agent (or AI task) form, with options as suggested values."""
    is_agent = subentry_type == SUBENTRY_AGENT
    model_options = [SelectOptionDict(label=f"{model} ✓", value=model) for model in models] + [
        SelectOptionDict(label=model, value=model)
        for model in SUGGESTED_MODELS
        if not installed(model, models)
    ]
    apis = llm.async_get_apis(hass)
    valid_apis = {api.id for api in apis}

    def suggested(key: str) -> dict[str, Any]:
        value = options.get(key)
        if key == CONF_LLM_HASS_API:
            value = [api for api in value or [] if api in valid_apis]
        return {"suggested_value": value}

    schema: dict[Any, Any] = {}
    if title is not None:
        schema[vol.Required(CONF_NAME, default=title)] = TextSelector()
    schema[vol.Required(CONF_MODEL, description=suggested(CONF_MODEL))] = SelectSelector(
        SelectSelectorConfig(options=model_options, custom_value=True)
    )
    if is_agent:
        schema |= {
            vol.Optional(CONF_PROMPT, description=suggested(CONF_PROMPT)): TemplateSelector(),
            vol.Optional(
                CONF_LLM_HASS_API, description=suggested(CONF_LLM_HASS_API)
            ): SelectSelector(
                SelectSelectorConfig(
                    options=[SelectOptionDict(label=api.name, value=api.id) for api in apis],
                    multiple=True,
                )
            ),
            vol.Optional(CONF_MAX_HISTORY, description=suggested(CONF_MAX_HISTORY)): _box(0, 1000),
        }
    schema |= {
        vol.Optional(CONF_KEEP_ALIVE, description=suggested(CONF_KEEP_ALIVE)): _box(-1),
        vol.Optional(CONF_NUM_CTX, description=suggested(CONF_NUM_CTX)): _box(MIN_NUM_CTX),
        vol.Optional(CONF_THINK, description=suggested(CONF_THINK)): BooleanSelector(),
    }
    if is_agent:
        schema[
            vol.Optional(CONF_TAKEOVER_MINUTES, description=suggested(CONF_TAKEOVER_MINUTES))
        ] = _box(1, 1440)
        playback = options.get(CONF_SPEAKER_PLAYBACK, DEFAULT_SPEAKER_PLAYBACK)
        schema[vol.Optional(CONF_SPEAKER_PLAYBACK, description={"suggested_value": playback})] = (
            SelectSelector(
                SelectSelectorConfig(
                    options=PLAYBACK_OPTIONS, translation_key=CONF_SPEAKER_PLAYBACK
                )
            )
        )
        notice = options.get(CONF_MEMORY_NOTICE, DEFAULT_MEMORY_NOTICE)
        schema[vol.Optional(CONF_MEMORY_NOTICE, description={"suggested_value": notice})] = (
            SelectSelector(
                SelectSelectorConfig(options=NOTICE_OPTIONS, translation_key=CONF_MEMORY_NOTICE)
            )
        )
        retention = options.get(CONF_MEMORY_RETENTION_DAYS, DEFAULT_MEMORY_RETENTION_DAYS)
        schema[
            vol.Optional(CONF_MEMORY_RETENTION_DAYS, description={"suggested_value": retention})
        ] = _box(0, 3650)
    return vol.Schema(schema)


class AgentSubentryFlow(ConfigSubentryFlow):
    """Add or reconfigure one of Moxie's conversation agents or AI tasks."""

    def __init__(self) -> None:
        """Start with nothing chosen."""
        super().__init__()
        self._title = ""
        self._options: dict[str, Any] = {}
        self._pull_task: asyncio.Task[None] | None = None
        self._pull_error: BrainError | None = None

    @property
    def _is_new(self) -> bool:
        return self.source == "user"

    def _taken_titles(self) -> set[str]:
        """Titles of the entry's agents and AI tasks, and the Moxie's own name."""
        entry: MoxieConfigEntry = self._get_entry()
        return {subentry.title for subentry in entry.subentries.values()} | {entry.title}

    def _proposed_title(self) -> str:
        """Return a free, self-explaining title for a new agent or AI task."""
        entry: MoxieConfigEntry = self._get_entry()
        language = entry.data.get(CONF_LANGUAGE, DEFAULT_LANGUAGE)
        wanted = default_title(self._subentry_type, entry.title, language)
        return free_title(wanted, self._taken_titles())

    def _brain(self) -> Brain | None:
        entry: MoxieConfigEntry = self._get_entry()
        return entry.runtime_data.brain

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> SubentryFlowResult:
        """Add an agent."""
        return await self.async_step_set_options(user_input)

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Change an agent."""
        return await self.async_step_set_options(user_input)

    async def async_step_set_options(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Choose the model and the agent's options."""
        entry: MoxieConfigEntry = self._get_entry()
        if entry.state is not ConfigEntryState.LOADED:
            return self.async_abort(reason="entry_not_loaded")
        if (brain := self._brain()) is None:
            return self.async_abort(reason="no_brain")
        try:
            models = await async_list_models(brain.client)
        except BrainError as err:
            _LOGGER.warning("Cannot list the models of Ollama at %s: %s", brain.url, err)
            return self.async_abort(reason=str(err.problem))

        errors: dict[str, str] = {}
        if user_input is not None and self._is_new:
            title = str(user_input.get(CONF_NAME, "")).strip()
            if not title:
                errors[CONF_NAME] = "invalid_name"
            elif title.casefold() in {t.casefold() for t in self._taken_titles()}:
                errors[CONF_NAME] = "name_in_use"
        if user_input is None or errors:
            if user_input is not None:
                options = dict(user_input)
            elif self._is_new:
                language = entry.data.get(CONF_LANGUAGE, DEFAULT_LANGUAGE)
                model = next((m for m in models if m == DEFAULT_MODEL), None) or (
                    models[0] if models else DEFAULT_MODEL
                )
                options = (
                    agent_defaults(self.hass, language, model)
                    if self._subentry_type == SUBENTRY_AGENT
                    else task_defaults(model)
                )
            else:
                options = dict(self._get_reconfigure_subentry().data)
            return self.async_show_form(
                step_id="set_options",
                data_schema=agent_schema(
                    self.hass,
                    options,
                    models,
                    title=self._proposed_title() if self._is_new else None,
                    subentry_type=self._subentry_type,
                ),
                errors=errors,
            )

        options = dict(user_input)
        if self._is_new:
            self._title = str(options.pop(CONF_NAME)).strip()
        options[CONF_MODEL] = str(options[CONF_MODEL]).strip()
        self._options = options
        if not installed(options[CONF_MODEL], models):
            return await self.async_step_download()
        return self._async_done()

    async def async_step_download(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Pull the missing model, showing its progress."""
        model = self._options[CONF_MODEL]
        if self._pull_task is None:
            self._pull_task = self.hass.async_create_background_task(
                self._async_pull(model), f"Moxie pulls {model}"
            )
        if not self._pull_task.done():
            return self.async_show_progress(
                step_id="download",
                progress_action="download",
                progress_task=self._pull_task,
                description_placeholders={"model": model},
            )
        if self._pull_error is not None:
            return self.async_show_progress_done(next_step_id="download_failed")
        return self.async_show_progress_done(next_step_id="finish")

    async def _async_pull(self, model: str) -> None:
        """Pull model through Ollama, reporting the share of bytes received."""
        brain = self._brain()
        assert brain is not None
        try:
            await brain.async_pull(model, self.async_update_progress)
        except BrainError as err:
            self._pull_error = err
            _LOGGER.warning("Pulling %s failed: %s", model, err)

    async def async_step_download_failed(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Tell that the pull failed."""
        assert self._pull_error is not None
        return self.async_abort(
            reason="download_failed",
            description_placeholders={
                "model": self._options[CONF_MODEL],
                "error": str(self._pull_error),
            },
        )

    async def async_step_finish(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Save the agent once its model is there."""
        return self._async_done()

    def _async_done(self) -> SubentryFlowResult:
        """Save, then reload the entry once so the new or changed entities follow."""
        entry = self._get_entry()
        if self._is_new:
            # Home Assistant adds the subentry right after this step returns, before the
            # scheduled reload runs; without an update listener nothing else reloads.
            self.hass.config_entries.async_schedule_reload(entry.entry_id)
            return self.async_create_entry(title=self._title, data=self._options)
        return self.async_update_reload_and_abort(
            entry, self._get_reconfigure_subentry(), data=self._options
        )
