// Upload benchmark (not a test): one file of BENCH_MIB MiB (default 2048) over loopback, three ways,
// in the same run and on the same disk:
//   1. our CLI: `contenthub upload` into a contenthub server (local data folder);
//   2. tus-js-client (node) into @tus/server with its file store — the reference tus server;
//   3. `curl -T` into a contenthub upload as one single PATCH (no client-side work at all).
// Prints MiB/s for each (best of BENCH_ROUNDS, default 3) and the ratios. Run by scripts/bench_upload.sh.
//   CONTENTHUB_TEST_BIN=target/release/contenthub node tests/js/bench_upload.mjs
import { spawn, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, createReadStream, mkdtempSync, openSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tus from 'tus-js-client';
import { startHub as start, stopHub } from './hub.mjs';

const startHub = (dataDir) => start(BIN, dataDir, ['--workers', '0']);

const BIN = process.env.CONTENTHUB_TEST_BIN;
if (!BIN) throw new Error('set CONTENTHUB_TEST_BIN to a release build of contenthub');
const MIB = Number(process.env.BENCH_MIB || 2048);
const ROUNDS = Number(process.env.BENCH_ROUNDS || 3);
const work = mkdtempSync(join(process.env.BENCH_DIR || tmpdir(), 'contenthub-bench-'));

function makeFile(path, mib) {
  const fd = openSync(path, 'w');
  const block = randomBytes(1 << 20);
  for (let i = 0; i < mib; i++) {
    block.writeUInt32LE(i, 0); // no two MiB alike
    writeSync(fd, block);
  }
  closeSync(fd);
}

const seconds = (start) => Number(process.hrtime.bigint() - start) / 1e9;

async function ours(file, round) {
  const dataDir = join(work, `hub-cli-${round}`);
  const home = join(work, `home-${round}`);
  const hub = await startHub(dataDir);
  try {
    const env = { ...process.env, CONTENTHUB_HOME: home };
    const token = execFileSync(BIN, ['admin', 'create-token', 'soundhouse', '--data-dir', dataDir]).toString().trim();
    execFileSync(BIN, ['login', hub.base, '--token', token], { env, stdio: 'ignore' });
    const start = process.hrtime.bigint();
    const out = execFileSync(
      BIN,
      ['deliver', '--request', '1', '--json', file],
      { env, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const took = seconds(start);
    const delivery = JSON.parse(out.toString());
    if (delivery.state !== 'delivered') throw new Error(`the CLI delivery is ${delivery.state}`);
    return took;
  } finally {
    await stopHub(hub);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function curlSinglePatch(file, round) {
  const dataDir = join(work, `hub-curl-${round}`);
  const hub = await startHub(dataDir);
  try {
    const token = execFileSync(BIN, ['admin', 'create-token', 'soundhouse', '--data-dir', dataDir]).toString().trim();
    const size = statSync(file).size;
    const meta = ['project 1', 'bucket final-sound', 'filename bench.bin']
      .map((kv) => { const [k, v] = kv.split(' '); return `${k} ${Buffer.from(v).toString('base64')}`; })
      .join(',');
    const created = await fetch(`${hub.base}/api/v1/uploads`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Tus-Resumable': '1.0.0', 'Upload-Length': String(size), 'Upload-Metadata': meta },
    });
    if (created.status !== 201) throw new Error(`creating the upload: ${created.status} ${await created.text()}`);
    const url = new URL(created.headers.get('location'), hub.base).href;
    const start = process.hrtime.bigint();
    const status = execFileSync('curl', [
      '-sS', '-o', '/dev/null', '-w', '%{http_code}', '-X', 'PATCH', '-T', file,
      '-H', `Authorization: Bearer ${token}`, '-H', 'Tus-Resumable: 1.0.0', '-H', 'Upload-Offset: 0',
      '-H', 'Content-Type: application/offset+octet-stream', '-H', 'Expect:', url,
    ]).toString();
    const took = seconds(start);
    if (status !== '204') throw new Error(`curl PATCH answered ${status}`);
    return took;
  } finally {
    await stopHub(hub);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

// @tus/server runs in its own node process so that it does not share an event loop with the client.
function startTusServer(dir) {
  const code = `
    import { Server } from '@tus/server';
    import { FileStore } from '@tus/file-store';
    const server = new Server({ path: '/files', datastore: new FileStore({ directory: ${JSON.stringify(dir)} }) });
    const http = server.listen({ host: '127.0.0.1', port: 0 });
    http.on('listening', () => console.log('port ' + http.address().port));
  `;
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, ['--input-type=module', '-e', code], {
      cwd: new URL('.', import.meta.url).pathname,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    proc.stdout.on('data', (chunk) => {
      out += chunk;
      const found = out.match(/port (\d+)/);
      if (found) resolve({ proc, base: `http://127.0.0.1:${found[1]}` });
    });
    proc.on('exit', (code) => reject(new Error(`@tus/server exited (${code}): ${out}`)));
  });
}

async function tusReference(file, round) {
  const dir = join(work, `tus-server-${round}`);
  const server = await startTusServer(dir);
  try {
    const start = process.hrtime.bigint();
    const url = await new Promise((resolve, reject) => {
      const upload = new tus.Upload(createReadStream(file), {
        endpoint: `${server.base}/files`,
        uploadSize: statSync(file).size,
        metadata: { filename: 'bench.bin' },
        retryDelays: [],
        onSuccess: () => resolve(upload.url),
        onError: reject,
      });
      upload.start();
    });
    const took = seconds(start);
    const stored = join(dir, url.split('/').pop());
    if (statSync(stored).size !== statSync(file).size) throw new Error('@tus/server stored a different size');
    return took;
  } finally {
    const exited = new Promise((resolve) => server.proc.once('exit', resolve));
    server.proc.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  }
}

const file = join(work, 'bench.bin');
console.log(`writing a ${MIB} MiB test file in ${work}`);
makeFile(file, MIB);

const best = { ours: Infinity, tus: Infinity, curl: Infinity };
for (let round = 1; round <= ROUNDS; round++) {
  for (const [name, run] of [['ours', ours], ['tus', tusReference], ['curl', curlSinglePatch]]) {
    const took = await run(file, round);
    console.log(`round ${round}: ${name.padEnd(4)} ${took.toFixed(2)} s  ${(MIB / took).toFixed(0)} MiB/s`);
    best[name] = Math.min(best[name], took);
  }
}
rmSync(work, { recursive: true, force: true });

const rate = (s) => `${(MIB / s).toFixed(0).padStart(5)} MiB/s (${s.toFixed(2)} s)`;
console.log(`\n${MIB} MiB over loopback, best of ${ROUNDS}:`);
console.log(`  contenthub upload (our CLI)          ${rate(best.ours)}`);
console.log(`  tus-js-client → @tus/server (file)   ${rate(best.tus)}`);
console.log(`  curl -T, one PATCH → contenthub      ${rate(best.curl)}`);
console.log(`  ours / @tus/server = ${(best.tus / best.ours).toFixed(2)}× (goal ≥ 2)`);
console.log(`  ours / curl        = ${(best.curl / best.ours).toFixed(2)}× (goal ≥ 0.8)`);
