// Events: the rail on the Live page, the Events page (filter by kind) and the toasts that
// stream events raise. The rail shows exits, alerts and state changes; level moves (trailing,
// breakeven...) are folded into one line per trade ("SBIN · 7 level updates"), or into that
// trade's exit line once it has closed, unless "Level moves" is switched on. An exit and the
// close that follows it are one line. Every line names the symbol (the server puts it on
// every trade event; older events fall back to the open trade's symbol).
import { toast } from "./toasts.js";
import { clock, esc, num, pnl, price, words } from "./ui.js";

export const MAX_EVENTS = 300;
const RAIL_ROWS = 40;
const LEVELS_KEY = "tg-rail-levels";
const PORTFOLIO = new Set(["PORTFOLIO_STOP", "PORTFOLIO_TARGET", "PORTFOLIO_TRAILING", "DAILY_LOSS_LIMIT"]);
// Events page filter: which event kinds each choice shows.
const FILTERS = {
  "": null,
  exit: new Set(["exit", "closed"]),
  alert: new Set(["alert", "gap"]),
  strategy: new Set(["strategy"]),
  level: new Set(["level"]),
};

const events = []; // newest first: {kind, data, at}
let filter = "";
let showLevels = false;
let symbolOf = (tradeId) => `trade ${String(tradeId ?? "").slice(0, 8)}`;
const $ = (sel) => document.querySelector(sel);

function symbol(d) {
  return d.symbol ?? symbolOf(d.trade_id);
}

function pnlTone(value) {
  const n = num(value);
  if (n === null || n === 0) return "info";
  return n > 0 ? "profit" : "loss";
}

function trigger(d) {
  if (!d.trigger) return "";
  return PORTFOLIO.has(d.reason) ? pnl(d.trigger) : price(d.trigger);
}

// -- what each event says ------------------------------------------------------------------------
function stopReason(d) {
  return d.stop_reason && d.stop_reason !== "STOP_LOSS" ? ` (${words(d.stop_reason).replace(/ stop$/, "")})` : "";
}

export function describe(event) {
  const d = event.data ?? {};
  switch (event.kind) {
    case "exit":
      return `${symbol(d)} ${d.side ?? ""} ×${d.quantity ?? "?"} exit: ${words(d.reason)}${d.trigger ? ` at ${trigger(d)}` : ""}`;
    case "closed": {
      const why = d.state === "CLOSED_EXTERNALLY" ? "closed externally" : `${words(d.reason ?? "closed")}${d.trigger ? ` at ${trigger(d)}` : ""}`;
      return `${symbol(d)} ${d.side ?? ""} ×${d.quantity ?? "?"} ${why} · filled ${price(d.exit_price)} · ${pnl(d.realized_pnl)}`;
    }
    case "level":
      return d.stop_loss ? `${symbol(d)} stop → ${price(d.stop_loss)}${stopReason(d)}` : `${symbol(d)} levels updated`;
    case "strategy":
      return `${String(d.strategy ?? d.strategy_id ?? "").split(":").pop()} → ${d.state ?? "updated"}${d.reason ? ` (${words(d.reason)})` : ""}`;
    case "alert":
      return d.message ?? "alert";
    case "gap":
      return `Missed ${d.missed ?? "some"} live events; refreshed`;
    default:
      return JSON.stringify(d).slice(0, 160);
  }
}

const KIND_BADGE = { exit: "badge-warning", level: "badge-info", moves: "badge-info", strategy: "badge-secondary", alert: "badge-warning", gap: "badge-ghost" };
const TONE_BADGE = { profit: "badge-success", loss: "badge-error", info: "badge-neutral" };

function badgeOf(event) {
  const d = event.data ?? {};
  if (event.kind === "closed") return TONE_BADGE[pnlTone(d.realized_pnl)];
  if (event.kind === "alert" && (d.level === "error" || d.level === "critical")) return "badge-error";
  return KIND_BADGE[event.kind] ?? "badge-ghost";
}

const LABEL = { closed: "exit", moves: "levels" };

function eventItem(event, text = describe(event)) {
  const d = event.data ?? {};
  return `<li class="flex items-start gap-3 px-4 py-2.5 text-sm" data-kind="${esc(event.kind)}" data-trade-id="${esc(d.trade_id ?? "")}" data-testid="event">
      <span class="num mt-0.5 w-16 shrink-0 text-xs text-base-content/50">${clock(event.at)}</span>
      <span class="badge ${badgeOf(event)} badge-sm mt-0.5 w-16 shrink-0 justify-center">${esc(LABEL[event.kind] ?? event.kind)}</span>
      <span class="min-w-0 flex-1 break-words">${esc(text)}</span></li>`;
}

function updates(count) {
  return `${count} level update${count === 1 ? "" : "s"}`;
}

function movesNote(moves) {
  return moves ? ` · after ${updates(moves.count)}` : "";
}

/** The rail's rows: exits folded with their close, level moves folded per trade. */
export function railRows(list, withLevels) {
  const closedTrades = new Set(list.filter((e) => e.kind === "closed").map((e) => e.data?.trade_id));
  const exited = new Set(list.filter((e) => e.kind === "exit" || e.kind === "closed").map((e) => e.data?.trade_id));
  const moves = new Map(); // trade_id -> {count, latest}
  if (!withLevels) {
    for (const e of list) {
      if (e.kind !== "level") continue;
      const m = moves.get(e.data?.trade_id) ?? { count: 0, latest: null };
      m.count += 1;
      m.latest ??= e; // newest first: the first seen is the latest
      moves.set(e.data?.trade_id, m);
    }
  }
  const rows = [];
  const exitShown = new Set();
  for (const e of list) {
    const id = e.data?.trade_id;
    if (e.kind === "level") {
      if (withLevels) rows.push(eventItem(e));
      else if (!exited.has(id) && moves.get(id)?.latest === e) {
        const m = moves.get(id);
        const text = `${symbol(e.data)} · ${updates(m.count)} · stop now ${price(e.data.stop_loss)}${stopReason(e.data)}`;
        rows.push(eventItem({ kind: "moves", data: e.data, at: e.at }, text));
      }
      continue;
    }
    if (e.kind === "exit" && closedTrades.has(id)) continue; // shown with its close
    if (e.kind === "exit" || e.kind === "closed") {
      if (exitShown.has(id) && e.kind === "exit") continue;
      exitShown.add(id);
      rows.push(eventItem(e, describe(e) + (withLevels ? "" : movesNote(moves.get(id)))));
      continue;
    }
    rows.push(eventItem(e));
  }
  return rows;
}

// -- rendering ----------------------------------------------------------------------------------
export function renderEvents() {
  const wanted = FILTERS[filter] ?? null;
  const list = wanted ? events.filter((e) => wanted.has(e.kind)) : events;
  const page = $("#events-list");
  if (page) page.innerHTML = list.slice(0, MAX_EVENTS).map((e) => eventItem(e)).join("");
  $("#events-empty")?.classList.toggle("hidden", list.length > 0);
  for (const button of document.querySelectorAll("[data-event-filter]")) {
    const active = button.dataset.eventFilter === filter;
    button.classList.toggle("btn-active", active);
    button.setAttribute("aria-pressed", String(active));
    const kinds = FILTERS[button.dataset.eventFilter];
    const count = button.querySelector("[data-role=count]");
    if (count) count.textContent = String(kinds ? events.filter((e) => kinds.has(e.kind)).length : events.length);
  }
  const rail = $("#events-rail");
  if (!rail) return;
  const rows = railRows(events, showLevels).slice(0, RAIL_ROWS);
  rail.innerHTML = rows.length ? rows.join("") : `<li class="px-4 py-8 text-center text-sm text-base-content/60">Waiting for events…</li>`;
}

// At most one render per 100 ms, however fast events come (a throttle, not a debounce: a
// steady stream of moves must not hold the rail back).
let renderTimer = 0;
function renderSoon() {
  if (renderTimer) return;
  renderTimer = setTimeout(() => {
    renderTimer = 0;
    renderEvents();
  }, 100);
}

function identity(e) {
  const d = e.data ?? {};
  return `${e.kind}|${e.at}|${d.trade_id ?? d.strategy_id ?? d.message ?? ""}`;
}

export function addEvent(event) {
  if (!event?.kind || event.kind === "trade" || event.kind === "snapshot" || event.kind === "portfolio" || event.kind === "health") return;
  events.unshift({ kind: event.kind, data: event.data ?? {}, at: event.at ?? Date.now() });
  if (events.length > MAX_EVENTS) events.length = MAX_EVENTS;
  renderSoon();
}

/** Seed the list with the server's recent events (GET /ui/api/events, newest last). */
export function seedEvents(list) {
  const known = (Array.isArray(list) ? list : list?.events ?? [])
    .filter((e) => e && e.kind && e.kind !== "trade")
    .map((e) => ({ kind: e.kind, data: e.data ?? {}, at: e.at }));
  known.sort((a, b) => (num(b.at) ?? 0) - (num(a.at) ?? 0));
  const seen = new Set(events.map(identity)); // pushed already while the request was out
  events.push(...known.filter((e) => !seen.has(identity(e))));
  if (events.length > MAX_EVENTS) events.length = MAX_EVENTS;
  renderEvents();
}

/** Wire the rail's level toggle and the page's kind filter; `resolveSymbol(tradeId)` names a
 * trade for events that do not carry its symbol. */
export function initEvents({ resolveSymbol } = {}) {
  if (resolveSymbol) symbolOf = (id) => resolveSymbol(id) ?? `trade ${String(id ?? "").slice(0, 8)}`;
  try {
    showLevels = localStorage.getItem(LEVELS_KEY) === "1";
  } catch (err) {
    /* private mode */
  }
  const toggle = $("#rail-levels");
  if (toggle) {
    toggle.checked = showLevels;
    toggle.addEventListener("change", () => {
      showLevels = toggle.checked;
      try {
        localStorage.setItem(LEVELS_KEY, showLevels ? "1" : "0");
      } catch (err) {
        /* private mode */
      }
      renderEvents();
    });
  }
  for (const button of document.querySelectorAll("[data-event-filter]")) {
    button.addEventListener("click", () => {
      filter = button.dataset.eventFilter;
      renderEvents();
    });
  }
  renderEvents();
}

// -- toasts for stream events ---------------------------------------------------------------------
/** An exit fired (`exit` event): coloured by the open P&L at that moment ("≈": not filled yet). */
export function exitToast(data, trade) {
  const symbol = data.symbol ?? trade?.symbol ?? "trade";
  const estimate = data.open_pnl ?? null;
  const trigger = data.trigger ? `${PORTFOLIO.has(data.reason) ? "P&L" : "trigger"} ${PORTFOLIO.has(data.reason) ? pnl(data.trigger) : price(data.trigger)}` : "";
  const title = `${symbol} · ${words(data.reason)}`;
  const detail = [`exiting ${data.side ?? trade?.side ?? ""} ×${data.quantity ?? trade?.quantity ?? "?"}`, trigger, data.price ? `last ${price(data.price)}` : ""].filter(Boolean).join(" · ");
  const amount = estimate !== null ? `≈${pnl(estimate)}` : "";
  const el = toast("info", title, detail, { kindTag: "exit", tone: pnlTone(estimate), key: `exit:${data.trade_id}`, amount });
  if (el) el.dataset.pnl = estimate ?? "";
  return el;
}

/** A trade closed (`closed` event): its toast now shows the realized P&L, coloured by its sign. */
export function closedToast(data) {
  const external = data.state === "CLOSED_EXTERNALLY";
  const why = external ? "Closed externally" : words(data.reason ?? "closed");
  const title = `${data.symbol ?? "trade"} · ${why}`;
  const detail = [`realized · closed ${data.side ?? ""} ×${data.quantity ?? "?"}`, data.exit_price ? `at ${price(data.exit_price)}` : "", data.strategy ?? ""].filter(Boolean).join(" · ");
  const el = toast("info", title, detail, { kindTag: "exit", tone: pnlTone(data.realized_pnl), key: `exit:${data.trade_id}`, amount: pnl(data.realized_pnl) });
  if (el) {
    el.dataset.pnl = data.realized_pnl ?? "";
    el.dataset.closed = "true";
  }
  return el;
}

/** An `alert` event: red for error/critical, amber for a warning, neutral for info. */
export function alertToast(data) {
  const level = data.level ?? "warning";
  const kind = level === "error" || level === "critical" ? "error" : level === "info" ? "info" : "warning";
  const detail = Object.entries(data)
    .filter(([k, v]) => k !== "level" && k !== "message" && v !== null && v !== "")
    .slice(0, 4)
    .map(([k, v]) => `${words(k)}: ${v}`)
    .join(" · ");
  return toast(kind, data.message ?? "Alert", detail, { kindTag: "alert" });
}
