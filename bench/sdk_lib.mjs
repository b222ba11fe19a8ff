// bench/sdk_lib.mjs: what the SDK bench scripts share — the official
// Cloudflare SDK (cloudflare@7.3.0 from tests/node_modules) pointed at a
// loopback cfemu and counting its HTTP calls, and a pool running jobs
// CONCURRENCY at a time that counts failures (the first 5 are printed).
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '..', 'tests', 'package.json'));
const Cloudflare = require('cloudflare').default ?? require('cloudflare');

export const pad = (i) => String(i).padStart(5, '0');

// sdkClient(script, extra): checks API_URL (loopback only), CF_TOKEN,
// CF_ACCOUNT and the extra variables named, and returns { cf, account_id,
// stats } where stats.calls counts HTTP calls (not the `data:,` URL the SDK
// fetches once to check multipart support) and stats.failed the failures.
export function sdkClient(script, extra = []) {
  const { API_URL, CF_TOKEN, CF_ACCOUNT } = process.env;
  if (!API_URL || !CF_TOKEN || !CF_ACCOUNT || extra.some((v) => !process.env[v]) ||
      !/^http:\/\/127\.0\.0\.1:\d+\//.test(API_URL)) {
    console.error(`${script}: API_URL (http://127.0.0.1:PORT/...), CF_TOKEN, CF_ACCOUNT` +
                  `${extra.map((v) => `, ${v}`).join('')} are required`);
    process.exit(2);
  }
  const stats = { calls: 0, failed: 0 };
  const cf = new Cloudflare({
    apiToken: CF_TOKEN,
    baseURL: API_URL,
    fetch: (url, init) => { if (String(url).startsWith('http')) stats.calls++; return fetch(url, init); },
  });
  return { cf, account_id: CF_ACCOUNT, stats };
}

// runJobs(jobs, concurrency, stats): every job (an async function), at most
// `concurrency` at once; a job that throws counts as failed.
export async function runJobs(jobs, concurrency, stats) {
  let next = 0;
  async function worker() {
    while (next < jobs.length) {
      const job = jobs[next++];
      try {
        await job();
      } catch (e) {
        if (stats.failed++ < 5) console.error(`sdk: ${e?.status ?? ''} ${String(e?.message ?? e).slice(0, 200)}`);
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker));
}
