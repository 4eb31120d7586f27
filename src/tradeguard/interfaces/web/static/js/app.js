// tradeguard dashboard: live trades, strategies, history and events, pushed over /ui/stream.
import { api, ApiError, logout } from "./api.js";
import { addEvent, alertToast, closedToast, exitToast, initEvents, renderEvents, seedEvents } from "./events.js";
import { connectCharts, forgetTrades, mountTradeCharts, noteTrade, redrawAll, scheduleTradeChart } from "./charts.js";
import { initHistory } from "./history.js";
import { initPerformance } from "./performance.js";
import { Stream } from "./stream.js";
import { initBroker, showBroker } from "./broker.js";
import { initAudit, showAudit } from "./audit.js";
import { initPartialExit } from "./partial.js";
import { initStrategies, refreshStrategies, setStrategies, strategyByName, touchStrategyOf, upsertStrategy } from "./strategies.js";
import { initTradeActions } from "./trade_actions.js";
import { newer } from "./view_order.js";
import { patchTradeElements, sideBadge, tradeElements, tradeStateBadge } from "./trades.js";
import { debounce, esc, num, pnl, pnlClass, toast, words } from "./ui.js";

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

function reportError(title, err) {
  if (err instanceof ApiError && err.message === "signed out") return;
  toast("error", title, err?.message ?? String(err), { kindTag: "rejection" });
}

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

// Health reports come over the stream: pushed on every change, and sent at once when the page
// asks (refreshHealth), all in one ordered channel whose server side knows what the page was
// told last. A report fetched over HTTP on the side could land after a newer push, or show a
// change the stream never saw and so never pushes back: only while the stream is not open (at
// load) does the page fetch /health.
let stream = null;

async function refreshHealth() {
  if (stream?.send({ kind: "health" })) return;
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
  initStrategies({ state, isOpen: (t) => OPEN_STATES.has(t.state), upsertTrade, renderSummary, reportError });
  initTradeActions({ trades: state.trades, upsertTrade, reportError });
  connectCharts({ trade: (id) => state.trades.get(id), strategy: (id) => state.strategies.get(id) });
  wire();
  initEvents({ resolveSymbol: (id) => state.trades.get(id)?.symbol });
  showView();
  await loadMe();
  refreshAll();
  loadEvents();
  stream = new Stream({ onMessage, onState: onStreamState });
  stream.start();
}

main();
