#!/usr/bin/env python3
"""Runs execution-apis' eth_simulateV1 fixtures (`tests/eth_simulateV1/*.io`) against a node,
as hive's rpc-compat simulator checks them: each `>>` request is sent, and the reply must
equal the `<<` line exactly (keys and values), error messages aside.

usage: simulate_fixtures.py RPC_URL FIXTURE_DIR [-v] [NAME_FILTER]
"""
import json
import sys
import urllib.request


def strip_messages(value):
    """Drops `error.message` wherever an error object is (top level or in a call)."""
    if isinstance(value, dict):
        return {
            k: strip_messages(v)
            for k, v in value.items()
            if not (k == "message" and "code" in value)
        }
    if isinstance(value, list):
        return [strip_messages(v) for v in value]
    return value


def diff(expected, got, path="$", out=None, limit=8):
    out = [] if out is None else out
    if len(out) >= limit:
        return out
    if isinstance(expected, dict) and isinstance(got, dict):
        for k in expected:
            if k not in got:
                out.append(f"{path}.{k}: missing (expected {json.dumps(expected[k])[:80]})")
            else:
                diff(expected[k], got[k], f"{path}.{k}", out, limit)
        for k in got:
            if k not in expected:
                out.append(f"{path}.{k}: unexpected {json.dumps(got[k])[:80]}")
    elif isinstance(expected, list) and isinstance(got, list):
        if len(expected) != len(got):
            out.append(f"{path}: length {len(got)}, expected {len(expected)}")
        for i, (e, g) in enumerate(zip(expected, got)):
            diff(e, g, f"{path}[{i}]", out, limit)
    elif expected != got:
        out.append(f"{path}: {json.dumps(got)[:100]}, expected {json.dumps(expected)[:100]}")
    return out


def call(url, line):
    req = urllib.request.Request(url, data=line.encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=120) as r:
        return json.loads(r.read())


def main():
    import os

    url, folder = sys.argv[1], sys.argv[2]
    verbose = "-v" in sys.argv
    rest = [a for a in sys.argv[3:] if a != "-v"]
    names = sorted(n for n in os.listdir(folder) if n.endswith(".io") and (not rest or rest[0] in n))
    passed = []
    failed = []
    for name in names:
        lines = open(os.path.join(folder, name)).read().splitlines()
        sent = [l[3:] for l in lines if l.startswith(">> ")]
        want = [l[3:] for l in lines if l.startswith("<< ")]
        problems = []
        for request, expected in zip(sent, want):
            got = strip_messages(call(url, request))
            expected = strip_messages(json.loads(expected))
            problems += diff(expected, got)
        if problems:
            failed.append(name)
            print(f"FAIL {name}")
            if verbose:
                for p in problems:
                    print(f"     {p}")
        else:
            passed.append(name)
            print(f"ok   {name}")
    print(f"{len(passed)} of {len(names)} fixtures pass")
    return 0 if not failed else 1


if __name__ == "__main__":
    sys.exit(main())
