#!/usr/bin/env python3
"""Side-by-side allocator benchmarks: runs every (workload, allocator) pair.

Each allocator is its own binary (bench/bench_*), run in its own process:
mimalloc, jemalloc and tcmalloc replace malloc process-wide, so no two peers
ever share a process. Runs are interleaved (A B C ... A B C) for --reps
repetitions; the report gives medians with min-max, ratios against glibc and
CPython, peak RSS and RSS after the workload freed everything, and callgrind
instructions per op for the single-thread workloads (a run with --ops=0 is
subtracted to remove start-up, fill and tear-down). Writes bench_results.md,
bench_results.json and bench_results.svg (a bar chart: one panel per
workload, one bar per allocator, min-max whiskers) into --out_dir.

  ./bazelw run -c opt //bench              # ~4 min on 2 cores
  ./bazelw run -c opt //bench -- --quick   # ~30 s
  ./bazelw run //bench -- --render_only    # the SVG from the existing JSON
Standard library only.
"""

import argparse
import datetime
import json
import math
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor

# name -> (binary, extra flags, description)
ALLOCATORS = {
    "glibc": ("bench_glibc", [], "glibc malloc"),
    "mimalloc": ("bench_mimalloc", [], "mimalloc (replaces malloc)"),
    "jemalloc": ("bench_jemalloc", [], "jemalloc (replaces malloc)"),
    "tcmalloc": ("bench_tcmalloc", [], "tcmalloc_minimal (replaces malloc)"),
    "cpython": ("bench_cpython", ["--malloc=pymalloc"],
                "CPython 3.11 obmalloc, PyObject_Malloc with the GIL held"),
    "interpheap": ("bench_interpheap", ["--malloc=pymalloc"],
                   "interpheap pymalloc, obj domain"),
    "cpython_debug": ("bench_cpython", ["--malloc=pymalloc_debug"],
                      "CPython obmalloc + debug hooks (PYTHONMALLOC=debug)"),
    "interpheap_debug": ("bench_interpheap", ["--malloc=pymalloc_debug"],
                         "interpheap pymalloc_debug"),
}
MAIN_ALLOCATORS = ["glibc", "mimalloc", "jemalloc", "tcmalloc", "cpython",
                   "interpheap"]
DEBUG_ALLOCATORS = ["cpython_debug", "interpheap_debug"]

# key -> (workload, threads, full ops, quick ops, single-thread, description)
WORKLOADS = {
    "churn": ("churn", 1, 8_000_000, 200_000, True,
              "10,000 live blocks, free a random victim + allocate, "
              "CPython-like sizes 16-512 B"),
    "lifo": ("lifo", 1, 16_000_000, 200_000, True,
             "1,000 mixed small blocks allocated, freed in reverse"),
    "fifo": ("fifo", 1, 24_000_000, 200_000, True,
             "bench-malloc-simple fifo: sizes 16/32/64, batches 25..1600"),
    "stack": ("stack", 1, 24_000_000, 200_000, True,
              "bench-malloc-simple stack (lifo) variant"),
    "realloc_grow": ("realloc_grow", 1, 4_000_000, 100_000, True,
                     "64 chains, 8 B to 4 KiB by 1.5x reallocs"),
    "large": ("large", 1, 2_000_000, 50_000, True,
              "513 B to 64 KiB, working set 1,000"),
    "threads_1": ("threads", 1, 8_000_000, 200_000, False,
                  "churn on 1 thread (interpheap: 1 interpreter)"),
    "threads_2": ("threads", 2, 8_000_000, 200_000, False,
                  "churn on 2 threads, ops per thread (interpheap: "
                  "2 interpreters)"),
    "prodcons": ("prodcons", 2, 8_000_000, 200_000, False,
                 "allocated on thread/interpreter A, freed on B"),
}
DEBUG_WORKLOADS = ["churn", "lifo"]
CALLGRIND_OPS = {"churn": 200_000, "lifo": 400_000, "fifo": 400_000,
                 "stack": 400_000, "realloc_grow": 200_000, "large": 50_000}
QUICK_CALLGRIND_OPS = 20_000


def pairs(workloads, allocators):
    """The (workload, allocator) pairs to run, in interleaved order."""
    out = []
    for w in workloads:
        for a in allocators:
            if a in DEBUG_ALLOCATORS and w not in DEBUG_WORKLOADS:
                continue
            out.append((w, a))
    return out


def command(bin_dir, allocator, workload_key, ops):
    binary, flags, _ = ALLOCATORS[allocator]
    workload, threads, *_ = WORKLOADS[workload_key]
    return [os.path.join(bin_dir, binary), f"--workload={workload}",
            f"--ops={ops}", f"--threads={threads}", "--json"] + flags


def run_once(bin_dir, allocator, workload_key, ops):
    cmd = command(bin_dir, allocator, workload_key, ops)
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}: "
                           f"{proc.stderr.strip()}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# Under valgrind, interpheap's pymalloc announces every block to memcheck
# (alloc/external/memcheck.h: client requests, and the requested-size table, reached
# only when memcheck::Active()). INTERPHEAP_PYMALLOC_UNDER_VALGRIND=native
# turns that off; should any of it still run, the
# self cost of these functions is subtracted (reported separately).
VALGRIND_ONLY = ("interpheap::alloc::memcheck::",
                 "interpheap::alloc::Heap::AnnounceAllocated(",
                 "interpheap::alloc::Heap::SetRequestedSize(",
                 "interpheap::alloc::Heap::RequestedSize(")


def valgrind_only(fn):
    return any(marker in fn for marker in VALGRIND_ONLY)


def callgrind(bin_dir, allocator, workload_key, ops, out_file):
    """(all instructions, valgrind-only instructions) inside RunWorkload."""
    cmd = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out_file}",
           "--toggle-collect=interpheap::bench::RunWorkload(*)"]
    cmd += command(bin_dir, allocator, workload_key, ops)
    # interpheap: count the native path, not memcheck's (alloc/external/memcheck.h).
    env = dict(os.environ, INTERPHEAP_PYMALLOC_UNDER_VALGRIND="native")
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1800,
                          env=env)
    match = re.search(r"Collected\s*:\s*(\d+)", proc.stderr)
    if proc.returncode != 0 or not match:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}: "
                           f"{proc.stderr.strip()[-2000:]}")
    extra = sum(ir for ir, _, fn in annotate(out_file) if valgrind_only(fn))
    return int(match.group(1)), extra


def annotate(out_file, top=None):
    """(self instructions, percent, function) of a callgrind file, largest
    first."""
    if not shutil.which("callgrind_annotate") or not os.path.exists(out_file):
        return []
    proc = subprocess.run(["callgrind_annotate", "--threshold=100",
                           "--inclusive=no", out_file],
                          capture_output=True, text=True)
    rows = []
    for line in proc.stdout.splitlines():
        m = re.match(r"\s*([\d,]+)\s+\(\s*([\d.]+)%\)\s+(.*)", line)
        if m and "PROGRAM TOTALS" not in line:
            fn = re.sub(r" \[/[^\]]*/([^/\]]+)\]$", r" [\1]",
                        m.group(3).strip())
            fn = fn.replace("???:", "")
            rows.append((int(m.group(1).replace(",", "")), float(m.group(2)),
                         fn))
    rows.sort(key=lambda r: -r[0])
    return rows if top is None else rows[:top]


def machine():
    info = {"nproc": os.cpu_count(), "kernel": platform.release(),
            "date": datetime.datetime.now(datetime.timezone.utc)
            .strftime("%Y-%m-%d %H:%M UTC")}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal"):
                    info["ram_gib"] = round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    versions = {}
    for pkg in ["libc6", "libmimalloc2.0", "libjemalloc2",
                "libtcmalloc-minimal4", "libpython3.11"]:
        try:
            proc = subprocess.run(["dpkg-query", "-W", "-f=${Version}", pkg],
                                  capture_output=True, text=True)
            if proc.returncode == 0:
                versions[pkg] = proc.stdout.strip()
        except OSError:
            pass
    info["packages"] = versions
    return info


def fmt_rate(x):
    return f"{x / 1e6:.1f}" if x >= 1e7 else f"{x / 1e6:.2f}"


def rate_cell(s):
    """"median [min-max]" in M ops/s; just the median from one repetition,
    where a min-max would say nothing."""
    cell = fmt_rate(s["median_ops_per_sec"])
    if s["reps"] > 1:
        cell += (f" [{fmt_rate(s['min_ops_per_sec'])}-"
                 f"{fmt_rate(s['max_ops_per_sec'])}]")
    return cell


def summarize(results, callgrind_ir):
    summary = {}
    for (w, a), runs in results.items():
        rates = [r["ops_per_sec"] for r in runs]
        summary.setdefault(w, {})[a] = {
            "median_ops_per_sec": statistics.median(rates),
            "min_ops_per_sec": min(rates),
            "max_ops_per_sec": max(rates),
            "median_peak_rss_kib": statistics.median(
                r["peak_rss_kib"] for r in runs),
            "median_rss_after_kib": statistics.median(
                r["rss_after_kib"] for r in runs),
            "median_rss_before_kib": statistics.median(
                r["rss_before_kib"] for r in runs),
            "verified": all(r["verified"] for r in runs),
            "threading": runs[0]["threading"],
            "reps": len(runs),
        }
    for w, per in summary.items():
        for a, s in per.items():
            for peer in ["glibc", "cpython"]:
                # Debug configurations compare with CPython's debug hooks.
                ref = ("cpython_debug" if peer == "cpython"
                       and a.endswith("_debug") else peer)
                base = per.get(ref)
                if base and base["median_ops_per_sec"] > 0:
                    s[f"vs_{peer}"] = (s["median_ops_per_sec"]
                                       / base["median_ops_per_sec"])
            if (w, a) in callgrind_ir:
                s.update(callgrind_ir[(w, a)])
    return summary


def targets(summary, judged=True):
    """The issue's targets, evaluated (reported, never asserted). Not
    `judged` (quick mode: one short repetition), no target is called met or
    missed."""
    out = []

    def rate(w, a):
        return summary.get(w, {}).get(a, {}).get("median_ops_per_sec")

    def ir(w, a):
        return summary.get(w, {}).get(a, {}).get("instructions_per_op")

    def add(name, value, goal, higher_is_better=True, unit="x"):
        if value is None:
            out.append({"target": name, "status": "not measured"})
            return
        entry = {"target": name, "value": value, "goal": goal, "unit": unit}
        if judged:
            entry["met"] = value >= goal if higher_is_better else value < goal
        out.append(entry)

    for w in ["churn", "lifo"]:
        r_i, r_c, r_m = (rate(w, "interpheap"), rate(w, "cpython"),
                         rate(w, "mimalloc"))
        add(f"{w}: interpheap >= 1.25x CPython obmalloc throughput",
            r_i / r_c if r_i and r_c else None, 1.25)
        add(f"{w}: interpheap >= mimalloc throughput",
            r_i / r_m if r_i and r_m else None, 1.0)
        i_i, i_c = ir(w, "interpheap"), ir(w, "cpython")
        add(f"{w}: interpheap instructions/op < CPython obmalloc's",
            i_i / i_c if i_i and i_c else None, 1.0, higher_is_better=False)
    t1, t2 = rate("threads_1", "interpheap"), rate("threads_2", "interpheap")
    add("2 interpreters on 2 threads >= 1.8x one",
        t2 / t1 if t1 and t2 else None, 1.8)
    for w in DEBUG_WORKLOADS:
        d_i, d_c = rate(w, "interpheap_debug"), rate(w, "cpython_debug")
        add(f"{w}: interpheap debug hooks >= CPython debug hooks throughput",
            d_i / d_c if d_i and d_c else None, 1.0)
    return out


def table_head(columns):
    """A Markdown table's header and separator: workload, then `columns`."""
    return ["| workload | " + " | ".join(columns) + " |",
            "|---|" + "---|" * len(columns)]


def table_row(label, cells):
    return f"| {label} | " + " | ".join(cells) + " |"


def markdown(info, summary, tgts, profiles, args):
    lines = []
    pk = info.get("packages", {})
    lines.append(f"Machine: {info.get('nproc')} CPUs "
                 f"({info.get('cpu', '?')}), "
                 f"{info.get('ram_gib', '?')} GiB RAM, Linux "
                 f"{info.get('kernel')}, {info.get('date')}, 1-minute load "
                 f"average {info['load_average_1min'][0]} at start and "
                 f"{info['load_average_1min'][1]} at end. "
                 f"{args.reps} repetition(s), interleaved"
                 f"{', quick mode' if args.quick else ''}.")
    if pk:
        lines.append("Versions: " + ", ".join(f"{k} {v}"
                                              for k, v in pk.items()) + ".")
    lines.append("")
    allocs = [a for a in MAIN_ALLOCATORS
              if any(a in per for per in summary.values())]
    ws = [w for w in WORKLOADS if w in summary]

    spread = " [min-max]" if args.reps > 1 else ""
    lines.append(f"Throughput, M ops/s: median{spread} (an op is one "
                 "allocation and its free; threads and prodcons count every "
                 "thread's ops):")
    lines.append("")
    lines += table_head(allocs)
    for w in ws:
        cells = []
        for a in allocs:
            s = summary[w].get(a)
            if not s:
                cells.append("")
                continue
            cell = rate_cell(s)
            if not s["verified"]:
                cell += " **UNVERIFIED**"
            cells.append(cell)
        lines.append(table_row(w, cells))
    lines.append("")

    lines.append("Ratios of medians, vs glibc / vs CPython obmalloc "
                 "(higher is faster):")
    lines.append("")
    lines += table_head(allocs)
    for w in ws:
        cells = []
        for a in allocs:
            s = summary[w].get(a)
            if not s or "vs_glibc" not in s or "vs_cpython" not in s:
                cells.append("")
                continue
            cells.append(f"{s['vs_glibc']:.2f} / {s['vs_cpython']:.2f}")
        lines.append(table_row(w, cells))
    lines.append("")

    if any("instructions_per_op" in s for per in summary.values()
           for s in per.values()):
        lines.append("Instructions per op (callgrind inside RunWorkload, "
                     "minus a run with 0 ops; single thread; includes the "
                     "same harness cost for every allocator: RNG, tags, "
                     "verification; interpheap with its valgrind-only "
                     "memcheck announcements switched off):")
        lines.append("")
        cg_allocs = allocs + [a for a in DEBUG_ALLOCATORS
                              if any(a in per for per in summary.values())]
        lines += table_head(cg_allocs)
        for w in ws:
            if not any("instructions_per_op" in s
                       for s in summary[w].values()):
                continue
            cells = []
            for a in cg_allocs:
                s = summary[w].get(a, {})
                v = s.get("instructions_per_op")
                cells.append(f"{v:.0f}" if v is not None else "")
            lines.append(table_row(w, cells))
        lines.append("")

    lines.append("Memory, MiB: start-up RSS / peak RSS (VmHWM) / RSS after "
                 "the workload freed everything (medians):")
    lines.append("")
    lines += table_head(allocs)
    for w in ws:
        cells = []
        for a in allocs:
            s = summary[w].get(a)
            if not s:
                cells.append("")
                continue
            cells.append(f"{s['median_rss_before_kib'] / 1024:.1f} / "
                         f"{s['median_peak_rss_kib'] / 1024:.1f} / "
                         f"{s['median_rss_after_kib'] / 1024:.1f}")
        lines.append(table_row(w, cells))
    lines.append("")

    dbg = [w for w in DEBUG_WORKLOADS if w in summary and
           any(a in summary[w] for a in DEBUG_ALLOCATORS)]
    if dbg:
        lines.append(f"Debug hooks, M ops/s median{spread} (CPython with "
                     "PYTHONMALLOC=debug vs interpheap `pymalloc_debug`):")
        lines.append("")
        lines.append("| workload | cpython_debug | interpheap_debug | ratio |")
        lines.append("|---|---|---|---|")
        for w in dbg:
            c, i = summary[w].get("cpython_debug"), summary[w].get(
                "interpheap_debug")
            cells = [rate_cell(s) if s else "" for s in (c, i)]
            ratio = (f"{i['median_ops_per_sec'] / c['median_ops_per_sec']:.2f}"
                     if c and i else "")
            lines.append(f"| {w} | {cells[0]} | {cells[1]} | {ratio} |")
        lines.append("")

    threading = {a: s["threading"] for per in summary.values()
                 for a, s in per.items()}
    lines.append("Threading: " + "; ".join(
        f"{a}: {t}" for a, t in threading.items() if a in allocs) + ".")
    lines.append("")

    lines.append("Targets (reported, not asserted"
                 + ("; quick mode: one short repetition, no verdict)"
                    if args.quick else ")") + ":")
    lines.append("")
    lines.append("| target | measured | goal | |")
    lines.append("|---|---|---|---|")
    for t in tgts:
        if "value" not in t:
            lines.append(f"| {t['target']} | not measured | | |")
            continue
        verdict = ("" if "met" not in t
                   else "met" if t["met"] else "**missed**")
        lines.append(f"| {t['target']} | {t['value']:.2f}x | "
                     f"{'>=' if 'instructions' not in t['target'] else '<'} "
                     f"{t['goal']:.2f}x | {verdict} |")
    lines.append("")
    for title, rows in profiles:
        lines.append(f"callgrind self cost, top functions, {title}:")
        lines.append("")
        lines.append("```")
        for ir_count, pct, fn in rows:
            lines.append(f"{ir_count:>14,} {pct:5.1f}%  {fn}")
        lines.append("```")
        lines.append("")
    return "\n".join(lines)


# Bar colors per allocator (the debug peers in lighter shades of theirs).
SVG_COLORS = {"glibc": "#7f7f7f", "mimalloc": "#1f77b4",
              "jemalloc": "#2ca02c", "tcmalloc": "#9467bd",
              "cpython": "#ff7f0e", "interpheap": "#d62728",
              "cpython_debug": "#ffbb78", "interpheap_debug": "#ff9896"}


def nice_step(top, target=4):
    """A 1, 2, 2.5 or 5 times a power of ten step giving about `target`
    steps up to `top`."""
    raw = max(top, 1e-9) / target
    magnitude = 10 ** math.floor(math.log10(raw))
    for nice in (1, 2, 2.5, 5, 10):
        if raw <= nice * magnitude:
            return nice * magnitude
    return 10 * magnitude


def svg_chart(summary, reps):
    """bench_results.svg: one panel per workload (its own y axis, M ops/s),
    one bar per allocator at the median, whiskers from min to max (none
    from a single repetition)."""
    workloads = [w for w in WORKLOADS if w in summary]
    allocs = [a for a in MAIN_ALLOCATORS + DEBUG_ALLOCATORS
              if any(a in per for per in summary.values())]
    cols, pw, ph = 3, 320, 230
    left, right, top, bottom = 52, 10, 30, 26
    legend_h = 56
    rows = max(1, (len(workloads) + cols - 1) // cols)
    width, height = cols * pw, legend_h + rows * ph
    spread = ", whiskers min-max" if reps > 1 else ""
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" '
           f'height="{height}" viewBox="0 0 {width} {height}" '
           'font-family="sans-serif">',
           f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
           '<text x="12" y="20" font-size="15" font-weight="bold" '
           'fill="#222222">Throughput, M ops/s (median of '
           f'{reps} repetition{"s" if reps != 1 else ""}{spread}; '
           'higher is faster)</text>']
    for i, a in enumerate(allocs):
        x, y = 12 + (i % 4) * 230, 32 + (i // 4) * 14
        out.append(f'<rect x="{x}" y="{y}" width="11" height="11" '
                   f'fill="{SVG_COLORS.get(a, "#444444")}"/>'
                   f'<text x="{x + 16}" y="{y + 10}" font-size="12" '
                   f'fill="#222222">{a}</text>')
    for n, w in enumerate(workloads):
        x0 = (n % cols) * pw + left
        y0 = legend_h + (n // cols) * ph + top
        plot_w, plot_h = pw - left - right, ph - top - bottom
        per = summary[w]
        present = [a for a in allocs if a in per]
        peak = max([per[a]["max_ops_per_sec"] for a in present] + [1]) / 1e6
        step = nice_step(peak)
        y_max = math.ceil(peak / step - 1e-9) * step

        def y(v):
            return y0 + plot_h - v / y_max * plot_h

        out.append(f'<text x="{x0}" y="{y0 - 10}" font-size="13" '
                   f'font-weight="bold" fill="#222222">{w}</text>')
        k = 0
        while k * step <= y_max + 1e-9:
            v = k * step
            out.append(f'<line x1="{x0}" y1="{y(v):.1f}" x2="{x0 + plot_w}" '
                       f'y2="{y(v):.1f}" stroke="#e6e6e6"/>'
                       f'<text x="{x0 - 5}" y="{y(v) + 4:.1f}" '
                       'font-size="10" text-anchor="end" '
                       f'fill="#444444">{v:g}</text>')
            k += 1
        out.append(f'<line x1="{x0}" y1="{y0}" x2="{x0}" y2="{y0 + plot_h}" '
                   'stroke="#333333"/>'
                   f'<line x1="{x0}" y1="{y0 + plot_h}" x2="{x0 + plot_w}" '
                   f'y2="{y0 + plot_h}" stroke="#333333"/>')
        slot = plot_w / max(1, len(present))
        for i, a in enumerate(present):
            s = per[a]
            med = s["median_ops_per_sec"] / 1e6
            bx = x0 + i * slot + slot * 0.15
            bw = slot * 0.7
            tip = f"{w} / {a}: {rate_cell(s)} M ops/s"
            out.append(f'<rect class="bar" x="{bx:.1f}" y="{y(med):.1f}" '
                       f'width="{bw:.1f}" height="{y(0) - y(med):.1f}" '
                       f'fill="{SVG_COLORS.get(a, "#444444")}">'
                       f'<title>{tip}</title></rect>')
            if s["reps"] > 1:
                cx = bx + bw / 2
                lo, hi = (y(s["min_ops_per_sec"] / 1e6),
                          y(s["max_ops_per_sec"] / 1e6))
                out.append(f'<path class="whisker" d="M{cx:.1f} {lo:.1f}'
                           f'V{hi:.1f}M{cx - 4:.1f} {lo:.1f}H{cx + 4:.1f}'
                           f'M{cx - 4:.1f} {hi:.1f}H{cx + 4:.1f}" '
                           'stroke="#222222" fill="none"/>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def render_only(out_dir):
    """Writes bench_results.svg from the bench_results.json in `out_dir`."""
    with open(os.path.join(out_dir, "bench_results.json")) as f:
        doc = json.load(f)
    with open(os.path.join(out_dir, "bench_results.svg"), "w") as f:
        f.write(svg_chart(doc["summary"], doc["settings"]["reps"]))
    print(f"wrote {out_dir}/bench_results.svg")
    return 0


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    workspace = os.environ.get("BUILD_WORKSPACE_DIRECTORY")
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--out_dir", default=None,
                   help="where bench_results.{md,json} go (default under "
                   "bazel run: the workspace's bench/latest, "
                   "or bench/quick with --quick, so a quick "
                   "run never replaces the published results)")
    p.add_argument("--bin_dir", default=here,
                   help="directory holding the bench_* binaries")
    p.add_argument("--reps", type=int, default=None,
                   help="repetitions (default 5, quick 1)")
    p.add_argument("--quick", action="store_true",
                   help="1 repetition, small op counts, callgrind on churn "
                   "only")
    p.add_argument("--scale", type=float, default=1.0,
                   help="multiply every op count")
    p.add_argument("--workloads", default=",".join(WORKLOADS),
                   help="comma-separated subset of: " + ",".join(WORKLOADS))
    p.add_argument("--allocators",
                   default=",".join(MAIN_ALLOCATORS + DEBUG_ALLOCATORS),
                   help="comma-separated subset of: " + ",".join(ALLOCATORS))
    p.add_argument("--no_callgrind", action="store_true",
                   help="skip the callgrind instruction counts")
    p.add_argument("--callgrind_workloads", default=None,
                   help="single-thread workloads measured with callgrind "
                   "(default: all of them; quick: churn)")
    p.add_argument("--callgrind_dir", default=None,
                   help="keep the callgrind output files here (default: a "
                   "temporary directory, removed at the end)")
    p.add_argument("--jobs", type=int, default=2,
                   help="parallel callgrind runs (timed runs are always one "
                   "at a time)")
    p.add_argument("--render_only", action="store_true",
                   help="run nothing: write bench_results.svg from the "
                   "bench_results.json already in --out_dir")
    args = p.parse_args()
    if args.out_dir is None and workspace:
        args.out_dir = os.path.join(workspace, "bench",
                                    "quick" if args.quick else "latest")
    if args.out_dir is None:
        p.error("--out_dir is required outside `bazel run`")
    if args.render_only:
        return render_only(args.out_dir)
    if args.reps is None:
        args.reps = 1 if args.quick else 5
    workloads = [w for w in args.workloads.split(",") if w]
    allocators = [a for a in args.allocators.split(",") if a]
    for w in workloads:
        if w not in WORKLOADS:
            p.error(f"unknown workload {w}")
    for a in allocators:
        if a not in ALLOCATORS:
            p.error(f"unknown allocator {a}")
    os.makedirs(args.out_dir, exist_ok=True)

    load_at_start = os.getloadavg()[0]
    todo = pairs(workloads, allocators)
    results = {pair: [] for pair in todo}
    total = len(todo) * args.reps
    n = 0
    for rep in range(args.reps):
        for w, a in todo:
            n += 1
            full, quick = WORKLOADS[w][2], WORKLOADS[w][3]
            ops = max(1, int((quick if args.quick else full) * args.scale))
            r = run_once(args.bin_dir, a, w, ops)
            results[(w, a)].append(r)
            print(f"[{n}/{total}] rep {rep + 1} {w:<13} {a:<17} "
                  f"{r['ops_per_sec'] / 1e6:8.2f} M ops/s  "
                  f"peak {r['peak_rss_kib'] / 1024:7.1f} MiB  "
                  f"after {r['rss_after_kib'] / 1024:7.1f} MiB"
                  f"{'' if r['verified'] else '  VERIFICATION FAILED'}",
                  flush=True)

    callgrind_ir = {}
    profiles = []
    cg_dir = args.callgrind_dir or tempfile.mkdtemp(prefix="bench_cg_")
    if not args.no_callgrind and shutil.which("valgrind"):
        if args.callgrind_workloads is not None:
            cg_ws = [w for w in args.callgrind_workloads.split(",") if w]
        else:
            cg_ws = ["churn"] if args.quick else [
                w for w in WORKLOADS if WORKLOADS[w][4]]
        cg_pairs = [(w, a) for (w, a) in todo
                    if w in cg_ws and WORKLOADS[w][4]]
        os.makedirs(cg_dir, exist_ok=True)
        jobs = []
        for w, a in cg_pairs:
            ops = QUICK_CALLGRIND_OPS if args.quick else CALLGRIND_OPS[w]
            jobs.append((w, a, 0,
                         os.path.join(cg_dir, f"callgrind.{w}.{a}.base.out")))
            jobs.append((w, a, ops,
                         os.path.join(cg_dir, f"callgrind.{w}.{a}.out")))
        print(f"callgrind: {len(jobs)} runs, {args.jobs} at a time",
              flush=True)
        with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            futures = {job: pool.submit(callgrind, args.bin_dir, job[1],
                                        job[0], job[2], job[3])
                       for job in jobs}
            counts = {job[:3]: f.result() for job, f in futures.items()}
        for w, a in cg_pairs:
            ops = QUICK_CALLGRIND_OPS if args.quick else CALLGRIND_OPS[w]
            base, base_vg = counts[(w, a, 0)]
            full, full_vg = counts[(w, a, ops)]
            callgrind_ir[(w, a)] = {
                "instructions_per_op": ((full - full_vg) - (base - base_vg))
                / ops,
                "instructions_per_op_with_valgrind_requests": (full - base)
                / ops,
                "callgrind_ops": ops,
            }
            print(f"callgrind {w:<13} {a:<17} "
                  f"{callgrind_ir[(w, a)]['instructions_per_op']:8.1f} "
                  "instructions/op", flush=True)
        for w in ["churn", "lifo"]:
            for a in ["interpheap", "cpython"]:
                f = os.path.join(cg_dir, f"callgrind.{w}.{a}.out")
                rows = [r for r in annotate(f) if not valgrind_only(r[2])]
                if rows:
                    ops = (QUICK_CALLGRIND_OPS if args.quick
                           else CALLGRIND_OPS[w])
                    profiles.append((f"{w}, {a} (RunWorkload, {ops:,} ops "
                                     "plus fill and tear-down; memcheck "
                                     "requests left out)", rows[:10]))

    if not args.callgrind_dir:
        shutil.rmtree(cg_dir, ignore_errors=True)
    summary = summarize(results, callgrind_ir)
    tgts = targets(summary, judged=not args.quick)
    info = machine()
    # Other processes on the machine skew timings (not instruction counts).
    info["load_average_1min"] = [round(load_at_start, 2),
                                 round(os.getloadavg()[0], 2)]
    md = markdown(info, summary, tgts, profiles, args)
    doc = {
        "machine": info,
        "settings": {"reps": args.reps, "quick": args.quick,
                     "scale": args.scale,
                     "ops": {w: max(1, int((WORKLOADS[w][3] if args.quick
                                            else WORKLOADS[w][2]) *
                                           args.scale))
                             for w in workloads},
                     "workloads": {w: WORKLOADS[w][5] for w in workloads},
                     "allocators": {a: ALLOCATORS[a][2] for a in allocators}},
        "summary": summary,
        "targets": tgts,
        "runs": [r for runs in results.values() for r in runs],
        "verified": all(r["verified"] for runs in results.values()
                        for r in runs),
    }
    with open(os.path.join(args.out_dir, "bench_results.md"), "w") as f:
        f.write(md + "\n")
    with open(os.path.join(args.out_dir, "bench_results.json"), "w") as f:
        json.dump(doc, f, indent=1, sort_keys=True)
        f.write("\n")
    with open(os.path.join(args.out_dir, "bench_results.svg"), "w") as f:
        f.write(svg_chart(summary, args.reps))
    print()
    print(md)
    print(f"wrote {args.out_dir}/bench_results.md, bench_results.json and "
          "bench_results.svg")
    return 0 if doc["verified"] else 1


if __name__ == "__main__":
    sys.exit(main())
