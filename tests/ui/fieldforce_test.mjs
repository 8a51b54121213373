// Browser test of the rep's day (plugins/fieldforce) at phone size (375x812): playwright-core drives
// Debian's Chromium (headless) against a real `crm serve` over a fresh `crm demo` database of the
// shipped metadata. field_rep1 logs in: the home lists today's visits in route order; they open the
// first visit still planned, press Check in, and the form that the transition's `require:` asks for
// takes typed coordinates near the account (72 m); the visit shows the distance and that the
// location is verified; they add the call report from the visit page and check out. A second visit
// checks in from the device's location (the CDP geolocation override Playwright sets), 2.1 km away:
// flagged. The field manager's home lists it among flagged check-ins. Screenshots of each step.
// Prints "ok NAME" / "FAIL NAME" and "N passed, N failed" (tests/ui/run.sh adds it up).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { CHROMIUM, CRM, ROOT, SHOTS, assert, log, serve, suite } from './harness.mjs';

const PASSWORD = 'demo1234';
const PHONE = { width: 375, height: 812 };
const { test, done } = suite('fieldforce');
// the demo this suite runs on: a fresh database of the shipped metadata
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'crm-fieldforce-'));
const db = path.join(tmp, 'fieldforce.db');
const demo = spawnSync(CRM, ['demo', '--db', db, '--records', '60', '--seed', '21'], { cwd: ROOT, encoding: 'utf8' });
if (demo.status !== 0) {
  log(`FAIL fieldforce demo (exit ${demo.status}): ${demo.stderr}\n0 passed, 1 failed`);
  process.exit(1);
}
const { server, base } = await serve(['--db', db]);
const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
const shot = (page, name) => page.screenshot({ path: path.join(SHOTS, `fieldforce-${name}.png`), fullPage: true });

const idle = async (page) => {
  await page.waitForFunction(() => !document.querySelector('#main .loading'));
  await page.waitForLoadState('networkidle');
};
async function open(who, options = {}) {
  const context = await browser.newContext({ viewport: PHONE, isMobile: true, hasTouch: true, ...options });
  await context.addInitScript(() => localStorage.setItem('crm.lang', 'en'));
  const page = Object.assign(await context.newPage(), { errors: [] });
  const keep = (text) => page.errors.push(text);
  page.on('pageerror', (e) => keep(e.message));
  page.on('console', (m) => m.type() === 'error' && !/Failed to load resource/.test(m.text()) && keep(m.text()));
  await page.goto(`${base}/#/login`);
  for (const [input, value] of [['#login', who], ['#password', PASSWORD]]) await page.fill(input, value);
  await Promise.all([page.waitForSelector('[data-test=home] .home-card h2 a'), page.click('form.login button[type=submit]')]);
  await idle(page);
  return page;
}
const api = (page, p) => page.evaluate(async (u) => (await fetch(`/api/v1${u}`)).json(), p);
// a point `metres` north of a location (1 degree of latitude is 111,195 m on the mean radius)
const north = (loc, metres) => ({ lat: Number((loc.lat + metres / 111195.08).toFixed(7)), lng: loc.lng });

let page = null;
let visitId = null;
await test("field_rep1's day: today's visits in route order, check in, call report, check out", async () => {
  page = await open('field_rep1');
  const cards = await page.$$eval('[data-test=home] .home-card h2 > a:not([data-test=home-new])', (as) => as.map((a) => a.textContent));
  assert(cards[0] === "Today's visits", `the first card: ${cards}`);
  const rows = await page.$$eval('[data-home="visit-0"] tbody tr', (trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent.trim())));
  assert(rows.length === 7, `seven visits today: ${rows.length}`);
  const today = new Date().toISOString().slice(0, 10);
  const mine = await api(page, `/objects/visit?sort=route_order&fields=id,route_order,status&filter=${encodeURIComponent(
    `owner = $me and planned_start >= '${today}' and planned_start < '${new Date(Date.now() + 86400000).toISOString().slice(0, 10)}'`)}`);
  assert(mine.records.map((r) => r.route_order).join() === '1,2,3,4,5,6,7', `route order: ${mine.records.map((r) => r.route_order)}`);
  const wide = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert(wide <= 1, `no sideways scrolling on the home: ${wide}px`);
  await shot(page, '1-home');
  // the first visit still planned (route order 4): open it from the card
  const first = mine.records.find((r) => r.status === 'planned');
  visitId = first.id;
  await page.click(`[data-home="visit-0"] a[href="#/o/visit/${visitId}"]`);
  await idle(page);
  await page.waitForSelector('[data-transition=check_in]');
  await shot(page, '2-visit');
  // Check in asks for the location (require: [check_in_geo]) in a small form: typed coordinates 72 m away
  await page.click('[data-transition=check_in]');
  await page.waitForSelector('[data-test=require-check_in]');
  const visit = await api(page, `/objects/visit/${visitId}`);
  const account = await api(page, `/objects/account/${visit.account}`);
  assert(account.location, 'the demo account has a location');
  const at = north(account.location, 72.5);
  await page.fill('[data-test=require-check_in] input[aria-label=Latitude]', String(at.lat));
  await page.fill('[data-test=require-check_in] input[aria-label=Longitude]', String(at.lng));
  await shot(page, '3-check-in-form');
  await page.click('[data-test=require-submit]');
  await page.waitForFunction(() => !document.querySelector('[data-test=require-check_in]'));
  await idle(page);
  const after = await api(page, `/objects/visit/${visitId}`);
  assert(after.status === 'in_progress' && after.distance_m === 72 && after.geo_ok === true, `checked in: ${JSON.stringify(after).slice(0, 300)}`);
  assert((await page.textContent('#main')).includes('Location Verified'), 'the page shows the verification');
  await shot(page, '4-checked-in');
  // check out before the report: refused, and the page says why
  await page.click('[data-transition=check_out]');
  await page.waitForFunction(() => /call report/.test(document.querySelector('#main .error[role=alert]')?.textContent || ''));
  // the call report from the visit page (views.composer)
  await page.waitForSelector('[data-test=composer]');
  await page.check('[data-test=composer] input[type=checkbox][value=core]');
  await page.fill('#c-key_message', 'Walked through the new price list; the buyer wants a trial');
  await page.fill('#c-next_step', 'Send the trial quote');
  await page.selectOption('#c-outcome', 'positive');
  await shot(page, '5-call-report');
  await Promise.all([page.waitForResponse((r) => r.url().endsWith('/api/v1/objects/call_report') && r.request().method() === 'POST'),
    page.click('[data-test=composer-add]')]);
  await idle(page);
  const reports = await api(page, `/objects/call_report?filter=${encodeURIComponent(`visit = ${visitId}`)}`);
  assert(reports.records.length === 1 && reports.records[0].follow_up, `one report with its follow-up: ${JSON.stringify(reports.records)}`);
  await page.waitForSelector('[data-transition=check_out]');
  await page.click('[data-transition=check_out]');
  await page.waitForFunction(() => !document.querySelector('[data-transition=check_out]'));
  await idle(page);
  const done_ = await api(page, `/objects/visit/${visitId}`);
  assert(done_.status === 'completed' && Number.isInteger(done_.duration_min), `checked out: ${JSON.stringify(done_).slice(0, 300)}`);
  await shot(page, '6-checked-out');
  const wide2 = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert(wide2 <= 1, `no sideways scrolling on the visit: ${wide2}px`);
  assert(page.errors.length === 0, `page errors: ${page.errors}`);
  await page.context().close();
}, () => page);

await test('check-in from the device location 2.1 km away is flagged; the manager sees it', async () => {
  // the next planned visit: its account's location, and the device 2.1 km north of it
  const probe = await open('field_rep1');
  const today = new Date().toISOString().slice(0, 10);
  const list = await api(probe, `/objects/visit?sort=route_order&fields=id,account,status&filter=${encodeURIComponent(
    `owner = $me and status = 'planned' and planned_start >= '${today}'`)}`);
  const v = list.records[0];
  const account = await api(probe, `/objects/account/${v.account}`);
  await probe.context().close();
  const device = north(account.location, 2100);
  page = await open('field_rep1', { geolocation: { latitude: device.lat, longitude: device.lng }, permissions: ['geolocation'] });
  await page.evaluate((id) => { location.hash = `#/o/visit/${id}`; }, v.id);
  await idle(page);
  await page.click('[data-transition=check_in]');
  await page.waitForSelector('[data-test=require-check_in] [data-test=geo-locate]');
  await page.click('[data-test=require-check_in] [data-test=geo-locate]');
  await page.waitForFunction(() => document.querySelector('[data-test=require-check_in] input[aria-label=Latitude]').value !== '');
  await shot(page, '7-device-location');
  await page.click('[data-test=require-submit]');
  await page.waitForFunction(() => !document.querySelector('[data-test=require-check_in]'));
  await idle(page);
  const after = await api(page, `/objects/visit/${v.id}`);
  assert(after.status === 'in_progress' && after.geo_ok === false && after.distance_m >= 2090 && after.distance_m <= 2110,
    `flagged: ${JSON.stringify(after).slice(0, 300)}`);
  assert((await page.textContent('#main')).includes('beyond the 200 m radius'), 'the note is shown');
  await shot(page, '8-flagged');
  assert(page.errors.length === 0, `page errors: ${page.errors}`);
  await page.context().close();
  page = await open('field_manager');
  const cards = await page.$$eval('[data-test=home] .home-card h2 > a:not([data-test=home-new])', (as) => as.map((a) => a.textContent));
  for (const want of ['Plans to approve', "Today's team visits", 'Flagged check-ins']) assert(cards.includes(want), `manager card ${want}: ${cards}`);
  const i = cards.indexOf('Flagged check-ins');
  const links = await page.$$eval(`[data-home="visit-${i}"] a`, (as) => as.map((a) => a.getAttribute('href')));
  assert(links.includes(`#/o/visit/${v.id}`), `the flagged check-in is listed: ${links}`);
  await shot(page, '9-manager-home');
  assert(page.errors.length === 0, `page errors: ${page.errors}`);
  await page.context().close();
}, () => page);

await browser.close();
server.kill();
fs.rmSync(tmp, { recursive: true, force: true });
process.exit(done());
