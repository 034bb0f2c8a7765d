// Opens a synscope HTML report in real headless Chromium and reports, as one JSON object on stdout,
// what a person would see: console errors, network requests, load time, whether each plot drew
// something, the table's row counts before and after typing a filter, and screenshots.
//
//   node browser_check.mjs --html FILE --out DIR
//        [--filter TEXT] [--sort COLUMN] [--zoom WHEEL-STEPS] [--screenshot NAME] [--shot-height PX] [--width PX]
//        [--browser /usr/bin/chromium]
//
// No npm dependency: Chromium's DevTools protocol over --remote-debugging-pipe (NUL-separated JSON
// on file descriptors 3 and 4), so no port is opened. As root the browser runs in a network
// namespace of its own (unshare -n): the page provably reaches nothing, and Chromium's own background
// lookups (update checks) cannot leave the machine or show up in another test's tcpdump. Exit status
// 0 when the JSON was printed, 1 when the browser could not be driven (the reason on stderr).
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const args = {};
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
if (!args.html || !args.out) {
  console.error('usage: browser_check.mjs --html FILE --out DIR [--filter TEXT] [--screenshot NAME] [--width PX]');
  process.exit(2);
}
const browser = args.browser || '/usr/bin/chromium';
const width = +(args.width || 1400);
const profile = mkdtempSync(join(tmpdir(), 'synscope-chromium-'));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function launch() {
  const flags = ['--headless=new', '--no-sandbox', '--disable-gpu', '--remote-debugging-pipe', `--user-data-dir=${profile}`,
    '--no-first-run', '--no-default-browser-check', '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--disable-extensions', '--disable-default-apps', '--no-pings', '--mute-audio',
    // Belt and braces where no namespace can be had: no host name resolves.
    '--host-resolver-rules=MAP * ~NOTFOUND', `--window-size=${width},900`, 'about:blank'];
  const isolate = process.getuid && process.getuid() === 0 && existsSync('/usr/bin/unshare') && !args['no-netns'];
  const [cmd, argv] = isolate ? ['/usr/bin/unshare', ['--net', browser, ...flags]] : [browser, flags];
  // Its own process group (detached), so that the whole browser can be ended below.
  const proc = spawn(cmd, argv, { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'], detached: true });
  let err = '';
  proc.stderr.on('data', (d) => { err = (err + d).slice(-2000); });
  proc.on('error', () => {});
  return { proc, isolated: isolate, stderr: () => err };
}

// The DevTools protocol on the pipe: requests to fd 3, responses and events from fd 4.
class Cdp {
  constructor(chrome) {
    this.chrome = chrome;
    this.next = 1;
    this.pending = new Map();
    this.handlers = [];
    this.buf = '';
    chrome.proc.stdio[4].setEncoding('utf8');
    chrome.proc.stdio[4].on('data', (d) => {
      this.buf += d;
      for (let at = this.buf.indexOf('\0'); at >= 0; at = this.buf.indexOf('\0')) {
        const msg = JSON.parse(this.buf.slice(0, at));
        this.buf = this.buf.slice(at + 1);
        if (msg.id && this.pending.has(msg.id)) {
          const { ok, fail } = this.pending.get(msg.id);
          this.pending.delete(msg.id);
          if (msg.error) fail(new Error(msg.error.message)); else ok(msg.result);
        } else if (msg.method) {
          for (const h of this.handlers) h(msg);
        }
      }
    });
    chrome.proc.on('exit', (code) => {
      for (const { fail } of this.pending.values()) fail(new Error(`chromium exited (${code}): ${chrome.stderr().slice(-500)}`));
      this.pending.clear();
    });
  }
  send(method, params = {}, sessionId) {
    const id = this.next++;
    this.chrome.proc.stdio[3].write(JSON.stringify({ id, method, params, sessionId }) + '\0');
    return new Promise((ok, fail) => this.pending.set(id, { ok, fail }));
  }
}

const out = { consoleErrors: [], requests: [], screenshots: [] };
let chrome;
try {
  chrome = launch();
  out.isolated = chrome.isolated;
  const cdp = new Cdp(chrome);
  const { targetId } = await Promise.race([cdp.send('Target.createTarget', { url: 'about:blank' }),
    sleep(30000).then(() => { throw new Error('chromium did not answer within 30 s: ' + chrome.stderr().slice(-500)); })]);
  const { sessionId } = await cdp.send('Target.attachToTarget', { targetId, flatten: true });
  const s = (m, p) => cdp.send(m, p, sessionId);
  const pageUrl = 'file://' + resolve(args.html);
  let loadFired = false;
  cdp.handlers.push((msg) => {
    if (msg.sessionId !== sessionId) return;
    const p = msg.params;
    if (msg.method === 'Runtime.consoleAPICalled' && (p.type === 'error' || p.type === 'assert'))
      out.consoleErrors.push(p.args.map((a) => a.value ?? a.description ?? '').join(' '));
    if (msg.method === 'Runtime.exceptionThrown')
      out.consoleErrors.push('exception: ' + (p.exceptionDetails.exception?.description || p.exceptionDetails.text));
    if (msg.method === 'Log.entryAdded' && p.entry.level === 'error') out.consoleErrors.push('log: ' + p.entry.text);
    // Anything but the report itself is a request the page should not make.
    if (msg.method === 'Network.requestWillBeSent' && p.request.url !== pageUrl && !p.request.url.startsWith('data:'))
      out.requests.push(p.request.url);
    if (msg.method === 'Page.loadEventFired') loadFired = true;
  });
  await s('Runtime.enable');
  await s('Log.enable');
  await s('Network.enable');
  await s('Page.enable');
  await s('Emulation.setDeviceMetricsOverride', { width, height: 900, deviceScaleFactor: 1, mobile: false });
  const evaluate = async (expr) => {
    const r = await s('Runtime.evaluate', { expression: expr, returnByValue: true, awaitPromise: true });
    if (r.exceptionDetails) throw new Error('evaluate failed: ' + (r.exceptionDetails.exception?.description || r.exceptionDetails.text));
    return r.result.value;
  };

  const t0 = Date.now();
  await s('Page.navigate', { url: pageUrl });
  const deadline = t0 + 60000;
  while (Date.now() < deadline) {
    if (loadFired && (await evaluate('!!(window.synscope && window.synscope.ready)'))) break;
    await sleep(20);
  }
  out.driverMs = Date.now() - t0;
  out.ready = await evaluate('!!(window.synscope && window.synscope.ready)');
  // In-page times from the navigation's start: when the load event ended and when the report was drawn.
  out.loadEventMs = await evaluate("(performance.getEntriesByType('navigation')[0] || {}).loadEventEnd || -1");
  out.readyMs = await evaluate('window.synscope ? window.synscope.readyMs : -1');
  out.buildMs = await evaluate('window.synscope ? window.synscope.buildMs : -1');
  out.fileBytes = await evaluate("(performance.getEntriesByType('navigation')[0] || {}).decodedBodySize || -1");

  // What is on the page: each canvas, and whether it has drawn pixels (not blank, not one colour).
  out.dom = await evaluate(`(() => {
    const canvases = [...document.querySelectorAll('canvas')].map((c) => {
      const box = c.closest('.plotbox');
      const ctx = c.getContext('2d');
      const d = ctx.getImageData(0, 0, c.width, c.height).data;
      let painted = 0, colours = new Set();
      for (let i = 0; i < d.length; i += 4 * 7) {
        if (d[i + 3] > 0 && !(d[i] > 250 && d[i + 1] > 250 && d[i + 2] > 250)) painted++;
        if (colours.size < 64) colours.add(d[i] << 16 | d[i + 1] << 8 | d[i + 2]);
      }
      return { id: box ? (box.id || box.className) : '', width: c.width, height: c.height, painted, colours: colours.size };
    });
    const count = document.getElementById('table-count');
    return {
      title: document.title,
      canvases,
      tsLegend: document.querySelectorAll('#ts-legend span').length,
      tsStory: (document.getElementById('ts-story') || {}).textContent || '',
      timelineMode: (document.getElementById('tl-mode') || {}).textContent || '',
      findings: document.querySelectorAll('#findings .finding').length,
      findingLinks: document.querySelectorAll('#findings .finding-link').length,
      counters: document.querySelectorAll('#counters tr').length,
      queuePlots: document.querySelectorAll('.queue-plot').length,
      rowsShown: [...document.querySelectorAll('#grid .row')].filter((r) => r.style.display !== 'none').length,
      tableRows: count ? +count.dataset.rows : -1,
      tableCount: count ? count.textContent : '',
      notes: [...document.querySelectorAll('.note')].map((n) => n.textContent),
    };
  })()`);

  if (args.screenshot) {
    const shot = async (name) => {
      let h = await evaluate('Math.ceil(document.documentElement.scrollHeight)');
      if (args['shot-height']) h = Math.min(h, +args['shot-height']);  // the top of the page only
      const r = await s('Page.captureScreenshot', { format: 'png', captureBeyondViewport: true, clip: { x: 0, y: 0, width, height: h, scale: 1 } });
      const file = join(args.out, name);
      writeFileSync(file, Buffer.from(r.data, 'base64'));
      out.screenshots.push(file);
    };
    await shot(args.screenshot + '.png');
  }

  if (args.filter !== undefined) {
    // Type the filter like a person: focus the box, insert the text (fires input events), wait for
    // the debounce, read the count the page shows.
    out.filterBefore = await evaluate("+document.getElementById('table-count').dataset.rows");
    await evaluate("document.getElementById('filter').focus()");
    await s('Input.insertText', { text: args.filter });
    const until = Date.now() + 10000;
    let rows = out.filterBefore;
    while (Date.now() < until) {
      await sleep(50);
      const v = await evaluate("document.getElementById('filter').value");
      rows = await evaluate("+document.getElementById('table-count').dataset.rows");
      if (v === args.filter && rows !== out.filterBefore) break;
    }
    await sleep(300);  // past the debounce for certain, whatever the count did
    out.filterRows = await evaluate("+document.getElementById('table-count').dataset.rows");
    out.filterShown = await evaluate("[...document.querySelectorAll('#grid .row')].filter((r) => r.style.display !== 'none').map((r) => [...r.children].map((c) => c.textContent).join('|')).slice(0, 50)");
    if (args.screenshot) {
      await evaluate("document.getElementById('attempts').scrollIntoView()");
      const r = await s('Page.captureScreenshot', { format: 'png' });
      const file = join(args.out, args.screenshot + '-filtered.png');
      writeFileSync(file, Buffer.from(r.data, 'base64'));
      out.screenshots.push(file);
    }
  }
  if (args.zoom) {
    // Wheel over the middle of the timeline like a person zooming in, then read what it says it draws.
    out.zoom = { before: await evaluate("document.getElementById('tl-mode').textContent") };
    await evaluate("document.querySelector('#tl-plot canvas').scrollIntoView({ block: 'center' })");
    const pos = await evaluate("(() => { const r = document.querySelector('#tl-plot canvas').getBoundingClientRect(); return [r.left + r.width * 0.55, r.top + r.height / 2]; })()");
    for (let i = 0; i < +args.zoom; i++)
      await s('Input.dispatchMouseEvent', { type: 'mouseWheel', x: pos[0], y: pos[1], deltaX: 0, deltaY: -100 });
    await sleep(300);
    out.zoom.after = await evaluate("document.getElementById('tl-mode').textContent");
    if (args.screenshot) {
      const r = await s('Page.captureScreenshot', { format: 'png' });
      const file = join(args.out, args.screenshot + '-zoomed.png');
      writeFileSync(file, Buffer.from(r.data, 'base64'));
      out.screenshots.push(file);
    }
  }
  if (args.sort) {
    // Click the column's title twice (ascending, then descending) and read the first row each time.
    const firstRow = "[...document.querySelectorAll('#grid .row')].filter((r) => r.style.display !== 'none').sort((a, b) => parseFloat(a.style.top) - parseFloat(b.style.top)).map((r) => [...r.children].map((c) => c.textContent))[0] || null";
    out.sort = {};
    for (const dir of ['asc', 'desc']) {
      await evaluate(`document.querySelector('#grid .head div[data-key="${args.sort}"]').click()`);
      out.sort[dir] = await evaluate(firstRow);
    }
    out.sort.columns = await evaluate("[...document.querySelectorAll('#grid .head div')].map((d) => d.dataset.key)");
  }
  // Clicking a finding's link must filter the table to its attempts.
  out.findingClick = await evaluate(`(() => {
    const a = document.querySelector('#findings .finding-link');
    if (!a) return null;
    a.click();
    return { filter: document.getElementById('filter').value, rows: +document.getElementById('table-count').dataset.rows };
  })()`);
  process.stdout.write(JSON.stringify(out) + '\n');
  await Promise.race([cdp.send('Browser.close').catch(() => {}), sleep(2000)]);
} catch (e) {
  console.error('browser_check: ' + e.message);
  process.exitCode = 1;
} finally {
  if (chrome) {
    // Chromium's helper processes outlive the browser process for a moment and keep writing to the
    // profile: end the whole process group we started, wait for it, then remove the profile.
    const exited = new Promise((ok) => chrome.proc.exitCode !== null || chrome.proc.signalCode !== null ? ok() : chrome.proc.once('exit', ok));
    try { process.kill(-chrome.proc.pid, 'SIGKILL'); } catch { /* already gone */ }
    await Promise.race([exited, sleep(3000)]);
    await sleep(200);
  }
  try { rmSync(profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 }); }
  catch (e) { console.error('browser_check: could not remove ' + profile + ': ' + e.message); }
}
