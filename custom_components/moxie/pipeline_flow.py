"""The pipeline step: Wyoming speech-to-text and text-to-speech for Moxie's Assist pipeline.

Shown in the config flow after the brain step, and as Moxie's options (Configure) to create or
change the pipeline later.
"""

from __future__ import annotations

from typing import Any

from homeassistant.config_entries import ConfigEntryState, ConfigFlowResult, OptionsFlow
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.selector import (
    BooleanSelector,
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
)
import probatio as vol

from .const import CONF_LANGUAGE, DEFAULT_LANGUAGE
from .models import MoxieConfigEntry
from .pipeline import (
    CONF_PIPELINE,
    PipelineSettings,
    agent_entity_id,
    default_voice,
    engine_language,
    tts_voices,
    wyoming_engines,
)
from .satellite_flow import mic_schema, validate_mic

CONF_CREATE = "create_pipeline"
CONF_STT = "stt_engine"
CONF_TTS = "tts_engine"
CONF_VOICE = "tts_voice"
CONF_PREFERRED = "preferred"


@callback
def engines_available(hass: HomeAssistant) -> bool:
    """Whether Wyoming offers both a speech-to-text and a text-to-speech entity."""
    return bool(wyoming_engines(hass, "stt", "*") and wyoming_engines(hass, "tts", "*"))


def _engine_options(hass: HomeAssistant, domain: str, language: str) -> list[SelectOptionDict]:
    options = []
    for entity_id in wyoming_engines(hass, domain, language):
        state = hass.states.get(entity_id)
        name = state.name if state else entity_id
        options.append(SelectOptionDict(value=entity_id, label=f"{name} ({entity_id})"))
    return options


@callback
def pipeline_schema(
    hass: HomeAssistant,
    language: str,
    current: dict[str, Any] | None,
    *,
    ask_create: bool,
) -> vol.Schema:
    """Return the form: engines (those that speak language first), voice, preferred."""
    current = current or {}
    stt_options = _engine_options(hass, "stt", language)
    tts_options = _engine_options(hass, "tts", language)
    stt_default = current.get(CONF_STT) or stt_options[0]["value"]
    tts_default = current.get(CONF_TTS) or tts_options[0]["value"]
    voice_default = current.get(CONF_VOICE) or default_voice(hass, tts_default, language)
    voices = [
        SelectOptionDict(value=voice.voice_id, label=voice.name)
        for voice in tts_voices(hass, tts_default, language)
    ]
    schema: dict[Any, Any] = {}
    if ask_create:
        schema[vol.Required(CONF_CREATE, default=current.get(CONF_CREATE, True))] = (
            BooleanSelector()
        )
    schema |= {
        vol.Required(CONF_STT, default=stt_default): SelectSelector(
            SelectSelectorConfig(options=stt_options, mode=SelectSelectorMode.DROPDOWN)
        ),
        vol.Required(CONF_TTS, default=tts_default): SelectSelector(
            SelectSelectorConfig(options=tts_options, mode=SelectSelectorMode.DROPDOWN)
        ),
        vol.Optional(CONF_VOICE, description={"suggested_value": voice_default}): SelectSelector(
            SelectSelectorConfig(
                options=voices, custom_value=True, mode=SelectSelectorMode.DROPDOWN
            )
        ),
        vol.Required(CONF_PREFERRED, default=current.get(CONF_PREFERRED, False)): (
            BooleanSelector()
        ),
    }
    return vol.Schema(schema)


@callback
def validate_pipeline(
    hass: HomeAssistant, language: str, user_input: dict[str, Any]
) -> tuple[PipelineSettings | None, dict[str, str]]:
    """Return the settings chosen (None: no pipeline) and the form's errors."""
    if not user_input.get(CONF_CREATE, True):
        return None, {}
    errors: dict[str, str] = {}
    stt_engine = str(user_input[CONF_STT])
    tts_engine = str(user_input[CONF_TTS])
    if engine_language(hass, "stt", stt_engine, language) is None:
        errors[CONF_STT] = "language_unsupported"
    if engine_language(hass, "tts", tts_engine, language) is None:
        errors[CONF_TTS] = "language_unsupported"
    voice = str(user_input.get(CONF_VOICE) or "").strip() or None
    if (
        voice is not None
        and CONF_TTS not in errors
        and voice not in {v.voice_id for v in tts_voices(hass, tts_engine, language)}
    ):
        errors[CONF_VOICE] = "invalid_voice"
    settings = PipelineSettings(
        stt_engine=stt_engine,
        tts_engine=tts_engine,
        tts_voice=voice,
        preferred=bool(user_input.get(CONF_PREFERRED, False)),
    )
    return settings, errors


async def async_apply_pipeline(
    hass: HomeAssistant,
    entry: MoxieConfigEntry,
    data: dict[str, Any],
    settings: PipelineSettings | None,
) -> dict[str, Any]:
    """Return the entry data to save after the reconfigure step chose settings.

    None (unchecked) keeps the pipeline as it is. When Moxie is loaded and has its agent, the
    pipeline is created or updated now; otherwise the settings are saved and the pipeline is
    created when the entry loads again.
    """
    data = {key: value for key, value in data.items() if key != CONF_PIPELINE}
    current = entry.data.get(CONF_PIPELINE)
    if settings is not None and (
        entry.state is ConfigEntryState.LOADED
        and (pipeline := entry.runtime_data.pipeline) is not None
        and agent_entity_id(hass, entry) is not None
    ):
        await pipeline.async_apply(settings)
        current = entry.data.get(CONF_PIPELINE)
    elif settings is not None:
        current = {**(current or {}), **settings}
    return data | ({CONF_PIPELINE: current} if current else {})


class PipelineOptionsFlow(OptionsFlow):
    """Create or change Moxie's Assist pipeline after the setup."""

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Choose the engines and voice; apply them to the pipeline (created when missing)."""
        entry: MoxieConfigEntry = self.config_entry
        if entry.state is not ConfigEntryState.LOADED or entry.runtime_data.pipeline is None:
            return self.async_abort(reason="entry_not_loaded")
        if agent_entity_id(self.hass, entry) is None:
            return self.async_abort(reason="no_agent")
        if not engines_available(self.hass):
            return self.async_abort(reason="no_wyoming")
        language = entry.data.get(CONF_LANGUAGE, DEFAULT_LANGUAGE)
        errors: dict[str, str] = {}
        if user_input is not None:
            settings, errors = validate_pipeline(self.hass, language, user_input)
            mic, mic_errors = validate_mic(user_input)
            errors |= mic_errors
            if settings is not None and not errors:
                await entry.runtime_data.pipeline.async_apply(settings)
                return self.async_create_entry(data={**entry.options, **mic})
        # "Preferred" is an action of this form, not a state: it starts unchecked.
        current = user_input or {
            key: value
            for key, value in (entry.runtime_data.pipeline.settings or {}).items()
            if key != CONF_PREFERRED
        }
        return self.async_show_form(
            step_id="init",
            data_schema=pipeline_schema(self.hass, language, current, ask_create=False).extend(
                mic_schema(user_input or entry.options)
            ),
            errors=errors,
        )
