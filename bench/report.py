"""Summaries for bench/load.sh from its runs.tsv (one row per wrk run).

  report.py --line RUNS CLK_TCK           progress line for the last run
  report.py --max-rate RUNS TARGET MODE [LEVEL]  highest req/s of TARGET in MODE (at LEVEL if any)
  report.py --table RUNS CLK_TCK META     the final table
"""

import csv
import statistics
import sys

INT_FIELDS = (
    "conns threads round requests duration_us p50_us p90_us p99_us max_us err_connect err_read err_write "
    "err_status err_timeout proxy_ticks up_ticks up_accepts up_requests audit_lines cache_hits cache_misses"
).split()


def load(path):
    with open(path) as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    for r in rows:
        for k in INT_FIELDS:
            r[k] = int(float(r[k]))
        r["rps"] = r["requests"] / (r["duration_us"] / 1e6) if r["duration_us"] else 0.0
        r["errors"] = sum(r[k] for k in ("err_connect", "err_read", "err_write", "err_status", "err_timeout"))
    return rows


def us_per_req(ticks, requests, clk):
    return ticks * 1e6 / clk / requests if requests else float("nan")


def ms(us):
    return f"{us / 1000:.2f}"


def suspect_reasons(r):
    """Why a run's numbers should not be trusted (empty list: fine)."""
    why = []
    if r["errors"]:
        parts = [f"{k[4:]}={r[k]}" for k in ("err_connect", "err_read", "err_write", "err_status", "err_timeout") if r[k]]
        why.append("wrk errors " + " ".join(parts) + " (status = answers >= 400)")
    if r["requests"] == 0:
        why.append("no requests completed")
    if r["target"] in ("nginx", "hsgate") and r["requests"]:
        # Every request must reach the upstream once (wrk may leave a few in flight).
        if abs(r["up_requests"] - r["requests"]) > max(r["conns"], r["requests"] // 1000):
            why.append(f"upstream saw {r['up_requests']} requests for {r['requests']} answered")
    if r["target"] == "hsgate" and r["requests"]:
        # Two audit records (request, response) per request.
        if abs(r["audit_lines"] - 2 * r["requests"]) > 2 * r["conns"] + r["requests"] // 500:
            why.append(f"{r['audit_lines']} audit lines for {r['requests']} requests")
    return why


def line(path, clk):
    r = load(path)[-1]
    proxy = us_per_req(r["proxy_ticks"], r["requests"], clk)
    up = us_per_req(r["up_ticks"], r["requests"], clk)
    extra = ""
    if r["target"] == "hsgate":
        looked = r["cache_hits"] + r["cache_misses"]
        extra = f"  token cache hits {100.0 * r['cache_hits'] / looked:.1f}%" if looked else ""
    why = suspect_reasons(r)
    flag = ("  SUSPECT: " + "; ".join(why)) if why else ""
    proxy_s = f"{proxy:6.1f}" if r["target"] != "direct" else "     -"
    print(
        f"  {r['mode']:6} {r['level']:8} r{r['round']} {r['target']:6} {r['rps']:9.0f} req/s"
        f"  p50 {ms(r['p50_us'])} ms  p99 {ms(r['p99_us'])} ms  cpu/req proxy {proxy_s} us"
        f"  upstream {up:5.1f} us  new up conns {r['up_accepts']}{extra}{flag}"
    )


def max_rate(path, target, mode, level=None):
    rows = [r for r in load(path) if r["target"] == target and r["mode"] == mode]
    rates = [r["rps"] for r in rows if r["level"] == level] or [r["rps"] for r in rows]
    print(f"{max(rates) if rates else 20000.0:.0f}")


def summarize(rows, clk):
    req = sum(r["requests"] for r in rows)
    dur = sum(r["duration_us"] for r in rows) / 1e6
    rps = [r["rps"] for r in rows]
    return {
        "n": len(rows),
        "rps": req / dur if dur else 0.0,
        "rps_min": min(rps),
        "rps_max": max(rps),
        "p50": statistics.median(r["p50_us"] for r in rows),
        "p99": statistics.median(r["p99_us"] for r in rows),
        "proxy": us_per_req(sum(r["proxy_ticks"] for r in rows), req, clk),
        "up": us_per_req(sum(r["up_ticks"] for r in rows), req, clk),
        "conns": sum(r["up_accepts"] for r in rows),
        "requests": req,
        "errors": sum(r["errors"] for r in rows),
        "suspect": sum(1 for r in rows if suspect_reasons(r)),
        "hits": sum(r["cache_hits"] for r in rows),
        "misses": sum(r["cache_misses"] for r in rows),
    }


def table(path, clk, meta_path):
    rows = [r for r in load(path) if r["mode"] in ("cached", "fresh")]
    meta = {}
    with open(meta_path) as f:
        for ln in f:
            k, _, v = ln.rstrip("\n").partition("=")
            meta[k] = v
    groups = {}
    for r in rows:
        groups.setdefault((r["mode"], r["level"], r["target"]), []).append(r)
    levels = []
    for r in rows:
        if r["mode"] == "cached" and r["level"] not in levels:
            levels.append(r["level"])
    stats = {k: summarize(v, clk) for k, v in groups.items()}

    out = []
    w = out.append
    w("")
    w("hsgate load comparison (loopback, nginx TLS upstream with a fixed 823-byte CallRecordInfo)")
    w(f"  build: {meta.get('hsgate_build', '?')}")
    w(f"  {meta.get('nginx', '')}".replace("nginx=", "nginx ", 1))
    w(f"  {meta.get('settings', '')}".replace("settings=", "", 1))
    w("")
    w("  req/s = requests / wall time over all rounds (min-max of rounds); p50/p99 = median of the rounds' wrk")
    w("  percentiles; CPU = utime+stime per completed request (us), proxy = the hsgate process or the proxy")
    w("  nginx worker, upstream = the upstream nginx worker; new conns = TLS connections the upstream accepted")
    w("")
    hdr = (
        f"  {'mode':6} {'level':8} {'target':6} {'req/s':>8} {'(min-max)':>15} {'p50 ms':>7} {'p99 ms':>7}"
        f" {'CPU/req':>8} {'upstr/req':>9} {'new conns':>9} {'errors':>6}  note"
    )
    w(hdr)
    w("  " + "-" * (len(hdr) - 2 + 6))
    order = [("cached", lv, t) for lv in levels for t in ("direct", "nginx", "hsgate")]
    order += sorted(k for k in stats if k[0] == "fresh")
    churn = []
    for key in order:
        if key not in stats:
            continue
        s = stats[key]
        mode, level, target = key
        proxy = "-" if target == "direct" else f"{s['proxy']:.1f}"
        note = []
        if target == "hsgate" and s["hits"] + s["misses"]:
            note.append(f"token cache hits {100.0 * s['hits'] / (s['hits'] + s['misses']):.1f}%")
        if target != "direct" and s["requests"] and s["conns"] > s["requests"] / 100:
            note.append(f"upstream conn churn: {100.0 * s['conns'] / s['requests']:.0f} new per 100 req")
            churn.append((key, s))
        if s["suspect"]:
            note.append(f"SUSPECT runs: {s['suspect']}/{s['n']}")
        rng = f"({s['rps_min']:.0f}-{s['rps_max']:.0f})"
        w(
            f"  {mode:6} {level:8} {target:6} {s['rps']:8.0f} {rng:>15} {ms(s['p50']):>7} {ms(s['p99']):>7}"
            f" {proxy:>8} {s['up']:9.1f} {s['conns']:9d} {s['errors']:6d}  {', '.join(note)}"
        )

    w("")
    w("  ratios (hsgate / nginx)          " + "".join(f"{lv:>10}" for lv in levels))

    def ratio_row(label, fn):
        cells = []
        for lv in levels:
            h, n = stats.get(("cached", lv, "hsgate")), stats.get(("cached", lv, "nginx"))
            cells.append(f"{fn(h, n):10.2f}" if h and n else f"{'-':>10}")
        w(f"  {label:33}" + "".join(cells))

    ratio_row("req/s", lambda h, n: h["rps"] / n["rps"] if n["rps"] else float("nan"))
    ratio_row("CPU per request (proxy process)", lambda h, n: h["proxy"] / n["proxy"] if n["proxy"] else float("nan"))
    ratio_row(
        "CPU per request (proxy+upstream)",
        lambda h, n: (h["proxy"] + h["up"]) / (n["proxy"] + n["up"]) if n["proxy"] + n["up"] else float("nan"),
    )
    ratio_row("p50 latency", lambda h, n: h["p50"] / n["p50"] if n["p50"] else float("nan"))
    ratio_row("p99 latency", lambda h, n: h["p99"] / n["p99"] if n["p99"] else float("nan"))

    w("")
    for lv in levels:
        d = stats.get(("cached", lv, "direct"))
        if not d:
            continue
        parts = []
        for t in ("hsgate", "nginx"):
            s = stats.get(("cached", lv, t))
            if s:
                parts.append(f"{t} +{(s['p50'] - d['p50']) / 1000:.3f} ms")
        w(f"  p50 added over direct at {lv:8}: " + ", ".join(parts) + f"  (direct p50 {ms(d['p50'])} ms)")

    fresh = [k for k in stats if k[0] == "fresh"]
    for k in fresh:
        f_, c = stats[k], stats.get(("cached", k[1], "hsgate"))
        if c and c["proxy"]:
            w(
                f"  hsgate fresh-token CPU/request at {k[1]}: {f_['proxy']:.1f} us vs {c['proxy']:.1f} us cached"
                f" (x{f_['proxy'] / c['proxy']:.2f}); req/s {f_['rps']:.0f} vs {c['rps']:.0f}"
            )
        n = stats.get(("cached", k[1], "nginx"))
        if n and n["proxy"]:
            # The fresh-token target is against nginx's (cached) CPU per request.
            w(f"  hsgate fresh-token CPU/request ÷ nginx's at {k[1]}: {f_['proxy'] / n['proxy']:.2f}")
    hwm = int(meta.get("gw_hwm_kb") or 0)
    w(
        f"  hsgate peak RSS (VmHWM): {hwm / 1024:.1f} MiB (VmRSS at end {int(meta.get('gw_rss_kb') or 0) / 1024:.1f} MiB,"
        f" {meta.get('gw_threads', '?')} threads); proxy nginx worker VmHWM {int(meta.get('proxy_hwm_kb') or 0) / 1024:.1f} MiB"
    )
    w(f"  hsgate warnings/errors logged: {meta.get('gw_log_warnings', '?')}")
    for (mode, level, target), s in churn:
        hint = " (its idle pool, NGINX_KEEPALIVE, is smaller than the load; try NGINX_KEEPALIVE=256)" if target == "nginx" else ""
        w(
            f"  NOTE: {target} at {level} opened {s['conns']} new TLS connections to the upstream for {s['requests']} requests:"
            f" handshakes are part of its numbers there{hint}"
        )
    if meta.get("fresh_note"):
        w(f"  NOTE: {meta['fresh_note']}")
    bad = [(r, suspect_reasons(r)) for r in rows]
    bad = [(r, why) for r, why in bad if why]
    if bad:
        w("")
        w(f"  SUSPECT runs ({len(bad)}): numbers from these are not trustworthy")
        for r, why in bad:
            w(f"    {r['mode']} {r['level']} {r['target']} round {r['round']}: " + "; ".join(why))
    else:
        w("  no run had wrk errors or non-2xx answers")
    print("\n".join(out))


def main():
    mode = sys.argv[1]
    if mode == "--line":
        line(sys.argv[2], int(sys.argv[3]))
    elif mode == "--max-rate":
        max_rate(*sys.argv[2:6])
    elif mode == "--table":
        table(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
