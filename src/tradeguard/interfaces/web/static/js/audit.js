// Audit-log view: who changed what (people, API keys and tradeguard itself), newest first,
// filterable by strategy or trade, one page at a time ("Load older").
import { api } from "./api.js";
import { busy, esc, stamp, words } from "./ui.js";

const $ = (sel, root = document) => root.querySelector(sel);
const PAGE = 50;

const ctx = { symbolOf: () => "", strategies: () => [], reportError: () => {} };
let next = null; // cursor of the next (older) page

function actorBadge(actor) {
  const [kind, who] = String(actor).includes(":") ? actor.split(/:(.*)/s) : ["", actor];
  const cls = kind === "user" ? "badge-primary" : kind === "api" ? "badge-secondary" : "badge-ghost";
  const label = kind === "user" ? who : kind === "api" ? `API · ${who}` : actor;
  return `<span class="badge ${cls} badge-sm whitespace-nowrap" data-role="actor" title="${esc(actor)}">${esc(label)}</span>`;
}

function detailText(detail) {
  const parts = Object.entries(detail ?? {}).map(([k, v]) => `${k}: ${typeof v === "object" && v !== null ? JSON.stringify(v) : v}`);
  return parts.join(" · ");
}

function subject(e) {
  if (e.strategy) return `strategy ${e.strategy}`;
  if (e.trade_id) {
    const symbol = ctx.symbolOf(e.trade_id);
    return symbol ? `${symbol} · ${e.trade_id}` : `trade ${e.trade_id}`;
  }
  return e.subject;
}

function entryItem(e) {
  return `<li class="flex flex-col gap-1 px-4 py-2.5 sm:flex-row sm:items-start sm:gap-3" data-audit-id="${esc(e.id)}" data-action="${esc(e.action)}">
    <span class="shrink-0 whitespace-nowrap font-mono text-xs text-base-content/60 sm:w-32">${esc(stamp(e.at))}</span>
    <div class="min-w-0 flex-1">
      <div class="flex flex-wrap items-center gap-2"><span class="font-medium">${esc(words(e.action))}</span>${actorBadge(e.actor)}<span class="text-xs text-base-content/70">${esc(subject(e))}</span></div>
      <div class="break-words font-mono text-xs text-base-content/60">${esc(detailText(e.detail))}</div>
    </div></li>`;
}

function query(before) {
  const form = $("#audit-form");
  const params = new URLSearchParams({ limit: String(PAGE) });
  const strategy = form.elements.strategy.value;
  const trade = form.elements.trade_id.value.trim();
  if (strategy) params.set("strategy", strategy);
  if (trade) params.set("trade_id", trade);
  if (before) params.set("before", String(before));
  return `audit?${params}`;
}

export async function refreshAudit(more = false) {
  const list = $("#audit-list");
  try {
    const page = await api(query(more ? next : null));
    const html = (page.entries ?? []).map(entryItem).join("");
    if (more) list.insertAdjacentHTML("beforeend", html);
    else list.innerHTML = html;
    next = page.next_before ?? null;
    $("#audit-more").classList.toggle("hidden", next === null);
    $("#audit-empty").classList.toggle("hidden", list.children.length > 0);
  } catch (err) {
    ctx.reportError("Audit log unavailable", err);
  }
}

function fillStrategies() {
  const select = $("#audit-form").elements.strategy;
  const current = select.value;
  const names = ctx.strategies().map((s) => s.strategy).sort();
  select.innerHTML = ['<option value="">All strategies</option>', ...names.map((n) => `<option value="${esc(n)}">${esc(n)}</option>`)].join("");
  if (names.includes(current)) select.value = current;
}

export function showAudit(visible) {
  if (!visible) return;
  fillStrategies();
  refreshAudit();
}

export function initAudit({ symbolOf, strategies, reportError }) {
  Object.assign(ctx, { symbolOf, strategies, reportError });
  $("#audit-form").addEventListener("submit", (event) => {
    event.preventDefault();
    refreshAudit();
  });
  $("#audit-form").elements.strategy.addEventListener("change", () => refreshAudit());
  $("#audit-more").addEventListener("click", (event) => busy(event.currentTarget, () => refreshAudit(true)));
}
