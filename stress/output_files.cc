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

#include "absl/strings/str_cat.h"

namespace interpheap::stress {

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

}  // namespace interpheap::stress
