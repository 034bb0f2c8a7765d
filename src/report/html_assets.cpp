// The report page's stylesheet and script, inline in every report (no CDN, no npm, nothing fetched).
// Written for this report: canvas plots with their own axes, zoom and pan, aggregation into pixel
// columns when dense, and a virtualized table over typed-array columns. Schema: report.cpp.
#include "report/report.h"

namespace synscope::report {

std::string_view html_css() {
  return R"CSS(
:root { --fg:#1d2430; --muted:#5b6678; --line:#d8dde6; --bg:#ffffff; --panel:#f6f8fb; --red:#d62828; --green:#2a9d3f;
        --blue:#2f6fdf; --orange:#e07b00; --purple:#7b3fb5; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color:var(--fg); background:var(--bg); }
header { padding:18px 28px 10px; border-bottom:1px solid var(--line); background:var(--panel); }
header h1 { margin:0 0 4px; font-size:20px; }
header .sub { color:var(--muted); }
.chips { display:flex; flex-wrap:wrap; gap:6px 14px; margin-top:10px; }
.chip b { font-weight:600; } .chip span { color:var(--muted); }
main { padding:8px 28px 40px; max-width:1500px; }
section { margin-top:22px; }
h2 { font-size:17px; margin:0 0 6px; border-bottom:1px solid var(--line); padding-bottom:4px; }
h3 { font-size:15px; margin:14px 0 4px; }
.note { background:#fff8e1; border:1px solid #f0d68a; padding:6px 10px; border-radius:4px; margin:6px 0; }
.explain { max-width:980px; margin:4px 0 8px; }
.muted { color:var(--muted); }
.plotbox { position:relative; border:1px solid var(--line); border-radius:4px; background:#fff; }
.plotbox canvas { display:block; width:100%; cursor:grab; touch-action:none; }
.plotbox canvas:active { cursor:grabbing; }
.toolbar { display:flex; gap:8px; align-items:center; margin:6px 0; flex-wrap:wrap; }
button, select, input { font:inherit; }
button { border:1px solid var(--line); background:#fff; border-radius:4px; padding:2px 10px; cursor:pointer; }
button:hover { background:var(--panel); }
.legend { display:flex; flex-wrap:wrap; gap:4px 16px; margin:6px 0; font-size:13px; }
.legend i { display:inline-block; width:14px; height:10px; margin-right:5px; vertical-align:middle; border-radius:2px; }
.tip { position:absolute; pointer-events:none; background:rgba(29,36,48,.92); color:#fff; padding:4px 8px; border-radius:4px;
       font-size:12px; white-space:pre; display:none; z-index:5; }
.finding { border:1px solid var(--line); border-left:5px solid var(--muted); border-radius:4px; padding:8px 12px; margin:8px 0; background:#fff; }
.finding.critical { border-left-color:var(--red); } .finding.warning { border-left-color:var(--orange); } .finding.info { border-left-color:var(--blue); }
.finding .sev { font-size:11px; text-transform:uppercase; letter-spacing:.05em; color:var(--muted); margin-right:8px; }
.finding ul { margin:4px 0 4px 18px; padding:0; font-size:13px; }
.finding a { color:var(--blue); cursor:pointer; text-decoration:underline; }
table.plain { border-collapse:collapse; font-size:13px; }
table.plain td, table.plain th { border-bottom:1px solid var(--line); padding:2px 10px; text-align:left; }
table.plain td.n { text-align:right; font-variant-numeric:tabular-nums; }
pre { background:var(--panel); border:1px solid var(--line); padding:8px 10px; border-radius:4px; overflow:auto; font-size:12px; white-space:pre-wrap; }
#filter { width:420px; max-width:100%; padding:3px 8px; border:1px solid var(--line); border-radius:4px; }
.grid { font-size:13px; font-variant-numeric:tabular-nums; border:1px solid var(--line); border-radius:4px; }
.grid .head, .grid .row { display:grid; align-items:center; }
.grid .head { background:var(--panel); font-weight:600; border-bottom:1px solid var(--line); }
.grid .head div { padding:4px 6px; cursor:pointer; user-select:none; white-space:nowrap; overflow:hidden; text-overflow:ellipsis; }
.grid .head div.sorted-asc::after { content:" ▲"; } .grid .head div.sorted-desc::after { content:" ▼"; }
.grid .body { position:relative; height:440px; overflow:auto; }
.grid .row { position:absolute; left:0; right:0; height:22px; border-bottom:1px solid #eef1f5; cursor:pointer; }
.grid .row:hover { background:#f1f5ff; } .grid .row.sel { background:#dfe9ff; }
.grid .row div { padding:0 6px; white-space:nowrap; overflow:hidden; text-overflow:ellipsis; }
.bad { color:var(--red); } .good { color:var(--green); }
#detail { min-height:1.5em; margin-top:6px; font-size:13px; }
.twocol { display:grid; grid-template-columns: minmax(0,1fr) minmax(0,1fr); gap:16px; }
@media (max-width: 1000px) { .twocol { grid-template-columns: 1fr; } }
)CSS";
}

std::string_view html_js() {
  return R"JS(
'use strict';
(function () {
const started = performance.now();
const D = JSON.parse(document.getElementById('synscope-data').textContent);
const app = document.getElementById('app');
const A = D.attempts;
const S = A.strings;
const N = A.idd.length;
const PALETTE = ['#2f6fdf', '#e07b00', '#2a9d3f', '#7b3fb5', '#00a3a3', '#b5651d', '#d43f8d', '#5c6b00', '#1b3f8b', '#8c564b', '#17becf', '#7f7f7f'];
const RED = '#d62828', GREEN = '#2a9d3f', BLUE = '#2f6fdf', ORANGE = '#e07b00', PURPLE = '#7b3fb5', TEAL = '#00a3a3';

// ---------------------------------------------------------------- small helpers
function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  if (attrs) for (const k in attrs) {
    if (k === 'class') e.className = attrs[k];
    else if (k === 'text') e.textContent = attrs[k];
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), attrs[k]);
    else e.setAttribute(k, attrs[k]);
  }
  for (const k of kids) if (k != null) e.append(k);
  return e;
}
const pad = (n, w) => String(n).padStart(w, '0');
// Wall-clock time (UTC) of a report time in µs.
function clock(us, digits) {
  const abs = D.t0 + us;
  const d = new Date(Math.floor(abs / 1000));
  let s = pad(d.getUTCHours(), 2) + ':' + pad(d.getUTCMinutes(), 2) + ':' + pad(d.getUTCSeconds(), 2);
  if (digits) s += '.' + pad(Math.floor(((abs % 1e6) + 1e6) % 1e6), 6).slice(0, digits);
  return s;
}
function dur(us) {
  if (us < 0) return '';
  if (us < 1000) return us + ' µs';
  if (us < 1e6) return (us / 1000).toFixed(us < 1e4 ? 2 : 1) + ' ms';
  return (us / 1e6).toFixed(us < 1e7 ? 3 : 1) + ' s';
}
function niceStep(span, target) {
  const raw = span / Math.max(1, target);
  const p = Math.pow(10, Math.floor(Math.log10(raw)));
  for (const m of [1, 2, 2.5, 5, 10]) if (p * m >= raw) return p * m;
  return p * 10;
}
const fmtInt = (v) => Math.round(v).toString();
function lowerBound(arr, v) { let lo = 0, hi = arr.length; while (lo < hi) { const m = (lo + hi) >> 1; if (arr[m] < v) lo = m + 1; else hi = m; } return lo; }

// ---------------------------------------------------------------- a zoomable canvas plot
// Time on x (µs), zoom with the wheel or the buttons, pan by dragging, double-click resets.
function Plot(box, opts) {
  const canvas = el('canvas');
  const tip = el('div', { class: 'tip' });
  box.append(canvas, tip);
  const P = { canvas, tip, x0: opts.x0, x1: opts.x1, full: [opts.x0, opts.x1], m: opts.margin, h: opts.height, w: 0, opts };
  const ctx = canvas.getContext('2d');
  P.ctx = ctx;
  P.sx = (t) => P.m.l + (t - P.x0) / (P.x1 - P.x0) * (P.w - P.m.l - P.m.r);
  P.tx = (x) => P.x0 + (x - P.m.l) / (P.w - P.m.l - P.m.r) * (P.x1 - P.x0);
  let queued = false;
  P.draw = () => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => { queued = false; P.render(); });
  };
  P.render = () => {
    const dpr = window.devicePixelRatio || 1;
    const w = box.clientWidth || 900;
    if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(P.h * dpr)) {
      canvas.width = Math.round(w * dpr); canvas.height = Math.round(P.h * dpr);
      canvas.style.height = P.h + 'px';
    }
    P.w = w;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, P.h);
    opts.draw(P, ctx);
    if (opts.onView) opts.onView(P);
  };
  P.zoom = (factor, atX) => {
    const span = P.x1 - P.x0;
    const c = atX == null ? (P.x0 + P.x1) / 2 : P.tx(atX);
    const fullSpan = P.full[1] - P.full[0];
    let ns = Math.min(fullSpan, Math.max(span * factor, 50));  // 50 µs at most zoomed
    let n0 = c - (c - P.x0) * ns / span;
    n0 = Math.max(P.full[0], Math.min(n0, P.full[1] - ns));
    P.x0 = n0; P.x1 = n0 + ns;
    P.draw();
  };
  P.reset = () => { P.x0 = P.full[0]; P.x1 = P.full[1]; P.draw(); };
  P.setFull = (a, b) => { P.full = [a, b]; P.x0 = a; P.x1 = b; P.draw(); };
  canvas.addEventListener('wheel', (e) => { e.preventDefault(); const r = canvas.getBoundingClientRect(); P.zoom(e.deltaY > 0 ? 1.25 : 0.8, e.clientX - r.left); }, { passive: false });
  let drag = null;
  canvas.addEventListener('pointerdown', (e) => { drag = { x: e.clientX, x0: P.x0, x1: P.x1, moved: false }; canvas.setPointerCapture(e.pointerId); });
  canvas.addEventListener('pointermove', (e) => {
    const r = canvas.getBoundingClientRect();
    if (drag) {
      const dx = e.clientX - drag.x;
      if (Math.abs(dx) > 2) drag.moved = true;
      const dt = dx / (P.w - P.m.l - P.m.r) * (drag.x1 - drag.x0);
      let n0 = drag.x0 - dt;
      n0 = Math.max(P.full[0], Math.min(n0, P.full[1] - (drag.x1 - drag.x0)));
      P.x0 = n0; P.x1 = n0 + (drag.x1 - drag.x0);
      P.draw();
      return;
    }
    if (opts.hover) {
      const h = opts.hover(P, e.clientX - r.left, e.clientY - r.top);
      if (h) { tip.textContent = h; tip.style.display = 'block'; tip.style.left = Math.min(e.clientX - r.left + 14, P.w - 260) + 'px'; tip.style.top = (e.clientY - r.top + 12) + 'px'; }
      else tip.style.display = 'none';
    }
  });
  canvas.addEventListener('pointerup', (e) => {
    const r = canvas.getBoundingClientRect();
    if (drag && !drag.moved && opts.click) opts.click(P, e.clientX - r.left, e.clientY - r.top);
    drag = null;
  });
  canvas.addEventListener('pointerleave', () => { tip.style.display = 'none'; });
  canvas.addEventListener('dblclick', () => P.reset());
  window.addEventListener('resize', () => P.draw());
  P.draw();
  return P;
}
function timeAxis(P, ctx, top, bottom) {
  const span = P.x1 - P.x0;
  const step = niceStep(span, Math.max(2, (P.w - P.m.l - P.m.r) / 110));
  const digits = step < 1e3 ? 6 : step < 1e6 ? 3 : 0;
  ctx.fillStyle = '#5b6678'; ctx.strokeStyle = '#eef1f5'; ctx.font = '11px system-ui, sans-serif'; ctx.textAlign = 'center';
  // Ticks at round wall-clock values: align to the absolute time, not to the report's origin.
  const first = Math.ceil((D.t0 + P.x0) / step) * step - D.t0;
  for (let t = first; t <= P.x1; t += step) {
    const x = P.sx(t);
    ctx.beginPath(); ctx.moveTo(x, top); ctx.lineTo(x, bottom); ctx.stroke();
    ctx.fillText(clock(t, digits), x, bottom + 14);
  }
  ctx.textAlign = 'left';
}
function yAxis(P, ctx, y0, y1, top, bottom, fmt, label) {
  const step = niceStep(y1 - y0, Math.max(2, (bottom - top) / 40));
  ctx.fillStyle = '#5b6678'; ctx.strokeStyle = '#eef1f5'; ctx.font = '11px system-ui, sans-serif'; ctx.textAlign = 'right';
  const sy = (v) => bottom - (v - y0) / (y1 - y0) * (bottom - top);
  for (let v = Math.ceil(y0 / step) * step; v <= y1; v += step) {
    const y = sy(v);
    ctx.beginPath(); ctx.moveTo(P.m.l, y); ctx.lineTo(P.w - P.m.r, y); ctx.stroke();
    ctx.fillText(fmt(v), P.m.l - 6, y + 4);
  }
  if (label) { ctx.save(); ctx.translate(12, (top + bottom) / 2); ctx.rotate(-Math.PI / 2); ctx.textAlign = 'center'; ctx.fillText(label, 0, 0); ctx.restore(); }
  ctx.textAlign = 'left';
  return sy;
}
function cross(ctx, x, y, r) { ctx.moveTo(x - r, y - r); ctx.lineTo(x + r, y + r); ctx.moveTo(x - r, y + r); ctx.lineTo(x + r, y - r); }

// ---------------------------------------------------------------- columns as typed arrays
// Undo the file's compaction (report.cpp): deltas → values, relative → absolute, counts → offsets.
function decodeAttempts() {
  const n = A.idd.length;
  const id = new Float64Array(n), start = new Float64Array(n), end = new Float64Array(n), after = new Float64Array(n), ans = new Float64Array(n);
  const synoff = new Uint32Array(n + 1);
  let idv = 0, t = 0;
  for (let i = 0; i < n; i++) {
    idv += A.idd[i]; id[i] = idv;
    t += A.startd[i]; start[i] = t;
    const e = A.endd[i];
    if (e >= 0) { end[i] = t + e; after[i] = e; } else { end[i] = t + (-e - 1); after[i] = -1; }
    ans[i] = A.ansd[i] >= 0 ? t + A.ansd[i] : -1;
    synoff[i + 1] = synoff[i] + A.nsyn[i];
  }
  return { id, start, end, after, ans, synoff };
}
const dec = decodeAttempts();
const u32 = (name) => A[name] ? Uint32Array.from(A[name]) : null;
const C = { id: dec.id, start: dec.start, end: dec.end, ans: dec.ans, after: dec.after, synoff: dec.synoff, synt: Float64Array.from(A.synt),
  ansk: Uint8Array.from(A.ansk), lane: u32(A.lane ? 'lane' : 'outcome'), client: u32('client'), cport: u32('cport'), server: u32('server'),
  syns: u32('syns'), unans: u32('unans'), outcome: u32('outcome'), via: u32('via'), cause: u32('cause'), model: u32('model') };
// TSval points: per address, lines rebuilt from (line, Δt, TSval, kind, attempt) in time order.
for (const a of D.ts) {
  a.lines = a.labels.map((label) => ({ label, t: [], v: [], k: [], a: [] }));
  let t = 0;
  for (let i = 0; i < a.td.length; i++) {
    t += a.td[i];
    const l = a.lines[a.l[i]];
    l.t.push(t); l.v.push(a.v[i]); l.k.push(a.k[i]); l.a.push(a.a[i]);
  }
  a.bands = a.bands.map(([from, until, ts]) => ({ from, until, ts }));
}
const laneIndex = new Map(A.lanes.map((l, i) => [S.indexOf(l), i]));
const rowLane = new Uint8Array(N);
let tMin = Infinity, tMax = -Infinity, maxLen = 0;
const rowEnd = new Float64Array(N);
for (let i = 0; i < N; i++) {
  rowLane[i] = laneIndex.get(C.lane[i]) ?? 0;
  let e = Math.max(C.start[i], C.end[i], C.ans[i]);
  const lastSyn = C.synoff[i + 1] > C.synoff[i] ? C.start[i] + Math.floor(C.synt[C.synoff[i + 1] - 1] / 2) : C.start[i];
  e = Math.max(e, lastSyn);
  rowEnd[i] = e;
  if (C.start[i] < tMin) tMin = C.start[i];
  if (e > tMax) tMax = e;
  if (e - C.start[i] > maxLen) maxLen = e - C.start[i];
}
const rowOfId = new Map();
for (let i = 0; i < N; i++) rowOfId.set(C.id[i], i);

// ---------------------------------------------------------------- page skeleton
const header = el('header', null, el('h1', { text: D.title }), el('div', { class: 'sub', text: D.subtitle }));
const chips = el('div', { class: 'chips' });
for (const [k, v] of D.summary) chips.append(el('div', { class: 'chip' }, el('span', { text: k + ': ' }), el('b', { text: v })));
header.append(chips);
const main = el('main');
app.replaceChildren(header, main);
for (const n of D.notes) main.append(el('div', { class: 'note', text: n }));

const api = { ready: false };
window.synscope = api;

// ---------------------------------------------------------------- 1. the TSval picture
function tsSection() {
  const sec = el('section', { id: 'ts' });
  main.append(sec);
  sec.append(el('h2', { text: '1. TCP timestamps (TSval) against time, per source address' }));
  if (!D.ts.length) { sec.append(el('p', { class: 'muted', text: 'No SYN in this input carries a TCP timestamp: nothing to draw.' })); return; }
  const bar = el('div', { class: 'toolbar' });
  const pick = el('select', { id: 'ts-addr' });
  D.ts.forEach((a, i) => pick.append(el('option', { value: i, text: a.addr + (a.bands.length ? '  — remembered by the server' : '') + (a.lines.length > 1 ? '  — ' + a.lines.length + ' clocks' : '') })));
  bar.append(el('span', { text: 'Source address: ' }), pick,
    el('button', { text: 'zoom in', onclick: () => P.zoom(0.5) }), el('button', { text: 'zoom out', onclick: () => P.zoom(2) }),
    el('button', { text: 'reset', onclick: () => P.reset() }),
    el('span', { class: 'muted', text: 'wheel: zoom · drag: pan · double-click: reset · click a point: its attempt' }));
  const story = el('div', { class: 'explain', id: 'ts-story' });
  const box = el('div', { class: 'plotbox', id: 'ts-plot' });
  const legend = el('div', { class: 'legend', id: 'ts-legend' });
  sec.append(story, bar, box, legend, el('div', { class: 'muted', text: D.ts_note }));
  let cur = null, yr = [0, 1];
  const P = Plot(box, { x0: 0, x1: 1, height: 380, margin: { l: 96, r: 16, t: 14, b: 30 },
    draw: (P, ctx) => {
      const a = cur; if (!a) return;
      const top = P.m.t, bottom = P.h - P.m.b;
      const sy = yAxis(P, ctx, yr[0], yr[1], top, bottom, fmtInt, '');
      timeAxis(P, ctx, top, bottom);
      ctx.save(); ctx.beginPath(); ctx.rect(P.m.l, top, P.w - P.m.l - P.m.r, bottom - top); ctx.clip();
      const labelled = [];  // y of the band labels drawn, so that close ones do not overprint
      for (const b of a.bands) {  // the danger zone: below the remembered TSval, for 60 s
        const x0 = P.sx(b.from), x1 = P.sx(b.until), y = sy(b.ts);
        ctx.fillStyle = a.bands.length > 10 ? 'rgba(214,40,40,0.025)' : 'rgba(214,40,40,0.10)'; ctx.fillRect(x0, y, x1 - x0, bottom - y);
        ctx.strokeStyle = '#9b1c1c'; ctx.lineWidth = 2; ctx.beginPath(); ctx.moveTo(x0, y); ctx.lineTo(x1, y); ctx.stroke();
        ctx.setLineDash([4, 3]); ctx.lineWidth = 1; ctx.beginPath(); ctx.moveTo(x0, top); ctx.lineTo(x0, bottom); ctx.moveTo(x1, top); ctx.lineTo(x1, bottom); ctx.stroke(); ctx.setLineDash([]);
        if (a.bands.length > 3 && x1 - x0 < 260) continue;  // many memories: label only the wide ones
        const ly = Math.max(top + 12, y - 6);
        if (labelled.some((v) => Math.abs(v - ly) < 14)) continue;
        labelled.push(ly);
        ctx.fillStyle = '#9b1c1c'; ctx.font = '12px system-ui, sans-serif';
        const txt = (KNOWN_RECYCLE ? 'server remembers TSval ' : 'with tcp_tw_recycle the server remembers TSval ') + b.ts + ' for 60 s: lower SYNs are dropped';
        ctx.fillText(txt, Math.max(P.m.l + 4, Math.min(x0 + 4, P.w - P.m.r - ctx.measureText(txt).width - 4)), Math.max(top + 12, y - 6));
      }
      let total = 0; for (const l of a.lines) total += l.t.length;
      const dense = total > 20000;
      const joined = !dense && a.lines.length <= 50;  // thousands of one-SYN clocks: points, no lines
      a.lines.forEach((l, li) => {
        const color = PALETTE[li % PALETTE.length];
        if (joined && l.t.length > 1) {  // the clock's line
          ctx.strokeStyle = color; ctx.lineWidth = 1.5; ctx.beginPath();
          for (let i = 0; i < l.t.length; i++) { const x = P.sx(l.t[i]), y = sy(l.v[i]); if (i) ctx.lineTo(x, y); else ctx.moveTo(x, y); }
          ctx.stroke();
        }
        for (let i = 0; i < l.t.length; i++) {
          const x = P.sx(l.t[i]); if (x < P.m.l - 8 || x > P.w - P.m.r + 8) continue;
          const y = sy(l.v[i]);
          if (l.k[i] === 1) continue;  // drops drawn last, on top
          ctx.fillStyle = color;
          if (l.k[i] === 2) ctx.fillRect(x - 1.5, y - 1.5, 3, 3);
          else { ctx.beginPath(); ctx.arc(x, y, dense ? 1.5 : 3.5, 0, 7); ctx.fill(); }
        }
      });
      ctx.strokeStyle = RED; ctx.lineWidth = 2.5; ctx.beginPath();
      for (const l of a.lines) for (let i = 0; i < l.t.length; i++) if (l.k[i] === 1) cross(ctx, P.sx(l.t[i]), sy(l.v[i]), dense ? 3 : 5.5);
      ctx.stroke(); ctx.lineWidth = 1;
      ctx.restore();
      ctx.fillStyle = '#5b6678'; ctx.font = '11px system-ui, sans-serif';
      ctx.fillText('TSval', 6, top + 8);
    },
    hover: (P, x, y) => { const h = nearest(P, x, y); return h ? h.text : null; },
    click: (P, x, y) => { const h = nearest(P, x, y); if (h && h.attempt >= 0) showAttempt(h.attempt); } });
  function nearest(P, x, y) {
    const a = cur; if (!a) return null;
    const top = P.m.t, bottom = P.h - P.m.b;
    const sy = (v) => bottom - (v - yr[0]) / (yr[1] - yr[0]) * (bottom - top);
    let best = null, bd = 64;
    a.lines.forEach((l) => { for (let i = 0; i < l.t.length; i++) {
      const dx = P.sx(l.t[i]) - x, dy = sy(l.v[i]) - y, d = dx * dx + dy * dy;
      if (d < bd) { bd = d; best = { l, i }; } } });
    if (!best) return null;
    const { l, i } = best;
    const kind = l.k[i] === 1 ? 'SYN, NOT answered (dropped)' : l.k[i] === 0 ? 'SYN, answered' : 'other segment';
    return { attempt: l.a[i], text: l.label + '\n' + kind + '\nTSval ' + l.v[i] + ' at ' + clock(l.t[i], 6) + (l.a[i] >= 0 ? '\nattempt #' + l.a[i] + ' (click: show in the table)' : '') };
  }
  function select(i) {
    cur = D.ts[i];
    let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
    for (const l of cur.lines) for (let j = 0; j < l.t.length; j++) { x0 = Math.min(x0, l.t[j]); x1 = Math.max(x1, l.t[j]); y0 = Math.min(y0, l.v[j]); y1 = Math.max(y1, l.v[j]); }
    for (const b of cur.bands) { x0 = Math.min(x0, b.from); x1 = Math.max(x1, b.until); y0 = Math.min(y0, b.ts); y1 = Math.max(y1, b.ts); }
    const sx = Math.max(1e6, (x1 - x0) * 0.04), syp = Math.max(50, (y1 - y0) * 0.08);
    yr = [y0 - syp, y1 + syp];
    P.setFull(x0 - sx, x1 + sx);
    legend.replaceChildren();
    cur.lines.slice(0, 16).forEach((l, li) => {
      let syns = 0, dropped = 0, other = 0; for (const k of l.k) { if (k !== 2) syns++; else other++; if (k === 1) dropped++; }
      const what = syns ? syns + ' SYN' + (syns === 1 ? '' : 's') + (dropped ? ', ' + dropped + ' dropped' : '') : other + ' packet' + (other === 1 ? '' : 's') + ' (not SYNs)';
      legend.append(el('span', null, el('i', { style: 'background:' + PALETTE[li % PALETTE.length] }), l.label + ' — ' + what));
    });
    if (cur.lines.length > 16) legend.append(el('span', { class: 'muted', text: '… and ' + (cur.lines.length - 16) + ' more clocks' }));
    legend.append(el('span', null, el('b', { style: 'color:' + RED, text: '✕ ' }), 'SYN that got no answer'),
      el('span', null, el('i', { style: 'background:rgba(214,40,40,0.25);border-top:2px solid #9b1c1c' }), KNOWN_RECYCLE ? 'what the server remembers, for 60 s' : 'what the server remembers for 60 s if tcp_tw_recycle is on'));
    story.replaceChildren(...storyFor(cur));
  }
  pick.addEventListener('change', () => select(+pick.value));
  select(0);
}
// A simulation or a replay knows tcp_tw_recycle is on (the model ran with it); a capture only shows
// that the server closed first, so its band is what the server remembers *if* it is on.
const KNOWN_RECYCLE = D.kind === 'sim' || D.kind === 'replay';
// The picture in plain words, from the data itself.
function storyFor(a) {
  const out = [];
  const senders = a.lines.length;
  let below = 0, dropped = 0;
  for (const l of a.lines) for (let i = 0; i < l.t.length; i++) if (l.k[i] === 1) {
    dropped++;
    for (const b of a.bands) if (l.t[i] >= b.from && l.t[i] < b.until && b.ts - l.v[i] > 0 && b.ts - l.v[i] < 2147483648) { below++; break; }
  }
  const h = el('h3');
  const because = KNOWN_RECYCLE ? 'because tcp_tw_recycle is on' : 'with tcp_tw_recycle on, as these drops suggest';
  if (a.bands.length && below) {
    h.textContent = 'Why SYNs from ' + a.addr + ' were silently dropped';
    const b = a.bands[0];
    out.push(h, el('p', { class: 'explain', text:
      (senders > 8 ? 'SYNs from ' + a.addr + ' run on ' + senders + ' different TCP timestamp clocks (TSval): many hosts share the address (NAT), or each connection gets its own timestamp offset (Linux 4.10+), so their values are scattered far apart. ' :
       senders > 1 ? senders + ' different senders (lines) use the address ' + a.addr + ' — they share it, e.g. behind a NAT. Each stamps its packets with its own TCP timestamp clock (TSval), so their lines run side by side, far apart. ' :
        'The address ' + a.addr + ' sends with the timestamps on the line. ') +
      (a.bands.length === 1
        ? 'At ' + clock(b.from, 3) + ' the server closed a connection to ' + a.addr + ' itself first, and — ' + because + ' — remembered the last timestamp it had received from that address: ' + b.ts + ' (dark red line). '
        : 'The server closed connections to ' + a.addr + ' itself first ' + a.bands.length + ' times (the first at ' + clock(b.from, 3) + '); each time — ' + because + ' — it remembered the last timestamp it had received from that address (dark red lines). ') +
      'For the next 60 seconds (the shaded band) the server treats any connection request (SYN) from ' + a.addr + ' with a lower timestamp as an old duplicate and drops it without an answer. ' +
      below + ' SYN' + (below === 1 ? '' : 's') + ' fell below the line (red ✕): the client' + (senders > 1 ? 's' : '') + ' could only retry until the 60 seconds were over. ' +
      'Nothing is wrong with the clients: their clocks are simply behind the one the server remembered. Fix: tcp_tw_recycle=0 (it was removed in Linux 4.12).' }));
  } else if (a.bands.length) {
    h.textContent = KNOWN_RECYCLE ? 'The server remembered a timestamp of ' + a.addr + ', and no SYN fell below it' : 'The server closed connections to ' + a.addr + ' first; no SYN fell below what it would remember';
    out.push(h, el('p', { class: 'explain', text: (KNOWN_RECYCLE ? 'The band shows the TSval the server remembered (tcp_tw_recycle, for 60 s). ' :
      'The band shows the last TSval the server received from ' + a.addr + ' before it closed first: with tcp_tw_recycle on, it would remember it for 60 s and drop SYNs below it. ') +
      'Every SYN from ' + a.addr + ' in that time had a higher timestamp, so none was dropped for this reason.' + (dropped ? ' ' + dropped + ' SYNs got no answer (red ✕) for other reasons: see the findings.' : '') }));
  } else if (senders > 1) {
    h.textContent = senders + ' timestamp clocks behind ' + a.addr;
    out.push(h, el('p', { class: 'explain', text: 'SYNs from ' + a.addr + ' run on ' + senders + ' separate TS clocks: several hosts behind one address (NAT), or per-connection timestamp offsets (Linux 4.10+). Harmless by itself; with tcp_tw_recycle on the server, the clocks that are behind would be dropped for 60 s after the server closes a connection to this address first.' + (dropped ? ' ' + dropped + ' SYNs got no answer (red ✕), for other reasons: see the findings.' : '') }));
  } else {
    h.textContent = 'Timestamps of ' + a.addr;
    out.push(h, el('p', { class: 'explain', text: 'One timestamp clock; ' + (dropped ? dropped + ' SYNs got no answer (red ✕): see the findings for why.' : 'every SYN was answered.') }));
  }
  if (a.note) out.push(el('div', { class: 'muted', text: a.note }));
  return out;
}

// ---------------------------------------------------------------- 2. the timeline
function timelineSection() {
  const sec = el('section', { id: 'timeline' });
  main.append(sec);
  sec.append(el('h2', { text: '2. Connection attempts over time, by outcome' }));
  if (!N) { sec.append(el('p', { class: 'muted', text: 'No connection attempt.' })); return; }
  const mode = el('span', { class: 'muted', id: 'tl-mode' });
  const bar = el('div', { class: 'toolbar' },
    el('button', { text: 'zoom in', onclick: () => P.zoom(0.5) }), el('button', { text: 'zoom out', onclick: () => P.zoom(2) }),
    el('button', { text: 'reset', onclick: () => P.reset() }),
    el('button', { text: 'show this time range in the table', onclick: () => setFilter('t:' + (P.x0 / 1e6).toFixed(3) + '..' + (P.x1 / 1e6).toFixed(3)) }), mode);
  const box = el('div', { class: 'plotbox', id: 'tl-plot' });
  const legend = el('div', { class: 'legend' },
    el('span', null, el('i', { style: 'background:' + BLUE }), 'SYN (answered)'), el('span', null, el('i', { style: 'background:' + RED }), 'SYN with no answer (dropped)'),
    el('span', null, el('i', { style: 'background:' + GREEN }), 'SYN-ACK'), el('span', null, el('i', { style: 'background:' + TEAL }), 'SYN-ACK with a cookie'),
    el('span', null, el('i', { style: 'background:' + ORANGE }), 'RST'), el('span', null, el('i', { style: 'background:' + PURPLE }), 'ICMP error'),
    el('span', null, el('i', { style: 'background:#c3cad6' }), 'attempt, first SYN to its end'));
  sec.append(bar, box, legend);
  const lanes = A.lanes;
  const laneH = Math.max(46, Math.min(110, 440 / lanes.length));
  const m = { l: 170, r: 16, t: 8, b: 30 };
  const span = Math.max(tMax - tMin, 1000);
  const ansColor = [null, GREEN, ORANGE, PURPLE, TEAL];
  const P = Plot(box, { x0: tMin - span * 0.01, x1: tMax + span * 0.01, height: m.t + m.b + laneH * lanes.length, margin: m,
    draw: (P, ctx) => {
      const top = m.t, bottom = P.h - m.b;
      timeAxis(P, ctx, top, bottom);
      ctx.font = '12px system-ui, sans-serif';
      for (let li = 0; li < lanes.length; li++) {
        const y = top + li * laneH;
        ctx.fillStyle = li % 2 ? '#fbfcfe' : '#f3f6fa'; ctx.fillRect(m.l, y, P.w - m.l - m.r, laneH);
        ctx.fillStyle = '#1d2430'; ctx.fillText(lanes[li], 6, y + laneH / 2 + 4);
      }
      // Rows are sorted by start: the visible ones start in [x0 - longest attempt, x1].
      const lo = lowerBound(C.start, P.x0 - maxLen), hi = lowerBound(C.start, P.x1 + 1);
      let visible = 0;
      for (let i = lo; i < hi; i++) if (rowEnd[i] >= P.x0) visible++;
      ctx.save(); ctx.beginPath(); ctx.rect(m.l, top, P.w - m.l - m.r, bottom - top); ctx.clip();
      const plotW = P.w - m.l - m.r;
      if (visible <= 3000) {
        mode.textContent = visible + ' attempts in view, each drawn';
        const slots = Math.max(1, Math.floor((laneH - 8) / 5));
        for (let i = lo; i < hi; i++) {
          if (rowEnd[i] < P.x0) continue;
          const y = top + rowLane[i] * laneH + 4 + ((C.id[i] * 7) % slots) * 5 + 2;
          const xs = P.sx(C.start[i]), xe = P.sx(rowEnd[i]);
          ctx.fillStyle = '#c3cad6'; ctx.fillRect(xs, y - 0.5, Math.max(1, xe - xs), 1);
          for (let k = C.synoff[i]; k < C.synoff[i + 1]; k++) {
            const v = C.synt[k], t = C.start[i] + Math.floor(v / 2);
            ctx.fillStyle = (v % 2) ? BLUE : RED; ctx.fillRect(P.sx(t) - 1, y - 4, 2, 8);
          }
          if (C.ansk[i]) { ctx.fillStyle = ansColor[C.ansk[i]]; ctx.beginPath(); ctx.arc(P.sx(C.ans[i]), y, 2.5, 0, 7); ctx.fill(); }
        }
      } else {
        // Dense: count per 2-pixel column and lane, draw the counts as bars scaled to the lane's peak.
        const cols = Math.max(1, Math.floor(plotW / 2)), binUs = (P.x1 - P.x0) / cols;
        mode.textContent = visible.toLocaleString() + ' attempts in view: aggregated, each bar is ' + dur(Math.round(binUs)) + ' — zoom in for single attempts';
        const L = lanes.length, ok = new Float64Array(L * cols), bad = new Float64Array(L * cols), ans = new Float64Array(L * cols * 5);
        for (let i = lo; i < hi; i++) {
          if (rowEnd[i] < P.x0) continue;
          const base = rowLane[i] * cols;
          for (let k = C.synoff[i]; k < C.synoff[i + 1]; k++) {
            const v = C.synt[k], b = Math.floor((C.start[i] + Math.floor(v / 2) - P.x0) / binUs);
            if (b < 0 || b >= cols) continue;
            if (v % 2) ok[base + b]++; else bad[base + b]++;
          }
          if (C.ansk[i]) { const b = Math.floor((C.ans[i] - P.x0) / binUs); if (b >= 0 && b < cols) ans[(base + b) * 5 + C.ansk[i]]++; }
        }
        for (let li = 0; li < L; li++) {
          let peak = 1;
          for (let b = 0; b < cols; b++) peak = Math.max(peak, ok[li * cols + b] + bad[li * cols + b]);
          const y0 = top + (li + 1) * laneH - 3, hmax = laneH * 0.62;
          for (let b = 0; b < cols; b++) {
            const o = ok[li * cols + b], d = bad[li * cols + b];
            if (!o && !d) continue;
            const x = m.l + b * 2, ho = o / peak * hmax, hd = d / peak * hmax;
            ctx.fillStyle = BLUE; ctx.fillRect(x, y0 - ho, 2, ho);
            ctx.fillStyle = RED; ctx.fillRect(x, y0 - ho - hd, 2, Math.max(hd, d ? 1 : 0));
            for (let k = 1; k < 5; k++) if (ans[(li * cols + b) * 5 + k]) { ctx.fillStyle = ansColor[k]; ctx.fillRect(x, top + li * laneH + 3 + (k - 1) * 3, 2, 2); }
          }
          ctx.font = '10px system-ui, sans-serif';
          const lbl = 'peak ' + peak + ' SYNs per bar', lw = ctx.measureText(lbl).width;
          ctx.fillStyle = 'rgba(255,255,255,0.85)'; ctx.fillRect(P.w - m.r - lw - 8, top + li * laneH + 2, lw + 6, 13);
          ctx.fillStyle = '#5b6678'; ctx.fillText(lbl, P.w - m.r - lw - 5, top + li * laneH + 12);
        }
      }
      ctx.restore();
    },
    hover: (P, x, y) => { const i = pickRow(P, x, y); return i == null ? null : rowText(i); },
    click: (P, x, y) => { const i = pickRow(P, x, y); if (i != null) showAttempt(C.id[i]); } });
  function pickRow(P, x, y) {
    const li = Math.floor((y - m.t) / laneH); if (li < 0 || li >= lanes.length) return null;
    const slots = Math.max(1, Math.floor((laneH - 8) / 5));
    const lo = lowerBound(C.start, P.x0 - maxLen), hi = lowerBound(C.start, P.x1 + 1);
    if (hi - lo > 20000) return null;
    const t = P.tx(x), tol = 4 / (P.w - m.l - m.r) * (P.x1 - P.x0);
    let best = null, bd = 1e18;
    for (let i = lo; i < hi; i++) {
      if (rowLane[i] !== li || rowEnd[i] + tol < t || C.start[i] - tol > t) continue;
      const yy = m.t + li * laneH + 4 + ((C.id[i] * 7) % slots) * 5 + 2;
      const d = Math.abs(yy - y);
      if (d < bd && d <= 4) { bd = d; best = i; }
    }
    return best;
  }
}
function rowText(i) {
  let s = '#' + C.id[i] + '  ' + S[C.client[i]] + ':' + C.cport[i] + ' → ' + S[C.server[i]] + '\n' + S[C.outcome[i]] + ', ' + C.syns[i] + ' SYN' + (C.syns[i] === 1 ? '' : 's');
  if (C.unans[i]) s += ', ' + C.unans[i] + ' unanswered';
  s += '\nfirst SYN ' + clock(C.start[i], 6);
  if (C.after && C.after[i] >= 0) s += ', connected after ' + dur(C.after[i]);
  if (C.cause && C.cause[i]) s += '\ncause: ' + S[C.cause[i]];
  return s;
}

// ---------------------------------------------------------------- 3. queues, counters, findings
function queueSection() {
  const sec = el('section', { id: 'queues' });
  main.append(sec);
  sec.append(el('h2', { text: '3. Queues, counters and findings' }));
  const two = el('div', { class: 'twocol' });
  const left = el('div'), right = el('div');
  two.append(left, right);
  sec.append(two);
  left.append(el('h3', { text: 'SYN queue and accept queue against their limits' }));
  if (D.queues_note) left.append(el('p', { class: 'muted', text: D.queues_note }));
  D.queues.forEach((q) => {
    left.append(el('div', { text: q.host + ' :' + q.port + ' — ' + q.source }),
      el('div', { class: 'legend' }, el('span', null, el('i', { style: 'background:' + ORANGE }), 'SYN queue (half-open requests), limit ' + q.syn_limit),
        el('span', null, el('i', { style: 'background:' + BLUE }), 'accept queue (waiting for accept()), full when it holds more than B = ' + q.backlog)));
    const box = el('div', { class: 'plotbox queue-plot' });
    left.append(box);
    let peak = Math.max(q.backlog + 1, 1);
    for (const v of q.q) peak = Math.max(peak, v);
    for (const v of q.a) peak = Math.max(peak, v);
    if (q.syn_limit && q.syn_limit <= peak * 3) peak = Math.max(peak, q.syn_limit);
    const t0 = q.t.length ? q.t[0] : 0, t1 = q.t.length ? q.t[q.t.length - 1] : 1;
    const sp = Math.max(t1 - t0, 1e6);
    const P = Plot(box, { x0: t0 - sp * 0.02, x1: t1 + sp * 0.05, height: 200, margin: { l: 50, r: 14, t: 10, b: 30 },
      draw: (P, ctx) => {
        const top = P.m.t, bottom = P.h - P.m.b;
        const sy = yAxis(P, ctx, 0, peak * 1.12, top, bottom, fmtInt, 'depth');
        timeAxis(P, ctx, top, bottom);
        ctx.save(); ctx.beginPath(); ctx.rect(P.m.l, top, P.w - P.m.l - P.m.r, bottom - top); ctx.clip();
        const limit = (v, color, label, right) => {
          const y = sy(v); ctx.strokeStyle = color; ctx.setLineDash([6, 4]); ctx.beginPath(); ctx.moveTo(P.m.l, y); ctx.lineTo(P.w - P.m.r, y); ctx.stroke(); ctx.setLineDash([]);
          ctx.fillStyle = color; ctx.font = '11px system-ui, sans-serif';
          ctx.fillText(label, right ? P.w - P.m.r - ctx.measureText(label).width - 20 : P.m.l + 6, y - 4);
        };
        limit(q.backlog, BLUE, 'B = ' + q.backlog + ' (accept queue full above this)', false);
        // Right-aligned: when both limits are equal (B), the labels would overlap.
        if (q.syn_limit && q.syn_limit <= peak * 1.1) limit(q.syn_limit, ORANGE, 'SYN queue limit ' + q.syn_limit, true);
        const step = (vals, color) => {
          // Dense series: one vertical extent per pixel column keeps a million samples cheap.
          ctx.strokeStyle = color; ctx.lineWidth = 1.6; ctx.beginPath();
          let lastX = -1, lastY = sy(0);
          ctx.moveTo(P.m.l, lastY);
          const i0 = Math.max(0, lowerBound(q.t, P.x0) - 1);
          for (let i = i0; i < q.t.length; i++) {
            const x = P.sx(q.t[i]); if (x > P.w) break;
            const y = sy(vals[i]);
            if (Math.floor(x) === Math.floor(lastX)) { ctx.lineTo(x, y); lastY = y; continue; }
            ctx.lineTo(x, lastY); ctx.lineTo(x, y); lastX = x; lastY = y;
          }
          ctx.lineTo(P.w, lastY); ctx.stroke(); ctx.lineWidth = 1;
        };
        step(q.q, ORANGE); step(q.a, BLUE);
        ctx.restore();
        const mark = (v, color) => { const x = P.w - P.m.r - 6, y = sy(v); ctx.fillStyle = color; ctx.beginPath(); ctx.moveTo(x, y - 6); ctx.lineTo(x + 5, y); ctx.lineTo(x, y + 6); ctx.lineTo(x - 5, y); ctx.fill(); };
        if (q.measured_a != null) mark(q.measured_a, BLUE);
        if (q.measured_q != null) mark(q.measured_q, ORANGE);
      } });
    P.draw();
    box.dataset.samples = q.t.length;
  });

  right.append(el('h3', { text: D.counters_title }));
  if (!D.counters.length) right.append(el('p', { class: 'muted', text: 'No counter moved.' }));
  else {
    const t = el('table', { class: 'plain', id: 'counters' });
    t.append(el('tr', null, el('th', { text: 'host' }), el('th', { text: 'counter' }), ...D.counter_columns.map((c) => el('th', { text: c }))));
    for (const r of D.counters) {
      const vals = r.slice(2);
      const differ = vals.length > 1 && vals.some((v) => v !== vals[0]);
      t.append(el('tr', { class: differ ? 'bad' : '' }, el('td', { text: r[0] }), el('td', { text: r[1] }), ...vals.map((v) => el('td', { class: 'n', text: v == null ? '' : String(v) }))));
    }
    right.append(t);
  }

  const fs = el('div', { id: 'findings' });
  sec.append(el('h3', { text: 'Findings' }), fs);
  if (!D.findings.length) fs.append(el('p', { class: 'muted', text: 'Nothing failed or was late.' }));
  D.findings.forEach((f, fi) => {
    const card = el('div', { class: 'finding ' + f.severity });
    card.append(el('div', null, el('span', { class: 'sev', text: f.severity }), el('b', { text: f.title })));
    if (f.text) card.append(el('div', { text: f.text }));
    if (f.evidence.length) card.append(el('ul', null, ...f.evidence.map((e) => el('li', { text: e }))));
    if (f.attempts.length) {
      const n = f.attempts.length;
      card.append(el('a', { class: 'finding-link', text: 'show the ' + (f.count > n ? n + ' first of ' + f.count : n) + ' attempt' + (n === 1 ? '' : 's') + ' it explains in the table', onclick: () => setFilter('finding:' + (fi + 1)) }));
    }
    fs.append(card);
  });
  if (D.explanation) sec.append(el('h3', { text: 'Why (the simulator\'s explanation)' }), el('pre', { text: D.explanation }));
  if (D.extra_text) sec.append(el('h3', { text: D.extra_title }), el('pre', { text: D.extra_text }));
}

// ---------------------------------------------------------------- 4. the table
const COLS = [
  { key: 'id', label: '#', w: '70px', num: true, get: (i) => C.id[i], text: (i) => String(C.id[i]) },
  { key: 'start', label: 'first SYN (UTC)', w: '130px', num: true, get: (i) => C.start[i], text: (i) => clock(C.start[i], 6) },
  { key: 'client', label: 'client', w: 'minmax(150px,1.3fr)', str: 'client', text: (i) => S[C.client[i]] + ':' + C.cport[i] },
  { key: 'via', label: 'via', w: 'minmax(110px,1fr)', str: 'via' },
  { key: 'server', label: 'server', w: 'minmax(130px,1fr)', str: 'server' },
  { key: 'syns', label: 'SYNs', w: '56px', num: true, get: (i) => C.syns[i], text: (i) => String(C.syns[i]) },
  { key: 'unans', label: 'unanswered', w: '86px', num: true, get: (i) => C.unans[i], text: (i) => C.unans[i] ? String(C.unans[i]) : '' },
  { key: 'outcome', label: 'outcome', w: 'minmax(120px,1fr)', str: 'outcome' },
  { key: 'after', label: 'connected after', w: '110px', num: true, get: (i) => C.after[i], text: (i) => dur(C.after[i]) },
  { key: 'cause', label: 'cause', w: 'minmax(160px,1.6fr)', str: 'cause' },
  { key: 'model', label: 'model', w: 'minmax(140px,1.2fr)', str: 'model' },
].filter((c) => !c.str || C[c.str]);
for (const c of COLS) {
  if (A.labels[c.key]) c.label = A.labels[c.key];
  if (c.str && !c.text) c.text = (i) => S[C[c.str][i]];
}
let order = new Uint32Array(N); for (let i = 0; i < N; i++) order[i] = i;
let view = order;  // filtered rows, in the current order
let selected = -1;
let filterText = '';
let sortKey = null, sortDir = 1;
const ROW = 22;
let grid, body, sizer, countEl, detail, filterInput;

function tableSection() {
  const sec = el('section', { id: 'attempts' });
  main.append(sec);
  sec.append(el('h2', { text: '4. Attempts' }));
  filterInput = el('input', { id: 'filter', type: 'search', placeholder: 'filter: 10.0.0.7  outcome:unanswered  syns>2  cause:paws  port:443  -established  t:10..20' });
  countEl = el('span', { id: 'table-count', class: 'muted' });
  const help = el('div', { class: 'muted', text: 'Words match the client, server, outcome, cause and clock columns (all words must match; -word excludes). ' +
    'Fields: id:1,2,3  client:  server:  outcome:  cause:  via:  model:  port:N  syns>N  unans>N  after>SECONDS  t:FROM..TO (seconds from the start)  finding:N. Click a column title to sort.' });
  sec.append(el('div', { class: 'toolbar' }, filterInput, el('button', { text: 'clear', onclick: () => setFilter('') }), countEl), help);
  grid = el('div', { class: 'grid', id: 'grid' });
  const tmpl = COLS.map((c) => c.w).join(' ');
  const head = el('div', { class: 'head', style: 'grid-template-columns:' + tmpl });
  for (const c of COLS) head.append(el('div', { 'data-key': c.key, title: 'sort by ' + c.label, text: c.label, onclick: () => sortBy(c.key) }));
  body = el('div', { class: 'body' });
  sizer = el('div', { style: 'height:0px' });
  body.append(sizer);
  grid.append(head, body);
  detail = el('div', { id: 'detail', class: 'muted', text: 'Click a row, a point or an attempt in the pictures for its details.' });
  sec.append(grid, detail);
  grid.tmpl = tmpl;
  body.addEventListener('scroll', renderRows);
  let timer = null;
  filterInput.addEventListener('input', () => { clearTimeout(timer); timer = setTimeout(() => applyFilter(filterInput.value), 120); });
  applyFilter('');
}
const pool = [];
function renderRows() {
  const first = Math.max(0, Math.floor(body.scrollTop / ROW) - 5);
  const count = Math.ceil(body.clientHeight / ROW) + 10;
  const need = Math.min(count, Math.max(0, view.length - first));
  while (pool.length < need) {
    const r = el('div', { class: 'row', style: 'grid-template-columns:' + grid.tmpl });
    for (let k = 0; k < COLS.length; k++) r.append(el('div'));
    r.addEventListener('click', () => showRow(+r.dataset.row));
    body.append(r); pool.push(r);
  }
  for (let p = 0; p < pool.length; p++) {
    const r = pool[p];
    if (p >= need) { r.style.display = 'none'; continue; }
    const i = view[first + p];
    r.style.display = ''; r.style.top = (first + p) * ROW + 'px'; r.dataset.row = i;
    r.classList.toggle('sel', i === selected);
    for (let k = 0; k < COLS.length; k++) {
      const c = COLS[k], cell = r.children[k];
      cell.textContent = c.text(i);
      if (c.key === 'outcome') cell.className = /unanswered|timed|refused|ignored|reset|unreach|nothing/.test(cell.textContent) ? 'bad' : '';
    }
  }
}
// Terms → one predicate per row. String-column terms are decided once per distinct string.
function compile(text) {
  const preds = [];
  const strCols = COLS.filter((c) => c.str).map((c) => c.str);
  const lowerS = S.map((s) => s.toLowerCase());
  const matchStrings = (needle) => { const ok = new Uint8Array(S.length); for (let k = 0; k < S.length; k++) ok[k] = lowerS[k].includes(needle) ? 1 : 0; return ok; };
  for (let term of text.trim().split(/\s+/)) {
    if (!term) continue;
    let neg = false;
    if (term[0] === '-' && term.length > 1) { neg = true; term = term.slice(1); }
    term = term.toLowerCase();
    let p = null, m;
    if ((m = /^(syns|unans|after|port|id)(>=|<=|>|<|=)(\d+(?:\.\d+)?)$/.exec(term))) {
      const [, f, op, vs] = m; const v = +vs;
      const arr = f === 'port' ? C.cport : f === 'after' ? C.after : C[f];
      const scale = f === 'after' ? 1e6 : 1;
      const cmp = { '>': (a) => a > v * scale, '<': (a) => a < v * scale, '>=': (a) => a >= v * scale, '<=': (a) => a <= v * scale, '=': (a) => a === v * scale }[op];
      p = f === 'after' ? (i) => arr[i] >= 0 && cmp(arr[i]) : (i) => cmp(arr[i]);
    } else if ((m = /^id:([\d,]+)$/.exec(term))) {
      const set = new Set(m[1].split(',').filter(Boolean).map(Number)); p = (i) => set.has(C.id[i]);
    } else if ((m = /^port:(\d+)$/.exec(term))) {
      const v = +m[1]; const srv = matchStrings(':' + v);
      p = (i) => C.cport[i] === v || (srv[C.server[i]] && S[C.server[i]].endsWith(':' + v));
    } else if ((m = /^t:(-?[\d.]*)\.\.(-?[\d.]*)$/.exec(term))) {
      const a = m[1] === '' ? -Infinity : +m[1] * 1e6, b = m[2] === '' ? Infinity : +m[2] * 1e6; p = (i) => C.start[i] >= a && C.start[i] <= b;
    } else if ((m = /^finding:(\d+)$/.exec(term))) {
      const f = D.findings[+m[1] - 1]; const set = new Set(f ? f.attempts : []); p = (i) => set.has(C.id[i]);
    } else if ((m = /^(client|server|outcome|cause|via|model):(.*)$/.exec(term)) && C[m[1]]) {
      const ok = matchStrings(m[2]); const arr = C[m[1]];
      p = m[1] === 'client' ? (i) => ok[arr[i]] || (S[arr[i]] + ':' + C.cport[i]).includes(m[2]) : (i) => ok[arr[i]];
    } else {
      const ok = matchStrings(term); const arrs = strCols.map((s) => C[s]);
      const portTerm = /^\d+$/.test(term) ? +term : -1;
      p = (i) => { for (const arr of arrs) if (ok[arr[i]]) return true; return portTerm >= 0 && String(C.cport[i]).includes(term); };
      if (term.includes(':') && !/^[a-z]+:/.test(term)) { const q = p; p = (i) => q(i) || (S[C.client[i]] + ':' + C.cport[i]).includes(term); }
    }
    preds.push(neg ? (i) => !p(i) : p);
  }
  return preds;
}
function applyFilter(text) {
  filterText = text;
  const preds = compile(text);
  if (!preds.length) view = order;
  else {
    const out = new Uint32Array(N); let n = 0;
    outer: for (let j = 0; j < N; j++) { const i = order[j]; for (const p of preds) if (!p(i)) continue outer; out[n++] = i; }
    view = out.subarray(0, n);
  }
  countEl.textContent = view.length.toLocaleString('en') + ' of ' + N.toLocaleString('en') + ' attempts' +
    (A.total > N ? ' embedded (' + A.total.toLocaleString('en') + ' in the input; see the note at the top)' : '');
  countEl.dataset.rows = view.length;
  sizer.style.height = view.length * ROW + 'px';
  body.scrollTop = 0;
  renderRows();
}
function setFilter(text) {
  filterInput.value = text; applyFilter(text);
  document.getElementById('attempts').scrollIntoView({ behavior: 'smooth' });
}
function sortBy(key) {
  const c = COLS.find((x) => x.key === key);
  if (sortKey === key) sortDir = -sortDir; else { sortKey = key; sortDir = 1; }
  let keyOf;
  if (c.num) keyOf = c.get;
  else {  // strings: rank of each distinct string
    const ids = [...S.keys()].sort((a, b) => (S[a] < S[b] ? -1 : S[a] > S[b] ? 1 : 0));
    const rank = new Uint32Array(S.length); ids.forEach((id, r) => { rank[id] = r; });
    const arr = C[c.str];
    keyOf = c.key === 'client' ? (i) => rank[arr[i]] * 65536 + C.cport[i] : (i) => rank[arr[i]];
  }
  const keys = new Float64Array(N); for (let i = 0; i < N; i++) keys[i] = keyOf(i);
  const idx = Array.from({ length: N }, (_, i) => i);
  idx.sort((a, b) => (keys[a] - keys[b]) * sortDir || (C.id[a] - C.id[b]));
  order = Uint32Array.from(idx);
  for (const h of grid.querySelectorAll('.head div')) h.className = h.dataset.key === key ? (sortDir > 0 ? 'sorted-asc' : 'sorted-desc') : '';
  applyFilter(filterText);
}
function showRow(i) {
  selected = i;
  let syns = [];
  for (let k = C.synoff[i]; k < C.synoff[i + 1]; k++) { const v = C.synt[k]; syns.push(clock(C.start[i] + Math.floor(v / 2), 6) + ((v % 2) ? '' : ' (no answer)')); }
  const more = C.syns[i] > syns.length ? ' … ' + (C.syns[i] - syns.length) + ' more' : '';
  detail.className = '';
  detail.textContent = rowText(i).replace(/\n/g, ' · ') + ' · SYNs at ' + syns.join(', ') + more +
    (C.ansk[i] ? ' · answered (' + ['', 'SYN-ACK', 'RST', 'ICMP', 'cookie SYN-ACK'][C.ansk[i]] + ') at ' + clock(C.ans[i], 6) : '');
  renderRows();
}
function showAttempt(id) {
  setFilter('id:' + id);
  const i = rowOfId.get(id);
  if (i != null) showRow(i);
}

tsSection();
timelineSection();
queueSection();
tableSection();
// Draw everything once before reporting ready, so that "ready" means the pictures are on screen.
requestAnimationFrame(() => {
  api.ready = true;
  api.readyMs = performance.now();
  api.buildMs = performance.now() - started;
  api.rows = () => view.length;
  api.filter = (t) => { filterInput.value = t; applyFilter(t); return view.length; };
  document.body.dataset.ready = '1';
});
})();
)JS";
}

}  // namespace synscope::report
