// stress/output_files.h: the --json and --html report files: checked before
// the run starts (so that a long run does not end in an unwritable path)
// and written after it.

#ifndef INTERPHEAP_STRESS_OUTPUT_FILES_H_
#define INTERPHEAP_STRESS_OUTPUT_FILES_H_

#include <string>

#include "stress/flags.h"
#include "stress/report.h"

namespace interpheap::stress {

// CheckOutputPath over the --json and --html paths of `options` that are
// set: "" or the first problem.
std::string CheckReportPaths(const StressOptions& options);

// Writes the JSON and HTML reports `options` asks for, each reported on one
// line: "stress: wrote PATH" to stdout, or its problem to stderr. A failed
// write does not stop the other. False when any failed.
bool WriteReports(const StressOptions& options, const Report& report);

// "" when `path` can be opened for writing (a file it creates for the
// check is removed again); otherwise "--<flag>=<path>: <reason>".
std::string CheckOutputPath(const std::string& flag, const std::string& path);

// Writes `contents` to `path`, replacing it. "" on success; otherwise
// "cannot write --<flag>=<path>: <reason>".
std::string WriteOutputFile(const std::string& flag, const std::string& path,
                            const std::string& contents);

}  // namespace interpheap::stress

#endif  // INTERPHEAP_STRESS_OUTPUT_FILES_H_
