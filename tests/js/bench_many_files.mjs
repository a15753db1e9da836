// The many-files case end to end (not a test; issue 14, item 5): a frame folder of BENCH_FILES
// files of BENCH_KIB KiB (default 250,000 × 16 KiB) with its checksum.txt, delivered into Dailies
// Bins as one zipless package until it is Valid, by our CLI and by Chromium (the folder picked on
// the upload page), on each backend of BENCH_BACKENDS (default "sqlite,postgres": SQLite + a local
// folder, and PostgreSQL + S3 from the CONTENTHUB_TEST_* settings the test suite uses). For each:
// the time to delivered, the validation time (delivered → Valid, from the asset's history), the
// total, and the hub's peak resident memory (VmHWM); and, as the yardstick for validation, our
// `npack verify` of the same folder. BENCH_CLIENTS=cli,chromium chooses the clients.
// Run by scripts/bench_many_files.sh.
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deliverFromPage, launchChromium, signedIn } from './bench_common.mjs';
import { demoPassword, startHub, stopHub } from './hub.mjs';

const BIN = process.env.CONTENTHUB_TEST_BIN;
const NPACK = process.env.NPACK_BIN;
if (!BIN || !NPACK) throw new Error('set CONTENTHUB_TEST_BIN and NPACK_BIN (release builds)');
const FILES = Number(process.env.BENCH_FILES || 250000);
const KIB = Number(process.env.BENCH_KIB || 16);
const BACKENDS = (process.env.BENCH_BACKENDS || 'sqlite,postgres').split(',');
const CLIENTS = (process.env.BENCH_CLIENTS || 'cli,chromium').split(',');
const work = mkdtempSync(join(process.env.BENCH_DIR || tmpdir(), 'contenthub-many-'));
const now = () => Number(process.hrtime.bigint() / 1000000n);
const PG = process.env.CONTENTHUB_TEST_POSTGRES_URL || 'postgres://postgres@127.0.0.1:5432/test';

function makeFolder() {
  const folder = join(work, 'r9_many_frames');
  mkdirSync(folder);
  const lines = [];
  const block = randomBytes(KIB * 1024);
  for (let i = 0; i < FILES; i++) {
    block.writeUInt32LE(i, 0);
    const name = `r9.${String(i).padStart(7, '0')}.dpx`;
    writeFileSync(join(folder, name), block);
    lines.push(`${name}\t${block.length}\tmd5\t${createHash('md5').update(block).digest('hex')}\n`);
  }
  writeFileSync(join(folder, 'checksum.txt'), lines.join(''));
  return folder;
}

/// The hub's settings for a backend: extra `serve` arguments and environment.
function backend(name, run) {
  if (name === 'sqlite') return { args: [], env: {} };
  const db = `bench_many_${process.pid}_${run}`;
  const admin = new URL(PG);
  execFileSync('psql', [PG, '-q', '-c', `CREATE DATABASE ${db}`], { stdio: 'ignore' });
  admin.pathname = `/${db}`;
  const s3 = (k) => {
    const v = process.env[`CONTENTHUB_TEST_S3_${k}`];
    if (!v) throw new Error(`postgres+s3 needs CONTENTHUB_TEST_S3_${k} (as the test suite sets it)`);
    return v;
  };
  return {
    args: ['--database-url', admin.href, '--storage-url', `s3://${s3('BUCKET')}/bench-${process.pid}-${run}`,
      '--s3-endpoint', s3('ENDPOINT'), '--s3-access-key-id', s3('ACCESS_KEY'), '--s3-path-style', 'true'],
    env: { CONTENTHUB_S3_SECRET_ACCESS_KEY: s3('SECRET_KEY') },
    drop: () => execFileSync('psql', [PG, '-q', '-c', `DROP DATABASE ${db}`], { stdio: 'ignore' }),
  };
}

/// Peak resident memory of a process, in MiB.
function peakMib(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)[1]) / 1024;
}

async function api(base, bearer, path) {
  const answer = await fetch(`${base}/api/v1${path}`, { headers: { Authorization: `Bearer ${bearer}` } });
  if (!answer.ok) throw new Error(`${path}: ${answer.status} ${await answer.text()}`);
  return answer.json();
}

/// Waits for the package in Dailies Bins to be Valid; returns the validation time (ms, from its
/// history: delivered → valid).
async function validated(base, bearer) {
  for (;;) {
    const page = await api(base, bearer, '/projects/1/buckets/dailies-bins/assets?limit=5&sort=updated&order=desc');
    const asset = page.items.find((a) => a.name === 'r9_many_frames');
    if (asset && asset.state === 'invalid') throw new Error('the package ended Invalid');
    if (asset && asset.state === 'valid') {
      const history = await api(base, bearer, `/assets/${asset.id}/history`);
      const at = (action) => history.find((h) => h.action === action)?.at_ms;
      return at('valid') - at('delivered');
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

async function viaCli(base, bearer, folder) {
  const home = join(work, `home-${now()}`);
  const env = { ...process.env, CONTENTHUB_HOME: home };
  execFileSync(BIN, ['login', base, '--token', bearer], { env, stdio: 'ignore' });
  const start = now();
  execFileSync(BIN, ['upload', '--project', '1', '--bucket', 'dailies-bins', '--meta', 'shoot_day=2026-11-30', '--json', folder],
    { env, stdio: ['ignore', 'ignore', 'inherit'], maxBuffer: 1 << 28 });
  return now() - start;
}

async function viaChromium(hub, folder) {
  const browser = await launchChromium(work);
  try {
    const page = await signedIn(browser, hub, 'lab', demoPassword(hub, 'lab'), '/projects/1/buckets/dailies-bins/upload');
    return await deliverFromPage(page, folder, { folder: true, fields: { 'Shoot day *': '2026-11-30' } });
  } finally {
    await browser.close();
  }
}

console.log(`writing ${FILES} files of ${KIB} KiB and their checksum.txt in ${work}`);
const folder = makeFolder();
// The yardstick at its best: the faster of two runs (the first may still share the disk with the
// writing of the folder).
let npackVerify = Infinity;
for (let round = 0; round < 2; round++) {
  const start = now();
  execFileSync(NPACK, ['verify', folder], { stdio: 'ignore' });
  npackVerify = Math.min(npackVerify, now() - start);
}
console.log(`npack verify of the folder: ${(npackVerify / 1000).toFixed(1)} s (the faster of two runs)`);
const rows = [];
let run = 0;
for (const name of BACKENDS) {
  for (const client of CLIENTS) {
    run += 1;
    const settings = backend(name, run);
    const dataDir = join(work, `hub-${run}`);
    const hub = await startHub(BIN, dataDir, settings.args, settings.env);
    try {
      const bearer = execFileSync(BIN, ['admin', 'create-token', 'lab', '--data-dir', dataDir, ...settings.args],
        { env: { ...process.env, ...settings.env }, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
      const delivered = client === 'cli' ? await viaCli(hub.base, bearer, folder) : await viaChromium(hub, folder);
      const validation = await validated(hub.base, bearer);
      const row = { backend: name, client, delivered, validation, total: delivered + validation, peak: peakMib(hub.proc.pid) };
      rows.push(row);
      console.log(`${name.padEnd(8)} ${client.padEnd(9)} delivered ${(delivered / 1000).toFixed(1)} s, validated in ${(validation / 1000).toFixed(1)} s `
        + `(${(validation / npackVerify).toFixed(2)}× npack verify), total ${(row.total / 1000).toFixed(1)} s, hub peak RSS ${row.peak.toFixed(0)} MiB`);
    } finally {
      await stopHub(hub);
      rmSync(dataDir, { recursive: true, force: true });
      if (settings.drop) settings.drop();
    }
  }
}
rmSync(work, { recursive: true, force: true });
console.log(`\n${FILES} × ${KIB} KiB to Valid (goals: hub peak RSS ≤ 512 MiB; validation no slower than npack verify, ${(npackVerify / 1000).toFixed(1)} s):`);
for (const r of rows) {
  console.log(`  ${r.backend} ${r.client}: total ${(r.total / 1000).toFixed(1)} s, peak ${r.peak.toFixed(0)} MiB, validation / npack verify = ${(r.validation / npackVerify).toFixed(2)}`);
}
