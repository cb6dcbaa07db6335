#!/usr/bin/env python3
"""Renders target/loadtest/report.md from what scripts/loadtest.sh measured.

Usage: report.py ROWS_TSV META_TSV

ROWS_TSV, one measurement a line: round (`-` for the floor-and-backend
table, 1, 2, … for the rounds of the variants), endpoint, server, req/s,
p50, p99, p99.9 (µs), errors, CPU s per 1k requests, requests at
saturation, CPU ticks over them. META_TSV: key, value lines (peak RSS per
server, readiness, run settings, what each variant's check found).
"""

import statistics
import sys

LABELS = {
    "backend": "backend (AUTH_MODE=none, no telemetry)",
    "backend-auth": "backend + bearer token (AUTH_MODE=oidc, RS256)",
    "backend-tracing": "backend + tracing 100 % (always_on, OTLP/HTTP)",
    "backend-metrics": "backend + metrics (METRICS_ADDR, /metrics)",
}


def ratio(value, base):
    return f"{float(value) / float(base):.2f}" if float(base) else "-"


def main_table(data):
    out = [
        "| endpoint | server | req/s (64 conns) | × floor | p50 µs | p99 µs | p99.9 µs | p99 × floor | errors | CPU s / 1k req | × floor |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for endpoint in ["get", "list", "create"]:
        f = data[(endpoint, "floor")]
        for server in ["floor", "backend"]:
            r = data[(endpoint, server)]
            out.append(
                f"| {endpoint} | {server} | {r[3]} | {ratio(r[3], f[3])} | {r[4]} | {r[5]} | {r[6]} "
                f"| {ratio(r[5], f[5])} | {r[7]} | {r[8]} | {ratio(r[8], f[8])} |"
            )
    return out


def variants_table(rounds, floor_cpu, ticks):
    """Each server's rounds pooled: CPU over all saturated requests, mean
    req/s, median latencies; and the range of its per-round CPU ratio to
    the plain backend of the same round."""
    by_server = {}
    for r in rounds:
        by_server.setdefault(r[2], {})[r[0]] = r

    def cpu(rows):
        return sum(int(r[10]) for r in rows) / ticks / sum(int(r[9]) for r in rows) * 1000

    base = by_server["backend"]
    base_cpu = cpu(base.values())
    out = [
        "| server | req/s (64 conns) | × backend | p50 µs | p99 µs | p99.9 µs | errors "
        "| CPU s / 1k req | × backend | per round | × floor |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |",
    ]
    base_rps = statistics.mean(float(r[3]) for r in base.values())
    for name in [n for n in LABELS if n in by_server]:
        rows = by_server[name]
        rps = statistics.mean(float(r[3]) for r in rows.values())
        median = lambda i: f"{statistics.median(int(r[i]) for r in rows.values()):.0f}"
        per_round = sorted(cpu([r]) / cpu([base[k]]) for k, r in rows.items())
        c = cpu(rows.values())
        out.append(
            f"| {LABELS[name]} | {rps:.0f} | {rps / base_rps:.2f} | {median(4)} | {median(5)} | {median(6)} "
            f"| {sum(int(r[7]) for r in rows.values())} | {c:.4f} | {c / base_cpu:.2f} "
            f"| {'-' if name == 'backend' else f'{per_round[0]:.2f}–{per_round[-1]:.2f}'} | {c / floor_cpu:.2f} |"
        )
    return out


def main():
    rows = [line.rstrip("\n").split("\t") for line in open(sys.argv[1]) if line.strip()]
    meta = dict(line.rstrip("\n").split("\t", 1) for line in open(sys.argv[2]) if line.strip())
    data = {(r[1], r[2]): r for r in rows if r[0] == "-"}
    out = main_table(data)
    out.append("")
    rss = ", ".join(
        f"{name} {int(meta['rss ' + name]) / 1024:.1f} MiB"
        for name in ["backend", "floor", "backend-auth", "backend-tracing", "backend-metrics"]
        if "rss " + name in meta
    )
    out.append(
        f"Peak RSS: {rss}. Backend ready (first 200 from /readyz) {meta['ready backend']} ms after start. "
        f"{meta['seconds']} s per measurement; latency at a paced {meta['rate']} req/s over 16 connections; "
        f"saturation with 64 connections, wrk -t2. Load average (1 min) of the machine: "
        f"{meta['load before']} before the run, {meta['load after']} after it."
    )
    rounds = [r for r in rows if r[0] != "-"]
    if rounds:
        out += [
            "",
            f"GET /api/v1/users/{{id}}, the backend with one feature on, each its own process, in "
            f"{meta['rounds']} rounds that alternate it with the plain backend (rotated order). Pooled "
            "over the rounds: CPU over every saturated request, mean req/s, median latencies; "
            "\"per round\" is the range of the CPU ratio to the backend's of the same round; "
            "× floor is to the floor's GET above.",
            "",
        ]
        out += variants_table(rounds, float(data[("get", "floor")][8]), int(meta["ticks"]))
        out.append("")
        for name in LABELS:
            if "note " + name in meta:
                out.append(f"- {LABELS[name]}: {meta['note ' + name]}")
    if "skipped" in meta:
        out += ["", f"Skipped: {meta['skipped']}."]
    print("\n".join(out))


if __name__ == "__main__":
    main()
