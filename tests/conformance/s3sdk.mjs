// AWS's own S3 client (@aws-sdk/client-s3, pinned by tests/package-lock.json)
// against cfemu's R2 S3 listener: put, get, head, list (paged), conditional
// puts (If-None-Match: * and If-Match: ETag, 412 PreconditionFailed),
// conditional delete, 403 SignatureDoesNotMatch with a wrong secret and 403
// InvalidAccessKeyId with a wrong key id. Started by tests/e2e/s3_sdk.sh,
// which sets S3_URL, KEY_ID, SECRET (derived from the token as R2 derives it)
// and BUCKET. Prints "s3sdk: N checks passed".
import assert from 'node:assert/strict';
import {
  S3Client, PutObjectCommand, GetObjectCommand, HeadObjectCommand,
  ListObjectsV2Command, DeleteObjectCommand,
} from '@aws-sdk/client-s3';

const { S3_URL, KEY_ID, SECRET, BUCKET } = process.env;
for (const [k, v] of Object.entries({ S3_URL, KEY_ID, SECRET, BUCKET }))
  if (!v) { console.error(`s3sdk.mjs: ${k} is not set`); process.exit(2); }

const client = (accessKeyId, secretAccessKey) => new S3Client({
  endpoint: S3_URL, region: 'auto', forcePathStyle: true,
  credentials: { accessKeyId, secretAccessKey },
  requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED',
  maxAttempts: 1,
});
const s3 = client(KEY_ID, SECRET);
let checks = 0;
const ok = () => { checks++; };
async function fails(p, status, code) {
  try { await p; } catch (e) {
    assert.equal(e.$metadata?.httpStatusCode, status, `${code}: status`);
    assert.equal(e.name, code);
    ok();
    return;
  }
  assert.fail(`expected ${status} ${code}`);
}

const put = await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'dir/one.json', Body: '{"a":1}' }));
assert.match(put.ETag, /^"[0-9a-f]{32}"$/); ok();
const got = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'dir/one.json' }));
assert.equal(await got.Body.transformToString(), '{"a":1}'); assert.equal(got.ETag, put.ETag); ok();
const head = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'dir/one.json' }));
assert.equal(head.ContentLength, 7); assert.equal(head.ETag, put.ETag); ok();
// a key that needs escaping
await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'odd key+é/x=1&y', Body: 'z' }));
assert.equal(await (await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'odd key+é/x=1&y' }))).Body.transformToString(), 'z'); ok();

// conditional writes
await fails(s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'dir/one.json', Body: 'x', IfNoneMatch: '*' })), 412, 'PreconditionFailed');
await fails(s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'dir/one.json', Body: 'x', IfMatch: '"00000000000000000000000000000000"' })), 412, 'PreconditionFailed');
const created = await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'dir/two.json', Body: '2', IfNoneMatch: '*' }));
const swapped = await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'dir/two.json', Body: '22', IfMatch: created.ETag }));
assert.notEqual(swapped.ETag, created.ETag); ok();
await fails(s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'dir/two.json', Body: '3', IfMatch: created.ETag })), 412, 'PreconditionFailed');

// list, paged
for (let i = 0; i < 5; i++)
  await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `many/${i}`, Body: `${i}` }));
let keys = [], token;
do {
  const page = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'many/', MaxKeys: 2, ContinuationToken: token }));
  keys.push(...(page.Contents ?? []).map(o => o.Key));
  token = page.IsTruncated ? page.NextContinuationToken : undefined;
} while (token);
assert.deepEqual(keys, ['many/0', 'many/1', 'many/2', 'many/3', 'many/4']); ok();
const all = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET }));
assert.equal(all.KeyCount, 8); ok();

// delete: conditional, then plain
await fails(s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: 'dir/two.json', IfMatch: created.ETag })), 412, 'PreconditionFailed');
await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: 'dir/two.json', IfMatch: swapped.ETag }));
await fails(s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'dir/two.json' })), 404, 'NoSuchKey');
for (let i = 0; i < 5; i++)
  await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: `many/${i}` }));
await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: 'odd key+é/x=1&y' }));
assert.equal((await s3.send(new ListObjectsV2Command({ Bucket: BUCKET }))).KeyCount, 1); ok();
await fails(s3.send(new GetObjectCommand({ Bucket: 'no-such-bucket', Key: 'x' })), 404, 'NoSuchBucket');

// wrong credentials
await fails(client(KEY_ID, SECRET.replace(/.$/, c => (c === '0' ? '1' : '0'))).send(new GetObjectCommand({ Bucket: BUCKET, Key: 'dir/one.json' })), 403, 'SignatureDoesNotMatch');
await fails(client('not-the-token-id', SECRET).send(new GetObjectCommand({ Bucket: BUCKET, Key: 'dir/one.json' })), 403, 'InvalidAccessKeyId');
console.log(`s3sdk: ${checks} checks passed`);
