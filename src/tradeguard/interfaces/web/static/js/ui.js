// Shared UI helpers: number/time formatting, HTML escaping, toasts and the confirm dialog.
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

// -- toasts ----------------------------------------------------------------------------------
const ICONS = {
  success: '<path stroke-linecap="round" stroke-linejoin="round" d="M9 12.75 11.25 15 15 9.75M21 12a9 9 0 1 1-18 0 9 9 0 0 1 18 0Z"/>',
  info: '<path stroke-linecap="round" stroke-linejoin="round" d="m11.25 11.25.041-.02a.75.75 0 0 1 1.063.852l-.708 2.836a.75.75 0 0 0 1.063.853l.041-.021M21 12a9 9 0 1 1-18 0 9 9 0 0 1 18 0Zm-9-3.75h.008v.008H12V8.25Z"/>',
  warning: '<path stroke-linecap="round" stroke-linejoin="round" d="M12 9v3.75m0 3.75h.008M10.29 3.86 1.82 18a2 2 0 0 0 1.71 3h16.94a2 2 0 0 0 1.71-3L13.71 3.86a2 2 0 0 0-3.42 0Z"/>',
  error: '<path stroke-linecap="round" stroke-linejoin="round" d="M12 9v3.75m9-.75a9 9 0 1 1-18 0 9 9 0 0 1 18 0Zm-9 3.75h.008v.008H12v-.008Z"/>',
};
const TOAST_CLASS = { success: "alert-success", info: "alert-info", warning: "alert-warning", error: "alert-error" };
const MAX_TOASTS = 5;

/** Show a toast. kind: success | info | warning | error. Errors stay until closed or 15 s. */
export function toast(kind, title, detail = "", { kindTag = "" } = {}) {
  const box = document.getElementById("toasts");
  if (!box) return null;
  const el = document.createElement("div");
  el.setAttribute("role", kind === "error" ? "alert" : "status");
  el.dataset.testid = "toast";
  el.dataset.kind = kindTag || kind;
  el.className = `alert ${TOAST_CLASS[kind] ?? "alert-info"} w-[min(92vw,24rem)] items-start gap-3 py-3 text-left shadow-lg`;
  el.innerHTML = `
    <svg xmlns="http://www.w3.org/2000/svg" fill="none" viewBox="0 0 24 24" stroke-width="2" stroke="currentColor" class="mt-0.5 h-5 w-5 shrink-0" aria-hidden="true">${ICONS[kind] ?? ICONS.info}</svg>
    <div class="min-w-0 flex-1">
      <div class="font-semibold leading-snug" data-testid="toast-title">${esc(title)}</div>
      ${detail ? `<div class="mt-0.5 break-words text-sm opacity-90">${esc(detail)}</div>` : ""}
    </div>
    <button type="button" class="btn btn-ghost btn-xs btn-square -mr-1 opacity-70 hover:opacity-100" aria-label="Dismiss">✕</button>`;
  const close = () => {
    el.classList.add("opacity-0", "translate-y-1");
    setTimeout(() => el.remove(), 200);
  };
  el.querySelector("button").addEventListener("click", close);
  el.classList.add("transition-all", "duration-200");
  box.appendChild(el);
  while (box.children.length > MAX_TOASTS) box.firstElementChild.remove();
  setTimeout(close, kind === "error" ? 15_000 : 8_000);
  return el;
}

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
