#!/usr/bin/env python3
"""gen_manifests.py OUT.yaml NBUCKETS NKV [PREFIX]: writes one multi-document
manifest file for bench/reconcile. Buckets PREFIX-b-NNNN (every even one has
lifecycle {deleteAfterDays: 30} and one CORS rule), KV namespaces
PREFIX-kv-NNNN."""
import sys

out, nb, nk = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
prefix = sys.argv[4] if len(sys.argv) > 4 else "cfbench"
docs = []
for i in range(nb):
    d = f"""apiVersion: cfstorage.dev/v1alpha1
kind: R2Bucket
metadata:
  name: {prefix}-b-{i:05d}
spec:
  deletionPolicy: Delete
"""
    if i % 2 == 0:
        d += """  lifecycle:
    deleteAfterDays: 30
  cors:
    rules:
      - allowedOrigins: ["https://app.example.com"]
        allowedMethods: [GET, HEAD]
        maxAgeSeconds: 600
"""
    docs.append(d)
for i in range(nk):
    docs.append(f"""apiVersion: cfstorage.dev/v1alpha1
kind: KVNamespace
metadata:
  name: {prefix}-kv-{i:05d}
spec:
  title: {prefix}-kv-{i:05d}
""")
with open(out, "w") as f:
    f.write("---\n".join(docs))
