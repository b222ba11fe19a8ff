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
import { pad, runJobs, sdkClient } from './sdk_lib.mjs';

const N = Number(process.env.N ?? 10000);
const TITLE = process.env.TITLE ?? 'sdk-big';
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 4);
const { cf, account_id, stats } = sdkClient('sdk_kv_put.mjs');

const ns = await cf.kv.namespaces.create({ account_id, title: TITLE });
const namespace_id = ns.id;

// cloudflare 7.3.0: update(keyName, {account_id, namespace_id, value,
// metadata}). metadata goes as a JSON string: given an object, the SDK
// flattens it into `metadata[n]` form parts, which the API does not read as
// metadata (the key is stored without it).
const jobs = Array.from({ length: N }, (_, i) => () => cf.kv.namespaces.values.update(`k/${pad(i)}`,
  { account_id, namespace_id, value: `value ${i}`, metadata: JSON.stringify({ n: i }) }));
await runJobs(jobs, CONCURRENCY, stats);
console.log(`sdk: ${stats.calls} calls, ${stats.failed} failed, namespace ${namespace_id}`);
