// A trade's row actions: the edit dialog (stop-loss, target and trailing rules), the protect
// buttons (stop to cost, lock half the open profit) and exit at market (with the retry of an
// exit queued in OpenAlgo's Action Center). app.js passes in its trades with initTradeActions.
import { api } from "./api.js";
import { busy, confirmAction, pnl, price, toast, words } from "./ui.js";

const $ = (sel, root = document) => root.querySelector(sel);
const ctx = { trades: new Map(), upsertTrade: () => {}, reportError: () => {} };

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
  const t = ctx.trades.get(tradeId);
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
    if (view) ctx.upsertTrade(view);
    $("#edit-dialog").close();
    toast("success", `${t.symbol}: exits updated`, `stop ${price(view?.stop_loss)} · target ${price(view?.target)} · trail ${price(view?.trailing_stop)}`);
  } catch (err) {
    errorBox.textContent = err.message;
    errorBox.classList.remove("hidden");
    ctx.reportError(`${t.symbol}: change refused`, err);
  }
}

const PROTECT_WORDS = { stop_to_cost: "stop moved to cost", lock_profit: "half the open profit locked" };

async function protectTrade(tradeId, action, button) {
  const t = ctx.trades.get(tradeId);
  if (!t) return;
  try {
    const view = await busy(button, () => api(`trades/${encodeURIComponent(tradeId)}/protect`, { method: "POST", body: { action } }));
    if (view) ctx.upsertTrade(view);
    toast("success", `${t.symbol}: ${PROTECT_WORDS[action]}`, `stop ${price(view?.stop_loss)}`);
  } catch (err) {
    ctx.reportError(`${t.symbol}: ${PROTECT_WORDS[action].split(" ")[0] === "stop" ? "stop to cost" : "lock profit"} refused`, err);
  }
}

async function exitTrade(tradeId, button) {
  const t = ctx.trades.get(tradeId);
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
    if (view) ctx.upsertTrade(view);
  } catch (err) {
    ctx.reportError(`${t.symbol}: exit refused`, err);
  }
}

/** deps: { trades (the live trades map), upsertTrade, reportError }. */
export function initTradeActions(deps) {
  Object.assign(ctx, deps);
  document.body.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-action]");
    if (!button) return;
    const action = button.dataset.action;
    if (action === "edit") openEdit(button.dataset.tradeId);
    else if (action === "exit") exitTrade(button.dataset.tradeId, button);
    else if (action === "stop_to_cost" || action === "lock_profit") protectTrade(button.dataset.tradeId, action, button);
  });
  $("#edit-form").addEventListener("submit", saveEdit);
  $("#edit-form").addEventListener("change", (event) => {
    const m = event.target.name?.match(/^(stop_loss|target|trailing)_type$/);
    if (m) syncRuleRow($("#edit-form"), m[1]);
  });
  $("#edit-dialog [data-role=cancel]").addEventListener("click", () => $("#edit-dialog").close());
}
