// The strategy risk configuration form: every StrategyRiskConfig field, grouped, rendered from
// one schema, sending only the fields that changed.
import { esc } from "./ui.js";

const LEVEL = ["PERCENT", "POINTS"];
const AMOUNT = ["AMOUNT", "PERCENT"];

// kind: bool | enum | decimal | int | time. nullable: an empty input means "unset" (null).
export const GROUPS = [
  {
    id: "trade",
    title: "Per-trade defaults",
    help: "Rules every new trade of this strategy starts with. PERCENT is of the entry price; POINTS are rupees.",
    rows: [
      ["enable_sl", "sl_type", "sl_value"],
      ["enable_target", "target_type", "target_value"],
      ["enable_trailing_sl", "trailing_sl_type", "trailing_sl_value"],
    ],
  },
  {
    id: "sizing",
    title: "Sizing and limits",
    help: "How big a new position may be, and how much the strategy may lose in a day.",
    rows: [
      ["allocated_funds", "position_size_type", "position_size_value"],
      ["max_open_positions", "daily_loss_limit"],
    ],
  },
  {
    id: "portfolio",
    title: "Portfolio rules",
    help: "On the strategy's combined P&L: hitting one exits every position of the strategy. PERCENT is of allocated funds.",
    rows: [
      ["enable_portfolio_sl", "portfolio_sl_type", "portfolio_sl_value"],
      ["enable_portfolio_target", "portfolio_target_type", "portfolio_target_value"],
      ["enable_portfolio_trailing_sl", "portfolio_trailing_type", "portfolio_trailing_value"],
      ["portfolio_trailing_activation"],
    ],
  },
  {
    id: "additions",
    title: "tradeguard additions",
    help: "Trailing activation and step, breakeven, time exits and how exit orders are placed.",
    rows: [
      ["trailing_activation_type", "trailing_activation_value"],
      ["trailing_step_type", "trailing_step_value"],
      ["enable_breakeven", "breakeven_trigger_type", "breakeven_trigger_value"],
      ["breakeven_buffer_type", "breakeven_buffer_value"],
      ["square_off_time", "max_holding_minutes"],
      ["exit_order_mode"],
    ],
  },
];

export const FIELDS = {
  enable_sl: { kind: "bool", label: "Stop-loss" },
  sl_type: { kind: "enum", label: "Stop type", options: LEVEL },
  sl_value: { kind: "decimal", label: "Stop distance" },
  enable_target: { kind: "bool", label: "Target" },
  target_type: { kind: "enum", label: "Target type", options: LEVEL },
  target_value: { kind: "decimal", label: "Target distance" },
  enable_trailing_sl: { kind: "bool", label: "Trailing stop" },
  trailing_sl_type: { kind: "enum", label: "Trailing type", options: LEVEL },
  trailing_sl_value: { kind: "decimal", label: "Trailing distance" },
  allocated_funds: { kind: "decimal", label: "Allocated funds (₹)" },
  position_size_type: { kind: "enum", label: "Position sizing", options: ["FIXED_QUANTITY", "FIXED_VALUE", "PERCENT_ALLOCATION"] },
  position_size_value: { kind: "decimal", label: "Size value" },
  max_open_positions: { kind: "int", label: "Max open positions" },
  daily_loss_limit: { kind: "decimal", label: "Daily loss limit (₹)", nullable: true, placeholder: "no limit" },
  enable_portfolio_sl: { kind: "bool", label: "Portfolio stop" },
  portfolio_sl_type: { kind: "enum", label: "Stop type", options: AMOUNT },
  portfolio_sl_value: { kind: "decimal", label: "Stop amount" },
  enable_portfolio_target: { kind: "bool", label: "Portfolio target" },
  portfolio_target_type: { kind: "enum", label: "Target type", options: AMOUNT },
  portfolio_target_value: { kind: "decimal", label: "Target amount" },
  enable_portfolio_trailing_sl: { kind: "bool", label: "Portfolio trailing" },
  portfolio_trailing_type: { kind: "enum", label: "Trailing type", options: AMOUNT },
  portfolio_trailing_value: { kind: "decimal", label: "Trailing amount" },
  portfolio_trailing_activation: { kind: "decimal", label: "Trailing starts after profit of", nullable: true, placeholder: "at once" },
  trailing_activation_type: { kind: "enum", label: "Trail activation type", options: LEVEL },
  trailing_activation_value: { kind: "decimal", label: "Trail starts after profit of", nullable: true, placeholder: "at once" },
  trailing_step_type: { kind: "enum", label: "Trail step type", options: LEVEL },
  trailing_step_value: { kind: "decimal", label: "Trail moves in steps of", nullable: true, placeholder: "every tick" },
  enable_breakeven: { kind: "bool", label: "Breakeven" },
  breakeven_trigger_type: { kind: "enum", label: "Trigger type", options: LEVEL },
  breakeven_trigger_value: { kind: "decimal", label: "Move stop to entry after profit of" },
  breakeven_buffer_type: { kind: "enum", label: "Buffer type", options: LEVEL },
  breakeven_buffer_value: { kind: "decimal", label: "Breakeven buffer", nullable: true, placeholder: "none" },
  square_off_time: { kind: "time", label: "Square-off time (IST)", nullable: true },
  max_holding_minutes: { kind: "int", label: "Max holding (minutes)", nullable: true, placeholder: "no limit" },
  exit_order_mode: { kind: "enum", label: "Exit order", options: ["PLACEORDER", "SMARTORDER"], help: "PLACEORDER exits the trade's own quantity; SMARTORDER flattens the whole symbol position." },
};

function control(name, value) {
  const f = FIELDS[name];
  const id = `cfg-${name}`;
  const common = `id="${id}" name="${name}" data-field="${name}"`;
  if (f.kind === "bool") {
    return `<div class="form-control w-full">
        <div class="label pb-1 pt-0"><span class="label-text text-xs text-base-content/70">Enabled</span></div>
        <label class="flex h-8 cursor-pointer items-center gap-3 rounded-btn border border-base-300 px-3" for="${id}">
          <input type="checkbox" class="toggle toggle-primary toggle-sm" ${common} ${value ? "checked" : ""}>
          <span class="label-text font-medium">${esc(f.label)}</span></label>
      </div>`;
  }
  let input;
  if (f.kind === "enum") {
    input = `<select class="select select-bordered select-sm w-full" ${common}>${f.options
      .map((o) => `<option value="${o}" ${o === value ? "selected" : ""}>${esc(o.replace(/_/g, " "))}</option>`)
      .join("")}</select>`;
  } else if (f.kind === "time") {
    input = `<input type="time" class="input input-bordered input-sm w-full" ${common} value="${esc(value ?? "")}">`;
  } else {
    const mode = f.kind === "int" ? 'inputmode="numeric" pattern="[0-9]*"' : 'inputmode="decimal"';
    input = `<input type="text" ${mode} class="input input-bordered input-sm w-full font-mono" ${common} value="${esc(value ?? "")}" placeholder="${esc(f.placeholder ?? "")}" autocomplete="off">`;
  }
  return `<label class="form-control w-full" for="${id}">
      <div class="label pb-1 pt-0"><span class="label-text text-xs text-base-content/70">${esc(f.label)}</span></div>
      ${input}
      ${f.help ? `<div class="label pt-1"><span class="label-text-alt text-base-content/50">${esc(f.help)}</span></div>` : ""}
    </label>`;
}

/** The form's fieldsets for a config dict (config_to_dict shape). */
export function renderRiskForm(config) {
  return GROUPS.map(
    (g) => `<fieldset class="rounded-box border border-base-300 p-4" data-group="${g.id}">
      <legend class="px-1 text-sm font-semibold">${esc(g.title)}</legend>
      <p class="mb-3 text-xs text-base-content/60">${esc(g.help)}</p>
      <div class="flex flex-col gap-3">
        ${g.rows
          .map((row) => `<div class="grid grid-cols-1 gap-3 sm:grid-cols-3">${row.map((n) => control(n, config?.[n])).join("")}</div>`)
          .join("")}
      </div>
    </fieldset>`,
  ).join("");
}

function readField(form, name) {
  const f = FIELDS[name];
  const el = form.querySelector(`[data-field="${name}"]`);
  if (f.kind === "bool") return el.checked;
  const raw = el.value.trim();
  if (raw === "") return f.nullable ? null : f.kind === "enum" ? el.value : "";
  return raw;
}

function same(a, b) {
  if ((a === null || a === undefined || a === "") && (b === null || b === undefined || b === "")) return true;
  if (typeof a === "boolean" || typeof b === "boolean") return Boolean(a) === Boolean(b);
  const na = Number(a);
  const nb = Number(b);
  if (a !== "" && b !== "" && Number.isFinite(na) && Number.isFinite(nb) && !/:/.test(String(a))) return na === nb;
  return String(a) === String(b);
}

/** The changed fields as a configure payload; `config` null (a new strategy) sends every field. */
export function collectChanges(form, config) {
  const out = {};
  for (const name of Object.keys(FIELDS)) {
    const value = readField(form, name);
    if (value === "") continue; // required number left empty: the server keeps its value
    if (!config || !same(value, config[name])) out[name] = value;
  }
  return out;
}

/** StrategyRiskConfig's defaults (config_to_dict shape), for a new strategy's form. */
export const DEFAULT_CONFIG = {
  enable_sl: false, sl_type: "PERCENT", sl_value: "0",
  enable_target: false, target_type: "PERCENT", target_value: "0",
  enable_trailing_sl: false, trailing_sl_type: "PERCENT", trailing_sl_value: "0",
  allocated_funds: "0", position_size_type: "FIXED_QUANTITY", position_size_value: "0",
  max_open_positions: 5, daily_loss_limit: null,
  enable_portfolio_sl: false, portfolio_sl_type: "AMOUNT", portfolio_sl_value: "0",
  enable_portfolio_target: false, portfolio_target_type: "AMOUNT", portfolio_target_value: "0",
  enable_portfolio_trailing_sl: false, portfolio_trailing_type: "AMOUNT", portfolio_trailing_value: "0",
  trailing_activation_type: "POINTS", trailing_activation_value: null,
  trailing_step_type: "POINTS", trailing_step_value: null,
  enable_breakeven: false, breakeven_trigger_type: "POINTS", breakeven_trigger_value: "0",
  breakeven_buffer_type: "POINTS", breakeven_buffer_value: null,
  square_off_time: null, max_holding_minutes: null, portfolio_trailing_activation: null,
  exit_order_mode: "PLACEORDER",
};
