#!/usr/bin/env python3
"""Python programs on pyhost against the same libpython on CPython's obmalloc.

Runs the allocation-heavy pure-Python scripts of bench/python/ on
  launcher         bench/python_launcher: Py_BytesMain on libpython3.11.so,
                   CPython's obmalloc (the fair baseline: Debian's static
                   /usr/bin/python3.11 is itself 1.2-1.5x faster)
  pyhost           pyhost, interpheap's default configuration
  launcher_debug   the launcher with PYTHONMALLOC=debug (CPython's hooks)
  pyhost_debug     pyhost with PYTHONMALLOC=debug (interpheap's
                   pymalloc_debug)
and reports, per script, callgrind instructions (noise-free; pyhost runs
with INTERPHEAP_PYMALLOC_UNDER_VALGRIND=native so that pymalloc keeps its
native path under valgrind; every run has PYTHONHASHSEED=0) and the median CPU time (user + sys) of --reps
interleaved runs. It also reports `-c pass` start-up instructions and the
instructions of one uncontended lock + unlock pair (bench/bench_mutex: the
difference of two callgrind runs divided by the number of pairs).
Writes python_programs.md and python_programs.json into --out_dir.

  ./bazelw run -c opt //bench:python_programs             # ~10 min, 2 cores
  ./bazelw run -c opt //bench:python_programs -- --quick  # ~1 min
Standard library only.
"""

import argparse
import datetime
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

# name -> (binary key, environment, description)
VARIANTS = {
    "launcher": ("launcher", {}, "same libpython, CPython obmalloc"),
    "pyhost": ("pyhost", {}, "pyhost, interpheap default (pymalloc)"),
    "launcher_debug": ("launcher", {"PYTHONMALLOC": "debug"},
                       "same libpython, PYTHONMALLOC=debug"),
    "pyhost_debug": ("pyhost", {"PYTHONMALLOC": "debug"},
                     "pyhost, PYTHONMALLOC=debug (pymalloc_debug)"),
}
# (variant, baseline) pairs whose ratio the report gives.
RATIOS = [("pyhost", "launcher"), ("pyhost_debug", "launcher_debug")]

SCRIPTS = {
    "churn": "dict/list/tuple/instance churn",
    "json_roundtrip": "json.dumps + json.loads of a nested document",
    "regex_compile": "600 distinct patterns compiled (re.purge between)",
    "tree": "binary trees of __slots__ nodes built and walked",
    "stdlib_test": "CPython's test_sort through unittest",
}

LOCKS = {
    "sync": "sync::Mutex (futex word + owner, own cache line)",
    "absl": "absl::Mutex as Debian ships it (deadlock detection on)",
    "absl_nodeadlock": "absl::Mutex, SetMutexDeadlockDetectionMode(kIgnore)",
}
LOCK_PAIRS = 200_000

# The environment of every run: none of the allocator switches leak in.
CLEAN_ENV_DROP = ("PYTHONMALLOC", "INTERPHEAP_MALLOC", "PYTHONDEVMODE",
                  "PYTHONHOME", "PYTHONPATH", "INTERPHEAP_MALLOCSTATS")


def run_env(extra):
    env = {k: v for k, v in os.environ.items() if k not in CLEAN_ENV_DROP}
    env["INTERPHEAP_PYMALLOC_UNDER_VALGRIND"] = "native"
    # Hash randomization changes dict layouts, hence instruction counts,
    # from run to run: one fixed seed makes them repeatable.
    env["PYTHONHASHSEED"] = "0"
    env.update(extra)
    return env


def callgrind_total(cmd, env, cwd):
    """Instructions executed by `cmd` (callgrind's Collected total)."""
    proc = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"] +
        cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, text=True, check=False)
    match = re.search(r"Collected : (\d+)", proc.stderr)
    if proc.returncode != 0 or not match:
        raise RuntimeError(f"callgrind failed ({proc.returncode}): {cmd}\n"
                           f"{proc.stderr[-2000:]}")
    return int(match.group(1))


def cpu_seconds(cmd, env, cwd):
    """User + system CPU seconds of one run of `cmd`."""
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    stderr = proc.stderr.read().decode(errors="replace")
    proc.stderr.close()
    if proc.returncode != 0:
        raise RuntimeError(f"run failed ({proc.returncode}): {cmd}\n"
                           f"{stderr[-2000:]}")
    return usage.ru_utime + usage.ru_stime


def ratio(a, b):
    return a / b if b else float("nan")


def measure(args, binaries, scripts_dir, work_dir):
    results = {"lock": {}, "startup": {}, "scripts": {}}
    jobs = []  # (key path, callable)

    def cg_job(path, cmd, env):
        jobs.append((path, lambda: callgrind_total(cmd, env, work_dir)))

    for lock in LOCKS:
        for pairs in (0, LOCK_PAIRS):
            cg_job(("lock", lock, pairs),
                   [binaries["bench_mutex"], f"--lock={lock}",
                    f"--pairs={pairs}"], run_env({}))
    for variant, (binary, env, _) in VARIANTS.items():
        cg_job(("startup", variant), [binaries[binary], "-c", "pass"],
               run_env(env))
        if not args.quick:
            for script in SCRIPTS:
                cg_job(("scripts", script, variant, "instructions"),
                       [binaries[binary],
                        os.path.join(scripts_dir, script + ".py")],
                       run_env(env))

    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futures = [(path, pool.submit(fn)) for path, fn in jobs]
        for path, future in futures:
            value = future.result()
            node = results
            for key in path[:-1]:
                node = node.setdefault(key, {})
            node[path[-1]] = value
            print(f"  callgrind {'/'.join(map(str, path))}: {value:,}",
                  flush=True)

    for lock in LOCKS:
        counts = results["lock"][lock]
        counts["per_pair"] = (counts[LOCK_PAIRS] - counts[0]) / LOCK_PAIRS

    # CPU time: interleaved (every variant once per round), one at a time.
    times = {(s, v): [] for s in SCRIPTS for v in VARIANTS}
    for rep in range(args.reps):
        for script in SCRIPTS:
            for variant, (binary, env, _) in VARIANTS.items():
                times[(script, variant)].append(cpu_seconds(
                    [binaries[binary],
                     os.path.join(scripts_dir, script + ".py")],
                    run_env(env), work_dir))
        print(f"  cpu time round {rep + 1}/{args.reps} done", flush=True)
    for (script, variant), samples in times.items():
        node = results["scripts"].setdefault(script, {}).setdefault(variant,
                                                                    {})
        node["cpu_median_s"] = statistics.median(samples)
        node["cpu_min_s"] = min(samples)
        node["cpu_max_s"] = max(samples)
    return results


def table(head, rows):
    lines = ["| " + " | ".join(head) + " |",
             "|" + "|".join("---" for _ in head) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def markdown(results, args):
    out = [f"# Python programs: pyhost vs the same libpython "
           f"({datetime.date.today().isoformat()})", ""]
    out.append(f"{platform.machine()}, {os.cpu_count()} cores, "
               f"{args.reps} interleaved CPU-time rounds"
               f"{' (quick: no script callgrind runs)' if args.quick else ''}."
               " Instructions are callgrind totals (noise-free); CPU times "
               "are medians of user + sys.")
    out += ["", "## One uncontended lock + unlock pair", ""]
    out.append(table(["lock", "instructions per pair", "what"], [
        (lock, f"{results['lock'][lock]['per_pair']:.0f}", LOCKS[lock])
        for lock in LOCKS]))
    out += ["", "## Start-up: `-c pass`", ""]
    base = results["startup"]["launcher"]
    out.append(table(["variant", "instructions", "vs launcher"], [
        (v, f"{results['startup'][v]:,}",
         f"{ratio(results['startup'][v], base):.3f}x") for v in VARIANTS]))
    out += ["", "## Scripts (bench/python/)", ""]
    head = ["script"]
    for variant, base in RATIOS:
        head += [f"{variant} / {base} instructions"]
    for variant, base in RATIOS:
        head += [f"{variant} / {base} CPU"]
    head += [f"{v} instructions (M)" for v in VARIANTS]
    head += [f"{v} CPU (s)" for v in VARIANTS]
    rows = []
    for script in SCRIPTS:
        r = results["scripts"][script]
        row = [script]
        for variant, base in RATIOS:
            if "instructions" in r[variant]:
                row.append(f"{ratio(r[variant]['instructions'], r[base]['instructions']):.3f}x")
            else:
                row.append("-")
        for variant, base in RATIOS:
            row.append(f"{ratio(r[variant]['cpu_median_s'], r[base]['cpu_median_s']):.2f}x")
        for v in VARIANTS:
            n = r[v].get("instructions")
            row.append(f"{n / 1e6:,.0f}" if n else "-")
        for v in VARIANTS:
            row.append(f"{r[v]['cpu_median_s']:.3f}")
        rows.append(row)
    out.append(table(head, rows))
    out += ["", "Scripts:", ""]
    out += [f"- `{s}.py`: {d}" for s, d in SCRIPTS.items()]
    out += ["", "Variants:", ""]
    out += [f"- `{v}`: {d}" for v, (_, _, d) in VARIANTS.items()]
    return "\n".join(out) + "\n"


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bin_dir", default=here,
                        help="directory holding python_launcher, "
                        "bench_mutex (and ../pyhost/pyhost)")
    parser.add_argument("--pyhost", default=None,
                        help="the pyhost binary (default: "
                        "<bin_dir>/../pyhost/pyhost)")
    parser.add_argument("--scripts_dir", default=os.path.join(here, "python"))
    parser.add_argument("--out_dir", default=None,
                        help="default: bench/latest/ of the source tree "
                        "(BUILD_WORKSPACE_DIRECTORY under bazel run)")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=2,
                        help="parallel callgrind runs")
    parser.add_argument("--quick", action="store_true",
                        help="callgrind only for start-up and the lock; "
                        "one CPU-time round")
    args = parser.parse_args()
    if args.quick:
        args.reps = 1
    binaries = {
        "launcher": os.path.join(args.bin_dir, "python_launcher"),
        "bench_mutex": os.path.join(args.bin_dir, "bench_mutex"),
        "pyhost": args.pyhost or os.path.join(args.bin_dir, os.pardir,
                                              "pyhost", "pyhost"),
    }
    for name, path in binaries.items():
        if not os.access(path, os.X_OK):
            sys.exit(f"python_programs: {name} not found at {path}")
    out_dir = args.out_dir
    if out_dir is None:
        workspace = os.environ.get("BUILD_WORKSPACE_DIRECTORY")
        out_dir = os.path.join(workspace or os.path.dirname(here), "bench",
                               "latest")
    os.makedirs(out_dir, exist_ok=True)
    start = time.time()
    with tempfile.TemporaryDirectory(prefix="python_programs_") as work_dir:
        results = measure(args, binaries, os.path.abspath(args.scripts_dir),
                          work_dir)
    results["meta"] = {"date": datetime.date.today().isoformat(),
                       "reps": args.reps, "quick": args.quick,
                       "seconds": round(time.time() - start, 1),
                       "lock_pairs": LOCK_PAIRS}
    # JSON keys must be strings.
    for lock in LOCKS:
        results["lock"][lock] = {str(k): v
                                 for k, v in results["lock"][lock].items()}
    text = markdown(results, args)
    with open(os.path.join(out_dir, "python_programs.md"), "w") as f:
        f.write(text)
    with open(os.path.join(out_dir, "python_programs.json"), "w") as f:
        json.dump(results, f, indent=2, sort_keys=True)
        f.write("\n")
    print(text)
    print(f"wrote {out_dir}/python_programs.{{md,json}}")


if __name__ == "__main__":
    main()
