// Long-link benchmark (not a test; issue 14): one file of BENCH_MIB MiB (default 2048) sent to a
// contenthub server through the `delayline` proxy (testkit), which adds BENCH_RTT_MS of round trip
// (default 100) and lets each connection have BENCH_WINDOW_KIB in flight (default 4096): a
// transfer across an ocean on loopback. One stream there moves at most its window per round trip
// (4 MiB / 100 ms = 40 MiB/s); only parallel streams go faster. In the same run:
//   1. one tus-js-client stream (the baseline);
//   2. our CLI with --split 1 (one stream, as before pieces);
//   3. our CLI with its defaults (pieces: parallel uploads the hub writes in place);
//   4. the upload page in Chromium (four pieces), from choosing the file to delivered
//      (BENCH_BROWSER=0 leaves it out).
// Prints MiB/s for each and the ratios to the baseline. Run by scripts/bench_long_link.sh.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deliverFromPage, launchChromium, makeFile, oneTusStream as oneStream, signedIn, startLine } from './bench_common.mjs';
import { demoPassword, startHub, stopHub } from './hub.mjs';

const BIN = process.env.CONTENTHUB_TEST_BIN;
const DELAYLINE = process.env.DELAYLINE_BIN;
if (!BIN || !DELAYLINE) throw new Error('set CONTENTHUB_TEST_BIN and DELAYLINE_BIN (release builds)');
const MIB = Number(process.env.BENCH_MIB || 2048);
const RTT = Number(process.env.BENCH_RTT_MS || 100);
const WINDOW = Number(process.env.BENCH_WINDOW_KIB || 4096);
const work = mkdtempSync(join(process.env.BENCH_DIR || tmpdir(), 'contenthub-longlink-'));
const seconds = (start) => Number(process.hrtime.bigint() - start) / 1e9;

/// The delay line in front of `target` (host:port); resolves to { proc, base }.

/// A fresh hub with a delay line in front; runs `body(line base, data dir, hub)`; returns its seconds.
async function throughLine(name, body) {
  const dataDir = join(work, `hub-${name}`);
  const hub = await startHub(BIN, dataDir, ['--workers', '0']);
  const line = await startLine(DELAYLINE, hub.base.replace('http://', ''), RTT, WINDOW);
  try {
    return await body(line.base, dataDir, hub);
  } finally {
    line.proc.kill('SIGTERM');
    await stopHub(hub);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

function token(dataDir) {
  return execFileSync(BIN, ['admin', 'create-token', 'soundhouse', '--data-dir', dataDir], { stdio: ['ignore', 'pipe', 'ignore'] })
    .toString().trim();
}

function oneTusStream(file) {
  return throughLine('tus', (base, dataDir) => oneStream(base, token(dataDir), file, 'final-sound'));
}

function cli(extra) {
  return (file) => throughLine(`cli${extra.join('')}`, async (base, dataDir) => {
    const home = join(work, `home${extra.join('')}`);
    const env = { ...process.env, CONTENTHUB_HOME: home };
    execFileSync(BIN, ['login', base, '--token', token(dataDir)], { env, stdio: 'ignore' });
    const start = process.hrtime.bigint();
    const out = execFileSync(BIN, ['deliver', '--request', '1', '--json', ...extra, file], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const took = seconds(start);
    if (JSON.parse(out.toString()).state !== 'delivered') throw new Error('the CLI did not deliver');
    rmSync(home, { recursive: true, force: true });
    return took;
  });
}

/// The upload page in Chromium, through the delay line: the file chosen, Shoot day set, DELIVER.
function page(file) {
  return throughLine('page', async (base, _dataDir, hub) => {
    const browser = await launchChromium(work);
    try {
      const path = '/projects/1/buckets/dailies-bins/upload';
      const at = await signedIn(browser, { base }, 'lab', demoPassword(hub, 'lab'), path);
      return (await deliverFromPage(at, [file], { fields: { 'Shoot day *': '2026-11-30' } })) / 1000;
    } finally {
      await browser.close();
    }
  });
}

const file = join(work, 'bench.bin');
console.log(`writing a ${MIB} MiB test file in ${work}`);
makeFile(file, MIB);
const runs = [
  ['one tus-js-client stream', oneTusStream],
  ['contenthub deliver --split 1', cli(['--split', '1'])],
  ['contenthub deliver (defaults)', cli([])],
];
if (process.env.BENCH_BROWSER !== '0') runs.push(['the upload page (Chromium)', page]);
const took = {};
for (const [name, run] of runs) {
  took[name] = await run(file);
  console.log(`${name.padEnd(30)} ${(MIB / took[name]).toFixed(1).padStart(7)} MiB/s (${took[name].toFixed(1)} s)`);
}
rmSync(work, { recursive: true, force: true });
const base = took[runs[0][0]];
console.log(`\n${MIB} MiB through ${RTT} ms of round trip and ${WINDOW} KiB in flight per connection:`);
for (const [name] of runs.slice(1)) {
  console.log(`  ${name.padEnd(30)} / one stream = ${(base / took[name]).toFixed(2)}×`);
}
console.log('goals: the CLI\'s defaults ≥ 4×, the page ≥ 2×');
