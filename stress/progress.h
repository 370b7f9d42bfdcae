// stress/progress.h: the progress line, on stderr. On a terminal it is
// rewritten in place (carriage return, cut to the terminal's width, rest of
// the row cleared); anywhere else each update is a plain line.

#ifndef INTERPHEAP_STRESS_PROGRESS_H_
#define INTERPHEAP_STRESS_PROGRESS_H_

#include <cstdint>
#include <cstdio>
#include <string>

namespace interpheap::stress {

// "[  3.0s] 1.23M ops (412.1k ops/s), live 1.2 MiB, 18 arenas, 312 hook
// toggles": counts in decimal units, bytes in binary ones (KiB, MiB).
std::string ProgressText(double seconds, std::int64_t ops, double ops_per_sec,
                         std::int64_t live_bytes, std::int64_t arenas,
                         std::int64_t hook_toggles);

// Thread-compatible: used by the run's sampling thread only.
class ProgressLine {
 public:
  // Writes to `out`, in place when `out` is a terminal.
  explicit ProgressLine(std::FILE* out);

  // Shows `text` (one line, no newline).
  void Show(const std::string& text);

  // Ends an in-place line, so that what follows starts on a new row.
  void Finish();

 private:
  std::FILE* out_;
  bool terminal_;
  bool pending_ = false;  // an in-place line is on screen
};

}  // namespace interpheap::stress

#endif  // INTERPHEAP_STRESS_PROGRESS_H_
