// tus-js-client, the reference JavaScript tus client, against the real contenthub server:
// a chunked upload, and a resume after the server process is killed mid-upload. The stored bytes
// must hash the same as the file. Run by scripts/test.sh (CONTENTHUB_TEST_BIN = the server binary).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tus from 'tus-js-client';
import { startHub, stopHub } from './hub.mjs';

const BIN = process.env.CONTENTHUB_TEST_BIN;
assert.ok(BIN, 'set CONTENTHUB_TEST_BIN to the contenthub binary');

const start = (dataDir) => startHub(BIN, dataDir);
const stop = stopHub;

const token = (dataDir) =>
  execFileSync(BIN, ['admin', 'create-token', 'soundhouse', '--data-dir', dataDir]).toString().trim();
const sha256 = (path) => createHash('sha256').update(readFileSync(path)).digest('hex');
const stored = (dataDir, url) => join(dataDir, 'blobs', 'uploads', url.split('/').pop(), 'data');

function upload(path, options) {
  return new Promise((resolve, reject) => {
    const u = new tus.Upload(createReadStream(path), {
      chunkSize: 5 * 1024 * 1024,
      metadata: { project: '1', bucket: 'final-sound', filename: 'r2_stems.wav' },
      retryDelays: [],
      ...options,
      onSuccess: () => resolve(u),
      onError: reject,
    });
    if (options.onStart) options.onStart(u);
    u.start();
  });
}

/// The offset the hub acknowledged for the upload at `url` (a tus HEAD).
async function offset(url, headers) {
  const response = await fetch(url, { method: 'HEAD', headers: { ...headers, 'Tus-Resumable': '1.0.0' } });
  assert.equal(response.status, 200);
  return Number(response.headers.get('upload-offset'));
}

function fixture() {
  const dir = mkdtempSync(join(tmpdir(), 'contenthub-js-'));
  const file = join(dir, 'r2_stems.wav');
  writeFileSync(file, randomBytes(12 * 1024 * 1024 + 77));
  return { dir, file, dataDir: join(dir, 'hub') };
}

test('tus-js-client uploads in chunks, byte-identical', async () => {
  const { file, dataDir } = fixture();
  const server = await start(dataDir);
  try {
    const headers = { Authorization: `Bearer ${token(dataDir)}` };
    const done = await upload(file, { endpoint: `${server.base}/api/v1/uploads`, headers });
    assert.equal(sha256(stored(dataDir, done.url)), sha256(file));
  } finally {
    await stop(server);
  }
});

test('tus-js-client resumes after the server is killed', async () => {
  const { file, dataDir } = fixture();
  let server = await start(dataDir);
  const headers = { Authorization: `Bearer ${token(dataDir)}` };
  let url;
  // Stop after the first acknowledged chunk, then kill the server without warning.
  await new Promise((resolve, reject) => {
    const u = new tus.Upload(createReadStream(file), {
      endpoint: `${server.base}/api/v1/uploads`,
      headers,
      chunkSize: 5 * 1024 * 1024,
      metadata: { project: '1', bucket: 'final-sound', filename: 'r2_stems.wav' },
      retryDelays: [],
      onChunkComplete: () => {
        url = u.url;
        u.abort().then(resolve, reject);
      },
      onError: reject,
    });
    u.start();
  });
  // The kill lands mid-upload: the hub has acknowledged some of the file, not all of it. (abort()
  // may have cut a second PATCH short; the resumed upload retries while the lease that PATCH left
  // behind lapses, within 15 s.)
  const size = readFileSync(file).length;
  const before = await offset(url, headers);
  assert.ok(before >= 5 * 1024 * 1024 && before < size, `killed with ${before} of ${size} bytes acknowledged`);
  await stop(server, 'SIGKILL');

  server = await start(dataDir);
  try {
    const path = url.slice(url.indexOf('/api/v1/'));
    const after = await offset(`${server.base}${path}`, headers);
    assert.ok(after >= before, `the hub kept what it acknowledged: ${before} before the kill, ${after} after`);
    let firstOffset = null;
    const done = await upload(file, {
      uploadUrl: `${server.base}${path}`,
      headers,
      retryDelays: [1000, 3000, 5000, 10000, 20000, 30000],
      onProgress: (sent) => {
        if (firstOffset === null) firstOffset = sent;
      },
    });
    assert.ok(firstOffset >= after, `resumed from ${firstOffset}, not from the start (the hub had ${after})`);
    assert.equal(sha256(stored(dataDir, done.url)), sha256(file));
  } finally {
    await stop(server);
  }
});

test('tus-js-client uploads one file over parallel connections (concatenation)', async () => {
  const { file, dataDir } = fixture();
  const server = await start(dataDir);
  try {
    const headers = { Authorization: `Bearer ${token(dataDir)}` };
    const done = await upload(file, {
      endpoint: `${server.base}/api/v1/uploads`,
      headers,
      parallelUploads: 2,
      metadataForPartialUploads: { project: '1', bucket: 'final-sound' },
    });
    assert.equal(sha256(stored(dataDir, done.url)), sha256(file));
  } finally {
    await stop(server);
  }
});
