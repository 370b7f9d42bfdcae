// stress/report_charts.h: the HTML report's four charts, each one inline
// <svg class="chart"> element with a fixed id (what the tests and the
// Chromium render test look for). Charts show the slot groups of
// report_format.h: every interpreter, or the top ones by ops plus "others".

#ifndef INTERPHEAP_STRESS_REPORT_CHARTS_H_
#define INTERPHEAP_STRESS_REPORT_CHARTS_H_

#include <string>

#include "stress/report.h"

namespace interpheap::stress {

// id "chart-total": ops per second of all interpreters together, over time.
std::string TotalThroughputChart(const Report& report);

// id "chart-throughput": ops per second over time, one line per
// interpreter, legend swatches drawn with each line's dash pattern.
std::string ThroughputChart(const Report& report);

// id "chart-arenas": arenas over time as small multiples, one panel per
// interpreter with its own integer y axis (so a churn interpreter's
// allocate/release cycles show, and no line hides another).
std::string ArenaPanels(const Report& report);

// id "chart-occupancy": blocks in use per size class, stacked per
// interpreter.
std::string OccupancyChart(const Report& report);

}  // namespace interpheap::stress

#endif  // INTERPHEAP_STRESS_REPORT_CHARTS_H_
