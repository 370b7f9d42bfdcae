"""Own-GIL scaling: N interpreters with their own GIL on N threads.

Runs tests/pyhost/own_gil.py's `bench` mode (N own-GIL interpreters on N
threads, each an allocation-heavy pure-Python loop of OPS iterations) on
pyhost3.X and on the same CPython's own python3.X (obmalloc), N = 1 and 2,
interleaved, REPS times; reports the median wall-clock seconds, the
throughput (iterations per second over all interpreters), the 2-vs-1
scaling, and the median CPU time per iteration with one and with two
interpreters, as a Markdown table. On a shared machine the wall clock
moves with the neighbours; the CPU time per iteration does much less, and
if two interpreters shared a written cache line or a lock it would rise
from one interpreter to two.

  ./bazelw run -c opt //bench:own_gil_scaling -- [--reps=5] [--ops=300000]
"""
import argparse
import os
import statistics
import subprocess
import sys


def run(cmd):
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{done.stderr}")
    wall, cpu = done.stdout.strip().splitlines()[-1].split()
    return float(wall), float(cpu)


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--root",
                   default=os.path.dirname(os.path.dirname(
                       os.path.abspath(__file__))),
                   help="runfiles root (default: the parent of bench/)")
    p.add_argument("--pythons", required=True,
                   help="VERSION=STOCK_PYTHON,... (absent versions omitted)")
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--ops", type=int, default=300000)
    args = p.parse_args()
    if args.reps < 1 or args.ops < 1:
        p.error("--reps and --ops must be positive")
    script = os.path.join(args.root, "tests", "pyhost", "own_gil.py")
    load_before = os.getloadavg()
    rows = []
    for item in filter(None, args.pythons.split(",")):
        version, stock = item.split("=", 1)
        pyhost = os.path.join(args.root, "pyhost", "pyhost" + version)
        hosts = [(f"pyhost{version} (interpheap)", pyhost),
                 (f"python{version} (obmalloc)", stock)]
        times = {(name, n): [] for name, _ in hosts for n in (1, 2)}
        cpus = {(name, n): [] for name, _ in hosts for n in (1, 2)}
        for _ in range(args.reps):
            for n in (1, 2):
                for name, exe in hosts:
                    wall, cpu = run(
                        [exe, script, "bench", str(n), str(args.ops)])
                    times[(name, n)].append(wall)
                    cpus[(name, n)].append(cpu)
        for name, _ in hosts:
            t1 = statistics.median(times[(name, 1)])
            t2 = statistics.median(times[(name, 2)])
            rate1 = args.ops / t1
            rate2 = 2 * args.ops / t2
            # CPU microseconds per iteration.
            c1 = statistics.median(cpus[(name, 1)]) * 1e6 / args.ops
            c2 = statistics.median(cpus[(name, 2)]) * 1e6 / (2 * args.ops)
            rows.append((name, t1, t2, rate1, rate2, rate2 / rate1, c1, c2))
    load_after = os.getloadavg()
    print(f"{args.ops} iterations per interpreter, median of {args.reps} "
          "interleaved runs; load average (1, 5, 15 min) "
          f"{' '.join(f'{x:.2f}' for x in load_before)} before, "
          f"{' '.join(f'{x:.2f}' for x in load_after)} after, "
          f"{os.cpu_count()} CPUs\n")
    print("| host | 1 interp. s | 2 interp. s | 1: it/s | 2: it/s | scaling "
          "| CPU us/it, 1 | CPU us/it, 2 |")
    print("|---|---|---|---|---|---|---|---|")
    for name, t1, t2, r1, r2, scale, c1, c2 in rows:
        print(f"| {name} | {t1:.3f} | {t2:.3f} | {r1:,.0f} | {r2:,.0f} | "
              f"{scale:.2f}x | {c1:.3f} | {c2:.3f} |")


if __name__ == "__main__":
    main()
