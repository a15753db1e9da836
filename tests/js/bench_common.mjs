// Shared by the benchmarks (not tests): the delay line in front of a hub, and one tus-js-client
// stream of a file into an upload the hub made.
import { spawn } from 'node:child_process';
import { closeSync, createReadStream, openSync, statSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import * as tus from 'tus-js-client';

/// `delayline` (testkit) in front of `target` (host:port): `rtt` ms of round trip, `windowKib` in
/// flight per connection; resolves to { proc, base }.
export function startLine(delayline, target, rtt, windowKib) {
  return new Promise((resolve, reject) => {
    const proc = spawn(delayline, ['--to', target, '--rtt-ms', String(rtt), '--window-kib', String(windowKib)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    proc.stdout.on('data', (chunk) => {
      out += chunk;
      const found = out.match(/listening on ([0-9.:]+)/);
      if (found) resolve({ proc, base: `http://${found[1]}` });
    });
    proc.on('exit', (code) => reject(new Error(`delayline exited (${code}): ${out}`)));
  });
}

/// Sends `path` to the hub at `base` as one tus-js-client stream, into an upload of bucket
/// `bucket` in project 1 made first; resolves to the seconds the bytes took.
export async function oneTusStream(base, bearer, path, bucket) {
  const size = statSync(path).size;
  const meta = [['project', '1'], ['bucket', bucket], ['filename', 'bench.bin']]
    .map(([k, v]) => `${k} ${Buffer.from(v).toString('base64')}`).join(',');
  const created = await fetch(`${base}/api/v1/uploads`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${bearer}`, 'Tus-Resumable': '1.0.0', 'Upload-Length': String(size), 'Upload-Metadata': meta },
  });
  if (created.status !== 201) throw new Error(`creating the upload: ${created.status} ${await created.text()}`);
  const start = process.hrtime.bigint();
  await new Promise((resolve, reject) => {
    const upload = new tus.Upload(createReadStream(path), {
      uploadUrl: new URL(created.headers.get('location'), base).href,
      uploadSize: size,
      headers: { Authorization: `Bearer ${bearer}` },
      retryDelays: [],
      onSuccess: resolve,
      onError: reject,
    });
    upload.start();
  });
  return Number(process.hrtime.bigint() - start) / 1e9;
}

/// Debian's Chromium, headless, with a fresh profile under `work` (a browser context: `newPage`,
/// `close`).
export async function launchChromium(work) {
  const { chromium } = await import('playwright-core');
  const { mkdtempSync } = await import('node:fs');
  const { join } = await import('node:path');
  return chromium.launchPersistentContext(mkdtempSync(join(work, 'chromium-')), {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
}

/// A page of `browser` signed in as `user` (its password from the hub's banner) on `path`.
export async function signedIn(browser, hub, user, password, path) {
  const page = await browser.newPage();
  await page.goto(`${hub.base}/login?next=${encodeURIComponent(path)}`);
  await page.getByLabel('User name').fill(user);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL((url) => url.pathname === path);
  return page;
}

/// On a delivery page: picks `paths` (files, or one folder when `folder`), sets the required
/// `fields` ({ label: value }) on every row, presses DELIVER and waits for the hub to take it;
/// resolves to the milliseconds from the pick to delivered.
export async function deliverFromPage(page, paths, { folder = false, rows = 1, fields = {} } = {}) {
  const start = Date.now();
  await page.locator(folder ? '#pick-folder' : '#pick-files').setInputFiles(paths, { timeout: 1800000 });
  await page.locator('#rows tr').nth(rows - 1).waitFor({ timeout: 1800000 });
  if (folder) await page.getByText(/package · \d+ files/).waitFor({ timeout: 1800000 });
  for (const [label, value] of Object.entries(fields)) await page.getByLabel(label, { exact: true }).fill(value);
  if (Object.keys(fields).length) await page.getByRole('button', { name: /^Apply to/ }).click();
  await page.getByRole('button', { name: 'DELIVER' }).click();
  await page.waitForURL(/delivered=\d+$/, { timeout: 3600000 });
  return Date.now() - start;
}

/// Writes `mib` MiB of random bytes (each MiB numbered, so none repeats) to `path`; returns it.
export function makeFile(path, mib) {
  const fd = openSync(path, 'w');
  const block = randomBytes(1 << 20);
  for (let i = 0; i < mib; i++) {
    block.writeUInt32LE(i, 0);
    writeSync(fd, block);
  }
  closeSync(fd);
  return path;
}
