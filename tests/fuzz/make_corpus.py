#!/usr/bin/env python3
"""Writes the seed corpus of the fuzz target into tests/fuzz/corpus/.

Each seed is a small operation sequence in interpheap_fuzz.cc's input
format, one per operation family, so that libFuzzer starts from inputs that
reach every part of the model. Run it after changing the input format:

    tests/fuzz/make_corpus.py && git add tests/fuzz/corpus
"""

import os
import sys

RAW, MEM, OBJ = 0, 1, 2
# Lifecycle sub-operations and configuration indexes (kConfigs).
PRE_INIT, INIT, FINALIZE, RESET, APPLY = 0, 1, 2, 3, 4
DEFAULT, DEBUG, MALLOC, MALLOC_DEBUG, PYMALLOC, PYMALLOC_DEBUG = range(6)
MIMALLOC, MIMALLOC_DEBUG, BAD_CONFIG = 6, 7, 8
HOOK_A, HOOK_B, HOOK_C = 0, 1, 2


# DecodeSize's kEdges, in order.
EDGES = [0, 1, 15, 16, 17, 31, 32, 33, 463, 464, 465, 479, 480, 481, 487,
         488, 489, 495, 496, 497, 511, 512, 513, 520, 536, 537, 1024, 4095,
         4096, 4097, 16384, 65536]


def size(n):
    """The (a, b) pair DecodeSize turns into n bytes: below 512, an edge,
    512 + 4k up to 1532, or a multiple of 64 below 16384."""
    if n < 256:
        return [1, n]
    if n in EDGES:
        return [3, EDGES.index(n)]
    if n < 512:
        return [2, n - 256]
    if n <= 1532 and (n - 512) % 4 == 0:
        return [4, (n - 512) // 4]
    if n % 64 == 0 and n < 16384:
        return [5, n // 64]
    raise ValueError(n)


def too_big():
    return [7, 253]


def malloc(d, n):
    return [d, 0] + (size(n) if isinstance(n, int) else n)


def calloc(d, n):
    return [d, 4] + size(n)


def realloc_null(d, n):
    return [d, 6] + size(n)


def realloc(d, pick, n):
    return [3 + d, pick] + (size(n) if isinstance(n, int) else n)


def free(d, pick=0):
    return [6 + d, pick]


def create(shape):
    """0 NULL, 1 own/own, 2 main/main, 3 main/own, 4-7 refused shapes."""
    return [15, shape]


def destroy(index):
    return [16, index]


def attach(index):
    return [17, index]


def detach():
    return [19]


def life(sub, config=0):
    return [20, sub, config]


def wrap(hook, d, variant=0, pick=0):
    """variant 5: borrowed previous storage, 6: none, 7: bad domain."""
    return [22, hook + 3 * d, variant, pick]


def unwrap(hook, d, debug=False):
    return [24, hook + 3 * d, 3 if debug else 0]


def trace_start(nframe=1):
    return [25, 0, nframe - 1]


def trace_bad():
    return [25, 2, 0]


def trace_stop():
    return [25, 3, 0]


def track(arg=0):
    return [25, 5, arg]


def nomem(start, stop=None):
    if stop is None:
        return [26, 0, start, 0]
    return [26, 1, start, stop - start - 1]


def nomem_bad():
    return [26, 2, 3, 1]


def nomem_remove():
    return [26, 3, 0, 0]


def setup_debug(serial=0):
    return [27, serial]


def check(pick=0):
    return [28, pick]


def seq(*ops):
    out = []
    for op in ops:
        out += op
    return bytes(out)


def initialized(config=PYMALLOC):
    return [life(PRE_INIT, config), life(INIT), attach(0)]


SEEDS = {
    # The raw domain before any pre-initialization: every size family.
    "raw_uninitialized": seq(
        malloc(RAW, 0), malloc(RAW, 17), calloc(RAW, 300), malloc(RAW, 4096),
        realloc_null(RAW, 24), realloc(RAW, 0, 1000), realloc(RAW, 1, 0),
        malloc(RAW, too_big()), realloc(RAW, 2, too_big()), free(RAW, 0),
        free(RAW, 255), check(1), free(RAW, 1)),
    # pymalloc's edges and in-place reallocs, counted per heap.
    "pymalloc_sizes": seq(
        *initialized(PYMALLOC),
        malloc(MEM, 16), malloc(MEM, 512), malloc(OBJ, 513), calloc(OBJ, 40),
        malloc(OBJ, 0), realloc(MEM, 0, 12), realloc(MEM, 1, 400),
        realloc(OBJ, 0, 480), realloc(OBJ, 1, 600), realloc(OBJ, 2, 8),
        check(0), free(MEM, 0), free(OBJ, 1), check(3)),
    # Several threads' worth of interpreters: cross-interpreter frees and
    # reallocs, a destroyed interpreter's blocks freed afterwards.
    "interpreters_cross_free": seq(
        *initialized(PYMALLOC),
        malloc(OBJ, 32), malloc(MEM, 700), create(1), create(2), detach(),
        attach(1), malloc(OBJ, 64), malloc(MEM, 100), free(OBJ, 0),
        realloc(MEM, 0, 48), detach(), attach(2), malloc(OBJ, 200), detach(),
        attach(0), destroy(1), free(OBJ, 0), free(MEM, 1), destroy(2),
        destroy(2), attach(1), create(3), detach(), attach(3),
        malloc(OBJ, 24), detach(), destroy(3), attach(0), free(OBJ, 0),
        free(OBJ, 0), check(0)),
    # Refused interpreter operations and shapes.
    "interpreters_refused": seq(
        create(1), attach(0), life(PRE_INIT, DEFAULT), create(1), life(INIT),
        create(4), create(5), create(6), create(7), create(0), attach(1),
        attach(0), destroy(0), destroy(1), destroy(2), detach(), detach(),
        destroy(0), life(FINALIZE), destroy(1), life(FINALIZE)),
    # Every lifecycle operation in every state, bad names included.
    "lifecycle_walk": seq(
        life(INIT), life(FINALIZE), life(RESET), life(APPLY, MALLOC),
        life(PRE_INIT, BAD_CONFIG), life(PRE_INIT, MALLOC),
        life(PRE_INIT, PYMALLOC), life(APPLY, BAD_CONFIG),
        life(APPLY, MIMALLOC), life(APPLY, DEBUG), life(FINALIZE),
        life(INIT), life(INIT), life(RESET), life(APPLY, PYMALLOC),
        life(PRE_INIT, PYMALLOC), life(FINALIZE), life(FINALIZE),
        life(INIT), life(PRE_INIT, MALLOC_DEBUG), life(RESET), life(RESET)),
    # Blocks leaked by finalize, freed in the next cycle.
    "leak_across_cycles": seq(
        *initialized(PYMALLOC),
        malloc(OBJ, 40), malloc(MEM, 1000), malloc(RAW, 50), detach(),
        life(FINALIZE), free(RAW, 0), life(PRE_INIT, PYMALLOC), life(INIT),
        attach(1), free(OBJ, 0), free(MEM, 0), detach(), life(FINALIZE),
        life(RESET)),
    # Counting hooks: LIFO unwraps, refused double wraps and borrowed
    # storage, hooks seeing each call once.
    "hooks_wrap_unwrap": seq(
        life(PRE_INIT, PYMALLOC), wrap(HOOK_A, MEM), wrap(HOOK_B, MEM),
        wrap(HOOK_A, MEM), unwrap(HOOK_A, MEM), wrap(HOOK_C, RAW),
        wrap(HOOK_C, OBJ, 5), wrap(HOOK_A, OBJ, 6), wrap(HOOK_A, OBJ, 7),
        life(APPLY, MALLOC), life(INIT), attach(0), malloc(MEM, 10),
        calloc(MEM, 600), realloc(MEM, 0, 20), free(MEM, 0), malloc(RAW, 5),
        unwrap(HOOK_B, MEM), unwrap(HOOK_A, MEM), unwrap(HOOK_A, MEM),
        wrap(HOOK_B, OBJ), malloc(OBJ, 100), unwrap(HOOK_C, RAW),
        unwrap(HOOK_B, OBJ), free(OBJ, 0)),
    # tracemalloc: start, traces, a refused stop under a hook, Track.
    "tracemalloc": seq(
        trace_start(), *initialized(PYMALLOC), trace_bad(), trace_start(3),
        malloc(OBJ, 30), malloc(MEM, 900), realloc(OBJ, 0, 70), track(1),
        wrap(HOOK_A, MEM), trace_stop(), malloc(MEM, 8), unwrap(HOOK_A, MEM),
        free(MEM, 0), trace_stop(), trace_stop(), track(2), free(OBJ, 0),
        trace_start(2), life(FINALIZE), detach(), life(FINALIZE),
        trace_stop(), life(RESET)),
    # Fault injection: everything failing, a window, refusals.
    "fault_injection": seq(
        nomem(0), *initialized(PYMALLOC), nomem(0), malloc(OBJ, 16),
        malloc(RAW, 16), nomem(1, 3), malloc(OBJ, 16), malloc(OBJ, 600),
        malloc(MEM, 20), malloc(MEM, 20), realloc(OBJ, 0, 4032), nomem_bad(),
        wrap(HOOK_A, RAW), nomem_remove(), unwrap(HOOK_A, RAW), nomem(2),
        calloc(MEM, 40), calloc(MEM, 40), calloc(MEM, 40), nomem_remove(),
        nomem_remove(), malloc(OBJ, 16)),
    # Debug configurations, refused unwraps, cross-interpreter frees under
    # the hooks, serial numbers.
    "debug_configs": seq(
        life(PRE_INIT, PYMALLOC_DEBUG), setup_debug(1), setup_debug(0),
        life(APPLY, MALLOC_DEBUG), life(APPLY, PYMALLOC_DEBUG), life(INIT),
        attach(0), malloc(OBJ, 488), malloc(OBJ, 489), calloc(MEM, 16),
        realloc(OBJ, 0, 500), unwrap(0, OBJ, debug=True), create(1),
        detach(), attach(1), free(OBJ, 0), realloc(OBJ, 0, 3), detach(),
        destroy(1), attach(0), free(MEM, 0)),
    # Debug hooks set up after initialization over live blocks, which they
    # pass down; reallocs move them into debug blocks.
    "debug_setup_pass_down": seq(
        *initialized(PYMALLOC),
        malloc(OBJ, 24), malloc(MEM, 600), malloc(RAW, 24), wrap(HOOK_A, OBJ),
        setup_debug(0), malloc(OBJ, 24), free(OBJ, 0), realloc(MEM, 0, 4032),
        free(RAW, 0), unwrap(HOOK_A, OBJ), nomem(0, 2), realloc(OBJ, 0, 40),
        realloc(OBJ, 0, 40), nomem_remove(), free(OBJ, 0)),
    # The malloc and mimalloc bases, with and without debug hooks.
    "other_bases": seq(
        *initialized(MALLOC),
        malloc(MEM, 100), malloc(OBJ, 0), create(1), detach(), attach(1),
        free(MEM, 0), detach(), destroy(1), life(FINALIZE),
        life(PRE_INIT, MIMALLOC), life(INIT), attach(2), malloc(MEM, 200),
        realloc(MEM, 0, 9024), malloc(OBJ, 1), detach(), life(FINALIZE),
        life(PRE_INIT, MIMALLOC_DEBUG), life(INIT), attach(3),
        malloc(OBJ, 50), detach(), life(FINALIZE), life(RESET),
        life(PRE_INIT, MALLOC_DEBUG), life(INIT), attach(4),
        calloc(RAW, 64), free(RAW, 0)),
}


def main():
    corpus = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
    os.makedirs(corpus, exist_ok=True)
    for name in os.listdir(corpus):
        os.remove(os.path.join(corpus, name))
    for name, data in sorted(SEEDS.items()):
        with open(os.path.join(corpus, name), "wb") as f:
            f.write(data)
    print(f"make_corpus: {len(SEEDS)} seeds in {corpus}", file=sys.stderr)


if __name__ == "__main__":
    main()
