"""python_embed: a CPython found on this machine, for embedding.

`python_embed(name = "python3_13", version = "3.13")` looks for
`python3.13-config` (pyenv's versions under $PYENV_ROOT or ~/.pyenv, then
PATH), asks it `--embed --prefix/--includes/--ldflags`, and makes
`@python3_13//:python` (headers, libpython3.13.so with an rpath) plus
`@python3_13//:config.bzl`, which says whether it was found:

    PYTHON_AVAILABLE = True or False
    PYTHON_VERSION   = "3.13"
    PYTHON_PREFIX    = "/root/.pyenv/versions/3.13.0" (or "")
    PYTHON_REASON    = why not, when not found

Targets that need it load config.bzl and are replaced by a stand-in that
says so when PYTHON_AVAILABLE is False: a build never fails for a missing
CPython, and a test reports that it skipped.
"""

def _candidates(rctx, version):
    found = []
    root = rctx.os.environ.get("PYENV_ROOT") or (rctx.os.environ.get("HOME", "/root") + "/.pyenv")
    versions = rctx.path(root + "/versions")
    if versions.exists:
        for entry in sorted([str(p) for p in versions.readdir()], reverse = True):
            name = entry.split("/")[-1]
            if name == version or name.startswith(version + "."):
                config = rctx.path(entry + "/bin/python%s-config" % version)
                if config.exists:
                    found.append(str(config))
    on_path = rctx.which("python%s-config" % version)
    if on_path and "/shims/" not in str(on_path):
        found.append(str(on_path))
    return found

def _ask(rctx, config, flag):
    result = rctx.execute([config, "--embed", flag])
    if result.return_code != 0:
        return None
    return result.stdout.strip()

def _python_embed_impl(rctx):
    version = rctx.attr.version
    tried = _candidates(rctx, version)
    prefix = None
    for config in tried:
        prefix = _ask(rctx, config, "--prefix")
        if prefix == None:
            continue
        includes = _ask(rctx, config, "--includes")
        ldflags = _ask(rctx, config, "--ldflags")
        libdir = prefix + "/lib"
        shared = rctx.path("%s/libpython%s.so" % (libdir, version))
        if includes == None or ldflags == None or not shared.exists:
            prefix = None
            continue
        break
    if prefix == None:
        reason = "no python%s-config with a shared libpython%s.so (looked at: %s)" % (
            version,
            version,
            ", ".join(tried) if tried else "pyenv versions and PATH",
        )
        rctx.file("BUILD", "# CPython %s: not found on this machine.\n" % version +
                           'package(default_visibility = ["//visibility:public"])\n' +
                           'cc_library(name = "python")\n' +
                           'exports_files(["config.bzl"])\n')
        rctx.file("config.bzl", 'PYTHON_AVAILABLE = False\nPYTHON_VERSION = "%s"\nPYTHON_PREFIX = ""\nPYTHON_REASON = "%s"\n' % (version, reason))
        return

    include_dir = "%s/include/python%s" % (prefix, version)
    rctx.symlink(include_dir, "include")
    rctx.file("BUILD", """# CPython {version} from {prefix} (python{version}-config --embed).
package(default_visibility = ["//visibility:public"])

cc_library(
    name = "python",
    hdrs = glob(["include/**/*.h"]),
    includes = ["include"],
    linkopts = [
        "-L{prefix}/lib",
        "-Wl,-rpath,{prefix}/lib",
        "-lpython{version}",
        "-ldl",
        "-lm",
    ],
)

exports_files(["config.bzl"])
""".format(version = version, prefix = prefix))
    rctx.file("config.bzl", 'PYTHON_AVAILABLE = True\nPYTHON_VERSION = "%s"\nPYTHON_PREFIX = "%s"\nPYTHON_REASON = ""\n' % (version, prefix))

python_embed = repository_rule(
    implementation = _python_embed_impl,
    attrs = {"version": attr.string(mandatory = True)},
    environ = ["PATH", "PYENV_ROOT", "HOME"],
    local = True,
)
