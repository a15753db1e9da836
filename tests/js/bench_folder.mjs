// Folder benchmark (not a test): how long the upload page keeps Chromium's main thread busy when a
// frame folder of BENCH_FRAMES frames (default 30,000, plus its checksum.txt) is picked with the
// folder chooser or dropped onto the page, against the same page handling a folder of
// BENCH_BASE_FRAMES frames (default 300) in the same run, as the baseline. Each is measured
// BENCH_ROUNDS times (default 3) in a fresh tab; the medians and the ratios big / baseline are
// printed. Nothing is asserted: the browser tests check that such a folder works, this measures it.
//   CONTENTHUB_TEST_BIN=target/debug/contenthub node tests/js/bench_folder.mjs
//
// What is measured, in the page (performance.now()):
//   handler   the page's change handler for a pick, up to its first yield (contenthub:picked to
//             contenthub:yielded marks in upload.js); Chromium's own chooser work before it is not
//             the page's and is left out;
//   gap       the longest time between two animation frames while the page reads the folder (from
//             its first yield, or from the drop): how long the page could not draw or answer;
//   longtask  the longest task the Long Tasks API reports in that time (it reports only tasks of
//             50 ms or more: 0 means none);
//   read      from the pick (first yield) or the drop until the one package row is on the page.
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { startHub, stopHub, demoPassword } from './hub.mjs';

const BIN = process.env.CONTENTHUB_TEST_BIN;
if (!BIN) throw new Error('set CONTENTHUB_TEST_BIN to the contenthub binary');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const FRAMES = Number(process.env.BENCH_FRAMES || 30000);
const BASE_FRAMES = Number(process.env.BENCH_BASE_FRAMES || 300);
const ROUNDS = Number(process.env.BENCH_ROUNDS || 3);

/// A flat frame folder with its checksum.txt in npack's format.
function frameFolder(root, name, frames, bytes = 16) {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  const lines = [];
  for (let i = 0; i < frames; i++) {
    const file = `${name}.${String(86400 + i).padStart(7, '0')}.dpx`;
    const data = Buffer.alloc(bytes, i % 251);
    writeFileSync(join(dir, file), data);
    lines.push(`${file}\t${bytes}\tmd5\t${createHash('md5').update(data).digest('hex')}\n`);
  }
  lines.sort();
  writeFileSync(join(dir, 'checksum.txt'), lines.join(''));
  return dir;
}

// In every page, before its own scripts: the long tasks and the time of every animation frame.
function observe() {
  window.__longTasks = [];
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) window.__longTasks.push({ start: entry.startTime, duration: entry.duration });
  }).observe({ type: 'longtask', buffered: true });
  window.__frames = [];
  const frame = (at) => { window.__frames.push(at); requestAnimationFrame(frame); };
  requestAnimationFrame(frame);
}

// The figures for what happened in the page between `from` (a mark's name) and now.
function figures(from) {
  const start = performance.getEntriesByName(from)[0].startTime;
  const end = performance.now();
  const frames = window.__frames;
  let gap = 0;
  for (let i = 1; i < frames.length; i++) {
    if (frames[i] > start && frames[i - 1] < end) gap = Math.max(gap, frames[i] - Math.max(frames[i - 1], start));
  }
  const tasks = window.__longTasks.filter((t) => t.start >= start).map((t) => t.duration);
  return { gap, longtask: Math.max(0, ...tasks), read: end - start };
}

async function pick(context, url, folder, files) {
  const page = await context.newPage();
  await page.goto(url);
  await page.locator('#pick-folder').setInputFiles(folder);
  await page.getByText(`package · ${files} files`).waitFor({ timeout: 300000 });
  const result = await page.evaluate(figures, 'contenthub:yielded');
  const picked = await page.evaluate(() =>
    performance.getEntriesByName('contenthub:yielded')[0].startTime - performance.getEntriesByName('contenthub:picked')[0].startTime);
  await page.close();
  return { handler: picked, ...result };
}

async function drop(context, url, folder, files) {
  const page = await context.newPage();
  await page.goto(url);
  const box = await page.locator('#drop').boundingBox();
  const at = { x: box.x + box.width / 2, y: box.y + box.height / 2 };
  const cdp = await context.newCDPSession(page);
  const data = { items: [], files: [folder], dragOperationsMask: 1 };
  await page.evaluate(() => performance.mark('bench:drop'));
  for (const type of ['dragEnter', 'dragOver', 'drop']) await cdp.send('Input.dispatchDragEvent', { type, ...at, data });
  await cdp.detach();
  await page.getByText(`package · ${files} files`).waitFor({ timeout: 300000 });
  const result = await page.evaluate(figures, 'bench:drop');
  await page.close();
  return result;
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

const work = mkdtempSync(join(tmpdir(), 'contenthub-bench-folder-'));
const hub = await startHub(BIN, join(work, 'hub'));
const context = await chromium.launchPersistentContext(join(work, 'profile'), {
  executablePath: CHROMIUM,
  headless: true,
  viewport: { width: 1280, height: 800 },
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  console.log(`writing folders of ${BASE_FRAMES} and ${FRAMES} frames in ${work}`);
  const folders = {
    baseline: { dir: frameFolder(work, 'r1_small', BASE_FRAMES), files: BASE_FRAMES + 1 },
    big: { dir: frameFolder(work, 'r1_frames', FRAMES), files: FRAMES + 1 },
  };
  await context.addInitScript(observe);
  const signIn = await context.newPage();
  const url = `${hub.base}/projects/1/buckets/picture-deliverables/upload`;
  await signIn.goto(`${hub.base}/login?next=${encodeURIComponent(new URL(url).pathname)}`);
  await signIn.getByLabel('User name').fill('lab');
  await signIn.getByLabel('Password').fill(demoPassword(hub, 'lab'));
  await signIn.getByRole('button', { name: 'Sign in' }).click();
  await signIn.waitForURL(url);
  await signIn.close();

  const runs = { pick: { baseline: [], big: [] }, drop: { baseline: [], big: [] } };
  for (let round = 1; round <= ROUNDS; round++) {
    // The baseline and the big folder alternate, so that both see the same machine.
    for (const size of ['baseline', 'big']) {
      const { dir, files } = folders[size];
      const picked = await pick(context, url, dir, files);
      const dropped = await drop(context, url, dir, files);
      runs.pick[size].push(picked);
      runs.drop[size].push(dropped);
      const ms = (r) => Object.entries(r).map(([k, v]) => `${k} ${v.toFixed(1)} ms`).join(', ');
      console.log(`round ${round}, ${files} files: pick: ${ms(picked)}; drop: ${ms(dropped)}`);
    }
  }

  const { baseline, big } = folders;
  console.log(`\nthe upload page, median of ${ROUNDS}: a folder of ${big.files} files against ${baseline.files} files (baseline)`);
  console.log(`${'what'.padEnd(34)}${'baseline'.padStart(12)}${'big'.padStart(12)}${'big/baseline'.padStart(14)}`);
  const row = (label, base, value) => {
    const ratio = base > 0 ? `${(value / base).toFixed(1)}×` : 'n/a';
    console.log(`${label.padEnd(34)}${base.toFixed(1).padStart(12)}${value.toFixed(1).padStart(12)}${ratio.padStart(14)}`);
  };
  for (const how of ['pick', 'drop']) {
    const metrics = how === 'pick' ? ['handler', 'gap', 'longtask', 'read'] : ['gap', 'longtask', 'read'];
    for (const metric of metrics) {
      row(`${how}: ${metric} (ms)`, median(runs[how].baseline.map((r) => r[metric])), median(runs[how].big.map((r) => r[metric])));
    }
  }
  const scale = big.files / baseline.files;
  console.log(`(${scale.toFixed(0)}× the files; a read ratio near ${scale.toFixed(0)}× is linear, a gap ratio near 1× means the`);
  console.log(' page stays as responsive with the big folder as with the small one; longtask 0 = no task of 50 ms or more)');
} finally {
  await context.close();
  await stopHub(hub);
  rmSync(work, { recursive: true, force: true });
}
