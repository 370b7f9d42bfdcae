// stress/report.h: the text table lists every interpreter (or the busiest
// plus "others") and the verdict, the JSON parses back to the same fields
// (tricky strings included, samples keyed by interpreter), and the HTML
// page is self-contained with its settings and four charts drawn from the
// data.

#include "stress/report.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"

namespace interpheap::stress {
namespace {

// ---------------------------------------------------------------------------
// A minimal JSON parser (RFC 8259 grammar), enough to prove the output is
// well-formed and to read fields back.

struct Json {
  enum class Kind { kNull, kBool, kNumber, kString, kArray, kObject };
  Kind kind = Kind::kNull;
  bool boolean = false;
  double number = 0;
  std::string text;  // kString: decoded value; kNumber: the literal
  std::vector<Json> items;
  std::map<std::string, Json> members;

  const Json& operator[](const std::string& key) const {
    static const Json kMissing;
    const auto it = members.find(key);
    return it == members.end() ? kMissing : it->second;
  }
};

class JsonParser {
 public:
  explicit JsonParser(const std::string& s) : s_(s) {}

  // Parses the whole input; false (with error()) on any syntax error or
  // trailing garbage.
  bool Parse(Json& out) {
    SkipSpace();
    if (!Value(out, 0)) return false;
    SkipSpace();
    if (pos_ != s_.size()) return Fail("trailing characters");
    return true;
  }
  const std::string& error() const { return error_; }

 private:
  bool Fail(const std::string& what) {
    if (error_.empty()) error_ = what + " at offset " + std::to_string(pos_);
    return false;
  }
  void SkipSpace() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\n' ||
                                s_[pos_] == '\r' || s_[pos_] == '\t')) {
      ++pos_;
    }
  }
  bool Literal(const char* word) {
    const std::string w(word);
    if (s_.compare(pos_, w.size(), w) != 0) return Fail("bad literal");
    pos_ += w.size();
    return true;
  }
  bool Value(Json& out, int depth) {
    if (depth > 64) return Fail("nesting too deep");
    if (pos_ >= s_.size()) return Fail("unexpected end");
    const char c = s_[pos_];
    if (c == '{') return Object(out, depth);
    if (c == '[') return Array(out, depth);
    if (c == '"') {
      out.kind = Json::Kind::kString;
      return String(out.text);
    }
    if (c == 't') {
      out.kind = Json::Kind::kBool;
      out.boolean = true;
      return Literal("true");
    }
    if (c == 'f') {
      out.kind = Json::Kind::kBool;
      return Literal("false");
    }
    if (c == 'n') return Literal("null");
    return Number(out);
  }
  bool Object(Json& out, int depth) {
    out.kind = Json::Kind::kObject;
    ++pos_;
    SkipSpace();
    if (pos_ < s_.size() && s_[pos_] == '}') {
      ++pos_;
      return true;
    }
    while (true) {
      SkipSpace();
      std::string key;
      if (pos_ >= s_.size() || s_[pos_] != '"') return Fail("expected key");
      if (!String(key)) return false;
      if (out.members.count(key) != 0) return Fail("duplicate key " + key);
      SkipSpace();
      if (pos_ >= s_.size() || s_[pos_] != ':') return Fail("expected ':'");
      ++pos_;
      SkipSpace();
      if (!Value(out.members[key], depth + 1)) return false;
      SkipSpace();
      if (pos_ < s_.size() && s_[pos_] == ',') {
        ++pos_;
        continue;
      }
      if (pos_ < s_.size() && s_[pos_] == '}') {
        ++pos_;
        return true;
      }
      return Fail("expected ',' or '}'");
    }
  }
  bool Array(Json& out, int depth) {
    out.kind = Json::Kind::kArray;
    ++pos_;
    SkipSpace();
    if (pos_ < s_.size() && s_[pos_] == ']') {
      ++pos_;
      return true;
    }
    while (true) {
      SkipSpace();
      out.items.emplace_back();
      if (!Value(out.items.back(), depth + 1)) return false;
      SkipSpace();
      if (pos_ < s_.size() && s_[pos_] == ',') {
        ++pos_;
        continue;
      }
      if (pos_ < s_.size() && s_[pos_] == ']') {
        ++pos_;
        return true;
      }
      return Fail("expected ',' or ']'");
    }
  }
  bool Hex4(unsigned& value) {
    if (pos_ + 4 > s_.size()) return Fail("short \\u escape");
    value = 0;
    for (int i = 0; i < 4; ++i) {
      const char h = s_[pos_++];
      value <<= 4;
      if (h >= '0' && h <= '9') {
        value |= h - '0';
      } else if (h >= 'a' && h <= 'f') {
        value |= h - 'a' + 10;
      } else if (h >= 'A' && h <= 'F') {
        value |= h - 'A' + 10;
      } else {
        return Fail("bad hex digit");
      }
    }
    return true;
  }
  static void AppendUtf8(std::string& out, unsigned cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }
  bool String(std::string& out) {
    ++pos_;  // opening quote
    while (pos_ < s_.size()) {
      const unsigned char c = static_cast<unsigned char>(s_[pos_++]);
      if (c == '"') return true;
      if (c < 0x20) return Fail("raw control character in string");
      if (c != '\\') {
        out += static_cast<char>(c);
        continue;
      }
      if (pos_ >= s_.size()) break;
      const char e = s_[pos_++];
      switch (e) {
        case '"':
          out += '"';
          break;
        case '\\':
          out += '\\';
          break;
        case '/':
          out += '/';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u': {
          unsigned cp = 0;
          if (!Hex4(cp)) return false;
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            unsigned low = 0;
            if (s_.compare(pos_, 2, "\\u") != 0) return Fail("lone surrogate");
            pos_ += 2;
            if (!Hex4(low) || low < 0xDC00 || low > 0xDFFF) {
              return Fail("bad low surrogate");
            }
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            return Fail("lone low surrogate");
          }
          AppendUtf8(out, cp);
          break;
        }
        default:
          return Fail("bad escape");
      }
    }
    return Fail("unterminated string");
  }
  bool Number(Json& out) {
    const std::size_t start = pos_;
    const auto digits = [this] {
      const std::size_t from = pos_;
      while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
      return pos_ > from;
    };
    if (pos_ < s_.size() && s_[pos_] == '-') ++pos_;
    if (pos_ < s_.size() && s_[pos_] == '0') {
      ++pos_;
    } else if (!digits()) {
      return Fail("bad number");
    }
    if (pos_ < s_.size() && s_[pos_] == '.') {
      ++pos_;
      if (!digits()) return Fail("bad fraction");
    }
    if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
      ++pos_;
      if (pos_ < s_.size() && (s_[pos_] == '+' || s_[pos_] == '-')) ++pos_;
      if (!digits()) return Fail("bad exponent");
    }
    out.kind = Json::Kind::kNumber;
    out.text = s_.substr(start, pos_ - start);
    out.number = std::strtod(out.text.c_str(), nullptr);
    return true;
  }

  const std::string& s_;
  std::size_t pos_ = 0;
  std::string error_;
};

// Parses `json` or fails the test with the parser's message.
Json MustParse(const std::string& json) {
  Json out;
  JsonParser parser(json);
  const bool ok = parser.Parse(out);
  EXPECT_TRUE(ok) << parser.error() << "\n" << json;
  return out;
}

// ---------------------------------------------------------------------------
// Fixtures and helpers.

std::size_t Count(const std::string& haystack, const std::string& needle) {
  std::size_t n = 0;
  for (std::size_t pos = haystack.find(needle); pos != std::string::npos;
       pos = haystack.find(needle, pos + needle.size())) {
    ++n;
  }
  return n;
}

// The <svg ...>...</svg> element with the given id, or "".
std::string ChartSvg(const std::string& html, const std::string& id) {
  const std::size_t at = html.find("id=\"" + id + "\"");
  if (at == std::string::npos) return "";
  const std::size_t open = html.rfind("<svg", at);
  const std::size_t close = html.find("</svg>", at);
  if (open == std::string::npos || close == std::string::npos) return "";
  return html.substr(open, close + 6 - open);
}

// The values of every `name="..."` attribute in `text`, in order.
std::vector<std::string> AttributeValues(const std::string& text,
                                         const std::string& name) {
  std::vector<std::string> values;
  const std::string key = " " + name + "=\"";
  for (std::size_t at = text.find(key); at != std::string::npos;
       at = text.find(key, at + key.size())) {
    const std::size_t begin = at + key.size();
    const std::size_t end = text.find('"', begin);
    if (end == std::string::npos) break;
    values.push_back(text.substr(begin, end - begin));
  }
  return values;
}

// A finite number spelled as the whole of `s`, or NaN.
double ParseFinite(const std::string& s) {
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (s.empty() || end != s.c_str() + s.size() || !std::isfinite(v)) {
    return std::nan("");
  }
  return v;
}

// "x1,y1 x2,y2 ..." as (x, y) pairs; a malformed pair yields NaNs.
std::vector<std::pair<double, double>> ParsePoints(const std::string& list) {
  std::vector<std::pair<double, double>> points;
  std::size_t begin = 0;
  while (begin <= list.size()) {
    std::size_t end = list.find(' ', begin);
    if (end == std::string::npos) end = list.size();
    const std::string pair = list.substr(begin, end - begin);
    const std::size_t comma = pair.find(',');
    if (comma == std::string::npos) {
      points.emplace_back(std::nan(""), std::nan(""));
    } else {
      points.emplace_back(ParseFinite(pair.substr(0, comma)),
                          ParseFinite(pair.substr(comma + 1)));
    }
    begin = end + 1;
  }
  return points;
}

// The points of every polyline in `svg`.
std::vector<std::vector<std::pair<double, double>>> Polylines(
    const std::string& svg) {
  std::vector<std::vector<std::pair<double, double>>> lines;
  for (std::size_t at = svg.find("<polyline "); at != std::string::npos;
       at = svg.find("<polyline ", at + 1)) {
    const std::string element = svg.substr(at, svg.find('>', at) - at);
    const std::vector<std::string> lists = AttributeValues(element, "points");
    EXPECT_EQ(lists.size(), 1u) << element;
    lines.push_back(lists.empty() ? std::vector<std::pair<double, double>>{}
                                  : ParsePoints(lists[0]));
  }
  return lines;
}

// Every geometric attribute and polyline coordinate is a finite number.
void ExpectFiniteGeometry(const std::string& html) {
  int checked = 0;
  for (const char* name :
       {"x", "y", "x1", "x2", "y1", "y2", "cx", "cy", "r", "width", "height"}) {
    for (const std::string& value : AttributeValues(html, name)) {
      EXPECT_TRUE(std::isfinite(ParseFinite(value)))
          << name << "=\"" << value << "\"";
      ++checked;
    }
  }
  EXPECT_GT(checked, 0);
  for (const std::string& list : AttributeValues(html, "points")) {
    for (const auto& point : ParsePoints(list)) {
      EXPECT_TRUE(std::isfinite(point.first) && std::isfinite(point.second))
          << "points=\"" << list << "\"";
    }
  }
}

InterpreterReport Interp(const std::string& name, const std::string& lock,
                         int threads, std::int64_t ops) {
  InterpreterReport interp;
  interp.name = name;
  interp.lock = lock;
  interp.threads = threads;
  interp.ops = ops;
  interp.peak_live_bytes = 1258291;  // 1.2 MiB
  interp.arenas_allocated = 12;
  interp.arenas_released = 11;
  interp.cross_interpreter_frees = 345;
  interp.recreations = 0;
  interp.leaked_blocks = 0;
  interp.class_blocks_in_use.assign(32, 0);
  return interp;
}

// Three interpreters, four samples (one per second).
Report SampleReport() {
  Report report;
  report.configuration = "pymalloc";
  report.command_line = "stress --interpreters=3";
  report.seed = 42;
  report.threads = 6;
  report.seconds = 4;
  report.total_ops = 4000;
  report.bytes_verified = 3 * 1024 * 1024;
  report.hook_toggles = 8;
  report.hook_calls = 9876;
  report.interpreters.push_back(Interp("main", "own", 2, 2000));
  report.interpreters.push_back(Interp("interp-1", "own", 2, 1200));
  report.interpreters.push_back(Interp("churn-1", "main", 2, 800));
  report.interpreters[0].peak_live_bytes = 512;
  report.interpreters[1].peak_live_bytes = 1536;
  report.interpreters[2].recreations = 7;
  report.interpreters[2].arenas_allocated = 30;
  report.interpreters[2].arenas_released = 29;
  for (int c = 0; c < 32; ++c) {
    report.interpreters[0].class_blocks_in_use[c] = 100 - c;
    report.interpreters[1].class_blocks_in_use[c] = 2 * c;
  }
  for (int i = 1; i <= 4; ++i) {
    Sample sample;
    sample.seconds = i;
    // main: 100 ops/s for two seconds, then 400 ops/s.
    sample.ops = {i <= 2 ? 100 * i : 200 + 400 * (i - 2), 300 * i, 200 * i};
    sample.arenas = {i, 2 * i, 5};
    sample.live_bytes = 10 * i;
    report.samples.push_back(sample);
  }
  return report;
}

// ---------------------------------------------------------------------------
// RenderText.

TEST(RenderTextTest, ListsEveryInterpreterWithItsNumbers) {
  const std::string text = RenderText(SampleReport());
  for (const char* column :
       {"interpreter", "lock", "threads", "ops", "peak live",
        "arenas alloc/rel", "cross frees", "recreations", "leaks"}) {
    EXPECT_NE(text.find(column), std::string::npos) << column;
  }
  // One row per interpreter, each starting with its name.
  EXPECT_NE(text.find("\nmain "), std::string::npos) << text;
  EXPECT_NE(text.find("\ninterp-1 "), std::string::npos) << text;
  EXPECT_NE(text.find("\nchurn-1 "), std::string::npos) << text;
  EXPECT_NE(text.find("12/11"), std::string::npos) << text;
  EXPECT_NE(text.find("30/29"), std::string::npos) << text;
  EXPECT_NE(text.find("512 B"), std::string::npos) << text;
  EXPECT_NE(text.find("1.5 KiB"), std::string::npos) << text;
}

TEST(RenderTextTest, RowsAreAlignedToTheHeader) {
  const std::string text = RenderText(SampleReport());
  // Header, rule, three rows: numeric columns are right-aligned, so every
  // row of the table has the same length.
  std::vector<std::string> lines;
  for (std::size_t start = 0, end; start < text.size(); start = end + 1) {
    end = text.find('\n', start);
    lines.push_back(text.substr(start, end - start));
  }
  ASSERT_GE(lines.size(), 5u);
  for (int i = 1; i < 5; ++i) {
    EXPECT_EQ(lines[i].size(), lines[0].size()) << lines[i];
  }
  EXPECT_EQ(lines[1].find_first_not_of('-'), std::string::npos);
}

TEST(RenderTextTest, HumanUnitsForPeakLiveBytes) {
  Report report;
  report.interpreters.push_back(Interp("a", "own", 1, 1));
  report.interpreters.push_back(Interp("b", "own", 1, 1));
  report.interpreters.push_back(Interp("c", "own", 1, 1));
  report.interpreters[1].peak_live_bytes = 3LL * 1024 * 1024 * 1024;
  report.interpreters[2].peak_live_bytes = 1023;
  const std::string text = RenderText(report);
  EXPECT_NE(text.find("1.2 MiB"), std::string::npos) << text;
  EXPECT_NE(text.find("3.0 GiB"), std::string::npos) << text;
  EXPECT_NE(text.find("1023 B"), std::string::npos) << text;
}

TEST(RenderTextTest, TotalsLineAndPass) {
  const std::string text = RenderText(SampleReport());
  EXPECT_NE(text.find("total: 4000 ops in 4.00 s (1000 ops/s), 3.0 MiB "
                      "verified, hooks 8 toggles / 9876 calls"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("\nPASS\n"), std::string::npos) << text;
  EXPECT_EQ(text.find("FAIL"), std::string::npos) << text;
}

TEST(RenderTextTest, FailurePrintsFailAndEveryFailureLine) {
  Report report = SampleReport();
  report.failures = {"interp-1: byte 17 of block 0x10 is 0x00, want 0xab",
                     "churn-1: 3 blocks leaked"};
  const std::string text = RenderText(report);
  const std::size_t fail = text.find("FAIL (2 failures)");
  ASSERT_NE(fail, std::string::npos) << text;
  EXPECT_EQ(text.find("PASS"), std::string::npos) << text;
  const std::size_t first = text.find(report.failures[0]);
  const std::size_t second = text.find(report.failures[1]);
  EXPECT_NE(first, std::string::npos) << text;
  EXPECT_NE(second, std::string::npos) << text;
  EXPECT_LT(fail, first);
  EXPECT_LT(first, second);
}

TEST(RenderTextTest, ZeroSecondsAndNoInterpretersDoNotDivideByZero) {
  const std::string text = RenderText(Report{});
  EXPECT_NE(text.find("(no interpreters)"), std::string::npos) << text;
  EXPECT_NE(text.find("(0 ops/s)"), std::string::npos) << text;
  EXPECT_EQ(text.find("nan"), std::string::npos) << text;
  EXPECT_EQ(text.find("inf"), std::string::npos) << text;
}

TEST(RenderTextTest, InterruptedRunSaysSoBeforeTheVerdict) {
  Report report = SampleReport();
  report.interrupted = true;
  const std::string text = RenderText(report);
  const std::size_t note = text.find("INTERRUPTED (SIGINT) after 4.00 s");
  ASSERT_NE(note, std::string::npos) << text;
  EXPECT_LT(note, text.find("\nPASS\n"));
  EXPECT_EQ(RenderText(SampleReport()).find("INTERRUPTED"), std::string::npos);
}

// 100 interpreters, interpreter i with 10 * i ops.
Report ManyInterpreters(int count) {
  Report report;
  Sample a;
  Sample b;
  a.seconds = 1;
  b.seconds = 2;
  for (int i = 0; i < count; ++i) {
    report.interpreters.push_back(
        Interp("interp-" + std::to_string(i), "own", 1, 10 * i));
    report.interpreters.back().class_blocks_in_use[0] = 1;
    a.ops.push_back(10 * i);
    b.ops.push_back(30 * i);
    a.arenas.push_back(i);
    b.arenas.push_back(i + 1);
  }
  report.samples = {a, b};
  return report;
}

TEST(RenderTextTest, ManyInterpretersShowTheTopByOpsPlusOthers) {
  const std::string text = RenderText(ManyInterpreters(100));
  // Header, rule, the 20 busiest (80..99), one "others" row, the totals.
  EXPECT_EQ(Count(text, "\ninterp-"), 20u) << text;
  EXPECT_NE(text.find("\ninterp-99 "), std::string::npos);
  EXPECT_NE(text.find("\ninterp-80 "), std::string::npos);
  EXPECT_EQ(text.find("\ninterp-79 "), std::string::npos);
  // The others add up: ops 10 * (0 + ... + 79) = 31600, 80 threads.
  const std::size_t others = text.find("\nothers (80)");
  ASSERT_NE(others, std::string::npos) << text;
  const std::string row =
      text.substr(others, text.find('\n', others + 1) - others);
  EXPECT_NE(row.find(" 31600 "), std::string::npos) << row;
  EXPECT_NE(row.find(" 80 "), std::string::npos) << row;
  // A few dozen are still listed one by one.
  EXPECT_EQ(Count(RenderText(ManyInterpreters(24)), "\ninterp-"), 24u);
}

// ---------------------------------------------------------------------------
// RenderJson.

TEST(RenderJsonTest, EveryFieldRoundTrips) {
  const Report report = SampleReport();
  const Json json = MustParse(RenderJson(report));
  ASSERT_EQ(json.kind, Json::Kind::kObject);
  EXPECT_EQ(json["configuration"].text, "pymalloc");
  EXPECT_EQ(json["command_line"].text, "stress --interpreters=3");
  EXPECT_EQ(json["seed"].text, "42");
  EXPECT_EQ(json["threads"].number, 6);
  EXPECT_EQ(json["seconds"].number, 4);
  EXPECT_EQ(json["total_ops"].number, 4000);
  EXPECT_EQ(json["bytes_verified"].number, 3 * 1024 * 1024);
  EXPECT_EQ(json["hook_toggles"].number, 8);
  EXPECT_EQ(json["hook_calls"].number, 9876);
  EXPECT_EQ(json["passed"].kind, Json::Kind::kBool);
  EXPECT_TRUE(json["passed"].boolean);
  EXPECT_EQ(json["failures"].kind, Json::Kind::kArray);
  EXPECT_TRUE(json["failures"].items.empty());

  const Json& interps = json["interpreters"];
  ASSERT_EQ(interps.items.size(), 3u);
  const Json& churn = interps.items[2];
  EXPECT_EQ(churn["name"].text, "churn-1");
  EXPECT_EQ(churn["lock"].text, "main");
  EXPECT_EQ(churn["threads"].number, 2);
  EXPECT_EQ(churn["ops"].number, 800);
  EXPECT_EQ(churn["peak_live_bytes"].number, 1258291);
  EXPECT_EQ(churn["arenas_allocated"].number, 30);
  EXPECT_EQ(churn["arenas_released"].number, 29);
  EXPECT_EQ(churn["cross_interpreter_frees"].number, 345);
  EXPECT_EQ(churn["recreations"].number, 7);
  EXPECT_EQ(churn["leaked_blocks"].number, 0);
  // Class sizes are explicit: one {block_size, blocks} object per class.
  const Json& classes = interps.items[1]["class_blocks_in_use"];
  ASSERT_EQ(classes.items.size(), 32u);
  EXPECT_EQ(classes.items[0]["block_size"].number, 16);
  EXPECT_EQ(classes.items[31]["block_size"].number, 512);
  EXPECT_EQ(classes.items[31]["blocks"].number, 62);

  // Samples: one array per quantity, per-interpreter series keyed by name.
  const Json& samples = json["samples"];
  ASSERT_EQ(samples.kind, Json::Kind::kObject);
  ASSERT_EQ(samples["seconds"].items.size(), 4u);
  EXPECT_EQ(samples["seconds"].items[3].number, 4);
  EXPECT_EQ(samples["live_bytes"].items[3].number, 40);
  EXPECT_EQ(samples["live_blocks"].kind, Json::Kind::kNull);  // renamed
  ASSERT_EQ(samples["ops"].members.size(), 3u);
  ASSERT_EQ(samples["ops"]["main"].items.size(), 4u);
  EXPECT_EQ(samples["ops"]["main"].items[3].number, 1000);
  EXPECT_EQ(samples["ops"]["churn-1"].items[0].number, 200);
  EXPECT_EQ(samples["arenas"]["interp-1"].items[3].number, 8);
  EXPECT_EQ(samples["arenas"]["churn-1"].items[2].number, 5);
}

TEST(RenderJsonTest, RunContextSchemaAndEffectiveOptions) {
  Report report = SampleReport();
  report.timestamp = "2026-12-02T11:41:41Z";
  report.build_mode = "fastbuild+asan";
  report.host = "builder-7";
  report.options = {{"threads", "6"}, {"duration", "10"}, {"json", ""}};
  const Json json = MustParse(RenderJson(report));
  EXPECT_EQ(json["schema_version"].number, kReportSchemaVersion);
  EXPECT_GE(kReportSchemaVersion, 2);
  EXPECT_EQ(json["timestamp"].text, "2026-12-02T11:41:41Z");
  EXPECT_EQ(json["build_mode"].text, "fastbuild+asan");
  EXPECT_EQ(json["host"].text, "builder-7");
  const Json& options = json["options"];
  ASSERT_EQ(options.kind, Json::Kind::kObject);
  ASSERT_EQ(options.members.size(), 3u);
  EXPECT_EQ(options["threads"].text, "6");
  EXPECT_EQ(options["duration"].text, "10");
  EXPECT_EQ(options["json"].kind, Json::Kind::kString);
  EXPECT_EQ(json["interrupted"].kind, Json::Kind::kBool);
  EXPECT_FALSE(json["interrupted"].boolean);
  report.interrupted = true;
  EXPECT_TRUE(MustParse(RenderJson(report))["interrupted"].boolean);
}

TEST(RenderJsonTest, RaggedSamplesAreNullWhereASlotIsMissing) {
  Report report = SampleReport();
  report.samples[1].ops.resize(1);
  report.samples[3].ops.push_back(50);  // a slot no interpreter reports
  const Json json = MustParse(RenderJson(report));
  const Json& ops = json["samples"]["ops"];
  EXPECT_EQ(ops["interp-1"].items[1].kind, Json::Kind::kNull);
  EXPECT_EQ(ops["main"].items[1].number, 200);
  ASSERT_EQ(ops["slot 3"].items.size(), 4u);
  EXPECT_EQ(ops["slot 3"].items[0].kind, Json::Kind::kNull);
  EXPECT_EQ(ops["slot 3"].items[3].number, 50);
}

TEST(RenderJsonTest, TrickyStringsAreEscapedAndDecodeBack) {
  Report report = SampleReport();
  const std::string name = "q\"uote\\back\nnl\ttab\x01\x1f</script>\xC3\xA9";
  report.interpreters[0].name = name;
  report.command_line = "stress --name='\"x\"' \\\r";
  report.failures = {"bad\bbyte\fhere", "second \"failure\""};
  const std::string text = RenderJson(report);

  EXPECT_NE(text.find(R"(q\"uote\\back\nnl\ttab\u0001\u001f</script>)"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find(R"(bad\bbyte\fhere)"), std::string::npos) << text;
  // No raw control character anywhere but the layout's newlines.
  for (const char c : text) {
    EXPECT_FALSE(static_cast<unsigned char>(c) < 0x20 && c != '\n')
        << "raw control character " << static_cast<int>(c);
  }

  const Json json = MustParse(text);
  EXPECT_EQ(json["interpreters"].items[0]["name"].text, name);
  EXPECT_EQ(json["command_line"].text, report.command_line);
  ASSERT_EQ(json["failures"].items.size(), 2u);
  EXPECT_EQ(json["failures"].items[0].text, report.failures[0]);
  EXPECT_EQ(json["failures"].items[1].text, report.failures[1]);
  EXPECT_FALSE(json["passed"].boolean);
  EXPECT_EQ(json["passed"].kind, Json::Kind::kBool);
}

TEST(RenderJsonTest, InvalidUtf8BecomesReplacementCharacter) {
  Report report;
  report.configuration = std::string(
      "a\xFF"
      "b\xC3",
      4);                                // stray, truncated
  report.command_line = "\xED\xA0\x80";  // a surrogate
  const Json json = MustParse(RenderJson(report));
  EXPECT_EQ(json["configuration"].text,
            "a\xEF\xBF\xBD"
            "b\xEF\xBF\xBD");
  EXPECT_EQ(json["command_line"].text, "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST(RenderJsonTest, BracketsBalanceOutsideStrings) {
  Report report = SampleReport();
  report.interpreters[1].name = "}]{[\"";
  report.failures = {"[unbalanced {"};
  const std::string text = RenderJson(report);
  int depth = 0;
  int max_depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') in_string = true;
    if (c == '{' || c == '[') max_depth = std::max(max_depth, ++depth);
    if (c == '}' || c == ']') --depth;
    ASSERT_GE(depth, 0) << "closed too early at offset " << i;
  }
  EXPECT_FALSE(in_string);
  EXPECT_EQ(depth, 0);
  // object > interpreters > interpreter > classes > class
  EXPECT_EQ(max_depth, 5);
  EXPECT_EQ(text.front(), '{');
  EXPECT_EQ(text.substr(text.size() - 2), "}\n");
}

TEST(RenderJsonTest, NonFiniteSecondsAreNull) {
  Report report = SampleReport();
  report.seconds = std::numeric_limits<double>::quiet_NaN();
  report.samples[0].seconds = std::numeric_limits<double>::infinity();
  const Json json = MustParse(RenderJson(report));
  EXPECT_EQ(json["seconds"].kind, Json::Kind::kNull);
  EXPECT_EQ(json["samples"]["seconds"].items[0].kind, Json::Kind::kNull);
}

TEST(RenderJsonTest, EmptyReportIsValid) {
  const Json json = MustParse(RenderJson(Report{}));
  EXPECT_TRUE(json["passed"].boolean);
  EXPECT_EQ(json["interpreters"].kind, Json::Kind::kArray);
  EXPECT_TRUE(json["interpreters"].items.empty());
  EXPECT_EQ(json["samples"].kind, Json::Kind::kObject);
  EXPECT_TRUE(json["samples"]["seconds"].items.empty());
  EXPECT_TRUE(json["samples"]["ops"].members.empty());
  EXPECT_EQ(json["options"].kind, Json::Kind::kObject);
  EXPECT_EQ(json["seed"].text, "0");
}

TEST(RenderJsonTest, LargestSeedIsExact) {
  Report report;
  report.seed = std::numeric_limits<std::uint64_t>::max();
  const Json json = MustParse(RenderJson(report));
  EXPECT_EQ(json["seed"].text, "18446744073709551615");
}

// ---------------------------------------------------------------------------
// RenderHtml.

TEST(RenderHtmlTest, SelfContainedPageWithoutScriptOrNetwork) {
  Report report = SampleReport();
  const std::string html = RenderHtml(report);
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(html.find("<meta charset=\"utf-8\">"), std::string::npos);
  EXPECT_NE(html.find("<style>"), std::string::npos);
  EXPECT_NE(html.find("</html>\n"), std::string::npos);
  for (const char* banned : {"<script", "http://", "https://", "<link", "url(",
                             "@import", "<img", "<iframe", "src="}) {
    EXPECT_EQ(html.find(banned), std::string::npos) << banned;
  }
}

TEST(RenderHtmlTest, ThreeChartsWithDataMarks) {
  const Report report = SampleReport();
  const std::string html = RenderHtml(report);
  for (const char* id :
       {"chart-total", "chart-throughput", "chart-arenas", "chart-occupancy"}) {
    const std::string svg = ChartSvg(html, id);
    ASSERT_FALSE(svg.empty()) << id;
    EXPECT_NE(svg.find("class=\"chart\""), std::string::npos) << id;
    EXPECT_NE(svg.find("width=\"900\""), std::string::npos) << id;
    EXPECT_NE(svg.find("fill=\"#ffffff\""), std::string::npos) << id;
    EXPECT_EQ(svg.find("no data"), std::string::npos) << id;
    // The legend (or the panels) names every interpreter; the total
    // chart has one line.
    if (std::string(id) == "chart-total") continue;
    for (const InterpreterReport& interp : report.interpreters) {
      EXPECT_NE(svg.find(">" + interp.name + "</text>"), std::string::npos)
          << id << " legend lacks " << interp.name;
    }
  }
  // One polyline per interpreter in each line chart, one point per sample,
  // each in its own color.
  for (const char* id : {"chart-throughput", "chart-arenas"}) {
    const std::string svg = ChartSvg(html, id);
    const auto lines = Polylines(svg);
    ASSERT_EQ(lines.size(), 3u) << id;
    for (const auto& line : lines) EXPECT_EQ(line.size(), 4u) << id;
    EXPECT_NE(svg.find("stroke=\"#1f77b4\""), std::string::npos) << id;
    EXPECT_NE(svg.find("stroke=\"#ff7f0e\""), std::string::npos) << id;
    EXPECT_NE(svg.find("stroke=\"#2ca02c\""), std::string::npos) << id;
  }
  // Occupancy: interpreter 0 has blocks in all 32 classes, interpreter 1 in
  // 31 (class 0 holds 0), interpreter 2 in none.
  const std::string occupancy = ChartSvg(html, "chart-occupancy");
  EXPECT_EQ(Count(occupancy, "<rect x=") - 1 /*background*/ - 3 /*legend*/,
            32u + 31u);
  EXPECT_EQ(Count(occupancy, "fill=\"#1f77b4\"><title>"), 32u);
  EXPECT_EQ(Count(occupancy, "fill=\"#ff7f0e\"><title>"), 31u);
  EXPECT_EQ(Count(occupancy, "fill=\"#2ca02c\"><title>"), 0u);
  EXPECT_NE(occupancy.find(">16</text>"), std::string::npos);
  EXPECT_NE(occupancy.find("main, 512 B: 69</title>"), std::string::npos);
  ExpectFiniteGeometry(html);
}

TEST(RenderHtmlTest, ThroughputIsOpsPerSecondBetweenSamples) {
  const std::string svg =
      ChartSvg(RenderHtml(SampleReport()), "chart-throughput");
  const auto lines = Polylines(svg);
  ASSERT_EQ(lines.size(), 3u);
  // main: 100, 100, 400, 400 ops/s; interp-1: 300 flat; churn-1: 200 flat.
  const auto& main = lines[0];
  ASSERT_EQ(main.size(), 4u);
  EXPECT_DOUBLE_EQ(main[0].second, main[1].second);
  EXPECT_LT(main[2].second, main[1].second);  // higher rate, smaller y
  EXPECT_DOUBLE_EQ(main[2].second, main[3].second);
  for (std::size_t k = 1; k < main.size(); ++k) {
    EXPECT_LT(main[k - 1].first, main[k].first);  // time runs right
  }
  // Linear scale from 0: y(100) - y(0) == (y(300) - y(0)) / 3 etc., with
  // y(0) the axis at the bottom. Derive y(0) from main (100 and 400).
  const double per_op = (main[0].second - main[2].second) / 300.0;
  const double y0 = main[0].second + 100 * per_op;
  EXPECT_NEAR(lines[1][0].second, y0 - 300 * per_op, 0.15);
  EXPECT_NEAR(lines[2][3].second, y0 - 200 * per_op, 0.15);
  // The y axis tops out at the nice value above the largest rate.
  EXPECT_NE(svg.find(">400</text>"), std::string::npos);
  EXPECT_EQ(svg.find(">500</text>"), std::string::npos);
}

TEST(RenderHtmlTest, SummaryStatusConfigurationAndEscaping) {
  Report report = SampleReport();
  report.configuration = "mimalloc & <friends>";
  report.command_line = "stress --name=\"<b>x</b>\" --a='y'";
  report.interpreters[1].name = "<i>evil</i>";
  report.seed = 1234567;
  report.failures = {"leak in <churn-1> & more"};
  const std::string html = RenderHtml(report);
  EXPECT_NE(html.find(">FAIL</span>"), std::string::npos);
  EXPECT_EQ(html.find("PASS"), std::string::npos);
  EXPECT_NE(html.find("<li>leak in &lt;churn-1&gt; &amp; more</li>"),
            std::string::npos);
  EXPECT_NE(html.find("mimalloc &amp; &lt;friends&gt;"), std::string::npos);
  EXPECT_NE(html.find("stress --name=&quot;&lt;b&gt;x&lt;/b&gt;&quot; "
                      "--a=&#39;y&#39;"),
            std::string::npos);
  EXPECT_NE(html.find(">1234567<"), std::string::npos);
  EXPECT_EQ(html.find("<b>"), std::string::npos);
  EXPECT_EQ(html.find("<i>"), std::string::npos);
  EXPECT_NE(html.find("&lt;i&gt;evil&lt;/i&gt;"), std::string::npos);
  // The interpreter table carries the same numbers as the text table.
  EXPECT_NE(html.find(">30/29<"), std::string::npos);
  EXPECT_NE(html.find(">1.5 KiB<"), std::string::npos);

  report.failures.clear();
  EXPECT_NE(RenderHtml(report).find(">PASS</span>"), std::string::npos);
}

TEST(RenderHtmlTest, EmptyReportDrawsAxesAndNoDataNotes) {
  const std::string html = RenderHtml(Report{});
  for (const char* id :
       {"chart-throughput", "chart-arenas", "chart-occupancy"}) {
    const std::string svg = ChartSvg(html, id);
    ASSERT_FALSE(svg.empty()) << id;
    EXPECT_NE(svg.find(">no data</text>"), std::string::npos) << id;
    EXPECT_GE(Count(svg, "<line "), 2u) << id << ": axes missing";
    EXPECT_EQ(svg.find("<polyline"), std::string::npos) << id;
  }
  EXPECT_NE(html.find("no interpreters"), std::string::npos);
  ExpectFiniteGeometry(html);
}

TEST(RenderHtmlTest, OneSampleDrawsAPointPerSlot) {
  Report report = SampleReport();
  report.samples.resize(1);
  const std::string html = RenderHtml(report);
  // The run starts at 0 s with 0 ops, so one sample gives one rate.
  const std::string throughput = ChartSvg(html, "chart-throughput");
  EXPECT_EQ(Count(throughput, "<circle "), 3u);
  EXPECT_EQ(Count(ChartSvg(html, "chart-arenas"), "<circle "), 3u);
  ExpectFiniteGeometry(html);
}

TEST(RenderHtmlTest, AllZeroDataSaysSoWithoutDividingByZero) {
  Report report;
  report.interpreters.push_back(Interp("main", "own", 1, 0));
  report.interpreters.push_back(Interp("idle", "main", 1, 0));
  for (int i = 0; i < 5; ++i) {
    Sample sample;
    sample.seconds = 0;  // every sample at time zero
    sample.ops = {0, 0};
    sample.arenas = {0, 0};
    report.samples.push_back(sample);
  }
  const std::string html = RenderHtml(report);
  EXPECT_NE(ChartSvg(html, "chart-throughput").find(">no data</text>"),
            std::string::npos);
  EXPECT_NE(
      ChartSvg(html, "chart-arenas").find("no data (all values are zero)"),
      std::string::npos);
  EXPECT_NE(ChartSvg(html, "chart-occupancy").find(">no data</text>"),
            std::string::npos);
  ExpectFiniteGeometry(html);
}

TEST(RenderHtmlTest, RaggedSamplesAndExtraSlotsDoNotCrash) {
  Report report = SampleReport();
  report.samples[1].ops.resize(1);  // slots 1 and 2 missing here
  report.samples[2].arenas.clear();
  report.samples[3].ops.push_back(50);  // a slot no interpreter reports
  report.samples[3].seconds = 0.5;      // time going backwards
  report.interpreters[0].class_blocks_in_use.resize(40, 1);
  report.interpreters[1].class_blocks_in_use.clear();
  const std::string html = RenderHtml(report);
  EXPECT_NE(ChartSvg(html, "chart-throughput").find(">slot 3</text>"),
            std::string::npos);
  ExpectFiniteGeometry(html);
}

TEST(RenderHtmlTest, ManyInterpretersGrowTheLegendAndCycleColors) {
  Report report;
  Sample a;
  Sample b;
  a.seconds = 1;
  b.seconds = 2;
  for (int i = 0; i < 20; ++i) {
    report.interpreters.push_back(
        Interp("interp-" + std::to_string(i), "own", 1, 10));
    a.ops.push_back(10 * i);
    b.ops.push_back(30 * i);
    a.arenas.push_back(i);
    b.arenas.push_back(i + 1);
  }
  report.samples = {a, b};
  const std::string html = RenderHtml(report);
  const std::string svg = ChartSvg(html, "chart-arenas");
  EXPECT_EQ(Polylines(svg).size(), 20u);
  EXPECT_NE(svg.find(">interp-19</text>"), std::string::npos);
  EXPECT_NE(svg.find("stroke-dasharray"), std::string::npos);
  const std::string svg_tag = svg.substr(0, svg.find('>'));
  const std::vector<std::string> height = AttributeValues(svg_tag, "height");
  ASSERT_EQ(height.size(), 1u) << svg_tag;
  EXPECT_GT(ParseFinite(height[0]), 300);  // room for 20 legend rows
  ExpectFiniteGeometry(html);
}

TEST(RenderHtmlTest, SettingsBlockListsContextAndEveryOption) {
  Report report = SampleReport();
  report.timestamp = "2026-12-02T11:41:41Z";
  report.build_mode = "opt";
  report.host = "builder-7";
  report.options = {{"threads", "6"}, {"size_mix", "cpython"}};
  const std::string html = RenderHtml(report);
  const std::size_t settings = html.find("<table class=\"settings\">");
  ASSERT_NE(settings, std::string::npos);
  const std::string table =
      html.substr(settings, html.find("</table>", settings) - settings);
  for (const char* cell :
       {"<th>date</th><td>2026-12-02T11:41:41Z</td>",
        "<th>host</th><td>builder-7</td>", "<th>build mode</th><td>opt</td>",
        "<th>--threads</th><td>6</td>",
        "<th>--size_mix</th><td>cpython</td>"}) {
    EXPECT_NE(table.find(cell), std::string::npos) << cell << "\n" << table;
  }
  EXPECT_EQ(html.find("id=\"interrupted\""), std::string::npos);
  report.interrupted = true;
  EXPECT_NE(RenderHtml(report).find("id=\"interrupted\""), std::string::npos);
}

TEST(RenderHtmlTest, TotalThroughputIsTheSumOfEveryInterpreter) {
  const std::string svg = ChartSvg(RenderHtml(SampleReport()), "chart-total");
  const auto lines = Polylines(svg);
  ASSERT_EQ(lines.size(), 1u);
  ASSERT_EQ(lines[0].size(), 4u);
  // Totals: 600, 600, 900, 900 ops/s; the axis tops out at 1k.
  EXPECT_DOUBLE_EQ(lines[0][0].second, lines[0][1].second);
  EXPECT_LT(lines[0][2].second, lines[0][1].second);
  EXPECT_NE(svg.find(">1k</text>"), std::string::npos) << svg;
  ExpectFiniteGeometry(svg);
}

TEST(RenderHtmlTest, LegendSwatchesShowTheDashPatternOfRepeatedColors) {
  const std::string svg =
      ChartSvg(RenderHtml(ManyInterpreters(14)), "chart-throughput");
  std::vector<std::string> swatches;
  for (std::size_t at = svg.find("<line class=\"swatch\"");
       at != std::string::npos;
       at = svg.find("<line class=\"swatch\"", at + 1)) {
    swatches.push_back(svg.substr(at, svg.find('>', at) - at));
  }
  ASSERT_EQ(swatches.size(), 14u);
  // Interpreter 12 repeats interpreter 0's color: its swatch is dashed,
  // interpreter 0's is not, like their lines.
  EXPECT_NE(swatches[12].find("stroke=\"#1f77b4\""), std::string::npos);
  EXPECT_NE(swatches[12].find("stroke-dasharray"), std::string::npos);
  EXPECT_EQ(swatches[0].find("stroke-dasharray"), std::string::npos);
}

TEST(RenderHtmlTest, ArenaPanelsHaveTheirOwnIntegerAxes) {
  Report report = SampleReport();
  // churn-1 cycles between 1 and 3 arenas; main grows to 400.
  for (std::size_t i = 0; i < report.samples.size(); ++i) {
    report.samples[i].arenas = {100 * static_cast<std::int64_t>(i + 1), 2,
                                i % 2 == 0 ? 1 : 3};
  }
  const std::string svg = ChartSvg(RenderHtml(report), "chart-arenas");
  ASSERT_EQ(Count(svg, "<g class=\"panel\">"), 3u);
  const auto lines = Polylines(svg);
  ASSERT_EQ(lines.size(), 3u);
  // On its own axis the churn panel's cycle spans most of the panel's
  // height (on main's axis it would be under 1% of it).
  const auto& churn = lines[2];
  const double swing = std::fabs(churn[0].second - churn[1].second);
  EXPECT_GT(swing, 40) << "churn cycle barely visible";
  // Every y tick label is a whole number.
  for (std::size_t at = svg.find("dy=\"0.35em\""); at != std::string::npos;
       at = svg.find("dy=\"0.35em\"", at + 1)) {
    const std::size_t open = svg.find('>', at) + 1;
    const std::string label = svg.substr(open, svg.find('<', open) - open);
    EXPECT_EQ(label.find('.'), std::string::npos) << label;
  }
  EXPECT_NE(svg.find(">400</text>"), std::string::npos);
}

TEST(RenderHtmlTest, ManyInterpretersChartTheTopByOpsPlusOthers) {
  const std::string html = RenderHtml(ManyInterpreters(100));
  const std::string throughput = ChartSvg(html, "chart-throughput");
  EXPECT_EQ(Polylines(throughput).size(), 21u);
  EXPECT_NE(throughput.find(">others (80)</text>"), std::string::npos);
  EXPECT_EQ(throughput.find(">interp-0</text>"), std::string::npos);
  EXPECT_EQ(Count(ChartSvg(html, "chart-arenas"), "<g class=\"panel\">"), 21u);
  // The chart stays a page-sized picture.
  for (const char* id :
       {"chart-throughput", "chart-arenas", "chart-occupancy"}) {
    const std::string svg = ChartSvg(html, id);
    const std::vector<std::string> height =
        AttributeValues(svg.substr(0, svg.find('>')), "height");
    ASSERT_EQ(height.size(), 1u) << id;
    EXPECT_LT(ParseFinite(height[0]), 1100) << id;
  }
  EXPECT_EQ(Count(html, "<td>interp-"), 20u);
  ExpectFiniteGeometry(html);
}

TEST(RenderTest, SameReportSameBytes) {
  const Report report = SampleReport();
  EXPECT_EQ(RenderText(report), RenderText(report));
  EXPECT_EQ(RenderJson(report), RenderJson(report));
  EXPECT_EQ(RenderHtml(report), RenderHtml(report));
  EXPECT_EQ(RenderHtml(report), RenderHtml(SampleReport()));
}

}  // namespace
}  // namespace interpheap::stress
