// The OpenAPI contract suite (run by tests/api/contract.sh, which starts the server).
//
// Against a real `crm serve` over a demo database: fetches GET /api/v1/openapi.json as several
// demo users, lints the documents with redocly (recommended ruleset, tests/contract/redocly.yaml),
// calls every route of each document for every object the user may see and validates each real
// response body against the document's schema for that route, status and media type (Ajv, JSON
// Schema 2020-12), then generates TypeScript types with openapi-typescript, writes the captured
// responses as typed fixtures and runs `tsc --strict --noEmit` over them (and checks that tsc
// fails once `_transitions` is taken out of the schemas).
//
// Usage: node contract.mjs BASE_URL WORK_DIR. Prints "ok NAME" / "FAIL NAME: why" and
// "N passed, N failed" last.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import openapiTS, { astToString } from 'openapi-typescript';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const [BASE, WORK] = process.argv.slice(2);
if (!BASE || !WORK) {
  console.log('FAIL contract: usage: node contract.mjs BASE_URL WORK_DIR');
  console.log('0 passed, 1 failed');
  process.exit(1);
}
const API = `${BASE}/api/v1`;
const PASSWORD = 'demo1234';
const ROLES = ['admin', 'sales_rep1', 'marketing_user', 'partner1', 'consumer1'];

let passed = 0;
let failed = 0;
function ok(name, note) { passed++; console.log(`ok ${name}${note ? ` (${note})` : ''}`); }
function fail(name, why) { failed++; console.log(`FAIL ${name}: ${why}`); }
async function test(name, fn) {
  try {
    const note = await fn();
    ok(name, note);
  } catch (e) {
    fail(name, (e && e.message) || String(e));
  }
}
function assert(cond, msg) { if (!cond) throw new Error(msg); }

// ---- HTTP ------------------------------------------------------------------------------------

async function call(method, url, { token, body, headers = {}, contentType } = {}) {
  const h = { ...headers };
  if (token) h.Authorization = `Bearer ${token}`;
  let payload;
  if (body !== undefined) {
    payload = typeof body === 'string' ? body : JSON.stringify(body);
    h['Content-Type'] = contentType || 'application/json';
  }
  const target = url.startsWith('http') ? url : API + url;
  let res;
  try {
    res = await fetch(target, { method, headers: h, body: payload });
  } catch (e) {
    // a kept-alive socket the server closed while idle (the lint steps take a while): a GET is asked again
    if (method !== 'GET' || !e.cause || e.cause.code !== 'UND_ERR_SOCKET') throw e;
    res = await fetch(target, { method, headers: h, body: payload });
  }
  const text = await res.text();
  const type = (res.headers.get('content-type') || '').split(';')[0].trim();
  let json;
  if (text && /json$/.test(type)) json = JSON.parse(text);
  return { status: res.status, headers: res.headers, type, text, json };
}

async function login(user) {
  const r = await call('POST', '/session', { body: { login: user, password: PASSWORD } });
  if (r.status !== 201) throw new Error(`login ${user}: ${r.status} ${r.text.slice(0, 200)}`);
  return r;
}

// ---- the documents and validation ------------------------------------------------------------

const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: true });
addFormats(ajv);
const docs = {};        // role -> document
const validators = new Map();
const fixtures = {};    // role -> [{template, method, status, media, body}]
const stats = {};       // role -> responses validated

function pointer(...parts) {
  return '#/' + parts.map((p) => String(p).replace(/~/g, '~0').replace(/\//g, '~1')).join('/');
}

function responseFor(doc, template, method, status) {
  const op = doc.paths[template] && doc.paths[template][method];
  if (!op) return { error: `${method.toUpperCase()} ${template} is not in the document` };
  const rs = op.responses || {};
  const key = [String(status), `${String(status)[0]}XX`, 'default'].find((k) => rs[k]);
  if (!key) return { error: `${method.toUpperCase()} ${template} does not document status ${status}` };
  return { op, key, response: rs[key] };
}

function validatorFor(role, template, method, key, media) {
  const id = `${role}.json`;
  const ref = id + pointer('paths', template, method, 'responses', key, 'content', media, 'schema');
  let v = validators.get(ref);
  if (!v) {
    v = ajv.compile({ $ref: ref });
    validators.set(ref, v);
  }
  return v;
}

function requestValidator(role, template, method, media = 'application/json') {
  const id = `${role}.json`;
  const ref = id + pointer('paths', template, method, 'requestBody', 'content', media, 'schema');
  let v = validators.get(ref);
  if (!v) {
    v = ajv.compile({ $ref: ref });
    validators.set(ref, v);
  }
  return v;
}

// Checks a real response against role's document: the status is documented for the route, the
// media type too, the body matches the schema, the documented headers came. Returns problems.
const called = {};     // role -> Set of "method template" answered
function check(role, template, method, r) {
  const doc = docs[role];
  (called[role] ||= new Set()).add(`${method} ${template}`);
  const found = responseFor(doc, template, method, r.status);
  if (found.error) return [`${found.error} (body ${r.text.slice(0, 160)})`];
  const problems = [];
  for (const name of Object.keys(found.response.headers || {})) {
    if (name.toLowerCase() === 'set-cookie') continue;  // fetch hides Set-Cookie
    if (!r.headers.get(name)) problems.push(`${method.toUpperCase()} ${template} ${r.status}: header ${name} missing`);
  }
  const content = found.response.content;
  if (!content) {
    if (r.text) problems.push(`${method.toUpperCase()} ${template} ${r.status}: a body where none is documented`);
    return problems;
  }
  if (!content[r.type]) {
    problems.push(`${method.toUpperCase()} ${template} ${r.status}: media type ${r.type} not documented (${Object.keys(content)})`);
    return problems;
  }
  stats[role] = (stats[role] || 0) + 1;
  if (r.type === 'text/csv' || r.type === 'text/html' || r.type === 'application/octet-stream') {
    (fixtures[role] ||= []).push({ template, method, status: found.key, media: r.type, body: r.text });
    return problems;
  }
  const v = validatorFor(role, template, method, found.key, r.type);
  if (!v(r.json)) {
    const errs = v.errors.slice(0, 4).map((e) => `${e.instancePath || '/'} ${e.message}${e.params && e.params.additionalProperty ? ` '${e.params.additionalProperty}'` : ''}`);
    problems.push(`${method.toUpperCase()} ${template} ${r.status}: ${errs.join('; ')}`);
  } else {
    (fixtures[role] ||= []).push({ template, method, status: found.key, media: r.type, body: r.json });
  }
  return problems;
}

// ---- values for create bodies -----------------------------------------------------------------

// A VIN with a valid ISO 3779 check digit (the vin plugin refuses any other), unique per call.
function sampleVin(n) {
  const letters = 'ABCDEFGHJKLMNPRSTUVWXYZ';
  const values = [1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 7, 9, 2, 3, 4, 5, 6, 7, 8, 9];
  const weights = [8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2];
  const vin = `1HGCM8260NA${String(n % 1000000).padStart(6, '0')}`.split('');
  const sum = vin.reduce((acc, c, i) => acc + (/[0-9]/.test(c) ? Number(c) : values[letters.indexOf(c)]) * weights[i], 0);
  vin[8] = sum % 11 === 10 ? 'X' : String(sum % 11);
  return vin.join('');
}
// Fields a plugin checks beyond what the document can say: their sample values.
const PLUGIN_CHECKED = { vin: sampleVin };
// Values a role's create rule or an object's rule asks for beyond the document (a partner files market
// development funds only; a holiday's half day is HH:MM-HH:MM; an SLA policy's condition is an
// expression over the case and its calendar a calendar document's name: plugins/service/sla.lua; an
// earn rule's condition one over the order).
const CREATE_VALUES = {
  earn_rule: { condition: "channel = 'ecommerce'" },   // an expression over the order (plugins/membership)
  expense: { category: 'partner_mdf' }, holiday: { hours: '09:00-12:00' },
  sla_policy: { applies_when: "priority = 'high'", calendar: 'cn_office' },
};

// Creates the sample values cannot make succeed, and their documented refusal: a redemption for the
// role's new member, who has no points yet (409, plugins/membership).
const CREATE_REFUSALS = { redemption: 409 };

let counter = 0;
function sampleValue(name, s, ids) {
  counter++;
  const types = [].concat(s.type ?? []);
  if (PLUGIN_CHECKED[name] && types.includes('string')) return PLUGIN_CHECKED[name](counter);
  const ref = s['x-crm-ref'] || (s['x-crm-type'] === 'user' ? 'user' : null);
  if (ref) return ids[ref] ?? null;
  if (s.enum) return s.enum.find((v) => v !== null);
  if (types.includes('array')) return s.items && s.items.enum ? [s.items.enum[0]] : [];
  if (types.includes('integer') || types.includes('number')) {
    let v = 10;
    if (s.minimum !== undefined && v < s.minimum) v = s.minimum;
    if (s.maximum !== undefined && v > s.maximum) v = s.maximum;
    return v;
  }
  if (types.includes('boolean')) return false;
  if (types.includes('object')) return s.properties && s.properties.lat ? { lat: 48.137, lng: 11.575 } : {};
  if (types.includes('string')) {
    if (s.format === 'email') return `contract${counter}@example.com`;
    if (s.format === 'uri') return `https://example.com/contract/${counter}`;
    if (s.format === 'date') return '2026-03-01';
    if (s.format === 'date-time') return '2026-03-01T10:00:00Z';
    if (s['x-crm-format'] === 'phone') return '+1 415 555 0100';
    const text = `Contract ${name} ${counter}`;
    return s.maxLength ? text.slice(0, s.maxLength) : text;
  }
  return { contract: counter };  // a json field
}

function resolve(doc, s) {
  while (s && s.$ref) s = s.$ref.split('/').slice(1).reduce((o, k) => o[k], doc);
  return s;
}

// ---- attachments of one record: list, a raw upload (201, or 403 without update), a nameless one (400),
// the row, the download and the delete of what was uploaded; the 404s of an unknown attachment
async function exerciseAttachments(note, has, token, base, item, id) {
  if (!has(`${item}/attachments`, 'get')) return;
  note(`${item}/attachments`, 'get', await call('GET', `${base}/${id}/attachments`, { token }));
  let up = null;
  if (has(`${item}/attachments`, 'post')) {
    up = note(`${item}/attachments`, 'post', await call('POST', `${base}/${id}/attachments?filename=contract.txt`,
      { token, body: 'a contract test file', contentType: 'application/octet-stream' }));
    note(`${item}/attachments`, 'post', await call('POST', `${base}/${id}/attachments`, { token, body: 'x', contentType: 'application/octet-stream' }));
  }
  const aid = up && up.status === 201 ? up.json.id : 999999999;
  note('/attachments/{id}', 'get', await call('GET', `/attachments/${aid}`, { token }));
  note('/attachments/{id}/content', 'get', await call('GET', `/attachments/${aid}/content`, { token }));
  note('/attachments/{id}', 'delete', await call('DELETE', `/attachments/${aid}`, { token }));
  note('/attachments/{id}/content', 'get', await call('GET', `/attachments/${aid}/content`, { token }));
}

// ---- the walk over one role's document ---------------------------------------------------------

async function exercise(role, session) {
  const doc = docs[role];
  const token = session.token;
  const problems = [];
  const note = (template, method, r) => { problems.push(...check(role, template, method, r)); return r; };
  const has = (template, method) => Boolean(doc.paths[template] && doc.paths[template][method]);
  const objects = Object.keys(doc.paths).filter((p) => /^\/objects\/[a-z_]+$/.test(p)).map((p) => p.split('/')[2]);

  // ids of a readable record of every object, for refs in create bodies
  const ids = {};
  const firstRecords = {};
  for (const o of objects) {
    const r = note(`/objects/${o}`, 'get', await call('GET', `/objects/${o}?limit=3&count=true`, { token }));
    if (r.status === 200 && r.json.records.length) {
      ids[o] = r.json.records[0].id;
      firstRecords[o] = r.json.records;
    }
  }

  // session, meta, openapi.json, plugins
  note('/session', 'get', await call('GET', '/session', { token }));
  const meta = note('/meta', 'get', await call('GET', '/meta', { token }));
  if (meta.headers.get('etag'))
    note('/meta', 'get', await call('GET', '/meta', { token, headers: { 'If-None-Match': meta.headers.get('etag') } }));
  const self = note('/openapi.json', 'get', await call('GET', '/openapi.json', { token }));
  note('/openapi.json', 'get', await call('GET', '/openapi.json', { token, headers: { 'If-None-Match': self.headers.get('etag') } }));
  note('/openapi.json', 'get', await call('GET', '/openapi.json?x=1', { token }));
  // kpis: the caller's, the team's, one by name (404 where its object is closed), a bad day
  const kpis = note('/kpis', 'get', await call('GET', '/kpis?scope=team', { token }));
  note('/kpis', 'get', await call('GET', '/kpis?day=2026-13-01', { token }));
  note('/kpis/{name}', 'get', await call('GET', `/kpis/${kpis.status === 200 && kpis.json.kpis.length ? kpis.json.kpis[0].name : 'won_revenue'}`, { token }));
  note('/kpis/{name}', 'get', await call('GET', '/kpis/no_such_kpi', { token }));
  // the global search: hits, FTS5 syntax typed as text, a bad limit (400)
  note('/search', 'get', await call('GET', `/search?q=${encodeURIComponent('Company')}`, { token }));
  note('/search', 'get', await call('GET', `/search?q=${encodeURIComponent('NEAR( "x* -y')}`, { token }));
  note('/search', 'get', await call('GET', '/search?q=x&limit=0', { token }));
  // report documents: the list, each one it names, and each with a bad limit (400)
  const reports = note('/reports', 'get', await call('GET', '/reports', { token }));
  for (const r of reports.status === 200 ? reports.json.reports : []) {
    note(`/reports/${r.name}`, 'get', await call('GET', `/reports/${r.name}`, { token }));
    note(`/reports/${r.name}`, 'get', await call('GET', `/reports/${r.name}?limit=0`, { token }));
  }
  for (const [template, item] of Object.entries(doc.paths)) {
    if (!template.startsWith('/plugins/') || !item.get) continue;
    // a {name} segment gets 1: a record's id, or a value the route refuses with a documented 4xx
    note(template, 'get', await call('GET', template.replace(/\{[a-z_]+\}/g, '1'), { token }));
  }

  const results = {};
  for (const o of objects) {
    const before = problems.length;
    const base = `/objects/${o}`;
    const item = `${base}/{id}`;
    const list = firstRecords[o] || [];
    // lists: a page, a fields selection with a dotted path, csv, a bad filter, an unknown parameter
    const schema = resolve(doc, doc.components.schemas[o.split('_').map((w) => w[0].toUpperCase() + w.slice(1)).join('')]);
    const refField = Object.entries(schema.properties).find(([, s]) => s['x-crm-ref'] && objects.includes(s['x-crm-ref']));
    const fields = ['id', Object.keys(schema.properties).find((k) => !['id', '_transitions'].includes(k))];
    if (refField) fields.push(`${refField[0]}.id`);
    note(base, 'get', await call('GET', `${base}?limit=2&fields=${encodeURIComponent(fields.join(','))}`, { token }));
    const page = note(base, 'get', await call('GET', `${base}?limit=1&sort=-id`, { token }));
    if (page.status === 200 && page.json.next)
      note(base, 'get', await call('GET', `${base}?limit=1&sort=-id&after=${encodeURIComponent(page.json.next)}`, { token }));
    note(base, 'get', await call('GET', `${base}?limit=2&format=csv`, { token }));
    note(base, 'get', await call('GET', `${base}?filter=${encodeURIComponent('nosuch_field = 1')}`, { token }));
    note(base, 'get', await call('GET', `${base}?limit=0`, { token }));
    note(base, 'get', await call('GET', `${base}?deleted=true&limit=2`, { token }));
    // one record: get, 304, 404, history, shares
    if (list.length) {
      const id = list[0].id;
      const got = note(item, 'get', await call('GET', `${base}/${id}`, { token }));
      if (got.headers.get('etag'))
        note(item, 'get', await call('GET', `${base}/${id}`, { token, headers: { 'If-None-Match': got.headers.get('etag') } }));
      note(`${item}/history`, 'get', await call('GET', `${base}/${id}/history`, { token }));
      note(`${item}/shares`, 'get', await call('GET', `${base}/${id}/shares`, { token }));
      await exerciseAttachments(note, has, token, base, item, id);
    }
    note(item, 'get', await call('GET', `${base}/999999999`, { token }));
    note(item, 'get', await call('GET', `${base}/1?nosuch=1`, { token }));
    // reports
    const enumField = Object.entries(schema.properties).find(([, s]) => s.enum);
    note(`/reports/${o}`, 'get', await call('GET', `/reports/${o}`, { token }));
    if (enumField)
      note(`/reports/${o}`, 'get', await call('GET', `/reports/${o}?group=${enumField[0]}&measure=count`, { token }));
    note(`/reports/${o}`, 'get', await call('GET', `/reports/${o}?measure=nosuch(x)`, { token }));

    // writes
    let created = null;
    if (has(base, 'post')) {
      const input = resolve(doc, doc.paths[base].post.requestBody.content['application/json'].schema);
      const values = {};
      for (const [name, s] of Object.entries(input.properties)) {
        if (name === 'owner') continue;
        const v = sampleValue(name, s, ids);
        if (v !== null) values[name] = v;
      }
      Object.assign(values, CREATE_VALUES[o]);
      const rv = requestValidator(role, base, 'post');
      if (!rv(values)) problems.push(`our create body for ${o} does not match ${o}Create: ${ajv.errorsText(rv.errors)}`);
      const r = note(base, 'post', await call('POST', base, { token, body: values }));
      // the role's own new record is the parent its later objects' refs name (a quote's lines, a deal's roles)
      if (r.status === 201) { created = r.json; ids[o] = created.id; }
      else if (CREATE_REFUSALS[o] !== r.status) problems.push(`create ${o} as ${role}: ${r.status} ${r.text.slice(0, 300)}`);
      note(base, 'post', await call('POST', base, { token, body: { nosuch_field: 1 } }));
      note(base, 'post', await call('POST', base, { token, body: '{"broken', contentType: 'application/json' }));
      note(base, 'post', await call('POST', base, { token, body: 'a,b', contentType: 'text/csv' }));
    }
    const target = created || (list.length ? list[0] : null);
    if (target && has(item, 'patch')) {
      const input = resolve(doc, doc.paths[item].patch.requestBody.content['application/json'].schema);
      const textField = Object.entries(input.properties).find(([n, s]) => [].concat(s.type).includes('string') && !s.format && !s.enum && !s['x-crm-format'] && !PLUGIN_CHECKED[n]);
      const changes = textField ? { [textField[0]]: `Patched ${textField[0]}`.slice(0, textField[1].maxLength || 100) } : {};
      const rv = requestValidator(role, item, 'patch');
      if (!rv(changes)) problems.push(`our patch body for ${o} does not match ${o}Update: ${ajv.errorsText(rv.errors)}`);
      const headers = { 'If-Match': `"${target.version}"` };
      const r = note(item, 'patch', await call('PATCH', `${base}/${target.id}`, { token, body: changes, headers }));
      if (created && r.status !== 200) problems.push(`patch own new ${o} as ${role}: ${r.status} ${r.text.slice(0, 200)}`);
      if (r.status === 200) target.version = r.json.version;
      note(item, 'patch', await call('PATCH', `${base}/${target.id}`, { token, body: changes }));
      note(item, 'patch', await call('PATCH', `${base}/${target.id}`, { token, body: changes, headers: { 'If-Match': '"999999"' } }));
      note(item, 'patch', await call('PATCH', `${base}/${target.id}`, { token, body: { id: 5, nosuch_field: 1 }, headers: { 'If-Match': '*' } }));
      note(item, 'patch', await call('PATCH', `${base}/999999999`, { token, body: changes, headers: { 'If-Match': '*' } }));
    }
    if (target) {
      // shares: with a user (or a team) the caller can name, else user 1; then remove it
      const id = target.id;
      const who = ids.user ? { user: ids.user } : ids.team ? { team: ids.team } : { user: 1 };
      const s = note(`${item}/shares`, 'post', await call('POST', `${base}/${id}/shares`, { token, body: { ...who, access: 'read' } }));
      // a record the package hands to someone else at once (service routes a partner's case to an agent) is not the caller's to share
      const mine = created && (created.owner == null || created.owner === session.user.id);
      if (mine && (ids.user || ids.team) && s.status !== 201) problems.push(`share own new ${o} as ${role}: ${s.status} ${s.text.slice(0, 200)}`);
      note(`${item}/shares`, 'get', await call('GET', `${base}/${id}/shares`, { token }));
      if (s.status === 201)
        note(`${item}/shares/{share_id}`, 'delete', await call('DELETE', `${base}/${id}/shares/${s.json.id}`, { token }));
      note(`${item}/shares/{share_id}`, 'delete', await call('DELETE', `${base}/${id}/shares/999999`, { token }));
      note(`${item}/shares`, 'post', await call('POST', `${base}/${id}/shares`, { token, body: { access: 'nope' } }));
    }
    if (created) {
      const id = created.id;
      note(`${item}/history`, 'get', await call('GET', `${base}/${id}/history`, { token }));
      if (has(item, 'delete')) {
        const r = note(item, 'delete', await call('DELETE', `${base}/${id}`, { token, headers: { 'If-Match': '*' } }));
        if (r.status !== 204) problems.push(`delete own new ${o} as ${role}: ${r.status} ${r.text.slice(0, 200)}`);
        note(item, 'get', await call('GET', `${base}/${id}`, { token }));
        note(item, 'get', await call('GET', `${base}/${id}?deleted=true`, { token }));
        note(item, 'delete', await call('DELETE', `${base}/${id}`, { token }));
        const back = note(`${item}/restore`, 'post', await call('POST', `${base}/${id}/restore`, { token }));
        if (back.status !== 200) problems.push(`restore ${o} as ${role}: ${back.status} ${back.text.slice(0, 200)}`);
        note(`${item}/restore`, 'post', await call('POST', `${base}/${id}/restore`, { token }));
      }
    }
    if (has(`${base}/import`, 'post')) {
      const input = resolve(doc, doc.paths[base].post.requestBody.content['application/json'].schema);
      const required = input.required || [];
      const cols = required.filter((f) => [].concat(input.properties[f].type).includes('string') && !input.properties[f].enum && !input.properties[f].format);
      if (cols.length === required.length && cols.length) {
        const csv = `${cols.join(',')}\n${cols.map((c) => `Imported ${c}`).join(',')}\n`;
        note(`${base}/import`, 'post', await call('POST', `${base}/import`, { token, body: csv, contentType: 'text/csv' }));
      }
      note(`${base}/import`, 'post', await call('POST', `${base}/import`, { token, body: 'nosuch_field\nx\n', contentType: 'text/csv' }));
      note(`${base}/import`, 'post', await call('POST', `${base}/import`, { token, body: { a: 1 } }));
    }
    // workflow: the transitions a record offers, fired; one the record's state does not allow
    const fire = `${item}/transitions/{name}`;
    if (has(fire, 'post')) {
      const names = doc.paths[fire].parameters.find((p) => p.name === 'name').schema.enum;
      let fired = false;
      for (const rec of list.concat(created ? [created] : [])) {
        const g = await call('GET', `${base}/${rec.id}`, { token });
        if (g.status !== 200) continue;
        note(item, 'get', g);
        if (!fired && g.json._transitions.length) {
          const name = g.json._transitions[0];
          note(fire, 'post', await call('POST', `${base}/${rec.id}/transitions/${name}`, { token, headers: { 'If-Match': `"${g.json.version}"` } }));
          fired = true;
        } else if (g.json._transitions.length < names.length) {
          const name = names.find((n) => !g.json._transitions.includes(n));
          note(fire, 'post', await call('POST', `${base}/${rec.id}/transitions/${name}`, { token }));
        }
      }
      note(fire, 'post', await call('POST', `${base}/999999999/transitions/${names[0]}`, { token }));
    }
    // plugin actions on this object
    for (const [template, pathItem] of Object.entries(doc.paths)) {
      if (!template.startsWith('/objects/{object}/{id}/actions/') || !list.length) continue;
      const action = template.split('/').pop();
      const r = await call('POST', `${base}/${list[list.length - 1].id}/actions/${action}`, { token });
      note(template, 'post', r);
      assert(pathItem.post, 'action path without post');
    }
    // every operation on one record, on a record that does not exist: a documented 404 (or 4xx)
    for (const [template, pathItem] of Object.entries(doc.paths)) {
      if (!template.startsWith(`${item}`)) continue;
      for (const method of Object.keys(pathItem)) {
        if (method === 'parameters') continue;
        const url = template.replace('{id}', '999999999').replace('{share_id}', '1')
          .replace('{name}', () => pathItem.parameters.find((p) => p.name === 'name').schema.enum[0]);
        const headers = method === 'patch' ? { 'If-Match': '*' } : {};
        note(template, method, await call(method.toUpperCase(), url, { token, headers, body: method === 'get' || method === 'delete' ? undefined : {} }));
      }
    }
    results[o] = problems.length - before;
  }

  // batch: one create that works, one that fails (nothing written)
  if (has('/batch', 'post')) {
    const creatable = objects.find((o) => has(`/objects/${o}`, 'post'));
    if (creatable) {
      const input = resolve(doc, doc.paths[`/objects/${creatable}`].post.requestBody.content['application/json'].schema);
      const values = {};
      for (const [name, s] of Object.entries(input.properties)) {
        const v = name === 'owner' ? null : sampleValue(name, s, ids);
        if (v !== null) values[name] = v;
      }
      const body = { operations: [{ op: 'create', object: creatable, values }] };
      const rv = requestValidator(role, '/batch', 'post');
      if (!rv(body)) problems.push(`our batch body does not match: ${ajv.errorsText(rv.errors)}`);
      const r = note('/batch', 'post', await call('POST', '/batch', { token, body }));
      if (r.status !== 200) problems.push(`batch as ${role}: ${r.status} ${r.text.slice(0, 200)}`);
    }
    note('/batch', 'post', await call('POST', '/batch', { token, body: { operations: [{ op: 'update', object: objects[0], id: 999999999, values: {} }] } }));
    note('/batch', 'post', await call('POST', '/batch', { token, body: { operations: [] } }));
  }
  return { problems, results };
}

// ---- the approval flow: a discount over 20% needs a sales manager ---------------------------------

async function approvals(admin, manager) {
  const problems = [];
  const note = (role, template, method, r) => { problems.push(...check(role, template, method, r)); return r; };
  const list = await call('GET', `/objects/opportunity?filter=${encodeURIComponent("stage = 'proposal'")}&limit=2`, { token: admin });
  assert(list.status === 200 && list.json.records.length >= 2, `two opportunities in proposal: ${list.text.slice(0, 200)}`);
  for (const opp of list.json.records) {
    const p = note('admin', '/objects/opportunity/{id}', 'patch', await call('PATCH', `/objects/opportunity/${opp.id}`,
      { token: admin, body: { discount: 25 }, headers: { 'If-Match': `"${opp.version}"` } }));
    assert(p.status === 200, `discount: ${p.status} ${p.text.slice(0, 200)}`);
    const f = note('admin', '/objects/opportunity/{id}/transitions/{name}', 'post',
      await call('POST', `/objects/opportunity/${opp.id}/transitions/negotiate`, { token: admin }));
    assert(f.status === 202 && f.json.status === 'pending_approval', `negotiate: ${f.status} ${f.text.slice(0, 200)}`);
    note('admin', '/objects/opportunity/{id}/transitions/{name}', 'post',
      await call('POST', `/objects/opportunity/${opp.id}/transitions/negotiate`, { token: admin }));
  }
  const pending = note('sales_manager', '/objects/approval', 'get', await call('GET',
    `/objects/approval?filter=${encodeURIComponent("status = 'pending' and object_name = 'opportunity'")}&sort=id`, { token: manager }));
  assert(pending.status === 200 && pending.json.records.length >= 2, `pending approvals: ${pending.text.slice(0, 200)}`);
  const [a, b] = pending.json.records;
  const yes = note('sales_manager', '/objects/approval/{id}/approve', 'post',
    await call('POST', `/objects/approval/${a.id}/approve`, { token: manager, body: { comment: 'fine' } }));
  assert(yes.status === 200 && yes.json.transitioned === true, `approve: ${yes.status} ${yes.text.slice(0, 200)}`);
  const no = note('sales_manager', '/objects/approval/{id}/reject', 'post',
    await call('POST', `/objects/approval/${b.id}/reject`, { token: manager }));
  assert(no.status === 200, `reject: ${no.status} ${no.text.slice(0, 200)}`);
  note('sales_manager', '/objects/approval/{id}/approve', 'post', await call('POST', `/objects/approval/${a.id}/approve`, { token: manager }));
  note('sales_manager', '/objects/approval/{id}/reject', 'post', await call('POST', `/objects/approval/${b.id}/reject`, { token: manager, body: { comment: 5 } }));
  note('admin', '/objects/approval/{id}/approve', 'post', await call('POST', '/objects/approval/999999999/approve', { token: admin }));
  return problems;
}

// ---- TypeScript ------------------------------------------------------------------------------

function tsIdent(role) { return role.replace(/[^a-zA-Z0-9]/g, '_'); }

function fixtureSource(role, list) {
  const lines = [`// Real responses captured from the server as ${role}, typed with the types generated from ${role}'s document.`,
    "import type { paths } from './schema';", ''];
  const seen = new Map();
  let n = 0;
  for (const f of list) {
    const key = `${f.template} ${f.method} ${f.status} ${f.media}`;
    const count = seen.get(key) || 0;
    if (count >= 3) continue;
    seen.set(key, count + 1);
    const status = /^\d+$/.test(f.status) ? f.status : JSON.stringify(f.status);
    const type = `paths[${JSON.stringify(f.template)}][${JSON.stringify(f.method)}]["responses"][${status}]["content"][${JSON.stringify(f.media)}]`;
    lines.push(`export const f${n++}: ${type} = ${JSON.stringify(f.body)};`);
  }
  return { source: lines.join('\n') + '\n', count: n };
}

async function generateTypes(doc, file) {
  const ast = await openapiTS(doc);
  fs.writeFileSync(file, astToString(ast));
}

function tsc(files) {
  const bin = path.join(HERE, 'node_modules', 'typescript', 'bin', 'tsc');
  const r = spawnSync(process.execPath, [bin, '--strict', '--noEmit', '--target', 'es2022', '--module', 'esnext',
    '--moduleResolution', 'bundler', '--skipLibCheck', ...files], { encoding: 'utf8' });
  const errors = (r.stdout.match(/error TS\d+/g) || []).length;
  return { status: r.status, errors, output: r.stdout + r.stderr };
}

// ---- main --------------------------------------------------------------------------------------

const sessions = {};
await test('login_demo_users', async () => {
  for (const role of ROLES.concat(['sales_manager'])) sessions[role] = (await login(role)).json;
  return `${ROLES.length + 1} users`;
});

await test('openapi_needs_session', async () => {
  for (const headers of [{}, { Authorization: 'Bearer not-a-token' }, { Cookie: 'crm_session=forged' }]) {
    const r = await call('GET', '/openapi.json', { headers });
    assert(r.status === 401, `without a session: ${r.status}`);
    assert(r.type === 'application/problem+json' && r.json.status === 401, `a problem+json 401: ${r.text.slice(0, 200)}`);
  }
});

await test('documents_per_caller', async () => {
  for (const role of ROLES.concat(['sales_manager'])) {
    const r = await call('GET', '/openapi.json', { token: sessions[role].token });
    assert(r.status === 200, `${role}: ${r.status}`);
    assert(/private/.test(r.headers.get('cache-control') || ''), `${role}: Cache-Control ${r.headers.get('cache-control')}`);
    docs[role] = r.json;
    ajv.addSchema(r.json, `${role}.json`);
    fs.writeFileSync(path.join(WORK, `openapi-${role}.json`), r.text);
  }
  const admin = docs.admin.components.schemas;
  const mkt = docs.marketing_user.components.schemas;
  assert(admin.Contact.properties.birthdate, 'the admin sees contact.birthdate');
  for (const name of ['Contact', 'ContactListItem', 'ContactCreate', 'ContactUpdate'])
    assert(!mkt[name] || !mkt[name].properties.birthdate, `marketing_user's ${name} lists birthdate`);
  assert(!JSON.stringify(docs.marketing_user).includes('"birthdate"'), "marketing_user's document names birthdate");
  assert(!docs.consumer1.paths['/objects/account'] && !docs.consumer1.components.schemas.Account, 'consumer1 sees accounts');
  assert(docs.sales_rep1.paths['/objects/opportunity/{id}'] && !docs.sales_rep1.paths['/objects/opportunity/{id}'].delete,
    'sales_rep1 may not delete opportunities, the document offers it');
  assert(!docs.sales_rep1.components.schemas.OpportunityUpdate.properties.discount &&
    docs.sales_rep1.components.schemas.Opportunity.properties.discount.readOnly, "sales_rep1's discount is read-only");
  assert(!docs.marketing_user.paths['/objects/account'].post, 'marketing_user may not create accounts');
  const op = docs.admin.paths['/session'].post;
  assert(Array.isArray(op.security) && op.security.length === 0, 'login is security: []');
  for (const [p, item] of Object.entries(docs.admin.paths))
    for (const [m, o] of Object.entries(item))
      if (m !== 'parameters') assert(Array.isArray(o.security), `${m} ${p} has no security`);
  return `${ROLES.length + 1} documents, ${Object.keys(docs.admin.paths).length} paths for admin`;
});

await test('documents_cached_per_role', async () => {
  const again = await login('sales_rep2');
  const a = await call('GET', '/openapi.json', { token: again.json.token });
  const b = await call('GET', '/openapi.json', { token: sessions.sales_rep1.token });
  assert(a.text === b.text && a.headers.get('etag') === b.headers.get('etag'), 'two sales reps get different documents');
  const started = process.hrtime.bigint();
  for (let i = 0; i < 20; i++) await call('GET', '/openapi.json', { token: sessions.admin.token });
  const ms = Number(process.hrtime.bigint() - started) / 1e6 / 20;
  assert(ms < 100, `${ms.toFixed(1)} ms per admin document`);
  return `${ms.toFixed(1)} ms per admin document (${(docs.admin ? JSON.stringify(docs.admin).length : 0)} bytes)`;
});

// 1. redocly lint
const redocly = path.join(HERE, 'node_modules', '@redocly', 'cli', 'bin', 'cli.js');
for (const role of ROLES) {
  await test(`redocly_lint_${role}`, async () => {
    const file = path.join(WORK, `openapi-${role}.json`);
    const r = spawnSync(process.execPath, [redocly, 'lint', file, '--config', path.join(HERE, 'redocly.yaml'),
      '--format', 'json', '--max-problems', '200'], { encoding: 'utf8', env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' } });
    const start = r.stdout.indexOf('{');
    assert(start >= 0, `no JSON from redocly (exit ${r.status}): ${(r.stdout + r.stderr).slice(-600)}`);
    const report = JSON.parse(r.stdout.slice(start));
    const errors = report.problems.filter((p) => p.severity === 'error');
    const warnings = report.problems.filter((p) => p.severity === 'warn');
    assert(errors.length === 0, `${errors.length} errors: ${errors.slice(0, 5).map((p) => `${p.ruleId}: ${p.message} at ${p.location && p.location[0] && p.location[0].pointer}`).join(' | ')}`);
    return `0 errors, ${warnings.length} warnings${warnings.length ? `: ${[...new Set(warnings.map((p) => p.ruleId))].join(', ')}` : ''}`;
  });
}

// 2. every route, every object, validated against the document
for (const role of ROLES) {
  let outcome;
  await test(`responses_${role}`, async () => {
    outcome = await exercise(role, sessions[role]);
    assert(outcome.problems.length === 0, `${outcome.problems.length} problems:\n  ${outcome.problems.slice(0, 12).join('\n  ')}`);
    return `${stats[role] || 0} responses valid over ${Object.keys(outcome.results).length} objects`;
  });
}

await test('responses_approvals', async () => {
  const problems = await approvals(sessions.admin.token, sessions.sales_manager.token);
  assert(problems.length === 0, problems.slice(0, 8).join('\n  '));
  return `${(stats.admin || 0) + (stats.sales_manager || 0)} responses valid so far for admin and sales_manager`;
});

await test('responses_session', async () => {
  const problems = [];
  // the same anonymous and session responses, against every caller's document
  const note = (template, method, r) => { for (const role of ROLES) problems.push(...check(role, template, method, r)); return r; };
  const fresh = note('/session', 'post', await call('POST', '/session', { body: { login: 'sales_rep3', password: PASSWORD } }));
  note('/session', 'post', await call('POST', '/session', { body: { login: 'sales_rep3', password: 'wrong' } }));
  note('/session', 'post', await call('POST', '/session', { body: { login: 'sales_rep3' } }));
  note('/session', 'post', await call('POST', '/session', { body: 'login=x', contentType: 'application/x-www-form-urlencoded' }));
  note('/session', 'get', await call('GET', '/session', { token: fresh.json.token }));
  note('/session', 'delete', await call('DELETE', '/session', { token: fresh.json.token }));
  note('/session', 'get', await call('GET', '/session', { token: fresh.json.token }));
  for (const role of ROLES) problems.push(...check(role, '/session', 'get', await call('GET', '/session', { token: sessions[role].token })));
  assert(problems.length === 0, problems.join('\n  '));
});

await test('no_session_is_401_everywhere', async () => {
  const problems = [];
  let n = 0;
  for (const [template, item] of Object.entries(docs.admin.paths)) {
    for (const method of Object.keys(item)) {
      if (method === 'parameters' || (template === '/session' && method === 'post')) continue;
      const url = template.replace('{object}', 'lead').replace(/\{[a-z_]+\}/g, (m) => (m === '{name}' ? 'x' : '1'));
      const r = await call(method.toUpperCase(), url, method === 'get' ? {} : { body: {} });
      // a public plugin route (security: []) answers nobody; every role's document lists it alike
      const open = Array.isArray(item[method].security) && item[method].security.length === 0;
      if (!open && r.status !== 401) problems.push(`${method.toUpperCase()} ${url}: ${r.status}`);
      for (const role of open ? ROLES : ['admin'])
        if (docs[role].paths[template] && docs[role].paths[template][method]) problems.push(...check(role, template, method, r));
      n++;
    }
  }
  assert(problems.length === 0, problems.slice(0, 10).join('\n  '));
  return `${n} operations`;
});

// every operation of every document was called at least once (with a session)
for (const role of ROLES) {
  await test(`every_operation_called_${role}`, async () => {
    const missing = [];
    let n = 0;
    for (const [template, item] of Object.entries(docs[role].paths))
      for (const method of Object.keys(item))
        if (method !== 'parameters') {
          n++;
          if (!called[role] || !called[role].has(`${method} ${template}`)) missing.push(`${method.toUpperCase()} ${template}`);
        }
    assert(missing.length === 0, `${missing.length} of ${n} not called: ${missing.join(', ')}`);
    return `${n} operations`;
  });
}

const total = Object.values(stats).reduce((a, b) => a + b, 0);
console.log(`# ${total} responses validated against the documents (${Object.entries(stats).map(([r, n]) => `${r} ${n}`).join(', ')})`);

// 3. TypeScript: generated types, typed fixtures, tsc --strict
const tsDir = path.join(WORK, 'ts');
const files = [];
let fixtureCount = 0;
await test('typescript_types_generated', async () => {
  for (const role of Object.keys(fixtures)) {
    const dir = path.join(tsDir, tsIdent(role));
    fs.mkdirSync(dir, { recursive: true });
    await generateTypes(docs[role], path.join(dir, 'schema.ts'));
    const { source, count } = fixtureSource(role, fixtures[role]);
    fs.writeFileSync(path.join(dir, 'fixtures.ts'), source);
    files.push(path.join(dir, 'fixtures.ts'));
    fixtureCount += count;
  }
  return `${Object.keys(fixtures).length} documents, ${fixtureCount} fixtures`;
});

await test('typescript_fixtures_compile', async () => {
  const r = tsc(files);
  assert(r.status === 0 && r.errors === 0, `${r.errors} errors (exit ${r.status}):\n${r.output.split('\n').slice(0, 12).join('\n')}`);
  return `tsc --strict --noEmit: 0 errors over ${fixtureCount} fixtures`;
});

await test('typescript_catches_missing_transitions', async () => {
  const src = fs.readFileSync(path.join(tsDir, 'admin', 'fixtures.ts'), 'utf8');
  assert(/"_transitions":\[/.test(src), 'no admin fixture carries _transitions');
  // the same fixtures against a document whose records lack _transitions must not compile
  const doc = JSON.parse(JSON.stringify(docs.admin));
  for (const s of Object.values(doc.components.schemas)) if (s.properties) delete s.properties._transitions;
  for (const item of Object.values(doc.paths)) {
    for (const op of Object.values(item)) {
      const schema = op && op.responses && op.responses['200'] && op.responses['200'].content &&
        op.responses['200'].content['application/json'] && op.responses['200'].content['application/json'].schema;
      if (schema && Array.isArray(schema.required)) schema.required = schema.required.filter((k) => k !== '_transitions');
    }
  }
  const dir = path.join(tsDir, 'admin_without_transitions');
  fs.mkdirSync(dir, { recursive: true });
  await generateTypes(doc, path.join(dir, 'schema.ts'));
  fs.writeFileSync(path.join(dir, 'fixtures.ts'), src);
  const r = tsc([path.join(dir, 'fixtures.ts')]);
  assert(r.status !== 0 && /_transitions/.test(r.output), `tsc accepted the fixtures without _transitions in the schema (exit ${r.status})`);
  return `${r.errors} tsc errors naming _transitions, as expected`;
});

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
