"""The monitor's live page (plain HTML + fetch polling, no build step), in Spanish or English."""

from __future__ import annotations

import html
import json
from string import Template

STRINGS: dict[str, dict[str, str]] = {
    "es": {
        "title": "Altavoz de Moxie",
        "status": "Estado",
        "stop": "Parar",
        "stop_all": "Parar y vaciar la cola",
        "now": "Diciendo",
        "latency": "Última frase: espera en cola / síntesis",
        "queue": "Cola",
        "history": "Últimas 50",
        "priority": "Prioridad",
        "text": "Texto",
        "source": "Origen",
        "received": "Recibida",
        "outcome": "Resultado",
        "started": "Empezó",
        "queue_wait": "Espera en cola (ms)",
        "synthesis": "Síntesis (ms)",
        "audio": "Audio (s)",
        "offline": "sin conexión",
        "locked": "falta el token: abre la página con ?token=…",
        "idle": "en silencio",
        "speaking": "hablando",
        "error": "error",
        "played": "dicha",
        "stopped": "parada",
        "preempted": "interrumpida",
        "cleared": "descartada",
        "failed": "fallida",
        "critical": "crítica",
        "high": "alta",
        "normal": "normal",
    },
    "en": {
        "title": "Moxie speaker",
        "status": "Status",
        "stop": "Stop",
        "stop_all": "Stop and clear the queue",
        "now": "Now speaking",
        "latency": "Last utterance: queue wait / synthesis",
        "queue": "Queue",
        "history": "Last 50",
        "priority": "Priority",
        "text": "Text",
        "source": "Source",
        "received": "Received",
        "outcome": "Outcome",
        "started": "Started",
        "queue_wait": "Queue wait (ms)",
        "synthesis": "Synthesis (ms)",
        "audio": "Audio (s)",
        "offline": "offline",
        "locked": "token needed: open the page with ?token=…",
        "idle": "idle",
        "speaking": "speaking",
        "error": "error",
        "played": "played",
        "stopped": "stopped",
        "preempted": "preempted",
        "cleared": "cleared",
        "failed": "failed",
        "critical": "critical",
        "high": "high",
        "normal": "normal",
    },
}

# `$name` is filled by render_page; the script uses no dollar sign of its own.
_PAGE = Template("""\
<!doctype html>
<html lang="$lang">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>$title</title>
<style>
  body { font-family: system-ui, sans-serif; margin: 1.5rem; max-width: 60rem; }
  .status { font-size: 1.4rem; font-weight: bold; }
  .speaking { color: #0a7d32; } .idle { color: #555; } .error { color: #b00020; }
  table { border-collapse: collapse; width: 100%; } td, th { border-bottom: 1px solid #ddd;
  padding: .3rem; text-align: left; vertical-align: top; }
  button { font-size: 1rem; padding: .4rem 1rem; }
</style>
</head>
<body>
<h1>$title</h1>
<p>$status: <span id="status" class="status">…</span>
  <button id="stop">$stop</button>
  <button id="stop-all">$stop_all</button></p>
<p>$now: <span id="now">—</span></p>
<p>$latency: <span id="latency">—</span></p>
<p id="error" class="error"></p>
<h2>$queue (<span id="queue-size">0</span>)</h2>
<table><thead><tr><th>$received</th><th>$priority</th><th>$text</th><th>$source</th></tr></thead>
<tbody id="queue"></tbody></table>
<h2>$history</h2>
<table><thead><tr><th>$started</th><th>$outcome</th><th>$text</th><th>$priority</th>
<th>$queue_wait</th><th>$synthesis</th><th>$audio</th></tr></thead>
<tbody id="history"></tbody></table>
<script>
const T = $strings;
function word(key) { return T[key] ?? key; }
function pad(n) { return String(n).padStart(2, "0"); }
// Unix seconds -> local "YYYY-MM-DD HH:MM:SS".
function when(seconds) {
  if (seconds == null) return "";
  const d = new Date(seconds * 1000);
  return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + " " +
    pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds());
}
function ms(value) { return value == null ? "—" : Math.round(value) + " ms"; }
function row(cells) {
  const tr = document.createElement("tr");
  for (const c of cells) {
    const td = document.createElement("td");
    td.textContent = c ?? "";
    tr.appendChild(td);
  }
  return tr;
}
// The monitor off loopback needs its token: opened once as ?token=..., a cookie carries it.
async function get(path) {
  const response = await fetch(path);
  if (response.status === 401) throw new Error("locked");
  return response.json();
}
async function refresh() {
  try {
    const status = await get("api/status");
    const el = document.getElementById("status");
    el.textContent = word(status.status); el.className = "status " + status.status;
    document.getElementById("now").textContent = status.current_text || "—";
    document.getElementById("error").textContent = status.last_error || "";
    const stats = await get("api/stats");
    document.getElementById("latency").textContent =
      ms(stats.last_queue_wait_ms) + " / " + ms(stats.last_synthesis_ms);
    const q = await get("api/queue");
    document.getElementById("queue-size").textContent = q.queue.length;
    document.getElementById("queue").replaceChildren(
      ...q.queue.map(u => row([when(u.received), word(u.priority), u.text, u.source])));
    document.getElementById("history").replaceChildren(
      ...q.history.map(h => row([when(h.started), word(h.outcome), h.text, word(h.priority),
                                 h.queue_wait_ms, h.synthesis_ms, h.audio_seconds])));
  } catch (e) {
    const el = document.getElementById("status");
    el.textContent = word(e.message === "locked" ? "locked" : "offline");
    el.className = "status error";
  }
}
document.getElementById("stop").onclick = () => fetch("api/stop", {method: "POST"}).then(refresh);
document.getElementById("stop-all").onclick =
  () => fetch("api/stop?clear_queue=1", {method: "POST"}).then(refresh);
refresh(); setInterval(refresh, 1000);
</script>
</body>
</html>
""")


def render_page(language: str) -> str:
    """Return the live page with its labels in language (es or en)."""
    strings = STRINGS[language]
    labels = {key: html.escape(value) for key, value in strings.items()}
    # The words the script shows (states, outcomes, priorities), safe inside <script>.
    words = json.dumps(strings, ensure_ascii=True).replace("<", "\\u003c")
    return _PAGE.substitute(labels, lang=language, strings=words)
