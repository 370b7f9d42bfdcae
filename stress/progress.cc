// stress/progress.cc: the progress line (progress.h).

#include "stress/progress.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "stress/report_format.h"

namespace interpheap::stress {
namespace {

// Columns of the terminal behind `fd`: the window size, else $COLUMNS,
// else 80.
std::size_t TerminalWidth(int fd) {
  struct winsize size = {};
  if (ioctl(fd, TIOCGWINSZ, &size) == 0 && size.ws_col > 0) {
    return size.ws_col;
  }
  const char* columns = std::getenv("COLUMNS");
  const long parsed =
      columns != nullptr ? std::strtol(columns, nullptr, 10) : 0;
  return parsed > 0 ? static_cast<std::size_t>(parsed) : 80;
}

}  // namespace

std::string ProgressText(double seconds, std::int64_t ops, double ops_per_sec,
                         std::int64_t live_bytes, std::int64_t arenas,
                         std::int64_t hook_toggles) {
  return StrFormat(
      "[%5.1fs] %s ops (%s ops/s), live %s, %lld arenas, %lld "
      "hook toggles",
      seconds, FormatCount(static_cast<double>(ops)).c_str(),
      FormatCount(ops_per_sec).c_str(), FormatBytes(live_bytes).c_str(),
      static_cast<long long>(arenas), static_cast<long long>(hook_toggles));
}

ProgressLine::ProgressLine(std::FILE* out)
    : out_(out), terminal_(isatty(fileno(out)) != 0) {}

void ProgressLine::Show(const std::string& text) {
  if (!terminal_) {
    std::fprintf(out_, "%s\n", text.c_str());
  } else {
    // One column short of the width: writing the last column would wrap
    // on some terminals. "\x1b[K" clears what a longer line left.
    const std::size_t width = TerminalWidth(fileno(out_));
    const std::string cut = text.substr(0, width > 1 ? width - 1 : 0);
    std::fprintf(out_, "\r%s\x1b[K", cut.c_str());
    pending_ = true;
  }
  std::fflush(out_);
}

void ProgressLine::Finish() {
  if (pending_) std::fputc('\n', out_);
  pending_ = false;
  std::fflush(out_);
}

}  // namespace interpheap::stress
