#!/usr/bin/env python3
"""Helpers for tests/e2e/kill_trials.sh (and bench/kill_trials).

  kill_trial.py gen DIR
      writes DIR/a.yaml (the baseline) and DIR/b.yaml (the apply that gets
      killed): B prunes half of A's buckets and namespaces, changes the rest,
      creates as many again, and is applied past both Secrets' rotation date.
  kill_trial.py kill EMU K LIMIT_S CMD...
      runs CMD (output to $KILL_OUT) and polls EMU/__emu/stats until K more
      writes were counted (or CMD ended, or LIMIT_S seconds passed), then
      sends it SIGKILL. Prints the writes made meanwhile (counted after the
      kill), "killed" or "exited:RC", and CMD's pid.
  kill_trial.py check EMU STATE DIR
      the checks after the re-apply (STATE is a file or etcd://HOST:PORT/PFX);
      DIR holds seen.json (values at the last consistent point) and
      killed.json (values right after the kill). Prints one line per problem
      and exits 1 if there is any; on success it prints one line of notes
      (possibly empty) and updates seen.json.

Only the standard library: it runs wherever the e2e scripts run.
"""
import base64
import http.client
import json
import os
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request

TOKEN = "cfemu-token"
ACCT = "0123456789abcdef0123456789abcdef"
PREFIX = "kt"
SCRIPT = "api"      # the Worker both Secrets target
SECRETS = ("K1", "K2")
NA_BUCKETS, NA_KV = 40, 20  # baseline: buckets, namespaces
NB_NEW_BUCKETS, NB_NEW_KV = 40, 20  # B also creates these
ENTRIES = 3         # KV entries per namespace
POLL_S = 0.002      # kill poll period: well under one write at --latency-ms 5


def bucket_doc(name, days, cors_age):
    d = f"""apiVersion: cfstorage.dev/v1alpha1
kind: R2Bucket
metadata: {{name: {name}}}
spec:
  deletionPolicy: Delete
"""
    if days:
        d += f"""  lifecycle: {{deleteAfterDays: {days}}}
  cors:
    rules:
      - allowedOrigins: ["https://app.example.com"]
        allowedMethods: [GET, HEAD]
        maxAgeSeconds: {cors_age}
"""
    return d


def kv_doc(name, gen):
    d = f"""apiVersion: cfstorage.dev/v1alpha1
kind: KVNamespace
metadata: {{name: {name}}}
spec:
  deletionPolicy: Delete
  prune: true
  entries:
"""
    for j in range(ENTRIES):
        d += f'    - {{key: "k/{j}", value: "{name} entry {j} gen {gen}", metadata: {{n: {j}}}}}\n'
    return d


def secret_doc(name, worker_first):
    store = f"    - secretsStore: {{store: default, name: {name}}}\n"
    worker = f"    - workerSecret: {{script: {SCRIPT}, name: {name}}}\n"
    return f"""apiVersion: cfstorage.dev/v1alpha1
kind: Secret
metadata: {{name: {name.lower()}}}
spec:
  generate: {{bytes: 32}}
  rotation: {{everyDays: 30, retain: {{mode: count, versions: 2}}}}
  alias: true
  targets:
""" + (worker + store if worker_first else store + worker)


def manifests():
    """(a_docs, b_docs, expected) where expected describes B's end state."""
    a, b = [], []
    exp = {"buckets": set(), "kv": {}}
    for i in range(NA_BUCKETS):
        n = f"{PREFIX}-a-{i:03d}"
        a.append(bucket_doc(n, 30 if i % 2 == 0 else 0, 600))
        if i >= NA_BUCKETS // 2:  # the second half stays, changed
            b.append(bucket_doc(n, 45 if i % 2 == 0 else 7, 300))
            exp["buckets"].add(n)
    for i in range(NB_NEW_BUCKETS):
        n = f"{PREFIX}-b-{i:03d}"
        b.append(bucket_doc(n, 30 if i % 2 == 0 else 0, 600))
        exp["buckets"].add(n)
    for i in range(NA_KV):
        n = f"{PREFIX}-a-kv-{i:03d}"
        a.append(kv_doc(n, 1))
        if i >= NA_KV // 2:
            b.append(kv_doc(n, 2))
            exp["kv"][n] = 2
    for i in range(NB_NEW_KV):
        n = f"{PREFIX}-b-kv-{i:03d}"
        b.append(kv_doc(n, 1))
        exp["kv"][n] = 1
    for i, s in enumerate(SECRETS):  # targets are written in manifest order
        a.append(secret_doc(s, i % 2 == 1))
        b.append(secret_doc(s, i % 2 == 1))
    return a, b, exp


def cmd_gen(d):
    a, b, _ = manifests()
    for f, docs in (("a.yaml", a), ("b.yaml", b)):
        with open(os.path.join(d, f), "w") as fh:
            fh.write("---\n".join(docs))
    print(f"{len(a)} resources in a.yaml, {len(b)} in b.yaml")


_conns = {}


def get(url, auth=True):
    """GET url as JSON over one kept-alive connection per host."""
    u = urllib.parse.urlsplit(url)
    c = _conns.get(u.netloc)
    if c is None:
        c = _conns[u.netloc] = http.client.HTTPConnection(u.netloc, timeout=10)
    hdr = {"Authorization": "Bearer " + TOKEN} if auth else {}
    path = u.path + ("?" + u.query if u.query else "")
    try:
        c.request("GET", path, headers=hdr)
        r = c.getresponse()
    except (http.client.HTTPException, OSError):
        c.close()  # the server closed a kept-alive connection: once more
        c.request("GET", path, headers=hdr)
        r = c.getresponse()
    body = r.read()
    if r.status != 200:
        raise RuntimeError(f"GET {path}: HTTP {r.status}")
    return json.loads(body)


def cmd_kill(emu, k, limit, argv):
    """Runs argv and SIGKILLs it once cfemu counted k more writes than at its
    start (a bounded poll on the write counter, not a timer)."""
    k, end = int(k), time.monotonic() + float(limit)
    w0 = get(emu + "/__emu/stats", auth=False)["writes"]
    with open(os.environ.get("KILL_OUT", os.devnull), "wb") as out:
        p = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
        seen = w0
        while time.monotonic() < end and p.poll() is None:
            seen = get(emu + "/__emu/stats", auth=False)["writes"]
            if seen - w0 >= k:
                break
            time.sleep(POLL_S)
        alive = p.poll() is None
        if alive:
            p.send_signal(signal.SIGKILL)
        rc = p.wait()
    seen = get(emu + "/__emu/stats", auth=False)["writes"]
    print(seen - w0, "killed" if alive else f"exited:{rc}", p.pid)


def load_state(path):
    if path.startswith("etcd://"):
        u = urllib.parse.urlparse(path)
        key = (u.path.rstrip("/") + "/state").encode()
        rq = urllib.request.Request(f"http://{u.netloc}/v3/kv/range",
                                    data=json.dumps({"key": base64.b64encode(key).decode()}).encode())
        with urllib.request.urlopen(rq, timeout=10) as r:
            kvs = json.load(r).get("kvs") or []
        if not kvs:
            raise ValueError("no state key in etcd")
        return json.loads(base64.b64decode(kvs[0]["value"]))
    with open(path) as f:
        return json.load(f)


def listing(api, path, key=None):
    """Every item of a paged listing (cursor or page numbers)."""
    out, page, cursor = [], 1, None
    for _ in range(100):  # bounded: 100 pages of 1,000
        sep = "&" if "?" in path else "?"
        q = f"{sep}per_page=1000" + (f"&cursor={cursor}" if cursor else f"&page={page}")
        body = get(api + path + q)
        res = body["result"]
        items = res[key] if key else res
        out += items
        info = body.get("result_info") or {}
        cursor = info.get("cursor")
        if key:
            if not cursor:
                return out
        elif len(items) < 1000:
            return out
        page += 1
    raise RuntimeError("listing did not end: " + path)


def kv_keys(api, ns):
    """Every key of a namespace (cursor paging, 1,000 a page)."""
    out, cursor = [], ""
    for _ in range(100):  # bounded: 100 pages
        body = get(f"{api}/storage/kv/namespaces/{ns}/keys?limit=1000"
                   + (f"&cursor={urllib.parse.quote(cursor)}" if cursor else ""))
        out += body["result"]
        cursor = (body.get("result_info") or {}).get("cursor")
        if not cursor:
            return out
    raise RuntimeError("key listing did not end: " + ns)


def secret_problems(v, seen, killed, st, notes):
    """Pointers consistent with each other and the state; no version seen at a
    consistent point or published at the kill rewritten or lost."""
    bad = []
    w = v["workers"].get(SCRIPT, {})
    stores = list(v["secretsStore"].values())
    s = stores[0] if stores else {}
    ledgers = st.get("secrets", {})
    for k in SECRETS:
        pw, ps = w.get(k + "_VERSION"), s.get(k + "_VERSION")
        if pw is None or pw != ps:
            bad.append(f"{k}: pointers differ (worker {pw}, store {ps})")
            continue
        cur = k + "_V" + ps
        if cur not in w or cur not in s or w[cur] != s[cur]:
            bad.append(f"{k}: {cur} not the same on both targets")
        elif w.get(k) != s[cur] or s.get(k) != s[cur]:
            bad.append(f"{k}: an alias is not the current value")
        # one rotation was due: V2; V3 only when the killed run's pointer phase
        # had begun (a target pointed at V2 at the kill): a Worker alias cannot
        # be finished without the value, so a new version goes everywhere
        kw = killed["workers"].get(SCRIPT, {})
        ks = next(iter(killed["secretsStore"].values()), {})
        cut = "2" in (kw.get(k + "_VERSION"), ks.get(k + "_VERSION"))
        # or the killed run had marked V2 published (write-ahead, before its
        # first pointer write): then V2 may not be finished either; the final
        # ledger keeps it as retained and published
        led0 = ledgers.get(k.lower()) or {}
        cut = cut or any(x.get("version") == 2 and x.get("published")
                         for x in led0.get("versions", []))
        if ps == "3" and cut:
            notes.append(f"{k}: V2's pointer phase was cut, now V3")
        elif ps != "2":
            bad.append(f"{k}: pointer at {ps}, want 2 (one rotation due)"
                       + ("" if cut else "; no pointer was at V2 at the kill"))
        led = ledgers.get(k.lower())
        if led is None:
            bad.append(f"{k}: no ledger in the state")
        else:
            cur_l = [x["version"] for x in led.get("versions", []) if x.get("status") == "current"]
            if cur_l != [int(ps)]:
                bad.append(f"{k}: state's current {cur_l}, account's pointer {ps}")
            pend = [x["version"] for x in led.get("versions", []) if x.get("status") == "pending"]
            if pend:
                bad.append(f"{k}: versions {pend} still pending in the state")
        # a version that any target pointed at when the run was killed was
        # published: its value may never change; versions at a consistent
        # point never change either
        published = max(int(kw.get(k + "_VERSION", 0)), int(ks.get(k + "_VERSION", 0)))
        old_w = seen["workers"].get(SCRIPT, {})
        old_s = next(iter(seen["secretsStore"].values()), {})
        for tgt, old, kil, now in (("worker", old_w, kw, w), ("store", old_s, ks, s)):
            for n, x in old.items():
                if n.startswith(k + "_V") and n != k + "_VERSION":
                    if n not in now:
                        bad.append(f"{k}: {tgt} lost {n}")
                    elif now[n] != x:
                        bad.append(f"{k}: {tgt} {n} was rewritten")
            for n, x in kil.items():
                if n.startswith(k + "_V") and n != k + "_VERSION" and int(n[len(k) + 2:]) <= published:
                    if now.get(n) != x:
                        bad.append(f"{k}: {tgt} {n} (published at the kill: pointers worker "
                                   f"{kw.get(k + '_VERSION')}, store {ks.get(k + '_VERSION')}) "
                                   "was rewritten or lost")
    return bad


def cmd_check(emu, state, d):
    api = f"{emu}/client/v4/accounts/{ACCT}"
    _, _, exp = manifests()
    bad = []
    try:
        st = load_state(state)
    except (ValueError, OSError) as ex:
        print(f"state does not parse: {ex}")
        return 1
    res = st.get("resources", [])
    pending = [r["name"] for r in res if r.get("pending")]
    if pending:
        bad.append(f"pending in the state: {pending[:5]}")
    notready = [r["name"] for r in res if r.get("condition", "Ready") != "Ready"]
    if notready:
        bad.append(f"not Ready in the state: {notready[:5]}")

    buckets = [b["name"] for b in listing(api, "/r2/buckets", "buckets")]
    ours = [b for b in buckets if b.startswith(PREFIX + "-")]
    if len(ours) != len(set(ours)):
        bad.append("duplicate buckets")
    rec = {r["bucketName"] for r in res if r["kind"] == "R2Bucket"}
    if set(ours) != exp["buckets"]:
        bad.append(f"buckets: extra {sorted(set(ours) - exp['buckets'])[:5]}, "
                   f"missing {sorted(exp['buckets'] - set(ours))[:5]}")
    if set(ours) - rec:
        bad.append(f"buckets not in the state: {sorted(set(ours) - rec)[:5]}")
    if rec != exp["buckets"]:
        bad.append(f"state buckets differ: extra {sorted(rec - exp['buckets'])[:5]}")

    nss = [n for n in listing(api, "/storage/kv/namespaces") if n["title"].startswith(PREFIX + "-")]
    titles = [n["title"] for n in nss]
    if len(titles) != len(set(titles)):
        bad.append("duplicate namespaces")
    if set(titles) != set(exp["kv"]):
        bad.append(f"namespaces: extra {sorted(set(titles) - set(exp['kv']))[:5]}, "
                   f"missing {sorted(set(exp['kv']) - set(titles))[:5]}")
    rec_ids = {r.get("id") for r in res if r["kind"] == "KVNamespace"}
    unrec = [n["title"] for n in nss if n["id"] not in rec_ids]
    if unrec:
        bad.append(f"namespaces whose id the state does not record: {unrec[:5]}")
    for n in nss:
        keys = {k["name"] for k in kv_keys(api, n["id"])}
        if keys != {f"k/{j}" for j in range(ENTRIES)}:
            bad.append(f"namespace {n['title']}: keys {sorted(keys)}")

    v = get(emu + "/__emu/secret-values", auth=False)
    with open(os.path.join(d, "seen.json")) as f:
        seen = json.load(f)
    with open(os.path.join(d, "killed.json")) as f:
        killed = json.load(f)
    notes = []
    bad += secret_problems(v, seen, killed, st, notes)
    for b in bad:
        print(b)
    if not bad:
        print("; ".join(notes))
    if bad:
        return 1
    with open(os.path.join(d, "seen.json"), "w") as f:
        json.dump(v, f)
    return 0


def main(argv):
    if len(argv) >= 2 and argv[1] == "gen":
        cmd_gen(argv[2])
        return 0
    if len(argv) >= 6 and argv[1] == "kill":
        cmd_kill(argv[2], argv[3], argv[4], argv[5:])
        return 0
    if len(argv) >= 2 and argv[1] == "check":
        return cmd_check(*argv[2:5])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
