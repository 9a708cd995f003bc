// Seeded mutational fuzzing of the readers that take files from outside: the .npy reader,
// the HDF5 matrix reader (`poslab probe file.h5:/ds`) and the results reader of `poslab
// report`. Each test starts from valid files written by poslab's own writers, applies a
// fixed sequence of random mutations (bit flips, byte and integer-field overwrites,
// truncations, inserted or deleted ranges, and for .npy edited header fields), and runs
// the reader in-process on every mutant. Every case must end in success or in a
// ConfigError / std::runtime_error: a crash, a hang (the test's time limit) or a huge
// allocation (the address-space cap below turns it into std::bad_alloc) fails the test.
//
// The seed is fixed so CI sees the same cases every time; POSLAB_FUZZ_SEED and
// POSLAB_FUZZ_CASES run other or more cases locally, e.g.
//   POSLAB_FUZZ_SEED=7 POSLAB_FUZZ_CASES=20000 build/poslab_tests --gtest_filter='Fuzz*'
// and POSLAB_FUZZ_TRACE=1 prints each case number before it runs (the mutant is left in
// the test's temp folder), to reproduce a crash.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <iterator>
#include <new>
#include <stdexcept>
#include <string>
#include <typeinfo>
#include <vector>

#include "cli_util.h"
#include "core/rng.h"
#include "io/config.h"
#include "io/h5file.h"
#include "io/matrix_source.h"
#include "io/npy.h"
#include "io/results.h"
#include "io/run_summary.h"
#include "io/safetensors.h"
#include "synthetic_results.h"

namespace poslab {
namespace {

namespace fs = std::filesystem;

std::uint64_t env_or(const char* name, std::uint64_t fallback) {
  const char* v = std::getenv(name);
  return v ? std::strtoull(v, nullptr, 10) : fallback;
}

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), std::streamsize(bytes.size()));
}

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define POSLAB_FUZZ_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
#define POSLAB_FUZZ_SANITIZED 1
#endif
#endif

// Caps the address space while fuzzing, so that a reader that trusts a size field and
// allocates gigabytes gets std::bad_alloc (reported as a failure) instead of exhausting
// the machine. Sanitizer runtimes reserve terabytes of shadow memory, so no cap there.
class AddressSpaceCap {
 public:
  explicit AddressSpaceCap(std::size_t headroom_bytes) {
#ifndef POSLAB_FUZZ_SANITIZED
    std::ifstream statm("/proc/self/statm");
    std::size_t pages = 0;
    if (!(statm >> pages) || getrlimit(RLIMIT_AS, &saved_) != 0) return;
    rlimit cap = saved_;
    cap.rlim_cur = pages * std::size_t(sysconf(_SC_PAGESIZE)) + headroom_bytes;
    if (saved_.rlim_cur != RLIM_INFINITY && saved_.rlim_cur < cap.rlim_cur) return;
    active_ = setrlimit(RLIMIT_AS, &cap) == 0;
#else
    (void)headroom_bytes;
#endif
  }
  ~AddressSpaceCap() {
    if (active_) setrlimit(RLIMIT_AS, &saved_);
  }

 private:
  rlimit saved_{};
  bool active_ = false;
};

// A fresh folder for the mutants: in memory (/dev/shm) where there is one, since every case
// writes a file and disk writes would dominate the time; else the test temp folder. It is
// removed when the test passes and kept (with any failing case) when it fails.
class MutantDir {
 public:
  explicit MutantDir(const std::string& name) {
    std::error_code error;
    if (fs::is_directory("/dev/shm", error)) {
      path_ = fs::path("/dev/shm") / ("poslab_" + std::to_string(::getpid()) + "_" + name);
      fs::remove_all(path_, error);
      if (fs::create_directories(path_, error)) return;
    }
    path_ = testing::fresh_dir(name);
  }
  ~MutantDir() {
    std::error_code error;
    if (!::testing::Test::HasFailure()) fs::remove_all(path_, error);
  }
  MutantDir(const MutantDir&) = delete;
  MutantDir& operator=(const MutantDir&) = delete;
  fs::path operator/(const std::string& file) const { return path_ / file; }
  operator const fs::path&() const { return path_; }

 private:
  fs::path path_;
};

// ---- Mutations ------------------------------------------------------------------------

// Values that size and offset fields are most often wrong with.
const std::vector<std::uint64_t> kInteresting = {
    0, 1, 2, 0x7F, 0x80, 0xFF, 0x7FFF, 0xFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF,
    0x100000000ULL, 0x7FFFFFFFFFFFFFFFULL, 0xFFFFFFFFFFFFFFFFULL, 1ULL << 40};

class Mutator {
 public:
  explicit Mutator(std::uint64_t seed) : rng_(Rng::derive(seed, "fuzz")) {}

  std::size_t below(std::size_t n) { return n == 0 ? 0 : std::size_t(rng_.next_u64() % n); }

  // 1 to 4 stacked mutations of `bytes`; `protect` leading bytes are never touched (e.g.
  // a signature, so that most cases reach the deeper parsing code).
  std::string mutate(std::string bytes, std::size_t protect = 0) {
    const int count = 1 + int(below(4));
    for (int m = 0; m < count; ++m) {
      if (bytes.size() <= protect) break;
      const std::size_t span = bytes.size() - protect;
      const std::size_t at = protect + below(span);
      switch (below(7)) {
        case 0:  // flip 1 to 8 bits
          for (std::size_t i = 0, n = 1 + below(8); i < n; ++i)
            bytes[protect + below(span)] ^= char(1u << below(8));
          break;
        case 1:  // overwrite a byte
          bytes[at] = char(below(256));
          break;
        case 2: {  // overwrite an integer field (1, 2, 4 or 8 bytes, little-endian)
          const std::size_t width = std::size_t(1) << below(4);
          std::uint64_t v = kInteresting[below(kInteresting.size())];
          if (below(2)) v = bytes.size() * (1 + below(4)) + below(3) - 1;  // near the file size
          for (std::size_t i = 0; i < width && at + i < bytes.size(); ++i)
            bytes[at + i] = char((v >> (8 * i)) & 0xFF);
          break;
        }
        case 3:  // truncate
          bytes.resize(protect + below(span));
          break;
        case 4:  // delete a range
          bytes.erase(at, 1 + below(std::min<std::size_t>(64, bytes.size() - at)));
          break;
        case 5:  // insert random bytes
          bytes.insert(at, std::string(1 + below(16), char(below(256))));
          break;
        case 6:  // zero a block
          std::fill(bytes.begin() + std::ptrdiff_t(at),
                    bytes.begin() + std::ptrdiff_t(std::min(bytes.size(), at + 1 + below(32))), '\0');
          break;
      }
    }
    return bytes;
  }

 private:
  Rng rng_;
};

// Runs `read` on `cases` mutants of the files in `bases`, written to `path`. Returns the
// number of mutants that were read successfully (so a test can see that the mutations
// are not all rejected at the first byte). Any exception other than ConfigError or
// std::runtime_error is a failure that names the case, so it can be reproduced.
struct FuzzCounts {
  int accepted = 0, rejected = 0;
};
FuzzCounts fuzz(const std::string& name, const std::vector<std::string>& bases,
                const std::string& path, std::size_t protect, std::uint64_t default_cases,
                const std::function<std::string(Mutator&, const std::string&)>& mutate,
                const std::function<void(const std::string&)>& read) {
  const std::uint64_t seed = env_or("POSLAB_FUZZ_SEED", 20240601);
  const std::uint64_t cases = env_or("POSLAB_FUZZ_CASES", default_cases);
  const bool trace = env_or("POSLAB_FUZZ_TRACE", 0) != 0;
  Mutator mutator(seed);
  FuzzCounts counts;
  const auto start = std::chrono::steady_clock::now();
  AddressSpaceCap cap(std::size_t(1) << 31);  // 2 GiB beyond what the process uses now
  for (std::uint64_t c = 0; c < cases; ++c) {
    const std::string& base = bases[c % bases.size()];
    write_bytes(path, mutate ? mutate(mutator, base) : mutator.mutate(base, protect));
    if (trace) std::cerr << name << ": case " << c << "\n";  // the last one printed crashed
    try {
      read(path);
      ++counts.accepted;
    } catch (const ConfigError&) {
      ++counts.rejected;
    } catch (const std::runtime_error&) {
      ++counts.rejected;
    } catch (const std::exception& e) {
      ADD_FAILURE() << name << ": case " << c << " (seed " << seed << "): "
                    << typeid(e).name() << ": " << e.what();
      fs::copy_file(path, path + ".case" + std::to_string(c), fs::copy_options::overwrite_existing);
    }
  }
  // No wall-clock assertion (a loaded machine would make it fail at random): a hang is
  // caught by CTest's timeout, and the time is recorded in the test's XML output.
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ::testing::Test::RecordProperty(name + "_seconds", std::to_string(seconds));
  return counts;
}

// ---- Valid starting files, written by poslab's own writers ------------------------------

std::vector<double> ramp(std::size_t n, double scale) {
  std::vector<double> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = scale * std::sin(0.7 * double(i)) + double(i % 5);
  return v;
}

std::string write_h5_matrix(const fs::path& dir) {
  const std::string path = (dir / "matrix.h5").string();
  H5Writer w(path);
  w.write("/encoder/position_matrix", ramp(8 * 6, 1.0), {8, 6});
  w.write_float32("/m32", std::vector<float>(5 * 4, 0.25f), {5, 4});
  w.write_int64("/ids", {1, 2, 3, 4, 5, 6}, {3, 2});
  w.attr("/encoder/position_matrix", "description", std::string("[L, d] rows are positions"));
  w.attr("/", "schema_version", std::int64_t(1));
  w.commit();
  return path;
}

// A run's results as the run loop writes them, small (tests/synthetic_results.h).
std::string write_results_file(const fs::path& dir) {
  const std::string path = (dir / "results.h5").string();
  write_results(path, testing::synthetic_run("learned", 3));
  return path;
}

// ---- .npy ----------------------------------------------------------------------------

// Header-level edits: the dict NumPy writes with a random shape, dtype or order, and a
// random header-length field, followed by the original data bytes.
std::string npy_header_edit(Mutator& m, const std::string& base) {
  if (m.below(3) == 0) return m.mutate(base, 0);
  static const std::vector<std::string> descrs = {"<f4", "<f8", "<i4", "<i8", ">f8", "|b1", "<f2",
                                                  "<c16", "O", "", "<f8<f8"};
  static const std::vector<std::string> dims = {"0", "1", "2", "6", "8", "48", "-1", "2147483648",
                                                "4294967297", "18446744073709551615",
                                                "99999999999999999999999", "3L", "x", ""};
  std::string shape = "(";
  for (std::size_t i = 0, n = m.below(4); i < n; ++i) shape += dims[m.below(dims.size())] + ", ";
  shape += ")";
  const std::string order = m.below(4) == 0 ? "True" : (m.below(4) == 0 ? "1" : "False");
  std::string dict = "{'descr': '" + descrs[m.below(descrs.size())] + "', 'fortran_order': " + order +
                     ", 'shape': " + shape + ", }";
  if (m.below(4) == 0) dict.erase(m.below(dict.size()), 1 + m.below(4));
  const std::size_t header_start = 10;  // version 1.0: magic, version, 2-byte length
  const std::size_t old_length = std::size_t((unsigned char)base[8]) | std::size_t((unsigned char)base[9]) << 8;
  std::string out = base.substr(0, 8);
  std::size_t length = dict.size() + 1;
  if (m.below(5) == 0) length = kInteresting[m.below(kInteresting.size())] & 0xFFFF;
  out += char(length & 0xFF);
  out += char((length >> 8) & 0xFF);
  out += dict + "\n";
  out += base.substr(std::min(base.size(), header_start + old_length));
  return out;
}

TEST(FuzzReaders, NpyReaderFailsCleanlyOnMutatedFiles) {
  const MutantDir dir("fuzz_npy");
  const std::string small = (dir / "small.npy").string();
  write_npy(small, ramp(8 * 6, 1.0), {8, 6});
  // A small float64 file from our writer, and (every 4th case: it is 196 KB) GPT-2's
  // float32 table as NumPy wrote it.
  const std::string small_bytes = read_bytes(small);
  const std::vector<std::string> bases = {small_bytes, small_bytes, small_bytes,
                                          read_bytes(testing::data_path("gpt2_wpe_first64.npy"))};
  const FuzzCounts n = fuzz("npy", bases, (dir / "mutant.npy").string(), 0, 10000, npy_header_edit,
                            [](const std::string& p) {
                              const NpyArray a = read_npy(p);
                              std::size_t count = 1;
                              for (std::size_t d : a.shape) count *= d;
                              if (count != a.data.size()) throw std::logic_error("shape does not match the data");
                            });
  EXPECT_GT(n.accepted, 50) << "mutations should leave many files readable";
  EXPECT_GT(n.rejected, 500);
}

// ---- HDF5 matrix (poslab probe file.h5:/dataset) ------------------------------------------

TEST(FuzzReaders, Hdf5MatrixReaderFailsCleanlyOnMutatedFiles) {
  const MutantDir dir("fuzz_h5_matrix");
  const std::vector<std::string> bases = {read_bytes(write_h5_matrix(dir))};
  const std::string mutant = (dir / "mutant.h5").string();
  // The 8-byte signature is kept in most cases so that the mutations reach HDF5's
  // metadata parsing; the plain mutator also hits it.
  const FuzzCounts n = fuzz("h5 matrix", bases, mutant, 0, 5000,
                            [](Mutator& m, const std::string& base) { return m.mutate(base, m.below(4) ? 8 : 0); },
                            [](const std::string& p) {
                              for (const char* ds : {":/encoder/position_matrix", ":/m32", ":/ids"}) {
                                const Eigen::MatrixXd M = load_matrix(p + ds);
                                // every value the reader returns is stored in the file
                                if (std::uintmax_t(M.size()) > fs::file_size(p))
                                  throw std::logic_error("more values than the file has bytes");
                              }
                            });
  EXPECT_GT(n.accepted, 20);
  EXPECT_GT(n.rejected, 100);
}

// ---- safetensors (poslab probe model.safetensors:tensor) ----------------------------------

TEST(FuzzReaders, SafetensorsReaderFailsCleanlyOnMutatedFiles) {
  const MutantDir dir("fuzz_safetensors");
  // Four tensors of different dtypes back to back, and metadata.
  const std::string header =
      "{\"__metadata__\": {\"format\": \"pt\"}, "
      "\"wpe\": {\"dtype\": \"F32\", \"shape\": [4, 3], \"data_offsets\": [0, 48]}, "
      "\"h.0\": {\"dtype\": \"F16\", \"shape\": [2, 2], \"data_offsets\": [48, 56]}, "
      "\"b\": {\"dtype\": \"BF16\", \"shape\": [3, 1], \"data_offsets\": [56, 62]}, "
      "\"ids\": {\"dtype\": \"I64\", \"shape\": [2], \"data_offsets\": [62, 78]}}";
  std::string data(78, '\0');
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = char(0x3C + (i % 7));
  auto with_length = [](const std::string& text) {
    std::string out(8, '\0');
    for (int i = 0; i < 8; ++i) out[i] = char((text.size() >> (8 * i)) & 0xFF);
    return out + text;
  };
  const std::string base = with_length(header) + data;
  // Half the cases edit the JSON text and fix the length prefix (so that they reach the
  // header's validation); the others mutate the raw bytes, length prefix included.
  const FuzzCounts n = fuzz(
      "safetensors", {base}, (dir / "mutant.safetensors").string(), 0, 10000,
      [&](Mutator& m, const std::string& whole) {
        if (m.below(2)) return m.mutate(whole);
        return with_length(m.mutate(header)) + data;
      },
      [](const std::string& p) {
        const SafetensorsHeader h = read_safetensors_header(p);
        for (const SafetensorsEntry& t : h.tensors) {
          if (h.data_start + t.end > fs::file_size(p)) throw std::logic_error("offsets beyond the file were accepted");
          if (t.shape.size() != 2 || (t.dtype != "F32" && t.dtype != "F16" && t.dtype != "BF16")) continue;
          const Eigen::MatrixXd M = load_matrix(p + ":" + t.name);
          if (std::uintmax_t(M.size()) * 2 > fs::file_size(p))
            throw std::logic_error("more values than the file has bytes");
        }
      });
  // The format is strict (a changed digit in an offset breaks the tiling), so few survive.
  EXPECT_GT(n.accepted, 50) << "mutations should leave some files readable";
  EXPECT_GT(n.rejected, 5000);
}

// ---- Results files (poslab report) -------------------------------------------------------

// The starting file is a frozen copy of write_results' output for synthetic_run("learned",
// 3) (tests/data/results_synthetic.h5), so that the cases do not move when the writer
// changes. Other seeds than the default also find crashes inside libhdf5 1.10.8 itself:
// H5HG_read trusts the heap index of a variable-length string, so a damaged index reads
// out of bounds. That cannot be checked from outside the library; `poslab report` reads
// each file in a child process (cli/isolated.h) so that such a file is one warning.
TEST(FuzzReaders, ResultsReaderFailsCleanlyOnMutatedFiles) {
  const MutantDir dir("fuzz_results");
  const std::vector<std::string> bases = {read_bytes(testing::data_path("results_synthetic.h5"))};
  const std::string mutant = (dir / "mutant.h5").string();
  const std::vector<std::string> metrics = {"loss", "token_accuracy", "exact_match", "perplexity"};
  const std::vector<std::string> probes = {"absolute_position.mae", "absolute_position.r2"};
  const FuzzCounts n = fuzz("results", bases, mutant, 0, 1000,
                            [](Mutator& m, const std::string& base) { return m.mutate(base, m.below(4) ? 8 : 0); },
                            [&](const std::string& p) {
                              const RunSummary s = read_run_summary(p, metrics, probes);
                              if (s.values.size() > 64) throw std::logic_error("more columns than the file has");
                            });
  EXPECT_GT(n.accepted, 20);
  EXPECT_GT(n.rejected, 100);
}

// A handful of mutants through the command line, as a user would meet them: a corrupt
// results file next to a good one is skipped with a warning (exit 0), a corrupt matrix is
// one error line (exit 2); never a crash.
TEST(FuzzReaders, CliReportAndProbeOnMutatedFiles) {
  const auto dir = testing::fresh_dir("fuzz_cli");
  const fs::path results = dir / "results";
  fs::create_directories(results);
  const std::string good = write_results_file(results);
  const std::string base = read_bytes(good);
  const std::string npy = (dir / "m.npy").string();
  write_npy(npy, ramp(16 * 6, 1.0), {16, 6});
  const std::string npy_base = read_bytes(npy);
  Mutator m(env_or("POSLAB_FUZZ_SEED", 20240601));
  for (int c = 0; c < 6; ++c) {
    write_bytes((results / "mutant.h5").string(), m.mutate(base, 8));
    const auto r = testing::run_poslab("report " + results.string());
    EXPECT_EQ(r.exit_code, 0) << "case " << c << "\n" << r.err;
    EXPECT_NE(r.out.find("learned"), std::string::npos) << "the good file is still reported";

    write_bytes(npy, m.mutate(npy_base, 0));
    const auto p = testing::run_poslab("probe " + npy + " --probes similarity");
    EXPECT_TRUE(p.exit_code == 0 || p.exit_code == 2) << "case " << c << " exit " << p.exit_code << "\n" << p.err;
    if (p.exit_code == 2) {
      EXPECT_EQ(std::count(p.err.begin(), p.err.end(), '\n'), 1) << p.err;
    }
  }
}

}  // namespace
}  // namespace poslab
