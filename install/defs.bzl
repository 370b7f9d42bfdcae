"""static_archive: one .a holding every object file of a cc_library's
transitive closure (our code only: external libraries such as Debian's
Abseil come in as linker flags, not objects). Bazel has no native rule for a
merged archive; install/ needs one for libinterpheap.a."""

def _static_archive_impl(ctx):
    objects = []
    for dep in ctx.attr.deps:
        for linker_input in dep[CcInfo].linking_context.linker_inputs.to_list():
            for library in linker_input.libraries:
                objects.extend(library.pic_objects or library.objects)
    out = ctx.actions.declare_file(ctx.attr.out)
    args = ctx.actions.args()
    args.add(out)
    args.add_all(objects)

    # "q" appends (objects of one name from two packages both stay), "s"
    # writes the index, "D" makes the archive deterministic.
    ctx.actions.run_shell(
        inputs = objects,
        outputs = [out],
        command = 'out="$1"; shift; rm -f "$out"; ar qcsD "$out" "$@"',
        arguments = [args],
        mnemonic = "StaticArchive",
        progress_message = "Archiving %s" % ctx.attr.out,
    )
    return [DefaultInfo(files = depset([out]))]

static_archive = rule(
    implementation = _static_archive_impl,
    attrs = {
        "deps": attr.label_list(providers = [CcInfo]),
        "out": attr.string(mandatory = True),
    },
)
