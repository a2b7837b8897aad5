"""Config flow for Moxie: name, MQTT base topic and language, Ollama, the pipeline; reconfigure.

Also Supervisor discovery (`async_step_hassio`): the Moxie speaker add-on announces its microphone
(service `moxie`); confirmed, it becomes an existing Moxie's ears, or the setup of a new Moxie
starts with it.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from homeassistant.components import mqtt
from homeassistant.config_entries import (
    ConfigEntry,
    ConfigFlow,
    ConfigFlowResult,
    ConfigSubentry,
    ConfigSubentryData,
    ConfigSubentryFlow,
    OptionsFlow,
)
from homeassistant.const import CONF_API_KEY, CONF_NAME, CONF_URL
from homeassistant.core import callback
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers.selector import (
    LanguageSelector,
    LanguageSelectorConfig,
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)
from homeassistant.helpers.service_info.hassio import HassioServiceInfo
import probatio as vol

from .agent_flow import AgentSubentryFlow, agent_defaults, default_title
from .brain import BrainError, async_validate
from .const import (
    CONF_BARGE_IN,
    CONF_BASE_TOPIC,
    CONF_LANGUAGE,
    CONF_MIC_HOST,
    CONF_MIC_PORT,
    DEFAULT_BASE_TOPIC,
    DEFAULT_LANGUAGE,
    DEFAULT_MODEL,
    DEFAULT_NAME,
    DEFAULT_URL,
    DOMAIN,
    LANGUAGES,
    SUBENTRY_AGENT,
    SUBENTRY_AI_TASK,
)
from .options_flow import MoxieOptionsFlow
from .pipeline import CONF_PIPELINE, PipelineSettings
from .pipeline_flow import async_pipeline_step, engines_available
from .satellite_flow import validate_mic

CONF_ENTRY = "entry"

REAUTH_SCHEMA = vol.Schema(
    {
        vol.Optional(CONF_API_KEY): TextSelector(
            TextSelectorConfig(type=TextSelectorType.PASSWORD)
        ),
    }
)
BRAIN_SCHEMA = vol.Schema(
    {
        vol.Optional(CONF_URL): TextSelector(TextSelectorConfig(type=TextSelectorType.URL)),
        vol.Optional(CONF_API_KEY): TextSelector(
            TextSelectorConfig(type=TextSelectorType.PASSWORD)
        ),
    }
)


def _schema(defaults: dict[str, Any]) -> vol.Schema:
    return vol.Schema(
        {
            vol.Required(CONF_NAME, default=defaults.get(CONF_NAME, DEFAULT_NAME)): TextSelector(),
            vol.Required(
                CONF_BASE_TOPIC, default=defaults.get(CONF_BASE_TOPIC, DEFAULT_BASE_TOPIC)
            ): TextSelector(),
            vol.Required(
                CONF_LANGUAGE, default=defaults.get(CONF_LANGUAGE, DEFAULT_LANGUAGE)
            ): LanguageSelector(LanguageSelectorConfig(languages=LANGUAGES)),
        }
    )


def _normalize(user_input: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Clean the form's values; return them with the form's errors."""
    errors: dict[str, str] = {}
    data = dict(user_input)
    data[CONF_NAME] = str(data[CONF_NAME]).strip()
    data[CONF_BASE_TOPIC] = str(data[CONF_BASE_TOPIC]).strip().strip("/")
    if not data[CONF_NAME]:
        errors[CONF_NAME] = "invalid_name"
    topic = data[CONF_BASE_TOPIC]
    try:
        mqtt.valid_publish_topic(f"{topic}/tts/text")
    except vol.Invalid:
        errors[CONF_BASE_TOPIC] = "invalid_topic"
    else:
        if not topic or any(char in topic for char in "+#"):
            errors[CONF_BASE_TOPIC] = "invalid_topic"
    return data, errors


class MoxieConfigFlow(ConfigFlow, domain=DOMAIN):
    """Set up a Moxie: one entry per MQTT base topic."""

    VERSION = 1
    MINOR_VERSION = 1

    def __init__(self) -> None:
        """Start with nothing entered."""
        self._data: dict[str, Any] = {}
        self._models: list[str] = []
        # Options the new entry starts with: the microphone a discovered add-on offers.
        self._options: dict[str, Any] = {}
        self._addon = ""

    @classmethod
    @callback
    def async_get_supported_subentry_types(
        cls, config_entry: ConfigEntry
    ) -> dict[str, type[ConfigSubentryFlow]]:
        """Moxie's conversation agents and AI tasks are subentries."""
        return {SUBENTRY_AGENT: AgentSubentryFlow, SUBENTRY_AI_TASK: AgentSubentryFlow}

    @staticmethod
    @callback
    def async_get_options_flow(config_entry: ConfigEntry) -> OptionsFlow:
        """Moxie's options: its microphone and its Assist pipeline."""
        return MoxieOptionsFlow()

    async def _async_mqtt_problem(self) -> str | None:
        """Return an abort reason when Home Assistant's MQTT integration is not usable."""
        if not self.hass.config_entries.async_entries(mqtt.DOMAIN):
            return "mqtt_not_configured"
        if not await mqtt.async_wait_for_mqtt_client(self.hass):
            return "mqtt_not_connected"
        return None

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Ask for Moxie's name, base topic and language."""
        if problem := await self._async_mqtt_problem():
            return self.async_abort(reason=problem)
        errors: dict[str, str] = {}
        if user_input is not None:
            data, errors = _normalize(user_input)
            if not errors:
                await self.async_set_unique_id(data[CONF_BASE_TOPIC])
                self._abort_if_unique_id_configured()
                self._data = data
                return await self.async_step_brain()
        return self.async_show_form(
            step_id="user", data_schema=_schema(user_input or {}), errors=errors
        )

    async def async_step_hassio(self, discovery_info: HassioServiceInfo) -> ConfigFlowResult:
        """Offer the microphone announced by the Moxie speaker add-on (discovery `moxie`)."""
        mic, errors = validate_mic(
            {
                CONF_MIC_HOST: discovery_info.config.get("mic_host"),
                CONF_MIC_PORT: discovery_info.config.get("mic_port"),
                # Barge-in only when the add-on cancels Moxie's own voice in the microphone.
                CONF_BARGE_IN: discovery_info.config.get("echo_cancel") is True,
            }
        )
        if errors or not mic.get(CONF_MIC_HOST):
            return self.async_abort(reason="invalid_discovery_info")
        # One offer per add-on: ignoring it silences its later announcements.
        await self.async_set_unique_id(f"hassio_{discovery_info.slug}")
        self._abort_if_unique_id_configured()
        entries = self._async_current_entries(include_ignore=False)
        if any(
            (entry.options.get(CONF_MIC_HOST), entry.options.get(CONF_MIC_PORT))
            == (mic[CONF_MIC_HOST], mic[CONF_MIC_PORT])
            for entry in entries
        ):
            return self.async_abort(reason="already_configured")
        self._options, self._addon = mic, discovery_info.name
        self.context["title_placeholders"] = {"name": discovery_info.name}
        return await self.async_step_hassio_confirm()

    async def async_step_hassio_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Use the add-on's microphone as Moxie's ears: an existing Moxie's, or a new Moxie's."""
        entries = self._async_current_entries(include_ignore=False)
        if user_input is not None:
            if not entries:
                return await self.async_step_user()
            chosen = str(user_input.get(CONF_ENTRY) or entries[0].entry_id)
            entry = next((e for e in entries if e.entry_id == chosen), entries[0])
            # Moxie's satellite reconnects to the new microphone by itself (no reload).
            self.hass.config_entries.async_update_entry(
                entry, options={**entry.options, **self._options}
            )
            return self.async_abort(
                reason="mic_updated", description_placeholders={"name": entry.title}
            )
        schema = vol.Schema({})
        if len(entries) > 1:
            schema = vol.Schema(
                {
                    vol.Required(CONF_ENTRY, default=entries[0].entry_id): SelectSelector(
                        SelectSelectorConfig(
                            options=[
                                SelectOptionDict(value=e.entry_id, label=e.title) for e in entries
                            ]
                        )
                    )
                }
            )
        return self.async_show_form(
            step_id="hassio_confirm",
            data_schema=schema,
            description_placeholders={
                "addon": self._addon,
                "host": self._options[CONF_MIC_HOST],
                "port": str(self._options[CONF_MIC_PORT]),
            },
        )

    async def _async_check_brain(
        self, user_input: dict[str, Any]
    ) -> tuple[dict[str, str] | None, list[str], dict[str, str]]:
        """Check the brain form: return (URL and key to save, installed models, errors).

        An empty URL is valid: it means a Moxie without a brain.
        """
        url = str(user_input.get(CONF_URL) or "").strip()
        api_key = str(user_input.get(CONF_API_KEY) or "").strip()
        if not url:
            return {}, [], {}
        try:
            url = cv.url(url)
        except vol.Invalid:
            return None, [], {"base": "invalid_url"}
        try:
            models = await async_validate(url, api_key or None)
        except BrainError as err:
            return None, [], {"base": str(err.problem)}
        return {CONF_URL: url} | ({CONF_API_KEY: api_key} if api_key else {}), models, {}

    def _first_agent(self, name: str, language: str, models: list[str]) -> ConfigSubentryData:
        """Return the first agent: Moxie's persona with an installed model."""
        model = DEFAULT_MODEL if DEFAULT_MODEL in models or not models else models[0]
        return ConfigSubentryData(
            subentry_type=SUBENTRY_AGENT,
            title=default_title(SUBENTRY_AGENT, name, language),
            data=agent_defaults(self.hass, language, model),
            unique_id=None,
        )

    async def async_step_brain(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Connect Moxie's brain: the Ollama URL (and API key), checked before saving.

        An empty URL creates a Moxie without a brain (speech mirror only). With a URL, the first
        agent is created with Moxie's persona and an installed model.
        """
        errors: dict[str, str] = {}
        if user_input is None:
            user_input = {CONF_URL: DEFAULT_URL}
        else:
            brain, models, errors = await self._async_check_brain(user_input)
            if brain is not None:
                data = self._data | brain
                if brain and engines_available(self.hass):
                    self._data, self._models = data, models
                    return await self.async_step_pipeline()
                return self.async_create_entry(
                    title=data[CONF_NAME],
                    data=data,
                    options=self._options,
                    subentries=[self._first_agent(data[CONF_NAME], data[CONF_LANGUAGE], models)]
                    if brain
                    else [],
                )
        return self.async_show_form(
            step_id="brain",
            data_schema=self.add_suggested_values_to_schema(BRAIN_SCHEMA, user_input),
            errors=errors,
        )

    async def async_step_pipeline(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Choose the Wyoming engines of Moxie's Assist pipeline (created with the entry).

        The same step as in Moxie's options; Wyoming gone since the brain step: no pipeline.
        """
        if not engines_available(self.hass):
            return await self._async_create_with_pipeline(None)
        return await async_pipeline_step(
            self,
            self._data[CONF_LANGUAGE],
            {},
            user_input,
            self._async_create_with_pipeline,
            ask_create=True,
        )

    async def _async_create_with_pipeline(
        self, settings: PipelineSettings | None
    ) -> ConfigFlowResult:
        """Create the entry with its first agent, and the pipeline's settings when chosen."""
        data = self._data | ({CONF_PIPELINE: dict(settings)} if settings else {})
        return self.async_create_entry(
            title=data[CONF_NAME],
            data=data,
            options=self._options,
            subentries=[self._first_agent(data[CONF_NAME], data[CONF_LANGUAGE], self._models)],
        )

    async def async_step_reconfigure_brain(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change (or remove) the Ollama URL and API key of an existing Moxie."""
        entry = self._get_reconfigure_entry()
        errors: dict[str, str] = {}
        if user_input is None:
            user_input = {
                CONF_URL: entry.data.get(CONF_URL, ""),
                CONF_API_KEY: entry.data.get(CONF_API_KEY, ""),
            }
        else:
            brain, models, errors = await self._async_check_brain(user_input)
            if brain is not None:
                data = {
                    key: value
                    for key, value in self._data.items()
                    if key not in (CONF_URL, CONF_API_KEY)
                } | brain
                if brain and not any(
                    s.subentry_type == SUBENTRY_AGENT for s in entry.subentries.values()
                ):
                    agent = self._first_agent(data[CONF_NAME], data[CONF_LANGUAGE], models)
                    self.hass.config_entries.async_add_subentry(
                        entry,
                        ConfigSubentry(
                            data=MappingProxyType(agent["data"]),
                            subentry_type=agent["subentry_type"],
                            title=agent["title"],
                            unique_id=None,
                        ),
                    )
                # Moxie's pipeline is created or changed in its options (Configure).
                return self.async_update_reload_and_abort(
                    entry, unique_id=data[CONF_BASE_TOPIC], title=data[CONF_NAME], data=data
                )
        return self.async_show_form(
            step_id="reconfigure_brain",
            data_schema=self.add_suggested_values_to_schema(BRAIN_SCHEMA, user_input),
            errors=errors,
        )

    async def async_step_reauth(self, entry_data: Mapping[str, Any]) -> ConfigFlowResult:
        """Ollama refused the API key: ask for it again."""
        return await self.async_step_reauth_confirm()

    async def async_step_reauth_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Check the new API key against the entry's Ollama URL, then save it."""
        entry = self._get_reauth_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            brain, _models, errors = await self._async_check_brain(
                {CONF_URL: entry.data[CONF_URL], CONF_API_KEY: user_input.get(CONF_API_KEY)}
            )
            if brain is not None:
                data = {k: v for k, v in entry.data.items() if k != CONF_API_KEY} | brain
                return self.async_update_reload_and_abort(entry, data=data)
        return self.async_show_form(
            step_id="reauth_confirm",
            data_schema=REAUTH_SCHEMA,
            description_placeholders={"url": entry.data[CONF_URL]},
            errors=errors,
        )

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change name, base topic or language of an existing Moxie."""
        entry = self._get_reconfigure_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            data, errors = _normalize(user_input)
            if not errors:
                await self.async_set_unique_id(data[CONF_BASE_TOPIC])
                if data[CONF_BASE_TOPIC] != entry.unique_id:
                    self._abort_if_unique_id_configured()
                self._data = {**entry.data, **data}
                return await self.async_step_reconfigure_brain()
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=_schema(user_input or dict(entry.data)),
            errors=errors,
        )
