// write_sample_report: writes RenderHtml of a fixed, realistic Report (three
// interpreters, one a churn slot whose arenas cycle as it is recreated, 40
// samples over 4 s, size-class occupancy, the run's settings) to argv[1].
// html_report_render_test.sh renders it.

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "stress/report.h"

namespace interpheap::stress {
namespace {

Report SampleReport() {
  Report report;
  report.configuration = "pymalloc";
  report.command_line =
      "stress --interpreters=3 --threads=10 --ops=2000000 --seed=42 "
      "--html=report.html --name='a<b>&\"c\"'";
  report.seed = 42;
  report.threads = 10;
  report.seconds = 4.0;
  report.bytes_verified = 3LL * 1024 * 1024 * 1024 + 123456789;
  report.hook_toggles = 16;
  report.hook_calls = 1234567;
  report.timestamp = "2026-12-02T11:41:41Z";
  report.build_mode = "fastbuild";
  report.host = "sample-host";
  report.options = {{"interpreters", "3"},
                    {"threads", "10"},
                    {"ops", "2000000"},
                    {"seed", "42"},
                    {"html", "report.html"}};

  const char* const names[] = {"main", "interp-1", "churn-1"};
  const char* const locks[] = {"own", "own", "main"};
  const int threads[] = {4, 4, 2};
  const double base_rate[] = {900000, 650000, 300000};  // ops/s
  constexpr int kSlots = 3;
  constexpr int kSamples = 40;

  std::vector<std::int64_t> cumulative(kSlots, 0);
  for (int i = 0; i < kSamples; ++i) {
    Sample sample;
    sample.seconds = 0.1 * (i + 1);
    for (int s = 0; s < kSlots; ++s) {
      // Deterministic wobble: each slot's rate swings on its own period;
      // the churn slot dips while its interpreter is being recreated.
      double rate = base_rate[s] * (1.0 + 0.25 * std::sin(0.35 * i + 1.7 * s));
      if (s == 2 && i % 10 == 9) rate *= 0.2;
      cumulative[s] += static_cast<std::int64_t>(rate * 0.1);
      sample.ops.push_back(cumulative[s]);
      // The churn slot allocates arenas and releases them all when its
      // interpreter is recreated (every 10 samples).
      const double arenas =
          s == 2 ? 1 + (i % 10) / 2 : 6 + 3 * s + 4 * std::sin(0.2 * i + s);
      sample.arenas.push_back(static_cast<std::int64_t>(std::lround(arenas)));
    }
    sample.live_bytes = 50000 + 1000 * (i % 7);
    report.samples.push_back(sample);
  }

  for (int s = 0; s < kSlots; ++s) {
    InterpreterReport interp;
    interp.name = names[s];
    interp.lock = locks[s];
    interp.threads = threads[s];
    interp.ops = cumulative[s];
    interp.peak_live_bytes = (s + 1) * 1300000;
    interp.arenas_allocated = 14 + 5 * s;
    interp.arenas_released = 14 + 5 * s - (s == 2 ? 0 : 6);
    interp.cross_interpreter_frees = 1000 * (s + 1) + 17;
    interp.recreations = s == 2 ? 4 : 0;
    interp.leaked_blocks = 0;
    for (int c = 0; c < 32; ++c) {
      // Small classes busiest, with a bump around 256 bytes.
      const double shape =
          4000.0 / (1 + c) + 900 * std::exp(-0.1 * (c - 15) * (c - 15));
      interp.class_blocks_in_use.push_back(
          static_cast<std::int64_t>(shape * (1.0 + 0.4 * s)));
    }
    report.total_ops += interp.ops;
    report.interpreters.push_back(interp);
  }
  return report;
}

}  // namespace
}  // namespace interpheap::stress

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUTPUT.html\n", argv[0]);
    return 2;
  }
  const std::string html =
      interpheap::stress::RenderHtml(interpheap::stress::SampleReport());
  std::ofstream out(argv[1], std::ios::binary | std::ios::trunc);
  out << html;
  out.close();
  if (!out) {
    std::fprintf(stderr, "write_sample_report: cannot write %s\n", argv[1]);
    return 1;
  }
  return 0;
}
