"""pyhost_launcher: the CPython host for one CPython version.

One implementation (pyhost/*.cc, with pyhost/cpython_compat.h as the seam
between versions) built against each CPython the machine has:

    pyhost_launcher(name = "pyhost", python = "@python3//:python3")
    pyhost_launcher(name = "pyhost3.13", python = "@python3_13//:python",
                    available = PY313_AVAILABLE, reason = PY313_REASON,
                    per_interpreter_gil = True)

makes `name` (the launcher) and `name + "_lib"` (its libraries). Where the
version is absent (`available = False`), `name` is a stand-in that prints
why and exits 2, and tests that use it skip with that message.
"""

def pyhost_launcher(
        name,
        python,
        copts,
        available = True,
        reason = "",
        per_interpreter_gil = False,
        visibility = None):
    if not available:
        native.genrule(
            name = name + "_stand_in",
            outs = [name + "_stand_in.sh"],
            cmd = "printf '#!/bin/sh\\necho \"%s: not built: %s\" >&2\\nexit 2\\n' > $@" % (name, reason),
        )
        native.sh_binary(
            name = name,
            srcs = [name + "_stand_in"],
            visibility = visibility,
            tags = ["pyhost_absent"],
        )
        return

    internal = []
    if per_interpreter_gil:
        native.cc_library(
            name = name + "_cpython_internal",
            srcs = ["cpython_internal.c"],
            copts = ["-Wall", "-Werror"],
            deps = [python],
        )
        internal = [":" + name + "_cpython_internal"]

    native.cc_library(
        name = name + "_lib",
        srcs = [
            "fatal_handler.cc",
            "host_allocator.cc",
            "interpheap_module.cc",
            "interpreter_map.cc",
            "thread_state_slot.cc",
        ],
        hdrs = [
            "cpython_compat.h",
            "cross_interpreter_free.h",
            "fatal_handler.h",
            "host_allocator.h",
            "interpheap_module.h",
            "interpreter_map.h",
            "thread_state_slot.h",
        ],
        copts = copts,
        deps = internal + [
            "//alloc:domain",
            "//alloc:fatal",
            "//alloc/hooks:debug_hooks",
            "//alloc/pymalloc",
            "//alloc/pymalloc:pymalloc_allocator",
            "//api:interpheap",
            "//interp:interpreter",
            "//interp:runtime",
            "//sync:mutex",
            "@absl",
            python,
        ],
    )

    native.cc_binary(
        name = name,
        srcs = ["pyhost_main.cc"],
        copts = copts,
        linkopts = ["-static-libgcc"],
        visibility = visibility,
        deps = [
            ":static_link",
            ":configuration",
            ":" + name + "_lib",
            "//alloc:fatal",
            "//alloc/hooks:debug_hooks",
            "//interp:runtime",
            "@absl",
            python,
        ],
    )
