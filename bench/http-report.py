"""Turns the wrk runs of run-http-bench.sh into bench/results/http.md (table) and http.svg (bars)."""
import statistics, sys, subprocess, datetime

runs_path, md_path, svg_path, duration = sys.argv[1:5]
warmup = sys.argv[5] if len(sys.argv) > 5 else "3s"
rows = {}
for line in open(runs_path):
    mode, _, rps, p99 = line.split("\t")
    p99 = p99.strip()
    ms = float(p99[:-2]) if p99.endswith("ms") else float(p99[:-2]) / 1000 if p99.endswith("us") else float(p99[:-1]) * 1000
    rows.setdefault(mode, []).append((float(rps), ms))

def median(mode, i):
    return statistics.median(r[i] for r in rows[mode])

none = median("none", 0)
floor = median("noop-auth", 0) if "noop-auth" in rows else None
labels = {
    "none": "no authentication",
    "noop-auth": "floor: ASP.NET auth pipeline, handler checks nothing",
    "bouncer-session-sqlite": "Bouncer session, SQLite (+ near cache)",
    "bouncer-session-redis": "Bouncer session, Redis + near cache",
    "bouncer-session-redis-nocache": "Bouncer session, Redis, no near cache",
    "bouncer-jwt-hs256": "Bouncer JWT HS256",
    "bouncer-jwt-rs256": "Bouncer JWT RS256",
    "bouncer-jwt-es256": "Bouncer JWT ES256",
    "cookie": "ASP.NET cookie auth",
    "jwtbearer-hs256": "AddJwtBearer HS256",
    "jwtbearer-rs256": "AddJwtBearer RS256",
    "jwtbearer-es256": "AddJwtBearer ES256",
}
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "unknown")
cores = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
with open(md_path, "w") as md:
    md.write("# HTTP benchmark: GET /api/me\n\n")
    md.write(f"wrk, 2 threads, 32 connections, {duration} per run after a {warmup} warm-up; median of 3 interleaved rounds (every setup's server up at once, round 1 of each, then round 2, ...). ")
    md.write(f"Server and load generator share this machine: {cores} cores, {cpu}. {datetime.date.today()}.\n")
    md.write("Produced by `bench/run-http-bench.sh`.\n\n")
    md.write("| setup | req/s (median) | min..max | p99 ms (median) | vs none | vs floor |\n|---|---:|---:|---:|---:|---:|\n")
    for mode in labels:
        if mode not in rows: continue
        rps = [r[0] for r in rows[mode]]
        vs_floor = format(median(mode, 0) / floor, ".0%") if floor else "n/a"
        md.write(f"| {labels[mode]} | {median(mode, 0):,.0f} | {min(rps):,.0f}..{max(rps):,.0f} | {median(mode, 1):.2f} | {median(mode, 0) / none:.0%} | {vs_floor} |\n")

width, bar_h, gap, left = 760, 22, 8, 300
modes = [m for m in labels if m in rows]
height = 40 + len(modes) * (bar_h + gap)
top = max(median(m, 0) for m in modes)
svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="12">',
       f'<text x="10" y="20" font-size="14">GET /api/me, req/s (median of 3), 32 connections</text>']
for i, m in enumerate(modes):
    y = 34 + i * (bar_h + gap)
    w = (width - left - 90) * median(m, 0) / top
    colour = "#2f4bb8" if m.startswith("bouncer") else "#0b6e3a" if m in ("none", "noop-auth") else "#888"
    svg.append(f'<text x="{left - 6}" y="{y + 15}" text-anchor="end">{labels[m]}</text>')
    svg.append(f'<rect x="{left}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{colour}"/>')
    svg.append(f'<text x="{left + w + 4:.1f}" y="{y + 15}">{median(m, 0):,.0f}</text>')
svg.append("</svg>")
open(svg_path, "w").write("\n".join(svg))
print(open(md_path).read())
