// The browser interface as a person uses it, in Debian's Chromium driven by playwright-core, against
// the real server: sign in (and a wrong password), the projects I belong to and nothing else, a
// project's buckets, browsing and filtering a bucket, an asset page, a session that ended, signing
// out, and a user trying the URLs of a project that is not theirs. Screenshots of each page go to
// artifacts/screenshots/ (git-ignored). Run by scripts/test.sh (CONTENTHUB_TEST_BIN = the server).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { startHub, stopHub, demoPassword } from './hub.mjs';

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

/// Reloads `page` every half second until `done(await read())`, at most `seconds`; returns the
/// last reading, or fails with `failure(reading)`.
async function reloadUntil(page, read, done, seconds, failure) {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const seen = await read();
    if (done(seen)) return seen;
    assert.ok(Date.now() < deadline, failure(seen));
    await page.waitForTimeout(500);
    await page.reload();
  }
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
  assert.match(await finalSound.innerText(), /2 open requests/);
  assert.ok((await page.locator('section.card').count()) >= 9, 'a manager sees every bucket');
  await page.screenshot({ path: join(SHOTS, 'project.png'), fullPage: true });

  // Browse: the state badge links to the bucket filtered by that state.
  await finalSound.getByRole('link', { name: /^Valid \d+/ }).click();
  await page.waitForURL(/buckets\/final-sound\?state=valid/);
  const states = await page.locator('tbody .badge').allInnerTexts();
  assert.ok(states.length > 0 && states.every((s) => s === 'Valid'), `only Valid rows: ${states}`);
  await page.getByLabel('State').selectOption('');
  await page.getByRole('button', { name: 'Apply' }).click();
  await page.waitForLoadState();
  const all = await page.locator('tbody tr').count();
  assert.ok(all > states.length, 'clearing the state filter shows more');
  await page.getByLabel('Name', { exact: true }).fill('no-such-asset-anywhere');
  await page.getByRole('button', { name: 'Apply' }).click();
  await page.getByText('No assets match these filters.').waitFor();
  await page.getByRole('link', { name: 'Clear' }).click();
  await page.waitForLoadState();
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
  const box = await page.locator(selector).boundingBox();
  const at = { x: box.x + box.width / 2, y: box.y + box.height / 2 };
  const cdp = await page.context().newCDPSession(page);
  const data = { items: [], files: paths, dragOperationsMask: 1 };
  for (const type of ['dragEnter', 'dragOver', 'drop']) await cdp.send('Input.dispatchDragEvent', { type, ...at, data });
  await cdp.detach();
}

async function waitForStates(page, url, names, wanted, seconds = 60) {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    await page.goto(url);
    const states = {};
    for (const row of await page.locator('tbody tr').all()) {
      const name = await row.locator('a[href^="/assets/"]').innerText();
      states[name.trim()] = (await row.locator('td.state').innerText()).trim();
    }
    if (names.every((n) => states[n] === wanted)) return states;
    if (Date.now() > deadline) throw new Error(`not all ${wanted}: ${JSON.stringify(states)}`);
    await page.waitForTimeout(500);
  }
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

  // Every row: version 1 and shot sh010; then the notes and the package get their own shots.
  await page.getByLabel('Shot *').fill('sh010');
  await page.getByLabel('Version *').fill('1');
  await page.getByRole('button', { name: 'Apply to selected' }).click();
  await page.getByLabel('Select all rows').uncheck();
  await page.getByLabel('Select sh020_notes.txt').check();
  await page.getByLabel('Shot *').fill('sh020');
  await page.getByLabel('Version *').fill('');
  await page.getByRole('button', { name: 'Apply to selected' }).click();
  await page.getByLabel('Select sh020_notes.txt').uncheck();
  await page.getByLabel('Select sh030_comp_v001').check();
  await page.getByLabel('Shot *').fill('sh030');
  await page.getByRole('button', { name: 'Apply to selected' }).click();
  const metadata = await page.locator('#rows tr td:nth-child(4)').allInnerTexts();
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

test('dropping a folder of 30,000 frames makes one package row and keeps the page responsive', async () => {
  const work = mkdtempSync(join(tmpdir(), 'contenthub-ui-30k-'));
  const folder = frameFolder(work, 'r1_frames', 30000, 16);
  let page = await browser.newPage();
  await page.addInitScript(() => {
    window.__longTasks = [];
    new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) window.__longTasks.push({ start: entry.startTime, duration: entry.duration });
    }).observe({ type: 'longtask', buffered: true });
  });
  await signIn(page, 'lab', demoPassword(hub, 'lab'), '/projects/1/buckets/picture-deliverables/upload');
  await page.waitForURL(/\/upload$/);
  await page.evaluate(() => { window.__longTasks = []; });
  await page.locator('#pick-folder').setInputFiles(folder);
  await page.getByText('package · 30001 files').waitFor({ timeout: 120000 });
  assert.equal(await page.locator('#rows tr').count(), 1, 'one package row, not 30,001');
  // The browser's own file chooser hands 30,001 files to the page in one task before the page
  // sees them (a real drop reads folders lazily instead); what is measured is the page's work:
  // its change handler up to its first yield, and every task after that.
  const timing = await page.evaluate(() => {
    const picked = performance.getEntriesByName('contenthub:picked')[0].startTime;
    const yielded = performance.getEntriesByName('contenthub:yielded')[0].startTime;
    const after = window.__longTasks.filter((t) => t.start >= yielded).map((t) => t.duration);
    const chooser = Math.max(0, ...window.__longTasks.filter((t) => t.start < picked).map((t) => t.duration));
    return { handler: yielded - picked, longestAfter: Math.max(0, ...after), chooser };
  });
  console.log(
    `30,001 files: page handler ${timing.handler.toFixed(0)} ms before yielding, longest task after ` +
      `${timing.longestAfter.toFixed(0)} ms (the browser's file chooser itself: ${timing.chooser.toFixed(0)} ms)`,
  );
  assert.ok(timing.handler <= 200, `the change handler ran ${timing.handler} ms before yielding`);
  assert.ok(timing.longestAfter <= 200, `a main-thread task took ${timing.longestAfter} ms`);

  // The same folder dragged onto the page, through Chromium's own drag-and-drop input (what a file
  // manager hands over): the page reads the folder with the entries API, a batch at a time. A new
  // tab, so that nothing of the 30,001 files picked above is still being collected.
  const url = page.url();
  await page.close();
  page = await browser.newPage();
  await page.goto(url);
  await page.evaluate(() => { window.__longTasks = []; performance.mark('contenthub:drop'); });
  const droppedAt = Date.now();
  await dropPaths(page, '#drop', [folder]);
  await page.getByRole('status').filter({ hasText: /Reading r1_frames… \d+ files so far/ }).waitFor();
  await page.getByText('package · 30001 files').waitFor({ timeout: 120000 });
  const readIn = (Date.now() - droppedAt) / 1000;
  assert.equal(await page.locator('#rows tr').count(), 1, 'one package row, not 30,001');
  const { dropped, tasks } = await page.evaluate(() => {
    const at = performance.getEntriesByName('contenthub:drop')[0].startTime;
    const tasks = window.__longTasks.filter((t) => t.start >= at);
    return { dropped: Math.max(0, ...tasks.map((t) => t.duration)), tasks: tasks.map((t) => [Math.round(t.start - at), Math.round(t.duration)]) };
  });
  if (dropped > 200) console.log(`long tasks after the drop (start ms, duration ms): ${JSON.stringify(tasks)}`);
  console.log(`30,001 files dropped: read in ${readIn.toFixed(1)} s, longest main-thread task ${dropped.toFixed(0)} ms`);
  assert.ok(dropped <= 200, `a main-thread task took ${dropped} ms after the drop`);
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
  await page.locator('section.card', { hasText: 'Final Sound' }).getByRole('link', { name: /open requests/ }).click();
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
  const tags = (await row.locator('td:nth-child(5)').innerText()).split(', ').sort();
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
  await studio.waitForLoadState();
  await studio.locator('tr', { hasText: 'Reel 4 printmaster' }).locator('.badge', { hasText: 'accepted' }).waitFor();
  studio.once('dialog', (dialog) => dialog.accept('the printmaster clips at 01:02:03; deliver it again'));
  await studio.locator('tr', { hasText: 'Reel 4 printmaster' }).getByRole('button', { name: 'Ask for redelivery' }).click();
  await studio.locator('tr', { hasText: 'Reel 4 printmaster' }).locator('.badge', { hasText: 'redelivery' }).waitFor();
  assert.match(await studio.locator('tr', { hasText: 'Reel 4 printmaster' }).innerText(), /clips at 01:02:03/);
  await studio.close();
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
  const status = await page.evaluate(async (request) => (await fetch(`/api/v1/requests/${request}`, {
    method: 'PATCH',
    headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': hub.csrf },
    body: JSON.stringify({ title: 'mine now' }),
  })).status, id);
  assert.equal(status, 403);
  await page.close();
});

test('browse: select many assets, Bulk actions → edit metadata for all of them; a bad value changes nothing', async () => {
  const page = await browser.newPage();
  await signIn(page, 'studio', demoPassword(hub, 'studio'), '/projects/1/buckets/final-sound?q=DEMO_R');
  await page.waitForURL(/final-sound\?q=DEMO_R/);
  await page.getByLabel('Select DEMO_R1_PM51_EN.wav').check();
  await page.getByLabel('Select DEMO_R2_PM51_EN.wav').check();
  await page.locator('#bulk summary').click();
  assert.equal(await page.locator('#selected-count').innerText(), '2');
  await page.locator('#bulk-form').getByLabel('Language').fill('fr');
  await page.screenshot({ path: join(SHOTS, 'bulk-edit.png'), fullPage: true });
  await page.getByRole('button', { name: 'Apply to selected' }).click();
  await page.waitForLoadState('load');
  await page.locator('tr', { hasText: 'DEMO_R2_PM51_EN.wav' }).getByText('fr', { exact: true }).waitFor();
  const languages = await page.locator('tbody tr').evaluateAll((rows) =>
    rows.map((r) => [r.cells[1].innerText.trim(), r.cells[8].innerText.trim()]));
  assert.deepEqual(
    languages.filter(([name]) => name.startsWith('DEMO_R1') || name.startsWith('DEMO_R2')).map(([, l]) => l),
    ['fr', 'fr'],
  );

  await page.getByLabel('Select DEMO_R1_PM51_EN.wav').check();
  await page.locator('#bulk summary').click();
  await page.locator('#bulk-form').getByLabel('Reel').fill('400');
  await page.getByRole('button', { name: 'Apply to selected' }).click();
  await page.getByText(/Nothing changed/).waitFor();
  assert.match(await page.locator('#bulk-result').innerText(), /reel/i);
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
  await page.unroute('**/api/v1/uploads/**');
  await page.reload();

  await page.getByRole('link', { name: 'Transfers' }).click();
  const delivery = page.locator('section[data-delivery]').first();
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
  assert.match(await page.locator('section[data-delivery]').first().innerText(), /delivered/);
  await page.close();
});

test('transfers, live: while another tab uploads, rate and time left follow the hub; the log tells what happened; a vendor does not see it', async () => {
  const work = mkdtempSync(join(tmpdir(), 'contenthub-ui-live-'));
  const file = join(work, 'sh040_notes.txt');
  writeFileSync(file, Buffer.alloc(40 * 1024 * 1024, 'a'));
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
  await uploader.getByRole('button', { name: 'Apply to selected' }).click();
  await uploader.getByRole('button', { name: 'DELIVER' }).click();

  // Another tab of the same person: the transfers page follows the upload live.
  const watcher = await browser.newPage();
  await watcher.goto(`${hub.base}/transfers`);
  const live = watcher.locator('section[data-open="true"]').first();
  const id = await live.getAttribute('data-delivery');
  const activity = live.locator('tr', { hasText: 'sh040_notes.txt' }).locator('.activity');
  await activity.filter({ hasText: /running/ }).waitFor({ timeout: 30000 });
  assert.match(await activity.innerText(), /^running · [\d.]+ [KMG]iB\/s · about .* left$/);
  assert.match(await live.locator('.pace').innerText(), /[KMG]iB\/s · about .* left/);
  await watcher.screenshot({ path: join(SHOTS, 'transfers-live.png'), fullPage: true });

  // A client sends a chunk that does not match its checksum: refused, and the log says why.
  const refused = await watcher.evaluate(async (delivery) => {
    const view = await (await fetch(`/api/v1/deliveries/${delivery}`)).json();
    const file = view.files[0];
    const response = await fetch(file.upload, {
      method: 'PATCH',
      headers: {
        'Tus-Resumable': '1.0.0', 'Content-Type': 'application/offset+octet-stream',
        'Upload-Offset': String(file.offset), 'Upload-Checksum': 'crc32 AAAAAA==', 'X-CSRF-Token': hub.csrf,
      },
      body: 'not what was promised',
    });
    return response.status;
  }, id);
  // 460 (checksum), or 409 if the real upload moved on meanwhile: refused either way.
  assert.ok(refused === 460 || refused === 409, `the bad chunk was refused (${refused})`);

  // DELIVER in the other tab: this page notices and shows the delivery done, with each file's log.
  await uploader.waitForURL(/\/buckets\/vfx\?delivered=\d+$/, { timeout: 90000 });
  const done = watcher.locator(`section[data-delivery="${id}"]`);
  await done.locator('.badge', { hasText: 'delivered' }).waitFor({ timeout: 15000 });
  const log = done.locator('details.log');
  await log.locator('summary').click();
  const lines = await log.innerText();
  assert.match(lines, /delivery created/);
  assert.match(lines, /transfer error .*a chunk at byte \d+ was refused \((460|409)\)/);
  assert.match(lines, /transfer complete .*all 41943040 bytes received/);
  assert.match(lines, /delivered/);
  await watcher.screenshot({ path: join(SHOTS, 'transfers-log.png'), fullPage: true });

  // A vendor of the project does not see the studio's delivery, nor its numbers through the API.
  await uploader.close();
  await signIn(watcher, 'soundhouse', demoPassword(hub, 'soundhouse'), '/transfers');
  await watcher.waitForURL(/\/transfers$/);
  assert.equal(await watcher.locator(`section[data-delivery="${id}"]`).count(), 0);
  const denied = await watcher.evaluate(async (delivery) => (await fetch(`/api/v1/deliveries/${delivery}`)).status, id);
  assert.equal(denied, 404);
  await watcher.close();
});

test('managers: add a member scoped to a bucket, change their role, remove them; a vendor may not', async () => {
  execFileSync(BIN, ['admin', 'create-user', 'freelancer', '--data-dir', dataDir]);
  const page = await browser.newPage();
  await signIn(page, 'studio', demoPassword(hub, 'studio'), '/projects/1');
  await page.getByRole('link', { name: 'Members' }).click();
  await page.waitForURL(/\/projects\/1\/members$/);
  const form = page.locator('#add-member');
  await form.getByLabel('User name').fill('freelancer');
  await form.getByLabel('Music').check();
  await form.getByRole('button', { name: 'Add' }).click();
  const row = page.locator('tr', { hasText: 'freelancer' });
  await row.waitFor();
  assert.match(await row.innerText(), /Music/);
  assert.equal(await row.locator('select.role').inputValue(), 'contributor');
  await page.screenshot({ path: join(SHOTS, 'members.png'), fullPage: true });
  await row.locator('select.role').selectOption('viewer');
  await page.waitForLoadState('load');
  await page.waitForFunction(() => [...document.querySelectorAll('tr')].some((tr) =>
    tr.innerText.includes('freelancer') && tr.querySelector('select.role').value === 'viewer'));
  page.once('dialog', (dialog) => dialog.accept());
  await page.locator('tr', { hasText: 'freelancer' }).getByRole('button', { name: 'Remove' }).click();
  await page.waitForFunction(() => ![...document.querySelectorAll('tr')].some((tr) => tr.innerText.includes('freelancer')));
  await page.close();

  const vendor = await browser.newPage();
  await signIn(vendor, 'soundhouse', demoPassword(hub, 'soundhouse'), '/projects/1/members');
  await vendor.waitForURL(/\/projects\/1\/members$/);
  assert.equal(await vendor.locator('h1').innerText(), 'Not allowed');
  await vendor.close();
});

test('browse as a grid: a tile per asset, with a frame of each valid proxy', async () => {
  const page = await browser.newPage();
  await signIn(page, 'studio', demoPassword(hub, 'studio'), '/projects/1/buckets/vfx');
  await page.waitForURL(/\/buckets\/vfx$/);
  await page.getByRole('link', { name: 'grid', exact: true }).click();
  await page.waitForURL(/view=grid/);
  assert.ok((await page.locator('#asset-grid .tile').count()) >= 3);
  const proxy = page.locator('#asset-grid .tile', { hasText: 'sh010_proxy_v001.mp4' });
  assert.match(await proxy.locator('video').getAttribute('src'), /^\/api\/v1\/assets\/\d+\/content/);
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
