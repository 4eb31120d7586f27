// Toasts: short notices that never block the page. At most MAX_VISIBLE show (newest first),
// the rest are counted ("+4 more") and come into view as the shown ones go. The container
// and the toasts ignore the pointer (taps fall through to the page); only the dismiss button
// takes clicks. Colour says what a toast means: a loss exit red, a profit exit green, a warning
// amber, an error red, anything else neutral. Text is set with textContent (never HTML).
// Where they sit (over the header on a phone, the bottom-left corner on a desk) is CSS
// (.tg-toasts in tailwind/input.css). What each stream event says in a toast: events.js.
// No imports: ui.js re-exports toast().
export const MAX_VISIBLE = 3;
/** How long a toast stays (ms), by tone; `other` for the rest. A page (or a test on a slow
 * machine) may change these; a toast shown already keeps its own. */
export const LIFETIME = { error: 15_000, loss: 12_000, warning: 12_000, other: 8_000 };
const TONE_OF_KIND = { success: "success", info: "info", warning: "warning", error: "error" };
const TONE_CLASS = {
  success: "alert-success",
  profit: "alert-success",
  loss: "alert-error",
  error: "alert-error",
  warning: "alert-warning",
  info: "alert-neutral",
};

/** Toasts shown or waiting, newest first: {key, el, timer}. */
const items = [];
let counter = null;

function container() {
  return document.getElementById("toasts");
}

function build(item, { tone, kindTag, title, detail, amount }) {
  const el = item.el;
  el.className = `tg-toast alert ${TONE_CLASS[tone] ?? TONE_CLASS.info}`;
  el.setAttribute("role", tone === "error" || tone === "loss" ? "alert" : "status");
  el.dataset.testid = "toast";
  el.dataset.kind = kindTag;
  el.dataset.tone = tone;
  const head = amount ? `${title} · ${amount}` : title;
  const full = detail ? `${head} — ${detail}` : head;
  el.title = full; // the whole text, wherever the line had to be cut short
  el.setAttribute("aria-label", full);
  el.replaceChildren();
  const body = document.createElement("div");
  body.className = "tg-toast-body";
  const line = document.createElement("div");
  line.className = "tg-toast-title";
  line.dataset.testid = "toast-title";
  line.textContent = title;
  body.appendChild(line);
  if (detail) {
    const more = document.createElement("div");
    more.className = "tg-toast-detail";
    more.textContent = detail;
    body.appendChild(more);
  }
  const close = document.createElement("button");
  close.type = "button";
  close.className = "tg-toast-close";
  close.setAttribute("aria-label", "Dismiss");
  close.textContent = "✕";
  close.addEventListener("click", () => dismiss(item));
  if (amount) {
    const money = document.createElement("span");
    money.className = "tg-toast-amount num";
    money.dataset.testid = "toast-amount";
    money.textContent = amount; // never cut short: the title gives way first
    el.append(body, money, close);
  } else {
    el.append(body, close);
  }
}

function dismiss(item) {
  clearTimeout(item.timer);
  const at = items.indexOf(item);
  if (at >= 0) items.splice(at, 1);
  item.el.remove();
  layout();
}

/** Show the newest MAX_VISIBLE in order and count the rest. */
function layout() {
  const box = container();
  if (!box) return;
  items.forEach((item, index) => {
    const shown = index < MAX_VISIBLE;
    item.el.hidden = !shown;
    if (shown && box.children[index] !== item.el) box.insertBefore(item.el, box.children[index] ?? null);
    if (!shown && item.el.parentNode !== box) box.appendChild(item.el);
  });
  if (!counter) {
    counter = document.createElement("div");
    counter.className = "tg-toast-more";
    counter.dataset.testid = "toast-more";
  }
  const hidden = items.length - MAX_VISIBLE;
  counter.textContent = hidden > 0 ? `+${hidden} more` : "";
  counter.hidden = hidden <= 0;
  box.appendChild(counter); // always last
}

/**
 * Show a toast. kind: success | info | warning | error (its default colour). Options: kindTag
 * (data-kind, what it is about), tone (overrides the colour: profit | loss | ...), key (a
 * toast with the same key is replaced in place, e.g. an exit's toast once it has filled),
 * amount (a P&L text kept whole at the end of the line).
 */
export function toast(kind, title, detail = "", { kindTag = "", tone = "", key = "", amount = "" } = {}) {
  const box = container();
  if (!box) return null;
  const finalTone = tone || TONE_OF_KIND[kind] || "info";
  let item = key ? items.find((i) => i.key === key) : null;
  if (item) {
    items.splice(items.indexOf(item), 1);
    clearTimeout(item.timer);
  } else {
    item = { key, el: document.createElement("div"), timer: 0 };
  }
  build(item, { tone: finalTone, kindTag: kindTag || kind, title, detail, amount });
  items.unshift(item);
  item.timer = setTimeout(() => dismiss(item), LIFETIME[finalTone] ?? LIFETIME.other);
  layout();
  return item.el;
}
