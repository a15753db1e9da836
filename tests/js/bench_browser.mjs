// Browser benchmark (not a test; issue 14): the upload page in Chromium against our CLI, in the
// same run, on loopback: one file of BENCH_MIB MiB (default 1024), and a frame folder of
// BENCH_FILES × 64 KiB (default 5,000) with its checksum.txt as one package. The page's time runs
// from choosing the files to delivered (reading the folder included), the CLI's is the whole
// command. Best of BENCH_ROUNDS (default 2). Run by scripts/bench_browser.sh.
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deliverFromPage, launchChromium, makeFile, signedIn } from './bench_common.mjs';
import { demoPassword, startHub, stopHub } from './hub.mjs';

const BIN = process.env.CONTENTHUB_TEST_BIN;
if (!BIN) throw new Error('set CONTENTHUB_TEST_BIN (a release build)');
const MIB = Number(process.env.BENCH_MIB || 1024);
const FILES = Number(process.env.BENCH_FILES || 5000);
const ROUNDS = Number(process.env.BENCH_ROUNDS || 2);
const work = mkdtempSync(join(process.env.BENCH_DIR || tmpdir(), 'contenthub-browser-'));

function makeFolder() {
  const folder = join(work, 'r1_bench_frames');
  mkdirSync(folder);
  const lines = [];
  for (let i = 0; i < FILES; i++) {
    const name = `r1.${String(86400 + i).padStart(7, '0')}.dpx`;
    const bytes = randomBytes(64 << 10);
    writeFileSync(join(folder, name), bytes);
    lines.push(`${name}\t${bytes.length}\tmd5\t${createHash('md5').update(bytes).digest('hex')}\n`);
  }
  writeFileSync(join(folder, 'checksum.txt'), lines.join(''));
  return folder;
}

/// A fresh hub (no worker: validation is not timed); runs `body(hub, data dir)`.
async function onFreshHub(body) {
  const dataDir = join(work, `hub-${Date.now()}`);
  const hub = await startHub(BIN, dataDir, ['--workers', '0']);
  try {
    return await body(hub, dataDir);
  } finally {
    await stopHub(hub);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const META = { 'Shoot day *': '2026-11-30' };

function cli(path) {
  return onFreshHub(async (hub, dataDir) => {
    const home = join(work, `home-${Date.now()}`);
    const env = { ...process.env, CONTENTHUB_HOME: home };
    const token = execFileSync(BIN, ['admin', 'create-token', 'lab', '--data-dir', dataDir], { stdio: ['ignore', 'pipe', 'ignore'] })
      .toString().trim();
    execFileSync(BIN, ['login', hub.base, '--token', token], { env, stdio: 'ignore' });
    const start = Date.now();
    execFileSync(BIN, ['upload', '--project', '1', '--bucket', 'dailies-bins', '--meta', 'shoot_day=2026-11-30', '--json', path],
      { env, stdio: ['ignore', 'ignore', 'inherit'], maxBuffer: 1 << 26 });
    rmSync(home, { recursive: true, force: true });
    return Date.now() - start;
  });
}

function page(path, folder) {
  return onFreshHub(async (hub) => {
    const browser = await launchChromium(work);
    try {
      const at = await signedIn(browser, hub, 'lab', demoPassword(hub, 'lab'), '/projects/1/buckets/dailies-bins/upload');
      return await deliverFromPage(at, path, { folder, fields: META });
    } finally {
      await browser.close();
    }
  });
}

async function best(run) {
  const times = [];
  for (let i = 0; i < ROUNDS; i++) times.push(await run());
  return { best: Math.min(...times), times };
}

console.log(`writing a ${MIB} MiB file and ${FILES} files of 64 KiB in ${work}`);
const file = makeFile(join(work, 'r1_bench.bin'), MIB);
const folder = makeFolder();
const results = [
  ['CLI, one file', await best(() => cli(file))],
  ['Chromium, one file', await best(() => page(file, false))],
  ['CLI, the package', await best(() => cli(folder))],
  ['Chromium, the package', await best(() => page(folder, true))],
];
rmSync(work, { recursive: true, force: true });
const by = Object.fromEntries(results);
for (const [name, r] of results) {
  console.log(`${name.padEnd(24)} ${(r.best / 1000).toFixed(2).padStart(7)} s  (rounds: ${r.times.map((t) => (t / 1000).toFixed(2)).join(', ')} s)`);
}
const rate = (ms) => MIB / (ms / 1000);
console.log(`\non loopback, upload + DELIVER:`);
console.log(`  one ${MIB} MiB file: Chromium ${rate(by['Chromium, one file'].best).toFixed(0)} MiB/s, CLI ${rate(by['CLI, one file'].best).toFixed(0)} MiB/s`
  + ` = ${(100 * by['CLI, one file'].best / by['Chromium, one file'].best).toFixed(0)}% of the CLI's rate (goal: ≥ 60%)`);
console.log(`  ${FILES} × 64 KiB package: Chromium / CLI = ${(by['Chromium, the package'].best / by['CLI, the package'].best).toFixed(2)}× the time (goal: ≤ 1.5)`);
