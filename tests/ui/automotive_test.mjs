// Browser test of the automotive industry pack: playwright-core drives Debian's Chromium (headless)
// against a real `crm serve --industry automotive` over a fresh `crm --industry automotive demo`
// database. The lead centre (lead_centre's home: unrouted, routed-untouched, overdue, the pool and
// each dealer's load) and its Re-route button; the vehicle 360 (consumer1's car as the brand manager
// sees it: its owner, dealer, warranty, and its service appointments and repair orders); consumer1's
// portal lists their own car. Desktop size, 1280x800; screenshots in tests/ui/screenshots/.
// Prints "ok NAME" / "FAIL NAME" and "N passed, N failed" (tests/ui/run.sh adds it up).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { CHROMIUM, CRM, ROOT, SHOTS, assert, log, serve, suite } from './harness.mjs';

const PASSWORD = 'demo1234';
const DESKTOP = { width: 1280, height: 800 };
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'crm-automotive-ui-'));
const db = path.join(tmp, 'automotive.db');
const { test, done } = suite('automotive');

const made = spawnSync(CRM, ['--industry', 'automotive', 'demo', '--db', db, '--records', '80', '--seed', '42'], { cwd: ROOT, encoding: 'utf8' });
if (made.status !== 0) {
  log(`FAIL automotive demo: ${made.stderr}`);
  log('0 passed, 1 failed');
  process.exit(1);
}
const { server, base } = await serve(['--industry', 'automotive', '--db', db]);
const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });

// A signed-in page: the session is made by the login API in the page's context (its cookie), then home.
async function open(who, lang = 'en') {
  const context = await browser.newContext({ viewport: DESKTOP });
  await context.addInitScript((l) => localStorage.setItem('crm.lang', l), lang);
  const signed = await context.request.post(`${base}/api/v1/session`, { data: { login: who, password: PASSWORD } });
  assert(signed.status() === 201, `${who} signs in: ${signed.status()}`);
  const page = Object.assign(await context.newPage(), { errors: [] });
  page.on('pageerror', (e) => page.errors.push(e.message));
  page.on('console', (m) => m.type() === 'error' && !/Failed to load resource/.test(m.text()) && page.errors.push(m.text()));
  page.on('dialog', (d) => d.accept());
  await page.goto(`${base}/#/home`);
  await page.waitForSelector('[data-test=home] .home-card h2 a');
  await page.waitForFunction(() => !document.querySelector('#main .loading'));
  return page;
}
const api = (page, url) => page.evaluate(async (u) => (await fetch(`/api/v1${u}`)).json(), url);
const headings = (page) => page.$$eval('[data-test=home] .home-card h2 > a:not([data-test=home-new])', (as) => as.map((a) => a.textContent));
const settled = (page) => page.waitForFunction(() => !document.querySelector('#main .loading') && document.querySelector('#main h1'));

let page = null;
await test('the lead centre: its sections, the dealers\' load, and a re-route by hand', async () => {
  page = await open('lead_centre');
  assert((await page.textContent('#main h1')).startsWith('Lead centre'), `title: ${await page.textContent('#main h1')}`);
  // the role's five sections, in order, after the cards every home has
  const cards = (await headings(page)).filter((c) => !/approval|Notifications|dashboard|Recently/i.test(c));
  const want = ['Unrouted leads', 'Routed, not yet contacted', 'Overdue (untouched over 2 hours)', 'Lead centre pool', 'Dealer load'];
  assert(JSON.stringify(cards) === JSON.stringify(want), `the lead centre's cards: ${cards}`);
  const load = await page.$$eval('[data-home^="partner"] tbody tr', (rows) => rows.length);
  assert(load >= 10, `the dealers' load: ${load} rows`);
  for (const card of ['lead-', 'partner']) {
    const rows = await page.$$eval(`[data-home^="${card}"] tbody tr`, (trs) => trs.length);
    assert(rows > 0, `${card} cards have rows`);
  }
  await page.screenshot({ path: path.join(SHOTS, 'automotive-lead-centre.png'), fullPage: true });
  // a routed lead: Re-route offers it to the next-nearest dealer
  const { records } = await api(page, `/objects/lead?filter=${encodeURIComponent("routing_state = 'routed' and status = 'new'")}&limit=1`);
  const lead = records[0];
  await page.evaluate((id) => { location.hash = `#/o/lead/${id}`; }, lead.id);
  await settled(page);
  await page.click('[data-action="automotive.reroute"]');
  await page.waitForFunction(async (args) => {
    const r = await (await fetch(`/api/v1/objects/lead/${args.id}`)).json();
    return r.route_count === args.count + 1 && r.preferred_dealer !== args.dealer;
  }, { id: lead.id, count: lead.route_count, dealer: lead.preferred_dealer }, { timeout: 10000 });
  assert(page.errors.length === 0, `page errors: ${page.errors}`);
  await page.context().close();
}, () => page);

await test('the vehicle 360: consumer1\'s car as the brand manager sees it', async () => {
  page = await open('brand_manager');
  const users = await api(page, `/objects/user?filter=${encodeURIComponent("login = 'consumer1'")}`);
  const contact = users.records[0].contact;
  const vehicles = await api(page, `/objects/vehicle?filter=${encodeURIComponent(`contact = ${contact}`)}`);
  const v = vehicles.records[0];
  assert(v && v.vehicle_model && v.dealer && v.warranty_until, `consumer1's vehicle: ${JSON.stringify(v)}`);
  await page.evaluate((id) => { location.hash = `#/360/vehicle/${id}`; }, v.id);
  await settled(page);
  await page.waitForSelector('[data-related="service_appointment"]');
  assert((await page.textContent('#main h1')).includes(v.vin), 'the VIN heads the page');
  const appts = await page.$$eval('[data-related="service_appointment"] tbody tr', (rows) => rows.length);
  const orders = await page.$$eval('[data-related="repair_order"] tbody tr', (rows) => rows.length);
  assert(appts > 0 && orders > 0, `its service history: ${appts} appointments, ${orders} repair orders`);
  const dealer = await page.textContent('dd[data-field="dealer"]');
  assert(dealer.includes('Autohaus Sendling'), `its dealer: ${dealer}`);
  await page.screenshot({ path: path.join(SHOTS, 'automotive-vehicle-360.png'), fullPage: true });
  // the owner's 360: their vehicles, workshop visits and membership beside the contact
  await page.evaluate((id) => { location.hash = `#/360/contact/${id}`; }, contact);
  await settled(page);
  await page.waitForSelector('[data-related="vehicle"]');
  const lists = await page.$$eval('[data-related]', (els) => els.map((e) => e.dataset.related));
  for (const want of ['vehicle', 'service_appointment', 'member']) assert(lists.includes(want), `the owner's ${want}: ${lists}`);
  assert(page.errors.length === 0, `page errors: ${page.errors}`);
  await page.context().close();
}, () => page);

await test('consumer1\'s portal lists their car and their appointments, in Chinese too', async () => {
  page = await open('consumer1', 'zh');
  const cards = await headings(page);
  assert(cards.includes('我的车辆') && cards.includes('我的维保预约'), `the zh cards: ${cards}`);
  const cars = await page.$$eval('[data-home^="vehicle"] tbody tr', (rows) => rows.length);
  assert(cars === 1, `their one car: ${cars}`);
  assert(page.errors.length === 0, `page errors: ${page.errors}`);
  await page.context().close();
}, () => page);

await Promise.all([browser.close(), new Promise((r) => { server.once('exit', r); server.kill('SIGTERM'); })]);
fs.rmSync(tmp, { recursive: true, force: true });
process.exit(done());
