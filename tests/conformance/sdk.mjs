// The official Cloudflare TypeScript SDK (cloudflare@7.3.0, pinned by
// tests/package-lock.json) against cfemu, through Prism validating every
// request and response against docs/cloudflare-api/openapi-storage-subset.json.
// Started by tests/e2e/conformance.sh, which sets API_URL (Prism), EMU_URL
// (cfemu itself, for the test-only /__emu/ routes and the Worker script
// upload, which the schema does not cover), CF_TOKEN, CF_ACCOUNT and RESULT
// (a file for "PASSED FAILED").
// Each check is a named step of one or more SDK calls asserted with
// node:assert; list calls iterate with `for await` across several pages.
// Prints "sdk: N calls checked".
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import Cloudflare from 'cloudflare';

const { API_URL, EMU_URL, CF_TOKEN, CF_ACCOUNT, RESULT } = process.env;
for (const [k, v] of Object.entries({ API_URL, EMU_URL, CF_TOKEN, CF_ACCOUNT, RESULT })) {
  if (!v) {
    console.error(`sdk.mjs: ${k} is not set`);
    process.exit(2);
  }
}

// Every HTTP call the SDK makes goes through here: counted, and Prism's own
// answers (problem+json: 422 request violation, 500 response violation, 401,
// 404 no route) and sl-violations headers are shown next to the check.
let calls = 0;
let prismNotes = [];
async function countingFetch(url, init) {
  calls++;
  const res = await fetch(url, init);
  const sl = res.headers.get('sl-violations');
  const ct = res.headers.get('content-type') || '';
  if (sl || ct.includes('application/problem+json')) {
    let body = '';
    try { body = await res.clone().text(); } catch { /* ignore */ }
    prismNotes.push(`${init?.method ?? 'GET'} ${url} -> ${res.status}${sl ? ` sl-violations: ${sl}` : ''} ${body}`);
  }
  return res;
}

const cf = new Cloudflare({
  apiToken: CF_TOKEN,
  baseURL: API_URL,
  fetch: countingFetch,
  maxRetries: 0, // every failure shows; nothing is retried away
  timeout: 20_000,
});
const account_id = CF_ACCOUNT;
const sfx = String(process.pid);

let passed = 0;
let failed = 0;
async function check(name, fn) {
  prismNotes = [];
  try {
    await fn();
    passed++;
  } catch (e) {
    failed++;
    console.log(`FAIL sdk ${name}`);
    console.log(`  -> ${String(e?.stack ?? e).split('\n').slice(0, 6).join('\n     ')}`);
    if (e instanceof Cloudflare.APIError && e.error) console.log(`  -> body: ${JSON.stringify(e.error)}`);
  }
  for (const n of prismNotes) console.log(`  prism: ${n}`);
}

// The call must fail with this HTTP status (and, when given, this error code).
async function rejects(promise, status, code) {
  try {
    await promise;
  } catch (e) {
    if (!(e instanceof Cloudflare.APIError)) throw e;
    assert.equal(e.status, status, `HTTP status (errors: ${JSON.stringify(e.errors)})`);
    if (code !== undefined) {
      assert.ok(e.errors.some((x) => x.code === code), `want error code ${code}, got ${JSON.stringify(e.errors)}`);
    }
    return e;
  }
  assert.fail(`want HTTP ${status}${code !== undefined ? ` code ${code}` : ''}, the call succeeded`);
}
async function all(iterable) {
  const out = [];
  for await (const x of iterable) out.push(x);
  return out;
}
async function pages(listPromise) {
  const out = [];
  for await (const page of (await listPromise).iterPages()) out.push(page.getPaginatedItems());
  return out;
}
// Direct, uncounted calls to cfemu (setup and test-only routes).
async function emu(method, path, body, headers = {}) {
  const res = await fetch(EMU_URL + path, {
    method,
    headers: { Authorization: `Bearer ${CF_TOKEN}`, ...headers },
    body,
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`cfemu ${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}
const isEmpty = (r) => r === null || r === undefined || (typeof r === 'object' && Object.keys(r).length === 0);
const hex32 = /^[0-9a-f]{32}$/;

// ---- accounts and tokens ----------------------------------------------------
await check('accounts.list', async () => {
  const accounts = await all(cf.accounts.list());
  assert.ok(accounts.some((a) => a.id === account_id), JSON.stringify(accounts));
});
await check('accounts.get', async () => {
  const a = await cf.accounts.get({ account_id });
  assert.equal(a.id, account_id);
  assert.equal(typeof a.name, 'string');
});
await check('accounts.tokens.verify', async () => {
  const t = await cf.accounts.tokens.verify({ account_id });
  assert.equal(t.status, 'active');
  assert.equal(typeof t.id, 'string');
});
await check('user.tokens.verify', async () => {
  const t = await cf.user.tokens.verify();
  assert.equal(t.status, 'active');
  assert.equal(typeof t.id, 'string');
});
await check('a wrong token is refused with 403 code 10000', async () => {
  const bad = new Cloudflare({ apiToken: 'wrong-token', baseURL: API_URL, fetch: countingFetch, maxRetries: 0 });
  await rejects(bad.kv.namespaces.get('0'.repeat(32), { account_id }), 403, 10000);
});

// ---- R2 buckets ---------------------------------------------------------------
const b1 = `conf-sdk-${sfx}`;
const eu = { 'cf-r2-jurisdiction': 'eu' };
await check('r2.buckets.create (location hint, storage class)', async () => {
  const b = await cf.r2.buckets.create({ account_id, name: b1, locationHint: 'wnam', storageClass: 'InfrequentAccess' });
  assert.equal(b.name, b1);
  assert.equal(b.location?.toLowerCase(), 'wnam');
  assert.equal(b.storage_class, 'InfrequentAccess');
  assert.ok(!Number.isNaN(Date.parse(b.creation_date)), `creation_date ${b.creation_date}`);
});
await check('r2.buckets.create in the eu jurisdiction', async () => {
  const b = await cf.r2.buckets.create({ account_id, name: b1, ...eu });
  assert.equal(b.name, b1);
  assert.equal(b.jurisdiction, 'eu');
  assert.equal(b.storage_class, 'Standard');
});
await check('r2.buckets.create of an existing name: 409 code 10004', async () => {
  await rejects(cf.r2.buckets.create({ account_id, name: b1 }), 409, 10004);
});
await check('r2.buckets.list per jurisdiction', async () => {
  const def = await cf.r2.buckets.list({ account_id });
  const d = def.buckets.filter((b) => b.name === b1);
  assert.equal(d.length, 1);
  assert.notEqual(d[0].jurisdiction, 'eu');
  const inEu = await cf.r2.buckets.list({ account_id, ...eu });
  assert.deepEqual(inEu.buckets.filter((b) => b.name === b1).map((b) => b.jurisdiction), ['eu']);
});
await check('r2.buckets.get (default and eu)', async () => {
  const b = await cf.r2.buckets.get(b1, { account_id });
  assert.equal(b.name, b1);
  assert.equal(b.storage_class, 'InfrequentAccess');
  const e = await cf.r2.buckets.get(b1, { account_id, ...eu });
  assert.equal(e.jurisdiction, 'eu');
});
await check('r2.buckets.get of a missing bucket: 404 code 10006', async () => {
  await rejects(cf.r2.buckets.get(`conf-missing-${sfx}`, { account_id }), 404, 10006);
});
await check('r2.buckets.edit (storage class header)', async () => {
  const b = await cf.r2.buckets.edit(b1, { account_id, storage_class: 'Standard' });
  assert.equal(b.storage_class, 'Standard');
  assert.equal((await cf.r2.buckets.get(b1, { account_id })).storage_class, 'Standard');
});
await check('r2.buckets.list follows result_info.cursor over 3+ pages', async () => {
  const names = [0, 1, 2, 3, 4].map((i) => `conf-sdk-page-${i}-${sfx}`);
  for (const name of names) await cf.r2.buckets.create({ account_id, name });
  const seen = [];
  let cursor;
  let n = 0;
  do {
    // r2.buckets.list() unwraps `result` and drops result_info, so the
    // cursor is read through the SDK's generic GET (same client, same path).
    const env = await cf.get(`/accounts/${account_id}/r2/buckets`, { query: { per_page: 2, ...(cursor ? { cursor } : {}) } });
    assert.equal(env.success, true);
    assert.ok(env.result.buckets.length <= 2, `page of ${env.result.buckets.length}`);
    seen.push(...env.result.buckets.map((b) => b.name));
    cursor = env.result_info?.cursor;
    n++;
    assert.ok(n < 20, 'cursor never ends');
  } while (cursor);
  assert.ok(n >= 3, `${n} pages`);
  for (const name of [...names, b1]) assert.ok(seen.includes(name), `${name} missing from ${seen}`);
  assert.equal(new Set(seen).size, seen.length, `duplicates in ${seen}`);
  for (const name of names) await cf.r2.buckets.delete(name, { account_id });
});

// ---- R2 lifecycle ---------------------------------------------------------------
const rules = [
  {
    id: 'expire-tmp', enabled: true, conditions: { prefix: 'tmp/' },
    deleteObjectsTransition: { condition: { type: 'Age', maxAge: 7 * 86400 } },
  },
  {
    id: 'archive', enabled: false, conditions: { prefix: '' },
    abortMultipartUploadsTransition: { condition: { type: 'Age', maxAge: 2 * 86400 } },
    storageClassTransitions: [{ condition: { type: 'Age', maxAge: 30 * 86400 }, storageClass: 'InfrequentAccess' }],
  },
  {
    id: 'until-2030', enabled: true, conditions: { prefix: 'old/' },
    deleteObjectsTransition: { condition: { type: 'Date', date: '2030-01-01T00:00:00.000Z' } },
  },
];
await check('r2.buckets.lifecycle.get: the default multipart-abort rule', async () => {
  const lc = await cf.r2.buckets.lifecycle.get(b1, { account_id });
  const def = lc.rules.find((r) => r.id === 'Default Multipart Abort Rule');
  assert.ok(def, JSON.stringify(lc));
  assert.equal(def.enabled, true);
  assert.equal(def.abortMultipartUploadsTransition?.condition?.maxAge, 604800);
});
await check('r2.buckets.lifecycle.update replaces the whole set', async () => {
  const r = await cf.r2.buckets.lifecycle.update(b1, { account_id, rules });
  assert.ok(isEmpty(r), JSON.stringify(r));
  const lc = await cf.r2.buckets.lifecycle.get(b1, { account_id });
  assert.deepEqual(lc.rules.map((x) => x.id), rules.map((x) => x.id));
  for (const [i, want] of rules.entries()) {
    const got = lc.rules[i];
    assert.equal(got.enabled, want.enabled);
    assert.deepEqual(got.conditions, want.conditions);
    assert.deepEqual(got.abortMultipartUploadsTransition, want.abortMultipartUploadsTransition);
    assert.deepEqual(got.storageClassTransitions, want.storageClassTransitions);
    const gc = got.deleteObjectsTransition?.condition;
    const wc = want.deleteObjectsTransition?.condition;
    if (wc?.type === 'Date') assert.equal(Date.parse(gc?.date), Date.parse(wc.date));
    else assert.deepEqual(gc, wc);
  }
});
await check('r2.buckets.lifecycle update/get in the eu jurisdiction', async () => {
  await cf.r2.buckets.lifecycle.update(b1, { account_id, ...eu, rules: [rules[0]] });
  const lc = await cf.r2.buckets.lifecycle.get(b1, { account_id, ...eu });
  assert.deepEqual(lc.rules.map((x) => x.id), ['expire-tmp']);
  const def = await cf.r2.buckets.lifecycle.get(b1, { account_id });
  assert.equal(def.rules.length, 3, 'the default-jurisdiction bucket is untouched');
});
await check('r2.buckets.lifecycle.update with no rules', async () => {
  await cf.r2.buckets.lifecycle.update(b1, { account_id, rules: [] });
  const lc = await cf.r2.buckets.lifecycle.get(b1, { account_id });
  assert.deepEqual(lc.rules ?? [], []);
});

// ---- R2 CORS ------------------------------------------------------------------------
const cors = [{
  id: 'web',
  allowed: { origins: ['https://app.example.com', 'http://localhost:8080'], methods: ['GET', 'HEAD', 'PUT'], headers: ['content-type'] },
  exposeHeaders: ['ETag'],
  maxAgeSeconds: 600,
}];
await check('r2.buckets.cors.get without a policy: 404 code 10059', async () => {
  await rejects(cf.r2.buckets.cors.get(b1, { account_id }), 404, 10059);
});
await check('r2.buckets.cors.update then get', async () => {
  const r = await cf.r2.buckets.cors.update(b1, { account_id, rules: cors });
  assert.ok(isEmpty(r), JSON.stringify(r));
  const got = await cf.r2.buckets.cors.get(b1, { account_id });
  assert.deepEqual(got.rules, cors);
});
await check('r2.buckets.cors in the eu jurisdiction', async () => {
  await rejects(cf.r2.buckets.cors.get(b1, { account_id, ...eu }), 404, 10059);
  await cf.r2.buckets.cors.update(b1, { account_id, ...eu, rules: cors });
  assert.deepEqual((await cf.r2.buckets.cors.get(b1, { account_id, ...eu })).rules, cors);
  await cf.r2.buckets.cors.delete(b1, { account_id, ...eu });
});
await check('r2.buckets.cors.delete', async () => {
  const r = await cf.r2.buckets.cors.delete(b1, { account_id });
  assert.ok(isEmpty(r), JSON.stringify(r));
  await rejects(cf.r2.buckets.cors.get(b1, { account_id }), 404, 10059);
});

// ---- R2 delete ----------------------------------------------------------------------
await check('r2.buckets.delete of a non-empty bucket: 409 code 10008', async () => {
  await emu('POST', `/__emu/r2/${b1}/objects`, JSON.stringify([{ key: 'tmp/a', size: 3 }]), { 'Content-Type': 'application/json' });
  await rejects(cf.r2.buckets.delete(b1, { account_id }), 409, 10008);
  await emu('DELETE', `/__emu/r2/${b1}/objects`);
});
await check('r2.buckets.delete (default and eu)', async () => {
  assert.ok(isEmpty(await cf.r2.buckets.delete(b1, { account_id })));
  await rejects(cf.r2.buckets.get(b1, { account_id }), 404, 10006);
  assert.equal((await cf.r2.buckets.get(b1, { account_id, ...eu })).jurisdiction, 'eu');
  assert.ok(isEmpty(await cf.r2.buckets.delete(b1, { account_id, ...eu })));
  await rejects(cf.r2.buckets.get(b1, { account_id, ...eu }), 404, 10006);
});

// ---- KV namespaces ------------------------------------------------------------------
const title = `conf-sdk-kv-${sfx}`;
let ns;
const pageNs = [];
await check('kv.namespaces.create', async () => {
  ns = await cf.kv.namespaces.create({ account_id, title });
  assert.match(ns.id, hex32);
  assert.equal(ns.title, title);
});
await check('kv.namespaces.create with a taken title: 400 code 10014', async () => {
  await rejects(cf.kv.namespaces.create({ account_id, title }), 400, 10014);
});
await check('kv.namespaces.list: for await over 3+ pages of 10', async () => {
  for (let i = 0; i < 25; i++) {
    pageNs.push((await cf.kv.namespaces.create({ account_id, title: `conf-sdk-page-${String(i).padStart(2, '0')}-${sfx}` })).id);
  }
  const listed = await all(cf.kv.namespaces.list({ account_id, per_page: 10 }));
  const ids = listed.map((n) => n.id);
  assert.equal(new Set(ids).size, ids.length, 'no namespace twice');
  for (const id of [ns.id, ...pageNs]) assert.ok(ids.includes(id), `${id} not listed`);
  const ps = await pages(cf.kv.namespaces.list({ account_id, per_page: 10 }));
  assert.ok(ps.length >= 3, `${ps.length} pages`);
  // Full pages, one short page, and the empty page the SDK stops on.
  const sizes = ps.map((p) => p.length);
  assert.deepEqual(sizes, [10, 10, 6, 0], `page sizes ${sizes}`);
});
await check('kv.namespaces.list order=title direction=desc', async () => {
  const listed = await all(cf.kv.namespaces.list({ account_id, per_page: 10, order: 'title', direction: 'desc' }));
  const titles = listed.map((n) => n.title);
  assert.deepEqual(titles, [...titles].sort().reverse());
});
await check('kv.namespaces.update (rename) returns the namespace', async () => {
  const r = await cf.kv.namespaces.update(ns.id, { account_id, title: `${title}-renamed` });
  assert.equal(r?.id, ns.id, `result ${JSON.stringify(r)}`);
  assert.equal(r?.title, `${title}-renamed`);
});
await check('kv.namespaces.get', async () => {
  const g = await cf.kv.namespaces.get(ns.id, { account_id });
  assert.equal(g.id, ns.id);
  assert.equal(g.title, `${title}-renamed`);
});

// ---- KV values, metadata, keys ------------------------------------------------------
const nsid = () => ns.id;
await check('kv.namespaces.values.update (multipart, metadata, ttl) and get', async () => {
  const r = await cf.kv.namespaces.values.update('greeting', {
    account_id, namespace_id: nsid(), value: 'hello world',
    metadata: JSON.stringify({ owner: 'sdk', n: 1 }), expiration_ttl: 3600,
  });
  assert.ok(isEmpty(r), JSON.stringify(r));
  const res = await cf.kv.namespaces.values.get('greeting', { account_id, namespace_id: nsid() });
  assert.equal(await res.text(), 'hello world');
});
await check('kv.namespaces.metadata.get', async () => {
  const m = await cf.kv.namespaces.metadata.get('greeting', { account_id, namespace_id: nsid() });
  assert.deepEqual(m, { owner: 'sdk', n: 1 });
});
await check('kv values with an encoded key name and absolute expiration', async () => {
  const key = 'dir/a key?x=1&y=%';
  const exp = Math.floor(Date.now() / 1000) + 7200;
  await cf.kv.namespaces.values.update(key, { account_id, namespace_id: nsid(), value: 'v2', expiration: exp });
  assert.equal(await (await cf.kv.namespaces.values.get(key, { account_id, namespace_id: nsid() })).text(), 'v2');
  const keys = await all(cf.kv.namespaces.keys.list(nsid(), { account_id, prefix: 'dir/' }));
  assert.deepEqual(keys.map((k) => [k.name, k.expiration]), [[key, exp]]);
});
await check('kv values: expiration_ttl below 60 is refused with 400', async () => {
  await rejects(cf.kv.namespaces.values.update('short', { account_id, namespace_id: nsid(), value: 'x', expiration_ttl: 30 }), 400);
});
await check('kv.namespaces.bulkUpdate of 25 keys', async () => {
  const body = Array.from({ length: 25 }, (_, i) => ({
    key: `k${String(i).padStart(2, '0')}`,
    value: i === 0 ? Buffer.from('binary-ish').toString('base64') : `value-${i}`,
    ...(i === 0 ? { base64: true } : {}),
    ...(i % 5 === 1 ? { metadata: { i } } : {}),
    ...(i === 2 ? { expiration_ttl: 600 } : {}),
  }));
  const r = await cf.kv.namespaces.bulkUpdate(nsid(), { account_id, body });
  if (!isEmpty(r)) {
    assert.equal(r.successful_key_count, 25);
    assert.deepEqual(r.unsuccessful_keys ?? [], []);
  }
  assert.equal(await (await cf.kv.namespaces.values.get('k00', { account_id, namespace_id: nsid() })).text(), 'binary-ish');
});
await check('kv.namespaces.keys.list: for await over 3+ pages of 10', async () => {
  const keys = await all(cf.kv.namespaces.keys.list(nsid(), { account_id, limit: 10 }));
  const names = keys.map((k) => k.name);
  assert.deepEqual(names, [...names].sort(), 'keys come back sorted');
  assert.equal(names.length, 27, names.join(','));
  assert.deepEqual(keys.find((k) => k.name === 'k06').metadata, { i: 6 });
  assert.deepEqual(keys.find((k) => k.name === 'greeting').metadata, { owner: 'sdk', n: 1 });
  const k02 = keys.find((k) => k.name === 'k02');
  assert.ok(Math.abs(k02.expiration - (Date.now() / 1000 + 600)) < 300, `k02 expiration ${k02.expiration}`);
  const ps = await pages(cf.kv.namespaces.keys.list(nsid(), { account_id, limit: 10 }));
  assert.ok(ps.length >= 3, `${ps.length} pages`);
  assert.deepEqual(ps.map((p) => p.length), [10, 10, 7]);
});
await check('kv.namespaces.keys.list with prefix', async () => {
  const keys = await all(cf.kv.namespaces.keys.list(nsid(), { account_id, limit: 10, prefix: 'k1' }));
  assert.deepEqual(keys.map((k) => k.name), Array.from({ length: 10 }, (_, i) => `k1${i}`));
});
await check('kv.namespaces.bulkDelete', async () => {
  const body = Array.from({ length: 20 }, (_, i) => `k${String(i).padStart(2, '0')}`);
  const r = await cf.kv.namespaces.bulkDelete(nsid(), { account_id, body });
  if (!isEmpty(r)) assert.equal(r.successful_key_count, 20);
  const left = (await all(cf.kv.namespaces.keys.list(nsid(), { account_id, limit: 10, prefix: 'k' }))).map((k) => k.name);
  assert.deepEqual(left, ['k20', 'k21', 'k22', 'k23', 'k24']);
});
await check('kv.namespaces.keys.bulkDelete', async () => {
  await cf.kv.namespaces.keys.bulkDelete(nsid(), { account_id, body: ['k20', 'k21'] });
  const left = (await all(cf.kv.namespaces.keys.list(nsid(), { account_id, prefix: 'k' }))).map((k) => k.name);
  assert.deepEqual(left, ['k22', 'k23', 'k24']);
});
await check('kv.namespaces.values.delete, then get: 404 code 10009', async () => {
  assert.ok(isEmpty(await cf.kv.namespaces.values.delete('greeting', { account_id, namespace_id: nsid() })));
  await rejects(cf.kv.namespaces.values.get('greeting', { account_id, namespace_id: nsid() }), 404, 10009);
});
await check('kv.namespaces.delete (26 namespaces)', async () => {
  for (const id of [ns.id, ...pageNs]) assert.ok(isEmpty(await cf.kv.namespaces.delete(id, { account_id })));
  const left = await all(cf.kv.namespaces.list({ account_id, per_page: 10 }));
  assert.ok(!left.some((n) => n.id === ns.id || pageNs.includes(n.id)), JSON.stringify(left));
  await rejects(cf.kv.namespaces.get(ns.id, { account_id }), 404);
});

// ---- Secrets Store --------------------------------------------------------------
let store;
let secrets = [];
await check('secretsStore.stores.create and list', async () => {
  store = await cf.secretsStore.stores.create({ account_id, name: `conf-sdk-store-${sfx}` });
  assert.match(store.id, hex32);
  assert.equal(store.name, `conf-sdk-store-${sfx}`);
  const listed = await all(cf.secretsStore.stores.list({ account_id }));
  assert.deepEqual(listed.filter((s) => s.id === store.id).map((s) => s.name), [store.name]);
});
await check('secretsStore.stores.secrets.create (array body)', async () => {
  const body = [
    { name: 'API_KEY', value: 'v1-secret', scopes: ['workers'], comment: 'first' },
    { name: 'DB_PASSWORD', value: 'v2-secret', scopes: ['workers', 'ai_gateway'] },
    { name: 'THIRD', value: 'v3-secret', scopes: ['workers'] },
  ];
  secrets = await all(cf.secretsStore.stores.secrets.create(store.id, { account_id, body }));
  assert.deepEqual(secrets.map((s) => s.name), ['API_KEY', 'DB_PASSWORD', 'THIRD']);
  for (const s of secrets) {
    assert.match(s.id, hex32);
    assert.equal(s.store_id, store.id);
    assert.ok(!('value' in s), 'the value is never returned');
  }
  assert.equal(secrets[0].comment, 'first');
  assert.deepEqual(secrets[1].scopes, ['workers', 'ai_gateway']);
});
await check('secretsStore.stores.secrets.list: for await over pages of 1', async () => {
  const listed = await all(cf.secretsStore.stores.secrets.list(store.id, { account_id, per_page: 1 }));
  assert.deepEqual(listed.map((s) => s.name).sort(), ['API_KEY', 'DB_PASSWORD', 'THIRD']);
  assert.ok(listed.every((s) => !('value' in s) && ['pending', 'active'].includes(s.status)));
  const ps = await pages(cf.secretsStore.stores.secrets.list(store.id, { account_id, per_page: 1 }));
  assert.ok(ps.length >= 3, `${ps.length} pages`);
});
await check('secretsStore.stores.secrets.get', async () => {
  const s = await cf.secretsStore.stores.secrets.get(secrets[0].id, { account_id, store_id: store.id });
  assert.equal(s.id, secrets[0].id);
  assert.equal(s.name, 'API_KEY');
  assert.ok(!('value' in s));
});
await check('secretsStore.stores.secrets.edit (value, comment)', async () => {
  const s = await cf.secretsStore.stores.secrets.edit(secrets[0].id, {
    account_id, store_id: store.id, value: 'v1-rotated', comment: 'rotated',
  });
  assert.equal(s.comment, 'rotated');
  assert.ok(!('value' in s));
  const vals = await emu('GET', '/__emu/secret-values');
  assert.equal(vals.secretsStore?.[store.id]?.API_KEY, 'v1-rotated', JSON.stringify(vals));
});
await check('secretsStore.stores.secrets.delete, then get: 404', async () => {
  const r = await cf.secretsStore.stores.secrets.delete(secrets[0].id, { account_id, store_id: store.id });
  assert.ok(isEmpty(r), JSON.stringify(r));
  await rejects(cf.secretsStore.stores.secrets.get(secrets[0].id, { account_id, store_id: store.id }), 404);
  const listed = await all(cf.secretsStore.stores.secrets.list(store.id, { account_id }));
  assert.deepEqual(listed.map((s) => s.name).sort(), ['DB_PASSWORD', 'THIRD']);
});

// ---- Worker script secrets ----------------------------------------------------------
const script = `conf-sdk-worker-${sfx}`;
await check('workers.scripts.secrets on a missing script: 404 code 10007', async () => {
  await rejects(cf.workers.scripts.secrets.update(`no-such-${sfx}`, { account_id, name: 'X', text: 'y', type: 'secret_text' }), 404, 10007);
});
await check('workers.scripts.secrets.update and list', async () => {
  const form = new FormData();
  form.append('metadata', new Blob([JSON.stringify({ main_module: 'index.js', compatibility_date: '2025-01-01' })], { type: 'application/json' }));
  form.append('index.js', new Blob(['export default { fetch() { return new Response("ok"); } };'], { type: 'application/javascript+module' }), 'index.js');
  await emu('PUT', `/accounts/${account_id}/workers/scripts/${script}`, form);
  const s = await cf.workers.scripts.secrets.update(script, { account_id, name: 'API_KEY', text: 'w-secret-1', type: 'secret_text' });
  assert.equal(s.name, 'API_KEY');
  assert.equal(s.type, 'secret_text');
  assert.ok(!('text' in s), 'the value is never returned');
  await cf.workers.scripts.secrets.update(script, { account_id, name: 'OTHER', text: 'w-secret-2', type: 'secret_text' });
  const listed = await all(cf.workers.scripts.secrets.list(script, { account_id }));
  assert.deepEqual(listed.map((x) => [x.name, x.type]).sort(), [['API_KEY', 'secret_text'], ['OTHER', 'secret_text']]);
  assert.ok(listed.every((x) => !('text' in x)));
  const vals = await emu('GET', '/__emu/secret-values');
  assert.equal(vals.workers?.[script]?.API_KEY, 'w-secret-1');
});
await check('workers.scripts.secrets.get', async () => {
  const s = await cf.workers.scripts.secrets.get('API_KEY', { account_id, script_name: script });
  assert.equal(s.name, 'API_KEY');
  assert.equal(s.type, 'secret_text');
  assert.ok(!('text' in s));
});
await check('workers.scripts.secrets.update replaces a value', async () => {
  await cf.workers.scripts.secrets.update(script, { account_id, name: 'API_KEY', text: 'w-secret-3', type: 'secret_text' });
  const vals = await emu('GET', '/__emu/secret-values');
  assert.equal(vals.workers?.[script]?.API_KEY, 'w-secret-3');
});
await check('workers.scripts.secrets.delete, then get: 404', async () => {
  const r = await cf.workers.scripts.secrets.delete('API_KEY', { account_id, script_name: script, url_encoded: true });
  assert.ok(isEmpty(r), JSON.stringify(r));
  await rejects(cf.workers.scripts.secrets.get('API_KEY', { account_id, script_name: script }), 404);
  const listed = await all(cf.workers.scripts.secrets.list(script, { account_id }));
  assert.deepEqual(listed.map((x) => x.name), ['OTHER']);
});

console.log(`sdk: ${calls} calls checked (${passed + failed} checks, ${failed} failed)`);
writeFileSync(RESULT, `${passed} ${failed}\n`);
process.exit(failed === 0 ? 0 : 1);
