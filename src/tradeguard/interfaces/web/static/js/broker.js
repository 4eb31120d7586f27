// Broker view: the account's positions and orders as OpenAlgo reports them, each position
// matched to the guarded trades on its symbol/exchange/product; unguarded quantity flagged, and
// "guard this position" (a createtrade with the chosen strategy's default rules at the
// position's average price). The server caches the broker's books a few seconds.
import { api } from "./api.js";
import { busy, clock, esc, num, price, toast, words } from "./ui.js";

const $ = (sel, root = document) => root.querySelector(sel);
const REFRESH_MS = 10_000; // while the view is shown (the server answers from its cache)

const STATUS = {
  GUARDED: ["badge-success", "Guarded"],
  UNGUARDED: ["badge-error", "Unguarded"],
  PARTLY_GUARDED: ["badge-warning", "Partly guarded"],
  OVER_GUARDED: ["badge-warning", "Trades exceed position"],
  FLAT: ["badge-ghost", "Flat"],
};

const ctx = { upsertTrade: () => {}, strategies: () => [], reportError: () => {} };
let positions = [];
let timer = null;
let guarding = null; // the position row being guarded

function statusBadge(status) {
  const [cls, text] = STATUS[status] ?? ["badge-ghost", words(status)];
  return `<span class="badge ${cls} badge-sm whitespace-nowrap" data-role="status">${esc(text)}</span>`;
}

function signed(n) {
  const v = num(n) ?? 0;
  return v > 0 ? `+${v}` : String(v);
}

function tradesList(p) {
  const mine = p.trades.map((t) => `<span class="whitespace-nowrap font-mono text-xs" title="${esc(t.state)}">${esc(t.strategy)} ${esc(t.side === "LONG" ? "+" : "−")}${esc(t.quantity)}</span>`);
  if (p.other_accounts) mine.push(`<span class="text-xs text-base-content/60">other accounts ${esc(signed(p.other_accounts))}</span>`);
  return mine.length ? mine.join("<br>") : '<span class="text-xs text-base-content/50">none</span>';
}

function guardButton(p, size = "btn-xs") {
  if (!p.unguarded) return "";
  return `<button type="button" class="btn btn-warning ${size}" data-guard="${esc(positions.indexOf(p))}" data-testid="guard-position">Guard this position</button>`;
}

function positionRow(p) {
  const flag = p.unguarded ? ` data-unguarded="${esc(p.unguarded)}"` : "";
  return `<tr data-position="${esc(p.symbol)}:${esc(p.exchange)}:${esc(p.product)}"${flag} class="${p.unguarded ? "bg-error/10" : ""}">
    <td><div class="font-semibold">${esc(p.symbol)}</div><div class="text-xs text-base-content/60">${esc(p.exchange)} · ${esc(p.product)}</div></td>
    <td class="num text-right">${esc(signed(p.quantity))}</td>
    <td class="num text-right">${price(p.average_price)}</td>
    <td class="num text-right">${price(p.ltp)}</td>
    <td class="num text-right">${esc(signed(p.guarded))}</td>
    <td class="num text-right font-semibold ${p.unguarded ? "text-error" : ""}" data-role="unguarded">${esc(signed(p.unguarded))}</td>
    <td>${statusBadge(p.status)}</td>
    <td>${tradesList(p)}</td>
    <td class="text-right">${guardButton(p)}</td></tr>`;
}

function positionCard(p) {
  const flag = p.unguarded ? ` data-unguarded="${esc(p.unguarded)}"` : "";
  return `<div class="px-4 py-3 ${p.unguarded ? "bg-error/10" : ""}" data-position="${esc(p.symbol)}:${esc(p.exchange)}:${esc(p.product)}"${flag}>
    <div class="flex items-start justify-between gap-2">
      <div class="min-w-0"><div class="font-semibold">${esc(p.symbol)} <span class="text-xs font-normal text-base-content/60">${esc(p.exchange)} · ${esc(p.product)}</span></div>
        <div class="num text-xs text-base-content/70">net ${esc(signed(p.quantity))} @ ${price(p.average_price)} · LTP ${price(p.ltp)}</div></div>
      ${statusBadge(p.status)}
    </div>
    <div class="num mt-1 text-xs">guarded ${esc(signed(p.guarded))}${p.unguarded ? ` · <span class="font-semibold text-error" data-role="unguarded">unguarded ${esc(signed(p.unguarded))}</span>` : ""}</div>
    ${p.unguarded ? `<div class="mt-2">${guardButton(p, "btn-sm btn-block")}</div>` : ""}</div>`;
}

function orderRow(o) {
  const ours = o.tradeguard ? `<span class="badge badge-primary badge-sm">tradeguard ${esc(o.tradeguard)}</span>` : '<span class="badge badge-ghost badge-sm">other</span>';
  const filled = o.filled_quantity === null || o.filled_quantity === undefined ? "" : `${esc(o.filled_quantity)}/`;
  return `<tr data-order-id="${esc(o.order_id)}">
    <td class="whitespace-nowrap text-xs">${esc(o.timestamp || "—")}</td>
    <td class="hidden font-mono text-xs sm:table-cell">${esc(o.order_id)}</td>
    <td><span class="font-semibold">${esc(o.symbol)}</span> <span class="hidden text-xs text-base-content/60 sm:inline">${esc(o.exchange)} · ${esc(o.product)}</span></td>
    <td>${esc(o.action)}</td>
    <td class="num text-right">${filled}${esc(o.quantity)}</td>
    <td class="hidden text-xs sm:table-cell">${esc(words(o.status))}</td>
    <td class="num hidden text-right sm:table-cell">${price(o.average_price)}</td>
    <td>${ours}</td></tr>`;
}

function render(view) {
  positions = view.positions ?? [];
  $("#broker-positions-body").innerHTML = positions.map(positionRow).join("");
  $("#broker-positions-cards").innerHTML = positions.map(positionCard).join("");
  $("#broker-positions-empty").classList.toggle("hidden", positions.length > 0);
  $("#broker-positions-table").classList.toggle("hidden", positions.length === 0);
  const orders = view.orders ?? [];
  $("#broker-orders-body").innerHTML = orders.map(orderRow).join("");
  $("#broker-orders-empty").classList.toggle("hidden", orders.length > 0);
  const flagged = $("#broker-unguarded");
  flagged.textContent = view.unguarded ? `${view.unguarded} unguarded` : "all guarded";
  flagged.className = `badge ${view.unguarded ? "badge-error" : "badge-success"}`;
  const age = $("#broker-age");
  age.textContent = `read ${clock(view.read_at)}${view.stale ? " · stale: " + view.error : ""}`;
  age.classList.toggle("text-warning", Boolean(view.stale));
}

export async function refreshBroker(force = false) {
  try {
    render(await api(`broker${force ? "?refresh=true" : ""}`));
  } catch (err) {
    ctx.reportError("Broker view unavailable", err);
  }
}

function openGuard(p) {
  guarding = p;
  const dialog = $("#guard-dialog");
  const form = $("#guard-form");
  const names = ctx.strategies().filter((s) => s.state !== "HALTED").map((s) => s.strategy);
  form.elements.strategy.innerHTML = names.map((n) => `<option value="${esc(n)}">${esc(n)}</option>`).join("");
  form.elements.quantity.value = String(Math.abs(p.unguarded));
  form.elements.quantity.max = String(Math.abs(p.unguarded));
  $("[data-role=title]", dialog).textContent = `${p.symbol} ${p.exchange} ${p.product}`;
  $("[data-role=subtitle]", dialog).textContent = `${p.unguarded > 0 ? "LONG" : "SHORT"} ${Math.abs(p.unguarded)} unguarded of net ${signed(p.quantity)}; entry at the average price ${price(p.average_price)}. The strategy's default stop, target and trailing rules apply.`;
  $("#guard-error").classList.add("hidden");
  $("[data-role=save]", form).disabled = names.length === 0;
  if (!names.length) showError("Create a strategy first: its default rules guard the position.");
  dialog.showModal();
}

function showError(message) {
  const box = $("#guard-error");
  box.textContent = message;
  box.classList.remove("hidden");
}

async function saveGuard(event) {
  event.preventDefault();
  const p = guarding;
  if (!p) return;
  const form = $("#guard-form");
  const quantity = Number(form.elements.quantity.value);
  if (!Number.isInteger(quantity) || quantity < 1 || quantity > Math.abs(p.unguarded)) {
    showError(`Quantity must be a whole number from 1 to ${Math.abs(p.unguarded)}.`);
    return;
  }
  const body = { strategy: form.elements.strategy.value, symbol: p.symbol, exchange: p.exchange, product: p.product, quantity };
  try {
    const view = await busy($("[data-role=save]", form), () => api("broker/guard", { method: "POST", body }));
    if (view?.trade_id) ctx.upsertTrade(view);
    $("#guard-dialog").close();
    toast("success", `${p.symbol}: ${quantity} now guarded`, `trade ${view?.trade_id ?? ""} · stop ${price(view?.stop_loss)} · target ${price(view?.target)}`);
    refreshBroker(true);
  } catch (err) {
    showError(err.message);
    refreshBroker(true);
  }
}

export function showBroker(visible) {
  clearInterval(timer);
  timer = null;
  if (!visible) return;
  refreshBroker();
  timer = setInterval(() => document.visibilityState === "visible" && refreshBroker(), REFRESH_MS);
}

export function initBroker({ upsertTrade, strategies, reportError }) {
  Object.assign(ctx, { upsertTrade, strategies, reportError });
  $("#broker-refresh").addEventListener("click", (event) => busy(event.currentTarget, () => refreshBroker(true)));
  $("#view-broker").addEventListener("click", (event) => {
    const button = event.target.closest("button[data-guard]");
    const p = button && positions[Number(button.dataset.guard)];
    if (p) openGuard(p);
  });
  $("#guard-form").addEventListener("submit", saveGuard);
  $("#guard-dialog [data-role=cancel]").addEventListener("click", () => $("#guard-dialog").close());
}
