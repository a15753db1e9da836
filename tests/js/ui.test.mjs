// The browser interface as a person uses it, in Debian's Chromium driven by playwright-core, against
// the real server: sign in (and a wrong password), the projects I belong to and nothing else, a
// project's buckets, browsing and filtering a bucket, an asset page, a session that ended, signing
// out, and a user trying the URLs of a project that is not theirs. Screenshots of each page go to
// artifacts/screenshots/ (git-ignored). Run by scripts/test.sh (CONTENTHUB_TEST_BIN = the server).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { startHub, stopHub, demoPassword, reloadUntil } from './hub.mjs';

const BIN = process.env.CONTENTHUB_TEST_BIN;
assert.ok(BIN, 'set CONTENTHUB_TEST_BIN to the contenthub binary');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const SHOTS = new URL('../../artifacts/screenshots/', import.meta.url).pathname;
mkdirSync(SHOTS, { recursive: true });

let hub;
let browser;
let dataDir;

before(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'contenthub-ui-'));
  dataDir = join(dir, 'hub');
  hub = await startHub(BIN, dataDir);
  // A second project the demo vendor is not a member of.
  execFileSync(BIN, ['admin', 'create-project', 'Secret Documentary', '--data-dir', dataDir]);
  browser = await launch(join(dir, 'profile'));
});

/// Debian's Chromium with a fresh profile in `profileDir`.
function launch(profileDir) {
  return chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 800 },
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
}

after(async () => {
  await browser?.close();
  if (hub) await stopHub(hub);
});

/// Calls the hub's API from inside `page`, as its own scripts do (its session cookie and CSRF
/// token): the status, the JSON body (if any) and the tus offset headers.
function call(page, method, path, { headers = {}, body } = {}) {
  return page.evaluate(async ({ method, path, headers, body }) => {
    const csrf = document.querySelector('meta[name="csrf-token"]').content;
    const response = await fetch(path, { method, headers: { 'X-CSRF-Token': csrf, ...headers }, body });
    const text = method === 'HEAD' ? '' : await response.text();
    let data = null;
    try { data = JSON.parse(text); } catch { /* not JSON */ }
    const h = (name) => response.headers.get(name);
    return { status: response.status, data, offset: h('upload-offset'), length: h('upload-length') };
  }, { method, path, headers, body });
}

const json = (value) => ({ headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(value) });

/// A new user, made a member of the demo project with `role` in `buckets` (comma-separated slugs)
/// through the admin CLI, as a site admin would; returns their password.
function addPerson(name, role, buckets) {
  const out = execFileSync(BIN, ['admin', 'create-user', name, '--data-dir', dataDir]).toString();
  const password = /with password (\S+)/.exec(out)?.[1];
  assert.ok(password, `no password in: ${out}`);
  execFileSync(BIN, ['admin', 'add-member', '1', name, '--role', role, '--buckets', buckets, '--data-dir', dataDir]);
  return password;
}

async function signIn(page, user, password, next = '/', at = hub) {
  await page.goto(`${at.base}/login?next=${encodeURIComponent(next)}`);
  await page.getByLabel('User name').fill(user);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

test('sign in: a wrong password says so; the right one shows my projects and nothing else', async () => {
  const page = await browser.newPage();
  await signIn(page, 'soundhouse', 'not-the-password');
  assert.match(await page.getByRole('alert').innerText(), /wrong user name or password/);
  assert.equal(await page.getByLabel('User name').inputValue(), 'soundhouse', 'the name stays filled in');
  await page.screenshot({ path: join(SHOTS, 'login.png') });

  await signIn(page, 'soundhouse', demoPassword(hub, 'soundhouse'));
  await page.waitForURL(`${hub.base}/`);
  const projects = await page.locator('.grid .card h3').allInnerTexts();
  assert.deepEqual(projects, ['Demo Feature'], 'only the projects I belong to');
  await page.screenshot({ path: join(SHOTS, 'projects.png') });
  await page.close();
});

test('project page: buckets with counts per state; request-based buckets show open requests', async () => {
  const page = await browser.newPage();
  await signIn(page, 'studio', demoPassword(hub, 'studio'), '/projects/1');
  await page.waitForURL(`${hub.base}/projects/1`);
  assert.equal(await page.locator('h1').innerText(), 'Demo Feature');
  const finalSound = page.locator('section.card', { hasText: 'Final Sound' });
  // The hub's own count of requests still waiting (open, or asked for again): other tests deliver,
  // accept and create requests, so the number is read, not assumed.
  const requests = await call(page, 'GET', '/api/v1/projects/1/buckets/final-sound/requests');
  assert.equal(requests.status, 200);
  const waiting = requests.data.filter((r) => r.state === 'open' || r.state === 'redelivery').length;
  assert.ok(waiting >= 1, `${waiting} open requests`);
  assert.match(await finalSound.innerText(), new RegExp(`\\b${waiting} open requests?\\b`));
  assert.ok((await page.locator('section.card').count()) >= 9, 'a manager sees every bucket');
  await page.screenshot({ path: join(SHOTS, 'project.png'), fullPage: true });

  // Browse: the state badge links to the bucket filtered by that state.
  await finalSound.getByRole('link', { name: /^Valid \d+/ }).click();
  await page.waitForURL(/buckets\/final-sound\?state=valid/);
  const states = await page.locator('tbody .badge').allInnerTexts();
  assert.ok(states.length > 0 && states.every((s) => s === 'Valid'), `only Valid rows: ${states}`);
  await page.getByLabel('State').selectOption('');
  await page.getByRole('button', { name: 'Apply' }).click();
  await page.waitForURL((url) => url.pathname.endsWith('/final-sound') && url.searchParams.get('state') === '');
  const all = await page.locator('tbody tr').count();
  assert.ok(all > states.length, 'clearing the state filter shows more');
  await page.getByLabel('Name', { exact: true }).fill('no-such-asset-anywhere');
  await page.getByRole('button', { name: 'Apply' }).click();
  await page.getByText('No assets match these filters.').waitFor();
  await page.getByRole('link', { name: 'Clear' }).click();
  await page.waitForURL(/\/final-sound\?$/);
  await page.screenshot({ path: join(SHOTS, 'browse.png'), fullPage: true });

  // An asset page: its state, metadata, history and versions.
  await page.locator('tbody tr a').first().click();
  await page.waitForURL(/\/assets\/\d+$/);
  await page.getByRole('heading', { name: 'History' }).waitFor();
  await page.getByRole('heading', { name: 'Versions' }).waitFor();
  await page.screenshot({ path: join(SHOTS, 'asset.png'), fullPage: true });
  await page.close();
});

test('a user who is not a member cannot see another project by trying its URLs', async () => {
  const page = await browser.newPage();
  await signIn(page, 'soundhouse', demoPassword(hub, 'soundhouse'));
  await page.waitForURL(`${hub.base}/`);
  for (const path of ['/projects/2', '/projects/2/buckets/final-sound', '/projects/1/buckets/vfx', '/assets/999999']) {
    const response = await page.goto(`${hub.base}${path}`);
    assert.equal(response.status(), 404, path);
    assert.equal(await page.locator('h1').innerText(), 'Not found', path);
    assert.ok(!(await page.content()).includes('Secret Documentary'), `${path} does not reveal the project`);
  }
  await page.close();
});

test('a session that ended sends me to sign in and back to where I was; signing out ends it', async () => {
  const page = await browser.newPage();
  await browser.clearCookies();
  const url = new URL(hub.base);
  await browser.addCookies([{ name: 'contenthub_session', value: 'chs_gone', domain: url.hostname, path: '/' }]);
  await page.goto(`${hub.base}/projects/1/buckets/final-sound`);
  await page.waitForURL(/\/login\?next=/);
  assert.match(await page.locator('.notice.info').innerText(), /session ended/);
  await page.getByLabel('User name').fill('soundhouse');
  await page.getByLabel('Password').fill(demoPassword(hub, 'soundhouse'));
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(`${hub.base}/projects/1/buckets/final-sound`);

  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL(`${hub.base}/login`);
  await page.goto(`${hub.base}/projects/1`);
  await page.waitForURL(/\/login\?next=%2Fprojects%2F1/);
  await page.close();
});

// ---- delivering from the browser ----

function md5(path) {
  return createHash('md5').update(readFileSync(path)).digest('hex');
}

/// A flat frame folder with its checksum.txt in npack's format.
function frameFolder(root, name, frames, bytes = 64) {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  const lines = [];
  for (let i = 0; i < frames; i++) {
    const file = `${name}.${String(86400 + i).padStart(7, '0')}.dpx`;
    writeFileSync(join(dir, file), Buffer.alloc(bytes, i % 251));
    lines.push(`${file}\t${bytes}\tmd5\t${md5(join(dir, file))}\n`);
  }
  lines.sort();
  writeFileSync(join(dir, 'checksum.txt'), lines.join(''));
  return dir;
}

// A real drop through Chromium's drag-and-drop input (DevTools protocol): files and folders by
// path, as a file manager hands them over; the page sees a genuine DataTransfer with entries.
async function dropPaths(page, selector, paths) {
  await page.locator(selector).scrollIntoViewIfNeeded();
  const box = await page.locator(selector).boundingBox();
  const at = { x: box.x + box.width / 2, y: box.y + box.height / 2 };
  const cdp = await page.context().newCDPSession(page);
  const data = { items: [], files: paths, dragOperationsMask: 1 };
  for (const type of ['dragEnter', 'dragOver', 'drop']) await cdp.send('Input.dispatchDragEvent', { type, ...at, data });
  await cdp.detach();
}

/// A delivery-page row's metadata as `key=value`, in the fields' order: the values of its cells.
function rowTags(row) {
  return row.evaluate((tr) => Array.from(tr.querySelectorAll('.cell'))
    .filter((cell) => cell.value !== '').map((cell) => `${cell.dataset.key}=${cell.value}`));
}

/// Reloads the bucket list at `url` until every one of `names` is in state `wanted`.
async function waitForStates(page, url, names, wanted, seconds = 60) {
  await page.goto(url);
  const read = async () => {
    const states = {};
    for (const row of await page.locator('tbody tr').all()) {
      const name = await row.locator('a[href^="/assets/"]').innerText();
      states[name.trim()] = (await row.locator('td.state').innerText()).trim();
    }
    return states;
  };
  return reloadUntil(page, read, (states) => names.every((n) => states[n] === wanted), seconds,
    (states) => `not all ${wanted}: ${JSON.stringify(states)}`);
}

test('bulk upload: files and a frame folder, metadata edited for many rows at once, DELIVER, all Valid; the proxy plays and seeks', async () => {
  const work = mkdtempSync(join(tmpdir(), 'contenthub-ui-upload-'));
  const notes = join(work, 'sh020_notes.txt');
  writeFileSync(notes, 'comp notes for sh020\n');
  const proxy = new URL('../fixtures/sh010_proxy_v001.mp4', import.meta.url).pathname;
  const folder = frameFolder(work, 'sh030_comp_v001', 24);
  const page = await browser.newPage();
  await signIn(page, 'studio', demoPassword(hub, 'studio'), '/projects/1/buckets/vfx');
  await page.getByRole('link', { name: 'Deliver files' }).click();
  await page.waitForURL(/\/buckets\/vfx\/upload$/);
  await page.locator('#pick-files').setInputFiles([proxy, notes]);
  await page.locator('#pick-folder').setInputFiles(folder);
  await page.getByText('package · 25 files').waitFor();
  assert.equal(await page.locator('#rows tr').count(), 3, 'two files and one package row');

  // Every row (none is ticked, so the button applies to all): version 1 and shot sh010; then the
  // notes and the package get their own shots.
  await page.getByLabel('Shot *').fill('sh010');
  await page.getByLabel('Version *').fill('1');
  await page.getByRole('button', { name: 'Apply to all 3 rows' }).click();
  await page.getByLabel('Select all rows').uncheck();
  await page.getByLabel('Select sh020_notes.txt').check();
  await page.getByLabel('Shot *').fill('sh020');
  await page.getByLabel('Version *').fill('');
  await page.getByRole('button', { name: 'Apply to 1 selected row' }).click();
  await page.getByLabel('Select sh020_notes.txt').uncheck();
  await page.getByLabel('Select sh030_comp_v001').check();
  await page.getByLabel('Shot *').fill('sh030');
  await page.getByRole('button', { name: 'Apply to 1 selected row' }).click();
  const metadata = [];
  for (const row of await page.locator('#rows tr').all()) metadata.push((await rowTags(row)).join(', '));
  assert.deepEqual(metadata, ['shot=sh010, version=1', 'shot=sh020, version=1', 'shot=sh030, version=1']);
  await page.screenshot({ path: join(SHOTS, 'bulk-upload.png'), fullPage: true });

  await page.getByRole('button', { name: 'DELIVER' }).click();
  await page.waitForURL(/\/buckets\/vfx\?delivered=\d+$/, { timeout: 60000 });
  assert.match(await page.getByRole('status').innerText(), /being validated/);
  await waitForStates(
    page,
    `${hub.base}/projects/1/buckets/vfx?sort=updated&order=desc`,
    ['sh010_proxy_v001.mp4', 'sh020_notes.txt', 'sh030_comp_v001'],
    'Valid',
  );
  // The frame folder went up as a few streams of files back to back, not an upload per file.
  const listed = await call(page, 'GET', '/api/v1/projects/1/buckets/vfx/assets?limit=100');
  const folderAsset = listed.data.items.find((a) => a.name === 'sh030_comp_v001');
  const members = await call(page, 'GET', `/api/v1/assets/${folderAsset.id}/members?limit=100`);
  assert.equal(members.data.length, 25);
  const streams = new Set(members.data.map((m) => m.upload));
  assert.ok(streams.size >= 1 && streams.size <= 4, `25 files in at most 4 streams, not ${streams.size} uploads`);
  // Its page lists every file as validation found it: name, size, md5, result.
  await page.goto(`${hub.base}/assets/${folderAsset.id}`);
  await page.getByRole('heading', { name: 'Files' }).waitFor();
  assert.match(await page.locator('section:has(table.files) p').innerText(), /^24 files by name/);
  const fileRows = await page.locator('table.files tbody tr').allInnerTexts();
  assert.equal(fileRows.length, 24, fileRows.join('\n'));
  assert.ok(fileRows.every((r) => /\b[0-9a-f]{32}\b/.test(r) && /\bok\b/.test(r)), fileRows.join('\n'));
  await page.screenshot({ path: join(SHOTS, 'package-files.png'), fullPage: true });
  await page.goto(`${hub.base}/projects/1/buckets/vfx?sort=updated&order=desc`);

  // The proxy's page: the player reaches canplay and seeks.
  await page.getByRole('link', { name: 'sh010_proxy_v001.mp4' }).click();
  const video = page.locator('video#player');
  await video.waitFor();
  await page.waitForFunction(() => document.querySelector('#player').readyState >= 3, null, { timeout: 20000 });
  const seeked = await page.evaluate(() => new Promise((resolve, reject) => {
    const v = document.querySelector('#player');
    v.addEventListener('seeked', () => resolve(v.currentTime), { once: true });
    v.addEventListener('error', () => reject(new Error('video error ' + (v.error && v.error.code))), { once: true });
    v.currentTime = 2.5;
  }));
  assert.ok(Math.abs(seeked - 2.5) < 0.6, `seeked to ${seeked}`);
  await page.screenshot({ path: join(SHOTS, 'asset-player.png'), fullPage: true });
  await page.close();
});

test('source delivery into a request-based bucket: problems are shown per row before anything uploads', async () => {
  const work = mkdtempSync(join(tmpdir(), 'contenthub-ui-refused-'));
  const bad = join(work, 'r4 printmaster.wav');
  writeFileSync(bad, 'not really audio');
  const page = await browser.newPage();
  await signIn(page, 'soundhouse', demoPassword(hub, 'soundhouse'), '/projects/1/buckets/final-sound/upload');
  await page.waitForURL(/\/final-sound\/upload$/);
  // From the keyboard: Tab reaches "choose files", Enter opens the chooser, and DELIVER is pressed
  // with Enter too. The chooser is awaited before the first key goes out: Playwright intercepts
  // file choosers only once the listener has reached the browser, and a chooser opened before
  // that is cancelled unseen (this raced on a loaded CI machine).
  const choosing = page.waitForEvent('filechooser');
  await page.evaluate(() => document.readyState);
  let tabs = 0;
  while (!(await page.evaluate(() => document.activeElement?.textContent === 'choose files'))) {
    assert.ok(++tabs < 30, 'Tab never reached "choose files"');
    await page.keyboard.press('Tab');
  }
  await page.keyboard.press('Enter');
  const chooser = await choosing;
  await chooser.setFiles([bad]);
  // The picked files become rows a batch at a time; DELIVER is enabled once there is one (focus()
  // does not wait for that, and Enter would then go to "choose files" again).
  await page.locator('#rows tr', { hasText: 'r4 printmaster.wav' }).waitFor();
  await page.getByRole('button', { name: 'DELIVER', disabled: false }).focus();
  await page.keyboard.press('Enter');
  await page.getByRole('alert').waitFor();
  assert.match(await page.getByRole('alert').innerText(), /nothing was uploaded/);
  const errors = await page.locator('.row-error').innerText();
  assert.match(errors, /r4 printmaster\.wav/, errors);
  assert.match(errors, /choose one/, errors);
  await page.screenshot({ path: join(SHOTS, 'source-delivery.png'), fullPage: true });
  await page.close();
});

test('a row the hub refused is re-checked as it changes: its error goes once it is fixed (issue 13, item 9)', async () => {
  const work = mkdtempSync(join(tmpdir(), 'contenthub-ui-recheck-'));
  const file = join(work, 'r8_me51.wav');
  writeFileSync(file, Buffer.alloc(50_000, 5));
  const studio = await browser.newPage();
  await signIn(studio, 'studio', demoPassword(hub, 'studio'), '/projects/1');
  const made = await call(studio, 'POST', '/api/v1/projects/1/buckets/final-sound/requests',
    json({ title: 'Reel 8 M&E 5.1', metadata: { reel: 8, mix_type: 'M&E', format: '5.1' } }));
  assert.equal(made.status, 201, JSON.stringify(made.data));
  await studio.close();
  const page = await browser.newPage();
  await signIn(page, 'soundhouse', demoPassword(hub, 'soundhouse'), '/projects/1/buckets/final-sound/upload');
  await page.locator('#pick-files').setInputFiles([file]);
  const row = page.locator('#rows tr', { hasText: 'r8_me51.wav' });
  await row.waitFor();
  await page.getByRole('button', { name: 'DELIVER', disabled: false }).click();
  await row.locator('.row-error').waitFor();
  assert.match(await row.locator('.row-error').innerText(), /choose one/);
  // Choosing the request supplies what was missing: the row is fine again, without a DELIVER.
  await row.locator('select.req').selectOption({ label: 'Reel 8 M&E 5.1' });
  await row.locator('.row-error').waitFor({ state: 'hidden' });
  await page.getByRole('button', { name: 'DELIVER', disabled: false }).click();
  await page.waitForURL(/delivered=\d+/, { timeout: 60000 });
  await page.close();
});

test('the delivery page is a spreadsheet: rows start unselected, Select all follows the boxes, each row\'s cells are edited in place by keyboard, changed rows are marked (issue 13, item 6)', async () => {
  const work = mkdtempSync(join(tmpdir(), 'contenthub-ui-cells-'));
  const names = ['1m01_main_title.wav', '1m02_chase.wav', '1m03_end.wav'];
  for (const [i, name] of names.entries()) writeFileSync(join(work, name), Buffer.alloc(20_000 + i, i + 1));
  const page = await browser.newPage();
  await signIn(page, 'studio', demoPassword(hub, 'studio'), '/projects/1/buckets/music/upload');
  await page.waitForURL(/\/music\/upload$/);
  await page.locator('#pick-files').setInputFiles(names.map((n) => join(work, n)));
  const files = page.getByRole('table', { name: 'Files to deliver' });
  const row = (name) => files.locator('#rows tr', { hasText: name });
  await row(names[2]).waitFor();

  // Nothing is selected to begin with, and the tagger says it would change every row.
  for (const name of names) assert.equal(await page.getByLabel(`Select ${name}`).isChecked(), false, `${name} starts unselected`);
  const all = page.getByLabel('Select all rows');
  assert.equal(await all.isChecked(), false);
  await page.getByRole('button', { name: 'Apply to all 3 rows' }).waitFor();
  // "Select all" follows the rows' boxes: all ticked → ticked; one unticked → partly.
  for (const name of names) await page.getByLabel(`Select ${name}`).check();
  assert.equal(await all.isChecked(), true, 'every row ticked by hand: Select all is ticked');
  await page.getByLabel(`Select ${names[1]}`).uncheck();
  assert.equal(await all.isChecked(), false);
  assert.equal(await all.evaluate((box) => box.indeterminate), true, 'some rows ticked: Select all shows it');
  await page.getByRole('button', { name: 'Apply to 2 selected rows' }).waitFor();
  await all.check();
  for (const name of names) assert.equal(await page.getByLabel(`Select ${name}`).isChecked(), true, 'Select all ticks every row');
  await all.uncheck();
  for (const name of names) assert.equal(await page.getByLabel(`Select ${name}`).isChecked(), false);

  for (const name of names) assert.equal(await row(name).locator('.badge.changed').isVisible(), false, `${name}: nothing changed yet`);
  // Each row its own cue, typed straight into the table: Enter goes down the column.
  await page.getByLabel(`Cue of ${names[0]}`).click();
  for (const [i, cue] of ['1M01', '1M02', '1M03'].entries()) {
    await page.keyboard.type(cue);
    if (i < 2) await page.keyboard.press('Enter');
  }
  assert.equal(await page.evaluate(() => document.activeElement.getAttribute('aria-label')), `Cue of ${names[2]}`,
    'Enter moved down the Cue column');
  for (const [i, name] of names.entries()) {
    assert.equal(await page.getByLabel(`Cue of ${name}`).inputValue(), `1M0${i + 1}`);
    await row(name).locator('.badge.changed').waitFor();
  }
  assert.match(await page.locator('#overall-text').innerText(), /3 changed here/);

  // Apply to two selected rows; the third keeps what it had; the selection is cleared after.
  await page.getByLabel(`Select ${names[0]}`).check();
  await page.getByLabel(`Select ${names[2]}`).check();
  await page.locator('#meta-form').getByLabel(/^Type/).selectOption('score');
  await page.getByRole('button', { name: 'Apply to 2 selected rows' }).click();
  assert.equal(await page.getByRole('status').filter({ hasText: 'set on' }).innerText(), 'Type set on 2 rows.');
  for (const name of names) assert.equal(await page.getByLabel(`Select ${name}`).isChecked(), false, 'the selection is cleared');
  assert.equal(await page.getByLabel(`Type of ${names[0]}`).inputValue(), 'score');
  assert.equal(await page.getByLabel(`Type of ${names[1]}`).inputValue(), '', 'an unselected row is untouched');
  assert.equal(await page.getByLabel(`Type of ${names[2]}`).inputValue(), 'score');
  // A cell fixed by hand after applying stays as typed.
  await page.getByLabel(`Type of ${names[2]}`).selectOption('stems');
  await page.screenshot({ path: join(SHOTS, 'upload-cells.png'), fullPage: true });

  await page.getByRole('button', { name: 'DELIVER' }).click();
  await page.waitForURL(/\/buckets\/music\?delivered=\d+$/, { timeout: 60000 });
  const delivery = Number(/delivered=(\d+)/.exec(page.url())[1]);
  const stored = await call(page, 'GET', `/api/v1/deliveries/${delivery}`);
  const metadata = {};
  for (const f of stored.data.files) metadata[f.name] = (await call(page, 'GET', `/api/v1/assets/${f.asset_id}`)).data.metadata;
  assert.deepEqual(metadata, {
    [names[0]]: { cue: '1M01', type: 'score' },
    [names[1]]: { cue: '1M02' },
    [names[2]]: { cue: '1M03', type: 'stems' },
  }, 'each file is stored with its own cue');
  await page.close();
});

test('dropping files onto a bucket\'s browse page opens its delivery page with them listed; the page title is plain text (issue 13, item 8)', async () => {
  const work = mkdtempSync(join(tmpdir(), 'contenthub-ui-dropbucket-'));
  const notes = join(work, 'sh070_notes.txt');
  writeFileSync(notes, 'notes for sh070\n');
  const page = await browser.newPage();
  await signIn(page, 'studio', demoPassword(hub, 'studio'), '/projects/1/buckets/vfx');
  await page.waitForURL(/\/buckets\/vfx$/);
  assert.equal(await page.title(), 'VFX · contenthub', 'no script tags in the title');
  await dropPaths(page, '#bucket-drop', [notes]);
  await page.waitForURL(/\/buckets\/vfx\/upload$/);
  assert.equal(await page.locator('h1').innerText(), 'Source Delivery');
  assert.equal(await page.title(), 'Source Delivery · VFX · contenthub');
  await page.locator('#rows tr', { hasText: 'sh070_notes.txt' }).waitFor();
  await page.getByLabel('Shot of sh070_notes.txt').fill('sh070');
  await page.getByLabel('Version of sh070_notes.txt').fill('1');
  await page.getByRole('button', { name: 'DELIVER' }).click();
  await page.waitForURL(/\/buckets\/vfx\?delivered=\d+$/, { timeout: 60000 });
  await page.getByRole('link', { name: 'sh070_notes.txt' }).first().waitFor();

  // A vendor who may not deliver to a bucket has no drop zone on it.
  const lab = await browser.newPage();
  await signIn(lab, 'lab', demoPassword(hub, 'lab'), '/projects/1');
  await lab.waitForURL(/\/projects\/1$/);
  for (const card of await lab.locator('section.bucket').all()) {
    assert.notEqual(await card.getAttribute('data-drop-to'), null, `${await card.getAttribute('data-slug')}: lab delivers here`);
  }
  assert.equal(await lab.locator('section.bucket[data-slug="vfx"]').count(), 0, 'lab does not see VFX');
  await lab.close();
  await page.close();
});

test('the partner guide, step by step in its own words, as a vendor (Chromium, real drag and drop)', async () => {
  const work = mkdtempSync(join(tmpdir(), 'contenthub-ui-guide-'));
  // The studio posts two requests for reel 11: one that names the reel, one that leaves it to the vendor.
  const studio = await browser.newPage();
  await signIn(studio, 'studio', demoPassword(hub, 'studio'), '/projects/1');
  const posted = {};
  for (const [title, metadata] of [
    ['Reel 11 printmaster 5.1 (guide)', { reel: 11, mix_type: 'printmaster', format: '5.1', language: 'en' }],
    ['M&E 2.0, reel to follow (guide)', { mix_type: 'M&E', format: '2.0' }],
  ]) {
    const answer = await call(studio, 'POST', '/api/v1/projects/1/buckets/final-sound/requests', json({ title, metadata }));
    assert.equal(answer.status, 201, JSON.stringify(answer.data));
    posted[title] = answer.data.id;
  }
  await studio.close();
  const printmaster = join(work, 'r11_pm51_en.wav');
  const me = join(work, 'r11_me20.wav');
  writeFileSync(printmaster, Buffer.alloc(120_000, 11));
  writeFileSync(me, Buffer.alloc(90_000, 12));

  const page = await browser.newPage();
  await signIn(page, 'soundhouse', demoPassword(hub, 'soundhouse'));
  await page.getByRole('link', { name: 'Demo Feature' }).click();
  await page.waitForURL(/\/projects\/1$/);
  // "Use the Bucket filter."
  await page.getByLabel('Bucket filter').fill('final');
  const visible = page.locator('section.bucket:visible h3');
  assert.deepEqual(await visible.allInnerTexts(), ['Final Sound'], 'the filter leaves Final Sound');
  await page.getByLabel('Bucket filter').press('Enter');
  await page.waitForURL(/\?bucket=final$/);
  assert.deepEqual(await visible.allInnerTexts(), ['Final Sound'], 'and so does the hub, without script');
  // "Click the Final Sound header to open the request view."
  await page.getByRole('heading', { name: 'Final Sound' }).getByRole('link').click();
  await page.waitForURL(/\/final-sound\/requests$/);
  // "Use the filter bar."
  await page.getByLabel('Title').fill('(guide)');
  await page.getByLabel('State').selectOption('open');
  await page.getByRole('button', { name: 'Apply' }).click();
  await page.waitForURL(/state=open/);
  assert.equal(await page.locator('tbody tr').count(), 2, 'the two guide requests');
  // "Select the requests ... press Upload Assets."
  for (const title of Object.keys(posted)) await page.getByLabel(`Select ${title}`).check();
  await page.getByRole('button', { name: 'Upload Assets' }).click();
  await page.waitForURL(/\/final-sound\/upload\?requests=/);
  assert.equal(await page.locator('h1').innerText(), 'Source Delivery');
  // "Drag and drop the files onto the drop-zone."
  await dropPaths(page, '#drop', [printmaster, me]);
  const files = page.getByRole('table', { name: 'Files to deliver' });
  await files.locator('#rows tr', { hasText: 'r11_me20.wav' }).waitFor();
  // "Select the request in the Files to deliver dropdown."
  await files.getByLabel('Request for r11_pm51_en.wav').selectOption({ label: 'Reel 11 printmaster 5.1 (guide)' });
  await files.getByLabel('Request for r11_me20.wav').selectOption({ label: 'M&E 2.0, reel to follow (guide)' });
  assert.equal(await files.getByLabel('Reel of r11_pm51_en.wav').inputValue(), '11', 'the request brings its reel');
  assert.equal(await files.getByLabel('Language of r11_pm51_en.wav').inputValue(), 'en');
  // "Select the Reel."
  assert.equal(await files.getByLabel('Reel of r11_me20.wav').inputValue(), '', 'this request leaves the reel to the vendor');
  await files.getByLabel('Reel of r11_me20.wav').fill('11');
  const changedBadge = (name) => files.locator('#rows tr', { hasText: name }).locator('.badge.changed');
  assert.equal(await changedBadge('r11_pm51_en.wav').isVisible(), false, 'what the request brought is not a change');
  assert.equal(await changedBadge('r11_me20.wav').isVisible(), true, 'the Reel typed here is');
  await page.screenshot({ path: join(SHOTS, 'guide-source-delivery.png'), fullPage: true });
  // "Click DELIVER" — "redirected back" to the request view, the requests Submitted.
  await page.getByRole('button', { name: 'DELIVER' }).click();
  await page.waitForURL(/\/final-sound\/requests\?delivered=\d+$/, { timeout: 60000 });
  for (const title of Object.keys(posted)) {
    const state = (await page.locator('tr', { hasText: title }).locator('.badge').innerText()).trim();
    assert.match(state, /^(submitted|processed)$/, `${title}: ${state}`);
  }
  const delivered = Number(/delivered=(\d+)/.exec(page.url())[1]);
  const delivery = await call(page, 'GET', `/api/v1/deliveries/${delivered}`);
  for (const f of delivery.data.files) {
    const asset = (await call(page, 'GET', `/api/v1/assets/${f.asset_id}`)).data;
    assert.equal(asset.metadata.reel, 11, `${f.name}: ${JSON.stringify(asset.metadata)}`);
    assert.equal(asset.request_id, posted[f.name === 'r11_me20.wav' ? 'M&E 2.0, reel to follow (guide)' : 'Reel 11 printmaster 5.1 (guide)']);
  }

  // "Drag and drop files onto a bucket": the Sound Materials card on the project page.
  const foley = [join(work, 'r11_foley_steps.wav'), join(work, 'r11_foley_cloth.wav')];
  foley.forEach((f, i) => writeFileSync(f, Buffer.alloc(30_000 + i, 20 + i)));
  await page.goto(`${hub.base}/projects/1`);
  await dropPaths(page, 'section.bucket[data-slug="sound-materials"]', foley);
  await page.waitForURL(/\/sound-materials\/upload$/);
  await page.locator('#rows tr', { hasText: 'r11_foley_cloth.wav' }).waitFor();
  await page.locator('#meta-form').getByLabel(/^Type/).selectOption('foley');
  await page.getByRole('button', { name: 'Apply to all 2 rows' }).click();
  await page.getByRole('button', { name: 'DELIVER' }).click();
  await page.waitForURL(/\/sound-materials\?delivered=\d+$/, { timeout: 60000 });
  // "Select multiple files and Edit under BULK ACTIONS."
  for (const f of ['r11_foley_steps.wav', 'r11_foley_cloth.wav']) await page.getByLabel(`Select ${f}`).check();
  const bulk = page.getByRole('toolbar', { name: 'Bulk actions for the selected assets' });
  await bulk.getByRole('button', { name: 'Edit' }).click();
  await page.locator('#bulk-form').getByLabel('Episode').fill('101');
  const answered = page.waitForResponse((r) => r.request().method() === 'PATCH');
  const reloaded = page.waitForEvent('load');
  await page.locator('#bulk-form').getByRole('button', { name: 'Apply to selected' }).click();
  assert.equal((await answered).status(), 200);
  await reloaded; // the page shows what the hub now has
  const listed = await call(page, 'GET', '/api/v1/projects/1/buckets/sound-materials/assets?q=r11_foley&limit=10');
  assert.equal(listed.data.items.length, 2);
  for (const asset of listed.data.items) assert.deepEqual(asset.metadata, { type: 'foley', episode: '101' }, asset.name);
  await page.close();
});

// How long the page's own tasks run for such a folder is measured by bench_folder.mjs (a
// benchmark against a small folder in the same run), not asserted here.
test('a folder of 30,000 frames, picked or dropped, makes one package row; a drop shows its progress while it is read', async () => {
  const work = mkdtempSync(join(tmpdir(), 'contenthub-ui-30k-'));
  const folder = frameFolder(work, 'r1_frames', 30000, 16);
  let page = await browser.newPage();
  await signIn(page, 'lab', demoPassword(hub, 'lab'), '/projects/1/buckets/picture-deliverables/upload');
  await page.waitForURL(/\/upload$/);
  await page.locator('#pick-folder').setInputFiles(folder);
  await page.getByText('package · 30001 files').waitFor({ timeout: 120000 });
  assert.equal(await page.locator('#rows tr').count(), 1, 'one package row, not 30,001');

  // The same folder dragged onto the page, through Chromium's own drag-and-drop input (what a file
  // manager hands over): the page reads the folder with the entries API, a batch at a time, and
  // says how far it got. A new tab, so that nothing of the files picked above is still collected.
  const url = page.url();
  await page.close();
  page = await browser.newPage();
  await page.goto(url);
  await dropPaths(page, '#drop', [folder]);
  // A count part way through, seen between animation frames: the page draws while it reads.
  await page.waitForFunction(() => {
    const found = /^Reading r1_frames… (\d+) files so far$/.exec(document.getElementById('reading').textContent);
    return found && !document.getElementById('reading').hidden && Number(found[1]) > 0 && Number(found[1]) < 30001;
  }, null, { timeout: 60000 });
  await page.getByText('package · 30001 files').waitFor({ timeout: 120000 });
  assert.equal(await page.locator('#rows tr').count(), 1, 'one package row, not 30,001');
  assert.ok(await page.locator('#reading').isHidden(), 'the progress line goes once the folder is read');
  await page.close();
});

test('request fulfilment, end to end: requests view → Upload Assets → source delivery → DELIVER → Submitted; the studio accepts or asks again', async () => {
  const work = mkdtempSync(join(tmpdir(), 'contenthub-ui-request-'));
  const stems = join(work, 'r4_pm51_en.wav');
  writeFileSync(stems, Buffer.alloc(300_000, 7));
  const page = await browser.newPage();
  // 1–2: the vendor signs in and opens the project.
  await signIn(page, 'soundhouse', demoPassword(hub, 'soundhouse'));
  await page.getByRole('link', { name: 'Demo Feature' }).click();
  // 3: Final Sound's open requests.
  await page.locator('section.card', { hasText: 'Final Sound' }).getByRole('link', { name: /open requests?$/ }).click();
  await page.waitForURL(/\/final-sound\/requests$/);
  // 4: the filter bar.
  await page.getByLabel('State').selectOption('open');
  await page.getByRole('button', { name: 'Apply' }).click();
  await page.waitForURL(/state=open/);
  await page.screenshot({ path: join(SHOTS, 'requests.png'), fullPage: true });
  // 5–6: check the printmaster request, Upload Assets.
  await page.getByLabel('Select Reel 4 printmaster 5.1 (English)').check();
  await page.getByRole('button', { name: 'Upload Assets' }).click();
  await page.waitForURL(/\/final-sound\/upload\?requests=\d+$/);
  // 7–8: the file takes the request and the metadata the request needs.
  await page.locator('#pick-files').setInputFiles([stems]);
  const row = page.locator('#rows tr').first();
  assert.equal(await row.locator('select.req option:checked').innerText(), 'Reel 4 printmaster 5.1 (English)');
  const tags = (await rowTags(row)).sort();
  assert.deepEqual(tags, ['format=5.1', 'language=en', 'mix_type=printmaster', 'reel=4']);
  await page.screenshot({ path: join(SHOTS, 'source-delivery-ready.png'), fullPage: true });
  // 9: DELIVER.
  await page.getByRole('button', { name: 'DELIVER' }).click();
  // 10: back on the requests view, the request is Submitted (or already Processed).
  await page.waitForURL(/\/final-sound\/requests\?delivered=\d+$/, { timeout: 60000 });
  const stateOf = async (p, title) => (await p.locator('tr', { hasText: title }).locator('.badge').innerText()).trim();
  assert.match(await stateOf(page, 'Reel 4 printmaster'), /^(submitted|processed)$/);
  await page.close();

  // The studio: once validation has made it Processed, accept it; ask for the M&E again.
  const studio = await browser.newPage();
  await signIn(studio, 'studio', demoPassword(hub, 'studio'), '/projects/1/buckets/final-sound/requests');
  await studio.waitForURL(/\/requests$/);
  await reloadUntil(studio, () => stateOf(studio, 'Reel 4 printmaster'), (s) => s === 'processed', 60,
    () => 'the delivered file was never validated');
  await studio.locator('tr', { hasText: 'Reel 4 printmaster' }).getByRole('button', { name: 'Accept' }).click();
  await studio.locator('tr', { hasText: 'Reel 4 printmaster' }).locator('.badge', { hasText: 'accepted' }).waitFor();
  studio.once('dialog', (dialog) => dialog.accept('the printmaster clips at 01:02:03; deliver it again'));
  await studio.locator('tr', { hasText: 'Reel 4 printmaster' }).getByRole('button', { name: 'Ask for redelivery' }).click();
  await studio.locator('tr', { hasText: 'Reel 4 printmaster' }).locator('.badge', { hasText: 'redelivery' }).waitFor();
  assert.match(await studio.locator('tr', { hasText: 'Reel 4 printmaster' }).innerText(), /clips at 01:02:03/);
  await studio.close();
});

test('choosing another request for a row replaces the first one\'s metadata, and what is delivered is stored so (issue 13, bug 1)', async () => {
  const work = mkdtempSync(join(tmpdir(), 'contenthub-ui-switch-'));
  const file = join(work, 'r7_me51.wav');
  writeFileSync(file, Buffer.alloc(200_000, 3));
  // The studio posts two requests: one with a language, one without.
  const studio = await browser.newPage();
  await signIn(studio, 'studio', demoPassword(hub, 'studio'), '/projects/1');
  const made = [];
  for (const [title, metadata] of [
    ['Reel 7 stems 5.1 (German)', { reel: 7, mix_type: 'stems', format: '5.1', language: 'de' }],
    ['Reel 7 M&E 5.1', { reel: 7, mix_type: 'M&E', format: '5.1' }],
  ]) {
    const answer = await call(studio, 'POST', '/api/v1/projects/1/buckets/final-sound/requests', json({ title, metadata }));
    assert.equal(answer.status, 201, JSON.stringify(answer.data));
    made.push(answer.data.id);
  }
  await studio.close();
  const page = await browser.newPage();
  await signIn(page, 'soundhouse', demoPassword(hub, 'soundhouse'), `/projects/1/buckets/final-sound/upload?requests=${made.join(',')}`);
  await page.locator('#pick-files').setInputFiles([file]);
  const row = page.locator('#rows tr').first();
  // The table is redrawn on the next frame: wait for the row to say what is expected.
  const tags = async (want) => {
    let got = [];
    for (let i = 0; i < 100; i++) {
      got = (await rowTags(row)).sort();
      if (JSON.stringify(got) === JSON.stringify(want)) break;
      await page.waitForTimeout(50);
    }
    return got;
  };
  await row.locator('select.req').selectOption({ label: 'Reel 7 stems 5.1 (German)' });
  const german = ['format=5.1', 'language=de', 'mix_type=stems', 'reel=7'];
  assert.deepEqual(await tags(german), german);
  await row.locator('select.req').selectOption({ label: 'Reel 7 M&E 5.1' });
  const me = ['format=5.1', 'mix_type=M&E', 'reel=7'];
  assert.deepEqual(await tags(me), me, 'the German request\'s language is gone');
  await page.getByRole('button', { name: 'DELIVER' }).click();
  await page.waitForURL(/delivered=\d+/, { timeout: 60000 });
  const delivery = Number(/delivered=(\d+)/.exec(page.url())[1]);
  const stored = await call(page, 'GET', `/api/v1/deliveries/${delivery}`);
  const asset = await call(page, 'GET', `/api/v1/assets/${stored.data.files[0].asset_id}`);
  assert.equal(asset.data.request_id, made[1]);
  assert.equal(asset.data.metadata.language, undefined, JSON.stringify(asset.data.metadata));
  assert.equal(asset.data.metadata.mix_type, 'M&E');
  await page.close();
});

test('managers: create a request, edit it (a bad value changes nothing), reject it with a reason, reopen it; a vendor may not', async () => {
  const page = await browser.newPage();
  await signIn(page, 'studio', demoPassword(hub, 'studio'), '/projects/1/buckets/final-sound/requests');
  await page.waitForURL(/\/requests$/);
  await page.getByText('New request').click();
  const form = page.locator('#new-request');
  await form.locator('input[name="title"]').fill('Reel 6 stems');
  await form.locator('[name="reel"]').fill('6');
  await form.locator('[name="mix_type"]').selectOption('stems');
  await form.getByRole('button', { name: 'Create request' }).click();
  const created = page.locator('tr', { hasText: 'Reel 6 stems' });
  await created.waitFor();
  assert.match(await created.innerText(), /mix_type=stems, reel=6|reel=6, mix_type=stems/);
  const id = await created.getAttribute('data-request');

  await created.getByRole('button', { name: 'Edit' }).click();
  assert.equal(await form.locator('input[name="title"]').inputValue(), 'Reel 6 stems');
  assert.equal(await form.locator('[name="reel"]').inputValue(), '6');
  await form.locator('input[name="title"]').fill('Reel 6 stems, 5.1');
  await form.locator('[name="format"]').selectOption('5.1');
  await form.getByRole('button', { name: 'Save changes' }).click();
  const row = page.locator(`tr[data-request="${id}"]`);
  await row.filter({ hasText: 'Reel 6 stems, 5.1' }).waitFor();
  assert.match(await row.innerText(), /format=5\.1/);

  await row.getByRole('button', { name: 'Edit' }).click();
  await form.locator('[name="reel"]').fill('six');
  await form.getByRole('button', { name: 'Save changes' }).click();
  assert.match(await page.getByRole('alert').innerText(), /reel/);
  await page.reload();
  assert.match(await row.innerText(), /reel=6/, 'the refused edit changed nothing');

  page.once('dialog', (dialog) => dialog.accept('wrong reel: these are reel 5 stems'));
  await row.getByRole('button', { name: 'Reject' }).click();
  await row.locator('.badge', { hasText: 'rejected' }).waitFor();
  assert.match(await row.innerText(), /reel 5 stems/);
  await page.screenshot({ path: join(SHOTS, 'requests-manager.png'), fullPage: true });
  await row.getByRole('button', { name: 'Reopen' }).click();
  await row.locator('.badge', { hasText: 'open' }).waitFor();

  // The vendor sees the request but no way to change it, and the API refuses the change.
  await signIn(page, 'soundhouse', demoPassword(hub, 'soundhouse'), '/projects/1/buckets/final-sound/requests');
  await page.waitForURL(/\/requests$/);
  await row.waitFor();
  assert.equal(await page.getByRole('button', { name: 'Edit' }).count(), 0);
  assert.equal(await page.getByText('New request').count(), 0);
  // Refused as not theirs to change (not as a missing CSRF token, which is 403 too).
  const refused = await call(page, 'PATCH', `/api/v1/requests/${id}`, json({ title: 'mine now' }));
  assert.deepEqual([refused.status, refused.data?.code], [403, 'forbidden']);
  const request = await call(page, 'GET', `/api/v1/requests/${id}`);
  assert.equal(request.data.title, 'Reel 6 stems, 5.1', 'the title stays');
  await page.close();
});

test('browse: select many assets, Bulk actions → edit metadata for all of them; a bad value changes nothing', async () => {
  const page = await browser.newPage();
  await signIn(page, 'studio', demoPassword(hub, 'studio'), '/projects/1/buckets/final-sound?q=DEMO_R');
  await page.waitForURL(/final-sound\?q=DEMO_R/);
  const names = ['DEMO_R1_PM51_EN.wav', 'DEMO_R2_PM51_EN.wav'];
  const ids = [];
  for (const name of names) ids.push(await page.getByLabel(`Select ${name}`).getAttribute('value'));
  // What the hub has for each of them, read back through the API.
  const stored = async () => {
    const all = [];
    for (const id of ids) {
      const asset = await call(page, 'GET', `/api/v1/assets/${id}`);
      assert.equal(asset.status, 200);
      all.push(asset.data.metadata);
    }
    return all;
  };
  // Apply to selected: the hub's answer to the bulk PATCH, then the page reloads with what it has.
  const apply = async () => {
    const answered = page.waitForResponse((r) => r.request().method() === 'PATCH' && r.url().endsWith('/buckets/final-sound/assets'));
    await page.getByRole('button', { name: 'Apply to selected' }).click();
    return answered;
  };

  // The guide's words: select multiple files, then Edit under BULK ACTIONS (issue 13, item 7) — a
  // visible menu whose actions wait for a selection.
  const bulk = page.getByRole('toolbar', { name: 'Bulk actions for the selected assets' });
  assert.equal(await bulk.getByRole('button', { name: 'Edit' }).isDisabled(), true, 'nothing selected yet');
  for (const name of names) await page.getByLabel(`Select ${name}`).check();
  assert.equal(await page.locator('#selected-count').innerText(), '2');
  for (const action of ['Edit', 'Download', 'Revalidate', 'Delete']) {
    assert.equal(await bulk.getByRole('button', { name: action }).isEnabled(), true, `${action} is there for a manager`);
  }
  await bulk.getByRole('button', { name: 'Download' }).click();
  assert.deepEqual(await page.locator('#bulk-result a').allInnerTexts(), names, 'a download link for each');
  await bulk.getByRole('button', { name: 'Edit' }).click();
  await page.locator('#bulk-form').getByLabel('Language').fill('fr');
  await page.screenshot({ path: join(SHOTS, 'bulk-edit.png'), fullPage: true });
  const reloaded = page.waitForEvent('load');
  assert.equal((await apply()).status(), 200);
  await reloaded;
  const languages = await page.locator('tbody tr').evaluateAll((rows) =>
    rows.map((r) => [r.cells[1].innerText.trim(), r.cells[8].innerText.trim()]));
  assert.deepEqual(languages.filter(([name]) => names.includes(name)).map(([, l]) => l), ['fr', 'fr']);
  const edited = await stored();
  assert.deepEqual(edited.map((m) => [m.language, m.reel]), [['fr', 1], ['fr', 2]], 'only the language changed');

  // All or nothing: a good value (language) and a bad one (reel 400 is out of range) for both
  // assets; the hub refuses the lot, and neither asset changes at all.
  for (const name of names) await page.getByLabel(`Select ${name}`).check();
  await bulk.getByRole('button', { name: 'Edit' }).click();
  assert.equal(await page.locator('#selected-count').innerText(), '2');
  await page.locator('#bulk-form').getByLabel('Language').fill('de');
  await page.locator('#bulk-form').getByLabel('Reel').fill('400');
  const refused = await apply();
  assert.equal(refused.status(), 422);
  await page.getByText(/Nothing changed/).waitFor();
  assert.match(await page.locator('#bulk-result').innerText(), /reel/i);
  assert.deepEqual(await stored(), edited, 'the refused edit changed nothing on either asset');
  await page.reload();
  const after = await page.locator('tbody tr').evaluateAll((rows) =>
    rows.map((r) => [r.cells[1].innerText.trim(), r.cells[8].innerText.trim()]));
  assert.deepEqual(after.filter(([name]) => names.includes(name)).map(([, l]) => l), ['fr', 'fr']);
  await page.close();
});

test('transfers: an upload cut short by a reload resumes from the hub offset once the file is chosen again', async () => {
  const work = mkdtempSync(join(tmpdir(), 'contenthub-ui-resume-'));
  const file = join(work, 'r4_me51.wav');
  writeFileSync(file, Buffer.alloc(24 * 1024 * 1024 + 5, 3));
  const page = await browser.newPage();
  await signIn(page, 'soundhouse', demoPassword(hub, 'soundhouse'), '/projects/1/buckets/final-sound/upload?requests=2');
  await page.waitForURL(/upload\?requests=2$/);
  // Let the first PATCH through and hold every later one, as a stalled network would.
  let patches = 0;
  await page.route('**/api/v1/uploads/**', (route) => {
    if (route.request().method() === 'PATCH' && ++patches > 1) return; // never answered
    return route.continue();
  });
  await page.locator('#pick-files').setInputFiles([file]);
  await page.getByRole('button', { name: 'DELIVER' }).click();
  await page.waitForFunction(() => document.querySelector('#overall').value >= 8 * 1024 * 1024, null, { timeout: 30000 });
  assert.match(await page.locator('#overall-text').innerText(), /acknowledged by the hub · [\d.]+ [KMG]iB\/s · about .* left/);
  // Reloaded while the held PATCH still hangs (the reload cancels it), and only then let PATCHes
  // through again: taken away first, the route may let the held one go on before the reload.
  await page.reload();
  await page.unroute('**/api/v1/uploads/**');

  await page.getByRole('link', { name: 'Transfers' }).click();
  await page.waitForURL(/\/transfers$/);
  const delivery = page.locator('section[data-delivery]', { hasText: 'r4_me51.wav' });
  assert.equal(await delivery.count(), 1, 'one delivery of this file');
  const deliveryId = await delivery.getAttribute('data-delivery');
  // At least the first chunk; maybe part of the one cut short (the hub keeps what arrived).
  const acknowledged = Number(/([\d.]+) MiB of 24 MiB acknowledged/.exec(await delivery.innerText())[1]);
  assert.ok(acknowledged >= 8 && acknowledged < 24, `${acknowledged} MiB acknowledged`);
  await page.screenshot({ path: join(SHOTS, 'transfers.png'), fullPage: true });
  await delivery.getByRole('link', { name: 'Resume' }).click();
  await page.waitForURL(/upload\?delivery=\d+$/);
  assert.match(await page.locator('#rows').innerText(), /choose it again/);
  const offsets = [];
  page.on('request', (r) => { if (r.method() === 'PATCH') offsets.push(Number(r.headers()['upload-offset'])); });
  await page.locator('#pick-files').setInputFiles([file]);
  await page.getByRole('button', { name: 'DELIVER' }).click();
  await page.waitForURL(/\/requests\?delivered=\d+$/, { timeout: 60000 });
  assert.ok(offsets.length > 0 && offsets[0] >= 8 * 1024 * 1024, `resumed at ${offsets[0]}, not from the start`);
  await page.goto(`${hub.base}/transfers`);
  assert.match(await page.locator(`section[data-delivery="${deliveryId}"] .head`).innerText(), /\bdelivered\b/);
  await page.close();
});

test('a big file goes up from the page as parallel pieces the hub writes in place; after a reload the same pieces continue, and the file is Valid with its md5 (issue 14, item 2)', async () => {
  const work = mkdtempSync(join(tmpdir(), 'contenthub-ui-pieces-'));
  const file = join(work, 'r9_pieces.bin');
  // 300 MiB that do not repeat: each MiB numbered.
  const block = Buffer.alloc(1 << 20);
  for (let i = 0; i < block.length; i++) block[i] = (i * 7919) % 251;
  const md5 = createHash('md5');
  const parts = [];
  for (let i = 0; i < 300; i++) {
    const mib = Buffer.from(block);
    mib.writeUInt32LE(i, 0);
    md5.update(mib);
    parts.push(mib);
  }
  writeFileSync(file, Buffer.concat(parts));
  const expected = md5.digest('hex');
  const page = await browser.newPage();
  // Dailies Bins, as the lab: no request another test may have fulfilled meanwhile.
  await signIn(page, 'lab', demoPassword(hub, 'lab'), '/projects/1/buckets/dailies-bins/upload');
  await page.waitForURL(/dailies-bins\/upload$/);
  // Pieces are made by naming the file's upload (`whole`); what the hub answers is recorded.
  const made = [];
  const offsets = {};
  page.on('response', (r) => {
    const request = r.request();
    if (request.method() === 'POST' && /\/api\/v1\/uploads$/.test(request.url()) && /(^|,)whole /.test(request.headers()['upload-metadata'] || '')) {
      made.push(r.headers().location);
    }
  });
  page.on('request', (r) => {
    if (r.method() !== 'PATCH') return;
    const id = r.url().split('/').pop();
    (offsets[id] = offsets[id] || []).push(Number(r.headers()['upload-offset']));
  });
  // Each piece's first PATCH goes through; every later one is held, as a stalled network would.
  const seen = {};
  await page.route('**/api/v1/uploads/**', (route) => {
    const url = route.request().url();
    if (route.request().method() === 'PATCH' && (seen[url] = (seen[url] || 0) + 1) > 1) return;
    return route.continue();
  });
  await page.locator('#pick-files').setInputFiles([file]);
  await page.getByLabel('Shoot day *', { exact: true }).fill('2026-11-30');
  await page.getByRole('button', { name: /^Apply to/ }).click();
  await page.getByRole('button', { name: 'DELIVER' }).click();
  await page.waitForFunction(() => document.querySelector('#overall').value >= 32 * 1024 * 1024, null, { timeout: 60000 });
  assert.equal(made.length, 4, `four pieces, not ${made.length}`);
  const first = made.map((url) => new URL(url, hub.base).pathname).sort();
  await page.reload();
  await page.unroute('**/api/v1/uploads/**');
  for (const id of Object.keys(offsets)) delete offsets[id];
  made.length = 0;

  await page.getByRole('link', { name: 'Transfers' }).click();
  const delivery = page.locator('section[data-delivery]', { hasText: 'r9_pieces.bin' }).first();
  const deliveryId = await delivery.getAttribute('data-delivery');
  await delivery.getByRole('link', { name: 'Resume' }).click();
  await page.waitForURL(/upload\?delivery=\d+$/);
  await page.locator('#pick-files').setInputFiles([file]);
  await page.getByRole('button', { name: 'DELIVER' }).click();
  await page.waitForURL(/delivered=\d+$/, { timeout: 120000 });
  assert.deepEqual(made.map((url) => new URL(url, hub.base).pathname).sort(), first, 'the same pieces, continued');
  for (const [id, sent] of Object.entries(offsets)) {
    assert.ok(Math.min(...sent) >= 8 * 1024 * 1024, `piece ${id} continued from the hub's offset, not from its start: ${sent}`);
  }
  const view = await call(page, 'GET', `/api/v1/deliveries/${deliveryId}`);
  const assetId = view.data.files.find((f) => f.name === 'r9_pieces.bin').asset_id;
  let asset;
  for (let i = 0; i < 240; i++) {
    asset = (await call(page, 'GET', `/api/v1/assets/${assetId}`)).data;
    if (asset.state === 'valid' || asset.state === 'invalid') break;
    await new Promise((r) => setTimeout(r, 500));
  }
  assert.equal(asset.state, 'valid', JSON.stringify(asset));
  const report = JSON.stringify((await call(page, 'GET', `/api/v1/assets/${assetId}/validation`)).data);
  assert.ok(report.includes(`md5 ${expected}`), `the file the pieces made is the file chosen: ${report}`);
  await page.close();
});

test('transfers, live: while another tab uploads, rate and time left follow the hub; the log tells what happened; a vendor does not see it', async () => {
  const work = mkdtempSync(join(tmpdir(), 'contenthub-ui-live-'));
  const file = join(work, 'sh040_notes.txt');
  writeFileSync(file, Buffer.alloc(40 * 1024 * 1024, 'a'));
  // A vendor who works in VFX too: the bucket is theirs to see, the studio's delivery is not.
  const vendor = 'vfxhouse_live';
  const vendorPassword = addPerson(vendor, 'contributor', 'vfx');
  const uploader = await browser.newPage();
  await signIn(uploader, 'studio', demoPassword(hub, 'studio'), '/projects/1/buckets/vfx/upload');
  await uploader.waitForURL(/\/buckets\/vfx\/upload$/);
  // Each chunk waits a while before it leaves, as on a slow line: slow enough to watch.
  await uploader.route('**/api/v1/uploads/**', async (route) => {
    if (route.request().method() === 'PATCH') await new Promise((r) => setTimeout(r, 1500));
    return route.continue();
  });
  await uploader.locator('#pick-files').setInputFiles([file]);
  await uploader.getByLabel('Shot *').fill('sh040');
  await uploader.getByLabel('Version *').fill('1');
  await uploader.getByRole('button', { name: /^Apply to/ }).click();
  const declaring = uploader.waitForResponse((r) => r.request().method() === 'POST' && r.url().endsWith('/api/v1/projects/1/deliveries'));
  await uploader.getByRole('button', { name: 'DELIVER' }).click();
  const declared = await declaring;
  assert.equal(declared.status(), 201);
  const { id: deliveryId, files: [{ upload }] } = await declared.json();
  const id = String(deliveryId);
  assert.match(upload, /^\/api\/v1\/uploads\/[^/]+$/);

  // Another tab of the same person: the transfers page follows the upload live.
  const watcher = await browser.newPage();
  await watcher.goto(`${hub.base}/transfers`);
  const live = watcher.locator(`section[data-delivery="${id}"][data-open="true"]`);
  await reloadUntil(watcher, () => live.count(), (n) => n === 1, 30, () => `delivery ${id} is not listed as open on /transfers`);
  const activity = live.locator('tr', { hasText: 'sh040_notes.txt' }).locator('.activity');
  await activity.filter({ hasText: /running/ }).waitFor({ timeout: 30000 });
  assert.match(await activity.innerText(), /^running · [\d.]+ [KMG]iB\/s · about .* left$/);
  assert.match(await live.locator('.pace').innerText(), /[KMG]iB\/s · about .* left/);
  await watcher.screenshot({ path: join(SHOTS, 'transfers-live.png'), fullPage: true });

  // A client sends a chunk that does not match its checksum, at the offset the hub has: refused
  // with 460, and the log says why. (From a tab of its own, so that the live page reloading
  // cannot cut it short.) The real upload goes on meanwhile; when it moved between the HEAD and
  // the PATCH (409: another offset, or its PATCH under way), ask again -- a few times only: the
  // hub logs at most 20 refused chunks per file.
  const rogue = await browser.newPage();
  await rogue.goto(`${hub.base}/`);
  const tries = [];
  for (;;) {
    const head = await call(rogue, 'HEAD', upload, { headers: { 'Tus-Resumable': '1.0.0' } });
    assert.equal(head.status, 200, `HEAD ${upload}`);
    assert.ok(Number(head.offset) < Number(head.length), `the upload finished before a bad chunk got in: ${JSON.stringify(tries)}`);
    const sent = await call(rogue, 'PATCH', upload, {
      headers: {
        'Tus-Resumable': '1.0.0', 'Content-Type': 'application/offset+octet-stream',
        'Upload-Offset': head.offset, 'Upload-Checksum': 'crc32 AAAAAA==',
      },
      body: 'not what was promised',
    });
    tries.push({ offset: Number(head.offset), status: sent.status, code: sent.data?.code });
    if (sent.status !== 409 || tries.length === 10) break;
    // Again once the hub's offset has moved on: now, or when the real upload's chunk lands.
    const landed = uploader.waitForResponse((r) => r.request().method() === 'PATCH' && r.url().endsWith(upload), { timeout: 30000 });
    landed.catch(() => {}); // not needed when the offset moved already
    if ((await call(rogue, 'HEAD', upload, { headers: { 'Tus-Resumable': '1.0.0' } })).offset === head.offset) await landed;
  }
  const last = tries.at(-1);
  assert.deepEqual([last.status, last.code], [460, 'checksum_mismatch'], `the bad chunk: ${JSON.stringify(tries)}`);
  assert.ok(tries.slice(0, -1).every((t) => t.status === 409), JSON.stringify(tries));
  await rogue.close();

  // DELIVER in the other tab: this page notices and shows the delivery done, with each file's log.
  await uploader.waitForURL(/\/buckets\/vfx\?delivered=\d+$/, { timeout: 90000 });
  const done = watcher.locator(`section[data-delivery="${id}"]`);
  await done.locator('.badge', { hasText: 'delivered' }).waitFor({ timeout: 15000 });
  const log = done.locator('details.log');
  await log.locator('summary').click();
  const lines = await log.innerText();
  assert.match(lines, /delivery created/);
  assert.match(lines, new RegExp(`transfer error .*a chunk at byte ${last.offset} was refused \\(460\\)`));
  assert.match(lines, /transfer complete .*all 41943040 bytes received/);
  assert.match(lines, /delivered/);
  await watcher.screenshot({ path: join(SHOTS, 'transfers-log.png'), fullPage: true });
  await uploader.close();

  // The studio (its maker) can read the delivery and its upload: the addresses are right.
  assert.equal((await call(watcher, 'GET', `/api/v1/deliveries/${id}`)).status, 200);
  assert.equal((await call(watcher, 'HEAD', upload, { headers: { 'Tus-Resumable': '1.0.0' } })).status, 200);

  // A vendor who works in the same bucket: they see the bucket and the asset in it, but not the
  // studio's delivery, on the transfers page or through the API, nor its upload.
  await signIn(watcher, vendor, vendorPassword, '/projects/1/buckets/vfx');
  await watcher.waitForURL(/\/buckets\/vfx$/);
  assert.equal(await watcher.locator('h1').innerText(), 'VFX', 'the vendor sees the bucket');
  assert.equal(await watcher.locator('tbody tr', { hasText: 'sh040_notes.txt' }).count(), 1, 'and the delivered asset in it');
  await watcher.goto(`${hub.base}/transfers`);
  assert.equal(await watcher.locator('h1').innerText(), 'Transfers');
  assert.equal(await watcher.locator(`section[data-delivery="${id}"]`).count(), 0);
  assert.ok(!(await watcher.content()).includes('sh040_notes.txt'), 'nothing of the delivery shows');
  const denied = await call(watcher, 'GET', `/api/v1/deliveries/${id}`);
  assert.deepEqual([denied.status, denied.data?.code], [404, 'not_found'], 'GET the delivery');
  const head = await call(watcher, 'HEAD', upload, { headers: { 'Tus-Resumable': '1.0.0' } });
  assert.equal(head.status, 404, 'HEAD its upload');
  const patch = await call(watcher, 'PATCH', upload, {
    headers: { 'Tus-Resumable': '1.0.0', 'Content-Type': 'application/offset+octet-stream', 'Upload-Offset': '41943040' },
    body: 'more',
  });
  assert.deepEqual([patch.status, patch.data?.code], [404, 'not_found'], 'PATCH its upload');
  const removed = await call(watcher, 'DELETE', upload, { headers: { 'Tus-Resumable': '1.0.0' } });
  assert.deepEqual([removed.status, removed.data?.code], [404, 'not_found'], 'DELETE its upload');
  await watcher.close();
});

test('managers: add a member scoped to a bucket, change their role, remove them; a vendor may not', async () => {
  const person = 'freelancer_members';
  execFileSync(BIN, ['admin', 'create-user', person, '--data-dir', dataDir]);
  const page = await browser.newPage();
  await signIn(page, 'studio', demoPassword(hub, 'studio'), '/projects/1');
  await page.getByRole('link', { name: 'Members' }).click();
  await page.waitForURL(/\/projects\/1\/members$/);
  // What the hub has for the person: their membership, or undefined.
  const membership = async () => {
    const members = await call(page, 'GET', '/api/v1/projects/1/members');
    assert.equal(members.status, 200);
    const found = members.data.find((m) => m.user.username === person);
    return found && { role: found.role, buckets: found.buckets };
  };
  // Each change: the hub's answer, then the page reloads with what the hub has.
  const change = async (method, action) => {
    const answered = page.waitForResponse((r) => r.request().method() === method && r.url().includes('/api/v1/projects/1/members'));
    const reloaded = page.waitForEvent('load');
    await action();
    const response = await answered;
    if (!response.ok()) assert.fail(`${method}: ${response.status()} ${await page.locator('#problem').innerText()}`);
    await reloaded;
  };
  const row = page.locator('tbody tr', { hasText: person });

  const form = page.locator('#add-member');
  await form.getByLabel('User name').fill(person);
  await form.getByLabel('Music').check();
  await change('POST', () => form.getByRole('button', { name: 'Add' }).click());
  assert.match(await row.innerText(), /Music/);
  assert.equal(await row.locator('select.role').inputValue(), 'contributor');
  assert.deepEqual(await membership(), { role: 'contributor', buckets: ['music'] });
  await page.screenshot({ path: join(SHOTS, 'members.png'), fullPage: true });

  // The new role is the hub's: read back from the API, and from the page loaded afresh.
  await change('PATCH', () => row.locator('select.role').selectOption('viewer'));
  assert.deepEqual(await membership(), { role: 'viewer', buckets: ['music'] }, 'the role changed, the scope stayed');
  await page.reload();
  assert.equal(await row.locator('select.role').inputValue(), 'viewer');
  assert.match(await row.innerText(), /Music/);

  // Their buckets, edited in place (issue 13, item 11): VFX added to Music, the role kept.
  await row.locator('summary').click();
  await row.getByLabel('VFX').check();
  await change('PATCH', () => row.getByRole('button', { name: 'Save buckets' }).click());
  const scoped = await membership();
  assert.deepEqual([scoped.role, [...scoped.buckets].sort()], ['viewer', ['music', 'vfx']]);

  page.once('dialog', (dialog) => dialog.accept());
  await change('DELETE', () => row.getByRole('button', { name: 'Remove' }).click());
  assert.equal(await membership(), undefined, 'the hub no longer lists them');
  await page.reload();
  assert.equal(await row.count(), 0, 'nor does the page');
  await page.close();

  const vendor = await browser.newPage();
  await signIn(vendor, 'soundhouse', demoPassword(hub, 'soundhouse'), '/projects/1/members');
  await vendor.waitForURL(/\/projects\/1\/members$/);
  assert.equal(await vendor.locator('h1').innerText(), 'Not allowed');
  await vendor.close();
});

test('browse as a grid: a tile per asset, with a frame of each valid proxy', async () => {
  // A proxy of its own, delivered and validated.
  const work = mkdtempSync(join(tmpdir(), 'contenthub-ui-grid-'));
  const proxy = join(work, 'sh090_grid_v001.mp4');
  copyFileSync(new URL('../fixtures/sh010_proxy_v001.mp4', import.meta.url).pathname, proxy);
  const page = await browser.newPage();
  await signIn(page, 'studio', demoPassword(hub, 'studio'), '/projects/1/buckets/vfx/upload');
  await page.waitForURL(/\/buckets\/vfx\/upload$/);
  await page.locator('#pick-files').setInputFiles([proxy]);
  await page.getByLabel('Shot *').fill('sh090');
  await page.getByLabel('Version *').fill('1');
  await page.getByRole('button', { name: /^Apply to/ }).click();
  await page.getByRole('button', { name: 'DELIVER' }).click();
  await page.waitForURL(/\/buckets\/vfx\?delivered=\d+$/, { timeout: 60000 });
  await waitForStates(page, `${hub.base}/projects/1/buckets/vfx?q=sh090_grid`, ['sh090_grid_v001.mp4'], 'Valid');

  await page.goto(`${hub.base}/projects/1/buckets/vfx`);
  await page.getByRole('link', { name: 'grid', exact: true }).click();
  await page.waitForURL(/view=grid/);
  const assets = await call(page, 'GET', '/api/v1/projects/1/buckets/vfx/assets?limit=500');
  assert.equal(assets.status, 200);
  assert.equal(await page.locator('#asset-grid .tile').count(), assets.data.items.length, 'a tile per asset');
  const tile = page.locator('#asset-grid .tile', { hasText: 'sh090_grid_v001.mp4' });
  assert.match(await tile.locator('video').getAttribute('src'), /^\/api\/v1\/assets\/\d+\/content/);
  // The frame comes from the proxy itself: the video element loads it.
  await tile.locator('video').evaluate((v) => v.readyState >= 1 || new Promise((resolve, reject) => {
    v.addEventListener('loadedmetadata', resolve, { once: true });
    v.addEventListener('error', () => reject(new Error(`video error ${v.error && v.error.code}`)), { once: true });
  }));
  // A file that is not a valid proxy gets no player.
  const failed = page.locator('#asset-grid .tile', { hasText: 'sh020_comp_v001.mov' });
  assert.equal(await failed.count(), 1);
  assert.equal(await failed.locator('video').count(), 0);
  await page.screenshot({ path: join(SHOTS, 'browse-grid.png'), fullPage: true });
  await page.close();
});

test('transfers: an upload left unfinished expires as Failed Delivery with the reason; "Deliver it again" fulfils the same request and ends Valid', async () => {
  // A hub of its own whose unfinished uploads live two seconds, in a browser profile of its own
  // (cookies do not tell ports apart).
  const dir = mkdtempSync(join(tmpdir(), 'contenthub-ui-expiry-'));
  const brief = await startHub(BIN, join(dir, 'hub'), [], { CONTENTHUB_UPLOAD_LIFETIME_SECONDS: '2' });
  const context = await launch(join(dir, 'profile'));
  try {
    const file = join(dir, 'r4_me51.wav');
    writeFileSync(file, Buffer.alloc(20 * 1024 * 1024 + 7, 5));
    const page = await context.newPage();
    await signIn(page, 'soundhouse', demoPassword(brief, 'soundhouse'), '/projects/1/buckets/final-sound/upload?requests=2', brief);
    await page.waitForURL(/upload\?requests=2$/);
    // The first chunk arrives; the rest never leaves this browser (a laptop closed mid-upload).
    let patches = 0;
    await page.route('**/api/v1/uploads/**', (route) => {
      if (route.request().method() === 'PATCH' && ++patches > 1) return;
      return route.continue();
    });
    await page.locator('#pick-files').setInputFiles([file]);
    const wanted = await page.locator('#rows tr select.req option:checked').innerText();
    await page.getByRole('button', { name: 'DELIVER' }).click();
    await page.waitForFunction(() => document.querySelector('#overall').value >= 8 * 1024 * 1024, null, { timeout: 30000 });
    await page.close();

    // The hub gives up on it: Failed Delivery, and the transfers page says why and what to do.
    const transfers = await context.newPage();
    await transfers.goto(`${brief.base}/transfers`);
    const row = transfers.locator('section[data-delivery] tr', { hasText: 'r4_me51.wav' }).first();
    const told = await reloadUntil(transfers, () => row.innerText(), (t) => /Failed Delivery/.test(t), 30,
      (t) => `never failed: ${t}`);
    // At least the first chunk; maybe part of the one cut short (the hub keeps what arrived).
    const at = /the upload expired at (\d+) of 20971527 bytes; deliver the file again/.exec(told);
    assert.ok(at && Number(at[1]) >= 8 * 1024 * 1024 && Number(at[1]) < 20971527, told);
    assert.match(await row.locator('details.log').innerText(), /transfer failed contenthub the upload expired/);
    const stopped = transfers.locator('section[data-delivery]').first();
    assert.match(await stopped.locator('.head').innerText(), /\bfailed\b/, 'the delivery says it stopped');
    assert.equal(await stopped.getByRole('link', { name: 'Resume' }).count(), 0, 'nothing left to resume');
    await transfers.screenshot({ path: join(SHOTS, 'transfers-failed.png'), fullPage: true });

    // Deliver it again: the same request is already chosen; the new version ends Valid.
    await row.getByRole('link', { name: 'Deliver it again' }).click();
    await transfers.waitForURL(/\/final-sound\/upload\?requests=2$/);
    await transfers.locator('#pick-files').setInputFiles([file]);
    assert.equal(await transfers.locator('#rows tr select.req option:checked').innerText(), wanted);
    await transfers.getByRole('button', { name: 'DELIVER' }).click();
    await transfers.waitForURL(/\/requests\?delivered=\d+$/, { timeout: 60000 });
    await transfers.goto(`${brief.base}/transfers`);
    const again = transfers.locator('section[data-delivery]').first();
    await reloadUntil(transfers, () => again.innerText(), (t) => /\bValid\b/.test(t), 60,
      (t) => `the new version never became Valid: ${t}`);
    assert.match(await transfers.locator('section[data-delivery]').nth(1).innerText(), /Failed Delivery/, 'the failed one stays on record');
  } finally {
    await context.close();
    await stopHub(brief);
  }
});

// ---- accessibility (issue 13, item 13) ----

/// Presses Tab until the focused element is the one `wanted` picks (told its aria-label, text,
/// name, and form id); fails after `max` presses.
async function tabTo(page, wanted, what, max = 80) {
  for (let i = 0; i < max; i++) {
    await page.keyboard.press('Tab');
    const here = await page.evaluate(() => {
      const e = document.activeElement;
      return { label: e.getAttribute('aria-label') || '', text: (e.textContent || '').trim(), name: e.getAttribute('name') || '', form: e.form ? e.form.id : '', id: e.id };
    });
    if (wanted(here)) return;
  }
  assert.fail(`Tab never reached ${what}`);
}

test('the guide\'s flow by keyboard alone: Bucket filter, the header, a request, Upload Assets, choose files, a cell, DELIVER, Bulk actions → Edit', async () => {
  const studio = await browser.newPage();
  await signIn(studio, 'studio', demoPassword(hub, 'studio'), '/projects/1');
  const made = await call(studio, 'POST', '/api/v1/projects/1/buckets/final-sound/requests',
    json({ title: 'Reel 13 stems 2.0 (keyboard)', metadata: { reel: 13, mix_type: 'stems', format: '2.0' } }));
  assert.equal(made.status, 201, JSON.stringify(made.data));
  await studio.close();
  const work = mkdtempSync(join(tmpdir(), 'contenthub-ui-keyboard-'));
  const file = join(work, 'r13_stems20_kb.wav');
  writeFileSync(file, Buffer.alloc(25_000, 13));

  const page = await browser.newPage();
  await signIn(page, 'soundhouse', demoPassword(hub, 'soundhouse'), '/projects/1');
  await page.waitForURL(/\/projects\/1$/);
  await tabTo(page, (e) => e.id === 'bucket-filter', 'the Bucket filter');
  await page.keyboard.type('final');
  await page.keyboard.press('Enter');
  await page.waitForURL(/\?bucket=final$/);
  await tabTo(page, (e) => e.text === 'Final Sound', 'the Final Sound header');
  await page.keyboard.press('Enter');
  await page.waitForURL(/\/final-sound\/requests$/);
  await tabTo(page, (e) => e.label === 'Select Reel 13 stems 2.0 (keyboard)', 'the request\'s box');
  await page.keyboard.press('Space');
  await tabTo(page, (e) => e.text === 'Upload Assets', 'Upload Assets');
  await page.keyboard.press('Enter');
  await page.waitForURL(/\/final-sound\/upload\?requests=\d+$/);
  await page.evaluate(() => document.readyState);
  const choosing = page.waitForEvent('filechooser');
  await tabTo(page, (e) => e.text === 'choose files', '"choose files"');
  await page.keyboard.press('Enter');
  await (await choosing).setFiles([file]);
  await page.locator('#rows tr', { hasText: 'r13_stems20_kb.wav' }).waitFor();
  assert.equal(await page.getByLabel('Request for r13_stems20_kb.wav').locator('option:checked').innerText(), 'Reel 13 stems 2.0 (keyboard)');
  await tabTo(page, (e) => e.label === 'Notes of r13_stems20_kb.wav', 'the Notes cell');
  await page.keyboard.type('typed in its cell');
  await tabTo(page, (e) => e.id === 'deliver', 'DELIVER');
  await page.keyboard.press('Enter');
  await page.waitForURL(/\/final-sound\/requests\?delivered=\d+$/, { timeout: 60000 });

  await page.goto(`${hub.base}/projects/1/buckets/final-sound?q=r13_stems20_kb`);
  await tabTo(page, (e) => e.label === 'Select r13_stems20_kb.wav', 'the asset\'s box');
  await page.keyboard.press('Space');
  await tabTo(page, (e) => e.id === 'bulk-edit', 'Bulk actions → Edit');
  await page.keyboard.press('Enter');
  await tabTo(page, (e) => e.form === 'bulk-form' && e.name === 'language', 'the bulk Language field');
  await page.keyboard.type('fr');
  const reloaded = page.waitForEvent('load');
  await tabTo(page, (e) => e.id === 'bulk-apply', 'Apply to selected');
  await page.keyboard.press('Enter');
  await reloaded;
  const listed = await call(page, 'GET', '/api/v1/projects/1/buckets/final-sound/assets?q=r13_stems20_kb');
  assert.equal(listed.data.items.length, 1);
  assert.deepEqual(listed.data.items[0].metadata,
    { reel: 13, mix_type: 'stems', format: '2.0', notes: 'typed in its cell', language: 'fr' });
  await page.close();
});

const AXE = readFileSync(new URL('./node_modules/axe-core/axe.min.js', import.meta.url), 'utf8');

/// axe-core's serious and critical violations on `page` as it is now, one line each.
async function audit(page, label) {
  // Evaluated through the DevTools protocol: the hub's Content-Security-Policy refuses inline scripts.
  if (!(await page.evaluate(() => typeof window.axe !== 'undefined'))) await page.evaluate(`${AXE}\n;true`);
  const violations = await page.evaluate(async () => (await window.axe.run(document, { resultTypes: ['violations'] })).violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.slice(0, 4).map((n) => n.target.join(' ')).join(' | ')}`));
  // And a picture of each page as audited, for people to look at.
  const file = `page-${label.replace(/[^a-z0-9]+/gi, '-').replace(/^-|-$/g, '').toLowerCase()}.png`;
  await page.screenshot({ path: join(SHOTS, file), fullPage: true });
  return violations.map((v) => `${label}: ${v}`);
}

test('axe-core finds no serious or critical violation on any page', async () => {
  const found = [];
  const page = await browser.newPage();
  await page.goto(`${hub.base}/login`);
  found.push(...await audit(page, 'login'));
  await signIn(page, 'soundhouse', 'not-the-password');
  await page.getByRole('alert').waitFor();
  found.push(...await audit(page, 'login with an error'));

  await signIn(page, 'studio', demoPassword(hub, 'studio'));
  await page.waitForURL(`${hub.base}/`);
  const visit = async (path, label) => {
    await page.goto(`${hub.base}${path}`);
    found.push(...await audit(page, label));
  };
  await visit('/', 'projects');
  await visit('/projects/1', 'project');
  await visit('/projects/1?bucket=zzz', 'project, filtered to nothing');
  await visit('/projects/1/buckets/vfx', 'bucket (table)');
  await page.getByLabel(/^Select /).first().check();
  await page.getByRole('toolbar', { name: 'Bulk actions for the selected assets' }).getByRole('button', { name: 'Edit' }).click();
  found.push(...await audit(page, 'bucket with bulk edit open'));
  await visit('/projects/1/buckets/vfx?view=grid', 'bucket (grid)');
  await visit('/projects/1/buckets/footage', 'footage (API only)');
  await visit('/projects/1/buckets/final-sound/requests', 'requests');
  const assets = await call(page, 'GET', '/api/v1/projects/1/buckets/vfx/assets?limit=100');
  for (const asset of assets.data.items.slice(0, 3)) await visit(`/assets/${asset.id}`, `asset ${asset.name}`);
  const packages = await call(page, 'GET', '/api/v1/projects/1/buckets/dailies-bins/assets?limit=10');
  if (packages.data.items.length) await visit(`/assets/${packages.data.items[0].id}`, 'a package asset');
  await visit('/projects/1/buckets/final-sound/upload', 'source delivery, empty');
  const work = mkdtempSync(join(tmpdir(), 'contenthub-ui-axe-'));
  writeFileSync(join(work, 'r1_pm.wav'), Buffer.alloc(1000, 1));
  await page.locator('#pick-files').setInputFiles([join(work, 'r1_pm.wav')]);
  await page.locator('#rows tr').first().waitFor();
  found.push(...await audit(page, 'source delivery with a row'));
  await page.getByRole('button', { name: 'DELIVER' }).click();
  await page.locator('.row-error').first().waitFor();
  found.push(...await audit(page, 'source delivery with a refused row'));
  await visit('/transfers', 'transfers');
  await visit('/projects/1/members', 'members');
  await visit('/tokens', 'API tokens');
  await visit('/projects/99999', 'not found');
  await page.close();
  assert.deepEqual(found, [], found.join('\n'));
});
