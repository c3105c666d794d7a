// The training view's page: HTML, CSS and script as strings (tsc emits only .ts, so assets live in modules).
// The script keeps one copy of the run's state, rebuilt from the `init` event on every (re)connect and updated
// by the small events that follow; the charts are plain SVG drawn from that state.
import type { Asset } from '../web/http_util';
import { BASE_CSS } from '../web/page_style';

export const DASHBOARD_HTML: Asset = {
  type: 'text/html; charset=utf-8',
  body: String.raw`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>img2img training</title>
<link rel="stylesheet" href="dashboard.css">
<script src="dashboard.js" defer></script>
</head>
<body>
<header class="top">
  <h1><span class="brand">img2img</span> <span id="run-name">training</span></h1>
  <span id="status" class="pill wait">connecting</span>
  <span id="run-meta" class="meta"></span>
</header>
<main class="layout">
  <section class="card" id="progress-card">
    <h2>Progress</h2>
    <div class="bar-row"><span class="label">Epoch</span><span id="p-epoch" class="value">–</span></div>
    <div class="bar"><div id="p-epoch-bar"></div></div>
    <div class="bar-row"><span class="label">Iteration in epoch</span><span id="p-iter" class="value">–</span></div>
    <div class="bar"><div id="p-iter-bar"></div></div>
    <dl class="stats">
      <dt>Total iterations</dt><dd id="p-total">–</dd>
      <dt>Seconds / iteration</dt><dd id="p-speed">–</dd>
      <dt>Compute / data</dt><dd id="p-split">–</dd>
      <dt>ETA</dt><dd id="p-eta">–</dd>
      <dt>Elapsed</dt><dd id="p-elapsed">–</dd>
      <dt>Learning rate</dt><dd id="p-lr">–</dd>
    </dl>
    <svg id="lr-chart" class="chart small" role="img" aria-label="learning rate"></svg>
  </section>
  <section class="card" id="loss-card">
    <div class="card-head">
      <h2>Losses</h2>
      <div class="controls">
        <label>Smoothing <input id="smoothing" type="range" min="0" max="0.99" step="0.01" value="0.6">
          <output id="smoothing-value">0.60</output></label>
        <label><input id="logscale" type="checkbox"> Log scale</label>
      </div>
    </div>
    <div id="legend" class="legend"></div>
    <div class="chart-wrap">
      <svg id="chart" class="chart" role="img" aria-label="loss curves" data-points="0"></svg>
      <div id="tooltip" class="tooltip" hidden></div>
    </div>
  </section>
  <section class="card" id="val-card" hidden>
    <div class="card-head"><h2>Validation</h2><span id="val-caption" class="muted"></span></div>
    <svg id="val-chart" class="chart small" role="img" aria-label="validation metric per epoch" data-points="0"></svg>
  </section>
  <section class="card wide" id="visuals-card">
    <div class="card-head"><h2>Current visuals</h2><span id="visuals-caption" class="muted">none yet</span></div>
    <div id="visuals" class="visuals" data-seq="0"></div>
  </section>
  <section class="card wide" id="epochs-card" hidden>
    <h2>Epochs</h2>
    <div class="scroll"><table id="epochs-table"><thead></thead><tbody></tbody></table></div>
  </section>
  <section class="card wide" id="options-card">
    <div class="card-head"><h2>Options</h2><input id="options-filter" type="search" placeholder="filter" aria-label="filter options"></div>
    <div class="scroll options"><table id="options-table">
      <thead><tr><th>option</th><th>value</th><th>default</th></tr></thead><tbody></tbody>
    </table></div>
  </section>
</main>
</body>
</html>
`,
};

export const DASHBOARD_CSS: Asset = {
  type: 'text/css; charset=utf-8',
  body: BASE_CSS + String.raw`
.layout { display: grid; grid-template-columns: minmax(260px, 330px) minmax(0, 1fr); gap: 16px; align-items: start; }
.wide { grid-column: 1 / -1; }
@media (max-width: 800px) { .layout { grid-template-columns: minmax(0, 1fr); } }
.card-head { display: flex; align-items: baseline; justify-content: space-between; gap: 12px; flex-wrap: wrap; margin-bottom: 6px; }
.card-head h2 { margin: 0; }
.controls { display: flex; gap: 16px; align-items: center; color: var(--muted); font-size: 13px; flex-wrap: wrap; }
.controls label { display: inline-flex; gap: 6px; align-items: center; cursor: pointer; }
.controls output { font-family: var(--mono); min-width: 2.6em; color: var(--text); }
.bar-row { display: flex; justify-content: space-between; margin-top: 6px; font-size: 13px; }
.bar-row .label { color: var(--muted); }
.bar-row .value { font-family: var(--mono); }
.bar { height: 6px; border-radius: 3px; background: var(--track); overflow: hidden; margin: 3px 0 6px; }
.bar > div { height: 100%; width: 0; background: var(--accent); transition: width .2s ease; }
.stats { display: grid; grid-template-columns: auto 1fr; gap: 4px 12px; margin: 12px 0 8px; font-size: 13px; }
.stats dt { color: var(--muted); }
.stats dd { margin: 0; font-family: var(--mono); text-align: right; }
.legend { display: flex; flex-wrap: wrap; gap: 6px; margin: 4px 0 6px; }
.legend button { font: 12px var(--mono); display: inline-flex; align-items: center; gap: 6px; padding: 2px 8px;
  border: 1px solid var(--border); border-radius: 999px; background: var(--bg); color: var(--text); cursor: pointer; }
.legend button.off { opacity: .4; text-decoration: line-through; }
.legend .swatch { width: 10px; height: 10px; border-radius: 2px; display: inline-block; }
.legend .last { color: var(--muted); }
.chart-wrap { position: relative; }
.chart { display: block; width: 100%; height: 300px; }
.chart.small { height: 90px; }
.chart .grid { stroke: var(--grid); stroke-width: 1; }
.chart .axis { stroke: var(--border); stroke-width: 1; }
.chart text { fill: var(--muted); font: 11px var(--mono); }
.chart text.title { font: 11px system-ui, sans-serif; }
.chart .line { fill: none; stroke-width: 1.8; stroke-linejoin: round; stroke-linecap: round; }
.chart .raw { fill: none; stroke-width: 1; opacity: .28; }
.chart path.lr { stroke: var(--accent); }
.chart .cursor { stroke: var(--muted); stroke-dasharray: 3 3; }
.chart .empty { font: 13px system-ui, sans-serif; }
.tooltip { position: absolute; pointer-events: none; background: var(--card); border: 1px solid var(--border);
  border-radius: 6px; padding: 6px 8px; font: 12px var(--mono); box-shadow: 0 2px 8px rgba(0,0,0,.12); white-space: nowrap; }
.tooltip .swatch { width: 8px; height: 8px; display: inline-block; border-radius: 2px; margin-right: 6px; }
.visuals { display: grid; grid-template-columns: repeat(auto-fill, minmax(180px, 256px)); gap: 14px; }
.visuals figure { margin: 0; }
.visuals img { width: 100%; height: auto; display: block; border-radius: 4px; border: 1px solid var(--border);
  background: var(--track); image-rendering: auto; }
.visuals figcaption { font: 12px var(--mono); color: var(--muted); margin-top: 4px; display: flex; justify-content: space-between; }
.scroll { overflow: auto; }
.options { max-height: 420px; columns: 1; }
#options-table td:first-child { font-family: var(--mono); white-space: nowrap; }
#options-table td:nth-child(2) { font-family: var(--mono); word-break: break-all; }
#options-table td:nth-child(3) { font-family: var(--mono); color: var(--muted); }
#options-table tr.changed td:nth-child(2) { font-weight: 700; }
#epochs-table td, #epochs-table th { font-family: var(--mono); font-size: 12px; text-align: right; white-space: nowrap; }
`,
};

export const DASHBOARD_JS: Asset = {
  type: 'text/javascript; charset=utf-8',
  body: String.raw`'use strict';
(function () {
  var COLORS = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2', '#ca8a04', '#db2777', '#4b5563', '#65a30d'];
  var SVG_NS = 'http://www.w3.org/2000/svg';
  var MAX_DRAWN = 1500; // points per line drawn (the history itself is kept whole)
  var $ = function (id) { return document.getElementById(id); };
  var S = emptyState();
  var hidden = {};
  var settings = { smoothing: 0.6, log: false };
  var es = null;
  var connection = 'connecting';
  var chartQueued = false;

  try {
    var saved = JSON.parse(localStorage.getItem('img2img.dashboard') || '{}');
    if (typeof saved.smoothing === 'number') settings.smoothing = Math.min(0.99, Math.max(0, saved.smoothing));
    if (typeof saved.log === 'boolean') settings.log = saved.log;
  } catch (e) { /* private mode: defaults */ }

  function emptyState() {
    return { state: 'waiting', run: null, options: [], lossNames: [], points: [], lrPoints: [], epochs: [], progress: null, visuals: null, validations: [] };
  }
  function saveSettings() {
    try { localStorage.setItem('img2img.dashboard', JSON.stringify(settings)); } catch (e) { /* ignore */ }
  }
  function esc(s) {
    return String(s).replace(/[&<>"']/g, function (c) { return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]; });
  }
  function color(name) {
    var i = S.lossNames.indexOf(name);
    return COLORS[(i < 0 ? 0 : i) % COLORS.length];
  }
  function fmtNum(v) {
    if (v === null || v === undefined || !isFinite(v)) return String(v);
    var a = Math.abs(v);
    if (a === 0) return '0';
    if (a >= 1e5 || a < 1e-4) return v.toExponential(2).replace(/\.?0+e/, 'e').replace('e+', 'e');
    if (a >= 100) return v.toFixed(1);
    return String(+v.toPrecision(4));
  }
  function fmtTick(v) {
    var a = Math.abs(v);
    if (a === 0) return '0';
    if (a >= 1e5 || a < 1e-3) return v.toExponential(1).replace(/\.0e/, 'e').replace('e+', 'e');
    return String(+v.toPrecision(6));
  }
  function fmtDuration(s) {
    if (s === null || s === undefined || !isFinite(s)) return '–';
    s = Math.round(s);
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
    if (h > 0) return h + 'h ' + (m < 10 ? '0' : '') + m + 'm';
    if (m > 0) return m + 'm ' + (sec < 10 ? '0' : '') + sec + 's';
    return sec + 's';
  }
  function setText(id, text) { var el = $(id); if (el.textContent !== text) el.textContent = text; }

  // ---- status and run header ----
  function renderStatus() {
    var el = $('status'), text, cls;
    if (connection === 'closed') { text = S.state === 'finished' ? 'finished' : 'stopped'; cls = 'off'; }
    else if (connection === 'connecting') { text = 'connecting'; cls = 'wait'; }
    else if (connection === 'reconnecting') { text = 'reconnecting'; cls = 'bad'; }
    else if (S.state === 'finished') { text = 'finished'; cls = 'off'; }
    else if (S.state === 'waiting') { text = 'waiting for training'; cls = 'wait'; }
    else { text = 'live'; cls = 'live'; }
    el.textContent = text;
    el.className = 'pill ' + cls;
    el.title = connection === 'closed' ? 'the training process has closed the dashboard' : '';
    document.body.setAttribute('data-state', S.state);
    document.body.setAttribute('data-connection', connection);
  }
  function renderRun() {
    var r = S.run;
    setText('run-name', r ? r.name : 'training');
    var meta = [];
    if (r) {
      meta.push(r.model + (r.netG ? ' · ' + r.netG : ''));
      if (r.direction) meta.push(r.direction);
      meta.push(r.datasetSize + ' images');
      meta.push('batch ' + r.batchSize);
      meta.push(r.device);
      meta.push(r.dataroot);
    }
    setText('run-meta', meta.join('  ·  '));
  }

  // ---- progress ----
  function renderProgress() {
    var p = S.progress, r = S.run;
    if (!p) {
      if (r) setText('p-epoch', r.startEpoch + ' / ' + r.lastEpoch);
      return;
    }
    var first = p.startEpoch || 1;
    setText('p-epoch', p.epoch + ' / ' + p.lastEpoch);
    $('p-epoch-bar').style.width = (100 * (p.epoch - first + p.epochIter / Math.max(1, p.epochSize)) / Math.max(1, p.lastEpoch - first + 1)).toFixed(2) + '%';
    setText('p-iter', p.epochIter + ' / ' + p.epochSize);
    $('p-iter-bar').style.width = (100 * Math.min(1, p.epochIter / Math.max(1, p.epochSize))).toFixed(2) + '%';
    setText('p-total', String(p.totalIters));
    setText('p-speed', p.secPerIter === null ? '–' : fmtNum(p.secPerIter) + ' s');
    setText('p-split', fmtNum(p.tComp) + ' s / ' + fmtNum(p.tData) + ' s');
    var eta = S.state === 'finished' ? 'done' : fmtDuration(p.etaSeconds);
    if (S.state !== 'finished' && p.etaSeconds !== null && isFinite(p.etaSeconds)) {
      var at = new Date(Date.now() + p.etaSeconds * 1000);
      eta += ' (' + at.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }) + ')';
    }
    setText('p-eta', eta);
    setText('p-elapsed', fmtDuration(p.elapsedSeconds));
    setText('p-lr', fmtNum(p.lr));
    document.title = 'epoch ' + p.epoch + '/' + p.lastEpoch + ' · ' + (r ? r.name : '') + ' · img2img';
  }
  function renderEpochs() {
    var card = $('epochs-card');
    if (!S.epochs.length) { card.hidden = true; return; }
    card.hidden = false;
    var names = S.lossNames;
    $('epochs-table').tHead.innerHTML = '<tr><th>epoch</th><th>seconds</th><th>lr after</th>' +
      names.map(function (n) { return '<th>' + esc(n) + '</th>'; }).join('') + '</tr>';
    $('epochs-table').tBodies[0].innerHTML = S.epochs.slice().reverse().map(function (e) {
      return '<tr><td>' + e.epoch + '</td><td>' + fmtNum(e.seconds) + '</td><td>' + fmtNum(e.lr) + '</td>' +
        names.map(function (n) { return '<td>' + (n in e.losses ? fmtNum(e.losses[n]) : '') + '</td>'; }).join('') + '</tr>';
    }).join('');
  }

  // ---- charts ----
  function niceStep(range, count) {
    var raw = range / Math.max(1, count), mag = Math.pow(10, Math.floor(Math.log10(raw))), f = raw / mag;
    return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
  }
  function linearTicks(lo, hi, count, integer) {
    var step = niceStep(hi - lo, count);
    if (integer) step = Math.max(1, Math.round(step));
    var ticks = [];
    for (var v = Math.ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step) ticks.push(+v.toPrecision(12));
    return { ticks: ticks, lo: Math.min(lo, Math.floor(lo / step + 1e-9) * step), hi: Math.max(hi, Math.ceil(hi / step - 1e-9) * step) };
  }
  function logTicks(lo, hi) {
    var ticks = [], decades = hi - lo, mults = decades < 1.5 ? [1, 2, 5] : decades < 4 ? [1, 3] : [1];
    for (var k = Math.floor(lo) - 1; k <= Math.ceil(hi); k++) {
      for (var i = 0; i < mults.length; i++) {
        var v = Math.log10(mults[i]) + k;
        if (v >= lo - 1e-9 && v <= hi + 1e-9) ticks.push(v);
      }
    }
    if (ticks.length < 2) ticks = [lo, hi];
    return ticks;
  }
  /** TensorBoard's smoothing: an exponential moving average corrected for its start. */
  function smooth(ys, w) {
    if (!(w > 0)) return ys;
    var out = new Array(ys.length), last = 0, n = 0;
    for (var i = 0; i < ys.length; i++) {
      var y = ys[i];
      if (y === null || !isFinite(y)) { out[i] = null; continue; }
      last = last * w + (1 - w) * y; n++;
      out[i] = last / (1 - Math.pow(w, n));
    }
    return out;
  }
  function thin(xs, ys) {
    if (xs.length <= MAX_DRAWN) return { xs: xs, ys: ys };
    var step = xs.length / MAX_DRAWN, tx = [], ty = [];
    for (var i = 0; i < MAX_DRAWN; i++) { var j = Math.floor(i * step); tx.push(xs[j]); ty.push(ys[j]); }
    tx.push(xs[xs.length - 1]); ty.push(ys[ys.length - 1]);
    return { xs: tx, ys: ty };
  }
  function el(name, attrs, text) {
    var e = document.createElementNS(SVG_NS, name);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }

  /**
   * Draws lines [{name, color, xs, ys, raw}] into an svg sized by CSS. opts: log, integerX, xTitle, yTitle,
   * margins. Returns the scales so that the hover can map back.
   */
  function drawChart(svg, lines, opts) {
    var W = Math.max(160, svg.clientWidth || 600), H = Math.max(60, svg.clientHeight || 300);
    var m = opts.margin || { l: 60, r: 14, t: 10, b: 34 };
    svg.setAttribute('viewBox', '0 0 ' + W + ' ' + H);
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    var log = !!opts.log, xmin = Infinity, xmax = -Infinity, ymin = Infinity, ymax = -Infinity;
    lines.forEach(function (l) {
      [l.ys, l.raw || []].forEach(function (ys) {
        for (var i = 0; i < ys.length; i++) {
          var y = ys[i];
          if (y === null || !isFinite(y) || (log && y <= 0)) continue;
          if (y < ymin) ymin = y; if (y > ymax) ymax = y;
          if (l.xs[i] < xmin) xmin = l.xs[i]; if (l.xs[i] > xmax) xmax = l.xs[i];
        }
      });
    });
    if (!isFinite(ymin)) {
      svg.appendChild(el('text', { x: W / 2, y: H / 2, 'text-anchor': 'middle', 'class': 'empty' }, opts.emptyText || 'no data yet'));
      return null;
    }
    if (xmax === xmin) { xmin = Math.max(0, xmin - 1); xmax = xmax + 1; }
    var tf = log ? function (v) { return Math.log10(v); } : function (v) { return v; };
    var lo = tf(ymin), hi = tf(ymax);
    if (hi - lo < 1e-12) { var pad = log ? 0.5 : Math.abs(lo) * 0.1 || 1; lo -= pad; hi += pad; }
    var yt;
    if (log) { var p = (hi - lo) * 0.05; lo -= p; hi += p; yt = logTicks(lo, hi); }
    else { var r = linearTicks(lo, hi, opts.yTicks || 5, false); lo = r.lo; hi = r.hi; yt = r.ticks; }
    var xt = linearTicks(xmin, xmax, Math.max(2, Math.floor((W - m.l - m.r) / 90)), !!opts.integerX);
    var X = function (x) { return m.l + (x - xmin) / (xmax - xmin) * (W - m.l - m.r); };
    var Y = function (v) { return m.t + (1 - (tf(v) - lo) / (hi - lo)) * (H - m.t - m.b); };
    var YT = function (t) { return m.t + (1 - (t - lo) / (hi - lo)) * (H - m.t - m.b); };
    yt.forEach(function (t) {
      var y = YT(t);
      svg.appendChild(el('line', { x1: m.l, x2: W - m.r, y1: y, y2: y, 'class': 'grid' }));
      svg.appendChild(el('text', { x: m.l - 6, y: y + 3.5, 'text-anchor': 'end' }, fmtTick(log ? Math.pow(10, t) : t)));
    });
    xt.ticks.forEach(function (t) {
      if (t < xmin || t > xmax) return;
      var x = X(t);
      svg.appendChild(el('line', { x1: x, x2: x, y1: m.t, y2: H - m.b, 'class': 'grid' }));
      if (m.b > 14) svg.appendChild(el('text', { x: x, y: H - m.b + 14, 'text-anchor': 'middle' }, fmtTick(t)));
    });
    svg.appendChild(el('line', { x1: m.l, x2: W - m.r, y1: H - m.b, y2: H - m.b, 'class': 'axis' }));
    svg.appendChild(el('line', { x1: m.l, x2: m.l, y1: m.t, y2: H - m.b, 'class': 'axis' }));
    if (opts.xTitle && m.b > 24) svg.appendChild(el('text', { x: W - m.r, y: H - 4, 'text-anchor': 'end', 'class': 'title' }, opts.xTitle));
    if (opts.yTitle) svg.appendChild(el('text', { x: 12, y: m.t + (H - m.t - m.b) / 2, 'text-anchor': 'middle', 'class': 'title',
      transform: 'rotate(-90 12 ' + (m.t + (H - m.t - m.b) / 2) + ')' }, opts.yTitle));
    var pathOf = function (xs, ys) {
      var d = '', pen = false, n = 0;
      for (var i = 0; i < xs.length; i++) {
        var y = ys[i];
        if (y === null || !isFinite(y) || (log && y <= 0)) { pen = false; continue; }
        d += (pen ? 'L' : 'M') + X(xs[i]).toFixed(1) + ' ' + Y(y).toFixed(1);
        pen = true; n++;
      }
      return { d: d, n: n };
    };
    lines.forEach(function (l) {
      if (l.raw) {
        var tr = thin(l.xs, l.raw), pr = pathOf(tr.xs, tr.ys);
        if (pr.n > 1) svg.appendChild(el('path', { d: pr.d, 'class': 'raw', stroke: l.color }));
      }
      var t = thin(l.xs, l.ys), ps = pathOf(t.xs, t.ys);
      if (ps.n > 1) svg.appendChild(el('path', { d: ps.d, 'class': 'line' + (l.cls ? ' ' + l.cls : ''), stroke: l.color, 'data-name': l.name }));
      else if (ps.n === 1) {
        for (var i = 0; i < t.xs.length; i++) if (t.ys[i] !== null && isFinite(t.ys[i])) {
          svg.appendChild(el('circle', { cx: X(t.xs[i]), cy: Y(t.ys[i]), r: 3, fill: l.color }));
        }
      }
    });
    return { X: X, Y: Y, m: m, W: W, H: H, xmin: xmin, xmax: xmax };
  }

  var lossScale = null, lossLines = [], legendHtml = '';
  function lossLinesFromState() {
    var xs = S.points.map(function (p) { return p.it; });
    return S.lossNames.filter(function (n) { return !hidden[n]; }).map(function (n) {
      var raw = S.points.map(function (p) { var v = p.losses[n]; return v === undefined ? null : v; });
      var sm = smooth(raw, settings.smoothing);
      return { name: n, color: color(n), xs: xs, ys: sm, raw: settings.smoothing > 0 ? raw : null, values: raw };
    });
  }
  function drawLosses() {
    chartQueued = false;
    drawValidation();
    var svg = $('chart');
    svg.setAttribute('data-points', String(S.points.length));
    svg.setAttribute('data-series', String(S.lossNames.length));
    lossLines = lossLinesFromState();
    lossScale = drawChart(svg, lossLines, {
      log: settings.log, integerX: true, xTitle: 'iterations (images)', yTitle: settings.log ? 'loss (log)' : 'loss',
      emptyText: S.state === 'waiting' ? 'waiting for the first losses' : 'no losses yet (they arrive every print_freq images)',
    });
    renderLegend();
    var lr = S.lrPoints.slice();
    if (lr.length && S.progress && S.progress.totalIters > lr[lr.length - 1][0]) lr.push([S.progress.totalIters, lr[lr.length - 1][1]]);
    var lxs = [], lys = [];
    lr.forEach(function (p, i) {
      if (i > 0) { lxs.push(p[0]); lys.push(lr[i - 1][1]); } // steps: hold the old rate up to the change
      lxs.push(p[0]); lys.push(p[1]);
    });
    drawChart($('lr-chart'), [{ name: 'lr', color: COLORS[0], cls: 'lr', xs: lxs, ys: lys }],
      { margin: { l: 60, r: 14, t: 6, b: 8 }, yTicks: 2, emptyText: 'learning rate: none yet' });
  }
  /** --val_freq results: the metric per epoch, with the latest and best value in the caption. */
  function drawValidation() {
    var v = S.validations || [];
    $('val-card').hidden = v.length === 0;
    if (!v.length) return;
    var last = v[v.length - 1];
    setText('val-caption', last.metric + ' ' + fmtNum(last.value) + ' at epoch ' + last.epoch + ' · best ' +
      fmtNum(last.best.value) + ' (epoch ' + last.best.epoch + ')');
    $('val-chart').setAttribute('data-points', String(v.length));
    drawChart($('val-chart'), [{ name: last.metric, color: COLORS[1], cls: 'val', xs: v.map(function (e) { return e.epoch; }),
      ys: v.map(function (e) { return e.value; }) }], { integerX: true, margin: { l: 60, r: 14, t: 6, b: 20 }, yTicks: 3,
      emptyText: 'no validation yet' });
  }
  function queueChart() {
    if (chartQueued) return;
    chartQueued = true;
    requestAnimationFrame(drawLosses);
  }
  function renderLegend() {
    var box = $('legend');
    var last = S.points.length ? S.points[S.points.length - 1].losses : {};
    var html = S.lossNames.map(function (n) {
      return '<button type="button" data-name="' + esc(n) + '" class="' + (hidden[n] ? 'off' : '') + '" title="show or hide ' + esc(n) + '">' +
        '<span class="swatch" data-color="' + color(n) + '"></span>' + esc(n) +
        (n in last ? ' <span class="last">' + esc(fmtNum(last[n])) + '</span>' : '') + '</button>';
    }).join('');
    if (legendHtml !== html) { legendHtml = html; box.innerHTML = html; paintSwatches(box); }
  }
  /** Colours are set through the CSSOM: the page's CSP allows no inline style attributes. */
  function paintSwatches(root) {
    root.querySelectorAll('.swatch[data-color]').forEach(function (s) { s.style.background = s.getAttribute('data-color'); });
  }
  $('legend').addEventListener('click', function (ev) {
    var b = ev.target.closest('button');
    if (!b) return;
    var n = b.getAttribute('data-name');
    hidden[n] = !hidden[n];
    queueChart();
  });

  function showTooltip(ev) {
    var tip = $('tooltip'), svg = $('chart');
    var old = svg.querySelector('.cursor');
    if (old) old.remove();
    if (!lossScale || !S.points.length) { tip.hidden = true; return; }
    var rect = svg.getBoundingClientRect();
    var px = (ev.clientX - rect.left) * (lossScale.W / rect.width);
    if (px < lossScale.m.l || px > lossScale.W - lossScale.m.r) { tip.hidden = true; return; }
    var best = 0, bestD = Infinity;
    for (var i = 0; i < S.points.length; i++) {
      var d = Math.abs(lossScale.X(S.points[i].it) - px);
      if (d < bestD) { bestD = d; best = i; }
    }
    var p = S.points[best], x = lossScale.X(p.it);
    svg.appendChild(el('line', { x1: x, x2: x, y1: lossScale.m.t, y2: lossScale.H - lossScale.m.b, 'class': 'cursor' }));
    var rows = ['<div>iteration ' + p.it + ' · epoch ' + p.epoch + '</div>'];
    lossLines.forEach(function (l) {
      var v = l.values[best];
      if (v === null) return;
      rows.push('<div><span class="swatch" data-color="' + l.color + '"></span>' + esc(l.name) + ' ' + esc(fmtNum(v)) +
        (l.raw ? ' <span class="muted">(smoothed ' + esc(fmtNum(l.ys[best])) + ')</span>' : '') + '</div>');
    });
    tip.innerHTML = rows.join('');
    paintSwatches(tip);
    tip.hidden = false;
    var left = (x / lossScale.W) * rect.width + 12;
    if (left + tip.offsetWidth > rect.width) left = (x / lossScale.W) * rect.width - tip.offsetWidth - 12;
    tip.style.left = Math.max(0, left) + 'px';
    tip.style.top = '8px';
  }
  $('chart').addEventListener('mousemove', showTooltip);
  $('chart').addEventListener('mouseleave', function () {
    $('tooltip').hidden = true;
    var old = $('chart').querySelector('.cursor');
    if (old) old.remove();
  });

  // ---- visuals ----
  function renderVisuals() {
    var v = S.visuals, box = $('visuals');
    if (!v) { box.innerHTML = ''; box.setAttribute('data-seq', '0'); setText('visuals-caption', 'none yet (every display_freq images)'); return; }
    box.setAttribute('data-seq', String(v.seq));
    setText('visuals-caption', 'epoch ' + v.epoch + ', iteration ' + v.totalIters);
    var figs = box.querySelectorAll('figure');
    if (figs.length !== v.images.length) {
      box.innerHTML = v.images.map(function (im) {
        return '<figure><img alt="' + esc(im.label) + '" data-label="' + esc(im.label) + '"><figcaption><span>' + esc(im.label) +
          '</span><span></span></figcaption></figure>';
      }).join('');
      figs = box.querySelectorAll('figure');
    }
    v.images.forEach(function (im, i) {
      var img = figs[i].querySelector('img');
      var src = 'visuals/' + v.seq + '/' + encodeURIComponent(im.label) + '.png';
      img.setAttribute('data-label', im.label);
      img.alt = im.label;
      if (img.getAttribute('src') !== src) img.setAttribute('src', src);
      var caps = figs[i].querySelectorAll('figcaption span');
      caps[0].textContent = im.label;
      caps[1].textContent = im.width + '×' + im.height;
    });
  }

  // ---- options ----
  function renderOptions() {
    var q = $('options-filter').value.trim().toLowerCase();
    var rows = S.options.filter(function (o) { return !q || o.key.toLowerCase().indexOf(q) >= 0 || o.value.toLowerCase().indexOf(q) >= 0; });
    $('options-table').tBodies[0].innerHTML = rows.map(function (o) {
      return '<tr class="' + (o.default !== undefined ? 'changed' : '') + '"><td>' + esc(o.key) + '</td><td>' + esc(o.value) + '</td><td>' +
        (o.default !== undefined ? esc(o.default) : '') + '</td></tr>';
    }).join('');
  }
  $('options-filter').addEventListener('input', renderOptions);

  function renderAll() {
    renderStatus(); renderRun(); renderProgress(); renderEpochs(); renderVisuals(); renderOptions(); queueChart();
  }

  // ---- controls ----
  var smoothing = $('smoothing'), logscale = $('logscale');
  smoothing.value = String(settings.smoothing);
  logscale.checked = settings.log;
  setText('smoothing-value', settings.smoothing.toFixed(2));
  smoothing.addEventListener('input', function () {
    settings.smoothing = +smoothing.value;
    setText('smoothing-value', settings.smoothing.toFixed(2));
    saveSettings(); queueChart();
  });
  logscale.addEventListener('change', function () { settings.log = logscale.checked; saveSettings(); queueChart(); });
  window.addEventListener('resize', queueChart);

  // ---- events ----
  function on(name, fn) {
    es.addEventListener(name, function (ev) {
      var data;
      try { data = JSON.parse(ev.data); } catch (e) { return; }
      fn(data);
    });
  }
  function connect() {
    es = new EventSource('events');
    es.onopen = function () { connection = 'live'; renderStatus(); };
    es.onerror = function () {
      if (connection === 'closed') return;
      connection = es.readyState === EventSource.CLOSED ? 'closed' : 'reconnecting';
      renderStatus();
    };
    on('init', function (d) { S = Object.assign(emptyState(), d); connection = 'live'; renderAll(); });
    on('loss', function (p) {
      S.points.push(p);
      Object.keys(p.losses).forEach(function (n) { if (S.lossNames.indexOf(n) < 0) S.lossNames.push(n); });
      queueChart();
    });
    on('lr', function (p) { S.lrPoints.push(p); queueChart(); });
    on('validation', function (v) { S.validations.push(v); queueChart(); });
    on('progress', function (p) {
      S.progress = p;
      if (S.state === 'waiting') { S.state = 'training'; renderStatus(); }
      renderProgress();
    });
    on('visuals', function (v) { S.visuals = v; renderVisuals(); });
    on('epoch', function (e) { S.epochs.push(e); renderEpochs(); });
    on('state', function (d) { S.state = d.state; renderStatus(); renderProgress(); });
    on('closed', function (d) {
      S.state = d.state;
      connection = 'closed';
      es.close();
      renderStatus(); renderProgress(); queueChart();
    });
  }
  renderAll();
  connect();
})();
`,
};
