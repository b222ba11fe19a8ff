// bench/sdk_create.mjs: the work of bench/reconcile's first apply done by a
// plain script on the official Cloudflare SDK (cloudflare@7.3.0 from
// tests/node_modules): one call per create — r2.buckets.create, then for
// every even bucket r2.buckets.lifecycle.update and r2.buckets.cors.update,
// and kv.namespaces.create — with the same names, rules and policies the
// manifests declare (bench/gen_manifests.py). Resources run CONCURRENCY at a
// time (default 4, cfstorage's default --parallelism); the calls of one
// bucket run in order. SDK defaults otherwise (its own retries, keep-alive).
// Env: API_URL (…/client/v4, loopback only), CF_TOKEN, CF_ACCOUNT, NB, NK,
// PREFIX, CONCURRENCY. Prints "sdk: N calls, M failed".
import { pad, runJobs, sdkClient } from './sdk_lib.mjs';

const NB = Number(process.env.NB ?? 1000);
const NK = Number(process.env.NK ?? 1000);
const PREFIX = process.env.PREFIX ?? 'cfbench';
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 4);
const { cf, account_id, stats } = sdkClient('sdk_create.mjs');

// What cfstorage writes for `lifecycle: {deleteAfterDays: 30}` (the
// server's default multipart-abort rule kept) and for the one CORS rule.
const lifecycle = [
  { id: 'cfstorage-delete-after-days', enabled: true, conditions: { prefix: '' },
    deleteObjectsTransition: { condition: { type: 'Age', maxAge: 30 * 86400 } } },
  { id: 'Default Multipart Abort Rule', enabled: true, conditions: { prefix: '' },
    abortMultipartUploadsTransition: { condition: { type: 'Age', maxAge: 7 * 86400 } } },
];
const cors = [{ allowed: { origins: ['https://app.example.com'], methods: ['GET', 'HEAD'] }, maxAgeSeconds: 600 }];

const jobs = [];
for (let i = 0; i < NB; i++) {
  jobs.push(async () => {
    const name = `${PREFIX}-b-${pad(i)}`;
    await cf.r2.buckets.create({ account_id, name });
    if (i % 2 === 0) {
      await cf.r2.buckets.lifecycle.update(name, { account_id, rules: lifecycle });
      await cf.r2.buckets.cors.update(name, { account_id, rules: cors });
    }
  });
}
for (let i = 0; i < NK; i++) {
  jobs.push(() => cf.kv.namespaces.create({ account_id, title: `${PREFIX}-kv-${pad(i)}` }));
}

await runJobs(jobs, CONCURRENCY, stats);
console.log(`sdk: ${stats.calls} calls, ${stats.failed} failed`);
process.exit(stats.failed ? 1 : 0);
