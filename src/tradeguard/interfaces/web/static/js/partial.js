// Partial exit: exit N of an ACTIVE trade's open quantity from its row; the rest stays
// guarded with the same rules (the exited part becomes a trade of its own, in History).
import { api } from "./api.js";
import { busy, esc, price, toast } from "./ui.js";

const $ = (sel, root = document) => root.querySelector(sel);
const ctx = { trades: new Map(), upsertTrade: () => {} };
let exiting = null; // the trade view being partly exited

/** The row action's button (disabled unless the trade is ACTIVE with more than one lot). */
export function partialButton(t, size) {
  const lot = Number(t.lot_size) || 1;
  const can = t.state === "ACTIVE" && Number(t.quantity) > lot;
  return `<button type="button" class="btn btn-ghost ${size}" data-partial="${esc(t.trade_id)}" title="Partial exit: exit part of the quantity; the rest stays guarded" ${can ? "" : "disabled"}>Partial</button>`;
}

function showError(message) {
  const box = $("#partial-error");
  box.textContent = message;
  box.classList.remove("hidden");
}

function open(t) {
  exiting = t;
  const lot = Number(t.lot_size) || 1;
  const form = $("#partial-form");
  form.elements.quantity.value = String(Math.max(lot, Math.floor(t.quantity / 2 / lot) * lot));
  form.elements.quantity.max = String(t.quantity - lot);
  form.elements.quantity.step = String(lot);
  $("#partial-dialog [data-role=title]").textContent = `${t.symbol} · ${t.side} ×${t.quantity}`;
  $("#partial-dialog [data-role=subtitle]").textContent = `Sends a MARKET exit for part of the open ${t.quantity} now (last price ${price(t.last_price)}). The rest keeps its stop ${price(t.stop_loss)} and target ${price(t.target)}.${lot > 1 ? ` Multiples of the lot size ${lot}.` : ""}`;
  $("#partial-error").classList.add("hidden");
  $("#partial-dialog").showModal();
  form.elements.quantity.focus();
}

async function save(event) {
  event.preventDefault();
  const t = exiting;
  if (!t) return;
  const lot = Number(t.lot_size) || 1;
  const quantity = Number($("#partial-form").elements.quantity.value);
  if (!Number.isInteger(quantity) || quantity < 1 || quantity >= t.quantity || quantity % lot) {
    showError(`Exit 1 to ${t.quantity - lot} of the open ${t.quantity}${lot > 1 ? `, in multiples of ${lot}` : ""} (Exit closes all of it).`);
    return;
  }
  try {
    const view = await busy($("#partial-form [data-role=save]"), () => api(`trades/${encodeURIComponent(t.trade_id)}/exit`, { method: "POST", body: { quantity } }));
    if (view?.part) ctx.upsertTrade(view.part);
    if (view?.trade_id) ctx.upsertTrade({ ...view, part: undefined });
    $("#partial-dialog").close();
    toast("info", `${t.symbol}: exiting ${quantity}`, `${view?.quantity ?? t.quantity - quantity} stay guarded as ${t.trade_id}`);
  } catch (err) {
    showError(err.message);
  }
}

export function initPartialExit({ trades, upsertTrade }) {
  Object.assign(ctx, { trades, upsertTrade });
  document.body.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-partial]");
    const t = button && ctx.trades.get(button.dataset.partial);
    if (t) open(t);
  });
  $("#partial-form").addEventListener("submit", save);
  $("#partial-dialog [data-role=cancel]").addEventListener("click", () => $("#partial-dialog").close());
}
