"""The monitor's live page (plain HTML + fetch polling, no build step)."""

PAGE = """\
<!doctype html>
<html lang="es">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Moxie speaker</title>
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
<h1>Moxie speaker</h1>
<p>Estado / status: <span id="status" class="status">…</span>
  <button id="stop">Parar / Stop</button>
  <button id="stop-all">Parar y vaciar cola / Stop and clear queue</button></p>
<p>Diciendo / now speaking: <span id="now">—</span></p>
<p id="error" class="error"></p>
<h2>Cola / queue (<span id="queue-size">0</span>)</h2>
<table><thead><tr><th>priority</th><th>text</th><th>source</th></tr></thead>
<tbody id="queue"></tbody></table>
<h2>Últimas 50 / last 50</h2>
<table><thead><tr><th>outcome</th><th>text</th><th>priority</th><th>audio s</th></tr></thead>
<tbody id="history"></tbody></table>
<script>
function row(cells) {
  const tr = document.createElement("tr");
  for (const c of cells) {
    const td = document.createElement("td");
    td.textContent = c ?? "";
    tr.appendChild(td);
  }
  return tr;
}
async function refresh() {
  try {
    const status = await (await fetch("api/status")).json();
    const el = document.getElementById("status");
    el.textContent = status.status; el.className = "status " + status.status;
    document.getElementById("now").textContent = status.current_text || "—";
    document.getElementById("error").textContent = status.last_error || "";
    const q = await (await fetch("api/queue")).json();
    document.getElementById("queue-size").textContent = q.queue.length;
    document.getElementById("queue").replaceChildren(
      ...q.queue.map(u => row([u.priority, u.text, u.source])));
    document.getElementById("history").replaceChildren(
      ...q.history.map(h => row([h.outcome, h.text, h.priority, h.audio_seconds])));
  } catch (e) { document.getElementById("status").textContent = "offline"; }
}
document.getElementById("stop").onclick = () => fetch("api/stop", {method: "POST"}).then(refresh);
document.getElementById("stop-all").onclick =
  () => fetch("api/stop?clear_queue=1", {method: "POST"}).then(refresh);
refresh(); setInterval(refresh, 1000);
</script>
</body>
</html>
"""
