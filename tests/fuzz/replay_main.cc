// tests/fuzz/replay_main.cc: runs LLVMFuzzerTestOneInput on every file of
// the directories (or files) named on the command line, in name order, in
// one process, as libFuzzer does. The default build's replay test
// (//tests/fuzz:interpheap_fuzz_replay_test) uses it on the seed corpus and
// every kept crash input; a model mismatch aborts, which fails the test.

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size);

namespace {

// The regular files of `path` (itself if it is a file), sorted.
std::vector<std::string> FilesOf(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return {};
  if (!S_ISDIR(st.st_mode)) return {path};
  std::vector<std::string> files;
  if (DIR* dir = opendir(path.c_str())) {
    while (const dirent* entry = readdir(dir)) {
      const std::string name = entry->d_name;
      if (name == "." || name == ".." || name == "README.md") continue;
      const std::string full = path + "/" + name;
      if (stat(full.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
        files.push_back(full);
      }
    }
    closedir(dir);
  }
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace

int main(int argc, char** argv) {
  int inputs = 0;
  for (int i = 1; i < argc; ++i) {
    struct stat st;
    if (stat(argv[i], &st) != 0) {
      std::fprintf(stderr, "replay: %s: no such file or directory\n", argv[i]);
      return 2;
    }
    const std::vector<std::string> files = FilesOf(argv[i]);
    for (const std::string& file : files) {
      std::ifstream in(file, std::ios::binary);
      const std::vector<char> bytes((std::istreambuf_iterator<char>(in)),
                                    std::istreambuf_iterator<char>());
      std::fprintf(stderr, "replay: %s (%zu bytes)\n", file.c_str(),
                   bytes.size());
      LLVMFuzzerTestOneInput(
          reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
      ++inputs;
    }
  }
  std::printf("replay: %d inputs, no model mismatch\n", inputs);
  return inputs > 0 ? 0 : 2;
}
