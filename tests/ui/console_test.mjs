// Browser test of the service console (views.console of plugins/service/objects/console.yaml):
// playwright-core drives Debian's Chromium (headless) against a real `crm serve` over a fresh
// `crm demo` database. As service_agent, in English and Chinese, on a desktop and a phone: the
// queue (mine and my team's unassigned, by resolution due, each with its SLA state), the record
// with its live clocks, milestones and suggestions (an empty panel while the route answers 404),
// the customer's 360 (no opportunities: the role cannot read them), a transition fired from the
// console. Prints "ok NAME" / "FAIL NAME" and "N passed, N failed" (tests/ui/run.sh adds it up).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { CHROMIUM, CRM, ROOT, SHOTS, assert, log, serve, suite } from './harness.mjs';

const PASSWORD = 'demo1234';
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'crm-console-'));
const db = path.join(tmp, 'console.db');
const { test, done } = suite('console');

const made = spawnSync(CRM, ['demo', '--db', db, '--records', '120', '--seed', '16'], { cwd: ROOT, encoding: 'utf8' });
if (made.status !== 0) {
  log(`FAIL console demo: ${made.stderr}`);
  log('0 passed, 1 failed');
  process.exit(1);
}
// The SLA timers act on the demo's overdue cases at the server's first tick (breached, escalated,
// re-queued): run them once here, so the queues the test compares do not move under it.
for (const timer of ['sla_warning', 'first_response_breach', 'sla_breach']) {
  const ran = spawnSync(CRM, ['timer', 'case_flow', timer, '--db', db], { cwd: ROOT, encoding: 'utf8' });
  if (ran.status !== 0) {
    log(`FAIL console timer ${timer}: ${ran.stderr}`);
    log('0 passed, 1 failed');
    process.exit(1);
  }
}
const { server, base } = await serve(['--db', db]);
const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });

async function open(lang, viewport, who = 'service_agent') {
  const context = await browser.newContext({ viewport });
  await context.addInitScript((l) => localStorage.setItem('crm.lang', l), lang);
  const page = await context.newPage();
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) page.errors.push(m.text()); });
  await page.goto(`${base}/#/login`);
  await page.fill('#login', who);
  await page.fill('#password', PASSWORD);
  await page.click('form.login button[type=submit]');
  await page.waitForSelector('nav#nav a[href="#/console/case"]', { state: 'attached' });
  return page;
}
const api = async (page, method, p, body) => page.evaluate(async ([m, u, b]) => {
  const r = await fetch(`/api/v1${u}`, { method: m, headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': localStorage.getItem('crm.csrf'), 'If-Match': '*' },
    body: b ? JSON.stringify(b) : undefined });
  return { status: r.status, json: await r.json().catch(() => null) };
}, [method, p, body]);

let page = null;
for (const [lang, viewport, shot] of [['en', { width: 1440, height: 900 }, 'console.png'], ['zh', { width: 1440, height: 900 }, 'zh-console.png'],
  ['en', { width: 390, height: 844 }, 'phone-console.png'], ['zh', { width: 390, height: 844 }, 'zh-phone-console.png']]) {
  await test(`${lang} ${viewport.width}px: queue, clocks, record, 360`, async () => {
    page = await open(lang, viewport);
    await page.evaluate(() => { location.hash = '#/console/case'; });
    await page.waitForSelector('[data-test=console-record] h2');
    await page.waitForSelector('[data-test=console-360] [data-test=console-panel-contact]');
    // the queue: mine and my team's unassigned, as the API lists the same filter, dated ones by due
    const me = (await api(page, 'GET', '/session')).json.user.id;
    const items = await page.$$eval('[data-test=console-item]', (as) => as.map((a) => Number(a.dataset.id)));
    assert(items.length > 3, `a queue: ${items.length}`);
    const meta = (await api(page, 'GET', '/meta')).json.objects.find((o) => o.name === 'case').views.console;
    const listed = (await api(page, 'GET', `/objects/case?limit=200&fields=id,owner,resolution_due&filter=${encodeURIComponent(meta.queue)}`)).json.records;
    assert(JSON.stringify([...items].sort()) === JSON.stringify(listed.map((r) => r.id).sort()), `the queue is the filter's: ${items} vs ${listed.map((r) => r.id)}`);
    assert(listed.some((r) => r.owner === me) && listed.some((r) => r.owner == null), 'mine and unassigned');
    const due = new Map(listed.map((r) => [r.id, r.resolution_due]));
    const dues = items.map((id) => due.get(id)).filter(Boolean);
    assert(dues.length > 2 && dues.every((d, i) => i === 0 || dues[i - 1] <= d), `sorted by resolution due: ${dues}`);
    assert(items.slice(0, dues.length).every((id) => due.get(id)), 'dated entries first');
    // each entry's SLA state; a countdown ("left" / 剩余) and an overdue one among them
    const states = await page.$$eval('[data-test=console-queue] [data-test=console-clock]', (els) => els.map((e) => [e.dataset.state, e.textContent]));
    assert(states.some(([st, text]) => st === 'left' && (lang === 'en' ? /\d+[dhm]( \d+[hm])? left/.test(text) : /剩余 \d+/.test(text))), `a countdown: ${JSON.stringify(states)}`);
    assert(states.some(([st]) => st === 'overdue'), `an overdue entry: ${JSON.stringify(states)}`);
    // the record's clocks count down live
    const big = page.locator('[data-test=console-record] .clock.big').first();
    await big.waitFor();
    const first = await big.textContent();
    assert(first.length > 1, 'a clock');
    // milestones (related), suggestions empty while the knowledge base's route is not there
    await page.waitForSelector('[data-test=console-panel-case_milestone]');
    await page.waitForSelector('[data-test=console-suggestions]');
    // the customer's 360: contacts, open and recent cases, entitlements; no opportunities for an agent
    for (const p of ['contact', 'case', 'entitlement']) assert(await page.$(`[data-test=console-360] [data-test=console-panel-${p}]`), `360 panel ${p}`);
    assert(!(await page.$('[data-test=console-panel-opportunity]')), 'no opportunity panel for a service agent');
    assert((await page.textContent('[data-test=console-360]')).includes(lang === 'en' ? 'Open cases' : '未结工单'), 'panel titles in the language');
    assert((await page.textContent('h1')).includes(lang === 'en' ? 'Service console' : '服务工作台'), 'the title');
    if (viewport.width < 400) {
      const width = await page.evaluate(() => document.documentElement.scrollWidth);
      assert(width <= viewport.width + 10, `no sideways scrolling on a phone: ${width}`);
    }
    await page.screenshot({ path: path.join(SHOTS, shot), fullPage: viewport.width < 400 ? false : true });
    assert(page.errors.length === 0, `page errors: ${page.errors}`);
    await page.context().close();
  }, () => page);
}

await test('transitions from the console: open, wait, resume; a refused resolve says why', async () => {
  page = await open('en', { width: 1440, height: 900 });
  await page.evaluate(() => { location.hash = '#/console/case'; });
  await page.waitForSelector('[data-test=console-item]');
  // a new case of mine: Open it from the console; then Wait for Customer, and its clock says paused
  const me = (await api(page, 'GET', '/session')).json.user.id;
  const ids = await page.$$eval('[data-test=console-item]', (as) => as.map((a) => Number(a.dataset.id)));
  let target = null;
  for (const id of ids) {
    const r = (await api(page, 'GET', `/objects/case/${id}`)).json;
    if (r.status === 'new' && r.owner === me) { target = r; break; }
  }
  assert(target, 'a new case of mine in the queue');
  await page.click(`[data-test=console-item][data-id="${target.id}"]`);
  await page.waitForSelector('[data-test=console-record] button[data-transition=open]');
  await page.click('[data-test=console-record] button[data-transition=open]');
  await page.waitForSelector('[data-test=console-record] button[data-transition=wait]');
  assert((await api(page, 'GET', `/objects/case/${target.id}`)).json.status === 'open', 'opened through the console');
  await page.click('[data-test=console-record] button[data-transition=wait]');
  await page.waitForSelector('[data-test=console-record] button[data-transition=resume]');
  assert((await api(page, 'GET', `/objects/case/${target.id}`)).json.status === 'waiting_customer', 'waiting');
  // a refused transition says why, in place (resolve needs a resolution)
  await page.click('[data-test=console-record] button[data-transition=resume]');
  await page.waitForSelector('[data-test=console-record] button[data-transition=resolve]');
  await page.click('[data-test=console-record] button[data-transition=resolve]');
  await page.waitForFunction(() => document.querySelector('[data-test=console-record] .error[role=alert]').textContent.length > 0);
  assert(page.errors.length === 0, `page errors: ${page.errors}`);
  await page.context().close();
}, () => page);

await test('a console of any object, and a hostile subject stays text', async () => {
  page = await open('en', { width: 1280, height: 860 });
  const r = await api(page, 'POST', '/objects/case', { subject: '<img src=x onerror=alert(1)>', status: 'new', tier: 'l1' });
  assert(r.status === 201, `create: ${r.status} ${JSON.stringify(r.json)}`);
  await page.evaluate((id) => { location.hash = `#/console/case/${id}`; }, r.json.id);
  await page.waitForSelector('[data-test=console-record] h2');
  assert((await page.textContent('[data-test=console-record] dl')).includes('<img src=x'), 'the subject as text');
  assert(!(await page.$('[data-test=console-record] img')), 'no element from the subject');
  // an object with no console is not found
  await page.evaluate(() => { location.hash = '#/console/account'; });
  await page.waitForFunction(() => /Not found/.test(document.querySelector('h1').textContent));
  await page.context().close();
}, () => page);

for (const [lang, prefix] of [['en', ''], ['zh', 'zh-']]) {
  await test(`${lang} service dashboards: a manager's tiles, the package's reports`, async () => {
    page = await open(lang, { width: 1440, height: 900 }, 'service_manager');
    await page.evaluate(() => { location.hash = '#/dash'; });
    await page.waitForSelector('[data-test=kpis-role] [data-test=kpi-actual]');
    const tiles = await page.textContent('[data-test=kpis-role]');
    for (const want of lang === 'en' ? ['SLA attainment', 'CSAT%', 'First-contact resolution', 'KB deflection', 'Entitlement usage']
      : ['SLA 达成率', '满意率', '首次接触解决率', '知识库解决率', '服务权益使用率'])
      assert(tiles.includes(want), `the manager's tiles show ${want}`);
    await page.screenshot({ path: path.join(SHOTS, `${prefix}service-manager-dashboard.png`), fullPage: true });
    await page.evaluate(() => { location.hash = '#/dash/service'; });
    await page.waitForFunction(() => document.querySelectorAll('[data-test=reports] .report-table, [data-test=reports] svg').length >= 8);
    const text = await page.textContent('[data-test=reports]');
    for (const want of lang === 'en' ? ['SLA attainment by tier', 'Open cases by due time', 'CSAT by agent', 'Entitlement usage by service product']
      : ['各支持级别的 SLA 达成率', '按解决截止时间的未结工单', '各处理人的满意度', '各服务产品的权益使用'])
      assert(text.includes(want), `the service dashboard shows ${want}`);
    await page.screenshot({ path: path.join(SHOTS, `${prefix}service-dashboard.png`), fullPage: true });
    assert(page.errors.length === 0, `page errors: ${page.errors}`);
    await page.context().close();
  }, () => page);
}

await browser.close();
server.kill('SIGTERM');
fs.rmSync(tmp, { recursive: true, force: true });
process.exit(done());
