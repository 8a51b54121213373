// The accounts list's first paint at scale, for `make bench` (README "At 1,000,000 records"):
// node tests/ui/first_paint.mjs BASE_URL LOGIN PASSWORD [RUNS]
// Logs in through the UI, then opens #/o/account RUNS times (default 3) and prints, for each,
// the time from the route change to the painted table as the page measures it
// (document.body.dataset.listPaint) and from navigation (the hash change) to that paint.
import { chromium } from 'playwright-core';

const [base, login, password, runsText] = process.argv.slice(2);
const runs = Number(runsText || 3);
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: ['--no-sandbox'] });
const page = await (await browser.newContext({ viewport: { width: 1280, height: 860 } })).newPage();
await page.goto(`${base}/#/login`);
await page.fill('#login', login);
await page.fill('#password', password);
await page.click('form.login button[type=submit]');
await page.waitForSelector('nav#nav a[href="#/dash"]', { state: 'attached' });
const figures = [];
for (let i = 0; i < runs; i++) {
  await page.evaluate(() => { delete document.body.dataset.listPaint; location.hash = '#/dash'; });
  await page.waitForTimeout(300);
  const started = Date.now();
  await page.evaluate(() => { delete document.body.dataset.listPaint; location.hash = '#/o/account'; });
  await page.waitForFunction(() => document.body.dataset.listPaint !== undefined, null, { timeout: 30000 });
  const total = Date.now() - started;
  const inPage = Number(await page.evaluate(() => document.body.dataset.listPaint));
  const rows = await page.$$eval('table[data-test=list] tbody tr[data-id]', (trs) => trs.length);
  figures.push({ total, inPage, rows });
}
for (const f of figures)
  console.log(`accounts list first paint: ${f.total} ms from navigation, ${f.inPage} ms in page (${f.rows} rows)`);
await browser.close();
