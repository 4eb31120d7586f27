// Strategy cards on the live view (day P&L, portfolio levels, state, live chart), the risk
// settings dialog (new strategy or change of one) and the card actions: pause, resume and
// exit all. app.js owns the page state and passes it in with initStrategies.
import { api } from "./api.js";
import { addPoint, loadStrategy, scheduleChart } from "./charts.js";
import { collectChanges, DEFAULT_CONFIG, renderRiskForm } from "./riskform.js";
import { busy, confirmAction, debounce, esc, num, pnl, pnlClass, price, toast, words } from "./ui.js";

const $ = (sel, root = document) => root.querySelector(sel);
const ctx = {
  state: { trades: new Map(), strategies: new Map() },
  isOpen: () => false,
  upsertTrade: () => {},
  renderSummary: () => {},
  reportError: () => {},
};

export function strategyByName(name) {
  for (const s of ctx.state.strategies.values()) if (s.strategy === name) return s;
  return null;
}

const STRATEGY_STATE = { ACTIVE: "badge-success", PAUSED: "badge-warning", HALTED: "badge-error" };

/** Recompute a strategy's day P&L from its live trades (realized + open), for the live chart. */
export function touchStrategyOf(trade) {
  const s = strategyByName(trade.strategy);
  if (!s) return;
  let open = 0;
  for (const t of ctx.state.trades.values()) if (t.strategy === s.strategy) open += num(t.pnl) ?? 0;
  const total = (num(s.realized_pnl) ?? 0) + open;
  s.unrealized_pnl = open.toFixed(2);
  s.pnl = total.toFixed(2);
  s.open_positions = [...ctx.state.trades.values()].filter((t) => t.strategy === s.strategy && ctx.isOpen(t)).length;
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
  const list = [...ctx.state.strategies.values()].sort((a, b) => String(a.strategy).localeCompare(String(b.strategy)));
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
  ctx.renderSummary();
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
  ctx.renderSummary();
}

export function upsertStrategy(data) {
  if (!data?.strategy_id) return;
  const before = ctx.state.strategies.get(data.strategy_id);
  if (!before && !("strategy" in data)) {
    refreshStrategies(); // a state change of a strategy we have not seen: fetch its view
    return;
  }
  const merged = { ...(before ?? {}), ...data };
  ctx.state.strategies.set(data.strategy_id, merged);
  if ("pnl" in data) addPoint(data.strategy_id, num(data.pnl));
  const card = $(`[data-strategy-id="${CSS.escape(data.strategy_id)}"]`);
  if (card && before && before.state === merged.state && before.halt_reason === merged.halt_reason) {
    patchStrategyCard(merged); // buttons stay put: only numbers and levels change
    scheduleChart(merged.strategy_id);
  } else if (card && before) {
    card.innerHTML = strategyCardHtml(merged);
    scheduleChart(merged.strategy_id);
    ctx.renderSummary();
  } else {
    renderStrategies();
  }
  if (!("pnl" in data)) refreshStrategies(); // state-only event: fetch levels and P&L too
}

export function setStrategies(list) {
  const seen = new Set();
  for (const s of list ?? []) {
    seen.add(s.strategy_id);
    ctx.state.strategies.set(s.strategy_id, { ...s });
    addPoint(s.strategy_id, num(s.pnl));
    loadStrategy(s);
  }
  for (const id of [...ctx.state.strategies.keys()]) if (!seen.has(id)) ctx.state.strategies.delete(id);
  renderStrategies();
}

export const refreshStrategies = debounce(async () => {
  try {
    setStrategies(await api("strategies"));
  } catch (err) {
    ctx.reportError("Could not load strategies", err);
  }
}, 250);

// -- the risk settings dialog ----------------------------------------------------------------
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
    ctx.reportError(`${name}: settings refused`, err);
  }
}

async function strategyAction(action, s, button) {
  const open = [...ctx.state.trades.values()].filter((t) => t.strategy === s.strategy && t.state === "ACTIVE").length;
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
      for (const view of Array.isArray(result) ? result : []) ctx.upsertTrade(view);
      toast("info", `Exit all sent: ${s.strategy}`, `${n} trade${n === 1 ? "" : "s"} exiting at market.`, { kindTag: "exitall" });
    } else if (result?.strategy_id) {
      upsertStrategy(result);
      toast("info", `${s.strategy} ${action === "pause" ? "paused" : "resumed"}`);
    }
  } catch (err) {
    ctx.reportError(`${s.strategy}: ${action === "exitall" ? "exit all" : action} refused`, err);
  }
}

const CARD_ACTIONS = new Set(["configure", "pause", "resume", "exitall"]);

/** deps: { state (trades and strategies maps), isOpen(trade), upsertTrade, renderSummary, reportError }. */
export function initStrategies(deps) {
  Object.assign(ctx, deps);
  document.body.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-action]");
    if (!button || !CARD_ACTIONS.has(button.dataset.action)) return;
    const card = button.closest("[data-strategy-id]");
    const s = card && ctx.state.strategies.get(card.dataset.strategyId);
    if (!s) return;
    if (button.dataset.action === "configure") openConfig(s);
    else strategyAction(button.dataset.action, s, button);
  });
  $("#config-form").addEventListener("submit", saveConfig);
  $("#config-dialog [data-role=cancel]").addEventListener("click", () => $("#config-dialog").close());
  $("#new-strategy").addEventListener("click", () => openConfig(null));
}
