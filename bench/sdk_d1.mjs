// bench/sdk_d1.mjs: the D1 work of bench/reconcile done by a plain script on
// the official Cloudflare SDK (cloudflare@7.3.0 from tests/node_modules), the
// way `wrangler d1 migrations apply` does it: per database d1.database.create,
// then a query creating the d1_migrations table, a SELECT of its rows, and
// per migration one query holding the file and the INSERT of its row.
// MODE=check does only the SELECT per database (listing them first): the
// SDK's no-op. Databases run CONCURRENCY at a time (default 4).
// Env: API_URL (…/client/v4, loopback only), CF_TOKEN, CF_ACCOUNT, ND,
// PREFIX, MIGRATIONS (a folder of NNNN_name.sql), CONCURRENCY, MODE.
// Prints "sdk: N calls, M failed".
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { pad, runJobs, sdkClient } from './sdk_lib.mjs';

const { MIGRATIONS } = process.env;
const ND = Number(process.env.ND ?? 50);
const PREFIX = process.env.PREFIX ?? 'cfbench';
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 4);
const MODE = process.env.MODE ?? 'create';
const { cf, account_id, stats } = sdkClient('sdk_d1.mjs', ['MIGRATIONS']);
const files = readdirSync(MIGRATIONS).filter((f) => f.endsWith('.sql')).sort();
const table = `CREATE TABLE IF NOT EXISTS d1_migrations(
  id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT UNIQUE,
  applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL)`;

async function migrate(uuid) {
  if (MODE !== 'check') await cf.d1.database.query(uuid, { account_id, sql: table });
  const page = await cf.d1.database.query(uuid, { account_id, sql: 'SELECT name FROM d1_migrations ORDER BY id' });
  const applied = new Set((page.result?.[0]?.results ?? []).map((r) => r.name));
  if (MODE === 'check') return;
  for (const f of files) {
    if (applied.has(f)) continue;
    const sql = readFileSync(path.join(MIGRATIONS, f), 'utf8') + `\nINSERT INTO d1_migrations (name) VALUES ('${f}');`;
    await cf.d1.database.query(uuid, { account_id, sql });
  }
}

const jobs = [];
if (MODE === 'check') {
  const uuids = [];
  for await (const db of cf.d1.database.list({ account_id, per_page: 100 })) {
    if (db.name.startsWith(`${PREFIX}-d1-`)) uuids.push(db.uuid);
  }
  for (const u of uuids) jobs.push(() => migrate(u));
} else {
  for (let i = 0; i < ND; i++) {
    jobs.push(async () => {
      const db = await cf.d1.database.create({ account_id, name: `${PREFIX}-d1-${pad(i)}` });
      await migrate(db.uuid);
    });
  }
}

await runJobs(jobs, CONCURRENCY, stats);
console.log(`sdk: ${stats.calls} calls, ${stats.failed} failed`);
process.exit(stats.failed ? 1 : 0);
