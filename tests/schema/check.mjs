// Checks schema/cfstorage.schema.json (JSON Schema 2020-12) against the
// manifest fixtures; run by tests/e2e/schema.sh.
//   node tests/schema/check.mjs REPO_ROOT        (SCHEMA_VERBOSE=1 lists every case)
// 1. The schema compiles under Ajv's 2020-12 meta-schema in strict mode, every
//    property has a description, every object schema with properties closes
//    with additionalProperties: false.
// 2. Every YAML document of tests/data/manifest/valid/*.yaml and
//    manifests/examples/*.yaml passes.
// 3. Every invalid fixture (a .yaml file or a directory) is named in exactly one
//    of tests/schema/expressible.txt and tests/schema/not-expressible.txt:
//    an expressible one must fail the schema; a not-expressible one must either
//    be refused by the YAML parser or pass the schema (if the schema catches it,
//    it belongs in expressible.txt).
// YAML is read as YAML 1.2 (core schema, merge keys, unique keys), as the
// yaml-language-server reads it; empty documents are skipped, as cfstorage does.
import { readFileSync, readdirSync, statSync, existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import Ajv2020 from 'ajv/dist/2020.js';
import YAML from 'yaml';

const root = process.argv[2] || process.cwd();
const verbose = process.env.SCHEMA_VERBOSE === '1';
const schemaPath = join(root, 'schema/cfstorage.schema.json');
const fixtures = join(root, 'tests/data/manifest');
const listDir = join(root, 'tests/schema');

let passed = 0, failed = 0;
const ok = (what) => { passed++; if (verbose) console.log(`ok   ${what}`); };
const fail = (what) => { failed++; console.log(`FAIL ${what}`); };
const rel = (p) => relative(root, p);

// ---- 1. the schema itself ----
const schema = JSON.parse(readFileSync(schemaPath, 'utf8'));
const ajv = new Ajv2020({ allErrors: true, strict: true, strictRequired: false, allowUnionTypes: true });
let validate;
try {
  validate = ajv.compile(schema);
  ok('schema compiles (2020-12, strict)');
} catch (e) {
  fail(`schema does not compile: ${e.message}`);
  console.log(`schema: ${passed} passed, ${failed} failed`);
  process.exit(1);
}

// Walks the schema outside 'if' and 'not' (conditions, not descriptions of fields).
function walk(node, path, fn) {
  if (node === null || typeof node !== 'object') return;
  if (Array.isArray(node)) { node.forEach((n, i) => walk(n, `${path}/${i}`, fn)); return; }
  fn(node, path);
  for (const [k, v] of Object.entries(node)) {
    if (k === 'if' || k === 'not' || k === 'examples' || k === 'default' || k === 'const' || k === 'enum') continue;
    if (k === 'properties') {
      for (const [p, s] of Object.entries(v)) walk(s, `${path}/properties/${p}`, fn);
      continue;
    }
    walk(v, `${path}/${k}`, fn);
  }
}
const undescribed = [], open = [];
walk(schema, '#', (node, path) => {
  if (node.properties) {
    for (const [p, s] of Object.entries(node.properties))
      if (s !== false && !(s && typeof s.description === 'string' && s.description.length > 0))
        undescribed.push(`${path}/properties/${p}`);
    // partial schemas inside 'then' only add constraints to a closed schema
    if (!path.includes('/then') && node.additionalProperties !== false) open.push(path);
  }
});
if (undescribed.length) fail(`properties without a description: ${undescribed.join(', ')}`);
else ok('every property has a description');
if (open.length) fail(`object schemas without additionalProperties: false: ${open.join(', ')}`);
else ok('every object schema closes with additionalProperties: false');

// ---- helpers ----
function yamlFiles(dir) {
  return readdirSync(dir).filter((n) => n.endsWith('.yaml') || n.endsWith('.yml')).sort()
    .map((n) => join(dir, n)).filter((p) => statSync(p).isFile());
}

// Returns { yamlErrors: [...], docs: [{ n, value }] } for one file.
function readDocs(file) {
  const text = readFileSync(file, 'utf8');
  const lineCounter = new YAML.LineCounter();
  const docs = YAML.parseAllDocuments(text, { merge: true, uniqueKeys: true, prettyErrors: false, lineCounter });
  const out = { yamlErrors: [], docs: [] };
  const list = Array.isArray(docs) ? docs : [docs];
  list.forEach((d, i) => {
    for (const e of [...d.errors, ...d.warnings]) out.yamlErrors.push(`document ${i + 1}: ${e.message.split('\n')[0]}`);
    if (d.errors.length) return;
    const value = d.toJS({ maxAliasCount: 128 });
    if (value === null || value === undefined) return; // an empty document, as cfstorage skips
    out.docs.push({ n: i + 1, value, doc: d, lineCounter });
  });
  return out;
}

// The lines [from, to] of the YAML node at a JSON pointer (from its key, when
// it is a mapping value), or null.
function span(doc, lc, pointer) {
  const path = pointer === '' ? [] : pointer.slice(1).split('/')
    .map((k) => k.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((k) => (/^[0-9]+$/.test(k) ? Number(k) : k));
  const node = path.length ? doc.getIn(path, true) : doc.contents;
  if (!node || !node.range) return null;
  let start = node.range[0];
  if (path.length) {
    const parent = path.length > 1 ? doc.getIn(path.slice(0, -1), true) : doc.contents;
    const pair = YAML.isMap(parent) &&
      parent.items.find((it) => it.key && String(YAML.isScalar(it.key) ? it.key.value : it.key) === String(path.at(-1)));
    if (pair && pair.key.range) start = Math.min(start, pair.key.range[0]);
  }
  const end = Math.max(start, node.range[1] - 1);
  return [lc.linePos(start).line, lc.linePos(end).line];
}

function explain(errors) {
  return errors.slice(0, 3).map((e) => `${e.instancePath || '/'} ${e.message}` +
    (e.params && e.params.additionalProperty ? ` ('${e.params.additionalProperty}')` : '')).join('; ');
}

// Validates every file of a case; returns { yamlErrors, rejects: [msg], ndocs,
// errors: [{ file, lines: [from, to], text }] } (the schema's errors, placed).
function check(files) {
  const r = { yamlErrors: [], rejects: [], ndocs: 0, errors: [] };
  for (const f of files) {
    const { yamlErrors, docs } = readDocs(f);
    r.yamlErrors.push(...yamlErrors.map((m) => `${rel(f)}: ${m}`));
    for (const d of docs) {
      r.ndocs++;
      if (validate(d.value)) continue;
      r.rejects.push(`${rel(f)} document ${d.n}: ${explain(validate.errors)}`);
      for (const e of validate.errors) {
        if (e.keyword === 'if') continue; // "must match the then schema": its cause is listed too
        // an unknown field or a bad name: the key itself, not its whole mapping
        const key = e.params && (e.params.additionalProperty ?? e.params.propertyName);
        const at = key === undefined ? e.instancePath
          : `${e.instancePath}/${String(key).replace(/~/g, '~0').replace(/\//g, '~1')}`;
        r.errors.push({ file: f, lines: span(d.doc, d.lineCounter, at), text: explain([e]) });
      }
    }
  }
  return r;
}

// The lines cfstorage reports for a case, from its golden NAME.out.
function goldenLines(name) {
  const out = join(invalidDir, `${name}.out`), lines = [];
  if (!existsSync(out)) return lines;
  for (const l of readFileSync(out, 'utf8').split('\n')) {
    const m = /^invalid\/\S+?:([0-9]+):([0-9]+): /.exec(l);
    if (m) lines.push(Number(m[1]));
  }
  return lines;
}

// ---- 2. valid fixtures and examples ----
for (const f of [...yamlFiles(join(fixtures, 'valid')), ...yamlFiles(join(root, 'manifests/examples'))]) {
  const r = check([f]);
  if (r.yamlErrors.length) fail(`${rel(f)}: YAML: ${r.yamlErrors.join('; ')}`);
  else if (r.ndocs === 0) fail(`${rel(f)}: no document`);
  else if (r.rejects.length) fail(`${rel(f)} must pass the schema: ${r.rejects.join(' | ')}`);
  else ok(`${rel(f)} (${r.ndocs} document${r.ndocs === 1 ? '' : 's'})`);
}

// ---- 3. invalid fixtures ----
function readList(name, needReason) {
  const entries = new Map(), file = join(listDir, name);
  readFileSync(file, 'utf8').split('\n').forEach((line, i) => {
    const t = line.replace(/\s+$/, '');
    if (t === '' || t.startsWith('#')) return;
    const m = /^(\S+)\s*(.*)$/.exec(t);
    if (entries.has(m[1])) fail(`${name}:${i + 1}: '${m[1]}' is listed twice`);
    if (needReason && !m[2]) fail(`${name}:${i + 1}: '${m[1]}' needs a one-line reason`);
    entries.set(m[1], m[2]);
  });
  return entries;
}
const expressible = readList('expressible.txt', false);
const notExpressible = readList('not-expressible.txt', true);

const invalidDir = join(fixtures, 'invalid');
const cases = new Map(); // name -> files
for (const n of readdirSync(invalidDir).sort()) {
  const p = join(invalidDir, n);
  if (statSync(p).isDirectory()) cases.set(n, yamlFiles(p));
  else if (n.endsWith('.yaml')) cases.set(n.slice(0, -5), [p]);
}

let listsOk = true;
for (const name of cases.keys()) {
  const inE = expressible.has(name), inN = notExpressible.has(name);
  if (inE && inN) { listsOk = false; fail(`invalid/${name} is in both expressible.txt and not-expressible.txt`); }
  if (!inE && !inN) { listsOk = false; fail(`invalid/${name} is in neither expressible.txt nor not-expressible.txt: decide whether the schema can express it`); }
}
for (const [list, entries] of [['expressible.txt', expressible], ['not-expressible.txt', notExpressible]])
  for (const name of entries.keys())
    if (!cases.has(name)) { listsOk = false; fail(`${list} names '${name}', which is not a fixture under tests/data/manifest/invalid`); }
if (listsOk) ok(`every invalid fixture is in exactly one list (${expressible.size} expressible, ${notExpressible.size} not)`);

for (const [name, files] of cases) {
  if (!expressible.has(name) && !notExpressible.has(name)) continue;
  const r = check(files);
  if (expressible.has(name)) {
    if (r.yamlErrors.length) fail(`invalid/${name}: listed as expressible but the YAML is refused: ${r.yamlErrors.join('; ')}`);
    else if (!r.rejects.length) fail(`invalid/${name} must fail the schema, but every document passes`);
    else {
      // the schema must object where cfstorage does (a line of the golden .out
      // within the span of an erring node), not only somewhere else
      const want = goldenLines(name);
      const hit = r.errors.find((e) => e.lines && want.some((l) => l >= e.lines[0] && l <= e.lines[1]));
      if (!hit) fail(`invalid/${name}: the schema rejects it (${r.rejects[0]}) but not at a line cfstorage reports (${want.join(', ') || 'none in the .out'})`);
      else ok(`invalid/${name} rejected at line ${hit.lines[0]}${hit.lines[1] !== hit.lines[0] ? `-${hit.lines[1]}` : ''}: ${hit.text}`);
    }
  } else {
    if (r.yamlErrors.length) ok(`invalid/${name} refused by the YAML parser (${notExpressible.get(name)})`);
    else if (r.rejects.length) fail(`invalid/${name} is listed as not expressible, but the schema rejects it (${r.rejects[0]}): move it to expressible.txt`);
    else ok(`invalid/${name} passes the schema, as listed (${notExpressible.get(name)})`);
  }
}

console.log(`schema: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
