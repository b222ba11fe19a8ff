// bench/sdk_kv_put.mjs: the work of bench/kv_entries' first cfstorage apply
// done by a plain script on the official Cloudflare SDK (cloudflare@7.3.0
// from tests/node_modules): kv.namespaces.create, then one
// kv.namespaces.values.update per key (a multipart PUT of the value and its
// metadata), N keys "k/00000".. with value "value I" and metadata {n: I} —
// what bench/kv_entries declares. Keys run CONCURRENCY at a time (default 4,
// cfstorage's default --parallelism). SDK defaults otherwise (its own
// retries, keep-alive).
// Env: API_URL (…/client/v4, loopback only), CF_TOKEN, CF_ACCOUNT, N, TITLE,
// CONCURRENCY. Prints "sdk: N calls, M failed".
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '..', 'tests', 'package.json'));
const Cloudflare = require('cloudflare').default ?? require('cloudflare');

const { API_URL, CF_TOKEN, CF_ACCOUNT } = process.env;
const N = Number(process.env.N ?? 10000);
const TITLE = process.env.TITLE ?? 'sdk-big';
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 4);
if (!API_URL || !CF_TOKEN || !CF_ACCOUNT || !/^http:\/\/127\.0\.0\.1:\d+\//.test(API_URL)) {
  console.error('sdk_kv_put.mjs: API_URL (http://127.0.0.1:PORT/...), CF_TOKEN and CF_ACCOUNT are required');
  process.exit(2);
}

let calls = 0;
let failed = 0;
const cf = new Cloudflare({
  apiToken: CF_TOKEN,
  baseURL: API_URL,
  // Counts HTTP calls only: the SDK also fetches a `data:,` URL once (its
  // multipart support check), which is not a request.
  fetch: (url, init) => { if (String(url).startsWith('http')) calls++; return fetch(url, init); },
});
const account_id = CF_ACCOUNT;
const pad = (i) => String(i).padStart(5, '0');

const ns = await cf.kv.namespaces.create({ account_id, title: TITLE });
const namespace_id = ns.id;

let next = 0;
async function worker() {
  while (next < N) {
    const i = next++;
    try {
      // cloudflare 7.3.0: update(keyName, {account_id, namespace_id, value,
      // metadata}). metadata goes as a JSON string: given an object, the SDK
      // flattens it into `metadata[n]` form parts, which the API does not
      // read as metadata (the key is stored without it).
      await cf.kv.namespaces.values.update(`k/${pad(i)}`,
        { account_id, namespace_id, value: `value ${i}`, metadata: JSON.stringify({ n: i }) });
    } catch (e) {
      if (failed++ < 5) console.error(`sdk: k/${pad(i)}: ${e?.status ?? ''} ${String(e?.message ?? e).slice(0, 200)}`);
    }
  }
}
await Promise.all(Array.from({ length: CONCURRENCY }, worker));
console.log(`sdk: ${calls} calls, ${failed} failed, namespace ${namespace_id}`);
process.exit(failed ? 1 : 0);
