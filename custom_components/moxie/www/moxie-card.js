/*
 * The Moxie card: Moxie's status, what Moxie is saying now, the recent conversation (questions
 * with their answers, Puppet lines, announcements, outside speech), a Puppet box, stop and
 * volume, and the Puppet takeover. Served by the Moxie integration; no build step, no framework.
 * Data: the websocket subscription `moxie/conversation/subscribe` and the entities it names.
 * The conversation is for administrators: other users get the entities from `moxie/card/get`
 * and see the status and controls, with a note where the conversation would be.
 * Administrators also see Moxie's memory (`moxie/memory/subscribe`): every memory by person,
 * with when it was learned and last used, to correct, delete, or erase all of a person's.
 */

const STRINGS = {
  en: {
    name: "Moxie",
    description: "Moxie's status, conversation, Puppet and controls.",
    status: {
      idle: "Idle",
      listening: "Listening",
      thinking: "Thinking",
      speaking: "Speaking",
      unavailable: "Unavailable",
      unknown: "Unknown",
    },
    saying: "Saying now",
    conversation: "Conversation",
    empty: "Nothing said yet.",
    asked: "Question",
    answered: "Moxie",
    sources: {
      assistant: "Answer",
      puppet: "Puppet",
      action: "Action",
      satellite: "Voice assistant",
      announcement: "Announcement",
      automation: "Automation",
      script: "Script",
      external: "From outside",
    },
    puppetLabel: "Say as Moxie (Puppet)",
    puppetPlaceholder: "Type what Moxie says and press Enter",
    send: "Send",
    stop: "Stop",
    stopClear: "Stop and clear the queue",
    volume: "Volume",
    takeover: (until) => `The Puppet has the conversation until ${until}`,
    endTakeover: "Give it back to Moxie",
    notKept: "This conversation is not kept after a restart.",
    noMoxie: "No Moxie found. Set up the Moxie integration first.",
    adminOnly: "Only an administrator can see Moxie's conversation.",
    editorDevice: "Moxie",
    editorAuto: "The only Moxie",
    askedVia: "asked via",
    today: "today",
    yesterday: "yesterday",
    memories: "What Moxie remembers",
    noMemories: "Moxie remembers nothing yet.",
    memoryOff: "Moxie's memory is off (keep memories: 0 days in its brain's options).",
    household: "The whole household",
    someone: "Someone",
    learned: "learned",
    used: "last used",
    notUsed: "not used yet",
    until: "until",
    edit: "Edit",
    save: "Save",
    cancel: "Cancel",
    forget: "Delete",
    eraseAll: (who) => `Erase all of ${who}`,
    sure: "Tap again to erase everything",
  },
  es: {
    name: "Moxie",
    description: "Estado de Moxie, conversación, marioneta y controles.",
    status: {
      idle: "En reposo",
      listening: "Escuchando",
      thinking: "Pensando",
      speaking: "Hablando",
      unavailable: "No disponible",
      unknown: "Desconocido",
    },
    saying: "Está diciendo",
    conversation: "Conversación",
    empty: "Todavía no ha dicho nada.",
    asked: "Pregunta",
    answered: "Moxie",
    sources: {
      assistant: "Respuesta",
      puppet: "Marioneta",
      action: "Acción",
      satellite: "Asistente de voz",
      announcement: "Anuncio",
      automation: "Automatización",
      script: "Script",
      external: "Desde fuera",
    },
    puppetLabel: "Hablar como Moxie (marioneta)",
    puppetPlaceholder: "Escribe lo que dice Moxie y pulsa Intro",
    send: "Enviar",
    stop: "Parar",
    stopClear: "Parar y vaciar la cola",
    volume: "Volumen",
    takeover: (until) => `La marioneta lleva la conversación hasta las ${until}`,
    endTakeover: "Devolvérsela a Moxie",
    notKept: "Esta conversación no se guarda al reiniciar.",
    noMoxie: "No hay ningún Moxie. Configura primero la integración Moxie.",
    adminOnly: "Solo un administrador puede ver la conversación de Moxie.",
    editorDevice: "Moxie",
    editorAuto: "El único Moxie",
    askedVia: "desde",
    today: "hoy",
    yesterday: "ayer",
    memories: "Lo que Moxie recuerda",
    noMemories: "Moxie todavía no recuerda nada.",
    memoryOff: "La memoria de Moxie está desactivada (guardar recuerdos: 0 días en las opciones de su cerebro).",
    household: "Toda la casa",
    someone: "Alguien",
    learned: "aprendido",
    used: "usado",
    notUsed: "sin usar todavía",
    until: "hasta",
    edit: "Editar",
    save: "Guardar",
    cancel: "Cancelar",
    forget: "Borrar",
    eraseAll: (who) => `Borrar todo de ${who}`,
    sure: "Pulsa otra vez para borrarlo todo",
  },
};

function language(hass) {
  const lang = (hass && ((hass.locale && hass.locale.language) || hass.language)) || "en";
  return lang.toLowerCase().startsWith("es") ? "es" : "en";
}

/* A small DOM builder: text is always set as text, never parsed as HTML. */
function h(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "class") node.className = value;
    else if (key in node && key !== "list") node[key] = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const FACE = `<svg viewBox="0 0 64 64" aria-hidden="true"><circle cx="32" cy="6" r="4" fill="#ff9f43"/>
<rect x="30.5" y="8" width="3" height="8" fill="#1e8fb0"/><rect x="3" y="26" width="7" height="16" rx="3" fill="#1e8fb0"/>
<rect x="54" y="26" width="7" height="16" rx="3" fill="#1e8fb0"/><rect x="7" y="11" width="50" height="49" rx="19" fill="#4fc3e8"/>
<rect x="13" y="18" width="38" height="36" rx="14" fill="#16213e"/><ellipse cx="23.5" cy="31" rx="4.5" ry="5.5" fill="#7fe7ff"/>
<ellipse cx="40.5" cy="31" rx="4.5" ry="5.5" fill="#7fe7ff"/><path d="M26 42 q6 5 12 0" stroke="#7fe7ff" stroke-width="2.5" fill="none" stroke-linecap="round"/></svg>`;

const STYLE = `
  :host { display: block; }
  ha-card, .card { padding: 16px; box-sizing: border-box; }
  .head { display: flex; align-items: center; gap: 12px; flex-wrap: wrap; }
  .face { width: 44px; height: 44px; flex: none; }
  .face svg { width: 100%; height: 100%; }
  .title { font-size: 1.25em; font-weight: 600; flex: 1; min-width: 6em; }
  .status { border-radius: 999px; padding: 4px 12px; font-weight: 600; font-size: 0.9em;
    background: var(--secondary-background-color, #eee); color: var(--primary-text-color); }
  .status.speaking { background: #4fc3e8; color: #16213e; }
  .status.thinking, .status.listening { background: #ffe3b3; color: #5a3b00; }
  .status.unavailable { background: var(--error-color, #db4437); color: #fff; }
  .now { margin-top: 12px; padding: 10px 12px; border-radius: 12px; background: #16213e; color: #7fe7ff; }
  .now .label { font-size: 0.75em; text-transform: uppercase; letter-spacing: 0.05em; opacity: 0.8; }
  .takeover { margin-top: 12px; padding: 10px 12px; border-radius: 12px; display: flex; gap: 8px;
    align-items: center; flex-wrap: wrap; background: #fff1e0; color: #5a3b00; }
  .takeover span { flex: 1; min-width: 12em; }
  h3, h4 { margin: 16px 0 8px; font-size: 1em; font-weight: 600; }
  .log { display: flex; flex-direction: column; gap: 8px; max-height: 420px; overflow-y: auto;
    padding-right: 2px; }
  .turn { display: flex; flex-direction: column; gap: 4px; }
  .bubble { border-radius: 14px; padding: 8px 12px; max-width: 85%; word-wrap: break-word;
    white-space: pre-wrap; line-height: 1.35; }
  .q { align-self: flex-end; background: var(--primary-color, #03a9f4); color: var(--text-primary-color, #fff);
    border-bottom-right-radius: 4px; }
  .a { align-self: flex-start; background: var(--secondary-background-color, #eef3f6);
    color: var(--primary-text-color, #222); border-bottom-left-radius: 4px; }
  .meta { font-size: 0.75em; color: var(--secondary-text-color, #666); }
  .meta.right { align-self: flex-end; }
  .tag { display: block; width: fit-content; font-size: 0.72em; font-weight: 600; border-radius: 6px;
    padding: 1px 6px; margin-bottom: 3px; background: #4fc3e8; color: #16213e; }
  .bubble.long:not(.open) .body { display: -webkit-box; -webkit-line-clamp: 6; -webkit-box-orient: vertical;
    overflow: hidden; }
  .bubble.long { cursor: pointer; }
  .tag.puppet { background: #ffb86b; }
  .tag.action, .tag.automation, .tag.script { background: #c9b6ff; }
  .tag.external { background: #cfd8dc; }
  .empty { color: var(--secondary-text-color, #666); font-style: italic; }
  .puppet { margin-top: 12px; display: flex; gap: 8px; flex-wrap: wrap; }
  .puppet label { width: 100%; font-size: 0.85em; color: var(--secondary-text-color, #666); }
  .puppet input { flex: 1; min-width: 10em; font: inherit; padding: 8px 10px; border-radius: 10px;
    border: 1px solid var(--divider-color, #ccc); background: var(--card-background-color, #fff);
    color: var(--primary-text-color, #222); }
  button { font: inherit; border: none; border-radius: 10px; padding: 8px 14px; cursor: pointer;
    background: var(--primary-color, #03a9f4); color: var(--text-primary-color, #fff); }
  button.stop, button.stop-clear { background: var(--error-color, #db4437); }
  .controls { margin-top: 12px; display: flex; gap: 12px; align-items: center; flex-wrap: wrap; }
  .controls label { display: flex; align-items: center; gap: 8px; flex: 1; min-width: 10em; }
  .controls input[type=range] { flex: 1; }
  .note { margin-top: 8px; font-size: 0.75em; color: var(--secondary-text-color, #666); }
  .memories { display: flex; flex-direction: column; gap: 12px; }
  .person { border: 1px solid var(--divider-color, #ddd); border-radius: 12px; padding: 8px 10px; }
  .person .who { display: flex; gap: 8px; align-items: center; flex-wrap: wrap; font-weight: 600; }
  .person .who span { flex: 1; min-width: 8em; }
  .memory { display: flex; gap: 8px; align-items: flex-start; flex-wrap: wrap; padding: 6px 0;
    border-top: 1px solid var(--divider-color, #eee); }
  .memory .what { flex: 1; min-width: 10em; }
  .memory .text { white-space: pre-wrap; word-wrap: break-word; }
  .memory input { width: 100%; box-sizing: border-box; font: inherit; padding: 6px 8px; border-radius: 8px;
    border: 1px solid var(--divider-color, #ccc); background: var(--card-background-color, #fff);
    color: var(--primary-text-color, #222); }
  button.small { padding: 4px 10px; font-size: 0.85em; }
  button.forget, button.erase-all { background: var(--error-color, #db4437); }
  button.cancel { background: var(--secondary-background-color, #eee); color: var(--primary-text-color, #222); }
`;

class MoxieCard extends HTMLElement {
  constructor() {
    super();
    this.attachShadow({ mode: "open" });
    this._config = {};
    this._hass = null;
    this._moxie = null;
    this._turns = [];
    this._now = null;
    this._keeps = true;
    this._error = null;
    this._adminOnly = false;
    this._unsubscribe = null;
    this._subscribing = false;
    this._lastKey = "";
    this._stick = true;
    this._memory = null;
    this._memoryUnsubscribe = null;
    this._editing = null;
    this._erasing = null;
  }

  static getConfigElement() {
    return document.createElement("moxie-card-editor");
  }

  static getStubConfig() {
    return {};
  }

  setConfig(config) {
    const changed = this._config.device_id !== (config || {}).device_id;
    this._config = { ...(config || {}) };
    if (changed) this._resubscribe();
  }

  getCardSize() {
    return 8;
  }

  getGridOptions() {
    return { columns: 12, min_columns: 4, rows: "auto" };
  }

  set hass(hass) {
    this._hass = hass;
    if (this._needsData()) this._subscribe();
    const key = this._stateKey();
    if (key !== this._lastKey) this._render();
  }

  get hass() {
    return this._hass;
  }

  connectedCallback() {
    if (this._hass && this._needsData()) this._subscribe();
    this._render();
  }

  disconnectedCallback() {
    this._stop();
  }

  get _t() {
    return STRINGS[language(this._hass)];
  }

  _stateKey() {
    if (!this._hass || !this._moxie) return `${language(this._hass)}|none`;
    const ids = this._entityIds();
    return [language(this._hass), ...ids.map((id) => {
      const state = this._hass.states[id];
      return state ? `${state.state}|${state.attributes.ends_at || ""}` : "-";
    })].join("|");
  }

  _entityIds() {
    const e = (this._moxie && this._moxie.entities) || {};
    return [e.status, e.speaking, e.volume, e.puppet, ...(e.takeover || [])].filter(Boolean);
  }

  /* Subscribed, asking, or (not an administrator) the entities already came: nothing to ask. */
  _needsData() {
    if (this._unsubscribe || this._subscribing) return false;
    return !(this._adminOnly && (this._moxie || this._error));
  }

  _stop() {
    if (this._unsubscribe) {
      const unsubscribe = this._unsubscribe;
      this._unsubscribe = null;
      unsubscribe.then((fn) => fn()).catch(() => {});
    }
    this._stopMemory();
  }

  _stopMemory() {
    if (this._memoryUnsubscribe) {
      const unsubscribe = this._memoryUnsubscribe;
      this._memoryUnsubscribe = null;
      unsubscribe.then((fn) => fn()).catch(() => {});
    }
  }

  /* Administrators: every memory of this Moxie, again after each change. */
  _subscribeMemory() {
    this._stopMemory();
    const message = { type: "moxie/memory/subscribe" };
    if (this._config.device_id) message.device_id = this._config.device_id;
    const subscription = this._hass.connection.subscribeMessage((event) => {
      this._memory = event;
      this._render();
    }, message);
    this._memoryUnsubscribe = subscription;
    subscription.catch(() => {
      this._memoryUnsubscribe = null;
      this._memory = null;
    });
  }

  _memoryCall(message) {
    if (this._config.device_id) message.device_id = this._config.device_id;
    return this._hass.callWS(message);
  }

  _resubscribe() {
    this._stop();
    this._moxie = null;
    this._turns = [];
    this._adminOnly = false;
    if (this._hass) this._subscribe();
  }

  _subscribe() {
    if (!this._hass || !this._hass.connection) return;
    if (this._adminOnly || (this._hass.user && this._hass.user.is_admin === false)) {
      this._loadControls();
      return;
    }
    this._subscribing = true;
    const message = { type: "moxie/conversation/subscribe" };
    if (this._config.device_id) message.device_id = this._config.device_id;
    const subscription = this._hass.connection.subscribeMessage((event) => this._received(event), message);
    this._unsubscribe = subscription;
    subscription
      .then(() => {
        this._error = null;
        this._subscribing = false;
        this._subscribeMemory();
      })
      .catch((err) => {
        this._unsubscribe = null;
        this._subscribing = false;
        if (err && err.code === "unauthorized") {
          this._loadControls();
          return;
        }
        this._error = (err && err.message) || String(err);
        this._render();
      });
  }

  /* Not an administrator: no conversation, only the entities the controls drive. */
  _loadControls() {
    this._adminOnly = true;
    if (this._moxie || this._subscribing) return;
    this._subscribing = true;
    const message = { type: "moxie/card/get" };
    if (this._config.device_id) message.device_id = this._config.device_id;
    this._hass
      .callWS(message)
      .then((moxie) => {
        this._moxie = moxie;
        this._error = null;
      })
      .catch((err) => {
        this._error = (err && err.message) || String(err);
      })
      .finally(() => {
        this._subscribing = false;
        this._render();
      });
  }

  _received(event) {
    if (event.type === "history") {
      this._moxie = event.moxie;
      this._turns = event.turns;
      this._keeps = event.keeps;
    } else if (event.type === "turn") {
      this._turns = [...this._turns, event.turn].slice(-200);
    } else if (event.type === "now") {
      // What the speaker says now, by utterance id; null once it stopped or finished.
      this._now = event.text ? { id: event.id, text: event.text, source: event.source } : null;
    } else if (event.type === "cleared") {
      this._turns = [];
    } else if (event.type === "unloaded") {
      // The entry is reloading: follow the new one.
      this._unsubscribe = null;
      this._stopMemory();
      setTimeout(() => this._resubscribe(), 1500);
      return;
    }
    this._render();
  }

  _state(id) {
    return id && this._hass ? this._hass.states[id] : undefined;
  }

  _clock(iso) {
    const date = new Date(iso);
    if (Number.isNaN(date.getTime())) return "";
    return date.toLocaleTimeString(language(this._hass), { hour: "2-digit", minute: "2-digit" });
  }

  _said(source, text) {
    const long = (text || "").length > 280;
    const bubble = h("div", { class: `bubble a${long ? " long" : ""}` }, this._sourceTag(source), h("span", { class: "body" }, text || "…"));
    if (long) bubble.addEventListener("click", () => bubble.classList.toggle("open"));
    return bubble;
  }

  _time(iso) {
    const date = new Date(iso);
    if (Number.isNaN(date.getTime())) return "";
    const lang = language(this._hass);
    const time = date.toLocaleTimeString(lang, { hour: "2-digit", minute: "2-digit" });
    const today = new Date();
    const yesterday = new Date(today.getTime() - 86400000);
    if (date.toDateString() === today.toDateString()) return `${this._t.today} ${time}`;
    if (date.toDateString() === yesterday.toDateString()) return `${this._t.yesterday} ${time}`;
    return `${date.toLocaleDateString(lang, { day: "numeric", month: "short" })} ${time}`;
  }

  _sourceTag(source) {
    const label = this._t.sources[source] || source;
    return h("span", { class: `tag ${source}`, "data-source": source }, label);
  }

  _turn(turn) {
    const t = this._t;
    if (turn.kind === "question") {
      const who = [turn.device, turn.user].filter(Boolean).join(" · ");
      return h(
        "div",
        { class: "turn", "data-kind": "question" },
        h("div", { class: "bubble q" }, turn.question),
        h("div", { class: "meta right" }, `${t.asked}${who ? ` · ${who}` : ""} · ${this._time(turn.time)}`),
        this._said("assistant", turn.text),
      );
    }
    return h(
      "div",
      { class: "turn", "data-kind": "speech", "data-source": turn.source },
      this._said(turn.source, turn.text),
      h("div", { class: "meta" }, this._time(turn.time)),
    );
  }

  _sendPuppet(input) {
    const text = input.value.trim();
    const entity = this._moxie && this._moxie.entities.puppet;
    if (!text || !entity) return;
    input.value = "";
    this._hass.callService("text", "set_value", { entity_id: entity, value: text });
    this._draft = "";
  }

  _render() {
    if (!this.shadowRoot) return;
    this._lastKey = this._stateKey();
    const t = this._t;
    const root = this.shadowRoot;
    const previousLog = root.querySelector(".log");
    const previousInput = root.querySelector(".puppet input");
    const focused = previousInput && root.activeElement === previousInput;
    const draft = previousInput ? previousInput.value : "";
    const previousEditor = root.querySelector(".memory input");
    const editorFocused = previousEditor && root.activeElement === previousEditor;

    const card = h("ha-card", { class: "card" });
    const body = [];
    if (!this._moxie) {
      body.push(h("div", { class: "empty" }, this._error ? t.noMoxie : "…"));
      root.replaceChildren(h("style", {}, STYLE), card);
      card.append(...body);
      return;
    }
    const entities = this._moxie.entities;
    const statusState = this._state(entities.status);
    const status = statusState ? statusState.state : "unknown";
    const face = h("div", { class: "face" });
    face.innerHTML = FACE;
    body.push(
      h(
        "div",
        { class: "head" },
        face,
        h("div", { class: "title" }, this._moxie.name || t.name),
        h("div", { class: `status ${status}`, "data-status": status }, t.status[status] || status),
      ),
    );

    const speaker = this._state(entities.speaking);
    const speaking = status === "speaking" || (speaker && speaker.state === "on");
    const current = this._now ? this._now.text : speaker && speaker.attributes.current_text;
    if (speaking && current) {
      body.push(h("div", { class: "now" }, h("div", { class: "label" }, t.saying), h("div", { class: "text" }, current)));
    }

    for (const id of entities.takeover || []) {
      const state = this._state(id);
      if (!state || state.state !== "on") continue;
      const ends = state.attributes.ends_at ? this._clock(state.attributes.ends_at) : "";
      body.push(
        h(
          "div",
          { class: "takeover" },
          h("span", {}, t.takeover(ends)),
          h("button", { class: "end-takeover", onclick: () => this._hass.callService("switch", "turn_off", { entity_id: id }) }, t.endTakeover),
        ),
      );
    }

    body.push(h("h3", {}, t.conversation));
    // Newest at the bottom, in view, unless the reader scrolled up to read older turns.
    const log = h("div", {
      class: "log",
      onscroll: () => {
        this._stick = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
      },
    });
    if (this._adminOnly) log.append(h("div", { class: "empty admin-only" }, t.adminOnly));
    else if (this._turns.length === 0) log.append(h("div", { class: "empty" }, t.empty));
    else log.append(...this._turns.map((turn) => this._turn(turn)));
    body.push(log);
    if (!this._keeps && !this._adminOnly) body.push(h("div", { class: "note" }, t.notKept));

    if (entities.puppet) {
      const input = h("input", {
        type: "text",
        maxLength: 255,
        placeholder: t.puppetPlaceholder,
        "aria-label": t.puppetLabel,
        value: draft,
        onkeydown: (ev) => {
          if (ev.key === "Enter" && !ev.isComposing) {
            ev.preventDefault();
            this._sendPuppet(input);
          }
        },
      });
      body.push(
        h(
          "div",
          { class: "puppet" },
          h("label", {}, t.puppetLabel),
          input,
          h("button", { class: "send", onclick: () => this._sendPuppet(input) }, t.send),
        ),
      );
    }

    const controls = h(
      "div",
      { class: "controls" },
      h(
        "button",
        {
          class: "stop",
          onclick: () => this._hass.callService("moxie", "stop", { config_entry_id: this._moxie.entry_id, reason: "card" }),
        },
        t.stop,
      ),
      h(
        "button",
        {
          class: "stop-clear",
          onclick: () =>
            this._hass.callService("moxie", "stop", { config_entry_id: this._moxie.entry_id, reason: "card", clear_queue: true }),
        },
        t.stopClear,
      ),
    );
    const volume = this._state(entities.volume);
    if (volume) {
      const slider = h("input", {
        type: "range",
        min: volume.attributes.min ?? 0,
        max: volume.attributes.max ?? 100,
        step: volume.attributes.step ?? 1,
        value: Number.isNaN(Number(volume.state)) ? 0 : Number(volume.state),
        disabled: volume.state === "unavailable",
        "aria-label": t.volume,
        onchange: (ev) => this._hass.callService("number", "set_value", { entity_id: entities.volume, value: Number(ev.target.value) }),
      });
      controls.append(h("label", { class: "volume" }, t.volume, slider));
    }
    body.push(controls);
    if (!this._adminOnly && this._memory) body.push(...this._memorySection());

    card.append(...body);
    root.replaceChildren(h("style", {}, STYLE), card);
    if (this._stick === false && previousLog) log.scrollTop = previousLog.scrollTop;
    else requestAnimationFrame(() => {
      log.scrollTop = log.scrollHeight;
    });
    if (focused) root.querySelector(".puppet input").focus();
    const editor = root.querySelector(".memory input");
    if (editor && this._editing && (this._editing.focus || editorFocused)) {
      this._editing.focus = false;
      editor.focus();
    }
  }

  _memorySection() {
    const t = this._t;
    const section = [h("h4", { class: "memories-title" }, t.memories)];
    const memories = this._memory.memories || [];
    if (!this._memory.retention_days) section.push(h("div", { class: "note memory-off" }, t.memoryOff));
    if (memories.length === 0) {
      section.push(h("div", { class: "empty no-memories" }, t.noMemories));
      return section;
    }
    const people = new Map();
    for (const memory of memories) {
      if (!people.has(memory.scope)) people.set(memory.scope, []);
      people.get(memory.scope).push(memory);
    }
    const list = h("div", { class: "memories" });
    for (const [scope, own] of people) {
      const first = own[0];
      const who = first.kind === "household" ? t.household : first.who || t.someone;
      const sure = this._erasing === scope;
      list.append(
        h(
          "div",
          { class: "person", "data-scope": scope },
          h(
            "div",
            { class: "who" },
            h("span", {}, who),
            h(
              "button",
              {
                class: "small erase-all",
                onclick: () => {
                  if (!sure) {
                    this._erasing = scope;
                    this._render();
                    return;
                  }
                  this._erasing = null;
                  this._memoryCall({ type: "moxie/memory/clear", scope });
                },
              },
              sure ? t.sure : t.eraseAll(who),
            ),
          ),
          own.map((memory) => this._memoryRow(memory)),
        ),
      );
    }
    section.push(list);
    return section;
  }

  _memoryRow(memory) {
    const t = this._t;
    const editing = this._editing && this._editing.id === memory.id;
    const meta = [
      `${t.learned} ${this._time(memory.created)}`,
      memory.last_used ? `${t.used} ${this._time(memory.last_used)}` : t.notUsed,
    ];
    if (memory.expires) {
      const end = new Date(new Date(memory.expires).getTime() - 1);
      meta.push(`${t.until} ${end.toLocaleDateString(language(this._hass), { day: "numeric", month: "short" })}`);
    }
    const save = () => {
      const text = this._editing.draft.trim();
      this._editing = null;
      if (text && text !== memory.text) this._memoryCall({ type: "moxie/memory/update", memory_id: memory.id, text });
      this._render();
    };
    let what;
    let buttons;
    if (editing) {
      const input = h("input", {
        type: "text",
        maxLength: 300,
        value: this._editing.draft,
        "aria-label": t.edit,
        oninput: (ev) => {
          this._editing.draft = ev.target.value;
        },
        onkeydown: (ev) => {
          if (ev.key === "Enter" && !ev.isComposing) save();
          else if (ev.key === "Escape") {
            this._editing = null;
            this._render();
          }
        },
      });
      what = h("div", { class: "what" }, input);
      buttons = [
        h("button", { class: "small save", onclick: save }, t.save),
        h("button", { class: "small cancel", onclick: () => { this._editing = null; this._render(); } }, t.cancel),
      ];
    } else {
      what = h("div", { class: "what" }, h("div", { class: "text" }, memory.text), h("div", { class: "meta" }, meta.join(" · ")));
      buttons = [
        h("button", { class: "small edit", onclick: () => { this._editing = { id: memory.id, draft: memory.text, focus: true }; this._render(); } }, t.edit),
        h("button", { class: "small forget", onclick: () => this._memoryCall({ type: "moxie/memory/delete", memory_id: memory.id }) }, t.forget),
      ];
    }
    return h("div", { class: "memory", "data-id": memory.id }, what, ...buttons);
  }
}

class MoxieCardEditor extends HTMLElement {
  constructor() {
    super();
    this.attachShadow({ mode: "open" });
    this._config = {};
    this._moxies = null;
  }

  setConfig(config) {
    this._config = { ...(config || {}) };
    this._render();
  }

  set hass(hass) {
    this._hass = hass;
    if (this._moxies === null) {
      this._moxies = [];
      hass.callWS({ type: "moxie/conversation/list" }).then((moxies) => {
        this._moxies = moxies;
        this._render();
      });
    }
    this._render();
  }

  _render() {
    if (!this._hass) return;
    const t = STRINGS[language(this._hass)];
    const select = h(
      "select",
      {
        onchange: (ev) => {
          const config = { ...this._config };
          if (ev.target.value) config.device_id = ev.target.value;
          else delete config.device_id;
          this._config = config;
          this.dispatchEvent(new CustomEvent("config-changed", { detail: { config }, bubbles: true, composed: true }));
        },
      },
      h("option", { value: "" }, t.editorAuto),
      (this._moxies || []).map((moxie) => h("option", { value: moxie.device_id || "", selected: moxie.device_id === this._config.device_id }, moxie.name)),
    );
    this.shadowRoot.replaceChildren(
      h("style", {}, "label{display:flex;flex-direction:column;gap:6px}select{font:inherit;padding:8px;border-radius:8px}"),
      h("label", {}, t.editorDevice, select),
    );
  }
}

if (!customElements.get("moxie-card")) customElements.define("moxie-card", MoxieCard);
if (!customElements.get("moxie-card-editor")) customElements.define("moxie-card-editor", MoxieCardEditor);

window.customCards = window.customCards || [];
if (!window.customCards.some((card) => card.type === "moxie-card")) {
  const t = STRINGS[language({ language: navigator.language })];
  window.customCards.push({
    type: "moxie-card",
    name: t.name,
    description: t.description,
    preview: false,
    documentationURL: "https://github.com/openmoxie-community/moxie-home-assistant#the-moxie-card",
  });
}
