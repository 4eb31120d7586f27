// tradeguard dashboard: live trades, strategies, history and events, pushed over /ui/stream.
import { api, ApiError, logout } from "./api.js";
import { addEvent, alertToast, closedToast, exitToast, initEvents, renderEvents, seedEvents } from "./events.js";
import { addPoint, connectCharts, forgetTrades, loadStrategy, mountTradeCharts, noteTrade, redrawAll, scheduleChart, scheduleTradeChart } from "./charts.js";
import { collectChanges, DEFAULT_CONFIG, renderRiskForm } from "./riskform.js";
import { initHistory } from "./history.js";
import { initPerformance } from "./performance.js";
import { Stream } from "./stream.js";
import { initBroker, showBroker } from "./broker.js";
import { initAudit, showAudit } from "./audit.js";
import { initPartialExit } from "./partial.js";
import { newer } from "./view_order.js";
import { patchTradeElements, sideBadge, tradeElements, tradeStateBadge } from "./trades.js";
import { busy, confirmAction, esc, num, pnl, pnlClass, price, toast, words } from "./ui.js";

const OPEN_STATES = new Set(["ACTIVE", "EXITING", "EXIT_FAILED"]);

const state = {
  me: null,
  trades: new Map(), // trade_id -> trade view
  strategies: new Map(), // strategy_id -> strategy view
  health: null,
  view: "live",
};

// -- small helpers -----------------------------------------------------------------------------
const $ = (sel, root = document) => root.querySelector(sel);
const $$ = (sel, root = document) => [...root.querySelectorAll(sel)];

function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

function reportError(title, err) {
  if (err instanceof ApiError && err.message === "signed out") return;
  toast("error", title, err?.message ?? String(err), { kindTag: "rejection" });
}

function strategyByName(name) {
  for (const s of state.strategies.values()) if (s.strategy === name) return s;
  return null;
}

const STRATEGY_STATE = { ACTIVE: "badge-success", PAUSED: "badge-warning", HALTED: "badge-error" };

const REASON_CLASS = {
  TARGET: "badge-success",
  PORTFOLIO_TARGET: "badge-success",
  STOP_LOSS: "badge-error",
  PORTFOLIO_STOP: "badge-error",
  DAILY_LOSS_LIMIT: "badge-error",
  TRAILING_STOP: "badge-warning",
  PORTFOLIO_TRAILING: "badge-warning",
  BREAKEVEN_STOP: "badge-info",
  SQUARE_OFF: "badge-secondary",
  MAX_HOLDING: "badge-secondary",
  MANUAL: "badge-neutral",
  MANUAL_ALL: "badge-neutral",
};

function reasonBadge(reason) {
  if (!reason) return "";
  return `<span class="badge ${REASON_CLASS[reason] ?? "badge-ghost"} badge-sm whitespace-nowrap" data-reason="${esc(reason)}">${esc(words(reason))}</span>`;
}

// -- trades (rows and cards: trades.js; their charts: charts.js) ------------------------------
function sortedTrades() {
  return [...state.trades.values()].sort((a, b) => (num(b.entered_at) ?? 0) - (num(a.entered_at) ?? 0) || String(a.symbol).localeCompare(String(b.symbol)));
}

function renderTrades() {
  const body = $("#trades-body");
  const cards = $("#trades-cards");
  body.innerHTML = "";
  cards.innerHTML = "";
  for (const t of sortedTrades()) {
    const { tr, card } = tradeElements(t);
    body.appendChild(tr);
    cards.appendChild(card);
  }
  mountTradeCharts(body);
  mountTradeCharts(cards);
  forgetTrades(new Set(state.trades.keys()));
  renderTradeCount();
}

function renderTradeCount() {
  const n = state.trades.size;
  $("#trades-count").textContent = String(n);
  $("#trades-empty").classList.toggle("hidden", n > 0);
  $("#trades-table").classList.toggle("hidden", n === 0);
}

const closedTrades = new Set(); // trade ids seen closed on this page

function upsertTrade(view) {
  if (!view?.trade_id) return;
  const before = state.trades.get(view.trade_id);
  // an action's reply (EXITING) can arrive after the stream said the trade closed
  if (!before && closedTrades.has(view.trade_id)) return;
  if (!OPEN_STATES.has(view.state)) {
    closedTrades.add(view.trade_id);
    if (before) {
      state.trades.delete(view.trade_id);
      $$(`[data-trade-id="${CSS.escape(view.trade_id)}"][data-trade-el]`).forEach((el) => el.remove());
      renderTradeCount();
      refreshAfterExit();
    }
    return;
  }
  const merged = { ...(before ?? {}), ...view };
  state.trades.set(view.trade_id, merged);
  noteTrade(merged);
  if (!before) {
    renderTrades();
    if (!strategyByName(merged.strategy)) refreshStrategies();
  } else {
    patchTradeElements(merged, before).forEach(mountTradeCharts);
  }
  touchStrategyOf(merged);
  renderSummary();
}

/** A `level` event: only the levels changed (no price); merge into the known trade. */
function patchLevels(data) {
  const before = state.trades.get(data?.trade_id);
  if (!before) return;
  const merged = { ...before };
  for (const key of ["best_price", "stop_loss", "stop_reason", "target", "trailing_stop", "breakeven_stop"]) {
    if (key in data) merged[key] = data[key];
  }
  state.trades.set(before.trade_id, merged);
  patchTradeElements(merged, before).forEach(mountTradeCharts);
  scheduleTradeChart(before.trade_id);
}

// -- strategies --------------------------------------------------------------------------------
/** Recompute a strategy's day P&L from its live trades (realized + open), for the live chart. */
function touchStrategyOf(trade) {
  const s = strategyByName(trade.strategy);
  if (!s) return;
  let open = 0;
  for (const t of state.trades.values()) if (t.strategy === s.strategy) open += num(t.pnl) ?? 0;
  const total = (num(s.realized_pnl) ?? 0) + open;
  s.unrealized_pnl = open.toFixed(2);
  s.pnl = total.toFixed(2);
  s.open_positions = [...state.trades.values()].filter((t) => t.strategy === s.strategy && OPEN_STATES.has(t.state)).length;
  addPoint(s.strategy_id, total);
  patchStrategyCard(s);
}

function levelChip(label, value, cls) {
  return `<div class="flex flex-col rounded-lg bg-base-200 px-2.5 py-1.5">
      <span class="text-[10px] uppercase tracking-wide text-base-content/50">${label}</span>
      <span class="num text-sm ${value === null || value === undefined ? "lvl-empty" : cls}">${value === null || value === undefined ? "—" : pnl(value)}</span></div>`;
}

function levelChips(lv) {
  return `${levelChip("Stop", lv.stop, "text-error")}${levelChip("Target", lv.target, "text-success")}
      ${levelChip("Trailing", lv.trailing, "text-warning")}${levelChip("Day limit", lv.daily_loss_limit, "text-error")}`;
}

function strategyCardHtml(s) {
  const lv = s.levels ?? {};
  const paused = s.state !== "ACTIVE";
  return `
    <div class="flex items-start justify-between gap-3 px-4 pt-4">
      <div class="min-w-0">
        <div class="flex flex-wrap items-center gap-2">
          <h3 class="truncate text-base font-semibold">${esc(s.strategy)}</h3>
          <span class="badge ${STRATEGY_STATE[s.state] ?? "badge-ghost"} badge-sm font-semibold" data-testid="strategy-state">${esc(s.state)}</span>
        </div>
        <div class="mt-0.5 text-xs text-base-content/60"><span data-sf="open_positions">${esc(s.open_positions)}</span> open · exposure ₹<span class="num" data-sf="exposure">${price(s.exposure)}</span></div>
      </div>
      <div class="text-right">
        <div class="num text-xl font-semibold ${pnlClass(s.pnl)}" data-sf="pnl" data-testid="strategy-pnl">${pnl(s.pnl)}</div>
        <div class="num whitespace-nowrap text-xs text-base-content/60">realized <span data-sf="realized_pnl">${pnl(s.realized_pnl)}</span></div>
      </div>
    </div>
    ${s.state === "HALTED" && s.halt_reason ? `<div class="mx-4 mt-3 rounded-lg bg-error/10 px-3 py-2 text-xs text-error" data-role="halt">Halted: ${esc(words(s.halt_reason))}</div>` : ""}
    <div class="mt-2 h-[120px] px-2" data-role="chart"></div>
    <div class="grid grid-cols-2 gap-2 px-4 sm:grid-cols-4" data-role="levels">${levelChips(lv)}</div>
    <div class="mt-4 flex flex-wrap items-center justify-end gap-2 border-t border-base-300 px-4 py-3">
      <button type="button" class="btn btn-ghost btn-sm mr-auto" data-action="configure">Risk settings</button>
      ${paused ? `<button type="button" class="btn btn-sm btn-success btn-outline" data-action="resume">Resume</button>` : `<button type="button" class="btn btn-sm btn-warning btn-outline" data-action="pause">Pause</button>`}
      <button type="button" class="btn btn-sm btn-error" data-action="exitall">Exit all</button>
    </div>`;
}

function renderStrategies() {
  const grid = $("#strategies-grid");
  grid.innerHTML = "";
  const list = [...state.strategies.values()].sort((a, b) => String(a.strategy).localeCompare(String(b.strategy)));
  for (const s of list) {
    const card = document.createElement("article");
    card.className = "panel min-w-0";
    card.dataset.strategyId = s.strategy_id;
    card.dataset.strategy = s.strategy;
    card.dataset.testid = "strategy-card";
    card.innerHTML = strategyCardHtml(s);
    grid.appendChild(card);
  }
  $("#strategies-empty").classList.toggle("hidden", list.length > 0);
  for (const s of list) scheduleChart(s.strategy_id);
  renderSummary();
}

function patchStrategyCard(s) {
  const card = $(`[data-strategy-id="${CSS.escape(s.strategy_id)}"]`);
  if (!card) return;
  const pnlEl = $("[data-sf=pnl]", card);
  pnlEl.textContent = pnl(s.pnl);
  pnlEl.className = `num text-xl font-semibold ${pnlClass(s.pnl)}`;
  $("[data-sf=realized_pnl]", card).textContent = pnl(s.realized_pnl);
  $("[data-sf=open_positions]", card).textContent = String(s.open_positions ?? 0);
  $("[data-sf=exposure]", card).textContent = price(s.exposure);
  const levels = $("[data-role=levels]", card);
  const html = levelChips(s.levels ?? {});
  if (levels.dataset.html !== html) {
    levels.innerHTML = html;
    levels.dataset.html = html;
  }
  renderSummary();
}

function upsertStrategy(data) {
  if (!data?.strategy_id) return;
  const before = state.strategies.get(data.strategy_id);
  if (!before && !("strategy" in data)) {
    refreshStrategies(); // a state change of a strategy we have not seen: fetch its view
    return;
  }
  const merged = { ...(before ?? {}), ...data };
  state.strategies.set(data.strategy_id, merged);
  if ("pnl" in data) addPoint(data.strategy_id, num(data.pnl));
  const card = $(`[data-strategy-id="${CSS.escape(data.strategy_id)}"]`);
  if (card && before && before.state === merged.state && before.halt_reason === merged.halt_reason) {
    patchStrategyCard(merged); // buttons stay put: only numbers and levels change
    scheduleChart(merged.strategy_id);
  } else if (card && before) {
    card.innerHTML = strategyCardHtml(merged);
    scheduleChart(merged.strategy_id);
    renderSummary();
  } else {
    renderStrategies();
  }
  if (!("pnl" in data)) refreshStrategies(); // state-only event: fetch levels and P&L too
}

function setStrategies(list) {
  const seen = new Set();
  for (const s of list ?? []) {
    seen.add(s.strategy_id);
    state.strategies.set(s.strategy_id, { ...s });
    addPoint(s.strategy_id, num(s.pnl));
    loadStrategy(s);
  }
  for (const id of [...state.strategies.keys()]) if (!seen.has(id)) state.strategies.delete(id);
  renderStrategies();
}

function setTrades(list) {
  const next = new Map();
  for (const t of list ?? []) {
    // never older than what the page shows (a /trades reply that lost the race with the stream)
    if (OPEN_STATES.has(t.state)) next.set(t.trade_id, newer(t, state.trades.get(t.trade_id)));
  }
  const same = next.size === state.trades.size && [...next.keys()].every((id) => state.trades.has(id));
  if (same) {
    // the same trades (a reload's snapshot, then its /trades reply): patch rows in place, so
    // they are not rebuilt under the trader's finger (or a chart being drawn)
    for (const [id, t] of next) {
      const before = state.trades.get(id);
      const merged = { ...before, ...t };
      state.trades.set(id, merged);
      noteTrade(merged);
      patchTradeElements(merged, before).forEach(mountTradeCharts);
    }
  } else {
    state.trades.clear(); // the same Map: other modules hold it (partial.js)
    for (const [id, t] of next) state.trades.set(id, t);
    renderTrades();
  }
  renderSummary();
}

// -- summary -----------------------------------------------------------------------------------
function renderSummary() {
  const strategies = [...state.strategies.values()];
  const trades = [...state.trades.values()];
  const open = trades.reduce((acc, t) => acc + (num(t.pnl) ?? 0), 0);
  const realized = strategies.reduce((acc, s) => acc + (num(s.realized_pnl) ?? 0), 0);
  const total = realized + open;
  const pnlEl = $("#sum-pnl");
  pnlEl.textContent = pnl(total);
  pnlEl.className = `num mt-1 text-xl font-semibold md:text-2xl ${pnlClass(total)}`;
  $("#sum-pnl-sub").textContent = `realized ${pnl(realized)} · open ${pnl(open)}`;
  $("#sum-trades").textContent = String(trades.length);
  const longs = trades.filter((t) => t.side === "LONG").length;
  $("#sum-trades-sub").textContent = trades.length ? `${longs} long · ${trades.length - longs} short` : "none open";
  $("#sum-strategies").textContent = String(strategies.length);
  const count = (st) => strategies.filter((s) => s.state === st).length;
  $("#sum-strategies-sub").textContent = `${count("ACTIVE")} active · ${count("PAUSED")} paused · ${count("HALTED")} halted`;
}

// -- health ------------------------------------------------------------------------------------
// A symbol that only just got its first subscription reports "stale" until its first tick:
// such a report must persist for STALE_GRACE_MS before the trader is alarmed by it.
const STALE_GRACE_MS = 4000;
let staleSince = 0;
let staleTimer = 0;

function isAlarming(h) {
  const what = h?.degraded ?? [];
  if (h?.status !== "degraded") return false;
  if (what.some((d) => d !== "stale_symbols")) return true;
  const now = Date.now();
  if (!staleSince) staleSince = now;
  if (now - staleSince >= STALE_GRACE_MS) return true;
  clearTimeout(staleTimer);
  staleTimer = setTimeout(refreshHealth, STALE_GRACE_MS - (now - staleSince) + 50);
  return false;
}

function renderHealth(h) {
  if (!(h?.degraded ?? []).includes("stale_symbols")) staleSince = 0;
  const previous = state.health;
  const degraded = isAlarming(h);
  state.health = { ...h, shown: degraded };
  const badge = $("#health-badge");
  const sum = $("#sum-health");
  const banner = $("#degraded-banner");
  const what = (h?.degraded ?? []).map(words).join(", ");
  badge.classList.remove("hidden", "badge-ghost", "badge-warning", "badge-success");
  badge.classList.add(degraded ? "badge-warning" : "badge-success");
  badge.textContent = degraded ? "Degraded" : "Healthy";
  badge.dataset.state = degraded ? "degraded" : "ok";
  sum.textContent = degraded ? "Degraded" : "All good";
  sum.className = `mt-1 text-xl font-semibold md:text-2xl ${degraded ? "text-warning" : "text-success"}`;
  const stale = degraded ? h?.feed?.stale_symbols ?? [] : [];
  const feed = h?.feed?.connected === false ? "feed down (polling)" : "feed live";
  const broker = h?.broker?.session_down ? "broker session down" : "broker ok";
  const db = h?.database?.degraded ? " · database retrying" : "";
  $("#sum-health-sub").textContent = `${feed} · ${broker}${db}${stale.length ? ` · ${stale.length} stale` : ""}`;
  banner.classList.toggle("hidden", !degraded);
  $("[data-role=text]", banner).textContent = degraded
    ? `Degraded: ${what}${stale.length ? ` (${stale.slice(0, 5).join(", ")})` : ""}. tradeguard keeps guarding from the best data it has; watch the events panel.`
    : "";
  if (degraded && !previous?.shown) toast("warning", "Service degraded", what, { kindTag: "degraded" });
  if (!degraded && previous?.shown) toast("success", "Service recovered", "Feed, broker and database are healthy again.");
}

async function refreshHealth() {
  try {
    renderHealth(await api("health"));
  } catch (err) {
    /* the stream badge already says when we are cut off */
  }
}
const refreshHealthSoon = debounce(refreshHealth, 300);

// -- history and performance (history.js, performance.js) --------------------------------------
const strategyNames = () => [...state.strategies.values()].map((s) => s.strategy);
const historyView = initHistory({ reasonBadge, sideBadge, tradeStateBadge, strategyNames });
const performanceView = initPerformance({ strategyNames });
const refreshHistory = historyView.refresh;

const refreshStrategies = debounce(async () => {
  try {
    setStrategies(await api("strategies"));
  } catch (err) {
    reportError("Could not load strategies", err);
  }
}, 250);

const refreshAfterExit = debounce(() => {
  refreshStrategies();
  refreshHistory();
  if (state.view === "performance") performanceView.refresh();
}, 400);

async function refreshAll() {
  const [trades, strategies] = await Promise.allSettled([api("trades"), api("strategies")]);
  if (strategies.status === "fulfilled") setStrategies(strategies.value);
  if (trades.status === "fulfilled") setTrades(trades.value);
  refreshHealth();
  if (state.view === "history") refreshHistory();
}

// -- stream ------------------------------------------------------------------------------------
function onExit(data) {
  const t = state.trades.get(data.trade_id);
  if (t && t.state === "ACTIVE") upsertTrade({ ...t, state: "EXITING" });
  exitToast(data, t);
  refreshAfterExit();
}

function onAlert(data) {
  alertToast(data);
  refreshHealthSoon();
}

function onMessage(msg) {
  const { kind, data } = msg ?? {};
  switch (kind) {
    case "snapshot":
      if (data?.strategies) setStrategies(data.strategies);
      if (data?.trades) setTrades(data.trades);
      break;
    case "trade":
      upsertTrade(data);
      break;
    case "portfolio": // a strategy view: P&L, levels and state, pushed as they change
      upsertStrategy(data);
      break;
    case "level":
      patchLevels(data);
      addEvent(msg);
      break;
    case "exit":
      addEvent(msg);
      onExit(data ?? {});
      break;
    case "closed": // the exit filled (or the position went): the realized P&L
      addEvent(msg);
      closedToast(data ?? {});
      upsertTrade({ trade_id: data?.trade_id, state: data?.state ?? "CLOSED" }); // row goes now
      break;
    case "strategy":
      addEvent(msg);
      upsertStrategy(data);
      if (data?.state === "HALTED") toast("error", `Strategy halted: ${String(data.strategy ?? data.strategy_id).split(":").pop()}`, words(data.reason ?? data.halt_reason ?? ""), { kindTag: "alert" });
      break;
    case "alert":
      addEvent(msg);
      onAlert(data ?? {});
      break;
    case "health":
      renderHealth(data);
      break;
    case "gap":
      addEvent(msg);
      toast("info", "Caught up after a burst", `Missed ${data?.missed ?? "some"} live events; reloaded trades and strategies.`);
      refreshAll();
      break;
    default:
      addEvent(msg);
  }
}

function onStreamState(s, info) {
  const badge = $("#conn-badge");
  badge.dataset.state = s;
  badge.classList.remove("badge-ghost", "badge-success", "badge-warning");
  const dot = $("[data-role=dot]", badge);
  const text = $("[data-role=text]", badge);
  if (s === "live") {
    badge.classList.add("badge-success");
    dot.className = "h-2 w-2 animate-pulse rounded-full bg-success-content";
    text.textContent = "Live";
    refreshHealth();
    if (wasDisconnected) {
      wasDisconnected = false;
      toast("success", "Live updates restored", "Reconnected to tradeguard.");
    }
  } else if (s === "reconnecting") {
    badge.classList.add("badge-warning");
    dot.className = "h-2 w-2 rounded-full bg-warning-content";
    text.textContent = "Reconnecting…";
    badge.title = info?.delay ? `Retrying in ${(info.delay / 1000).toFixed(1)} s (attempt ${info.attempt})` : "Reconnecting";
    if (!wasDisconnected && info?.delay) {
      wasDisconnected = true;
      checkSession();
    }
  } else {
    badge.classList.add("badge-ghost");
    dot.className = "h-2 w-2 rounded-full bg-base-content/40";
    text.textContent = "Connecting…";
  }
}
let wasDisconnected = false;

async function checkSession() {
  try {
    await api("me"); // a 401 sends us to the login page
  } catch (err) {
    /* unreachable: keep retrying the stream */
  }
}

// -- dialogs: edit trade -----------------------------------------------------------------------
let editing = null;

const HINTS = { PRICE: "price, e.g. 98.50", POINTS: "₹ from entry", PERCENT: "% of entry", "": "not set" };

function fillRule(form, name, rule) {
  form.elements[`${name}_type`].value = rule?.type ?? "";
  form.elements[`${name}_value`].value = rule?.value ?? "";
  syncRuleRow(form, name);
}

function syncRuleRow(form, name) {
  const type = form.elements[`${name}_type`].value;
  const input = form.elements[`${name}_value`];
  input.disabled = type === "";
  const hint = $(`[data-rule="${name}"] [data-role=hint]`, form);
  if (name !== "trailing") hint.textContent = HINTS[type];
  else hint.textContent = type ? `distance from best price (${type === "PERCENT" ? "%" : "₹"})` : "not set";
}

function openEdit(tradeId) {
  const t = state.trades.get(tradeId);
  if (!t) return;
  editing = t;
  const dialog = $("#edit-dialog");
  const form = $("#edit-form");
  $("[data-role=title]", dialog).textContent = `${t.symbol} ${t.side} ×${t.quantity}`;
  $("[data-role=subtitle]", dialog).textContent = `Entry ${price(t.entry_price)} · last ${price(t.last_price)} · stop ${price(t.stop_loss)} · target ${price(t.target)}`;
  const rules = t.rules ?? {};
  fillRule(form, "stop_loss", rules.stop_loss);
  fillRule(form, "target", rules.target);
  fillRule(form, "trailing", rules.trailing);
  $("#edit-error").classList.add("hidden");
  dialog.showModal();
  form.elements.stop_loss_value.focus();
}

function ruleChanges(form, t) {
  const rules = t.rules ?? {};
  const changes = {};
  for (const name of ["stop_loss", "target", "trailing"]) {
    const type = form.elements[`${name}_type`].value;
    const value = form.elements[`${name}_value`].value.trim();
    const old = rules[name];
    if (!type) {
      if (old) changes[name] = null;
      continue;
    }
    if (!value || !Number.isFinite(Number(value)) || Number(value) <= 0) {
      throw new Error(`${words(name)}: enter a positive number`);
    }
    const rule = { type, value };
    if (name === "trailing" && old) {
      if (old.activation) rule.activation = old.activation;
      if (old.step) rule.step = old.step;
    }
    if (!old || old.type !== type || Number(old.value) !== Number(value)) changes[name] = rule;
  }
  return changes;
}

async function saveEdit(event) {
  event.preventDefault();
  const form = $("#edit-form");
  const errorBox = $("#edit-error");
  errorBox.classList.add("hidden");
  const t = editing;
  if (!t) return;
  let changes;
  try {
    changes = ruleChanges(form, t);
  } catch (err) {
    errorBox.textContent = err.message;
    errorBox.classList.remove("hidden");
    return;
  }
  if (!Object.keys(changes).length) {
    $("#edit-dialog").close();
    return;
  }
  try {
    const view = await busy($("[data-role=save]", form), () => api(`trades/${encodeURIComponent(t.trade_id)}/update`, { method: "POST", body: changes }));
    if (view) upsertTrade(view);
    $("#edit-dialog").close();
    toast("success", `${t.symbol}: exits updated`, `stop ${price(view?.stop_loss)} · target ${price(view?.target)} · trail ${price(view?.trailing_stop)}`);
  } catch (err) {
    errorBox.textContent = err.message;
    errorBox.classList.remove("hidden");
    reportError(`${t.symbol}: change refused`, err);
  }
}

const PROTECT_WORDS = { stop_to_cost: "stop moved to cost", lock_profit: "half the open profit locked" };

async function protectTrade(tradeId, action, button) {
  const t = state.trades.get(tradeId);
  if (!t) return;
  try {
    const view = await busy(button, () => api(`trades/${encodeURIComponent(tradeId)}/protect`, { method: "POST", body: { action } }));
    if (view) upsertTrade(view);
    toast("success", `${t.symbol}: ${PROTECT_WORDS[action]}`, `stop ${price(view?.stop_loss)}`);
  } catch (err) {
    reportError(`${t.symbol}: ${PROTECT_WORDS[action].split(" ")[0] === "stop" ? "stop to cost" : "lock profit"} refused`, err);
  }
}

async function exitTrade(tradeId, button) {
  const t = state.trades.get(tradeId);
  if (!t) return;
  const queued = Boolean(t.exit?.queued_for_approval);
  const ok = await confirmAction(
    queued
      ? {
          title: `Retry the exit of ${t.symbol}?`,
          message: `Its exit is queued in OpenAlgo's Action Center as pending order #${t.exit.pending_order_id ?? "?"}. Retry only if you REJECTED it there: if it is approved later, it sells a second time. To exit with that order instead, approve it in the Action Center.`,
          confirm: "I rejected it: exit now",
        }
      : {
          title: `Exit ${t.symbol}?`,
          message: `Sends a MARKET order to close ${t.side} ×${t.quantity} ${t.symbol} (${t.strategy}) now. Last price ${price(t.last_price)}, P&L ${pnl(t.pnl)}.`,
          confirm: "Exit now",
        },
  );
  if (!ok) return;
  try {
    const body = queued ? { pending_rejected: true } : {};
    const view = await busy(button, () => api(`trades/${encodeURIComponent(tradeId)}/exit`, { method: "POST", body }));
    if (view) upsertTrade(view);
  } catch (err) {
    reportError(`${t.symbol}: exit refused`, err);
  }
}

// -- dialogs: strategy -------------------------------------------------------------------------
let configuring = null; // strategy view, or {} for a new strategy

function openConfig(s) {
  configuring = s;
  const dialog = $("#config-dialog");
  const form = $("#config-form");
  const isNew = !s;
  $("[data-role=title]", dialog).textContent = isNew ? "new strategy" : s.strategy;
  $("[data-role=name-row]", form).classList.toggle("hidden", !isNew);
  form.elements.strategy_name.value = "";
  $("[data-role=fields]", form).innerHTML = renderRiskForm(isNew ? DEFAULT_CONFIG : s.config ?? {});
  $("#config-error").classList.add("hidden");
  dialog.showModal();
  if (isNew) form.elements.strategy_name.focus();
}

async function saveConfig(event) {
  event.preventDefault();
  const form = $("#config-form");
  const errorBox = $("#config-error");
  errorBox.classList.add("hidden");
  const isNew = !configuring;
  const name = isNew ? form.elements.strategy_name.value.trim() : configuring.strategy;
  if (!name) {
    errorBox.textContent = "Give the strategy a name.";
    errorBox.classList.remove("hidden");
    return;
  }
  const changes = collectChanges(form, isNew ? DEFAULT_CONFIG : configuring.config ?? {});
  if (!isNew && !Object.keys(changes).length) {
    $("#config-dialog").close();
    toast("info", "Nothing changed", name);
    return;
  }
  try {
    const view = await busy($("[data-role=save]", form), () => api(`strategies/${encodeURIComponent(name)}/configure`, { method: "POST", body: changes }));
    if (view?.strategy_id) upsertStrategy(view);
    else refreshStrategies();
    $("#config-dialog").close();
    toast("success", isNew ? `Strategy ${name} created` : `${name}: risk settings saved`, Object.keys(changes).map(words).join(", "));
  } catch (err) {
    errorBox.textContent = err.message;
    errorBox.classList.remove("hidden");
    reportError(`${name}: settings refused`, err);
  }
}

async function strategyAction(action, s, button) {
  const open = [...state.trades.values()].filter((t) => t.strategy === s.strategy && t.state === "ACTIVE").length;
  const asks = {
    exitall: { title: `Exit all of ${s.strategy}?`, message: `Sends MARKET exits for all ${open} open trade${open === 1 ? "" : "s"} of ${s.strategy} now. P&L ${pnl(s.pnl)}.`, confirm: "Exit all" },
    pause: { title: `Pause ${s.strategy}?`, message: "A paused strategy takes no new trades; its open trades stay guarded.", confirm: "Pause", danger: false },
    resume: { title: `Resume ${s.strategy}?`, message: s.state === "HALTED" ? "The strategy was halted by a portfolio rule. Resuming restarts its portfolio levels from the current P&L." : "The strategy takes new trades again.", confirm: "Resume", danger: false },
  };
  if (!(await confirmAction(asks[action]))) return;
  try {
    const result = await busy(button, () => api(`strategies/${encodeURIComponent(s.strategy)}/${action}`, { method: "POST" }));
    if (action === "exitall") {
      const n = Array.isArray(result) ? result.length : open;
      for (const view of Array.isArray(result) ? result : []) upsertTrade(view);
      toast("info", `Exit all sent: ${s.strategy}`, `${n} trade${n === 1 ? "" : "s"} exiting at market.`, { kindTag: "exitall" });
    } else if (result?.strategy_id) {
      upsertStrategy(result);
      toast("info", `${s.strategy} ${action === "pause" ? "paused" : "resumed"}`);
    }
  } catch (err) {
    reportError(`${s.strategy}: ${action === "exitall" ? "exit all" : action} refused`, err);
  }
}

// -- routing and wiring ------------------------------------------------------------------------
function showView() {
  const view = (location.hash || "#live").slice(1);
  state.view = ["live", "history", "performance", "events", "broker", "audit"].includes(view) ? view : "live";
  for (const el of $$("[data-view]")) el.classList.toggle("hidden", el.dataset.view !== state.view);
  for (const tab of $$("[data-tab]")) {
    const active = tab.dataset.tab === state.view;
    tab.classList.toggle("tab-active", active);
    tab.setAttribute("aria-selected", String(active));
  }
  if (state.view === "history") refreshHistory();
  if (state.view === "performance") performanceView.refresh();
  if (state.view === "events") renderEvents();
  showBroker(state.view === "broker");
  showAudit(state.view === "audit");
  if (state.view === "live") redrawAll(state.strategies.keys(), state.trades.keys());
}

function wire() {
  document.body.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-action]");
    if (!button) return;
    const action = button.dataset.action;
    if (action === "edit") openEdit(button.dataset.tradeId);
    else if (action === "exit") exitTrade(button.dataset.tradeId, button);
    else if (action === "stop_to_cost" || action === "lock_profit") protectTrade(button.dataset.tradeId, action, button);
    else {
      const card = button.closest("[data-strategy-id]");
      const s = card && state.strategies.get(card.dataset.strategyId);
      if (!s) return;
      if (action === "configure") openConfig(s);
      else strategyAction(action, s, button);
    }
  });
  $("#edit-form").addEventListener("submit", saveEdit);
  $("#edit-form").addEventListener("change", (event) => {
    const m = event.target.name?.match(/^(stop_loss|target|trailing)_type$/);
    if (m) syncRuleRow($("#edit-form"), m[1]);
  });
  $("#config-form").addEventListener("submit", saveConfig);
  for (const id of ["#edit-dialog", "#config-dialog"]) {
    $(`${id} [data-role=cancel]`).addEventListener("click", () => $(id).close());
  }
  $("#new-strategy").addEventListener("click", () => openConfig(null));
  $("#logout").addEventListener("click", logout);
  $("#theme-toggle").addEventListener("click", () => {
    const next = document.documentElement.dataset.theme === "tradeguard-light" ? "tradeguard" : "tradeguard-light";
    document.documentElement.dataset.theme = next;
    try {
      localStorage.setItem("tg-theme", next);
    } catch (err) {
      /* private mode */
    }
  });
  window.addEventListener("hashchange", showView);
  window.addEventListener("resize", debounce(() => redrawAll(state.strategies.keys(), state.trades.keys()), 150));
}

async function loadMe() {
  try {
    const me = await api("me");
    state.me = me;
    const name = me?.username ?? me?.user ?? me?.name ?? "";
    $("#me-name").textContent = name;
    $("#me-detail").textContent = me?.account ? `${name} · account ${me.account}` : name || "Signed in";
  } catch (err) {
    /* a 401 already redirected */
  }
}

async function loadEvents() {
  try {
    seedEvents(await api("events"));
  } catch (err) {
    /* optional panel */
  }
}

async function main() {
  const strategies = () => [...state.strategies.values()];
  initBroker({ upsertTrade, strategies, reportError });
  initAudit({ symbolOf: (id) => state.trades.get(id)?.symbol ?? "", strategies, reportError });
  initPartialExit({ trades: state.trades, upsertTrade });
  connectCharts({ trade: (id) => state.trades.get(id), strategy: (id) => state.strategies.get(id) });
  wire();
  initEvents({ resolveSymbol: (id) => state.trades.get(id)?.symbol });
  showView();
  await loadMe();
  refreshAll();
  loadEvents();
  new Stream({ onMessage, onState: onStreamState }).start();
}

main();
