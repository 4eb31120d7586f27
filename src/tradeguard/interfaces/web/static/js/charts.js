// Chart history on the page: each trade's price series and each strategy's P&L series, loaded
// from the server (GET /ui/api/trades/{id}/series, /ui/api/strategies/{name}/series, so a
// reload redraws them) and extended by the live stream's trade and portfolio views. Charts are
// drawn at most once per animation frame, and a trade's chart only while it is on (or within a
// screen of) the screen.
import { api } from "./api.js";
import { chartSvg, tradeChartSvg } from "./chart.js";
import { num, toDate } from "./ui.js";

const MAX_POINTS = 720; // per series on the page; older points are thinned beyond it
// A strategy's P&L is recomputed on every trade update (many per stream frame): updates closer
// than this replace its last point. A trade's price is never merged in time: the server sends a
// trade's view at most once per publisher round (0.25 s), and those rounds reach the page with
// jitter, so a time window would drop real moves at random; MAX_POINTS bounds the series.
const STRATEGY_SAME_POINT_MS = 250;

const tradeSeries = new Map(); // trade_id -> {points: [{t, v}], loaded, loading}
const strategySeries = new Map(); // strategy_id -> {points, loaded, loading}
const visible = new Set(); // trade chart boxes on screen
let tradeOf = () => null; // trade_id -> trade view (set by app.js)
let strategyOf = () => null; // strategy_id -> strategy view

const ms = (at) => toDate(at)?.getTime() ?? Date.now();

function entryOf(map, id) {
  let entry = map.get(id);
  if (!entry) {
    entry = { points: [], loaded: false, loading: false };
    map.set(id, entry);
  }
  return entry;
}

/** Thin the older half (every other point, the first kept) once a series is too long. */
function bound(points) {
  if (points.length <= MAX_POINTS) return;
  const half = Math.floor(points.length / 2);
  const older = points.slice(1, half).filter((_, i) => i % 2 === 1);
  points.splice(0, points.length, points[0], ...older, ...points.slice(half));
}

function push(points, t, v, sameMs = 0) {
  if (v === null || v === undefined) return false;
  const last = points[points.length - 1];
  if (last && t < last.t) return false;
  if (last && t - last.t < sameMs && points.length > 1) {
    last.t = t;
    last.v = v;
  } else if (!last || last.v !== v) {
    points.push({ t, v });
  } else {
    return false;
  }
  bound(points);
  return true;
}

/** Server points first, then the live points that came after the server's last one. */
function merge(entry, data) {
  const server = (data?.points ?? []).map(([at, value]) => ({ t: ms(at), v: num(value) })).filter((p) => p.v !== null);
  const end = server.length ? server[server.length - 1].t : -Infinity;
  entry.points = [...server, ...entry.points.filter((p) => p.t > end)];
  bound(entry.points);
  entry.loaded = true;
}

async function load(map, id, path) {
  const entry = entryOf(map, id);
  if (entry.loaded || entry.loading) return;
  entry.loading = true;
  try {
    merge(entry, await api(path));
  } catch (err) {
    entry.loaded = true; // a closed trade or a network error: draw what the stream gives
  } finally {
    entry.loading = false;
  }
}

// -- drawing -----------------------------------------------------------------------------------
const dirtyTrades = new Set();
const dirtyStrategies = new Set();
let frame = 0;

function schedule() {
  if (frame) return;
  frame = requestAnimationFrame(() => {
    frame = 0;
    for (const id of dirtyTrades) drawTrade(id);
    for (const id of dirtyStrategies) drawStrategy(id);
    dirtyTrades.clear();
    dirtyStrategies.clear();
  });
}

function drawTrade(id) {
  const t = tradeOf(id);
  if (!t) return;
  const points = tradeSeries.get(id)?.points ?? [];
  for (const box of document.querySelectorAll(`[data-trade-chart="${CSS.escape(id)}"]`)) {
    if (!visible.has(box) || !box.clientWidth) continue;
    box.innerHTML = tradeChartSvg(points, t, box.clientWidth, box.clientHeight || 44);
  }
}

function drawStrategy(id) {
  const card = document.querySelector(`[data-strategy-id="${CSS.escape(id)}"]`);
  const box = card && card.querySelector("[data-role=chart]");
  const s = strategyOf(id);
  if (!box || !s) return;
  box.innerHTML = chartSvg(strategySeries.get(id)?.points ?? [], s.levels ?? {}, box.clientWidth || 320);
}

export function scheduleTradeChart(id) {
  dirtyTrades.add(id);
  schedule();
}

export function scheduleChart(id) {
  dirtyStrategies.add(id);
  schedule();
}

// -- trades ------------------------------------------------------------------------------------
const observer =
  typeof IntersectionObserver === "function"
    ? new IntersectionObserver((entries) => {
        for (const e of entries) {
          const id = e.target.dataset.tradeChart;
          if (e.isIntersecting) {
            visible.add(e.target);
            const entry = entryOf(tradeSeries, id);
            if (!entry.loaded) load(tradeSeries, id, `trades/${encodeURIComponent(id)}/series`).then(() => scheduleTradeChart(id));
            scheduleTradeChart(id);
          } else {
            visible.delete(e.target);
          }
        }
      }, { rootMargin: "100% 0px" }) // a screen ahead: drawn before it scrolls into view
    : null;

/** Watch the chart boxes under `root` (new rows and cards): loaded and drawn once on screen. */
export function mountTradeCharts(root) {
  for (const box of root.querySelectorAll("[data-trade-chart]")) {
    if (observer) observer.observe(box);
    else {
      visible.add(box);
      scheduleTradeChart(box.dataset.tradeChart);
    }
  }
}

/** A trade view from the stream (or an action): one more point of its price. */
export function noteTrade(t, at = Date.now()) {
  if (!t?.trade_id) return;
  const entry = entryOf(tradeSeries, t.trade_id);
  if (!entry.points.length && num(t.entry_price) !== null) entry.points.push({ t: ms(t.entered_at), v: num(t.entry_price) });
  push(entry.points, ms(at), num(t.last_price));
  scheduleTradeChart(t.trade_id);
}

/** Forget the series of trades no longer open (and the boxes no longer in the page). */
export function forgetTrades(openIds) {
  for (const id of [...tradeSeries.keys()]) if (!openIds.has(id)) tradeSeries.delete(id);
  for (const box of [...visible]) if (!box.isConnected) visible.delete(box);
}

// -- strategies --------------------------------------------------------------------------------
/** A strategy's P&L (from a portfolio view or recomputed from its trades): one more point. */
export function addPoint(id, value, at = Date.now()) {
  if (value === null || value === undefined) return;
  push(entryOf(strategySeries, id).points, ms(at), value, STRATEGY_SAME_POINT_MS);
  scheduleChart(id);
}

/** Load a strategy's history from the server once (then the stream extends it). */
export function loadStrategy(s) {
  if (!s?.strategy_id) return;
  const entry = entryOf(strategySeries, s.strategy_id);
  if (entry.loaded || entry.loading) return;
  load(strategySeries, s.strategy_id, `strategies/${encodeURIComponent(s.strategy)}/series`).then(() => scheduleChart(s.strategy_id));
}

export function redrawAll(strategyIds, tradeIds) {
  for (const id of strategyIds) dirtyStrategies.add(id);
  for (const id of tradeIds) dirtyTrades.add(id);
  schedule();
}

/** Where the views live: app.js's state. */
export function connectCharts({ trade, strategy }) {
  tradeOf = trade;
  strategyOf = strategy;
}
