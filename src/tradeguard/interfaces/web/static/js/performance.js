// Performance view: win rate, average win / loss, P&L by exit reason and by strategy, daily P&L
// (IST days) and the equity curve, all computed by the server (/ui/api/performance) from the
// closed trades matching the date range and strategy; drawn here as hand-written SVG.
import { api } from "./api.js";
import { esc, num, pnl, pnlClass, words } from "./ui.js";
import { fillStrategies, filterParams } from "./history.js";

const $ = (sel, root = document) => root.querySelector(sel);
const compact = new Intl.NumberFormat("en-IN", { notation: "compact", maximumFractionDigits: 1 });

function axisMoney(v) {
  const sign = v < 0 ? "−" : "";
  return `${sign}₹${Math.abs(v) >= 1000 ? compact.format(Math.abs(v)) : Math.abs(v).toFixed(0)}`;
}

function stat(key, label, value, shown, cls = "", sub = "") {
  return `<div class="panel px-3 py-2.5" data-testid="perf-${key}" data-value="${esc(value ?? "")}">
    <div class="text-xs uppercase tracking-wide text-base-content/60">${esc(label)}</div>
    <div class="num text-lg font-semibold ${cls}" data-role="value">${shown}</div>
    ${sub ? `<div class="font-mono text-xs tabular-nums text-base-content/60">${sub}</div>` : ""}
  </div>`;
}

function stats(p) {
  const rate = p.win_rate === null ? "—" : `${p.win_rate}%`;
  return [
    stat("trades", "Trades", p.trades, esc(p.trades), "", `${p.wins} won · ${p.losses} lost · ${p.flat} flat`),
    stat("win_rate", "Win rate", p.win_rate, rate),
    stat("total_pnl", "Net P&L", p.total_pnl, pnl(p.total_pnl), pnlClass(p.total_pnl)),
    stat("average_win", "Average win", p.average_win, pnl(p.average_win), pnlClass(p.average_win)),
    stat("average_loss", "Average loss", p.average_loss, pnl(p.average_loss), pnlClass(p.average_loss)),
    stat("profit_factor", "Profit factor", p.profit_factor, esc(p.profit_factor ?? "—")),
    stat("max_drawdown", "Max drawdown", p.max_drawdown, pnl(num(p.max_drawdown) ? -num(p.max_drawdown) : 0), num(p.max_drawdown) ? "pnl-neg" : ""),
    stat("best", "Best / worst", p.best, `<span class="${pnlClass(p.best)}">${pnl(p.best)}</span>`, "", `worst <span class="${pnlClass(p.worst)}">${pnl(p.worst)}</span>`),
  ].join("");
}

/** Rows of a breakdown (by reason or strategy) with a bar scaled to the largest |P&L|. */
function breakdown(rows, key, testid) {
  if (!rows.length) return `<p class="px-4 py-6 text-center text-sm text-base-content/60">No trades.</p>`;
  const top = Math.max(...rows.map((r) => Math.abs(num(r.pnl) ?? 0)), 1);
  return `<ul class="divide-y divide-base-300">${rows
    .map((r) => {
      const v = num(r.pnl) ?? 0;
      const width = Math.max(1, Math.round((Math.abs(v) / top) * 100));
      const label = key === "reason" ? words(r.reason) : r.strategy;
      return `<li class="px-4 py-2" data-testid="${testid}" data-key="${esc(r[key])}" data-value="${esc(r.pnl)}">
        <div class="flex items-baseline justify-between gap-2 text-sm">
          <span class="min-w-0 truncate">${esc(label)} <span class="text-xs text-base-content/60">${r.trades} · ${r.wins}W ${r.losses}L</span></span>
          <span class="num font-semibold ${pnlClass(r.pnl)}">${pnl(r.pnl)}</span>
        </div>
        <svg viewBox="0 0 100 4" preserveAspectRatio="none" class="mt-1 block h-1.5 w-full" aria-hidden="true"><rect width="100" height="4" rx="1" class="fill-base-200"/><rect width="${width}" height="4" rx="1" class="${v < 0 ? "fill-error" : v > 0 ? "fill-success" : "fill-base-content/40"}"/></svg>
      </li>`;
    })
    .join("")}</ul>`;
}

function scale(values, h, pad) {
  let lo = Math.min(0, ...values);
  let hi = Math.max(0, ...values);
  if (hi - lo < 1) hi += 1;
  const y = (v) => pad.t + ((hi - v) / (hi - lo)) * (h - pad.t - pad.b);
  return { lo, hi, y };
}

function yAxis(s, w, pad) {
  const ticks = [s.hi, 0, s.lo].filter((v, i, a) => a.indexOf(v) === i);
  return ticks
    .map(
      (v) => `<line x1="${pad.l}" x2="${w - pad.r}" y1="${s.y(v)}" y2="${s.y(v)}" class="stroke-base-content/20" stroke-dasharray="${v === 0 ? "" : "2 3"}"/>
      <text x="${pad.l - 4}" y="${s.y(v) + 3}" text-anchor="end" class="fill-base-content/60" font-size="10" data-axis="y">${axisMoney(v)}</text>`,
    )
    .join("");
}

/** The equity curve: running realized P&L after each close. */
export function equitySvg(points, width, h = 180) {
  const w = Math.max(220, Math.round(width));
  const pad = { l: 52, r: 10, t: 10, b: 22 };
  if (!points.length) return `<p class="py-10 text-center text-sm text-base-content/60">No closed trades in this range.</p>`;
  const values = [0, ...points.map((p) => num(p.equity) ?? 0)];
  const s = scale(values, h, pad);
  const x = (i) => pad.l + (i / Math.max(1, values.length - 1)) * (w - pad.l - pad.r);
  const path = values.map((v, i) => `${i ? "L" : "M"}${x(i).toFixed(1)},${s.y(v).toFixed(1)}`).join(" ");
  const last = values[values.length - 1];
  const first = new Date(points[0].at / 1e6).toLocaleDateString("en-IN", { day: "2-digit", month: "short" });
  const end = new Date(points[points.length - 1].at / 1e6).toLocaleDateString("en-IN", { day: "2-digit", month: "short" });
  return `<svg viewBox="0 0 ${w} ${h}" width="100%" height="${h}" role="img" aria-label="Equity curve" data-testid="equity-chart" data-points="${points.length}">
    ${yAxis(s, w, pad)}
    <path d="${path}" fill="none" class="${last < 0 ? "stroke-error" : "stroke-success"}" stroke-width="2"/>
    <text x="${pad.l}" y="${h - 6}" class="fill-base-content/60" font-size="10" data-axis="x">${esc(first)}</text>
    <text x="${w - pad.r}" y="${h - 6}" text-anchor="end" class="fill-base-content/60" font-size="10" data-axis="x">${esc(end)} · ${points.length} trades</text>
  </svg>`;
}

/** Daily P&L bars (IST days with a close). */
export function dailySvg(days, width, h = 180) {
  const w = Math.max(220, Math.round(width));
  const pad = { l: 52, r: 10, t: 10, b: 22 };
  if (!days.length) return `<p class="py-10 text-center text-sm text-base-content/60">No closed trades in this range.</p>`;
  const values = days.map((d) => num(d.pnl) ?? 0);
  const s = scale(values, h, pad);
  const slot = (w - pad.l - pad.r) / days.length;
  const bar = Math.max(2, Math.min(36, slot * 0.7));
  const bars = days
    .map((d, i) => {
      const v = values[i];
      const cx = pad.l + slot * i + slot / 2;
      const top = Math.min(s.y(v), s.y(0));
      const height = Math.max(1, Math.abs(s.y(v) - s.y(0)));
      return `<rect x="${(cx - bar / 2).toFixed(1)}" y="${top.toFixed(1)}" width="${bar.toFixed(1)}" height="${height.toFixed(1)}" class="${v < 0 ? "fill-error" : "fill-success"}" data-testid="daily-bar" data-date="${esc(d.date)}" data-value="${esc(d.pnl)}"><title>${esc(d.date)}: ${pnl(d.pnl)} (${d.trades} trades)</title></rect>`;
    })
    .join("");
  const label = (d) => new Date(`${d.date}T00:00:00+05:30`).toLocaleDateString("en-IN", { day: "2-digit", month: "short", timeZone: "Asia/Kolkata" });
  return `<svg viewBox="0 0 ${w} ${h}" width="100%" height="${h}" role="img" aria-label="Daily P&L" data-testid="daily-chart">
    ${yAxis(s, w, pad)}${bars}
    <text x="${pad.l}" y="${h - 6}" class="fill-base-content/60" font-size="10" data-axis="x">${esc(label(days[0]))}</text>
    ${days.length > 1 ? `<text x="${w - pad.r}" y="${h - 6}" text-anchor="end" class="fill-base-content/60" font-size="10" data-axis="x">${esc(label(days[days.length - 1]))}</text>` : ""}
  </svg>`;
}

/** deps: { strategyNames: () => [names] }. Returns { refresh, render } for app.js. */
export function initPerformance(deps) {
  const state = { figures: null, params: new URLSearchParams() };
  const form = $("#perf-filters");

  function render() {
    fillStrategies(form.elements.namedItem("strategy"), deps.strategyNames());
    const p = state.figures;
    if (!p) return;
    $("#perf-stats").innerHTML = stats(p);
    $("#perf-equity").innerHTML = equitySvg(p.equity, $("#perf-equity").clientWidth || 600);
    $("#perf-daily").innerHTML = dailySvg(p.daily, $("#perf-daily").clientWidth || 600);
    $("#perf-by-reason").innerHTML = breakdown(p.by_reason, "reason", "perf-reason");
    $("#perf-by-strategy").innerHTML = breakdown(p.by_strategy, "strategy", "perf-strategy");
  }

  function showError(message) {
    const el = $("#perf-error");
    el.textContent = message || "";
    el.classList.toggle("hidden", !message);
  }

  async function load(params) {
    try {
      state.figures = await api(`performance?${params}`);
      state.params = params;
      showError("");
      render();
    } catch (err) {
      showError(err?.message ?? String(err)); // a refused filter changes nothing shown
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    load(filterParams(form, ["from", "to", "strategy"]));
  });
  form.addEventListener("reset", () => {
    showError("");
    setTimeout(() => load(new URLSearchParams()), 0);
  });
  let pending = false;
  window.addEventListener("resize", () => {
    if (pending || !state.figures) return;
    pending = true;
    requestAnimationFrame(() => {
      pending = false;
      if (!$("#view-performance").classList.contains("hidden")) render();
    });
  });
  return { refresh: () => load(state.params), render };
}
