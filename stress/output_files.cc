// stress/output_files.cc: checking and writing the report files
// (output_files.h).

#include "stress/output_files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"

namespace interpheap::stress {
namespace {

struct ReportFile {
  const char* flag;
  const std::string& path;
  std::string (*render)(const Report&);
};

}  // namespace

std::string CheckOutputPath(const std::string& flag, const std::string& path) {
  struct stat st;
  const bool existed = stat(path.c_str(), &st) == 0;
  if (existed && S_ISDIR(st.st_mode)) {
    return absl::StrCat("--", flag, "=", path, ": is a directory");
  }
  // O_APPEND without O_TRUNC: an existing file keeps its bytes until the
  // report replaces them.
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0666);
  if (fd < 0) {
    return absl::StrCat("--", flag, "=", path, ": ", std::strerror(errno));
  }
  close(fd);
  if (!existed) unlink(path.c_str());
  return "";
}

std::string WriteOutputFile(const std::string& flag, const std::string& path,
                            const std::string& contents) {
  std::FILE* file = std::fopen(path.c_str(), "w");
  const auto error = [&flag, &path](int err) {
    return absl::StrCat("cannot write --", flag, "=", path, ": ",
                        std::strerror(err));
  };
  if (file == nullptr) return error(errno);
  const bool written =
      std::fwrite(contents.data(), 1, contents.size(), file) == contents.size();
  const int write_errno = errno;
  // fclose flushes: a full disk shows here at the latest.
  if (std::fclose(file) != 0) return error(errno);
  if (!written) return error(write_errno);
  return "";
}

std::string CheckReportPaths(const StressOptions& options) {
  for (const auto& [flag, path] : {std::make_pair("json", &options.json),
                                   std::make_pair("html", &options.html)}) {
    if (path->empty()) continue;
    if (std::string problem = CheckOutputPath(flag, *path); !problem.empty()) {
      return problem;
    }
  }
  return "";
}

bool WriteReports(const StressOptions& options, const Report& report) {
  bool written = true;
  for (const ReportFile& file :
       {ReportFile{"json", options.json, RenderJson},
        ReportFile{"html", options.html, RenderHtml}}) {
    if (file.path.empty()) continue;
    const std::string problem =
        WriteOutputFile(file.flag, file.path, file.render(report));
    if (problem.empty()) {
      std::printf("stress: wrote %s\n", file.path.c_str());
    } else {
      std::fprintf(stderr, "stress: %s\n", problem.c_str());
      written = false;
    }
  }
  std::fflush(stdout);
  return written;
}

}  // namespace interpheap::stress
