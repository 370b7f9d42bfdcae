// stress/report_format.cc: units, escaping, widths, the interpreter
// table's columns and the summary rule (report_format.h).

#include "stress/report_format.h"

#include <algorithm>
#include <cmath>
#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace interpheap::stress {

std::string StrFormat(const char* format, ...) {
  va_list args;
  va_start(args, format);
  va_list copy;
  va_copy(copy, args);
  const int n = std::vsnprintf(nullptr, 0, format, copy);
  va_end(copy);
  std::string out;
  if (n > 0) {
    out.resize(static_cast<std::size_t>(n) + 1);
    std::vsnprintf(out.data(), out.size(), format, args);
    out.resize(static_cast<std::size_t>(n));
  }
  va_end(args);
  return out;
}

// ---------------------------------------------------------------------------
// Numbers and strings.

// "512 B", "1.5 KiB", "1.2 MiB", ... (binary units, one decimal).
std::string FormatBytes(std::int64_t bytes) {
  static constexpr const char* kUnits[] = {"KiB", "MiB", "GiB",
                                           "TiB", "PiB", "EiB"};
  double value = std::fabs(static_cast<double>(bytes));
  if (value < 1024) return std::to_string(bytes) + " B";
  std::size_t unit = 0;
  value /= 1024;
  // 1023.96 would print as "1024.0": move up a unit before it rounds.
  while (value >= 1023.95 && unit + 1 < sizeof(kUnits) / sizeof(kUnits[0])) {
    value /= 1024;
    ++unit;
  }
  return StrFormat("%s%.1f %s", bytes < 0 ? "-" : "", value, kUnits[unit]);
}

std::string FormatCount(double value) {
  const double magnitude = std::fabs(value);
  if (magnitude >= 1e9) return StrFormat("%.2fG", value / 1e9);
  if (magnitude >= 1e6) return StrFormat("%.2fM", value / 1e6);
  if (magnitude >= 1e3) return StrFormat("%.1fk", value / 1e3);
  return StrFormat("%.0f", value);
}

double Rate(std::int64_t count, double seconds) {
  return seconds > 0 && std::isfinite(seconds) ? count / seconds : 0.0;
}

// A JSON number; JSON has no NaN or infinity, so those become null.
std::string JsonNumber(double value) {
  if (!std::isfinite(value)) return "null";
  return StrFormat("%.15g", value);
}

// Returns `s` with every byte sequence that is not well-formed UTF-8
// (stray continuation bytes, overlong forms, surrogates, > U+10FFFF,
// truncated sequences) replaced by U+FFFD.
std::string ValidUtf8(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  const auto byte = [&s](std::size_t i) {
    return static_cast<unsigned char>(s[i]);
  };
  std::size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = byte(i);
    std::size_t length = 0;
    unsigned char lo = 0x80;
    unsigned char hi = 0xBF;
    if (c < 0x80) {
      length = 1;
    } else if (c >= 0xC2 && c <= 0xDF) {
      length = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      length = 3;
      if (c == 0xE0) lo = 0xA0;  // overlong
      if (c == 0xED) hi = 0x9F;  // surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
      length = 4;
      if (c == 0xF0) lo = 0x90;  // overlong
      if (c == 0xF4) hi = 0x8F;  // above U+10FFFF
    }
    bool valid = length > 0 && i + length <= s.size();
    for (std::size_t k = 1; valid && k < length; ++k) {
      const unsigned char next = byte(i + k);
      const unsigned char min = k == 1 ? lo : 0x80;
      const unsigned char max = k == 1 ? hi : 0xBF;
      valid = next >= min && next <= max;
    }
    if (valid) {
      out.append(s, i, length);
      i += length;
    } else {
      out += "\xEF\xBF\xBD";
      ++i;
    }
  }
  return out;
}

namespace {

// `raw` made valid UTF-8, with every byte for which `replace` returns a
// non-null string replaced by that string.
template <typename Replace>
std::string Escape(const std::string& raw, Replace replace) {
  const std::string s = ValidUtf8(raw);
  std::string out;
  out.reserve(s.size());
  for (const char ch : s) {
    const std::string replacement = replace(static_cast<unsigned char>(ch));
    if (replacement.empty()) {
      out += ch;
    } else {
      out += replacement;
    }
  }
  return out;
}

}  // namespace

std::string JsonString(const std::string& raw) {
  return "\"" +
         Escape(raw,
                [](unsigned char c) -> std::string {
                  switch (c) {
                    case '"':
                      return "\\\"";
                    case '\\':
                      return "\\\\";
                    case '\b':
                      return "\\b";
                    case '\f':
                      return "\\f";
                    case '\n':
                      return "\\n";
                    case '\r':
                      return "\\r";
                    case '\t':
                      return "\\t";
                    default:
                      return c < 0x20 || c == 0x7F ? StrFormat("\\u%04x", c)
                                                   : "";
                  }
                }) +
         "\"";
}

std::string HtmlEscape(const std::string& raw) {
  return Escape(raw, [](unsigned char c) -> std::string {
    switch (c) {
      case '&':
        return "&amp;";
      case '<':
        return "&lt;";
      case '>':
        return "&gt;";
      case '"':
        return "&quot;";
      case '\'':
        return "&#39;";
      default:
        return (c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7F
                   ? "\xEF\xBF\xBD"
                   : "";
    }
  });
}

// Code points in valid UTF-8 (for column widths).
std::size_t DisplayWidth(const std::string& s) {
  std::size_t width = 0;
  for (const char ch : s) {
    if ((static_cast<unsigned char>(ch) & 0xC0) != 0x80) ++width;
  }
  return width;
}

// At most `max` code points of valid UTF-8 `s`, with "..." if cut.
std::string Truncate(const std::string& s, std::size_t max) {
  if (DisplayWidth(s) <= max) return s;
  std::size_t points = 0;
  std::size_t i = 0;
  for (; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) {
      if (points == max - 1) break;
      ++points;
    }
  }
  return s.substr(0, i) + "...";
}

const Column kColumns[kColumnCount] = {
    {"interpreter", false}, {"lock", false},       {"threads", true},
    {"ops", true},          {"peak live", true},   {"arenas alloc/rel", true},
    {"cross frees", true},  {"recreations", true}, {"leaks", true},
};

std::vector<std::string> InterpreterRow(const InterpreterReport& interp) {
  return {
      interp.name,
      interp.lock,
      std::to_string(interp.threads),
      std::to_string(interp.ops),
      FormatBytes(interp.peak_live_bytes),
      std::to_string(interp.arenas_allocated) + "/" +
          std::to_string(interp.arenas_released),
      std::to_string(interp.cross_interpreter_frees),
      std::to_string(interp.recreations),
      std::to_string(interp.leaked_blocks),
  };
}

std::string SecondsText(double seconds) { return StrFormat("%.2f", seconds); }
std::string RateText(std::int64_t ops, double seconds) {
  return StrFormat("%.0f", Rate(ops, seconds));
}

std::size_t SlotCount(const Report& report) {
  std::size_t slots = report.interpreters.size();
  for (const Sample& sample : report.samples) {
    slots = std::max({slots, sample.ops.size(), sample.arenas.size()});
  }
  return slots;
}

std::vector<SlotGroup> SlotGroups(const Report& report,
                                  std::size_t slot_count) {
  const auto name = [&report](std::size_t slot) {
    return slot < report.interpreters.size() ? report.interpreters[slot].name
                                             : "slot " + std::to_string(slot);
  };
  std::vector<SlotGroup> groups;
  if (slot_count <= kListedInterpreters) {
    for (std::size_t slot = 0; slot < slot_count; ++slot) {
      groups.push_back({name(slot), {slot}});
    }
    return groups;
  }
  const auto ops = [&report](std::size_t slot) {
    return slot < report.interpreters.size() ? report.interpreters[slot].ops
                                             : std::int64_t{0};
  };
  std::vector<std::size_t> by_ops(slot_count);
  for (std::size_t slot = 0; slot < slot_count; ++slot) by_ops[slot] = slot;
  // Most ops first; ties in run order, so the choice is deterministic.
  std::stable_sort(
      by_ops.begin(), by_ops.end(),
      [&ops](std::size_t a, std::size_t b) { return ops(a) > ops(b); });
  std::vector<bool> top(slot_count, false);
  for (std::size_t i = 0; i < kTopInterpreters; ++i) top[by_ops[i]] = true;
  SlotGroup others{StrFormat("others (%zu)", slot_count - kTopInterpreters),
                   {}};
  for (std::size_t slot = 0; slot < slot_count; ++slot) {
    if (top[slot]) {
      groups.push_back({name(slot), {slot}});
    } else {
      others.slots.push_back(slot);
    }
  }
  groups.push_back(std::move(others));
  return groups;
}

std::vector<InterpreterReport> TableRows(const Report& report) {
  std::vector<InterpreterReport> rows;
  for (const SlotGroup& group :
       SlotGroups(report, report.interpreters.size())) {
    if (group.slots.size() == 1) {
      rows.push_back(report.interpreters[group.slots[0]]);
      continue;
    }
    InterpreterReport sum;
    sum.name = group.name;
    sum.lock = "-";
    for (const std::size_t slot : group.slots) {
      const InterpreterReport& interp = report.interpreters[slot];
      sum.threads += interp.threads;
      sum.ops += interp.ops;
      sum.peak_live_bytes += interp.peak_live_bytes;
      sum.arenas_allocated += interp.arenas_allocated;
      sum.arenas_released += interp.arenas_released;
      sum.cross_interpreter_frees += interp.cross_interpreter_frees;
      sum.recreations += interp.recreations;
      sum.leaked_blocks += interp.leaked_blocks;
    }
    rows.push_back(std::move(sum));
  }
  return rows;
}

}  // namespace interpheap::stress
