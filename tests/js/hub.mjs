// Starting and stopping the real contenthub server from node (tests and the upload benchmark).
import { spawn } from 'node:child_process';

/// `contenthub serve --demo` on a free loopback port; resolves to { proc, base, banner } once it
/// prints its URL (the banner holds the first start's passwords). `env`: settings, as
/// CONTENTHUB_* variables. HUB_LOG=info (say) shows the hub's log on stderr.
export function startHub(bin, dataDir, extraArgs = [], env = {}) {
  return new Promise((resolve, reject) => {
    const proc = spawn(bin, ['serve', '--demo', '--bind', '127.0.0.1:0', '--data-dir', dataDir, ...extraArgs], {
      env: { ...process.env, CONTENTHUB_LOG: process.env.HUB_LOG || 'warn', ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    proc.stdout.on('data', (chunk) => {
      if (process.env.HUB_LOG) process.stderr.write(chunk); // the hub's log, when asked for
      out += chunk;
      const found = out.match(/open http:\/\/([0-9.:]+)\//);
      if (found) resolve({ proc, base: `http://${found[1]}`, banner: out });
    });
    proc.on('exit', (code) => reject(new Error(`contenthub exited (${code}): ${out}`)));
  });
}

export async function stopHub(hub, signal = 'SIGTERM') {
  const exited = new Promise((resolve) => hub.proc.once('exit', resolve));
  hub.proc.kill(signal);
  await exited;
}

/// A demo user's password from the first start's banner.
export function demoPassword(hub, user) {
  const found = hub.banner.match(new RegExp(`^\\s+${user}\\s+\\S+\\s+(\\S+)$`, 'm'));
  if (!found) throw new Error(`no password for ${user} in: ${hub.banner}`);
  return found[1];
}

/// Reloads `page` (Playwright's or Puppeteer's) every half second until `done(await read())`, at
/// most `seconds`; returns the last reading, or fails with `failure(reading)`.
export async function reloadUntil(page, read, done, seconds, failure) {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const seen = await read();
    if (done(seen)) return seen;
    if (Date.now() >= deadline) throw new Error(failure(seen));
    await new Promise((r) => setTimeout(r, 500)); // polling
    await page.reload();
  }
}
