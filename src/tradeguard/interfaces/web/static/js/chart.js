// A small hand-written SVG chart: a strategy's P&L over time with its portfolio levels as lines.
import { esc, num, pnl as fmtPnl } from "./ui.js";

const LINES = [
  { key: "target", label: "Target", cls: "stroke-success", text: "fill-success", dash: "5 4" },
  { key: "trailing", label: "Trail", cls: "stroke-warning", text: "fill-warning", dash: "5 4" },
  { key: "stop", label: "Stop", cls: "stroke-error", text: "fill-error", dash: "5 4" },
  { key: "daily_loss_limit", label: "Day limit", cls: "stroke-error", text: "fill-error", dash: "1 3" },
];

/** series: [{t: ms, v: number}], levels: the strategy view's levels (decimal strings). */
export function chartSvg(series, levels, width, height = 120) {
  const w = Math.max(160, Math.round(width));
  const h = height;
  const pad = { l: 6, r: 58, t: 10, b: 12 };
  const values = series.map((p) => p.v);
  const lines = LINES.map((line) => ({ ...line, value: num(levels?.[line.key]) })).filter((l) => l.value !== null);
  const all = [...values, ...lines.map((l) => l.value), 0];
  let lo = Math.min(...all);
  let hi = Math.max(...all);
  if (hi - lo < 1) {
    hi += 1;
    lo -= 1;
  }
  const span = hi - lo;
  lo -= span * 0.08;
  hi += span * 0.08;
  const x0 = pad.l;
  const x1 = w - pad.r;
  const y = (v) => pad.t + ((hi - v) / (hi - lo)) * (h - pad.t - pad.b);
  const tMin = series.length ? series[0].t : 0;
  const tMax = series.length ? series[series.length - 1].t : 1;
  const x = (t) => (tMax === tMin ? x1 : x0 + ((t - tMin) / (tMax - tMin)) * (x1 - x0));

  const parts = [];
  parts.push(`<line x1="${x0}" x2="${x1}" y1="${y(0).toFixed(1)}" y2="${y(0).toFixed(1)}" class="stroke-base-content/20" stroke-width="1"/>`);
  // level lines with a right-hand label; labels nudged apart so they never overlap
  const placed = [];
  for (const line of [...lines].sort((a, b) => b.value - a.value)) {
    const ly = y(line.value);
    let ty = ly + 3;
    for (const p of placed) if (Math.abs(p - ty) < 11) ty = p + 11;
    placed.push(ty);
    parts.push(
      `<line data-level="${line.key}" x1="${x0}" x2="${x1}" y1="${ly.toFixed(1)}" y2="${ly.toFixed(1)}" class="${line.cls}" stroke-width="1.25" stroke-dasharray="${line.dash}"/>`,
      `<text x="${x1 + 4}" y="${ty.toFixed(1)}" class="${line.text}" font-size="9.5" font-family="ui-monospace,monospace">${esc(line.label)}</text>`,
    );
  }
  if (series.length) {
    const pts = series.length === 1 ? [{ t: tMin, v: series[0].v, x: x0 }, { t: tMax, v: series[0].v, x: x1 }] : series.map((p) => ({ ...p, x: x(p.t) }));
    const path = pts.map((p, i) => `${i ? "L" : "M"}${p.x.toFixed(1)},${y(p.v).toFixed(1)}`).join("");
    const last = pts[pts.length - 1];
    const up = last.v >= 0;
    const area = `${path}L${last.x.toFixed(1)},${y(0).toFixed(1)}L${pts[0].x.toFixed(1)},${y(0).toFixed(1)}Z`;
    parts.push(
      `<path d="${area}" class="${up ? "fill-success/[0.07]" : "fill-error/[0.07]"}" stroke="none"/>`,
      `<path d="${path}" fill="none" class="${up ? "stroke-success" : "stroke-error"}" stroke-width="1.75" stroke-linejoin="round" stroke-linecap="round" data-role="pnl-line"/>`,
      `<circle cx="${last.x.toFixed(1)}" cy="${y(last.v).toFixed(1)}" r="3" class="${up ? "fill-success" : "fill-error"}"/>`,
    );
  }
  const title = `P&L ${series.length ? fmtPnl(series[series.length - 1].v) : "—"}`;
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${w} ${h}" width="100%" height="${h}" role="img" aria-label="${esc(title)} with stop, target and trailing levels" data-testid="pnl-chart"><title>${esc(title)}</title>${parts.join("")}</svg>`;
}
