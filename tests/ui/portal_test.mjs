// Browser test of the portals (role `home:`) and consumer sign-up: playwright-core drives Debian's
// Chromium (headless) against a real `crm serve` over a fresh `crm demo` database of the shipped
// metadata, its outbox pointed at a small SMTP server on loopback started here. partner1 and
// consumer1 see their portal home (title, sections, navigation; no Dashboards link where there is
// nothing to show), desktop and phone; no link on their pages leads to a 403; a visitor signs up,
// the link of the e-mail that arrives signs them in and lands on their portal.
// Prints "ok NAME" / "FAIL NAME" and "N passed, N failed" (tests/ui/run.sh adds it up).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { CHROMIUM, CRM, ROOT, SHOTS, assert, log, serve, suite } from './harness.mjs';

const PASSWORD = 'demo1234';
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'crm-portal-'));
const db = path.join(tmp, 'portal.db');
const { test, done } = suite('portal');

// An SMTP server that keeps every message's text (just the commands the outbox sends).
const mails = [];
const smtp = net.createServer((sock) => {
  let buffer = '';
  let inData = false;
  let text = '';
  sock.write('220 portal-test ESMTP\r\n');
  sock.on('data', (chunk) => {
    buffer += chunk.toString('latin1');
    let i;
    while ((i = buffer.indexOf('\r\n')) >= 0) {
      const line = buffer.slice(0, i);
      buffer = buffer.slice(i + 2);
      if (inData) {
        if (line === '.') { inData = false; mails.push(text); text = ''; sock.write('250 queued\r\n'); }
        else text += `${line.startsWith('..') ? line.slice(1) : line}\n`;
        continue;
      }
      const verb = line.slice(0, 4).toUpperCase();
      if (verb === 'DATA') { inData = true; sock.write('354 go on\r\n'); }
      else if (verb === 'QUIT') sock.end('221 bye\r\n');
      else sock.write(verb === 'EHLO' || verb === 'HELO' ? '250 portal-test\r\n' : '250 ok\r\n');
    }
  });
  sock.on('error', () => {});
});
await new Promise((resolve) => smtp.listen(0, '127.0.0.1', resolve));
const smtpPort = smtp.address().port;

// the shipped metadata with the outbox on the loopback SMTP server
const metadata = path.join(tmp, 'metadata');
fs.cpSync(path.join(ROOT, 'metadata'), metadata, { recursive: true });
const appPath = path.join(metadata, 'app.yaml');
const app = fs.readFileSync(appPath, 'utf8').split('\n').filter((l) => !l.startsWith('config:')).join('\n');
fs.writeFileSync(appPath, `${app}\nconfig: ${JSON.stringify({ currency: 'EUR', outbox: { smtp_url: `smtp://127.0.0.1:${smtpPort}`, from: 'CRM <crm@example.com>', poll: 1 } })}\n`);

// a consumer role with a home and nothing for a dashboard (no kpi tiles, reports, charts or boards)
fs.writeFileSync(path.join(metadata, 'zz_portal_test.yaml'), `role: plain_consumer
label: { en: Plain consumer, zh: 普通消费者 }
kind: consumer
objects:
  contact: { read: "email = $user.email" }
home:
  sections: [{ object: contact, fields: [full_name, email], limit: 1 }]
`);
const made = spawnSync(CRM, ['demo', '--db', db, '--records', '60', '--seed', '21', '--metadata', metadata], { cwd: ROOT, encoding: 'utf8' });
const added = made.status === 0 && spawnSync(CRM, ['user', 'add', '--login', 'plain1', '--role', 'plain_consumer', '--name', 'Plain One',
  '--email', 'plain1@example.com', '--db', db, '--metadata', metadata], { cwd: ROOT, encoding: 'utf8', input: `${PASSWORD}\n` });
if (made.status !== 0 || added.status !== 0) {
  log(`FAIL portal demo: ${made.stderr}${added ? added.stderr : ''}`);
  log('0 passed, 1 failed');
  process.exit(1);
}
const { server, base } = await serve(['--db', db, '--metadata', metadata]);
const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });

// A page that keeps its errors and every API answer of 403.
async function newPage(lang, viewport) {
  const context = await browser.newContext({ viewport });
  await context.addInitScript((l) => localStorage.setItem('crm.lang', l), lang);
  const page = await context.newPage();
  page.errors = [];
  page.forbidden = [];
  page.on('pageerror', (e) => page.errors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) page.errors.push(m.text()); });
  page.on('response', (r) => { if (r.status() === 403) page.forbidden.push(`${r.request().method()} ${r.url()}`); });
  return page;
}
async function open(who, lang = 'en', viewport = { width: 1440, height: 900 }) {
  const page = await newPage(lang, viewport);
  await page.goto(`${base}/#/login`);
  await page.fill('#login', who);
  await page.fill('#password', PASSWORD);
  await page.click('form.login button[type=submit]');
  await page.waitForSelector('[data-test=home] .home-card h2 a');
  await page.waitForFunction(() => !document.querySelector('#main .loading'));
  return page;
}
// Every in-app link of the home page and the navigation, each visited: none may end in a 403.
async function visitEveryLink(page) {
  const hrefs = await page.$$eval('#main a[href^="#/"], nav#nav a[href^="#/"]', (as) => [...new Set(as.map((a) => a.getAttribute('href')))]);
  assert(hrefs.length >= 2, `links: ${hrefs}`);
  for (const href of hrefs) {
    await page.evaluate((h) => { location.hash = h; }, href);
    await page.waitForFunction(() => !document.querySelector('#main .loading') && document.querySelector('#main h1'), null,
      { timeout: 15000 }).catch(async () => { throw new Error(`${href} never drew its page: ${(await page.textContent('#main')).slice(0, 300)}`); });
    await page.waitForLoadState('networkidle');
    const shown = await page.$$eval('#main .error', (els) => els.map((e) => e.textContent).filter(Boolean));
    assert(!shown.some((x) => /403|not allowed|may not/i.test(x)), `${href} shows ${shown}`);
  }
  assert(page.forbidden.length === 0, `403 answers: ${page.forbidden.join(', ')}`);
  return hrefs;
}
const headings = (page) => page.$$eval('[data-test=home] .home-card h2 > a:not([data-test=home-new])', (as) => as.map((a) => a.textContent));

let page = null;
await test('partner1: the partner portal, its sections and New buttons, no link to a 403', async () => {
  page = await open('partner1');
  assert((await page.textContent('#main h1')).startsWith('Partner portal'), `title: ${await page.textContent('#main h1')}`);
  const cards = await headings(page);
  // the base role's sections, then the channel package's (plugins/channel/objects/roles.yaml)
  for (const want of ['Our open opportunities', 'Our leads', 'Our accounts', 'My registrations', 'Our certifications']) {
    assert(cards.includes(want), `a card ${want}: ${cards}`);
  }
  const news = await page.$$eval('[data-test=home-new]', (as) => as.map((a) => a.getAttribute('href')));
  // opportunity and lead take the partner from the form (filled in); a registration's partner is the package's to set
  assert(news.length === 3 && news.slice(0, 2).every((h) => /^#\/o\/(opportunity|lead)\/new\?partner=\d+$/.test(h))
    && news[2] === '#/o/deal_registration/new', `New buttons with the partner: ${news}`);
  const regs = await page.$$eval('[data-home^="deal_registration"] tbody tr', (rows) => rows.length);
  assert(regs > 0, 'the partner has registrations in the demo');
  // each card lists only the partner's records (the API's own answer for the same filter)
  const shown = await page.$$eval('[data-home^="opportunity"] tbody tr', (rows) => rows.length);
  assert(shown > 0, 'the partner has open opportunities in the demo');
  await page.screenshot({ path: path.join(SHOTS, 'portal-partner.png'), fullPage: true });
  const nav = await page.$$eval('nav#nav a', (as) => as.map((a) => a.getAttribute('href')));
  for (const want of ['#/home', '#/o/opportunity', '#/o/lead', '#/o/account']) assert(nav.includes(want), `navigation has ${want}: ${nav}`);
  assert(!nav.includes('#/o/contact') && !nav.includes('#/o/user'), `only what the role reads: ${nav}`);
  await visitEveryLink(page);
  // the New form opens with the partner filled in
  await page.evaluate((h) => { location.hash = h; }, news[0]);
  await page.waitForSelector('#main form');
  assert(page.errors.length === 0, `page errors: ${page.errors}`);
  await page.context().close();
}, () => page);

await test('consumer1: the consumer portal with their own contact, Dashboards as /meta says, no link to a 403', async () => {
  page = await open('consumer1');
  assert((await page.textContent('#main h1')).startsWith('My account'), `title: ${await page.textContent('#main h1')}`);
  // their contact (the base role), then the membership package's sections (plugins/membership/objects/roles.yaml)
  eq(await headings(page), ['My details', 'My membership', 'My orders', 'My points history', 'Rewards I can redeem',
    'My redemptions', 'My cases'], 'the cards');
  const rows = await page.$$eval('[data-home^="contact"] tbody tr', (trs) => trs.length);
  assert(rows === 1, `their contact: ${rows} rows`);
  const member = await page.$$eval('[data-home^="member-"] tbody tr', (trs) => trs.length);
  assert(member === 1, `their one membership: ${member} rows`);
  const news = await page.$$eval('[data-test=home-new]', (as) => as.map((a) => a.getAttribute('href')));
  assert(news.every((h) => /^#\/o\/(redemption|case)\/new/.test(h)), `New only where a consumer creates: ${news}`);
  // the service package's case reports are the consumer's to run: a Dashboards link, as /meta says
  const dashboard = await page.evaluate(async () => (await (await fetch('/api/v1/meta')).json()).caller.dashboard);
  assert((await page.$('nav#nav a[href="#/dash"]') !== null) === dashboard, `the Dashboards link follows caller.dashboard (${dashboard})`);
  await page.screenshot({ path: path.join(SHOTS, 'portal-consumer.png'), fullPage: true });
  await visitEveryLink(page);
  assert(page.errors.length === 0, `page errors: ${page.errors}`);
  await page.context().close();
}, () => page);

await test('a role with nothing for a dashboard has no Dashboards link, and its home no title of its own', async () => {
  page = await open('plain1');
  assert((await page.textContent('#main h1')) === 'Home · Plain One', `the UI's own title: ${await page.textContent('#main h1')}`);
  eq(await headings(page), ['Contacts'], 'the object\'s plural label');
  assert(await page.$('nav#nav a[href="#/dash"]') === null, 'no Dashboards link');
  await visitEveryLink(page);
  assert(page.errors.length === 0, `page errors: ${page.errors}`);
  await page.context().close();
}, () => page);

await test('consumer1 in Chinese on a phone', async () => {
  page = await open('consumer1', 'zh', { width: 390, height: 844 });
  assert((await page.textContent('#main h1')).startsWith('我的账户'), `title: ${await page.textContent('#main h1')}`);
  eq((await headings(page))[0], '我的资料', 'the zh cards');
  assert((await headings(page)).includes('我的会员'), 'the membership card in zh');
  const wide = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert(wide <= 1, `no sideways scrolling: ${wide}px too wide`);
  await page.screenshot({ path: path.join(SHOTS, 'portal-consumer-phone.png'), fullPage: true });
  assert(page.errors.length === 0, `page errors: ${page.errors}`);
  await page.context().close();
}, () => page);

await test('a visitor signs up, the e-mail link signs them in on their portal', async () => {
  page = await newPage('en', { width: 1440, height: 900 });
  await page.goto(`${base}/#/login`);
  await page.click('[data-test=signup-link]');
  await page.waitForSelector('[data-test=signup]');
  await page.fill('#signup-name', 'Petra Portal');
  await page.fill('#signup-email', 'petra@example.com');
  await page.fill('#signup-password', 'a long enough password');
  await page.screenshot({ path: path.join(SHOTS, 'portal-signup.png'), fullPage: true });
  const before = mails.length;
  await page.click('[data-test=signup] button[type=submit]');
  await page.waitForSelector('[data-test=signup-sent]');
  // the mail arrives (the outbox polls every second): its base64 body holds the link
  let body = '';
  for (let i = 0; i < 150 && !body; i++) {
    if (mails.length > before) body = mails[mails.length - 1];
    else await new Promise((r) => setTimeout(r, 200));
  }
  assert(body, 'the e-mail arrived');
  const encoded = body.split('\n\n').slice(1).join('').replace(/\s+/g, '');
  const text = Buffer.from(encoded, 'base64').toString('utf8');
  const m = /#\/verify\?token=([A-Za-z0-9_-]{43})/.exec(text);
  assert(m, `a link in ${text}`);
  // a dead link says so and offers sign-up again
  await page.goto(`${base}/#/verify?token=${'A'.repeat(43)}`);
  await page.waitForSelector('[data-test=verify] .error');
  assert(await page.$('[data-test=verify] a[href="#/signup"]'), 'sign up again');
  await page.goto(`${base}/#/verify?token=${m[1]}`);
  await page.waitForSelector('[data-test=home] .home-card');
  assert((await page.textContent('#main h1')).startsWith('My account · Petra Portal'), `lands on the portal: ${await page.textContent('#main h1')}`);
  assert(page.errors.length === 0, `page errors: ${page.errors}`);
  await page.context().close();
}, () => page);

function eq(a, b, what) { assert(JSON.stringify(a) === JSON.stringify(b), `${what}: expected ${JSON.stringify(b)}, got ${JSON.stringify(a)}`); }

await browser.close();
server.kill('SIGTERM');
smtp.close();
fs.rmSync(tmp, { recursive: true, force: true });
process.exit(done());
