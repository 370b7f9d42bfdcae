// stress/report_format.h: what the three renderings of a Report (and the
// progress line) share: byte and count units, JSON and HTML escaping,
// column widths, the interpreter table's columns, and the rule that
// summarises a run with many interpreters (the top ones by ops, plus one
// "others" row).

#ifndef INTERPHEAP_STRESS_REPORT_FORMAT_H_
#define INTERPHEAP_STRESS_REPORT_FORMAT_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "stress/report.h"

namespace interpheap::stress {

// Size classes as documented on InterpreterReport::class_blocks_in_use.
inline constexpr int kSizeClasses = 32;
inline constexpr int kSizeClassBytes = 16;

// printf into a std::string.
std::string StrFormat(const char* format, ...)
    __attribute__((format(printf, 1, 2)));

// "512 B", "1.5 KiB", "1.2 MiB", ... (binary units, one decimal).
std::string FormatBytes(std::int64_t bytes);

// "950", "12.3k", "4.56M": a count of things (ops), decimal units.
std::string FormatCount(double value);

// `count / seconds`, 0 when `seconds` is not a positive finite number.
double Rate(std::int64_t count, double seconds);

// A JSON number; JSON has no NaN or infinity, so those become null.
std::string JsonNumber(double value);

// A quoted JSON string: quotes, backslashes and control characters escaped,
// invalid UTF-8 replaced by U+FFFD.
std::string JsonString(const std::string& raw);

// Text for HTML element content or a quoted attribute value. Control
// characters other than tab, newline and carriage return become U+FFFD.
std::string HtmlEscape(const std::string& raw);

// Returns `s` with every byte sequence that is not well-formed UTF-8
// replaced by U+FFFD.
std::string ValidUtf8(const std::string& s);

// Code points in valid UTF-8 (for column widths).
std::size_t DisplayWidth(const std::string& s);

// At most `max` code points of valid UTF-8 `s`, with "..." if cut.
std::string Truncate(const std::string& s, std::size_t max);

// The interpreter table both the text and the HTML renderings show.
struct Column {
  const char* title;
  bool numeric;
};
extern const Column kColumns[9];
inline constexpr std::size_t kColumnCount = 9;
std::vector<std::string> InterpreterRow(const InterpreterReport& interp);

std::string SecondsText(double seconds);                 // "4.00"
std::string RateText(std::int64_t ops, double seconds);  // "1000"

// Up to kListedInterpreters interpreters are shown one by one; beyond, the
// kTopInterpreters with the most ops are (in their run order) and one
// "others (N interpreters)" entry adds up the rest.
inline constexpr std::size_t kListedInterpreters = 24;
inline constexpr std::size_t kTopInterpreters = 20;

// A row of the summarised table, or a series of the summarised charts:
// the interpreter slots (indexes into the report's interpreters and the
// samples' per-slot vectors) it adds up.
struct SlotGroup {
  std::string name;
  std::vector<std::size_t> slots;
};

// The groups of `slot_count` slots: one per slot, or the top slots by ops
// plus "others" (see kListedInterpreters). Slots without an interpreter
// report are named "slot N" and count as 0 ops.
std::vector<SlotGroup> SlotGroups(const Report& report, std::size_t slot_count);

// Interpreter slots in the report: every reported interpreter, plus any slot
// that only the samples mention.
std::size_t SlotCount(const Report& report);

// The interpreter rows of the summarised table (the "others" row adds up
// threads, ops, bytes, arenas, frees, recreations and leaks).
std::vector<InterpreterReport> TableRows(const Report& report);

}  // namespace interpheap::stress

#endif  // INTERPHEAP_STRESS_REPORT_FORMAT_H_
