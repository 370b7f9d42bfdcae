"""Own-GIL interpreters on threads, run by pyhost3.12 / pyhost3.13.

    own_gil.py check N TMP    N interpreters with their own GIL on N threads
                              allocate, hand bytes objects round a ring of
                              channels (interpreter k to k+1), and report
                              which interpheap interpreter served them;
                              prints JSON.
    own_gil.py cycles N       creates and destroys N interpreters; prints the
                              RSS after 10% and after all of them (KiB), and
                              on pyhost the arena bytes mapped and committed.
    own_gil.py bench N OPS    N interpreters on N threads each run OPS
                              iterations of an allocation-heavy loop; prints
                              the wall-clock and the process CPU seconds.
"""
import json
import sys
import threading
import time

try:  # 3.13
    import _interpchannels as _c
    import _interpreters as _i

    def create_channel():
        return _c.create(1)  # unboundop 1: drop items of a gone interpreter

    def create():
        return _i.create("isolated")

    def run(interp, code):
        failure = _i.exec(interp, code)
        if failure is not None:
            raise RuntimeError(failure.formatted)
except ImportError:  # 3.12
    import _xxinterpchannels as _c
    import _xxsubinterpreters as _i

    def create_channel():
        return _c.create()

    def create():
        return _i.create(isolated=True)

    def run(interp, code):
        _i.run_string(interp, code)

try:
    import _interpheap  # pyhost only; stock CPython runs `cycles` too
except ImportError:
    _interpheap = None

WORK = """
table = {{}}
for i in range({ops}):
    table[i % 1000] = [str(i), (i, i + 1), {{"k": i}}, bytearray(i % 200)]
"""

# Sends ITEMS bytes objects to the next interpreter (without waiting for
# them to be taken, where 3.13 would wait) and takes as many from the
# previous one.
RING = """
import {module} as C
out = C._channel_id({out}, force=True)
inn = C._channel_id({inn}, force=True)
kw = {{"blocking": False}} if C.__name__ == "_interpchannels" else {{}}
for i in range({items}):
    C.send(out, b"x" * (i % 300) + str(i).encode(), **kw)
got = 0
while got < {items}:
    try:
        C.recv(inn)
        got += 1
    except C.ChannelEmptyError:
        pass
"""

REPORT = """
import _interpheap, json
with open({path!r}, "w") as out:
    json.dump({{"interpreter": _interpheap.interpreter_id(),
               "blocks": _interpheap.allocated_blocks(),
               "remote_frees": _interpheap.remote_frees()}}, out)
"""


def on_threads(interps, code_for):
    errors = []

    def body(index, interp):
        try:
            run(interp, code_for(index))
        except Exception as e:  # reported below, the test fails
            errors.append(repr(e))

    threads = [threading.Thread(target=body, args=(k, interp))
               for k, interp in enumerate(interps)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise SystemExit("interpreter failed: " + "; ".join(errors))


def check(n, tmp):
    interps = [create() for _ in range(n)]
    channels = [create_channel() for _ in range(n)]  # alive until the end
    ids = [int(c) for c in channels]
    on_threads(interps, lambda k: WORK.format(ops=50000) + RING.format(
        module=_c.__name__, out=ids[k], inn=ids[(k + 1) % n], items=2000))
    paths = [f"{tmp}/report{k}.json" for k in range(n)]
    on_threads(interps, lambda k: REPORT.format(path=paths[k]))
    reports = [json.load(open(p)) for p in paths]
    for interp in interps:
        _i.destroy(interp)
    live, retired = _interpheap.interpreters()
    print(json.dumps({
        "main": _interpheap.interpreter_id(),
        "subinterpreters": reports,
        "live": live,
        "retired": retired,
    }))


def rss_kib():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def cycles(n):
    marks = {}
    for k in range(1, n + 1):
        interp = create()
        run(interp, "x = [str(i) for i in range(2000)]")
        _i.destroy(interp)
        if k == n // 10:
            marks["rss_after_10pct"] = rss_kib()
    marks["rss_after_all"] = rss_kib()
    if _interpheap is not None:
        marks["live"], marks["retired"] = _interpheap.interpreters()
        mapped, decommitted = _interpheap.arena_bytes()
        marks["arena_kib_mapped"] = mapped // 1024
        marks["arena_kib_committed"] = (mapped - decommitted) // 1024
        marks["global_allocated_blocks"] = _interpheap.global_allocated_blocks()
    print(json.dumps(marks))


def bench(n, ops):
    interps = [create() for _ in range(n)]
    start = time.perf_counter()
    cpu_start = time.process_time()
    on_threads(interps, lambda k: WORK.format(ops=ops))
    cpu = time.process_time() - cpu_start
    print(f"{time.perf_counter() - start:.3f} {cpu:.3f}")
    for interp in interps:
        _i.destroy(interp)


if __name__ == "__main__":
    if sys.argv[1] == "check":
        check(int(sys.argv[2]), sys.argv[3])
    elif sys.argv[1] == "cycles":
        cycles(int(sys.argv[2]))
    elif sys.argv[1] == "bench":
        bench(int(sys.argv[2]), int(sys.argv[3]))
    else:
        raise SystemExit(__doc__)
