// Browser tests of the web UI: playwright-core drives Debian's Chromium (headless) against a
// real `crm serve` over a demo database made for this run. Prints "ok NAME" / "FAIL NAME" and
// "N passed, N failed". Run by tests/ui/run.sh (which installs what is missing).
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const CRM = path.resolve(ROOT, process.env.CRM || 'build/crm');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const SHOTS = path.join(ROOT, 'tests/ui/screenshots');
const RECORDS = process.env.UI_RECORDS || '300';
// UI_ONLY=regex runs the tests whose name matches (while working on one; those that stand alone)
const ONLY = process.env.UI_ONLY ? new RegExp(process.env.UI_ONLY) : null;
const PASSWORD = 'demo1234';
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'crm-ui-'));
const db = path.join(tmp, 'ui.db');
fs.mkdirSync(SHOTS, { recursive: true });

let passed = 0;
let failed = 0;
let server = null;
let base = '';
let browser = null;

function log(...args) { console.log(...args); }
const openPages = new Set();   // newPage's pages whose context is open: a failing test shows those it opened
async function test(name, fn, page) {
  if (ONLY && !ONLY.test(name)) return;
  const started = Date.now();
  const before = new Set(openPages);
  try {
    await fn();
    passed++;
    log(`ok ${name} (${Date.now() - started} ms)`);
  } catch (e) {
    failed++;
    log(`FAIL ${name}: ${String(e && e.stack || e).split('\n').slice(0, 3).join(' | ')}`);
    const shot = `fail-${name.replace(/\W+/g, '_')}`;
    if (page) await page.screenshot({ path: path.join(SHOTS, `${shot}.png`) }).catch(() => {});
    let n = 0;
    for (const p of [...openPages].filter((x) => !before.has(x)))
      await p.screenshot({ path: path.join(SHOTS, `${shot}-${++n}.png`), fullPage: true }).catch(() => {});
  }
}
function assert(cond, message) { if (!cond) throw new Error(message); }

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
    s.on('error', reject);
  });
}
async function startServer(metadata) {
  const port = await freePort();
  const args = ['serve', '--db', db, '--port', String(port), '--quiet'];
  if (metadata) args.push('--metadata', metadata);
  const proc = spawn(CRM, args, { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (d) => { stderr += d; });
  base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    if (proc.exitCode != null) throw new Error(`crm serve exited: ${stderr}`);
    try { if ((await fetch(`${base}/`)).ok) return proc; } catch (e) { /* not yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`crm serve did not start: ${stderr}`);
}
async function stopServer() {
  if (!server) return;
  const proc = server;
  server = null;
  const done = new Promise((r) => proc.on('exit', r));
  proc.kill('SIGTERM');
  await Promise.race([done, new Promise((r) => setTimeout(r, 3000))]);
  if (proc.exitCode == null) proc.kill('SIGKILL');
}

// The API as a given user, with a bearer token (checks what the UI shows against the server).
async function apiAs(login) {
  const res = await fetch(`${base}/api/v1/session`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ login, password: PASSWORD }) });
  const { token, user } = await res.json();
  const call = async (method, p, body, headers = {}) => {
    const r = await fetch(`${base}/api/v1${p}`, { method, headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', ...headers }, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await r.text();
    return { status: r.status, etag: r.headers.get('etag'), data: text ? JSON.parse(text) : null };
  };
  call.user = user;
  return call;
}

// bypassCSP: only so that a test can inject axe-core; the app's own pages never need it
async function newPage(viewport = { width: 1280, height: 860 }, { bypassCSP = false } = {}) {
  const context = await browser.newContext({ viewport, bypassCSP });
  const page = await context.newPage();
  openPages.add(page);
  context.on('close', () => openPages.delete(page));
  page.dialogs = [];
  page.on('dialog', async (d) => { page.dialogs.push(d.message()); await d.dismiss(); });
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error') page.errors.push(m.text()); });
  return page;
}
async function login(page, user) {
  await page.goto(`${base}/#/login`);
  await page.fill('#login', user);
  await page.fill('#password', PASSWORD);
  await page.click('form.login button[type=submit]');
  await page.waitForSelector('nav#nav a[href="#/dash"]', { state: 'attached' });
}
// drop near the top of a column: columns are tall and the board scrolls sideways
const TOP = { targetPosition: { x: 24, y: 16 } };
const rowsOf = (page) => page.$$eval('table[data-test=list] tbody tr[data-id]', (trs) => trs.map((tr) => Number(tr.dataset.id)));
async function waitList(page) {
  await page.waitForSelector('table[data-test=list] tbody tr');
  await page.waitForFunction(() => document.body.dataset.listPaint !== undefined);
}
async function gotoHash(page, hash) {
  await page.evaluate((h) => { delete document.body.dataset.listPaint; location.hash = h; }, hash);
}

// The line grid (views.lines) on a quote's page, as a sales rep: add three lines, a bad quantity is
// an error in its cell and nothing is saved, fix it and save (one batch), the totals on the page
// follow, move a line (button and keyboard), remove one, and the unsaved-change question.
// `total` is a rollup of the quote over its lines that the page shows; `other` another user who may
// change the lines (for the conflict).
const cellOf = (row, field) => `[data-test=lines-grid] tbody tr:nth-child(${row}) td[data-field=${field}]`;
// product: { id, name (typed), title (what the picker shows: the product's title field) }
async function pickProduct(p, row, product) {
  await p.fill(`${cellOf(row, 'product')} input[role=combobox]`, product.name);
  await p.click(`${cellOf(row, 'product')} li[role=option]:text-is(${JSON.stringify(product.title)})`);
  assert(await p.inputValue(`${cellOf(row, 'product')} input[role=combobox]`) === product.title, `picked ${product.title}`);
}
const moneyOf = (text) => Number(String(text).replace(/[^0-9.-]/g, ''));
async function linesOfQuote(rep, quote) {
  const { data } = await rep('GET', `/objects/quote_line?sort=sort_order,id&filter=${encodeURIComponent(`quote = ${quote}`)}`);
  return data.records;
}
async function lineGridScenario({ rep, other, quote, products, total, axeSource }) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 }, bypassCSP: true });
  const p = await context.newPage();
  p.dialogs = [];
  p.on('dialog', async (d) => { p.dialogs.push(d.message()); await d.dismiss(); });
  p.errors = [];
  p.on('pageerror', (e) => p.errors.push(e.message));
  await login(p, 'sales_rep1');
  await p.evaluate((id) => { location.hash = `#/o/quote/${id}`; }, quote);
  await p.waitForSelector('[data-test=lines]');
  assert(await p.$$eval('[data-test=lines-grid] tbody tr', (trs) => trs.length) === 0, 'a new quote has no lines');
  const totalBefore = moneyOf(await p.textContent(`dd[data-field=${total}]`));

  // three lines, each with a product from the picker (the form's ref picker), a quantity and a price
  for (let i = 1; i <= 3; i++) {
    await p.click('[data-test=lines-add]');
    assert(await p.evaluate(() => document.activeElement.getAttribute('aria-label')) === 'Product', 'the new line\'s first input has the focus');
    await pickProduct(p, i, products[i - 1]);
    await p.fill(`${cellOf(i, 'quantity')} input`, String(i));
    await p.fill(`${cellOf(i, 'unit_price')} input`, String(100 * i));
  }
  for (const field of ['product', 'quantity', 'unit_price', 'discount'])
    assert(await p.getAttribute(`${cellOf(1, field)} input`, 'aria-label'), `the ${field} input has a label`);
  assert(await p.$(`${cellOf(1, 'line_total')} input`) == null, 'a formula is text, not an input');

  // a bad quantity: the batch is refused, the error is in its cell, nothing is saved, the edits stay
  await p.fill(`${cellOf(2, 'quantity')} input`, '-1');
  await p.click('[data-test=lines-save]');
  await p.waitForSelector(`${cellOf(2, 'quantity')} input[aria-invalid=true]`);
  const message = await p.textContent(`${cellOf(2, 'quantity')} .field-error`);
  assert(/0/.test(message), `the quantity's cell says why: ${message}`);
  const described = await p.getAttribute(`${cellOf(2, 'quantity')} input`, 'aria-describedby');
  assert(described && (await p.textContent(`#${described}`)) === message, 'the input is described by its error');
  assert(await p.evaluate(() => document.activeElement.closest('td').dataset.field) === 'quantity', 'the focus is on the bad cell');
  assert(/2/.test(await p.textContent('[data-test=lines-error]')), 'the banner names the line');
  assert((await p.$$(`[data-test=lines-grid] [aria-invalid=true]`)).length === 1, 'only that cell is marked');
  assert((await linesOfQuote(rep, quote)).length === 0, 'nothing saved');
  const kept = await p.$$eval('[data-test=lines-grid] tbody td[data-field=product] input', (is) => is.map((x) => x.value));
  assert(kept.join('|') === products.map((x) => x.title).join('|'), `the edits stay: ${kept}`);
  await p.evaluate(axeSource);
  const serious = await p.evaluate(async () => (await window.axe.run(document, { resultTypes: ['violations'] })).violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id}: ${v.nodes[0].target.join(' ')}`));
  assert(serious.length === 0, `axe on the grid: ${serious.join('; ')}`);
  await p.screenshot({ path: path.join(SHOTS, 'lines-error.png'), fullPage: true });

  // fixed: one save, three lines in order, the quote's totals on the page follow
  await p.fill(`${cellOf(2, 'quantity')} input`, '2');
  await p.click('[data-test=lines-save]');
  await p.waitForFunction(() => /saved/i.test(document.querySelector('[data-test=lines-status]').textContent));
  let lines = await linesOfQuote(rep, quote);
  assert(lines.map((l) => l.product).join() === products.map((x) => x.id).join(), `saved in order: ${JSON.stringify(lines)}`);
  assert(lines.map((l) => l.quantity).join() === '1,2,3', `quantities: ${lines.map((l) => l.quantity)}`);
  assert(!(await p.$('[data-test=lines-grid] [aria-invalid=true]')), 'no error left');
  const { data: saved } = await rep('GET', `/objects/quote/${quote}`);
  await p.waitForFunction(([sel, want]) => Number(document.querySelector(sel).textContent.replace(/[^0-9.-]/g, '')) === want,
    [`dd[data-field=${total}]`, saved[total]]);
  assert(saved[total] !== totalBefore, `the total changed: ${totalBefore} -> ${saved[total]}`);
  assert(moneyOf(await p.textContent(`[data-test=lines-totals] [data-total=${total}]`)) === saved[total], 'the totals under the grid too');
  assert(/\d/.test(await p.textContent(cellOf(1, 'line_total'))), 'the formula shows its value after the save');
  await p.screenshot({ path: path.join(SHOTS, 'lines.png'), fullPage: true });

  // someone else changes line 1 meanwhile: the save is refused as a whole, the banner says who; their
  // values load into the cells this user left alone, this user's edit stays, and the next save holds
  const first = lines[0];
  const theirs = await other('PATCH', `/objects/quote_line/${first.id}`, { quantity: 7, discount: 5 }, { 'If-Match': `"${first.version}"` });
  assert(theirs.status === 200, `the other user's change: ${theirs.status} ${JSON.stringify(theirs.data)}`);
  await p.fill(`${cellOf(1, 'unit_price')} input`, '110');
  await p.click('[data-test=lines-save]');
  await p.waitForSelector('[data-test=lines-reload-keep]');
  assert(/Line 1|line 1/.test(await p.textContent('[data-test=lines-error]')), 'the conflict names the line');
  await p.click('[data-test=lines-reload-keep]');
  assert(await p.inputValue(`${cellOf(1, 'quantity')} input`) === '7', 'their quantity in the cell this user left alone');
  assert(await p.inputValue(`${cellOf(1, 'unit_price')} input`) === '110', 'this user\'s price stays');
  await p.click('[data-test=lines-save]');
  await p.waitForFunction(() => /saved/i.test(document.querySelector('[data-test=lines-status]').textContent));
  const merged = (await linesOfQuote(rep, quote))[0];
  assert(merged.quantity === 7 && merged.discount === 5 && merged.unit_price === 110, `merged: ${JSON.stringify(merged)}`);

  // reorder: the third line up with its button, then to the top with Alt+ArrowUp from its quantity
  await p.click(`[data-test=lines-grid] tbody tr:nth-child(3) [data-test=line-up]`);
  assert(/Move up: Line 2/.test(await p.evaluate(() => document.activeElement.getAttribute('aria-label'))), 'the focus moved with the line');
  await p.focus(`${cellOf(2, 'quantity')} input`);
  await p.keyboard.press('Alt+ArrowUp');
  assert(await p.evaluate(() => document.activeElement.closest('tr') === document.querySelector('[data-test=lines-grid] tbody tr')), 'the keyboard moved it to the top');
  // leaving with the move unsaved asks first; dismissed, the page and its edits stay
  await p.click('nav#nav a[href="#/home"]');
  await p.waitForTimeout(200);
  assert(p.dialogs.some((d) => /not saved/.test(d)), `asked before leaving: ${p.dialogs}`);
  assert(await p.evaluate((id) => location.hash === `#/o/quote/${id}`, quote), 'still on the quote');
  await p.click('[data-test=lines-save]');
  await p.waitForFunction(() => /saved/i.test(document.querySelector('[data-test=lines-status]').textContent));
  lines = await linesOfQuote(rep, quote);
  assert(lines.map((l) => l.product).join() === [products[2], products[0], products[1]].map((x) => x.id).join(), `moved: ${lines.map((l) => l.product)}`);

  // remove the first line (marked, then saved), the totals follow again
  await p.click('[data-test=lines-grid] tbody tr:nth-child(1) [data-test=line-remove]');
  assert(/Keep line/.test(await p.getAttribute('[data-test=lines-grid] tbody tr:nth-child(1) [data-test=line-remove]', 'aria-label')), 'undo offered');
  await p.click('[data-test=lines-save]');
  await p.waitForFunction(() => document.querySelectorAll('[data-test=lines-grid] tbody tr').length === 2);
  lines = await linesOfQuote(rep, quote);
  assert(lines.map((l) => l.product).join() === [products[0], products[1]].map((x) => x.id).join(), `after the removal: ${lines.map((l) => l.product)}`);
  const { data: after } = await rep('GET', `/objects/quote/${quote}`);
  await p.waitForFunction(([sel, want]) => Number(document.querySelector(sel).textContent.replace(/[^0-9.-]/g, '')) === want,
    [`dd[data-field=${total}]`, after[total]]);
  assert(p.errors.length === 0, p.errors.join(' | '));
  await context.close();

  // zh and a phone: the same grid, labelled in Chinese, a card per line
  for (const [lang, viewport, shot] of [['zh', { width: 1280, height: 860 }, 'zh-lines.png'], ['en', { width: 390, height: 844 }, 'phone-lines.png'],
    ['zh', { width: 390, height: 844 }, 'zh-phone-lines.png']]) {
    const q = await newPage(viewport);
    await login(q, 'sales_rep1');
    if (lang === 'zh') await q.click('[data-test=lang]');
    await q.evaluate((id) => { location.hash = `#/o/quote/${id}`; }, quote);
    await q.waitForSelector('[data-test=lines-grid] tbody tr');
    await q.click('[data-test=lines-add]');
    await q.fill(`${cellOf(3, 'quantity')} input`, '-1');
    await q.click('[data-test=lines-save]');
    await q.waitForSelector(`${cellOf(3, 'quantity')} input[aria-invalid=true]`);
    const text = await q.textContent('[data-test=lines]');
    if (lang === 'zh') assert(/添加明细行/.test(text) && /保存明细行/.test(text) && /数量/.test(text), `zh grid: ${text.slice(0, 200)}`);
    if (viewport.width < 400) {
      const width = await q.evaluate(() => document.documentElement.scrollWidth);
      assert(width <= viewport.width + 10, `no horizontal overflow on a phone: ${width}`);
    }
    await q.screenshot({ path: path.join(SHOTS, shot), fullPage: true });
    await q.context().close();
  }
}

// axe-core on the page as it is: the serious and critical violations (the page's context must bypass the CSP)
async function axeViolations(p, axeSource) {
  await p.evaluate(axeSource);
  return p.evaluate(async () => (await window.axe.run(document, { resultTypes: ['violations'] })).violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id} (${v.nodes.length}): ${v.nodes[0].target.join(' ')}`));
}
async function assertAxe(p, axeSource, where) {
  const found = await axeViolations(p, axeSource);
  assert(found.length === 0, `axe on ${where}: ${found.join('; ')}`);
}

// ---- lead to cash, every step in the browser as the person who takes it --------------------------
// The API only picks the demo data and checks what the pages say. Amounts on the pages to the cent.
const cents = (x) => Math.round(x * 100);
async function shownMoney(p, selector, want, what, symbol = '€') {
  const text = (await p.textContent(selector)).trim();
  assert(cents(moneyOf(text)) === cents(want) && text.includes(symbol), `${what}: the page shows "${text}", expected ${symbol}${want.toFixed(2)}`);
}
const statusIs = (p, want) => p.waitForFunction((w) => (document.querySelector('dd[data-field=status]') || {}).textContent === w, want);
async function fire(p, transition, status) {
  await p.click(`.transitions button[data-transition=${transition}]`);
  await statusIs(p, status);
}
// A list narrowed with the filter builder to one field's value (as a person finds an order by its number)
async function filterList(p, field, value) {
  await p.selectOption('[data-test=filter-field]', field);
  await p.selectOption('[data-test=filter-op]', '=');
  await p.fill('[data-test=filter-value]', value);
  await p.click('[data-test=filter-add]');
  await p.evaluate(() => { delete document.body.dataset.listPaint; });
  await p.click('[data-test=filter-apply]');
  await p.waitForFunction(() => /filter=/.test(location.hash));
  await waitList(p);
}
// An approver opens the request from "Waiting for my approval" on their home page and approves it
async function approveFromHome(who, quoteId, comment, axeSource) {
  const p = await newPage(undefined, { bypassCSP: true });
  await login(p, who);
  const link = `[data-test=my-approvals] a:text-is("Quote #${quoteId}: Approve")`;
  await p.waitForSelector(link);
  await p.click(link);
  await p.waitForSelector('[data-test=decision] [data-test=approve]');
  assert(await p.getAttribute('[data-test=approval-target]', 'href') === `#/o/quote/${quoteId}`, `${who}: the request links to the quote`);
  await assertAxe(p, axeSource, `${who}'s approval page`);
  await p.fill('[data-test=decision-comment]', comment);
  await p.click('[data-test=approve]');
  await p.waitForFunction(() => !document.querySelector('[data-test=decision] [data-test=approve]')
    && (document.querySelector('dd[data-field=status]') || {}).textContent === 'Approved');
  assert(p.errors.length === 0, `${who}: ${p.errors.join(' | ')}`);
  await p.context().close();
}

async function leadToCash({ axeSource }) {
  const today = new Date().toISOString().slice(0, 10);
  const validUntil = new Date(Date.now() + 30 * 86400e3).toISOString().slice(0, 10);
  const rep = await apiAs('sales_rep1');
  // three demo products and their standard EUR price today (the plugin prices a line from it)
  const lines = [{ code: 'SW-ANL', quantity: 2, discount: 0 }, { code: 'SV-TRN', quantity: 3, discount: 25 }, { code: 'PT-ANT', quantity: 7, discount: 0 }];
  const { data: meta } = await rep('GET', '/meta');
  const titleField = meta.objects.find((o) => o.name === 'product').views.list[0];
  for (const line of lines) {
    const product = (await rep('GET', `/objects/product?filter=${encodeURIComponent(`code = '${line.code}'`)}`)).data.records[0];
    assert(product, `demo product ${line.code}`);
    const filter = `product = ${product.id} and price_book = 'standard' and currency = 'EUR' and valid_from <= '${today}' and (valid_to is null or valid_to >= '${today}')`;
    const entry = (await rep('GET', `/objects/price_book_entry?sort=-valid_from&limit=1&filter=${encodeURIComponent(filter)}`)).data.records[0];
    assert(entry, `a standard EUR price for ${line.code}`);
    Object.assign(line, { id: product.id, name: product.name, title: product[titleField], price: entry.unit_price });
    line.total = Math.round(line.quantity * line.price * (100 - line.discount)) / 100;
  }
  const subtotal = lines.reduce((sum, l) => sum + cents(l.total), 0) / 100;

  // 1. sales_rep1: one of their open deals, from the opportunities list narrowed by a filter
  const p = await newPage(undefined, { bypassCSP: true });
  await login(p, 'sales_rep1');
  await p.click('nav#nav a[href="#/o/opportunity"]');
  await waitList(p);
  await p.fill('[data-test=filter-expr]', "owner = $me and stage = 'negotiation'");
  await p.evaluate(() => { delete document.body.dataset.listPaint; });
  await p.click('[data-test=filter-apply]');
  await p.waitForFunction(() => /filter=/.test(location.hash));
  await waitList(p);
  const dealId = Number(await p.getAttribute('table[data-test=list] tbody tr[data-id]', 'data-id'));
  const dealName = await p.textContent('table[data-test=list] tbody tr[data-id] td a');
  await p.click('table[data-test=list] tbody tr[data-id] td a');
  await p.waitForSelector('section.related[data-related=quote] [data-test=related-new]');
  const accountName = await p.textContent('dd[data-field=account]');

  // 2. a quote from the deal's related list: the deal and its account filled in; valid until in 30 days
  await p.click('section.related[data-related=quote] [data-test=related-new]');
  await p.waitForSelector('form.edit #f-name');
  assert(await p.inputValue('#f-opportunity') === dealName, `the quote's deal: ${await p.inputValue('#f-opportunity')}`);
  assert(await p.inputValue('#f-account') === accountName, `the deal's account: ${await p.inputValue('#f-account')} (${accountName})`);
  await p.fill('#f-name', 'UI lead to cash');
  await p.fill('#f-valid_until', validUntil);
  await p.click('[data-test=save]');
  await p.waitForFunction(() => /#\/o\/quote\/\d+$/.test(location.hash));
  const quoteId = Number(p.url().match(/(\d+)$/)[1]);
  const { data: created } = await rep('GET', `/objects/quote/${quoteId}`);
  assert(created.opportunity === dealId && created.status === 'draft' && created.currency === 'EUR', `the quote: ${JSON.stringify(created)}`);
  const tax = Math.round(subtotal * created.tax_rate) / 100;
  const grand = Math.round((subtotal + tax) * 100) / 100;

  // 3. three lines in the grid, products from its picker, 25% off the second; one save; priced by the plugin
  await p.waitForSelector('[data-test=lines]');
  for (const [i, line] of lines.entries()) {
    await p.click('[data-test=lines-add]');
    await pickProduct(p, i + 1, line);
    await p.fill(`${cellOf(i + 1, 'quantity')} input`, String(line.quantity));
    if (line.discount) await p.fill(`${cellOf(i + 1, 'discount')} input`, String(line.discount));
  }
  await p.click('[data-test=lines-save]');
  await p.waitForFunction(() => /saved/i.test(document.querySelector('[data-test=lines-status]').textContent));
  await p.waitForFunction((want) => Number(((document.querySelector('dd[data-field=subtotal]') || {}).textContent || '').replace(/[^0-9.-]/g, '')) === want, subtotal);
  for (const [i, line] of lines.entries()) {
    assert(Number(await p.inputValue(`${cellOf(i + 1, 'unit_price')} input`)) === line.price, `line ${i + 1} priced from the price book: ${line.price}`);
    await shownMoney(p, `${cellOf(i + 1, 'line_total')} .cell-text`, line.total, `line ${i + 1}'s total`);
  }
  await shownMoney(p, 'dd[data-field=subtotal]', subtotal, 'the subtotal');
  await shownMoney(p, 'dd[data-field=tax]', tax, 'the tax');
  await shownMoney(p, 'dd[data-field=grand_total]', grand, 'the grand total');
  await shownMoney(p, '[data-test=lines-totals] [data-total=grand_total]', grand, 'the grand total under the grid');
  assert(await p.textContent('dd[data-field=max_line_discount]') === '25%', 'the largest line discount');
  const { data: priced } = await rep('GET', `/objects/quote/${quoteId}`);
  assert(cents(priced.grand_total) === cents(grand) && cents(priced.subtotal) === cents(subtotal), `the server's totals: ${priced.subtotal} ${priced.grand_total}`);
  await assertAxe(p, axeSource, 'the quote with its lines');

  // 4. submit, then approve: a 25% discount waits for the manager, then the director
  await fire(p, 'submit', 'In Review');
  await p.click('.transitions button[data-transition=approve]');
  await p.waitForFunction(() => /Waiting for approval/.test((document.querySelector('[data-test=record-notice]') || {}).textContent));
  await p.waitForSelector('[data-test=pending-approvals] li');
  let pending = await p.textContent('[data-test=pending-approvals]');
  assert(/Approve · 1\/2/.test(pending) && /María González/.test(pending), `waiting for the manager: ${pending}`);
  assert(await p.textContent('dd[data-field=status]') === 'In Review', 'the quote waits in review');

  // 5. sales_manager approves step 1 from their home page; the rep then sees who is next
  await approveFromHome('sales_manager', quoteId, 'Two-year deal: 25% on training is fine', axeSource);
  await p.reload();
  await p.waitForSelector('[data-test=pending-approvals] li');
  pending = await p.textContent('[data-test=pending-approvals]');
  assert(/Approve · 2\/2/.test(pending) && /Daniel Schmidt/.test(pending), `waiting for the director: ${pending}`);

  // 6. sales_director approves step 2
  await approveFromHome('sales_director', quoteId, 'Approved', axeSource);

  // 7. the rep: approved; present it, the customer accepts; the order is under the quote
  await p.reload();
  await statusIs(p, 'Approved');
  assert(!(await p.$('[data-test=pending-approvals]')), 'nothing pending');
  assert(await p.textContent('[data-test=stage-path-status] li[aria-current=step]') === 'Approved', 'the stage path');
  await fire(p, 'present', 'Presented');
  await fire(p, 'accept', 'Accepted');
  // the history names each step: the transition as the action, the status as old → new
  await p.waitForSelector('section.history');
  const history = await p.$$eval('section.history tbody tr', (trs) => trs.map((tr) => [...tr.cells].slice(2).map((c) => c.textContent).join(' ')));
  for (const want of ['Submit for review Status: Draft → In Review', 'Present Status: Approved → Presented', 'Customer accepted Status: Presented → Accepted'])
    assert(history.includes(want), `the history has "${want}": ${JSON.stringify(history)}`);
  await p.waitForSelector('section.related[data-related=sales_order] tbody tr[data-id]');
  assert((await p.$$('section.related[data-related=sales_order] tbody tr[data-id]')).length === 1, 'one order');
  const orderId = Number(await p.getAttribute('section.related[data-related=sales_order] tbody tr[data-id]', 'data-id'));
  const orderNumber = await p.textContent('section.related[data-related=sales_order] tbody tr[data-id] td a');
  await shownMoney(p, 'section.related[data-related=sales_order] tbody tr[data-id] td[data-label="Grand Total"]', grand, 'the order in the related list');
  await p.click('section.related[data-related=sales_order] tbody tr[data-id] td a');
  await p.waitForSelector('[data-test=lines-grid] tbody tr');
  assert(await p.textContent('[data-test=record-title]') === orderNumber, `the order's page: ${orderNumber}`);
  await statusIs(p, 'Draft');
  // the quote's lines copied: products, quantities, prices, discounts and totals
  assert((await p.$$('[data-test=lines-grid] tbody tr')).length === 3, 'three order lines');
  for (const [i, line] of lines.entries()) {
    assert(await p.textContent(`${cellOf(i + 1, 'product')} .cell-text`) === line.title, `order line ${i + 1}'s product`);
    assert(await p.textContent(`${cellOf(i + 1, 'quantity')} .cell-text`) === String(line.quantity), `order line ${i + 1}'s quantity`);
    assert(await p.textContent(`${cellOf(i + 1, 'discount')} .cell-text`) === `${line.discount}%`, `order line ${i + 1}'s discount`);
    await shownMoney(p, `${cellOf(i + 1, 'unit_price')} .cell-text`, line.price, `order line ${i + 1}'s price`);
    await shownMoney(p, `${cellOf(i + 1, 'line_total')} .cell-text`, line.total, `order line ${i + 1}'s total`);
  }
  await shownMoney(p, 'dd[data-field=subtotal]', subtotal, "the order's subtotal");
  await shownMoney(p, 'dd[data-field=tax]', tax, "the order's tax");
  await shownMoney(p, 'dd[data-field=grand_total]', grand, "the order's grand total");
  await shownMoney(p, 'dd[data-field=balance]', grand, "the order's balance");
  await assertAxe(p, axeSource, 'the order');
  // the deal is won at the quote's net total (deals are in the company currency)
  await p.click('dd[data-field=opportunity] a');
  await p.waitForFunction((id) => location.hash === `#/o/opportunity/${id}`, dealId);
  await p.waitForFunction(() => (document.querySelector('dd[data-field=stage]') || {}).textContent === 'Closed Won');
  await shownMoney(p, 'dd[data-field=amount]', subtotal, "the deal's amount");
  assert(p.errors.length === 0, `sales_rep1: ${p.errors.join(' | ')}`);
  await p.context().close();

  // 8. sales_manager confirms the order (found in the Sales Orders list by its number): a contract starts
  const m = await newPage();
  await login(m, 'sales_manager');
  await m.click('nav#nav a[href="#/o/sales_order"]');
  await waitList(m);
  await filterList(m, 'number', orderNumber);
  assert(JSON.stringify(await rowsOf(m)) === JSON.stringify([orderId]), `the list finds ${orderNumber}`);
  await m.click(`table[data-test=list] tr[data-id="${orderId}"] td a`);
  await statusIs(m, 'Draft');
  await fire(m, 'confirm', 'Confirmed');
  await m.waitForSelector('section.related[data-related=contract] tbody tr[data-id] td a');
  await m.click('section.related[data-related=contract] tbody tr[data-id] td a');
  await m.waitForSelector('dd[data-field=value]');
  await shownMoney(m, 'dd[data-field=value]', grand, "the contract's value");
  assert(m.errors.length === 0, `sales_manager: ${m.errors.join(' | ')}`);
  await m.context().close();

  // 9. finance records the payment from the order's page: the full grand total, received today
  const f = await newPage(undefined, { bypassCSP: true });
  await login(f, 'finance');
  await f.click('nav#nav a[href="#/o/sales_order"]');
  await waitList(f);
  await filterList(f, 'number', orderNumber);
  await f.click(`table[data-test=list] tr[data-id="${orderId}"] td a`);
  await statusIs(f, 'Confirmed');
  await f.click('section.related[data-related=payment] [data-test=related-new]');
  await f.waitForSelector('form.edit #f-amount');
  assert(await f.inputValue('#f-order') === orderNumber, `the payment's order: ${await f.inputValue('#f-order')}`);
  await f.fill('#f-amount', grand.toFixed(2));
  await f.selectOption('#f-status', 'received');
  await f.fill('#f-received_on', today);
  await f.selectOption('#f-method', 'bank_transfer');
  await assertAxe(f, axeSource, 'the payment form');
  await f.click('[data-test=save]');
  await f.waitForFunction(() => /#\/o\/payment\/\d+$/.test(location.hash));
  await f.waitForSelector('dd[data-field=amount]');
  await shownMoney(f, 'dd[data-field=amount]', grand, 'the payment');
  assert(await f.textContent('dd[data-field=status]') === 'Received', 'received');
  // back to the order: paid, nothing left to pay
  await f.click('dd[data-field=order] a');
  await statusIs(f, 'Paid');
  await shownMoney(f, 'dd[data-field=paid]', grand, "the order's paid");
  await shownMoney(f, 'dd[data-field=balance]', 0, "the order's balance");
  await shownMoney(f, 'section.related[data-related=payment] tbody tr[data-id] td[data-label="Amount"]', grand, 'the payment under the order');
  const { data: order } = await rep('GET', `/objects/sales_order/${orderId}`);
  assert(order.status === 'paid' && order.balance === 0 && cents(order.paid) === cents(grand), `the server's order: ${JSON.stringify(order)}`);
  // and in the list
  await f.click('.crumb a');
  await waitList(f);
  await filterList(f, 'number', orderNumber);
  const row = `table[data-test=list] tr[data-id="${orderId}"]`;
  assert(await f.textContent(`${row} td[data-label="Status"]`) === 'Paid', 'the list says paid');
  await shownMoney(f, `${row} td[data-label="Balance"]`, 0, "the list's balance");
  await shownMoney(f, `${row} td[data-label="Paid"]`, grand, "the list's paid");
  assert(f.errors.length === 0, `finance: ${f.errors.join(' | ')}`);
  await f.context().close();
  log(`# lead to cash: deal ${dealId}, quote ${quoteId}, order ${orderNumber} paid €${grand.toFixed(2)}`);
}

async function main() {
  const made = spawnSync(CRM, ['demo', '--db', db, '--records', RECORDS, '--seed', '7'], { cwd: ROOT, encoding: 'utf8' });
  if (made.status !== 0) throw new Error(`crm demo failed: ${made.stderr}`);
  server = await startServer();
  browser = await chromium.launch({
    executablePath: CHROMIUM, headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
  });
  const admin = await apiAs('admin');
  const rep = await apiAs('sales_rep1');
  const page = await newPage();

  await test('assets served with a strict CSP', async () => {
    const res = await fetch(`${base}/`);
    const csp = res.headers.get('content-security-policy') || '';
    assert(res.ok && /text\/html/.test(res.headers.get('content-type')), 'index.html');
    assert(/script-src 'self'/.test(csp) && !/unsafe-inline|unsafe-eval/.test(csp), `CSP: ${csp}`);
    const js = await fetch(`${base}/ui/app.js`);
    assert(js.ok && /javascript/.test(js.headers.get('content-type')), 'app.js content type');
    assert((await fetch(`${base}/ui/missing.js`)).status === 404, 'missing asset is 404');
    assert((await fetch(`${base}/api/v1/nothing`)).status !== 200, 'the API is not shadowed');
  });

  // The UI's own strings (STRINGS in app.js): every key in English has its Chinese, and back.
  await test('every UI string has en and zh', async () => {
    const source = fs.readFileSync(path.join(ROOT, 'core/server/ui/app.js'), 'utf8');
    const table = source.slice(source.indexOf('const STRINGS = {'), source.indexOf('const t = (key)'));
    const keys = (lang) => new Set([...table.slice(table.indexOf(`  ${lang}: {`)).split('\n  },')[0]
      .matchAll(/(\w+): ['`]/g)].map((m) => m[1]));
    const en = keys('en');
    const zh = keys('zh');
    assert(en.size > 100, `read ${en.size} English strings`);
    const missing = [...en].filter((k) => !zh.has(k)).concat([...zh].filter((k) => !en.has(k)));
    assert(missing.length === 0, `strings in one language only: ${missing.join(', ')}`);
  });

  await test('log in as sales_rep1', async () => {
    await login(page, 'sales_rep1');
    const nav = await page.textContent('nav#nav');
    // navigation reads the plural labels (label_plural) and the module labels
    assert(/Opportunities/.test(nav) && /Accounts/.test(nav) && /Sales/.test(nav), `nav: ${nav}`);
    // the rep's role navigation: what a rep works with, no Administration module
    assert(!/Administration/.test(nav) && !/Users/.test(nav) && !/Teams/.test(nav), `a rep's nav shows admin objects: ${nav}`);
    assert(!/Team Name/.test(nav), 'nav names objects only');
  }, page);

  await test('opportunities list (first paint logged)', async () => {
    const started = Date.now();
    await gotoHash(page, '#/o/opportunity');
    await waitList(page);
    const inPage = await page.evaluate(() => document.body.dataset.listPaint);
    log(`# list page first paint: ${Date.now() - started} ms from navigation, ${inPage} ms in page (${RECORDS} accounts of demo data)`);
    const heads = await page.$$eval('table[data-test=list] th', (ths) => ths.map((th) => th.textContent));
    assert(heads.some((x) => /Amount/.test(x)) && heads.some((x) => /Stage/.test(x)), `columns ${heads}`);
    const cells = await page.$$eval('table[data-test=list] tbody tr:first-child td', (tds) => tds.map((td) => td.textContent));
    // the demo's app.yaml sets config.currency: EUR
    assert(cells.some((c) => /^€\d{1,3}(,\d{3})*\.\d\d$/.test(c)), `money formatted: ${cells}`);
    assert(await page.$('table[data-test=list] tbody td a[href^="#/o/account/"]'), 'account ref is a link');
    const refText = await page.textContent('table[data-test=list] tbody td a[href^="#/o/account/"]');
    assert(!/^#\d+$/.test(refText), `ref shows a name: ${refText}`);
    await page.screenshot({ path: path.join(SHOTS, 'list.png') });
  }, page);

  await test('sort by clicking a header', async () => {
    const amounts = async () => (await page.$$eval('table[data-test=list] tbody tr', (trs) => trs.map((tr) => tr.querySelector('td[data-label="Amount"]').textContent)))
      .map((x) => (x === '—' ? null : Number(x.replace(/[^0-9.-]/g, ''))));
    // the previous page's paint mark would let waitList return before the sorted page is drawn
    await page.evaluate(() => { delete document.body.dataset.listPaint; });
    await page.click('th button.sort[data-field=amount]');
    await page.waitForFunction(() => /sort=amount/.test(location.hash));
    await waitList(page);
    let a = (await amounts()).filter((x) => x != null);
    assert(a.length > 3 && a.every((x, i) => i === 0 || a[i - 1] <= x), `ascending: ${a}`);
    await page.evaluate(() => { delete document.body.dataset.listPaint; });
    await page.click('th button.sort[data-field=amount]');
    await page.waitForFunction(() => /sort=-amount/.test(location.hash));
    await waitList(page);
    a = (await amounts()).filter((x) => x != null);
    assert(a.length > 3 && a.every((x, i) => i === 0 || a[i - 1] >= x), `descending: ${a}`);
    assert(await page.getAttribute('th[aria-sort]', 'aria-sort') === 'descending', 'aria-sort');
  }, page);

  await test('filter builder writes the expression language', async () => {
    await page.selectOption('[data-test=filter-field]', 'amount');
    await page.selectOption('[data-test=filter-op]', '>');
    await page.fill('[data-test=filter-value]', '100000');
    await page.click('[data-test=filter-add]');
    await page.selectOption('[data-test=filter-field]', 'stage');
    await page.selectOption('[data-test=filter-op]', '=');
    await page.selectOption('[data-test=filter-value]', 'won');
    await page.click('[data-test=filter-add]');
    const expr = await page.inputValue('[data-test=filter-expr]');
    assert(expr === "amount > 100000 and stage = 'won'", `expression: ${expr}`);
    await page.evaluate(() => { delete document.body.dataset.listPaint; });
    await page.click('[data-test=filter-apply]');
    await page.waitForFunction(() => /filter=/.test(location.hash));
    await waitList(page);
    const ids = await rowsOf(page);
    const { data } = await rep('GET', `/objects/opportunity?limit=100&filter=${encodeURIComponent(expr)}`);
    assert(ids.length > 0 && ids.length === Math.min(25, data.records.length), `rows ${ids.length} vs api ${data.records.length}`);
    const stages = await page.$$eval('table[data-test=list] tbody tr', (trs) => trs.map((tr) => tr.querySelector('td[data-label="Stage"]').textContent));
    assert(stages.every((s) => s === 'Closed Won'), `enum labels: ${stages}`);
  }, page);

  await test('keyset paging with next/previous', async () => {
    await gotoHash(page, '#/o/opportunity?sort=name');
    await waitList(page);
    const first = await rowsOf(page);
    assert(first.length === 25, `page 1 has ${first.length}`);
    await page.click('[data-test=next]');
    await page.waitForFunction(() => /^26–/.test(document.querySelector('.pager-status').textContent));
    const second = await rowsOf(page);
    assert(second.length > 0 && !second.some((id) => first.includes(id)), 'page 2 differs');
    await page.click('[data-test=prev]');
    await page.waitForFunction(() => /^1–/.test(document.querySelector('.pager-status').textContent));
    assert(JSON.stringify(await rowsOf(page)) === JSON.stringify(first), 'back to page 1');
  }, page);

  await test('full-text search box', async () => {
    const { data } = await rep('GET', '/objects/opportunity?limit=1&sort=name');
    const word = data.records[0].name.split(/\s+/)[0];
    await page.fill('form.search input[name=q]', word);
    // the list repaints for the search: wait for that paint, not the one before it
    await page.evaluate(() => { delete document.body.dataset.listPaint; });
    await page.press('form.search input[name=q]', 'Enter');
    await page.waitForFunction(() => /search=/.test(location.hash));
    await waitList(page);
    const names = await page.$$eval('table[data-test=list] tbody tr td:not(.select)', (tds) => tds.filter((td) => !td.previousElementSibling || td.previousElementSibling.classList.contains('select')).map((td) => td.textContent));
    assert(names.length > 0 && names.some((n) => n.includes(word)), `search ${word}: ${names.slice(0, 3)}`);
  }, page);

  let created = null;
  await test('create with an invalid value: inline error, fix, save', async () => {
    await gotoHash(page, '#/o/opportunity/new');
    await page.waitForSelector('form.edit');
    await page.fill('#f-name', 'UI test deal');
    await page.fill('#f-account', 'a');
    await page.waitForSelector('#f-account-list li');
    await page.click('#f-account-list li >> nth=0');
    await page.fill('#f-amount', '-5');
    await page.click('[data-test=save]');
    await page.waitForFunction(() => document.querySelector('#err-amount').textContent.length > 0);
    const msg = await page.textContent('#err-amount');
    assert(/>= 0/.test(msg), `inline error: ${msg}`);
    assert(await page.getAttribute('#f-amount', 'aria-invalid') === 'true', 'aria-invalid');
    assert(/#\/o\/opportunity\/new/.test(page.url()), 'still on the form');
    await page.fill('#f-amount', '1234.5');
    await page.fill('#f-close_date', '2026-12-24');
    await page.click('[data-test=save]');
    await page.waitForFunction(() => /#\/o\/opportunity\/\d+$/.test(location.hash));
    created = Number(page.url().match(/(\d+)$/)[1]);
    await page.waitForSelector('[data-test=record-title]');
    assert(await page.textContent('[data-test=record-title]') === 'UI test deal', 'record title');
  }, page);

  await test('record page: groups, related lists, history; edit', async () => {
    await gotoHash(page, `#/o/opportunity/${created}`);
    await page.waitForSelector('section.history');
    const amount = await page.textContent('dd[data-field=amount]');
    assert(amount === '€1,234.50', `amount ${amount}`);
    assert(await page.textContent('dd[data-field=stage]') === 'Prospecting', 'enum label');
    assert(await page.$('dd[data-field=account] a[href^="#/o/account/"]'), 'account link');
    assert(await page.$('section.related[data-related=activity]'), 'related activities');
    assert(/Created/.test(await page.textContent('section.history')), 'history shows the create');
    await page.screenshot({ path: path.join(SHOTS, 'record.png'), fullPage: true });
    await page.click('a.button[href$="/edit"]');
    await page.waitForSelector('form.edit');
    await page.fill('#f-next_step', 'Send the proposal');
    await page.click('[data-test=save]');
    await page.waitForFunction(() => /#\/o\/opportunity\/\d+$/.test(location.hash));
    await page.waitForSelector('section.history');
    assert(await page.textContent('dd[data-field=next_step]') === 'Send the proposal', 'edited');
    assert(/Send the proposal/.test(await page.textContent('section.history')), 'history shows the update');
  }, page);

  await test('record page: fire a transition', async () => {
    const { data: rec } = await rep('GET', `/objects/opportunity/${created}`);
    const names = (rec._transitions || []).map((x) => (typeof x === 'string' ? x : x.name));
    if (!names.length) { log('# no _transitions on the record (no workflow engine): skipped'); return; }
    await gotoHash(page, `#/o/opportunity/${created}`);
    await page.waitForSelector('.transitions button[data-transition]');
    const name = names.includes('qualify') ? 'qualify' : names[0];
    await page.click(`.transitions button[data-transition="${name}"]`);
    await page.waitForFunction((v) => document.querySelector('dd[data-field=stage]') && document.querySelector('dd[data-field=stage]').textContent !== v, 'Prospecting');
    const { data } = await rep('GET', `/objects/opportunity/${created}`);
    assert(data.version > rec.version && data.stage !== rec.stage, `transition ${name} fired: ${data.stage}`);
    log(`# fired ${name}: ${rec.stage} -> ${data.stage}`);
  }, page);

  // Drags: a move the server accepts lands in the new column (and is stored); a move it refuses
  // snaps back with the server's reason. Which board accepts a plain drag depends on the
  // workflows: a workflow field moves only by transitions the board can map (see app.js).
  await test('kanban: drag a card to another column', async () => {
    const id = (await rep('POST', '/objects/activity', { subject: 'UI drag me', kind: 'task', status: 'open' })).data.id;
    await gotoHash(page, '#/k/activity');
    const card = `li.card[data-id="${id}"]`;
    await page.waitForSelector(`section.column[data-value=open] ${card}`);
    await page.dragAndDrop(card, 'section.column[data-value=done]', TOP);
    await page.waitForSelector(`section.column[data-value=done] ${card}`);
    await page.waitForFunction(() => !document.querySelector('li.card.pending'));
    const alert = await page.textContent('[data-test=board-alert]');
    assert(!alert, `refused: ${alert}`);
    assert(await page.$(`section.column[data-value=done] ${card}`), 'card stays in the new column');
    const { data } = await rep('GET', `/objects/activity/${id}`);
    assert(data.status === 'done', `stored status ${data.status}`);
  }, page);

  // The opportunity board's stage is a workflow field: a drag is mapped to the transition
  // (o.workflows in /meta) leaving the card's stage for the target column.
  await test('kanban: a permitted workflow move (qualify) moves and persists', async () => {
    const acct = (await rep('GET', '/objects/account?limit=1')).data.records[0].id;
    const { data: deal } = await rep('POST', '/objects/opportunity', { name: 'UI qualify me', account: acct, amount: 5000 });
    assert(deal.stage === 'prospecting' && deal.owner === rep.user.id, `own prospecting deal: ${deal.stage}/${deal.owner}`);
    const meta = (await rep('GET', '/meta')).data.objects.find((o) => o.name === 'opportunity');
    const wf = (meta.workflows || []).find((w) => w.field === 'stage');
    assert(wf && wf.transitions.some((x) => x.name === 'qualify' && x.to === 'qualification'), 'qualify is in /meta workflows');
    await gotoHash(page, '#/dash');
    await gotoHash(page, '#/k/opportunity');
    const card = `li.card[data-id="${deal.id}"]`;
    await page.waitForSelector(`section.column[data-value=prospecting] ${card}`);
    await page.screenshot({ path: path.join(SHOTS, 'kanban.png') });
    await page.dragAndDrop(card, 'section.column[data-value=qualification]', TOP);
    await page.waitForSelector(`section.column[data-value=qualification] ${card}:not(.pending)`);
    const alert = await page.textContent('[data-test=board-alert]');
    assert(!alert, `refused: ${alert}`);
    const { data } = await rep('GET', `/objects/opportunity/${deal.id}`);
    assert(data.stage === 'qualification', `stored stage ${data.stage}`);
    const { data: hist } = await rep('GET', `/objects/opportunity/${deal.id}/history`);
    log(`# qualify by drag; history actions: ${hist.history.map((x) => x.action).join(', ')}`);
    await page.reload();
    await page.waitForSelector(`section.column[data-value=qualification] ${card}`);
    assert(!(await page.$(`section.column[data-value=prospecting] ${card}`)), 'after reload: not in prospecting');
  }, page);

  await test('kanban: a refused move snaps back with the reason', async () => {
    // the server refuses "won" without an amount (a YAML rule; and the workflow's `require`)
    const acct = (await rep('GET', '/objects/account?limit=1')).data.records[0].id;
    const { data: bare } = await rep('POST', '/objects/opportunity', { name: 'UI no amount', account: acct });
    await gotoHash(page, '#/dash');
    await gotoHash(page, '#/k/opportunity');
    const card = `li.card[data-id="${bare.id}"]`;
    await page.waitForSelector(`section.column[data-value=prospecting] ${card}`);
    await page.dragAndDrop(card, 'section.column[data-value=won]', TOP);
    await page.waitForFunction(() => document.querySelector('[data-test=board-alert]').textContent.length > 0);
    const reason = await page.textContent('[data-test=board-alert]');
    assert(/^Refused: ./.test(reason), `reason: ${reason}`);
    assert(/transition|workflow|amount/i.test(reason), `the reason says why: ${reason}`);
    await page.waitForSelector(`section.column[data-value=prospecting] ${card}`);
    assert(!(await page.$(`section.column[data-value=won] ${card}`)), 'not left in the won column');
    const { data } = await rep('GET', `/objects/opportunity/${bare.id}`);
    assert(data.stage === 'prospecting', 'stage unchanged');
    log(`# refused drag: ${reason}`);
    // a teammate's deal (readable, not writable), moved with the keyboard's "Move to" select
    const other = (await rep('GET', `/objects/opportunity?limit=50&sort=-updated_at&filter=${encodeURIComponent(`owner != ${rep.user.id} and stage = 'prospecting'`)}`)).data.records;
    const ids = await page.$$eval('section.column[data-value=prospecting] li.card', (cs) => cs.map((c) => Number(c.dataset.id)));
    const theirs = other.find((r) => ids.includes(r.id));
    if (theirs) {
      await page.selectOption(`li.card[data-id="${theirs.id}"] select.move`, 'lost');
      await page.waitForFunction((id) => /Refused/.test(document.querySelector('[data-test=board-alert]').textContent)
        && document.querySelector(`section.column[data-value=prospecting] li.card[data-id="${id}"]:not(.pending)`), theirs.id);
      log(`# refused teammate move (keyboard "Move to"): ${await page.textContent('[data-test=board-alert]')}`);
    }
  }, page);

  // A transition with `approval:` answers 202 pending_approval: the record page says so and lists
  // the request; the approver finds it on the dashboard and approves it with a comment.
  await test('approvals: pending on the record, approve with a comment', async () => {
    const manager = await apiAs('sales_manager');
    const acct = (await rep('GET', '/objects/account?limit=1')).data.records[0].id;
    const { data: deal } = await rep('POST', '/objects/opportunity', { name: 'UI needs approval', account: acct, amount: 90000, close_date: '2026-11-30' });
    for (const tr of ['qualify', 'propose']) {
      const r = await rep('POST', `/objects/opportunity/${deal.id}/transitions/${tr}`, {});
      assert(r.status === 200, `${tr}: ${r.status} ${JSON.stringify(r.data)}`);
    }
    const cur = await manager('GET', `/objects/opportunity/${deal.id}`);
    const patched = await manager('PATCH', `/objects/opportunity/${deal.id}`, { discount: 30 }, { 'If-Match': cur.etag });
    assert(patched.status === 200, `manager sets the discount: ${patched.status} ${JSON.stringify(patched.data)}`);
    await gotoHash(page, `#/o/opportunity/${deal.id}`);
    await page.waitForSelector('.transitions button[data-transition=negotiate]');
    await page.click('.transitions button[data-transition=negotiate]');
    await page.waitForFunction(() => /Waiting for approval/.test((document.querySelector('[data-test=record-notice]') || {}).textContent || ''));
    await page.waitForSelector('[data-test=pending-approvals] li a[href^="#/o/approval/"]');
    assert(await page.textContent('dd[data-field=stage]') === 'Proposal', 'the stage waits');
    const { data: pend } = await rep('GET', `/objects/approval?filter=${encodeURIComponent(`record_id = ${deal.id} and status = 'pending'`)}`);
    assert(pend.records.length === 1, `one pending request: ${pend.records.length}`);
    const approval = pend.records[0].id;
    // the approver's side
    const mp = await newPage();
    await login(mp, 'sales_manager');
    await mp.waitForSelector(`[data-test=my-approvals] a[href="#/o/approval/${approval}"]`);
    await mp.click(`[data-test=my-approvals] a[href="#/o/approval/${approval}"]`);
    await mp.waitForSelector('[data-test=decision] [data-test=approve]');
    assert(await mp.getAttribute('[data-test=approval-target]', 'href') === `#/o/opportunity/${deal.id}`, 'links to the deal');
    await mp.fill('[data-test=decision-comment]', 'OK, 30% for a multi-year deal');
    await mp.click('[data-test=approve]');
    await mp.waitForFunction(() => !document.querySelector('[data-test=decision] [data-test=approve]') && /Approved/.test((document.querySelector('dd[data-field=status]') || {}).textContent || ''));
    assert(await mp.textContent('dd[data-field=comment]') === 'OK, 30% for a multi-year deal', 'comment stored');
    await mp.screenshot({ path: path.join(SHOTS, 'approval.png'), fullPage: true });
    await mp.context().close();
    const { data: after } = await rep('GET', `/objects/opportunity/${deal.id}`);
    assert(after.stage === 'negotiation', `approved: stage ${after.stage}`);
    // the requester's notifications (if the engine wrote one) show on their dashboard
    await gotoHash(page, '#/dash');
    await page.waitForSelector('[data-test=notifications]');
    log(`# approval ${approval} approved; rep inbox: ${(await page.textContent('[data-test=notifications]')).slice(0, 120)}`);
    const unread = await page.$$eval('[data-test=notifications] li', (x) => x.length);
    if (unread) {
      await page.click('[data-test=notifications] li button.link');
      await page.waitForFunction((n) => document.querySelectorAll('[data-test=notifications] li').length === n - 1, unread);
      const left = (await rep('GET', `/objects/notification?filter=${encodeURIComponent(`user = ${rep.user.id} and read = false`)}`)).data.records.length;
      assert(left === unread - 1, `marked read on the server: ${left} unread`);
    }
  }, page);

  await test('account 360 page', async () => {
    const { data } = await rep('GET', `/objects/opportunity/${created}`);
    await gotoHash(page, `#/360/account/${data.account}`);
    await page.waitForSelector('section.history');
    const related = await page.$$eval('section.related', (ss) => ss.map((s) => s.dataset.related));
    for (const name of ['contact', 'opportunity', 'activity']) assert(related.includes(name), `360 has ${name}: ${related}`);
    assert(await page.$(`section.related[data-related=opportunity] tr[data-id="${created}"]`), 'the new deal is listed');
    const counts = await page.$$eval('section.related h2', (hs) => hs.map((x) => x.textContent));
    log(`# 360 related: ${counts.join('; ')}`);
    await page.screenshot({ path: path.join(SHOTS, 'account-360.png'), fullPage: true });
  }, page);

  await test('dashboard draws the charts defined in YAML (views.charts)', async () => {
    await gotoHash(page, '#/dash');
    const meta = (await rep('GET', '/meta')).data;
    const defined = meta.objects.flatMap((o) => ((o.views && o.views.charts) || []).map((c) => ({ o: o.name, title: c.title.en })));
    for (const want of ['Pipeline by stage', 'Won revenue by month', 'Open cases by tier'])
      assert(defined.some((c) => c.title === want), `${want} is in /meta views.charts: ${JSON.stringify(defined)}`);
    for (const { title } of defined) {
      const card = `section.chart-card[data-chart-title="${title}"]`;
      await page.waitForSelector(`${card} svg.chart`);
      assert((await page.textContent(`${card} h2`)) === title, `${title}: heading`);
      assert(await page.getAttribute(`${card} svg.chart`, 'aria-label') === title, `${title}: svg label`);
    }
    const bars = async (title) => page.$$eval(`section.chart-card[data-chart-title="${title}"] svg.chart rect.bar`, (rs) => rs.map((r) => Number(r.getAttribute('height'))));
    const stage = await bars('Pipeline by stage');
    assert(stage.length === 6 && stage.some((x) => x > 0), `pipeline bars ${stage}`);
    const won = await bars('Won revenue by month');
    assert(won.length > 0 && won.length <= 12 && won.some((x) => x > 0), `won-by-month bars ${won}`);
    const labels = await page.$$eval('section.chart-card[data-chart-title="Won revenue by month"] svg.chart text.axis', (ts) => ts.map((x) => x.textContent));
    assert(labels.every((l) => /^\d{4}-\d\d$/.test(l)), `monthly buckets: ${labels}`);
    const tiers = await bars('Open cases by tier');
    assert(tiers.length === 3, `tier bars ${tiers}`);   // L1, L2 and the service package's L3
    // the won-by-month chart sums what the report API sums for the same filter
    const { data: rpt } = await rep('GET', `/reports/opportunity?group=close_date&measure=sum(amount)&filter=${encodeURIComponent("stage = 'won'")}`);
    assert(rpt.rows.length > 0, 'won rows exist');
    // an object with a board and no views.charts keeps the derived chart
    assert(await page.$('section.chart-card[data-chart^="activity-"] svg.chart'), 'derived fallback chart for activity');
    log(`# dashboard: ${defined.length} YAML charts (${defined.map((c) => c.title).join('; ')})`);
    await page.screenshot({ path: path.join(SHOTS, 'dashboard.png'), fullPage: true });
  }, page);

  // KPI tiles (GET /api/v1/kpis): the dashboard's tiles grouped by category, each figure as the API
  // gives it; the scope switch asks again with its scope; the home page's row; zh; a phone.
  await test('kpi tiles: dashboard and home, figures as the API gives them, the scope switch, zh, phone', async () => {
    const day = '2026-05-10';
    const rep1 = await apiAs('sales_rep1');
    const { data: meta } = await rep1('GET', '/meta');
    const money = new Set();
    for (const o of meta.objects) for (const f of o.fields) if (f.type === 'money') money.add(`${o.name}.${f.name}`);
    const expect = (k) => {
      if (typeof k.actual !== 'number') return '—';
      const m = /^\w+\((\w+)\)$/.exec(k.measure);
      if (!m || !k.object) return k.unit === 'money' ? cents(k.actual) / 100 : k.unit === 'count' ? k.actual : Math.round(k.actual * 100) / 100;
      return money.has(`${k.object}.${m[1]}`) ? cents(k.actual) / 100 : Math.round(k.actual * 100) / 100;
    };
    const tilesOf = (p, sel) => p.$$eval(`${sel} .kpi-tile`, (ts) => ts.map((x) => ({ name: x.dataset.kpi,
      actual: x.querySelector('[data-test=kpi-actual]').textContent, label: x.querySelector('h3').textContent,
      period: x.querySelector('[data-test=kpi-period]').textContent,
      attainment: (x.querySelector('[data-test=kpi-attainment]') || {}).textContent || null,
      category: (x.closest('[data-category]') || { dataset: {} }).dataset.category })));
    const sameFigures = (shown, api, who) => {
      assert(shown.length === api.kpis.length && shown.length > 0, `${who}: ${shown.length} tiles for ${api.kpis.length} kpis`);
      for (const k of api.kpis) {
        const tile = shown.find((x) => x.name === k.name);
        assert(tile, `${who}: no tile for ${k.name}`);
        const want = expect(k);
        const got = want === '—' ? tile.actual : moneyOf(tile.actual);
        assert(got === want, `${who}: ${k.name} shows ${tile.actual}, the API says ${k.actual}`);
        if (tile.category) assert(tile.category === k.category, `${who}: ${k.name} under ${tile.category}`);
        if (typeof k.attainment === 'number') assert(moneyOf(tile.attainment.split('%')[0]) === k.attainment, `${who}: ${k.name} attainment ${tile.attainment} vs ${k.attainment}`);
      }
    };
    const p = await newPage();
    const asked = [];
    p.on('request', (r) => { if (/\/api\/v1\/kpis\?/.test(r.url())) asked.push(new URL(r.url()).searchParams.get('scope')); });
    await login(p, 'sales_rep1');
    // the home page: the rep's own figures in a row
    await p.waitForSelector('[data-test=kpis-home] .kpi-tile');
    // the home page: the rep's dashboard tiles (their own figures)
    sameFigures(await tilesOf(p, '[data-test=kpis-home]'), (await rep1('GET', '/kpis?view=dashboard')).data, 'rep1 home');
    await p.evaluate((d) => { location.hash = `#/dash?day=${d}`; }, day);
    await p.waitForSelector('[data-test=kpis] .kpi-tile');
    const mine = (await rep1('GET', `/kpis?day=${day}&scope=me`)).data;
    const shown = await tilesOf(p, '[data-test=kpis]');
    sameFigures(shown, mine, 'rep1 me');
    assert(shown.find((x) => x.name === 'won_revenue').period === 'Q2 2026', `period: ${shown.find((x) => x.name === 'won_revenue').period}`);
    assert(shown.find((x) => x.name === 'new_opportunities').period === '2026-05', 'a month');
    const heads = await p.$$eval('[data-test=kpis] .kpi-category', (xs) => xs.map((x) => x.textContent));
    assert(JSON.stringify(heads) === JSON.stringify(['Operating efficiency', 'Business value']), `categories: ${heads}`);
    const won = mine.kpis.find((k) => k.name === 'won_revenue');
    const trend = await p.textContent('[data-test=kpis] [data-kpi=won_revenue] [data-test=kpi-trend]');
    assert(/vs Q1 2026/.test(trend) && (won.actual >= won.previous ? /▲|＝/ : /▼/).test(trend), `trend: ${trend} (${won.actual} against ${won.previous})`);
    assert(await p.$eval('[data-test=kpis] [data-kpi=won_revenue] [data-test=kpi-trend]', (x, up) => x.classList.contains(up ? 'better' : 'worse'), won.actual > won.previous), 'the trend colour follows the direction');
    // the scope switch asks for the team's figures
    asked.length = 0;
    await p.click('[data-test=kpi-scope] button[data-scope=team]');
    await p.waitForFunction(() => document.querySelector('[data-test=kpis]').dataset.scope === 'team');
    assert(asked.includes('team'), `asked: ${asked}`);
    assert(await p.getAttribute('[data-test=kpi-scope] button[data-scope=team]', 'aria-pressed') === 'true', 'the team button is pressed');
    sameFigures(await tilesOf(p, '[data-test=kpis]'), (await rep1('GET', `/kpis?day=${day}&scope=team`)).data, 'rep1 team');
    await p.click('[data-test=kpi-scope] button[data-scope=me]');
    await p.waitForFunction(() => document.querySelector('[data-test=kpis]').dataset.scope === 'me');
    assert(p.errors.length === 0, p.errors.join(' | '));
    await p.context().close();
    // the manager: tiles on home and the dashboard, everyone's figures
    const mgr = await apiAs('sales_manager');
    const m = await newPage();
    await login(m, 'sales_manager');
    await m.waitForSelector('[data-test=kpis-home] .kpi-tile');
    sameFigures(await tilesOf(m, '[data-test=kpis-home]'), (await mgr('GET', '/kpis?view=dashboard')).data, 'manager home');
    await m.evaluate((d) => { location.hash = `#/dash?day=${d}`; }, day);
    await m.waitForSelector('[data-test=kpis] .kpi-tile');
    await m.click('[data-test=kpi-scope] button[data-scope=all]');
    await m.waitForFunction(() => document.querySelector('[data-test=kpis]').dataset.scope === 'all');
    sameFigures(await tilesOf(m, '[data-test=kpis]'), (await mgr('GET', `/kpis?day=${day}&scope=all`)).data, 'manager all');
    assert(m.errors.length === 0, m.errors.join(' | '));
    await m.context().close();
    // en and zh, desktop and phone: screenshots, axe-core, no sideways scrolling on a phone
    const axeSource = fs.readFileSync(path.join(ROOT, 'tests/ui/node_modules/axe-core/axe.min.js'), 'utf8');
    for (const [lang, viewport, prefix] of [['en', { width: 1280, height: 860 }, ''], ['zh', { width: 1280, height: 860 }, 'zh-'],
      ['en', { width: 390, height: 844 }, 'phone-'], ['zh', { width: 390, height: 844 }, 'zh-phone-']]) {
      const q = await newPage(viewport, { bypassCSP: true });
      await login(q, 'sales_rep1');
      if (lang === 'zh') {
        await q.click('[data-test=lang]');
        await q.waitForFunction(() => document.documentElement.lang === 'zh-CN');
      }
      await q.evaluate((d) => { location.hash = `#/dash?day=${d}`; }, day);
      await q.waitForSelector('[data-test=kpis] .kpi-tile');
      await q.click('[data-test=kpi-scope] button[data-scope=team]');
      await q.waitForFunction(() => document.querySelector('[data-test=kpis]').dataset.scope === 'team');
      if (lang === 'zh') {
        const tiles = await tilesOf(q, '[data-test=kpis]');
        const heads = await q.$$eval('[data-test=kpis] .kpi-category', (xs) => xs.map((x) => x.textContent));
        assert(JSON.stringify(heads) === JSON.stringify(['运营效率', '业务价值']), `zh categories: ${heads}`);
        const wonZh = tiles.find((x) => x.name === 'won_revenue');
        assert(wonZh.label === '赢单金额' && wonZh.period === '2026年第2季度', `zh tile: ${JSON.stringify(wonZh)}`);
        assert(await q.textContent('[data-test=kpi-scope] button[data-scope=team]') === '我的团队', 'zh scope');
        const text = await q.textContent('[data-test=kpis]');
        assert(!/Won|Deals|target|Target|Operating/.test(text), `English in zh: ${text.slice(0, 300)}`);
      }
      if (viewport.width < 400) {
        const width = await q.evaluate(() => document.documentElement.scrollWidth);
        assert(width <= viewport.width + 10, `${prefix}kpis: no sideways scrolling on a phone: ${width}`);
      }
      await q.waitForFunction(() => !document.querySelector('p.loading'));
      await assertAxe(q, axeSource, `${prefix}kpis`);
      await (await q.$('[data-test=kpis]')).screenshot({ path: path.join(SHOTS, `${prefix}kpis.png`) });
      await q.evaluate(() => { location.hash = '#/home'; });
      await q.waitForSelector('[data-test=kpis-home] .kpi-tile');
      await assertAxe(q, axeSource, `${prefix}home kpis`);
      await q.evaluate(() => window.scrollTo(0, 0));   /* the dashboard (now longer) left the page scrolled */
      await q.screenshot({ path: path.join(SHOTS, `${prefix}home-kpis.png`) });
      assert(q.errors.length === 0, `${prefix}: ${q.errors.join(' | ')}`);
      await q.context().close();
    }
  }, page);

  // Report documents (metadata `report:`, GET /api/v1/reports) on their module's dashboard: the lead
  // funnel (marketing) as stages with the API's figures, the won-by-month line (sales) with a line per
  // measure and a point per month, the pipeline bars; zh labels; screenshots of the funnel and the line.
  await test('report documents on module dashboards: funnel, line and bars as the API gives them, zh', async () => {
    const axeSource = fs.readFileSync(path.join(ROOT, 'tests/ui/node_modules/axe-core/axe.min.js'), 'utf8');
    const { data: funnel } = await rep('GET', '/reports/lead_funnel');
    const { data: line } = await rep('GET', '/reports/won_by_month');
    for (const [lang, prefix] of [['en', ''], ['zh', 'zh-']]) {
      const q = await newPage({ width: 1280, height: 860 }, { bypassCSP: true });
      await login(q, 'sales_rep1');
      if (lang === 'zh') {
        await q.click('[data-test=lang]');
        await q.waitForFunction(() => document.documentElement.lang === 'zh-CN');
      }
      await q.evaluate(() => { location.hash = '#/dash/marketing'; });
      const card = 'section.report-card[data-report=lead_funnel]';
      await q.waitForSelector(`${card} svg.chart.funnel rect.bar`);
      const stages = await q.$$eval(`${card} svg.chart.funnel rect.bar`, (rs) => rs.map((r) => r.dataset.stage));
      assert(JSON.stringify(stages) === JSON.stringify(['leads', 'worked', 'qualified', 'converted', 'won']), `funnel stages ${stages}`);
      const values = await q.$$eval(`${card} svg.chart.funnel text.value`, (ts) => ts.map((x) => x.textContent));
      const want = ['leads', 'worked', 'qualified', 'converted', 'won'].map((k) => new Intl.NumberFormat(lang === 'zh' ? 'zh-CN' : 'en-US').format(funnel.rows[0][k]));
      assert(JSON.stringify(values) === JSON.stringify(want), `funnel values ${values} vs the API's ${want}`);
      assert(await q.textContent(`${card} h2`) === (lang === 'zh' ? '线索漏斗' : 'Lead funnel'), `${lang} funnel title`);
      await assertAxe(q, axeSource, `${prefix}report funnel`);
      await (await q.$(card)).screenshot({ path: path.join(SHOTS, `${prefix}report-funnel.png`) });
      await q.evaluate(() => { location.hash = '#/dash/sales'; });
      const lineCard = 'section.report-card[data-report=won_by_month]';
      await q.waitForSelector(`${lineCard} svg.chart.line polyline`);
      const lines = await q.$$eval(`${lineCard} svg.chart.line polyline`, (ps) => ps.map((p) => p.getAttribute('points').split(' ').length));
      const months = Math.min(line.rows.filter((r) => r.close_date_month != null).length, 24);
      assert(lines.length === 2 && lines.every((n) => n === months), `line: ${lines} (want 2 lines of ${months} points)`);
      const legend = await q.$$eval(`${lineCard} svg.chart.line > text.axis`, (ts) => ts.map((x) => x.textContent));
      assert(legend.includes(lang === 'zh' ? '赢单收入' : 'Won revenue'), `${lang} legend ${legend}`);
      await q.waitForSelector('section.report-card[data-report=pipeline_by_industry] svg.chart rect.bar');
      await q.waitForFunction(() => !document.querySelector('p.loading'));
      await assertAxe(q, axeSource, `${prefix}report line`);
      await (await q.$(lineCard)).screenshot({ path: path.join(SHOTS, `${prefix}report-line.png`) });
      assert(q.errors.length === 0, `${prefix}: ${q.errors.join(' | ')}`);
      await q.context().close();
    }
    // a role that may not read the pipeline's deals: its dashboard leaves those reports out, no error
    const agent = await newPage();
    await login(agent, 'service_agent');
    await agent.evaluate(() => { location.hash = '#/dash'; });
    await agent.waitForSelector('section.chart-card');
    await agent.waitForFunction(() => !document.querySelector('p.loading'));
    assert(!(await agent.$('section.report-card[data-report=pipeline_by_industry]')), 'no pipeline report for the agent');
    assert(agent.errors.length === 0, agent.errors.join(' | '));
    await agent.context().close();
  }, page);

  // A dashboard per role (kpi `dashboards:`, GET /kpis?view=dashboard): the admin's tiles are everyone's,
  // the sales manager's their team's, a rep's their own; grouped by category, each figure as the API gives
  // it (percent, money, hours by the kpi's unit). Screenshots: role-dashboard-<login>.png.
  await test('role dashboards: admin, sales manager and rep see their tiles for their people', async () => {
    const shownAs = (k) => {
      if (typeof k.actual !== 'number') return '—';
      if (k.unit === 'money') return cents(k.actual) / 100;
      return k.unit === 'count' ? k.actual : Math.round(k.actual * 100) / 100;
    };
    const axeSource = fs.readFileSync(path.join(ROOT, 'tests/ui/node_modules/axe-core/axe.min.js'), 'utf8');
    // today's adoption: a rep and the manager each take two leads and call them back within hours (the
    // audit trail counts the writes, the first done call is the lead's first contact)
    for (const [who, hours] of [['sales_rep1', [2, 5]], ['sales_manager', [1, 26]]]) {
      const call = await apiAs(who);
      for (const h of hours) {
        const lead = await call('POST', '/objects/lead', { last_name: `Callback ${h}`, company: `Dash ${who}` });
        assert(lead.status === 201, `${who}: lead ${lead.status}`);
        const due = new Date(Date.now() + h * 3600e3).toISOString().replace(/\.\d+Z$/, 'Z');
        const act = await call('POST', '/objects/activity', { kind: 'call', subject: 'First call', status: 'done', lead: lead.data.id, due_at: due });
        assert(act.status === 201, `${who}: activity ${act.status} ${JSON.stringify(act.data)}`);
        const got = await call('GET', `/objects/lead/${lead.data.id}`);
        const upd = await call('PATCH', `/objects/lead/${lead.data.id}`, { rating: 'hot' }, { 'If-Match': got.etag });
        assert(upd.status === 200, `${who}: update ${upd.status}`);
      }
    }
    for (const [who, scope, must] of [['admin', 'all', ['active_users_per_day', 'pipeline_velocity', 'customer_retention']],
      ['sales_manager', 'team', ['active_users_per_day', 'pipeline_velocity', 'win_rate']],
      ['sales_rep1', 'me', ['win_rate', 'records_created_per_user', 'hours_to_first_contact']]]) {
      const call = await apiAs(who);
      const { data } = await call('GET', '/kpis?view=dashboard');
      assert(data.kpis.length > 0 && data.kpis.every((k) => k.scope === scope), `${who}: scopes ${data.kpis.map((k) => k.scope)}`);
      for (const name of must) assert(data.kpis.some((k) => k.name === name), `${who}: no ${name} on the dashboard`);
      const q = await newPage({ width: 1280, height: 900 }, { bypassCSP: true });
      await login(q, who);
      await q.evaluate(() => { location.hash = '#/dash'; });
      await q.waitForSelector('[data-test=kpis-role] .kpi-tile');
      const tiles = await q.$$eval('[data-test=kpis-role] .kpi-tile', (ts) => ts.map((x) => ({ name: x.dataset.kpi,
        actual: x.querySelector('[data-test=kpi-actual]').textContent,
        category: x.closest('[data-category]').dataset.category })));
      assert(JSON.stringify(tiles.map((x) => x.name).sort()) === JSON.stringify(data.kpis.map((k) => k.name).sort()),
        `${who}: tiles ${tiles.map((x) => x.name)} for ${data.kpis.map((k) => k.name)}`);
      for (const k of data.kpis) {
        const tile = tiles.find((x) => x.name === k.name);
        const want = shownAs(k);
        const got = want === '—' ? tile.actual : moneyOf(tile.actual);
        assert(got === want, `${who}: ${k.name} shows ${tile.actual}, the API says ${k.actual}`);
        assert(tile.category === k.category, `${who}: ${k.name} under ${tile.category}`);
        if (k.unit === 'percent' && want !== '—') assert(tile.actual.endsWith('%'), `${who}: ${k.name} in percent: ${tile.actual}`);
        if (k.unit === 'hours' && want !== '—') assert(/ h$/.test(tile.actual), `${who}: ${k.name} in hours: ${tile.actual}`);
      }
      const heads = await q.$$eval('[data-test=kpis-role] .kpi-category', (xs) => xs.map((x) => x.textContent));
      assert(JSON.stringify(heads) === JSON.stringify(['Operating efficiency', 'Business value']), `${who}: categories ${heads}`);
      const scopeName = { all: 'Everyone', team: 'My team', me: 'Me' }[scope];
      assert((await q.textContent('[data-test=kpi-for]')).includes(scopeName), `${who}: figures for ${scopeName}`);
      await q.waitForFunction(() => !document.querySelector('p.loading'));
      await assertAxe(q, axeSource, `${who} role dashboard`);
      await (await q.$('[data-test=kpis-role]')).screenshot({ path: path.join(SHOTS, `role-dashboard-${who}.png`) });
      if (who === 'sales_manager') {
        // the demo's deals close up to mid-2026: the business value tiles of its second quarter
        await q.evaluate(() => { location.hash = '#/dash?day=2026-06-15'; });
        await q.waitForFunction(() => /2026/.test((document.querySelector('[data-test=kpis-role] [data-kpi=won_revenue] [data-test=kpi-period]') || {}).textContent || '')
          && (document.querySelector('[data-test=kpis-role] [data-kpi=won_revenue] [data-test=kpi-period]').textContent.includes('Q2')));
        const june = (await call('GET', '/kpis?view=dashboard&day=2026-06-15')).data;
        const shown = await q.textContent('[data-test=kpis-role] [data-kpi=win_rate] [data-test=kpi-actual]');
        const rate = june.kpis.find((k) => k.name === 'win_rate').actual;
        assert(rate == null ? shown === '—' : moneyOf(shown) === Math.round(rate * 100) / 100, `win rate in Q2: ${shown} vs ${rate}`);
        await (await q.$('[data-test=kpis-role]')).screenshot({ path: path.join(SHOTS, 'role-dashboard-sales_manager-2026-q2.png') });
      }
      assert(q.errors.length === 0, `${who}: ${q.errors.join(' | ')}`);
      await q.context().close();
    }
    // a role without tiles (marketing user; a service agent has the service package's): no role section,
    // every kpi with the scope switch as before
    const s = await newPage();
    await login(s, 'marketing_user');
    await s.evaluate(() => { location.hash = '#/dash'; });
    await s.waitForSelector('[data-test=kpis] .kpi-tile');
    assert(!(await s.$('[data-test=kpis-role]')), 'no role dashboard for the marketing user');
    await s.context().close();
  }, page);

  await test('labels switch to zh and back', async () => {
    await page.click('[data-test=lang]');
    await page.waitForFunction(() => /商机/.test(document.querySelector('nav#nav').textContent));
    await gotoHash(page, `#/o/opportunity/${created}`);
    await page.waitForSelector('section.history');
    assert(/阶段/.test(await page.textContent('.record')), 'zh field labels');
    await page.click('[data-test=lang]');
    await page.waitForFunction(() => /Opportunities/.test(document.querySelector('nav#nav').textContent));
  }, page);

  await test('stored XSS renders as text, no script runs', async () => {
    const payload = '<img src=x onerror=alert(1)>';
    const { data } = await rep('POST', '/objects/opportunity', {
      name: payload, account: (await rep('GET', '/objects/account?limit=1')).data.records[0].id,
      next_step: '<script>alert(2)</script>', description: '"><svg onload=alert(3)>',
    });
    await gotoHash(page, `#/o/opportunity?search=${encodeURIComponent('img')}`);
    await waitList(page);
    await gotoHash(page, `#/o/opportunity/${data.id}`);
    await page.waitForSelector('section.history');
    assert(await page.textContent('[data-test=record-title]') === payload, 'title is the literal text');
    assert(await page.textContent('dd[data-field=next_step]') === '<script>alert(2)</script>', 'text field literal');
    await gotoHash(page, '#/k/opportunity');
    await page.waitForSelector(`li.card[data-id="${data.id}"]`);
    await page.waitForTimeout(300);
    assert(page.dialogs.length === 0, `dialogs fired: ${page.dialogs}`);
    assert(!(await page.$('img[src="x"], svg[onload]')), 'no element made from data');
  }, page);

  await test('phone-sized screen and keyboard', async () => {
    const phone = await newPage({ width: 390, height: 844 });
    await login(phone, 'sales_rep1');
    await phone.evaluate(() => { location.hash = '#/o/opportunity'; });
    await phone.waitForSelector('table[data-test=list] tbody tr');
    assert(await phone.isVisible('header#top .menu'), 'menu button on a phone');
    assert(!(await phone.isVisible('nav#nav')), 'nav folded away');
    const width = await phone.evaluate(() => document.documentElement.scrollWidth);
    assert(width <= 400, `no horizontal overflow: ${width}`);
    await phone.screenshot({ path: path.join(SHOTS, 'phone-list.png') });
    // keyboard: focus the menu button, open it, reach a link by Tab
    await phone.focus('header#top .menu');
    await phone.keyboard.press('Enter');
    assert(await phone.isVisible('nav#nav'), 'menu opens from the keyboard');
    await phone.context().close();
  }, page);

  await test('partner1 sees only the partner\'s records', async () => {
    const partnerPage = await newPage();
    await login(partnerPage, 'partner1');
    const nav = await partnerPage.textContent('nav#nav');
    assert(!/Activity/.test(nav) && !/Team/.test(nav), `partner nav: ${nav}`);
    await partnerPage.evaluate(() => { location.hash = '#/o/opportunity'; });
    await partnerPage.waitForSelector('table[data-test=list] tbody tr');
    const shown = await rowsOf(partnerPage);
    const partner = await apiAs('partner1');
    const mine = (await partner('GET', '/objects/opportunity?limit=500')).data.records;
    const all = (await admin('GET', '/objects/opportunity?limit=500')).data.records;
    const who = (await admin('GET', `/objects/user?filter=${encodeURIComponent("login = 'partner1'")}`)).data.records[0];
    const scope = who.partner != null ? (r) => r.partner === who.partner : (r) => r.owner === who.id;
    assert(mine.length > 0 && mine.every(scope), 'api scope');
    assert(shown.length === Math.min(25, mine.length), `rows ${shown.length} vs ${mine.length}`);
    assert(shown.every((id) => mine.some((r) => r.id === id)), 'only their records');
    assert(all.length > mine.length, 'admin sees more');
    log(`# partner1 sees ${mine.length} of ${all.length} opportunities`);
    await partnerPage.context().close();
  }, page);

  // Issue 13 item 5: a conflict names who changed the record and when, and offers their values
  // beside the user's edits.
  await test('a conflict says who changed the record and keeps the user\'s edits', async () => {
    const rep1 = await apiAs('sales_rep1');
    const acct = (await rep1('GET', '/objects/account?limit=1')).data.records[0].id;
    const { data: deal } = await rep1('POST', '/objects/opportunity', { name: 'UI conflict', account: acct, next_step: 'first' });
    const p = await newPage();
    await login(p, 'sales_rep1');
    await p.evaluate((id) => { location.hash = `#/o/opportunity/${id}/edit`; }, deal.id);
    await p.waitForSelector('form.edit');
    // meanwhile the same record is saved elsewhere
    const { etag } = await rep1('GET', `/objects/opportunity/${deal.id}`);
    await rep1('PATCH', `/objects/opportunity/${deal.id}`, { next_step: 'theirs' }, { 'If-Match': etag });
    await p.fill('#f-next_step', 'mine');
    await p.click('[data-test=save]');
    await p.waitForSelector('[data-test=reload-keep]');
    const banner = await p.textContent('[data-test=form-error]');
    assert(/changed this record at/.test(banner) && !/If-Match/.test(banner), `banner: ${banner}`);
    await p.click('[data-test=reload-keep]');
    assert(await p.inputValue('#f-next_step') === 'mine', 'the user\'s edit stays');
    assert(/theirs/.test(await p.textContent('[data-error-for=next_step]')), 'their value shows beside it');
    await p.click('[data-test=save]');
    await p.waitForSelector('[data-test=record-title]');
    assert((await rep1('GET', `/objects/opportunity/${deal.id}`)).data.next_step === 'mine', 'saved over theirs, knowingly');
    await p.context().close();
  }, page);

  // Issue 13 item 6: what the browser cannot read is an error on its field, never dropped.
  await test('an unreadable date is an inline error, and nothing is saved', async () => {
    const rep1 = await apiAs('sales_rep1');
    const acct = (await rep1('GET', '/objects/account?limit=1')).data.records[0].id;
    const { data: deal } = await rep1('POST', '/objects/opportunity', { name: 'UI bad date', account: acct, close_date: '2027-01-15' });
    const p = await newPage();
    await login(p, 'sales_rep1');
    await p.evaluate((id) => { location.hash = `#/o/opportunity/${id}/edit`; }, deal.id);
    await p.waitForSelector('form.edit');
    await p.click('#f-close_date');
    await p.keyboard.press('Backspace');   // clears the focused part: the date is now incomplete
    const bad = await p.$eval('#f-close_date', (el) => el.validity.badInput);
    assert(bad, 'the date input reads as incomplete');
    await p.click('[data-test=save]');
    await p.waitForFunction(() => /./.test(document.querySelector('[data-error-for=close_date]').textContent));
    assert(await p.getAttribute('#f-close_date', 'aria-invalid') === 'true', 'marked invalid');
    assert((await rep1('GET', `/objects/opportunity/${deal.id}`)).data.close_date === '2027-01-15', 'nothing saved');
    await p.context().close();
  }, page);

  // Issue 13 item 3: plugin actions declared in plugin.yaml are buttons (claim from the pool,
  // release back to it), shown when their `when` holds, with a confirmation.
  await test('claim and release a pool lead with the plugin\'s buttons', async () => {
    const rep1 = await apiAs('sales_rep1');
    const pool = (await rep1('GET', `/objects/lead?filter=${encodeURIComponent("owner = null and status in ('new', 'working')")}&limit=1`)).data.records[0];
    assert(pool, 'the demo has pool leads');
    const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    const p = await context.newPage();
    const asked = [];
    p.on('dialog', async (d) => { asked.push(d.message()); await d.accept(); });   // the confirmation
    await login(p, 'sales_rep1');
    await p.evaluate((id) => { location.hash = `#/o/lead/${id}`; }, pool.id);
    await p.waitForSelector('[data-action="sales.claim"]');
    assert(!(await p.$('[data-action="sales.release"]')), 'release shows only on my leads');
    await p.click('[data-action="sales.claim"]');
    await p.waitForSelector('[data-action="sales.release"]');
    assert((await rep1('GET', `/objects/lead/${pool.id}`)).data.owner === rep1.user.id, 'claimed: the rep owns it');
    await p.click('[data-action="sales.release"]');
    await p.waitForSelector('[data-action="sales.claim"]');
    assert((await rep1('GET', `/objects/lead/${pool.id}`)).data.owner == null, 'released: back in the pool');
    assert(asked.length === 2 && /pool/.test(asked[0]), `confirmations: ${asked}`);
    await context.close();
  }, page);

  // Home per person (views.home in the metadata): open tasks, deals closing soon, approvals
  // waiting, under the caller's rules; and the records viewed last.
  await test('home: my tasks, my deals closing soon, approvals waiting, recently viewed', async () => {
    const rep1 = await apiAs('sales_rep1');
    const p = await newPage();
    await login(p, 'sales_rep1');
    await p.evaluate(() => { location.hash = '#/home'; });
    await p.waitForSelector('[data-test=home] [data-home^="activity-"]');
    const titles = await p.$$eval('[data-test=home] section h2', (hs) => hs.map((x) => x.textContent));
    assert(titles.includes('My open tasks') && titles.some((x) => /closing/.test(x)), `sections: ${titles}`);
    assert(await p.$('[data-test=inbox] [data-test=my-approvals]'), 'approvals waiting for me head the page');
    const mine = (await rep1('GET', `/objects/activity?filter=${encodeURIComponent("owner = $me and status = 'open'")}&limit=10&sort=due_at`)).data.records;
    const rows = await p.$$eval('[data-home^="activity-"] tbody tr', (trs) => trs.length);
    assert(rows === mine.length, `tasks ${rows}, the API's ${mine.length}`);
    // a record viewed shows under "recently viewed"
    const deal = (await rep1('GET', '/objects/opportunity?limit=1&fields=id,name')).data.records[0];
    await p.evaluate((id) => { location.hash = `#/o/opportunity/${id}`; }, deal.id);
    await p.waitForSelector('[data-test=record-title]');
    await p.evaluate(() => { location.hash = '#/home'; });
    await p.waitForSelector('[data-test=recent] a');
    assert((await p.textContent('[data-test=recent]')).includes(deal.name), 'recently viewed');
    const text = await p.textContent('body');
    assert(!/\bnull\b|\bundefined\b/.test(text), 'no null on home');
    await p.screenshot({ path: path.join(SHOTS, 'home.png'), fullPage: true });
    await p.context().close();
  }, page);

  // Saved views (issue 13): a rep saves the list's filter and sort under a name, shares another
  // with their role; a rep of the same role sees the shared one, a manager does not see either.
  await test('saved views: save, choose, share with the role', async () => {
    const p = await newPage();
    await login(p, 'sales_rep1');
    await p.evaluate(() => { location.hash = `#/o/opportunity?filter=${encodeURIComponent("amount > 50000")}&sort=-amount`; });
    await waitList(p);
    await p.fill('[data-test=view-name]', 'UI big deals');
    await p.click('[data-test=save-view]');
    await p.waitForFunction(() => [...document.querySelectorAll('[data-test=saved-views] option')].some((x) => x.textContent === 'UI big deals'));
    await p.evaluate(() => { location.hash = `#/o/opportunity?sort=close_date`; });
    await waitList(p);
    await p.fill('[data-test=view-name]', 'UI closing first');
    await p.check('#share-view');
    await p.click('[data-test=save-view]');
    await p.waitForFunction(() => [...document.querySelectorAll('[data-test=saved-views] option')].some((x) => /UI closing first/.test(x.textContent)));
    // choosing a view applies its filter and sort
    await gotoHash(p, '#/o/opportunity');
    await waitList(p);
    const big = await p.$$eval('[data-test=saved-views] option', (os) => os.find((x) => x.textContent === 'UI big deals').value);
    await p.evaluate(() => { delete document.body.dataset.listPaint; });
    await p.selectOption('[data-test=saved-views]', big);
    await p.waitForFunction(() => /sort=-amount/.test(location.hash) && /amount/.test(decodeURIComponent(location.hash)));
    await p.context().close();
    const rep2 = await apiAs('sales_rep2');
    const seen2 = (await rep2('GET', `/objects/saved_view?filter=${encodeURIComponent("object_name = 'opportunity'")}`)).data.records.map((v) => v.name);
    assert(seen2.includes('UI closing first') && !seen2.includes('UI big deals'), `rep2 sees ${seen2}`);
    const mgr = await apiAs('sales_manager');
    const seenM = (await mgr('GET', `/objects/saved_view?filter=${encodeURIComponent("object_name = 'opportunity'")}`)).data.records.map((v) => v.name);
    assert(!seenM.includes('UI closing first') && !seenM.includes('UI big deals'), `the manager sees ${seenM}`);
  }, page);

  // Shared views per role: an admin saves a view shared with sales_rep (a role picker); sales_rep1
  // finds it under "Shared with my role", applies it, and may neither change nor delete it.
  await test('saved views: an admin shares a view with a role; a rep of that role applies it, read-only', async () => {
    const a = await newPage();
    await login(a, 'admin');
    await a.evaluate(() => { location.hash = `#/o/opportunity?filter=${encodeURIComponent("stage = 'negotiation'")}&sort=-amount`; });
    await waitList(a);
    await a.waitForFunction(() => [...document.querySelectorAll('[data-test=share-role] option')].some((x) => x.value === 'sales_rep'));
    await a.fill('[data-test=view-name]', 'UI team negotiations');
    await a.selectOption('[data-test=share-role]', 'sales_rep');
    await a.click('[data-test=save-view]');
    await a.waitForFunction(() => [...document.querySelectorAll('[data-test=saved-views] option')].some((x) => /UI team negotiations/.test(x.textContent)));
    const mineText = await a.$$eval('[data-test=saved-views] option', (os) => os.find((x) => /UI team negotiations/.test(x.textContent)).textContent);
    assert(/shared with Sales rep/.test(mineText), `the admin's own: ${mineText}`);
    assert(a.errors.length === 0, a.errors.join(' | '));
    await a.context().close();
    const adm = await apiAs('admin');
    const saved = (await adm('GET', `/objects/saved_view?filter=${encodeURIComponent("name = 'UI team negotiations'")}`)).data.records[0];
    assert(saved && saved.role === 'sales_rep' && saved.owner === adm.user.id, `saved: ${JSON.stringify(saved)}`);
    const p = await newPage();
    await login(p, 'sales_rep1');
    await p.evaluate(() => { location.hash = '#/o/opportunity'; });
    await waitList(p);
    const opt = await p.$eval(`[data-test=saved-views] option[value="${saved.id}"]`, (x) => ({ text: x.textContent, group: x.parentElement.label, shared: x.dataset.shared }));
    assert(opt.shared === 'true' && /UI team negotiations · shared/.test(opt.text) && opt.group === 'Shared with my role', `the rep's menu: ${JSON.stringify(opt)}`);
    await p.evaluate(() => { delete document.body.dataset.listPaint; });
    await p.selectOption('[data-test=saved-views]', String(saved.id));
    await waitList(p);
    const applied = new URLSearchParams(p.url().split('?')[1]);
    assert(applied.get('filter') === "stage = 'negotiation'" && applied.get('sort') === '-amount', `applied: ${p.url()}`);
    const stages = await p.$$eval('table[data-test=list] tbody td[data-label="Stage"]', (tds) => [...new Set(tds.map((x) => x.textContent))]);
    assert(stages.length <= 1 && (!stages.length || stages[0] === 'Negotiation'), `the list: ${stages}`);
    const note = await p.textContent('[data-test=shared-view-note]');
    assert(/Shared by/.test(note) && /not change/.test(note), `note: ${note}`);
    assert(!(await p.$('[data-test=delete-view]')), 'no delete button on a view shared with me');
    const rep1 = await apiAs('sales_rep1');
    assert((await rep1('DELETE', `/objects/saved_view/${saved.id}`)).status >= 400, 'the server refuses the rep a delete');
    assert((await rep1('PATCH', `/objects/saved_view/${saved.id}`, { name: 'mine now' }, { 'If-Match': `"${saved.version}"` })).status >= 400, 'and a change');
    assert((await adm('GET', `/objects/saved_view/${saved.id}`)).data.name === 'UI team negotiations', 'the view is unchanged');
    const mgr = await apiAs('sales_manager');
    const seenM = (await mgr('GET', `/objects/saved_view?filter=${encodeURIComponent("object_name = 'opportunity'")}`)).data.records.map((v) => v.name);
    assert(!seenM.includes('UI team negotiations'), `the manager sees ${seenM}`);
    assert(p.errors.length === 0, p.errors.join(' | '));
    await p.screenshot({ path: path.join(SHOTS, 'shared-view.png') });
    await p.context().close();
  }, page);

  // A point (geo, an account's location): typed and checked as typed (an inline error, nothing saved),
  // taken from the browser's location (granted, a fake position), shown as "48.137, 11.575" with a
  // link to OpenStreetMap; zh labels.
  await test('geo: an account location typed with checks, or from the browser, shown with a map link', async () => {
    const rep1 = await apiAs('sales_rep1');
    const acct = (await rep1('GET', `/objects/account?limit=1&sort=id&filter=${encodeURIComponent('owner = $me')}`)).data.records[0];
    assert(acct, 'an account of the rep');
    const axeSource = fs.readFileSync(path.join(ROOT, 'tests/ui/node_modules/axe-core/axe.min.js'), 'utf8');
    const context = await browser.newContext({ viewport: { width: 1280, height: 860 }, bypassCSP: true, permissions: ['geolocation'],
      geolocation: { latitude: 48.137154, longitude: 11.576124 } });
    const p = await context.newPage();
    p.errors = [];
    p.on('pageerror', (e) => p.errors.push(e.message));
    p.on('dialog', (d) => d.dismiss());
    await login(p, 'sales_rep1');
    await p.evaluate((id) => { location.hash = `#/o/account/${id}/edit`; }, acct.id);
    await p.waitForSelector('#f-location');
    assert(await p.getAttribute('[data-field=location] .geo-input', 'role') === 'group', 'a group of inputs');
    // out of range: an inline error as typed, and the save stops
    await p.fill('#f-location', '95');
    await p.fill('#f-location-lng', '11.5');
    await p.waitForFunction(() => /between -90 and 90/.test(document.querySelector('[data-error-for=location]').textContent));
    assert(await p.getAttribute('#f-location', 'aria-invalid') === 'true', 'latitude marked');
    await assertAxe(p, axeSource, 'the account form with a wrong latitude');
    await (await p.$('[data-field=location]')).screenshot({ path: path.join(SHOTS, 'geo-error.png') });
    await p.click('[data-test=save]');
    await p.waitForFunction(() => /correct/.test(document.querySelector('[data-test=form-error]').textContent));
    assert(/\/edit$/.test(p.url()), 'still on the form');
    await p.fill('#f-location', '48.1');
    await p.fill('#f-location-lng', '-181');
    await p.waitForFunction(() => /between -180 and 180/.test(document.querySelector('[data-error-for=location]').textContent));
    assert(await p.getAttribute('#f-location-lng', 'aria-invalid') === 'true' && !(await p.getAttribute('#f-location', 'aria-invalid')), 'longitude marked');
    await p.fill('#f-location-lng', '');
    await p.waitForFunction(() => /both/.test(document.querySelector('[data-error-for=location]').textContent));
    const { data: still } = await rep1('GET', `/objects/account/${acct.id}`);
    assert(still.version === acct.version, 'nothing saved');
    // from the browser's location
    await p.click('[data-test=geo-locate]');
    await p.waitForFunction(() => document.querySelector('#f-location').value === '48.137154' && document.querySelector('#f-location-lng').value === '11.576124');
    assert(await p.textContent('[data-error-for=location]') === '', 'no error left');
    await p.click('[data-test=save]');
    await p.waitForFunction((id) => location.hash === `#/o/account/${id}`, acct.id);
    await p.waitForSelector('dd[data-field=location] a.geo');
    assert(await p.textContent('dd[data-field=location] a') === '48.13715, 11.57612', `shown: ${await p.textContent('dd[data-field=location] a')}`);
    const href = await p.getAttribute('dd[data-field=location] a', 'href');
    assert(href === 'https://www.openstreetmap.org/?mlat=48.13715&mlon=11.57612#map=15/48.13715/11.57612', `link: ${href}`);
    const { data: saved } = await rep1('GET', `/objects/account/${acct.id}`);
    assert(saved.location.lat === 48.137154 && saved.location.lng === 11.576124, `saved: ${JSON.stringify(saved.location)}`);
    // typed, in zh
    await p.click('[data-test=lang]');
    await p.evaluate((id) => { location.hash = `#/o/account/${id}/edit`; }, acct.id);
    await p.waitForSelector('#f-location');
    assert(await p.getAttribute('#f-location', 'aria-label') === '纬度' && await p.textContent('[data-test=geo-locate]') === '使用我的位置', 'zh labels');
    await p.fill('#f-location', '48.137');
    await p.fill('#f-location-lng', '11.575');
    await p.click('[data-test=save]');
    await p.waitForFunction((id) => location.hash === `#/o/account/${id}`, acct.id);
    await p.waitForSelector('dd[data-field=location] a.geo');
    assert(await p.textContent('dd[data-field=location] a') === '48.137, 11.575', 'typed and shown');
    await p.screenshot({ path: path.join(SHOTS, 'zh-geo.png') });
    await p.click('[data-test=lang]');
    assert(p.errors.length === 0, p.errors.join(' | '));
    await context.close();
  }, page);

  // Accessibility: axe-core on the main pages; no serious or critical violation. (The context
  // bypasses the CSP only so that the test can inject axe; the app's own pages never need it.)
  await test('accessibility: axe-core finds no serious violation on the main pages', async () => {
    const axeSource = fs.readFileSync(path.join(ROOT, 'tests/ui/node_modules/axe-core/axe.min.js'), 'utf8');
    const context = await browser.newContext({ viewport: { width: 1280, height: 860 }, bypassCSP: true });
    const p = await context.newPage();
    await login(p, 'sales_rep1');
    const rep1 = await apiAs('sales_rep1');
    const deal = (await rep1('GET', '/objects/opportunity?limit=1')).data.records[0];
    const pages = ['#/home', '#/o/opportunity', `#/o/opportunity/${deal.id}`, `#/o/opportunity/${deal.id}/edit`, '#/k/opportunity', '#/dash'];
    const found = [];
    for (const hash of pages) {
      await p.evaluate((h) => { location.hash = h; }, hash);
      await p.waitForTimeout(400);
      await p.evaluate(axeSource);
      const result = await p.evaluate(async () => {
        const r = await window.axe.run(document, { resultTypes: ['violations'] });
        return r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
          .map((v) => `${v.id} (${v.nodes.length}): ${v.nodes[0].target.join(' ')}`);
      });
      for (const v of result) found.push(`${hash} ${v}`);
    }
    await context.close();
    assert(found.length === 0, `serious violations:\n  ${found.join('\n  ')}`);
  }, page);

  // The column chooser: a person picks the list's columns; kept per object in their browser.
  await test('column chooser: add and remove list columns, then back to the default', async () => {
    const p = await newPage();
    await login(p, 'sales_rep1');
    await p.evaluate(() => { location.hash = '#/o/opportunity'; });
    await waitList(p);
    const heads = async () => p.$$eval('table[data-test=list] th', (ths) => ths.map((x) => x.textContent.trim()).filter(Boolean));
    assert((await heads()).includes('Owner') && !(await heads()).includes('Probability'), `default: ${await heads()}`);
    await p.click('[data-test=columns] summary');
    await p.evaluate(() => { delete document.body.dataset.listPaint; });
    await p.check('[data-test=columns] input[value=probability]');
    await waitList(p);
    await p.click('[data-test=columns] summary');
    await p.evaluate(() => { delete document.body.dataset.listPaint; });
    await p.uncheck('[data-test=columns] input[value=owner]');
    await waitList(p);
    const chosen = await heads();
    assert(chosen.includes('Probability') && !chosen.includes('Owner'), `chosen: ${chosen}`);
    await p.reload();
    await waitList(p);
    assert((await heads()).includes('Probability'), 'kept across a reload');
    await p.click('[data-test=columns] summary');
    await p.evaluate(() => { delete document.body.dataset.listPaint; });
    await p.click('[data-test=columns] button');
    await waitList(p);
    assert((await heads()).includes('Owner') && !(await heads()).includes('Probability'), 'back to the default');
    await p.context().close();
  }, page);

  // The composer (views.composer): log a call on a deal from its page; the related list shows it.
  await test('composer: log a call on a deal from its page', async () => {
    const rep1 = await apiAs('sales_rep1');
    const acct = (await rep1('GET', '/objects/account?limit=1')).data.records[0].id;
    const { data: deal } = await rep1('POST', '/objects/opportunity', { name: 'UI composer deal', account: acct });
    const p = await newPage();
    await login(p, 'sales_rep1');
    await p.evaluate((id) => { location.hash = `#/o/opportunity/${id}`; }, deal.id);
    await p.waitForSelector('[data-test=composer]');
    await p.selectOption('#c-kind', 'call');
    await p.fill('#c-subject', 'UI logged call');
    await p.click('[data-test=composer-add]');
    await p.waitForFunction(() => /UI logged call/.test(document.body.textContent));
    const acts = (await rep1('GET', `/objects/activity?filter=${encodeURIComponent(`opportunity = ${deal.id}`)}`)).data.records;
    assert(acts.length === 1 && acts[0].kind === 'call' && acts[0].subject === 'UI logged call', `activities: ${JSON.stringify(acts)}`);
    await p.context().close();
  }, page);

  // The timeline on a record page (views.composer): the deal's activities and its changes in one
  // list, newest first, each marked by kind with who and when; the composer adds to it.
  await test('timeline: activities and changes in one list, newest first; the composer adds to it', async () => {
    const rep1 = await apiAs('sales_rep1');
    const acct = (await rep1('GET', '/objects/account?limit=1')).data.records[0].id;
    const { data: deal } = await rep1('POST', '/objects/opportunity', { name: 'UI timeline deal', account: acct });
    await rep1('POST', '/objects/activity', { kind: 'task', subject: 'UI old task', opportunity: deal.id, account: acct, due_at: '2020-01-01T09:00:00Z' });
    await rep1('POST', '/objects/activity', { kind: 'call', subject: 'UI first call', opportunity: deal.id, account: acct });
    const { etag } = await rep1('GET', `/objects/opportunity/${deal.id}`);
    await rep1('PATCH', `/objects/opportunity/${deal.id}`, { next_step: 'UI timeline step' }, { 'If-Match': etag });
    const p = await newPage();
    await login(p, 'sales_rep1');
    await p.evaluate((id) => { location.hash = `#/o/opportunity/${id}`; }, deal.id);
    await p.waitForSelector('[data-test=timeline] li.tl-item');
    const entries = () => p.$$eval('[data-test=timeline] li.tl-item', (ls) => ls.map((l) => ({ kind: l.dataset.kind, label: l.querySelector('.tl-kind').textContent,
      at: l.querySelector('time').getAttribute('datetime'), text: l.querySelector('.tl-main').textContent })));
    const ordered = (list) => list.every((e, i) => i === 0 || String(list[i - 1].at) >= String(e.at));
    let list = await entries();
    assert(ordered(list), `newest first: ${JSON.stringify(list.map((e) => e.at))}`);
    const kinds = list.map((e) => e.kind);
    assert(kinds.filter((k) => k === 'change').length === 2 && kinds.includes('call') && kinds[kinds.length - 1] === 'task', `kinds: ${kinds}`);
    assert(list.every((e) => /Tom Becker/.test(e.text)), `who: ${list.map((e) => e.text)}`);
    assert(list.some((e) => e.kind === 'change' && /Next Step/.test(e.text) && /UI timeline step/.test(e.text)), 'the update with its change');
    assert(list.some((e) => e.kind === 'change' && /Created/.test(e.text)), 'the create');
    const changes = list.filter((e) => e.kind === 'change');
    assert(/Updated/.test(changes[0].text) && /Created/.test(changes[1].text), `the update above the create: ${changes.map((e) => e.text)}`);
    assert(list.find((e) => e.kind === 'call').label === 'Call' && list.find((e) => e.kind === 'change').label === 'Change', 'kind labels');
    // the composer adds a note: at the top
    await p.selectOption('#c-kind', 'note');
    await p.fill('#c-subject', 'UI timeline note');
    await p.click('[data-test=composer-add]');
    await p.waitForFunction(() => /UI timeline note/.test((document.querySelector('[data-test=timeline] li.tl-item') || {}).textContent || ''));
    list = await entries();
    assert(list.length === 5 && list[0].kind === 'note' && ordered(list), `after the composer: ${JSON.stringify(list.map((e) => [e.kind, e.at]))}`);
    await (await p.$('[data-test=timeline]')).screenshot({ path: path.join(SHOTS, 'timeline.png') });
    // zh: the kinds from the metadata's labels, a change as 变更
    await p.click('[data-test=lang]');
    await p.waitForFunction(() => document.documentElement.lang === 'zh-CN' && document.querySelector('[data-test=timeline] li.tl-item'));
    const zh = await entries();
    assert(zh[0].label === '备注' && zh.some((e) => e.label === '电话') && zh.some((e) => e.label === '变更'), `zh: ${zh.map((e) => e.label)}`);
    assert(/时间线/.test(await p.textContent('[data-test=timeline] h2')), 'zh heading');
    await p.click('[data-test=lang]');
    assert(p.errors.length === 0, p.errors.join(' | '));
    await p.context().close();
  }, page);

  // Bulk actions: select rows, change their owner in one batch (all or nothing).
  await test('bulk: select rows and change their owner in one batch', async () => {
    const mgr = await apiAs('sales_manager');
    const acct = (await mgr('GET', '/objects/account?limit=1')).data.records[0].id;
    const made = [];
    for (const name of ['UI bulk 1', 'UI bulk 2']) made.push((await mgr('POST', '/objects/opportunity', { name, account: acct })).data.id);
    const rep3 = (await mgr('GET', `/objects/user?filter=${encodeURIComponent("login = 'sales_rep3'")}`)).data.records[0];
    const p = await newPage();
    await login(p, 'sales_manager');
    await p.evaluate(() => { location.hash = `#/o/opportunity?filter=${encodeURIComponent("name like 'UI bulk%'")}`; });
    await waitList(p);
    for (const id of made) await p.check(`tr[data-id="${id}"] td.select input`);
    assert(/2/.test(await p.textContent('[data-test=bulk-count]')), 'two selected');
    await p.waitForFunction(() => document.querySelectorAll('[data-test=bulk-owner] option').length > 1);
    await p.selectOption('[data-test=bulk-owner]', String(rep3.id));
    await p.waitForFunction(() => document.querySelector('[data-test=bulk]').hidden);
    for (const id of made) assert((await mgr('GET', `/objects/opportunity/${id}`)).data.owner === rep3.id, `owner of ${id}`);
    await p.context().close();
  }, page);

  // Bulk "Update a field": a rep sets next_step, then close_date, on three of their deals in one batch
  // each (every update with its record's version); a refused value (a probability of 150) changes
  // nothing and names the row and the reason.
  await test('bulk: update a field on the selected rows in one batch; a refused value changes nothing', async () => {
    const rep1 = await apiAs('sales_rep1');
    const acct = (await rep1('GET', '/objects/account?limit=1')).data.records[0].id;
    const made = [];
    for (const name of ['UI bulkfield 1', 'UI bulkfield 2', 'UI bulkfield 3'])
      made.push((await rep1('POST', '/objects/opportunity', { name, account: acct, probability: 20 })).data.id);
    const p = await newPage();
    const batches = [];
    p.on('request', (r) => { if (r.method() === 'POST' && /\/api\/v1\/batch$/.test(r.url())) batches.push(JSON.parse(r.postData())); });
    await login(p, 'sales_rep1');
    const select = async () => {
      await p.evaluate(() => { location.hash = '#/home'; });
      await p.waitForSelector('[data-test=home]');
      await p.evaluate(() => { delete document.body.dataset.listPaint; location.hash = `#/o/opportunity?filter=${encodeURIComponent("name like 'UI bulkfield%'")}&sort=name`; });
      await waitList(p);
      for (const id of made) await p.check(`tr[data-id="${id}"] td.select input`);
      await p.click('[data-test=bulk-update] summary');
    };
    const setField = async (field, fillIt) => {
      await p.selectOption('[data-test=bulk-field]', field);
      await p.waitForSelector('#bulk-input');
      await fillIt();
      await p.click('[data-test=bulk-apply]');
    };
    await select();
    await setField('next_step', () => p.fill('#bulk-input', 'Send the proposal'));
    await p.waitForFunction(() => document.querySelector('[data-test=bulk]').hidden);
    for (const id of made) assert((await rep1('GET', `/objects/opportunity/${id}`)).data.next_step === 'Send the proposal', `next_step of ${id}`);
    assert(batches.length === 1 && batches[0].operations.length === 3 && batches[0].operations.every((x) => x.op === 'update' && x.version === 1
      && x.values.next_step === 'Send the proposal'), `one batch with each version: ${JSON.stringify(batches)}`);
    await select();
    await setField('close_date', () => p.fill('#bulk-input', '2027-01-15'));
    await p.waitForFunction(() => document.querySelector('[data-test=bulk]').hidden);
    const versions = new Map();
    for (const id of made) {
      const { data } = await rep1('GET', `/objects/opportunity/${id}`);
      assert(data.close_date === '2027-01-15' && data.version === 3, `close_date of ${id}: ${data.close_date} v${data.version}`);
      versions.set(id, data.version);
    }
    await p.waitForFunction((id) => document.querySelector(`tr[data-id="${id}"]`).textContent.includes('2027-01-15'), made[0]);
    // refused: nothing changes, the row and the reason are shown
    await select();
    await setField('probability', () => p.fill('#bulk-input', '150'));
    await p.waitForFunction(() => (document.querySelector('[data-test=bulk-error]') || {}).textContent);
    const said = await p.textContent('[data-test=bulk-error]');
    assert(/Nothing was saved/.test(said) && /UI bulkfield 1/.test(said) && /Probability/.test(said), `the error: ${said}`);
    assert(await p.$(`tr.invalid[data-id="${made[0]}"]`), 'the refused row is marked');
    assert(await p.getAttribute('#bulk-input', 'aria-invalid') === 'true', 'the value is marked');
    for (const id of made) {
      const { data } = await rep1('GET', `/objects/opportunity/${id}`);
      assert(data.probability === 20 && data.version === versions.get(id), `${id} unchanged: ${data.probability} v${data.version}`);
    }
    assert(!(await p.$eval('[data-test=bulk]', (x) => x.hidden)), 'the selection stays');
    await p.screenshot({ path: path.join(SHOTS, 'bulk-field-error.png') });
    assert(p.errors.filter((e) => !/status of 4\d\d/.test(e)).length === 0, p.errors.join(' | '));
    await p.context().close();
  }, page);

  // A record's stage path (the workflow field's states, the current one marked) and the list's
  // CSV export of the current view.
  await test('stage path on a record, and the list exports its current view as CSV', async () => {
    const rep1 = await apiAs('sales_rep1');
    const deal = (await rep1('GET', `/objects/opportunity?filter=${encodeURIComponent("stage = 'proposal'")}&limit=1`)).data.records[0];
    assert(deal, 'a deal in proposal');
    const p = await newPage();
    await login(p, 'sales_rep1');
    await p.evaluate((id) => { location.hash = `#/o/opportunity/${id}`; }, deal.id);
    await p.waitForSelector('[data-test=stage-path-stage]');
    const steps = await p.$$eval('[data-test=stage-path-stage] li', (ls) => ls.map((l) => `${l.className}:${l.textContent}`));
    assert(steps.includes('current:Proposal') && steps[0].startsWith('done:'), `steps: ${steps}`);
    await p.screenshot({ path: path.join(SHOTS, 'stage-path.png') });
    await p.evaluate(() => { location.hash = `#/o/opportunity?filter=${encodeURIComponent("stage = 'proposal'")}&sort=-amount`; });
    await waitList(p);
    const href = await p.getAttribute('[data-test=export]', 'href');
    assert(/format=csv/.test(href) && /sort=-amount/.test(href), `export link: ${href}`);
    const csv = await p.evaluate(async (u) => (await fetch(u, { credentials: 'same-origin' })).text(), href);
    const lines = csv.trim().split('\n');
    const mine = (await rep1('GET', `/objects/opportunity?filter=${encodeURIComponent("stage = 'proposal'")}&limit=500`)).data.records;
    assert(lines.length - 1 === mine.length, `csv rows ${lines.length - 1}, the API's ${mine.length}`);
    await p.context().close();
  }, page);

  // The attachments panel of a record page: attach by the file picker and by drag and drop, the list
  // shows name, size and type, the name downloads the same bytes, a file is deleted; then in Chinese.
  await test('attachments panel: upload by picker and by drop, list, download, delete, zh', async () => {
    const rep1 = await apiAs('sales_rep1');
    const deal = (await rep1('GET', `/objects/opportunity?filter=${encodeURIComponent(`owner = ${rep1.user.id}`)}&limit=1`)).data.records[0];
    assert(deal, 'a deal of sales_rep1');
    const p = await newPage();
    p.removeAllListeners('dialog');
    p.on('dialog', (d) => d.accept());
    await login(p, 'sales_rep1');
    await p.evaluate((id) => { location.hash = `#/o/opportunity/${id}`; }, deal.id);
    await p.waitForSelector('[data-test=attachments]');
    const pdf = Buffer.concat([Buffer.from('%PDF-1.4\n'), Buffer.alloc(3000, 7)]);
    await p.setInputFiles('[data-test=attachment-input]', { name: 'offer.pdf', mimeType: 'application/pdf', buffer: pdf });
    await p.waitForSelector('[data-test=attachments] tr[data-attachment]');
    // a drop: a DataTransfer built in the page, as a file dragged from the desktop brings
    await p.evaluate(() => {
      const dt = new DataTransfer();
      dt.items.add(new File(['<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'], 'logo.svg', { type: 'image/svg+xml' }));
      document.querySelector('[data-test=attachment-drop]').dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
    });
    await p.waitForFunction(() => document.querySelectorAll('[data-test=attachments] tr[data-attachment]').length === 2);
    const rows = await p.$$eval('[data-test=attachments] tr[data-attachment]', (trs) => trs.map((tr) => [...tr.cells].map((c) => c.textContent)));
    const offer = rows.find((r) => r[0] === 'offer.pdf');
    const logo = rows.find((r) => r[0] === 'logo.svg');
    assert(offer && offer[1] === '2.9 KB' && offer[2] === 'application/pdf', `offer row: ${offer}`);
    assert(logo && logo[2] === 'application/octet-stream', `an svg is never image/svg+xml: ${logo}`);
    const href = await p.getAttribute('[data-test=attachments] a[download="offer.pdf"]', 'href');
    const got = await p.evaluate(async (u) => { const r = await fetch(u, { credentials: 'same-origin' }); return { bytes: [...new Uint8Array(await r.arrayBuffer())], cd: r.headers.get('content-disposition') }; }, href);
    assert(Buffer.from(got.bytes).equals(pdf), 'the download is the same bytes');
    assert(/^attachment;/.test(got.cd), `disposition: ${got.cd}`);
    const listed = (await rep1('GET', `/objects/opportunity/${deal.id}/attachments`)).data.records;
    assert(listed.length === 2, `the API lists ${listed.length}`);
    await p.screenshot({ path: path.join(SHOTS, 'attachments.png'), fullPage: true });
    await (await p.$('[data-test=attachments]')).screenshot({ path: path.join(SHOTS, 'attachments-panel.png') });
    await p.click('[data-test=attachments] tr:has(a[download="logo.svg"]) [data-test=attachment-delete]');
    await p.waitForFunction(() => document.querySelectorAll('[data-test=attachments] tr[data-attachment]').length === 1);
    assert((await rep1('GET', `/objects/opportunity/${deal.id}/attachments`)).data.records.length === 1, 'deleted on the server');
    await p.click('[data-test=lang]');
    await p.waitForFunction(() => /附件/.test((document.querySelector('[data-test=attachments] h2') || {}).textContent || ''));
    const zh = await p.textContent('[data-test=attachments]');
    for (const word of ['上传文件', '文件', '大小', '类型']) assert(zh.includes(word), `zh panel lacks ${word}: ${zh.slice(0, 200)}`);
    await (await p.$('[data-test=attachments]')).screenshot({ path: path.join(SHOTS, 'zh-attachments-panel.png') });
    await p.click('[data-test=lang]');
    assert(p.errors.length === 0, p.errors.join(' | '));
    await p.context().close();
  }, page);

  // Global search in the header: every object the caller reads, grouped, keyboard navigable;
  // the caller's rules apply (a rep finds no other team's deal).
  await test('global search finds records across objects, grouped, and the keyboard moves through them', async () => {
    const admin1 = await apiAs('admin');
    const acct = (await admin1('GET', '/objects/account?limit=1&fields=id,name')).data.records[0];
    const word = acct.name.split(' ')[0];
    const p = await newPage();
    await login(p, 'sales_rep1');
    await p.fill('[data-test=global-search]', word);
    await p.press('[data-test=global-search]', 'Enter');
    await p.waitForSelector('[data-test=search-results]');
    const groups = await p.$$eval('[data-test=search-results] section', (ss) => ss.map((x) => x.dataset.object));
    assert(groups.includes('account'), `groups: ${groups}`);
    await p.screenshot({ path: path.join(SHOTS, 'search.png') });
    await p.waitForFunction(() => document.activeElement && document.activeElement.closest('[data-test=search-results]'));
    const focused = await p.evaluate(() => document.activeElement.textContent);
    await p.keyboard.press('ArrowDown');
    const next = await p.evaluate(() => document.activeElement.textContent);
    const count = await p.$$eval('[data-test=search-results] a', (as) => as.length);
    assert(count < 2 || focused !== next, 'ArrowDown moves to the next hit');
    await p.fill('[data-test=global-search]', 'zzzz-nothing-matches');
    await p.press('[data-test=global-search]', 'Enter');
    await p.waitForSelector('[data-test=no-results]');
    assert(p.errors.filter((e) => !/status of 4\d\d/.test(e)).length === 0, p.errors.join(' | '));
    await p.context().close();
  }, page);

  // Issue 13 item 4: tabs of one browser share one session (the cookie and the CSRF token).
  await test('a second tab shares the session, and a login there keeps the first tab writing', async () => {
    const first = await newPage();
    await login(first, 'sales_rep1');
    const second = await first.context().newPage();
    await second.goto(`${base}/#/dash`);
    await second.waitForSelector('nav#nav a[href="#/dash"]', { state: 'attached' });
    assert(!(await second.$('form.login')), 'the second tab shows the app, not the login page');
    // log in again in the second tab (a new session), then write from the first
    const before = await second.evaluate(() => localStorage.getItem('crm.csrf'));
    await second.goto(`${base}/#/login`);
    await second.waitForSelector('form.login');
    await second.fill('#login', 'sales_rep1');
    await second.fill('#password', PASSWORD);
    await second.click('form.login button[type=submit]');
    // the new session is in place once the login stored its token and left the login page
    await second.waitForFunction((old) => localStorage.getItem('crm.csrf') !== old && !document.querySelector('form.login'), before);
    const status = await first.evaluate(async () => {
      const csrf = localStorage.getItem('crm.csrf');
      const r = await fetch('/api/v1/objects/activity', { method: 'POST', credentials: 'same-origin',
        headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf }, body: JSON.stringify({ subject: 'from the first tab' }) });
      return r.status;
    });
    assert(status === 201, `a write from the first tab after a login in the second: ${status}`);
    await first.context().close();
  }, page);

  // Every page as every kind of user: no "null" or "undefined" printed, a Log out button.
  await test('no null or undefined on any page, and a log out, for every kind of user', async () => {
    for (const who of ['sales_rep1', 'partner1', 'consumer1']) {
      const p = await newPage();
      await login(p, who);
      const hashes = ['#/dash', ...(await p.$$eval('nav#nav a', (as) => as.map((a) => a.getAttribute('href'))))];
      for (const hash of [...new Set(hashes)]) {
        await p.evaluate((h) => { location.hash = h; }, hash);
        await p.waitForTimeout(150);
        const text = await p.textContent('body');
        assert(!/\bnull\b|\bundefined\b/.test(text), `${who} ${hash} shows null/undefined: ${text.slice(0, 200)}`);
      }
      // a record page too
      const first = await p.$('table[data-test=list] tbody tr[data-id] a');
      if (first) {
        await first.click();
        await p.waitForSelector('[data-test=record-title]');
        const text = await p.textContent('body');
        assert(!/\bnull\b|\bundefined\b/.test(text), `${who} record page shows null/undefined`);
      }
      assert(await p.isVisible('header#top button.logout'), `${who} has a Log out button`);
      assert(p.errors.filter((e) => !/status of 4\d\d/.test(e)).length === 0, `${who}: ${p.errors.join(' | ')}`);
      await p.context().close();
    }
  }, page);

  // The quote's lines (lead2cash: views.lines over quote_line) edited in the grid on its page.
  await test('line grid: a quote\'s lines added, refused in a cell, saved in one batch, moved, removed', async () => {
    const rep = await apiAs('sales_rep1');
    const admin1 = await apiAs('admin');
    const { data: meta } = await rep('GET', '/meta');
    const quoteMeta = meta.objects.find((o) => o.name === 'quote');
    assert(quoteMeta && quoteMeta.views.lines && quoteMeta.views.lines.object === 'quote_line', 'quote has views.lines');
    const filter = `owner = ${rep.user.id} and stage not in ('won', 'lost')`;
    const deal = (await rep('GET', `/objects/opportunity?limit=1&filter=${encodeURIComponent(filter)}`)).data.records[0];
    const { data: quote, status } = await rep('POST', '/objects/quote', { name: 'UI grid quote', opportunity: deal.id, account: deal.account });
    assert(status === 201, `quote: ${status} ${JSON.stringify(quote)}`);
    // the picker shows a product by its title field (the first of its list view, the code)
    const shown = meta.objects.find((o) => o.name === 'product').views.list[0];
    const products = [];
    for (const code of ['GW-100', 'SP-200', 'CAM-4K']) {
      const product = (await rep('GET', `/objects/product?filter=${encodeURIComponent(`code = '${code}'`)}`)).data.records[0];
      assert(product, `demo product ${code}`);
      products.push({ ...product, title: product[shown] });
    }
    const axeSource = fs.readFileSync(path.join(ROOT, 'tests/ui/node_modules/axe-core/axe.min.js'), 'utf8');
    await lineGridScenario({ rep, other: admin1, quote: quote.id, products, total: 'subtotal', axeSource });
  }, page);

  // The whole chain as the people who work it (leadToCash above): fails when any step breaks.
  await test('lead to cash in the browser: quote, two approvals, acceptance, order, confirmation, payment, paid', async () => {
    const axeSource = fs.readFileSync(path.join(ROOT, 'tests/ui/node_modules/axe-core/axe.min.js'), 'utf8');
    await leadToCash({ axeSource });
  }, page);

  // Money with its currency (GET /meta gives a money field's `currency`: a fixed code, or the record's
  // own field holding one; app.currency is the company's): a USD quote reads US$ on its page, its
  // lines (which have no currency of their own) and totals too, an EUR one €, in en and zh; the
  // report measures (a board's column sums, the dashboard's bars) are converted: the company's €.
  await test('money shows its currency: a USD quote in US$, an EUR one in €, reports in the company currency', async () => {
    const rep1 = await apiAs('sales_rep1');
    const { data: meta } = await rep1('GET', '/meta');
    const grandTotal = meta.objects.find((o) => o.name === 'quote').fields.find((f) => f.name === 'grand_total');
    assert(meta.app.currency === 'EUR' && grandTotal.currency && grandTotal.currency.field === 'currency', `/meta: ${meta.app.currency} ${JSON.stringify(grandTotal.currency)}`);
    const first = async (object, filter) => (await rep1('GET', `/objects/${object}?limit=1&sort=id&filter=${encodeURIComponent(filter)}`)).data.records[0];
    const usd = await first('quote', "currency = 'USD' and line_count > 0");
    const eur = await first('quote', "currency = 'EUR' and line_count > 0");
    const usdOrder = await first('sales_order', "currency = 'USD'");
    assert(usd && eur && usdOrder, 'the demo has USD and EUR quotes and a USD order');
    const p = await newPage();
    await login(p, 'sales_rep1');
    const open = async (object, id) => {
      await p.evaluate(([o, i]) => { location.hash = `#/o/${o}/${i}`; }, [object, id]);
      await p.waitForFunction((i) => (document.querySelector('dd[data-field=id]') || {}).textContent === String(i)
        && document.querySelector('[data-test=lines-grid] tbody tr'), id);
    };
    const texts = (selector) => p.$$eval(selector, (els) => els.map((e) => e.textContent));
    for (const lang of ['en', 'zh']) {
      if (lang === 'zh') {
        await p.click('[data-test=lang]');
        await p.waitForFunction(() => /商机/.test(document.querySelector('nav#nav').textContent));
      }
      await open('quote', usd.id);
      await shownMoney(p, 'dd[data-field=grand_total]', usd.grand_total, `${lang}: the USD quote's grand total`, 'US$');
      await shownMoney(p, '[data-test=lines-totals] [data-total=grand_total]', usd.grand_total, `${lang}: under its grid`, 'US$');
      const lineTotals = await texts('[data-test=lines-grid] td[data-field=line_total] .cell-text');
      assert(lineTotals.length === usd.line_count && lineTotals.every((x) => x.includes('US$')), `${lang}: its lines in US$: ${lineTotals}`);
      await p.screenshot({ path: path.join(SHOTS, `${lang === 'zh' ? 'zh-' : ''}quote-usd.png`), fullPage: true });
      await open('quote', eur.id);
      await shownMoney(p, 'dd[data-field=grand_total]', eur.grand_total, `${lang}: the EUR quote's grand total`, '€');
      const eurTexts = [await p.textContent('dd[data-field=grand_total]'), ...await texts('[data-test=lines-grid] td[data-field=line_total] .cell-text')];
      assert(eurTexts.every((x) => x.includes('€') && !x.includes('$')), `${lang}: the EUR quote in €: ${eurTexts}`);
    }
    await p.click('[data-test=lang]');
    await p.waitForFunction(() => /Opportunities/.test(document.querySelector('nav#nav').textContent));
    // an order's lines too (read-only for the rep), and the quotes list row by row
    await open('sales_order', usdOrder.id);
    const orderLines = await texts('[data-test=lines-grid] td[data-field=unit_price] .cell-text');
    assert(orderLines.length > 0 && orderLines.every((x) => x.includes('US$')), `the USD order's lines: ${orderLines}`);
    await shownMoney(p, 'dd[data-field=balance]', usdOrder.balance, "the USD order's balance", 'US$');
    await gotoHash(p, `#/o/quote?filter=${encodeURIComponent("currency in ('USD', 'EUR')")}`);
    await waitList(p);
    const rows = await p.$$eval('table[data-test=list] tbody tr[data-id]', (trs) => trs.map((tr) => tr.querySelector('td[data-label="Grand Total"]').textContent));
    const { data: listed } = await rep1('GET', `/objects/quote?limit=25&filter=${encodeURIComponent("currency in ('USD', 'EUR')")}&fields=id,currency,grand_total`);
    assert(rows.length === listed.records.length, `rows: ${rows.length}`);
    listed.records.forEach((r, i) => assert(rows[i] === '—' ? r.grand_total == null : rows[i].includes(r.currency === 'USD' ? 'US$' : '€')
      && cents(moneyOf(rows[i])) === cents(r.grand_total), `list row ${r.id} (${r.currency}): ${rows[i]}`));
    // the board's column sums: the report converts every quote into the company currency
    await gotoHash(p, '#/k/quote');
    await p.waitForSelector('section.column[data-value=accepted] .sum');
    const { data: report } = await rep1('GET', '/reports/quote?group=status&measures=count,sum(grand_total)');
    for (const row of report.rows)
      await shownMoney(p, `section.column[data-value=${row.status}] .sum`, row.sum_grand_total, `the ${row.status} column's sum`, '€');
    // the dashboard: money bars in €, the average discount in %
    await gotoHash(p, '#/dash');
    await p.waitForSelector('section.chart-card[data-chart-title="Quotes by status"] svg text.value');
    const bars = await texts('section.chart-card[data-chart-title="Quotes by status"] svg text.value');
    assert(bars.length && bars.every((x) => /^€/.test(x)), `quotes by status: ${bars}`);
    const discounts = await texts('section.chart-card[data-chart-title="Average header discount by rep"] svg text.value');
    assert(discounts.length && discounts.every((x) => /%$/.test(x)), `average discount: ${discounts}`);
    assert(p.errors.length === 0, p.errors.join(' | '));
    await p.context().close();
  }, page);

  // Quote to Cash for the README (core/server/ui/screenshots/ keeps the chosen ones): a quote with its
  // grid and stage path, the Sales Orders list, a forecast and the module's dashboard (#/dash/lead2cash,
  // reached from the dashboard's module chooser); en and zh, desktop and phone; axe-core on each page
  // in en on a desktop and in zh on a phone; nothing scrolls sideways on a phone.
  await test('quote to cash in en and zh, desktop and phone: a quote, the orders, a forecast, the module dashboard', async () => {
    const rep1 = await apiAs('sales_rep1');
    const { data: meta } = await rep1('GET', '/meta');
    const filter = "owner = $me and status in ('approved', 'presented') and line_count >= 3";
    const quote = (await rep1('GET', `/objects/quote?limit=1&sort=id&filter=${encodeURIComponent(filter)}`)).data.records[0];
    assert(quote, 'a quote of the rep\'s half way along its path');
    const axeSource = fs.readFileSync(path.join(ROOT, 'tests/ui/node_modules/axe-core/axe.min.js'), 'utf8');
    // the demo's forecasts are for this quarter, and its deals close in the first half of 2026: the rep
    // makes one for the second quarter of 2026 from the Forecasts list, and recalculates it
    const p = await newPage(undefined, { bypassCSP: true });
    await login(p, 'sales_rep1');
    await p.click('nav#nav a[href="#/o/forecast"]');
    await waitList(p);
    await p.click('.title a.button.primary');
    await p.waitForSelector('form.edit #f-period_start');
    await p.selectOption('#f-period', 'quarter');
    await p.fill('#f-period_start', '2026-04-01');
    await p.click('[data-test=save]');
    await p.waitForFunction(() => /#\/o\/forecast\/\d+$/.test(location.hash));
    const forecast = Number(p.url().match(/(\d+)$/)[1]);
    await p.click('button[data-action="lead2cash.recalculate"]');
    await p.waitForFunction(() => !/^—?$/.test((document.querySelector('dd[data-field=calculated_at]') || {}).textContent || ''));
    const { data: figures } = await rep1('GET', `/objects/forecast/${forecast}`);
    assert(figures.deal_count > 0, `the rep's deals closing in Q2 2026: ${JSON.stringify(figures)}`);
    await shownMoney(p, 'dd[data-field=pipeline]', figures.pipeline, "the forecast's pipeline");
    await shownMoney(p, 'dd[data-field=forecast_total]', figures.forecast_total, "the forecast's total");
    // the dashboard's module chooser: Quote to Cash's charts alone
    await p.click('nav#nav a[href="#/dash"]');
    await p.waitForSelector('[data-test=dash-modules] a[href="#/dash/lead2cash"]');
    await p.click('[data-test=dash-modules] a[href="#/dash/lead2cash"]');
    const mine = meta.objects.filter((o) => o.module === 'lead2cash').flatMap((o) => ((o.views && o.views.charts) || []).map((c) => c.title.en));
    await p.waitForFunction((n) => document.querySelectorAll('section.chart-card svg.chart').length === n, mine.length);
    const shown = await p.$$eval('section.chart-card', (cs) => cs.map((c) => c.dataset.chartTitle));
    assert(JSON.stringify(shown.sort()) === JSON.stringify([...mine].sort()), `the module's charts: ${shown}`);
    assert(await p.textContent('h1') === 'Dashboard · Quote to Cash', `title: ${await p.textContent('h1')}`);
    assert(await p.getAttribute('[data-test=dash-modules] a[aria-current=page]', 'href') === '#/dash/lead2cash', 'the chooser marks the module');
    assert(!(await p.$('[data-test=inbox]')), 'a module\'s dashboard is its charts');
    await p.context().close();

    const pages = [
      { name: 'quote', hash: `#/o/quote/${quote.id}`, ready: '[data-test=lines-grid] tbody tr', full: true },
      { name: 'orders', hash: '#/o/sales_order', ready: 'table[data-test=list] tbody tr[data-id]', full: false },
      { name: 'forecast', hash: `#/o/forecast/${forecast}`, ready: 'section.history', full: true },
      { name: 'q2c-dashboard', hash: '#/dash/lead2cash', ready: `section.chart-card:nth-of-type(${mine.length}) svg.chart`, full: true },
    ];
    for (const [lang, viewport, prefix] of [['en', { width: 1280, height: 860 }, ''], ['zh', { width: 1280, height: 860 }, 'zh-'],
      ['en', { width: 390, height: 844 }, 'phone-'], ['zh', { width: 390, height: 844 }, 'zh-phone-']]) {
      const q = await newPage(viewport, { bypassCSP: true });
      await login(q, 'sales_rep1');
      if (lang === 'zh') {
        await q.click('[data-test=lang]');
        await q.waitForFunction(() => document.documentElement.lang === 'zh-CN');
      }
      for (const { name, hash, ready, full } of pages) {
        await q.evaluate((h) => { location.hash = h; }, hash);
        await q.waitForSelector(ready);
        await q.waitForFunction(() => !document.querySelector('p.loading'));
        if (lang === 'zh') {
          const text = await q.textContent('#main');
          assert(!/Quote|Sales Order|Forecast|Dashboard|Subtotal/.test(text), `${name} in zh shows English: ${text.slice(0, 300)}`);
        }
        if (viewport.width < 400) {
          const width = await q.evaluate(() => document.documentElement.scrollWidth);
          assert(width <= viewport.width + 10, `${prefix}${name}: no sideways scrolling on a phone: ${width}`);
        }
        if (prefix === '' || prefix === 'zh-phone-') await assertAxe(q, axeSource, `${prefix}${name}`);
        await q.screenshot({ path: path.join(SHOTS, `${prefix}${name}.png`), fullPage: full });
      }
      assert(q.errors.length === 0, `${prefix}: ${q.errors.join(' | ')}`);
      await q.context().close();
    }
  }, page);

  // Marketing (plugins/marketing): a campaign launched from its page, an expense's lines entered in
  // its grid, submitted and approved (above 5,000: by marketing_manager from "Waiting for my approval"),
  // and the module dashboard #/dash/marketing as marketing_user and as sales_manager (screenshots
  // for plugins/marketing/README.md).
  await test('marketing: launch a campaign, an expense with lines approved, the dashboard as two roles', async () => {
    const admin = await apiAs('admin');
    const mkt = await apiAs('marketing_user');
    const manager = await apiAs('marketing_manager');
    const { data: budget } = await manager('POST', '/objects/market_budget', { name: 'UI budget', fiscal_year: 2026, region: 'emea', amount: 100000, status: 'approved' });
    const { data: campaign } = await mkt('POST', '/objects/campaign', { name: 'UI launch webinar', type: 'webinar', budget: budget.id, budgeted_cost: 12000, starts_on: '2026-03-01', ends_on: '2026-03-31' });
    assert(campaign && campaign.id, `campaign: ${JSON.stringify(campaign)}`);
    const p = await newPage();
    await login(p, 'marketing_user');
    await p.evaluate((id) => { location.hash = `#/o/campaign/${id}`; }, campaign.id);
    await statusIs(p, 'Planned');
    await fire(p, 'launch', 'Active');
    assert((await mkt('GET', `/objects/market_budget/${budget.id}`)).data.allocated === 12000, 'the budget allocates it');
    // an expense on it, its lines typed into the grid
    const { data: expense } = await mkt('POST', '/objects/expense', { title: 'UI webinar costs', campaign: campaign.id, category: 'media', incurred_on: '2026-03-02' });
    await p.evaluate((id) => { location.hash = `#/o/expense/${id}`; }, expense.id);
    await p.waitForSelector('[data-test=lines]');
    const lines = [['Platform licence', '1', '4200'], ['Promotion e-mails', '3', '650.5']];
    for (let i = 1; i <= lines.length; i++) {
      await p.click('[data-test=lines-add]');
      await p.fill(`${cellOf(i, 'description')} input`, lines[i - 1][0]);
      await p.fill(`${cellOf(i, 'quantity')} input`, lines[i - 1][1]);
      await p.fill(`${cellOf(i, 'unit_cost')} input`, lines[i - 1][2]);
    }
    await p.click('[data-test=lines-save]');
    await p.waitForFunction(() => /saved/i.test(document.querySelector('[data-test=lines-status]').textContent));
    const { data: saved } = await mkt('GET', `/objects/expense/${expense.id}`);
    assert(saved.amount === 6151.5 && saved.line_count === 2, `the lines' sum: ${JSON.stringify(saved)}`);
    await shownMoney(p, 'dd[data-field=amount]', 6151.5, "the expense's amount");
    await fire(p, 'submit', 'Submitted');
    await p.click('.transitions button[data-transition=approve]');
    await p.waitForFunction(() => /approv/i.test(document.querySelector('#main').textContent));
    assert((await mkt('GET', `/objects/expense/${expense.id}`)).data.status === 'submitted', 'waits for the manager');
    const m = await newPage();
    await login(m, 'marketing_manager');
    const link = `[data-test=my-approvals] a:text-is("Expense #${expense.id}: Approve")`;
    await m.waitForSelector(link);
    await m.click(link);
    await m.waitForSelector('[data-test=decision] [data-test=approve]');
    await m.click('[data-test=approve]');
    await m.waitForFunction(() => (document.querySelector('dd[data-field=status]') || {}).textContent === 'Approved');
    assert((await mkt('GET', `/objects/campaign/${campaign.id}`)).data.actual_cost === 6151.5, 'the campaign\'s cost');
    assert(p.errors.length === 0 && m.errors.length === 0, `${p.errors.join(' | ')} ${m.errors.join(' | ')}`);
    await m.context().close();
    // the module dashboard: tiles and charts, as a marketer and as a sales manager
    const { data: meta } = await admin('GET', '/meta');
    // a marketer looks at everyone's campaigns, a sales manager at the team's plan
    for (const [who, shot, scope] of [['marketing_user', 'marketing-dashboard', 'all'], ['sales_manager', 'marketing-dashboard-manager', 'team']]) {
      const d = await newPage();
      await login(d, who);
      await d.evaluate(() => { location.hash = '#/dash/marketing'; });
      await d.waitForSelector('[data-test=kpis] .kpi-tile');
      await d.click(`[data-test=kpi-scope] button[data-scope=${scope}]`);
      await d.waitForFunction((sc) => document.querySelector('[data-test=kpis]').dataset.scope === sc, scope);
      if (scope === 'team') {
        const target = await d.textContent('[data-kpi=plan_attainment] [data-test=kpi-target]');
        assert(/\d/.test(target), `the team's quota: ${target}`);
      }
      const readable = meta.objects.filter((o) => o.module === 'marketing').map((o) => o.name);
      await d.waitForFunction(() => document.querySelectorAll('section.chart-card svg.chart, section.chart-card p.empty').length >= 4);
      await d.waitForFunction(() => !document.querySelector('p.loading, div.chart-slot'));
      const tiles = await d.$$eval('[data-test=kpis] .kpi-tile', (ts) => ts.map((t) => t.dataset.kpi));
      assert(tiles.includes('plan_attainment') && tiles.includes('leads_created'), `${who}'s tiles: ${tiles}`);
      assert(readable.length > 0 && await d.textContent('h1') === 'Dashboard · Marketing', `title: ${await d.textContent('h1')}`);
      await d.screenshot({ path: path.join(SHOTS, `${shot}.png`), fullPage: true });
      assert(d.errors.length === 0, `${who}: ${d.errors.join(' | ')}`);
      await d.context().close();
    }
    await p.context().close();
  }, page);

  // zh: navigation, a board and a record page read the metadata's zh labels (modules, plurals,
  // transition buttons, kanban card fields); screenshots for the README.
  await test('zh: navigation, board and record page in Chinese from the metadata', async () => {
    const zh = await newPage();
    await login(zh, 'sales_rep1');
    await zh.click('[data-test=lang]');
    await zh.waitForFunction(() => /商机/.test(document.querySelector('nav#nav').textContent));
    const nav = await zh.textContent('nav#nav');
    for (const word of ['销售', '商机', '客户', '市场营销']) assert(nav.includes(word), `nav lacks ${word}: ${nav}`);
    for (const word of ['SALES', 'Sales', 'Opportunities', 'MARKETING']) assert(!nav.includes(word), `nav shows ${word}`);
    await zh.screenshot({ path: path.join(SHOTS, 'zh-nav.png') });
    await zh.evaluate(() => { location.hash = '#/k/opportunity'; });
    await zh.waitForSelector('li.card');
    const board = await zh.textContent('[data-test=board]');
    assert(/金额/.test(board), `the card's fields read their zh labels: ${board.slice(0, 200)}`);
    await zh.screenshot({ path: path.join(SHOTS, 'zh-board.png') });
    const rep = await apiAs('sales_rep1');
    const deal = (await rep('GET', `/objects/opportunity?filter=${encodeURIComponent("stage = 'prospecting'")}&limit=1`)).data.records[0];
    if (deal) {
      await zh.evaluate((id) => { location.hash = `#/o/opportunity/${id}`; }, deal.id);
      await zh.waitForSelector('[data-test=record-title]');
      const buttons = await zh.$$eval('[data-transition]', (bs) => bs.map((b) => b.textContent));
      assert(buttons.includes('确认需求') && !buttons.includes('Qualify'), `transition buttons: ${buttons}`);
      await zh.screenshot({ path: path.join(SHOTS, 'zh-record.png'), fullPage: true });
    }
    await zh.context().close();
  }, page);

  await test('log out', async () => {
    await page.click('header#top button.logout');
    await page.waitForSelector('form.login');
    const res = await page.evaluate(async () => (await fetch('/api/v1/meta')).status);
    assert(res === 401, `after logout /meta answers ${res}`);
  }, page);

  await test('a field added in YAML shows in the form after a restart', async () => {
    const meta = path.join(tmp, 'metadata');
    fs.cpSync(path.join(ROOT, 'metadata'), meta, { recursive: true });
    const file = path.join(meta, 'opportunity.yaml');
    const text = fs.readFileSync(file, 'utf8').replace(/^fields:\n/m,
      'fields:\n  ui_test_note: { type: text, label: { en: UI Test Note, zh: 界面测试备注 }, max: 80 }\n');
    fs.writeFileSync(file, text);
    await stopServer();
    const mig = spawnSync(CRM, ['migrate', '--db', db, '--metadata', meta], { cwd: ROOT, encoding: 'utf8' });
    assert(mig.status === 0, `migrate: ${mig.stderr}`);
    server = await startServer(meta);
    const p2 = await newPage();
    await login(p2, 'sales_rep1');
    await p2.evaluate(() => { location.hash = '#/o/opportunity/new'; });
    await p2.waitForSelector('form.edit');
    assert(await p2.$('#f-ui_test_note'), 'the new field has a widget');
    assert(/UI Test Note/.test(await p2.textContent('label[for=f-ui_test_note]')), 'with its label');
    await p2.context().close();
  }, page);

  const unexpected = page.errors.filter((e) => !/status of 4\d\d/.test(e));
  await test('no script errors in the page', async () => {
    assert(unexpected.length === 0, unexpected.join(' | '));
  });
}

const started = Date.now();
try {
  await main();
} catch (e) {
  failed++;
  log(`FAIL ui setup: ${e && e.stack || e}`);
} finally {
  if (browser) await browser.close().catch(() => {});
  await stopServer();
  fs.rmSync(tmp, { recursive: true, force: true });
}
log(`# ui suite took ${((Date.now() - started) / 1000).toFixed(1)} s; screenshots in tests/ui/screenshots/`);
log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
