// The console page: live state from /api/events (server-sent events), the day's equity curve in uPlot,
// and the operator's actions (JSON POSTs that need a login). Numbers arrive as exact decimal strings;
// money is shown rounded to cents, sizes as they are.
"use strict";

const money = new Intl.NumberFormat("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
const $ = (id) => document.getElementById(id);
let chart = null;
let curve = [[], []];
let loggedIn = false;

function cents(text) {
  if (text === null || text === undefined || text === "") return "";
  return money.format(Number(text));
}

function size(text) {
  if (!text) return "";
  return text.includes(".") ? text.replace(/0+$/, "").replace(/\.$/, "") : text;
}

function clock(ns) {
  return new Date(Number(ns) / 1e6).toLocaleTimeString();
}

function cell(text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  return td;
}

function moneyCell(text) {
  const n = Number(text || 0);
  return cell(cents(text), "num " + (n > 0 ? "pos" : n < 0 ? "neg" : ""));
}

function traceCell(row) {
  const td = document.createElement("td");
  if (row.trace_url) {
    const a = document.createElement("a");
    a.href = row.trace_url;
    a.target = "_blank";
    a.rel = "noopener";
    a.textContent = row.trace_id.slice(0, 8);
    a.className = "trace";
    td.appendChild(a);
  }
  return td;
}

function fill(tableId, rows, render) {
  const body = $(tableId).tBodies[0];
  body.replaceChildren(...rows.map((row) => {
    const tr = document.createElement("tr");
    tr.append(...render(row));
    return tr;
  }));
}

function badge(el, text, kind) {
  el.textContent = text;
  el.className = "badge " + kind;
}

function actionButton(row) {
  const td = document.createElement("td");
  if (!row.has_spec) return td;
  const button = document.createElement("button");
  const verb = row.enabled ? "stop" : "start";
  button.textContent = verb;
  button.disabled = !loggedIn;
  button.dataset.instance = row.id;
  button.addEventListener("click", () => act(`/api/instances/${encodeURIComponent(row.id)}/${verb}`, {}));
  td.appendChild(button);
  return td;
}

function render(state) {
  const risk = state.risk;
  if (risk) {
    badge($("killswitch"), risk.kill_switch ? `HALTED: ${risk.kill_reason}` : "trading", risk.kill_switch ? "bad" : "ok");
    badge($("breaker"), `breaker ${risk.breaker}`, risk.breaker === "closed" ? "ok" : "warn");
  } else {
    badge($("killswitch"), "risk: no state yet", "warn");
  }
  const pnl = state.pnl;
  $("pnl-total").textContent = pnl ? cents(pnl.total) : "—";
  $("pnl-total").className = "big " + (pnl && Number(pnl.total) < 0 ? "neg" : "pos");
  $("pnl-parts").textContent = pnl
    ? `realized ${cents(pnl.realized)} · unrealized ${cents(pnl.unrealized)} · fees ${cents(pnl.fees)}` +
      ` · gross exposure ${cents(state.portfolio.gross_exposure)}`
    : "";
  fill("services", state.services, (s) => [
    cell(s.service), cell(s.instance), cell(s.ready && s.age_s < 20 ? "yes" : "NO", s.ready ? "pos" : "neg"),
    cell(Object.keys(s.checks).filter((k) => !s.checks[k]).join(", ")), cell(String(s.age_s), "num"),
  ]);
  fill("feeds", state.feeds, (f) => [
    cell(f.venue), cell(f.connected ? "yes" : "NO"), cell(f.stale ? "NO" : "yes"),
    cell(String(f.gaps), "num"), cell(String(f.reconnects), "num"), cell(f.reason || ""),
  ]);
  fill("strategies", state.strategies, (s) => [
    cell(s.id), cell(s.type), cell(s.mode === "live" ? "LIVE" : s.mode), cell(s.state), cell(s.owner),
    cell(s.last_signal), moneyCell(s.realized_pnl), moneyCell(s.unrealized_pnl), cell(cents(s.fees), "num"),
    actionButton(s),
  ]);
  fill("positions", state.positions, (p) => [
    cell(p.strategy_id), cell(p.venue), cell(p.product_id), cell(size(p.quantity), "num"),
    cell(cents(p.average_price), "num"), cell(cents(p.mark), "num"), moneyCell(p.realized_pnl),
    moneyCell(p.unrealized_pnl), cell(cents(p.fees), "num"),
  ]);
  fill("orders", state.orders, (o) => [
    cell(clock(o.event_ns)), cell(o.strategy_id), cell(o.product_id), cell(o.side), cell(o.status),
    cell(`${size(o.filled_size)} / ${size(o.size)}`, "num"), cell(o.reason), traceCell(o),
  ]);
  fill("fills", state.fills, (f) => [
    cell(clock(f.fill_ns)), cell(f.strategy_id), cell(f.product_id), cell(f.side), cell(size(f.size), "num"),
    cell(cents(f.price), "num"), cell(cents(f.fee), "num"), traceCell(f),
  ]);
  plot(state.equity);
}

function plot(equity) {
  if (equity.full) curve = [[], []];
  const last = curve[0].length ? curve[0][curve[0].length - 1] : -Infinity;
  for (const [ms, value] of equity.points) {
    if (ms / 1000 > last) {
      curve[0].push(ms / 1000);
      curve[1].push(Number(value));
    }
  }
  if (chart === null) {
    const width = Math.max(320, $("equity").clientWidth || 480);
    chart = new uPlot({
      width, height: 180,
      series: [{}, { label: "PnL", stroke: "#1565c0", width: 2, value: (u, v) => (v === null ? "" : cents(v)) }],
      axes: [{}, { values: (u, vals) => vals.map((v) => cents(v)) }],
    }, curve, $("equity"));
  } else {
    chart.setData(curve);
  }
}

async function act(url, body) {
  const out = $("action-result");
  const response = await fetch(url, {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  });
  const text = await response.text();
  let detail = text;
  try { detail = JSON.parse(text).detail; } catch (e) { /* plain-text refusal */ }
  out.textContent = response.ok ? `ok: ${detail}` : `refused (${response.status}): ${detail}`;
  out.className = response.ok ? "pos" : "neg";
}

async function session() {
  const info = await (await fetch("/api/session")).json();
  loggedIn = info.logged_in;
  $("login-form").hidden = loggedIn || info.mode !== "password";
  $("logout").hidden = !loggedIn || info.mode !== "password";
  $("operator").hidden = !loggedIn;
  $("operator").textContent = loggedIn ? `logged in: ${info.operator}` : "";
  for (const id of ["halt", "resume"]) $(id).disabled = false; // refusals are shown, not hidden
  document.querySelectorAll("button[data-instance]").forEach((b) => { b.disabled = !loggedIn; });
}

function connect() {
  const events = new EventSource("/api/events");
  events.addEventListener("state", (e) => {
    badge($("live"), "live", "ok");
    render(JSON.parse(e.data));
  });
  events.onerror = () => badge($("live"), "reconnecting…", "warn");
}

window.addEventListener("DOMContentLoaded", () => {
  $("login-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const response = await fetch("/api/login", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ password: $("password").value }),
    });
    $("password").value = "";
    $("action-result").textContent = response.ok ? "logged in" : "wrong password";
    $("action-result").className = response.ok ? "pos" : "neg";
    await session();
  });
  $("logout").addEventListener("click", async () => { await fetch("/api/logout", { method: "POST" }); await session(); });
  $("halt").addEventListener("click", () => act("/api/halt", { reason: $("halt-reason").value }));
  $("resume").addEventListener("click", () => act("/api/resume", { reason: $("halt-reason").value }));
  session();
  connect();
});
