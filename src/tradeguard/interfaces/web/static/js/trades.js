// Live trade rows (desk table) and cards (phone): their HTML, the distances from the last price
// to the stop and the target, and patching them field by field as trade views arrive.
import { partialButton } from "./partial.js";
import { esc, num, price, pnl, pnlClass, words } from "./ui.js";

const $$ = (sel, root = document) => [...root.querySelectorAll(sel)];

/** Within this share of the last price, the stop is "near": its distance turns bold. */
export const NEAR_STOP_PCT = 0.5;

export function sideBadge(side) {
  const cls = side === "SHORT" ? "badge-error" : "badge-success";
  return `<span class="badge ${cls} badge-outline badge-sm font-semibold">${esc(side)}</span>`;
}

const TRADE_STATE = {
  ACTIVE: "badge-ghost",
  EXITING: "badge-warning",
  EXIT_FAILED: "badge-error",
  CLOSED: "badge-neutral",
  CLOSED_EXTERNALLY: "badge-neutral",
};

export function tradeStateBadge(s) {
  return `<span class="badge ${TRADE_STATE[s] ?? "badge-ghost"} badge-sm whitespace-nowrap" data-f-state>${esc(words(s))}</span>`;
}

const money = new Intl.NumberFormat("en-IN", { minimumFractionDigits: 2, maximumFractionDigits: 2 });

/** "−₹5.00 · −0.62%": a move of the price, signed as it moves the trade's P&L. */
function move(amount, last) {
  const sign = amount > 0 ? "+" : amount < 0 ? "−" : "";
  const pct = last ? (Math.abs(amount) / last) * 100 : 0;
  return `${sign}₹${money.format(Math.abs(amount))} · ${sign}${pct.toFixed(2)}%`;
}

/**
 * Distance from the last price to a level, as the move of the price that reaches it, signed by
 * what it does to the P&L (the stop: negative, danger; the target: positive, room). null when
 * the last price or the level is unknown.
 */
export function distance(t, level) {
  const last = num(t.last_price);
  const value = num(level);
  if (last === null || value === null) return null;
  const sign = t.side === "SHORT" ? -1 : 1;
  const amount = sign * (value - last);
  return { amount, pct: last ? (amount / last) * 100 : 0, text: move(amount, last) };
}

function stopDistance(t) {
  if (num(t.stop_loss) === null) return { text: "no stop", cls: "text-warning" };
  const d = distance(t, t.stop_loss);
  if (d === null) return { text: "—", cls: "" };
  if (d.amount >= 0) return { text: "at the stop", cls: "text-error font-semibold" };
  const near = Math.abs(d.pct) < NEAR_STOP_PCT;
  return { text: d.text, cls: near ? "text-error font-semibold" : "text-error/80" };
}

function targetDistance(t) {
  if (num(t.target) === null) return { text: "no target", cls: "text-base-content/50" };
  const d = distance(t, t.target);
  if (d === null) return { text: "—", cls: "" };
  if (d.amount <= 0) return { text: "at the target", cls: "text-success font-semibold" };
  return { text: d.text, cls: "text-success/80" };
}

function trailingField(t) {
  if (num(t.trailing_stop) === null && num(t.trail_arms_at) !== null) {
    return { text: `trail arms at ${price(t.trail_arms_at)}`, cls: "text-xs !whitespace-normal !text-base-content/60" };
  }
  return { text: price(t.trailing_stop) };
}

export function tradeFields(t) {
  const reason = t.stop_reason && t.stop_reason !== "STOP_LOSS" ? words(t.stop_reason).replace(/ stop$/, "") : "";
  return {
    last_price: { text: price(t.last_price), value: num(t.last_price) },
    pnl: { text: pnl(t.pnl), cls: pnlClass(t.pnl) },
    stop_loss: { text: price(t.stop_loss) },
    stop_reason: { text: reason },
    stop_dist: stopDistance(t),
    target: { text: price(t.target) },
    target_dist: targetDistance(t),
    trailing_stop: trailingField(t),
    breakeven_stop: { text: price(t.breakeven_stop) },
    quantity: { text: String(t.quantity) },
    entry_price: { text: price(t.entry_price) },
  };
}

function fieldSpan(name, f, extra = "") {
  const empty = f.text === "—" ? " lvl-empty" : "";
  return `<span data-f="${name}" data-base="${esc(extra)}" class="${extra} ${f.cls ?? ""}${empty}">${esc(f.text)}</span>`;
}

const DIST_TITLE = {
  stop_dist: "How far the price can move before the stop exits: ₹ per share and % of the last price",
  target_dist: "How far the price must move to reach the target: ₹ per share and % of the last price",
};

/** A labelled distance line ("to stop −₹5.00 · −0.62%"), present even without the level. */
function distLine(label, name, f, align = "justify-end") {
  return `<div class="flex flex-wrap ${align} gap-x-1 text-[11px] leading-tight" title="${DIST_TITLE[name]}" data-testid="${name.replace("_", "-")}">
      <span class="text-base-content/50">${label}</span>${fieldSpan(name, f[name], "num")}</div>`;
}

function actionButtons(t, size = "btn-xs") {
  const canEdit = t.state === "ACTIVE";
  const canExit = t.state === "ACTIVE" || t.state === "EXIT_FAILED";
  return `<div class="flex flex-wrap justify-end gap-1.5">
      <button type="button" class="btn btn-ghost ${size}" data-action="edit" data-trade-id="${esc(t.trade_id)}" ${canEdit ? "" : "disabled"}>Edit</button>
      <button type="button" class="btn btn-ghost ${size}" data-action="stop_to_cost" data-trade-id="${esc(t.trade_id)}" title="Move the stop-loss to the entry price" ${canEdit ? "" : "disabled"}>To cost</button>
      <button type="button" class="btn btn-ghost ${size}" data-action="lock_profit" data-trade-id="${esc(t.trade_id)}" title="Move the stop-loss to lock half of the open profit" ${canEdit ? "" : "disabled"}>Lock profit</button>
      ${partialButton(t, size)}
      <button type="button" class="btn btn-error btn-outline ${size}" data-action="exit" data-trade-id="${esc(t.trade_id)}" ${canExit ? "" : "disabled"}>${t.state === "EXIT_FAILED" ? "Retry exit" : "Exit"}</button>
    </div>`;
}

// semi-auto: the exit waits in OpenAlgo's Action Center (approve it there, or reject it and retry)
function queuedNote(t) {
  if (!t.exit?.queued_for_approval) return "";
  return `<div class="mt-1 text-xs font-medium text-warning" data-role="queued" title="Approve it in OpenAlgo's Action Center, or reject it there and retry the exit">Exit queued in Action Center (pending #${esc(t.exit.pending_order_id ?? "?")})</div>`;
}

/** The box a trade's price chart is drawn into (charts.js fills it). */
function chartBox(t, cls) {
  return `<div class="${cls}" data-trade-chart="${esc(t.trade_id)}" data-testid="trade-chart-box"></div>`;
}

export function tradeRowHtml(t) {
  const f = tradeFields(t);
  return `
    <td><div class="flex items-center gap-2 font-semibold">${esc(t.symbol)}${sideBadge(t.side)}${t.state === "ACTIVE" ? "" : tradeStateBadge(t.state)}</div>
      <div class="whitespace-nowrap text-xs text-base-content/60">${esc(t.exchange)} · ${esc(t.product)} · ${esc(t.strategy)}</div>${queuedNote(t)}</td>
    <td class="text-right">${fieldSpan("quantity", f.quantity, "num")}</td>
    <td class="text-right">${fieldSpan("entry_price", f.entry_price, "num")}</td>
    <td class="text-right">${fieldSpan("last_price", f.last_price, "num font-medium")}</td>
    <td class="text-right">${fieldSpan("pnl", f.pnl, "num font-semibold")}</td>
    <td class="py-1">${chartBox(t, "h-10 w-28")}</td>
    <td class="text-right"><div class="flex flex-col items-end">${fieldSpan("stop_loss", f.stop_loss, "num text-error")}${fieldSpan("stop_reason", f.stop_reason, "text-[10px] uppercase tracking-wide text-base-content/50")}${distLine("to stop", "stop_dist", f)}</div></td>
    <td class="text-right"><div class="flex flex-col items-end">${fieldSpan("target", f.target, "num text-success")}${distLine("to target", "target_dist", f)}</div></td>
    <td class="text-right">${fieldSpan("trailing_stop", f.trailing_stop, "num text-warning")}</td>
    <td class="text-right">${fieldSpan("breakeven_stop", f.breakeven_stop, "num text-info")}</td>
    <td>${actionButtons(t)}</td>`;
}

export function tradeCardHtml(t) {
  const f = tradeFields(t);
  const level = (label, name, cls, dist = "") => `<div class="flex min-w-0 flex-col"><span class="text-[10px] uppercase tracking-wide text-base-content/50">${label}</span>${fieldSpan(name, f[name], `num text-sm ${cls}`)}${dist}</div>`;
  return `
    <div class="flex items-start justify-between gap-3">
      <div class="min-w-0">
        <div class="flex items-center gap-2"><span class="font-semibold">${esc(t.symbol)}</span>${sideBadge(t.side)}${t.state === "ACTIVE" ? "" : tradeStateBadge(t.state)}</div>
        <div class="mt-0.5 truncate text-xs text-base-content/60">${fieldSpan("quantity", f.quantity, "num")} @ ${fieldSpan("entry_price", f.entry_price, "num")} · ${esc(t.strategy)}</div>
      </div>
      <div class="text-right">
        ${fieldSpan("pnl", f.pnl, "num block text-lg font-semibold leading-tight")}
        <div class="text-xs text-base-content/60">LTP ${fieldSpan("last_price", f.last_price, "num font-medium text-base-content")}</div>
      </div>
    </div>
    <div class="mt-3 grid grid-cols-2 gap-2">
      ${level("Stop", "stop_loss", "text-error", distLine("to stop", "stop_dist", f, "justify-start"))}
      ${level("Target", "target", "text-success", distLine("to target", "target_dist", f, "justify-start"))}
    </div>
    <div class="mt-2 grid grid-cols-2 gap-2">
      ${level("Trail", "trailing_stop", "text-warning")}${level("B/E", "breakeven_stop", "text-info")}
    </div>
    ${chartBox(t, "mt-2 h-[72px] w-full")}
    <div class="mt-3">${actionButtons(t, "btn-sm")}</div>`;
}

function flash(el, cls) {
  el.classList.remove("flash", "flash-up", "flash-down");
  void el.offsetWidth; // restart the animation
  el.classList.add(cls);
}

const QUIET = new Set(["pnl", "stop_dist", "target_dist"]); // follow the price: no flash

/**
 * Patch every row and card of trade `t` (the view before: `before`). A changed state rebuilds
 * the element; otherwise only changed fields are written. Returns the rebuilt elements (their
 * chart boxes are new and empty).
 */
export function patchTradeElements(t, before) {
  const f = tradeFields(t);
  const old = before ? tradeFields(before) : null;
  const rebuilt = [];
  for (const el of $$(`[data-trade-id="${CSS.escape(t.trade_id)}"][data-trade-el]`)) {
    if (!before || before.state !== t.state) {
      el.innerHTML = el.tagName === "TR" ? tradeRowHtml(t) : tradeCardHtml(t);
      rebuilt.push(el);
      continue;
    }
    for (const span of $$("[data-f]", el)) {
      const name = span.dataset.f;
      const next = f[name];
      const cls = `${span.dataset.base} ${next?.cls ?? ""}${next?.text === "—" ? " lvl-empty" : ""}`;
      if (!next || (span.textContent === next.text && span.className === cls)) continue;
      const changed = span.textContent !== next.text;
      span.textContent = next.text;
      span.className = cls;
      if (!changed) continue;
      if (name === "last_price" && old?.last_price.value !== null && next.value !== null) {
        flash(span, next.value >= old.last_price.value ? "flash-up" : "flash-down");
      } else if (!QUIET.has(name)) {
        flash(span, "flash");
      }
    }
  }
  return rebuilt;
}

/** A new row and card for trade `t`. */
export function tradeElements(t) {
  const tr = document.createElement("tr");
  tr.className = "hover";
  tr.dataset.tradeId = t.trade_id;
  tr.dataset.tradeEl = "row";
  tr.dataset.testid = "trade-row";
  tr.innerHTML = tradeRowHtml(t);
  const card = document.createElement("div");
  card.className = "px-4 py-3";
  card.dataset.tradeId = t.trade_id;
  card.dataset.tradeEl = "card";
  card.dataset.testid = "trade-card";
  card.innerHTML = tradeCardHtml(t);
  return { tr, card };
}
