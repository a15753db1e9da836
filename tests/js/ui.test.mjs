// The browser interface as a person uses it, in Debian's Chromium driven by playwright-core, against
// the real server: sign in (and a wrong password), the projects I belong to and nothing else, a
// project's buckets, browsing and filtering a bucket, an asset page, a session that ended, signing
// out, and a user trying the URLs of a project that is not theirs. Screenshots of each page go to
// artifacts/screenshots/ (git-ignored). Run by scripts/test.sh (CONTENTHUB_TEST_BIN = the server).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync } from 'node:fs';
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
  browser = await chromium.launchPersistentContext(join(dir, 'profile'), {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 800 },
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
});

after(async () => {
  await browser?.close();
  if (hub) await stopHub(hub);
});

async function signIn(page, user, password, next = '/') {
  await page.goto(`${hub.base}/login?next=${encodeURIComponent(next)}`);
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
