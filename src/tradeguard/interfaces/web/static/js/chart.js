// Small hand-written SVG charts: a strategy's P&L over time (with value and time axes and its
// portfolio levels) and a trade's price since entry (with its entry, stop, target and trail).
import { clock, esc, num, pnl as fmtPnl, price as fmtPrice } from "./ui.js";

const STRATEGY_LINES = [
  { key: "target", label: "Target", cls: "stroke-success", text: "fill-success", dash: "5 4" },
  { key: "trailing", label: "Trail", cls: "stroke-warning", text: "fill-warning", dash: "5 4" },
  { key: "stop", label: "Stop", cls: "stroke-error", text: "fill-error", dash: "5 4" },
  { key: "daily_loss_limit", label: "Day limit", cls: "stroke-error", text: "fill-error", dash: "1 3" },
];

const TRADE_LINES = [
  { key: "target", label: "Target", cls: "stroke-success", text: "fill-success", dash: "4 3" },
  { key: "trail_arms_at", label: "Arms", cls: "stroke-warning", text: "fill-warning", dash: "1 3" },
  { key: "trailing_stop", label: "Trail", cls: "stroke-warning", text: "fill-warning", dash: "4 3" },
  { key: "entry_price", label: "Entry", cls: "stroke-base-content/40", text: "fill-base-content/60", dash: "2 2" },
  { key: "stop_loss", label: "Stop", cls: "stroke-error", text: "fill-error", dash: "4 3" },
];

/** ₹ amounts for an axis: 950, 1.2k, 3.4L, 1.1Cr (Indian units), with the sign. */
export function compactRupees(value) {
  const n = Math.abs(value);
  const sign = value > 0 ? "+" : value < 0 ? "−" : "";
  let text;
  if (n >= 1e7) text = `${(n / 1e7).toFixed(n >= 1e8 ? 0 : 1)}Cr`;
  else if (n >= 1e5) text = `${(n / 1e5).toFixed(n >= 1e6 ? 0 : 1)}L`;
  else if (n >= 1e3) text = `${(n / 1e3).toFixed(n >= 1e4 ? 0 : 1)}k`;
  else text = n >= 100 ? n.toFixed(0) : n.toFixed(n === 0 ? 0 : 2);
  return `${sign}₹${text.replace(/\.0(?=[a-zA-Z]|$)/, "")}`;
}

/**
 * The value range to draw: the series (and `always`), widened by each level that is near it
 * (within twice the series' own span); the other levels are left off the scale.
 * Returns {lo, hi, inScale: Set of level keys}.
 */
export function scaleFor(values, levels, always = [], minSpan = 1) {
  const base = [...values, ...always];
  let lo = base.length ? Math.min(...base) : 0;
  let hi = base.length ? Math.max(...base) : 0;
  const span = Math.max(hi - lo, minSpan);
  const inScale = new Set();
  for (const l of levels) {
    if (l.value >= lo - 2 * span && l.value <= hi + 2 * span) {
      inScale.add(l.key);
      lo = Math.min(lo, l.value);
      hi = Math.max(hi, l.value);
    }
  }
  if (hi - lo < minSpan) {
    const mid = (hi + lo) / 2;
    lo = mid - minSpan / 2;
    hi = mid + minSpan / 2;
  }
  const pad = (hi - lo) * 0.08;
  return { lo: lo - pad, hi: hi + pad, inScale };
}

function levelsOf(defs, source) {
  return defs.map((d) => ({ ...d, value: num(source?.[d.key]) })).filter((l) => l.value !== null);
}

/** The points to draw: the series held flat up to `now` (it records changes only). */
function extendTo(series, now) {
  if (!series.length) return [];
  const last = series[series.length - 1];
  const end = Math.max(now, last.t + 1);
  return series.length === 1 || end > last.t ? [...series, { t: end, v: last.v }] : series;
}

function linePath(pts, x, y) {
  return pts.map((p, i) => `${i ? "L" : "M"}${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`).join("");
}

/** Level lines with right-hand labels nudged apart; levels off the scale become edge labels. */
function levelMarks(lines, scale, y, x0, x1, h, fmt, labels) {
  const parts = [];
  const placed = [];
  for (const line of [...lines].sort((a, b) => b.value - a.value)) {
    if (!scale.inScale.has(line.key)) continue;
    const ly = y(line.value);
    parts.push(`<line data-level="${line.key}" x1="${x0}" x2="${x1}" y1="${ly.toFixed(1)}" y2="${ly.toFixed(1)}" class="${line.cls}" stroke-width="1.25" stroke-dasharray="${line.dash}"/>`);
    if (!labels) continue;
    let ty = ly + 3;
    for (const p of placed) if (Math.abs(p - ty) < 11) ty = p + 11;
    placed.push(ty);
    parts.push(`<text x="${x1 + 4}" y="${ty.toFixed(1)}" class="${line.text}" font-size="9.5" font-family="ui-monospace,monospace">${esc(line.label)}</text>`);
  }
  let above = 0;
  let below = 0;
  for (const line of lines) {
    if (scale.inScale.has(line.key) || !labels) continue;
    const up = line.value > scale.hi;
    const ty = up ? 10 + 10 * above++ : h - 20 - 10 * below++;
    parts.push(`<text data-offscale="${line.key}" x="${x1 - 2}" y="${ty}" text-anchor="end" class="${line.text} opacity-80" font-size="9" font-family="ui-monospace,monospace">${esc(line.label)} ${esc(fmt(line.value))} ${up ? "↑" : "↓"}</text>`);
  }
  return parts;
}

/** series: [{t: ms, v: number}], levels: the strategy view's levels (decimal strings). */
export function chartSvg(series, levels, width, height = 120, now = Date.now()) {
  const w = Math.max(200, Math.round(width));
  const h = height;
  const pad = { l: 46, r: 58, t: 8, b: 16 };
  const values = series.map((p) => p.v);
  const lines = levelsOf(STRATEGY_LINES, levels);
  const scale = scaleFor(values, lines, [0], 100);
  const pts = extendTo(series, now);
  const x0 = pad.l;
  const x1 = w - pad.r;
  const yb = h - pad.b;
  const y = (v) => pad.t + ((scale.hi - v) / (scale.hi - scale.lo)) * (yb - pad.t);
  const tMin = pts.length ? pts[0].t : 0;
  const tMax = pts.length ? pts[pts.length - 1].t : 1;
  const x = (t) => (tMax === tMin ? x1 : x0 + ((t - tMin) / (tMax - tMin)) * (x1 - x0));

  const parts = [];
  const axis = (kind, value) => {
    const ly = y(value);
    return `<text data-axis="${kind}" x="${x0 - 4}" y="${(ly + 3).toFixed(1)}" text-anchor="end" class="fill-base-content/50" font-size="9" font-family="ui-monospace,monospace">${esc(compactRupees(value))}</text>`;
  };
  const zy = y(0);
  parts.push(`<line x1="${x0}" x2="${x1}" y1="${zy.toFixed(1)}" y2="${zy.toFixed(1)}" class="stroke-base-content/25" stroke-width="1"/>`);
  parts.push(`<line x1="${x0}" x2="${x0}" y1="${pad.t}" y2="${yb}" class="stroke-base-content/15" stroke-width="1"/>`);
  parts.push(axis("zero", 0));
  if (values.length) {
    const max = Math.max(...values);
    const min = Math.min(...values);
    if (max > 0 && Math.abs(y(max) - zy) >= 10) parts.push(axis("max", max));
    if (min < 0 && Math.abs(y(min) - zy) >= 10) parts.push(axis("min", min));
    const span = tMax - tMin;
    const stamp = (t) => (span > 86_400_000 ? new Date(t).toLocaleDateString("en-IN", { day: "2-digit", month: "short" }) : clock(t).slice(0, 5));
    parts.push(
      `<text data-axis="start" x="${x0}" y="${h - 3}" class="fill-base-content/50" font-size="9" font-family="ui-monospace,monospace">${esc(stamp(tMin))}</text>`,
      `<text data-axis="end" x="${x1}" y="${h - 3}" text-anchor="end" class="fill-base-content/50" font-size="9" font-family="ui-monospace,monospace">${esc(stamp(tMax))}</text>`,
    );
  }
  parts.push(...levelMarks(lines, scale, y, x0, x1, h, fmtPnl, true));
  if (pts.length) {
    const path = linePath(pts, x, y);
    const last = pts[pts.length - 1];
    const up = last.v >= 0;
    const area = `${path}L${x(last.t).toFixed(1)},${zy.toFixed(1)}L${x(tMin).toFixed(1)},${zy.toFixed(1)}Z`;
    parts.push(
      `<path d="${area}" class="${up ? "fill-success/[0.07]" : "fill-error/[0.07]"}" stroke="none"/>`,
      `<path d="${path}" fill="none" class="${up ? "stroke-success" : "stroke-error"}" stroke-width="1.75" stroke-linejoin="round" stroke-linecap="round" data-role="pnl-line"/>`,
      `<circle cx="${x(last.t).toFixed(1)}" cy="${y(last.v).toFixed(1)}" r="3" class="${up ? "fill-success" : "fill-error"}"/>`,
    );
  }
  const title = `P&L ${series.length ? fmtPnl(series[series.length - 1].v) : "—"}`;
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${w} ${h}" width="100%" height="${h}" role="img" aria-label="${esc(title)} with stop, target and trailing levels" data-testid="pnl-chart" data-points="${series.length}"><title>${esc(title)}</title>${parts.join("")}</svg>`;
}

/**
 * A trade's price since entry (series: [{t: ms, v}], extended flat to `now`) against its entry,
 * stop, target, trailing stop and trail arming price (trade view `t`). Labels when wide enough.
 */
export function tradeChartSvg(series, t, width, height, now = Date.now()) {
  const w = Math.max(80, Math.round(width));
  const h = Math.max(28, Math.round(height));
  const labels = w >= 240;
  const pad = { l: 2, r: labels ? 40 : 2, t: 3, b: 3 };
  const source = { ...t, trailing_stop: num(t.trailing_stop) === num(t.stop_loss) ? null : t.trailing_stop };
  const lines = levelsOf(TRADE_LINES, source);
  const values = series.map((p) => p.v);
  const entry = num(t.entry_price) ?? 1;
  // the entry and the stop always in view; the target, trail and arming price when near
  const must = lines.filter((l) => l.key === "entry_price" || l.key === "stop_loss");
  const scale = scaleFor(values, lines.filter((l) => !must.includes(l)), must.map((l) => l.value), entry * 0.002);
  for (const l of must) scale.inScale.add(l.key);
  const pts = extendTo(series, now);
  const tMin = pts.length ? pts[0].t : 0;
  const tMax = pts.length ? pts[pts.length - 1].t : 1;
  const x0 = pad.l;
  const x1 = w - pad.r;
  const y = (v) => pad.t + ((scale.hi - v) / (scale.hi - scale.lo)) * (h - pad.t - pad.b);
  const x = (tt) => (tMax === tMin ? x1 : x0 + ((tt - tMin) / (tMax - tMin)) * (x1 - x0));
  const parts = levelMarks(lines, scale, y, x0, x1, h, fmtPrice, labels);
  if (pts.length) {
    const last = pts[pts.length - 1];
    const sign = t.side === "SHORT" ? -1 : 1;
    const up = sign * (last.v - entry) >= 0;
    parts.push(
      `<path d="${linePath(pts, x, y)}" fill="none" class="${up ? "stroke-success" : "stroke-error"}" stroke-width="1.5" stroke-linejoin="round" data-role="price-line"/>`,
      `<circle cx="${x(last.t).toFixed(1)}" cy="${y(last.v).toFixed(1)}" r="2.25" class="${up ? "fill-success" : "fill-error"}"/>`,
    );
  }
  const title = `${t.symbol}: price since entry (${series.length} points) against entry ${fmtPrice(t.entry_price)}, stop ${fmtPrice(t.stop_loss)}, target ${fmtPrice(t.target)}`;
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${w} ${h}" width="100%" height="${h}" role="img" aria-label="${esc(title)}" data-testid="trade-chart" data-points="${series.length}"><title>${esc(title)}</title>${parts.join("")}</svg>`;
}
