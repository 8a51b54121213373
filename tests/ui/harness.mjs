// What the browser suites beside ui_test.mjs share: where things are, a named test that counts
// and screenshots its failure, a free loopback port, and a `crm serve` started and waited for.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';

export const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
export const CRM = path.resolve(ROOT, process.env.CRM || 'build/crm');
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
export const SHOTS = path.join(ROOT, 'tests/ui/screenshots');
fs.mkdirSync(SHOTS, { recursive: true });

export const log = (...a) => console.log(...a);
export function assert(cond, message) { if (!cond) throw new Error(message); }

// suite('console') gives test(name, fn, page) printing "ok console NAME" / "FAIL console NAME: why"
// (page() is the page to screenshot on failure, or null) and done() printing "N passed, N failed".
export function suite(prefix) {
  let passed = 0;
  let failed = 0;
  async function test(name, fn, page) {
    const started = Date.now();
    try {
      await fn();
      passed++;
      log(`ok ${prefix} ${name} (${Date.now() - started} ms)`);
    } catch (e) {
      failed++;
      log(`FAIL ${prefix} ${name}: ${String(e && e.stack || e).split('\n').slice(0, 3).join(' | ')}`);
      if (page()) await page().screenshot({ path: path.join(SHOTS, `fail-${prefix}-${name.replace(/\W+/g, '_')}.png`), fullPage: true }).catch(() => {});
    }
  }
  function done() {
    log(`${passed} passed, ${failed} failed`);
    return failed ? 1 : 0;
  }
  return { test, done };
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
    s.on('error', reject);
  });
}

// `crm serve` with args on a free port, once it answers: { server (the process), base (its URL) }.
export async function serve(args) {
  const port = await freePort();
  const server = spawn(CRM, ['serve', ...args, '--port', String(port), '--quiet'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    try { if ((await fetch(`${base}/`)).ok) break; } catch (e) { /* not yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { server, base };
}
