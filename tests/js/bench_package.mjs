// Package benchmark (not a test; issue 14): a frame folder of BENCH_FILES files of BENCH_KIB KiB
// (default 20,000 × 64 KiB) with its checksum.txt, delivered by our CLI as a zipless package
// (upload + DELIVER; validation is left out: the hub runs no worker), against the same bytes as
// one file, in the same run. With BENCH_RTT_MS (e.g. 100) both go through the `delayline` proxy
// (BENCH_WINDOW_KIB in flight per connection, default 4096), and one tus-js-client stream of the
// same bytes is the baseline, as the issue asks. BENCH_OLD_BIN: an older contenthub binary (e.g.
// built from 14e672c, one upload per file) whose package time is printed beside ours. BENCH_ROUNDS:
// rounds per client (best kept).
// Run by scripts/bench_package.sh.
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { oneTusStream as oneStream, startLine } from './bench_common.mjs';
import { startHub, stopHub } from './hub.mjs';

const BIN = process.env.CONTENTHUB_TEST_BIN;
const DELAYLINE = process.env.DELAYLINE_BIN;
const OLD = process.env.BENCH_OLD_BIN;
if (!BIN) throw new Error('set CONTENTHUB_TEST_BIN (a release build)');
const FILES = Number(process.env.BENCH_FILES || 20000);
const KIB = Number(process.env.BENCH_KIB || 64);
const RTT = Number(process.env.BENCH_RTT_MS || 0);
const WINDOW = Number(process.env.BENCH_WINDOW_KIB || 4096);
if (RTT && !DELAYLINE) throw new Error('BENCH_RTT_MS needs DELAYLINE_BIN');
const work = mkdtempSync(join(process.env.BENCH_DIR || tmpdir(), 'contenthub-package-'));
const seconds = (start) => Number(process.hrtime.bigint() - start) / 1e9;

/// The folder (random frames and their checksum.txt) and one file of the same bytes.
function makeFolder() {
  const folder = join(work, 'r1_bench_frames');
  mkdirSync(folder);
  const whole = openSync(join(work, 'r1_bench_frames.bin'), 'w');
  const lines = [];
  for (let i = 0; i < FILES; i++) {
    const name = `r1.${String(86400 + i).padStart(7, '0')}.dpx`;
    const bytes = randomBytes(KIB * 1024);
    writeFileSync(join(folder, name), bytes);
    writeSync(whole, bytes);
    lines.push(`${name}\t${bytes.length}\tmd5\t${createHash('md5').update(bytes).digest('hex')}\n`);
  }
  const manifest = Buffer.from(lines.join(''));
  writeFileSync(join(folder, 'checksum.txt'), manifest);
  writeSync(whole, manifest);
  closeSync(whole);
  return { folder, whole: join(work, 'r1_bench_frames.bin') };
}


/// A fresh hub (no worker: validation is not timed), behind the delay line when asked; runs
/// `body(base, data dir)` and returns what it returns.
async function onFreshHub(bin, name, body) {
  const dataDir = join(work, `hub-${name}`);
  const hub = await startHub(bin, dataDir, ['--workers', '0']);
  const line = RTT ? await startLine(DELAYLINE, hub.base.replace('http://', ''), RTT, WINDOW) : null;
  try {
    return await body(line ? line.base : hub.base, dataDir);
  } finally {
    if (line) line.proc.kill('SIGTERM');
    await stopHub(hub);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

function token(bin, dataDir) {
  return execFileSync(bin, ['admin', 'create-token', 'lab', '--data-dir', dataDir], { stdio: ['ignore', 'pipe', 'ignore'] })
    .toString().trim();
}

/// Our CLI (`bin`) delivering `path` into Dailies Bins: seconds from start to delivered.
function cli(bin, name, path) {
  return onFreshHub(bin, name, async (base, dataDir) => {
    const home = join(work, `home-${name}`);
    const env = { ...process.env, CONTENTHUB_HOME: home };
    execFileSync(bin, ['login', base, '--token', token(bin, dataDir)], { env, stdio: 'ignore' });
    const start = process.hrtime.bigint();
    const args = ['upload', '--project', '1', '--bucket', 'dailies-bins', '--meta', 'shoot_day=2026-11-30', '--json', path];
    const out = execFileSync(bin, args, {
      env, stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 26,
    });
    const took = seconds(start);
    if (JSON.parse(out.toString()).state !== 'delivered') throw new Error(`${name}: not delivered`);
    rmSync(home, { recursive: true, force: true });
    return took;
  });
}

/// One tus-js-client stream of the file (upload only; the baseline through a long link).
function oneTusStream(path) {
  return onFreshHub(BIN, 'tus', (base, dataDir) => oneStream(base, token(BIN, dataDir), path, 'dailies-bins'));
}

console.log(`writing ${FILES} files of ${KIB} KiB and their checksum.txt in ${work}`);
const { folder, whole } = makeFolder();
const mib = statSync(whole).size / (1 << 20);
const link = RTT ? `through ${RTT} ms of round trip and ${WINDOW} KiB in flight per connection` : 'on loopback';
const runs = [];
if (RTT) runs.push(['one tus-js-client stream, one file', () => oneTusStream(whole)]);
runs.push(['contenthub upload, one file', () => cli(BIN, 'file', whole)]);
runs.push(['contenthub upload, the package', () => cli(BIN, 'package', folder)]);
if (OLD) runs.push(['older contenthub, the package', () => cli(OLD, 'old', folder)]);
// Best of BENCH_ROUNDS (default 3; the older binary once): rounds vary a lot on a shared machine.
const ROUNDS = Number(process.env.BENCH_ROUNDS || 3);
const took = {};
for (const [name, run] of runs) {
  const times = [];
  for (let round = 0; round < (name.startsWith('older') ? 1 : ROUNDS); round++) times.push(await run());
  took[name] = Math.min(...times);
  console.log(`${name.padEnd(34)} ${took[name].toFixed(2).padStart(7)} s  ${(mib / took[name]).toFixed(1).padStart(7)} MiB/s`
    + `  (rounds: ${times.map((t) => t.toFixed(2)).join(', ')} s)`);
}
rmSync(work, { recursive: true, force: true });
const pkg = took['contenthub upload, the package'];
console.log(`\n${FILES} × ${KIB} KiB (${mib.toFixed(0)} MiB) ${link}, upload + DELIVER:`);
console.log(`  package / one file (CLI) = ${(pkg / took['contenthub upload, one file']).toFixed(2)}× the time (goal: ≤ 2)`);
if (RTT) {
  const base = took['one tus-js-client stream, one file'];
  console.log(`  package rate / one tus stream = ${(base / pkg).toFixed(2)}× (goal: ≥ 3)`);
}
if (OLD) {
  console.log(`  older package time / ours = ${(took['older contenthub, the package'] / pkg).toFixed(2)}× faster (goal: ≥ 10)`);
} else {
  console.log('  (BENCH_OLD_BIN unset: the issue measured 46.5 s for 20,000 × 64 KiB one upload per file on this machine)');
}
