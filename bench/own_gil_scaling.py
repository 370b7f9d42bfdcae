"""Own-GIL scaling: N interpreters with their own GIL on N threads.

Runs tests/pyhost/own_gil.py's `bench` mode (N own-GIL interpreters on N
threads, each an allocation-heavy pure-Python loop of OPS iterations) on
pyhost3.X and on the same CPython's own python3.X (obmalloc), N = 1 and 2,
interleaved, REPS times; reports the median wall-clock seconds, the
throughput (iterations per second over all interpreters) and the 2-vs-1
scaling, as a Markdown table.

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
    return float(done.stdout.strip().splitlines()[-1])


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
    rows = []
    for item in filter(None, args.pythons.split(",")):
        version, stock = item.split("=", 1)
        pyhost = os.path.join(args.root, "pyhost", "pyhost" + version)
        hosts = [(f"pyhost{version} (interpheap)", pyhost),
                 (f"python{version} (obmalloc)", stock)]
        times = {(name, n): [] for name, _ in hosts for n in (1, 2)}
        for _ in range(args.reps):
            for n in (1, 2):
                for name, exe in hosts:
                    times[(name, n)].append(
                        run([exe, script, "bench", str(n), str(args.ops)]))
        for name, _ in hosts:
            t1 = statistics.median(times[(name, 1)])
            t2 = statistics.median(times[(name, 2)])
            rate1 = args.ops / t1
            rate2 = 2 * args.ops / t2
            rows.append((name, t1, t2, rate1, rate2, rate2 / rate1))
    print(f"{args.ops} iterations per interpreter, median of {args.reps} "
          "interleaved runs\n")
    print("| host | 1 interp. s | 2 interp. s | 1: it/s | 2: it/s | scaling |")
    print("|---|---|---|---|---|---|")
    for name, t1, t2, r1, r2, scale in rows:
        print(f"| {name} | {t1:.3f} | {t2:.3f} | {r1:,.0f} | {r2:,.0f} | "
              f"{scale:.2f}x |")


if __name__ == "__main__":
    main()
