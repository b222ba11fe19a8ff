#!/usr/bin/env python3
"""stats_delta.py BEFORE.json AFTER.json: the /__emu/stats difference between
two snapshots, as shell assignments: d_requests, d_reads, d_writes, d_lists
(GET of the R2 bucket list and KV namespace list routes), d_lc_get, d_cors_get,
d_other_reads, d_non2xx, and d_routes (a one-line 'METHOD route status xN, ...'
summary of the routes that changed)."""
import json
import sys

a = json.load(open(sys.argv[1]))
b = json.load(open(sys.argv[2]))


def routes(d):
    return {(r["method"], r["route"], r["status"]): r["count"] for r in d["routes"]}


ra, rb = routes(a), routes(b)
delta = {k: rb.get(k, 0) - ra.get(k, 0) for k in set(ra) | set(rb)}
delta = {k: v for k, v in delta.items() if v}
lists = {"/accounts/{account_id}/r2/buckets", "/accounts/{account_id}/storage/kv/namespaces"}
out = {
    "requests": b["requests"] - a["requests"],
    "reads": b["reads"] - a["reads"],
    "writes": b["writes"] - a["writes"],
    "lists": sum(v for (m, r, s), v in delta.items() if m == "GET" and r in lists),
    "lc_get": sum(v for (m, r, s), v in delta.items() if m == "GET" and r.endswith("/lifecycle")),
    "cors_get": sum(v for (m, r, s), v in delta.items() if m == "GET" and r.endswith("/cors")),
    "non2xx": sum(v for (m, r, s), v in delta.items() if not 200 <= s < 300),
}
out["other_reads"] = out["reads"] - out["lists"] - out["lc_get"] - out["cors_get"]
for k, v in out.items():
    print(f"d_{k}={v}")
summary = ", ".join(f"{m} {r.replace('/accounts/{account_id}', '')} {s} x{v}"
                    for (m, r, s), v in sorted(delta.items(), key=lambda kv: -kv[1]))
print("d_routes=" + "'" + summary.replace("'", "") + "'")
