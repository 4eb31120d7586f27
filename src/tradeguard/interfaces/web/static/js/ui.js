// Shared UI helpers: number/time formatting, HTML escaping, the confirm dialog (toasts: toasts.js).
const money2 = new Intl.NumberFormat("en-IN", { minimumFractionDigits: 2, maximumFractionDigits: 2 });

export function esc(value) {
  return String(value ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

export function num(value) {
  if (value === null || value === undefined || value === "") return null;
  const n = Number(value);
  return Number.isFinite(n) ? n : null;
}

/** A price (decimal string) for display; "—" when unset. */
export function price(value) {
  const n = num(value);
  return n === null ? "—" : money2.format(n);
}

/** A P&L amount with its sign and the rupee symbol. */
export function pnl(value) {
  const n = num(value);
  if (n === null) return "—";
  const sign = n > 0 ? "+" : n < 0 ? "−" : "";
  return `${sign}₹${money2.format(Math.abs(n))}`;
}

export function pnlClass(value) {
  const n = num(value);
  if (n === null || n === 0) return "pnl-flat";
  return n > 0 ? "pnl-pos" : "pnl-neg";
}

/** Timestamps arrive as epoch nanoseconds (ints), milliseconds, seconds or ISO strings. */
export function toDate(value) {
  if (value === null || value === undefined || value === "") return null;
  if (typeof value === "number") {
    if (value > 1e17) return new Date(value / 1e6);
    if (value > 1e14) return new Date(value / 1e3);
    if (value > 1e11) return new Date(value);
    return new Date(value * 1000);
  }
  const parsed = Date.parse(value);
  return Number.isNaN(parsed) ? null : new Date(parsed);
}

export function clock(value) {
  const d = toDate(value);
  return d ? d.toLocaleTimeString("en-IN", { hour12: false }) : "—";
}

export function stamp(value) {
  const d = toDate(value);
  if (!d) return "—";
  return `${d.toLocaleDateString("en-IN", { day: "2-digit", month: "short" })} ${d.toLocaleTimeString("en-IN", { hour12: false })}`;
}

export function words(code) {
  if (!code) return "";
  return String(code).toLowerCase().replace(/_/g, " ").replace(/^./, (c) => c.toUpperCase());
}

// -- toasts: js/toasts.js (re-exported here for the modules that import it from ui.js) -------
export { toast } from "./toasts.js";

// -- confirm dialog ---------------------------------------------------------------------------
/** Ask before a consequential action. Resolves true only when the user clicks confirm. */
export function confirmAction({ title, message, confirm = "Confirm", danger = true }) {
  const dialog = document.getElementById("confirm-dialog");
  dialog.querySelector("[data-role=title]").textContent = title;
  dialog.querySelector("[data-role=message]").textContent = message;
  const ok = dialog.querySelector("[data-role=confirm]");
  ok.textContent = confirm;
  ok.classList.toggle("btn-error", danger);
  ok.classList.toggle("btn-primary", !danger);
  return new Promise((resolve) => {
    const done = (answer) => {
      ok.removeEventListener("click", onOk);
      dialog.removeEventListener("close", onClose);
      if (dialog.open) dialog.close();
      resolve(answer);
    };
    const onOk = (event) => {
      event.preventDefault();
      done(true);
    };
    const onClose = () => done(false);
    ok.addEventListener("click", onOk);
    dialog.addEventListener("close", onClose);
    dialog.showModal();
  });
}

/** Run an async action with a button showing a spinner; errors become toasts. */
export async function busy(button, action) {
  const label = button?.innerHTML;
  if (button) {
    button.disabled = true;
    button.innerHTML = '<span class="loading loading-spinner loading-xs"></span>';
  }
  try {
    return await action();
  } finally {
    if (button) {
      button.disabled = false;
      button.innerHTML = label;
    }
  }
}

/** `fn` called once calls stop for `ms` (with the last call's arguments). */
export function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}
