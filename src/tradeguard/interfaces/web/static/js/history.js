// History view: closed trades filtered on the server (IST dates, strategy, symbol, exit reason),
// a CSV download of the same filter, and a layout per screen: a table on a desk, cards on a
// phone (P&L and reason always in view, nothing scrolls sideways).
import { api } from "./api.js";
import { esc, num, pnl, pnlClass, price, toDate, words } from "./ui.js";

export const EXIT_REASONS = [
  "STOP_LOSS", "BREAKEVEN_STOP", "TRAILING_STOP", "TARGET", "SQUARE_OFF", "MAX_HOLDING",
  "DAILY_LOSS_LIMIT", "PORTFOLIO_STOP", "PORTFOLIO_TRAILING", "PORTFOLIO_TARGET", "MANUAL",
  "MANUAL_ALL", "STALE_FEED", "CLOSED_EXTERNALLY",
];
const PAGE = 200;
const WIDE = window.matchMedia("(min-width: 768px)");

const $ = (sel, root = document) => root.querySelector(sel);
const IST = { timeZone: "Asia/Kolkata" };

/** A time as "01 Dec 10:45:30" in IST (the filters' and the exchange's clock), whatever the
 * browser's own time zone. */
export function stamp(value) {
  const d = toDate(value);
  if (!d) return "—";
  const day = d.toLocaleDateString("en-IN", { ...IST, day: "2-digit", month: "short" });
  return `${day} ${d.toLocaleTimeString("en-IN", { ...IST, hour12: false })}`;
}

/** "1h 15m", "4m 05s", "2d 3h": how long a trade was held. */
export function held(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  const s = Number(seconds);
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d) return `${d}d ${h}h`;
  if (h) return `${h}h ${String(m).padStart(2, "0")}m`;
  return `${m}m ${String(s % 60).padStart(2, "0")}s`;
}

/** The filter form's values as query parameters (empty fields left out). */
export function filterParams(form, keys = ["from", "to", "strategy", "symbol", "reason"]) {
  const params = new URLSearchParams();
  for (const key of keys) {
    const field = form.elements.namedItem(key);
    let value = field ? field.value.trim() : "";
    if (key === "symbol") value = value.toUpperCase();
    if (value) params.set(key, value);
  }
  return params;
}

/** Fill a <select> with the account's strategy names, keeping the current choice. */
export function fillStrategies(select, names) {
  const current = select.value;
  const sorted = [...new Set(names)].sort();
  select.innerHTML = `<option value="">All strategies</option>${sorted
    .map((n) => `<option value="${esc(n)}">${esc(n)}</option>`)
    .join("")}`;
  if (sorted.includes(current)) select.value = current;
}

function slip(h) {
  if (h.slippage_amount === null || h.slippage_amount === undefined) return `<span class="text-base-content/50">—</span>`;
  return `<span class="${pnlClass(h.slippage_amount)}" title="${esc(h.slippage)} per unit">${pnl(h.slippage_amount)}</span>`;
}

function reasonOf(h, deps) {
  return deps.reasonBadge(h.exit_reason) || deps.reasonBadge(h.exit_reason_label) || deps.tradeStateBadge(h.state);
}

function tableRow(h, deps) {
  return `<tr class="hover" data-testid="history-row" data-trade-id="${esc(h.trade_id)}">
    <td class="num text-xs"><div>${stamp(h.closed_at)}</div><div class="text-base-content/60" data-f="entered_at">in ${stamp(h.entered_at)}</div></td>
    <td class="num text-xs" data-f="held">${held(h.holding_seconds)}</td>
    <td><div class="font-semibold">${esc(h.symbol)}</div><div class="text-xs text-base-content/60">${esc(h.strategy)} · ${esc(h.product)}</div></td>
    <td>${deps.sideBadge(h.side)}</td>
    <td class="num text-right">${esc(h.quantity)}</td>
    <td class="num text-right">${price(h.entry_price)}</td>
    <td class="num text-right hidden xl:table-cell" data-f="trigger_price">${price(h.trigger_price)}</td>
    <td class="num text-right" data-f="exit_price">${price(h.exit_price)}</td>
    <td class="num text-right text-xs" data-f="slippage">${slip(h)}</td>
    <td class="num text-right font-semibold ${pnlClass(h.pnl)}" data-f="pnl">${pnl(h.pnl)}</td>
    <td><div class="flex flex-col items-start gap-0.5">${reasonOf(h, deps)}
      ${h.exit_message ? `<span class="max-w-[14rem] truncate text-xs text-base-content/60" title="${esc(h.exit_message)}">${esc(h.exit_message)}</span>` : ""}</div></td>
  </tr>`;
}

function card(h, deps) {
  return `<li class="border-b border-base-300 px-3 py-2.5 last:border-b-0" data-testid="history-row" data-trade-id="${esc(h.trade_id)}">
    <div class="flex items-start justify-between gap-2">
      <div class="min-w-0">
        <div class="flex items-center gap-1.5"><span class="truncate font-semibold">${esc(h.symbol)}</span>${deps.sideBadge(h.side)}</div>
        <div class="truncate text-xs text-base-content/60">${esc(h.strategy)} · ${esc(h.quantity)} @ ${price(h.entry_price)} → ${price(h.exit_price)}</div>
      </div>
      <div class="shrink-0 text-right">
        <div class="num font-semibold ${pnlClass(h.pnl)}" data-f="pnl">${pnl(h.pnl)}</div>
        <div class="mt-0.5">${reasonOf(h, deps)}</div>
      </div>
    </div>
    <div class="mt-1 flex flex-wrap gap-x-3 gap-y-0.5 text-xs text-base-content/60">
      <span class="num" data-f="entered_at">${stamp(h.entered_at)} → ${stamp(h.closed_at)}</span>
      <span data-f="held">held ${held(h.holding_seconds)}</span>
      <span data-f="slippage">slippage ${slip(h)}</span>
    </div>
    ${h.exit_message ? `<div class="mt-0.5 break-words text-xs text-base-content/60">${esc(h.exit_message)}</div>` : ""}
  </li>`;
}

/**
 * deps: { reasonBadge, sideBadge, tradeStateBadge, strategyNames: () => [names], reportError }.
 * Returns { refresh, render } for app.js.
 */
export function initHistory(deps) {
  const state = { rows: [], params: new URLSearchParams() };
  const form = $("#history-filters");
  const reason = form.elements.namedItem("reason");
  reason.innerHTML = `<option value="">All reasons</option>${EXIT_REASONS.map((r) => `<option value="${r}">${esc(words(r))}</option>`).join("")}`;

  function render() {
    fillStrategies(form.elements.namedItem("strategy"), deps.strategyNames());
    const rows = state.rows;
    const wide = WIDE.matches;
    $("#history-table-wrap").classList.toggle("hidden", !wide);
    $("#history-cards").classList.toggle("hidden", wide);
    $("#history-body").innerHTML = wide ? rows.map((h) => tableRow(h, deps)).join("") : "";
    $("#history-cards").innerHTML = wide ? "" : rows.map((h) => card(h, deps)).join("");
    $("#history-empty").classList.toggle("hidden", rows.length > 0);
    const total = rows.reduce((acc, h) => acc + (num(h.pnl) ?? 0), 0);
    const totalEl = $("#history-total");
    // a full page means there may be more: say so (Export CSV has every matching trade)
    const count = rows.length >= PAGE ? `latest ${rows.length} trades (CSV has all)` : `${rows.length} trades`;
    totalEl.textContent = rows.length ? `${count} · ${pnl(total)}` : "";
    totalEl.className = `num text-sm font-semibold ${pnlClass(total)}`;
    $("#history-export").href = `/ui/api/history.csv?${state.params}`;
    $("#view-history").dataset.query = state.params.toString(); // the filter shown
  }

  function showError(message) {
    const el = $("#history-error");
    el.textContent = message || "";
    el.classList.toggle("hidden", !message);
  }

  async function load(params) {
    const query = new URLSearchParams(params);
    query.set("limit", String(PAGE));
    try {
      const rows = (await api(`history?${query}`)) ?? [];
      state.rows = rows;
      state.params = params;
      showError("");
      render();
    } catch (err) {
      // a refused filter changes nothing: the list and the export link stay as they were
      showError(err?.message ?? String(err));
    }
  }

  const refresh = () => load(state.params);

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const from = form.elements.namedItem("from").value;
    const to = form.elements.namedItem("to").value;
    if (from && to && from > to) {
      showError("The 'from' date is after the 'to' date.");
      return;
    }
    load(filterParams(form));
  });
  form.addEventListener("reset", () => {
    showError("");
    setTimeout(() => load(new URLSearchParams()), 0);
  });
  $("#history-refresh").addEventListener("click", refresh);
  WIDE.addEventListener("change", render);
  return { refresh, render };
}
