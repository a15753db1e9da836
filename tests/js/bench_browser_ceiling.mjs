// Ceiling benchmark (not a test): how fast can Chromium itself upload a picked file on loopback,
// with no hub in the way? A bare Node `http` sink on 127.0.0.1 discards and counts the bytes; the
// page times, in-page, five ways of sending one BENCH_MIB MiB file (default 1024): one fetch PUT
// of the whole File, sequential fetch PATCHes of 8 MiB and of 64 MiB slices, 4 parallel streams
// of 16 MiB slices (a quarter each), and XMLHttpRequest with 64 MiB slices. For each it prints
// MiB/s and the CPU-seconds per GiB spent by all Chromium processes (this node process's
// descendants, from /proc; also split by --type) and by this node process (the sink; Playwright
// sits idle meanwhile), and the sink's mean bytes per 'data' event (how Chromium writes).
// Run: node tests/js/bench_browser_ceiling.mjs   (BENCH_DIR for the temp dir, BENCH_MIB for size)
import { createServer } from 'node:http';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launchChromium, makeFile } from './bench_common.mjs';

const MIB = Number(process.env.BENCH_MIB || 1024);
const SIZE = MIB * 2 ** 20;
const TICK = 100; // USER_HZ (getconf CLK_TCK) on Linux
const work = mkdtempSync(join(process.env.BENCH_DIR || tmpdir(), 'contenthub-ceiling-'));

// The sink: GET / is the page, anything at /sink is counted and dropped.
let received = 0;
let chunks = 0;
const server = createServer((req, res) => {
  if (req.url === '/') {
    res.writeHead(200, { 'Content-Type': 'text/html' });
    return res.end('<!doctype html><title>ceiling</title><input type=file id=f>');
  }
  req.on('data', (c) => { received += c.length; chunks++; });
  req.on('end', () => { res.writeHead(204); res.end(); });
});
server.requestTimeout = 0;
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const base = `http://127.0.0.1:${server.address().port}`;

// utime+stime ticks of every descendant of this process (Chromium and its helpers), by pid.
function descendantTicks() {
  const parent = new Map();
  const ticks = new Map();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let stat;
    try { stat = readFileSync(`/proc/${name}/stat`, 'utf8'); } catch { continue; }
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // f[0] is field 3 (state)
    parent.set(Number(name), Number(f[1]));
    ticks.set(Number(name), Number(f[11]) + Number(f[12]));
  }
  const out = new Map();
  for (const [pid, t] of ticks) {
    for (let p = parent.get(pid); p; p = parent.get(p)) if (p === process.pid) { out.set(pid, t); break; }
  }
  return out;
}

// Polls while `run` goes, so processes that exit mid-run still count up to their last sample.
async function withCpu(run) {
  const before = descendantTicks();
  const last = new Map(before);
  const poll = setInterval(() => { for (const [p, t] of descendantTicks()) last.set(p, t); }, 200);
  const node0 = process.cpuUsage();
  const result = await run();
  const node = process.cpuUsage(node0);
  clearInterval(poll);
  for (const [p, t] of descendantTicks()) last.set(p, t);
  let chromeTicks = 0;
  const byType = {}; // Chromium's process types: browser, renderer, utility (network), …
  for (const [p, t] of last) {
    chromeTicks += t - (before.get(p) ?? 0);
    let type = 'other';
    try { type = (readFileSync(`/proc/${p}/cmdline`, 'utf8').match(/--type=([a-z-]+)/) || [, 'browser'])[1]; } catch {}
    byType[type] = (byType[type] || 0) + (t - (before.get(p) ?? 0)) / TICK;
  }
  return { ...result, chrome: chromeTicks / TICK, byType, sink: (node.user + node.system) / 1e6 };
}

// Runs in the page: sends the picked file by `variant`, returns the milliseconds it took.
async function inPage(variant) {
  const file = document.getElementById('f').files[0];
  const M = 2 ** 20;
  const put = async (blob, method) => {
    const r = await fetch('/sink', { method, body: blob });
    if (r.status !== 204) throw new Error(`status ${r.status}`);
  };
  const slices = async (from, to, step, send) => {
    for (let at = from; at < to; at += step) await send(file.slice(at, Math.min(at + step, to)));
  };
  const xhr = (blob) => new Promise((resolve, reject) => {
    const x = new XMLHttpRequest();
    x.open('PATCH', '/sink');
    x.onload = () => (x.status === 204 ? resolve() : reject(new Error(`status ${x.status}`)));
    x.onerror = () => reject(new Error('xhr error'));
    x.send(blob);
  });
  const start = performance.now();
  if (variant === 'put') await put(file, 'PUT');
  else if (variant === 'patch8') await slices(0, file.size, 8 * M, (b) => put(b, 'PATCH'));
  else if (variant === 'patch64') await slices(0, file.size, 64 * M, (b) => put(b, 'PATCH'));
  else if (variant === 'par4x16') {
    const q = Math.ceil(file.size / 4);
    await Promise.all([0, 1, 2, 3].map((i) =>
      slices(i * q, Math.min((i + 1) * q, file.size), 16 * M, (b) => put(b, 'PATCH'))));
  } else if (variant === 'xhr64') await slices(0, file.size, 64 * M, xhr);
  else throw new Error(variant);
  return performance.now() - start;
}

const VARIANTS = [
  ['put', 'fetch PUT, whole File'],
  ['patch8', 'fetch PATCH, 8 MiB slices'],
  ['patch64', 'fetch PATCH, 64 MiB slices'],
  ['par4x16', '4 × fetch PATCH, 16 MiB'],
  ['xhr64', 'XHR PATCH, 64 MiB slices'],
];

console.log(`writing a ${MIB} MiB file in ${work}`);
const path = makeFile(join(work, 'ceiling.bin'), MIB);
const browser = await launchChromium(work);
const rows = [];
try {
  const page = await browser.newPage();
  await page.goto(base);
  await page.locator('#f').setInputFiles(path, { timeout: 600000 });
  for (const [variant, label] of VARIANTS) {
    received = 0;
    chunks = 0;
    const r = await withCpu(async () => ({ ms: await page.evaluate(inPage, variant) }));
    if (received !== SIZE) throw new Error(`${variant}: the sink got ${received} bytes, not ${SIZE}`);
    const gib = SIZE / 2 ** 30;
    rows.push([label, MIB / (r.ms / 1000), r.chrome / gib, r.sink / gib, received / chunks / 1024]);
    const types = Object.entries(r.byType).map(([t, s]) => `${t} ${(s / gib).toFixed(2)}`).join(', ');
    console.log(`  ${label}: Chromium CPU-s/GiB by process type: ${types}`);
  }
} finally {
  await browser.close();
  server.close();
  rmSync(work, { recursive: true, force: true });
}

console.log(`\n${'variant'.padEnd(28)} ${'MiB/s'.padStart(7)}  ${'Chromium CPU-s/GiB'.padStart(18)}  ${'sink CPU-s/GiB'.padStart(14)}  ${'KiB/read'.padStart(8)}`);
for (const [label, rate, chrome, sink, kib] of rows) {
  console.log(`${label.padEnd(28)} ${rate.toFixed(0).padStart(7)}  ${chrome.toFixed(2).padStart(18)}  ${sink.toFixed(2).padStart(14)}  ${kib.toFixed(1).padStart(8)}`);
}
