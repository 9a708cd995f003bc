// .npy reading/writing and load_matrix (.npy and file.h5:/dataset forms), including the
// real GPT-2 position-embedding fixture and malformed files.
#include "io/npy.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>
#include <vector>

#include "io/config.h"
#include "io/h5file.h"
#include "io/matrix_source.h"

namespace poslab {
namespace {

namespace fs = std::filesystem;

class NpyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::path(::testing::TempDir()) /
           ("poslab_npy_" + std::string(info->name()) + "_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  // Writes a .npy file by hand (so the reader is not only tested against our writer).
  std::string write_raw(const std::string& name, const std::string& dict, const void* data,
                        std::size_t bytes, int major = 1) {
    std::string header = dict;
    const std::size_t prefix = major == 1 ? 10 : 12;
    while ((prefix + header.size() + 1) % 64 != 0) header += ' ';
    header += '\n';
    std::string out = std::string("\x93NUMPY", 6) + static_cast<char>(major) + '\0';
    const std::size_t n = header.size();
    out += static_cast<char>(n & 0xFF);
    out += static_cast<char>((n >> 8) & 0xFF);
    if (major != 1) out += std::string(2, '\0');
    out += header;
    out.append(static_cast<const char*>(data), bytes);
    const std::string file = path(name);
    std::ofstream(file, std::ios::binary) << out;
    return file;
  }

  static std::string error_of(const std::function<void()>& body) {
    try {
      body();
    } catch (const ConfigError& e) {
      EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos);
      return e.what();
    }
    ADD_FAILURE() << "no ConfigError";
    return "";
  }

  fs::path dir_;
};

// The GPT-2 fixture in the source tree (tests/data/SOURCES.md); POSLAB_GPT2_WPE overrides it.
std::string gpt2_fixture() {
  std::vector<std::string> candidates;
  if (const char* env = std::getenv("POSLAB_GPT2_WPE")) candidates.push_back(env);
#ifdef POSLAB_SOURCE_DIR
  candidates.push_back(std::string(POSLAB_SOURCE_DIR) + "/tests/data/gpt2_wpe_first64.npy");
#endif
  for (const std::string& c : candidates) {
    if (fs::exists(c)) return c;
  }
  return "";
}

TEST_F(NpyTest, RoundTripOfTwoOneAndZeroDimensionalArrays) {
  const std::vector<double> m = {1.0, -2.5, 3.0, 4.0, 5.0, 6.125};
  write_npy(path("m.npy"), m, {2, 3});
  write_npy(path("v.npy"), {7.0, 8.0}, {2});
  write_npy(path("s.npy"), {9.5}, {});
  NpyArray a = read_npy(path("m.npy"));
  EXPECT_EQ(a.shape, (std::vector<std::size_t>{2, 3}));
  EXPECT_EQ(a.data, m);
  EXPECT_EQ(read_npy(path("v.npy")).shape, (std::vector<std::size_t>{2}));
  NpyArray s = read_npy(path("s.npy"));
  EXPECT_TRUE(s.shape.empty());
  EXPECT_EQ(s.data, (std::vector<double>{9.5}));
  // NumPy aligns the data to 64 bytes; so do we.
  EXPECT_EQ((fs::file_size(path("m.npy")) - m.size() * sizeof(double)) % 64, 0u);
  EXPECT_FALSE(fs::exists(path("m.npy.tmp")));
}

TEST_F(NpyTest, WriterHeaderIsWhatNumpyWrites) {
  write_npy(path("v.npy"), {1.0, 2.0, 3.0}, {3});
  std::ifstream in(path("v.npy"), std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_GE(bytes.size(), 128u);
  EXPECT_EQ(bytes.substr(0, 8), std::string("\x93NUMPY\x01\x00", 8));
  const std::string dict = "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }";
  EXPECT_EQ(bytes.substr(10, dict.size()), dict);
  EXPECT_EQ(bytes[127], '\n');
}

TEST_F(NpyTest, ReadsEachSupportedDtype) {
  const float f[] = {1.5f, -2.0f};
  const std::int32_t i4[] = {-3, 2147483647};
  const std::int64_t i8[] = {-5, std::int64_t{1} << 40};
  const double f8[] = {0.25, 1e300};
  auto f4_file = write_raw("f4.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", f, 8);
  auto i4_file = write_raw("i4.npy", "{'descr': '<i4', 'fortran_order': False, 'shape': (1, 2), }", i4, 8);
  auto i8_file = write_raw("i8.npy", "{'descr': '<i8', 'fortran_order': False, 'shape': (2, 1), }", i8, 16);
  // Format 2.0 (4-byte header length), keys in another order.
  auto f8_file = write_raw("f8.npy", "{'shape': (2,), 'fortran_order': False, 'descr': '<f8'}", f8, 16, 2);
  EXPECT_EQ(read_npy(f4_file).data, (std::vector<double>{1.5, -2.0}));
  EXPECT_EQ(read_npy(i4_file).data, (std::vector<double>{-3.0, 2147483647.0}));
  EXPECT_EQ(read_npy(i8_file).data, (std::vector<double>{-5.0, 1099511627776.0}));
  EXPECT_EQ(read_npy(i8_file).shape, (std::vector<std::size_t>{2, 1}));
  EXPECT_EQ(read_npy(f8_file).data, (std::vector<double>{0.25, 1e300}));
}

TEST_F(NpyTest, ReadsGpt2PositionEmbeddings) {
  const std::string file = gpt2_fixture();
  ASSERT_FALSE(file.empty()) << "gpt2_wpe_first64.npy not found (set POSLAB_GPT2_WPE)";
  NpyArray a = read_npy(file);
  ASSERT_EQ(a.shape, (std::vector<std::size_t>{64, 768}));
  EXPECT_NEAR(a.data[0], -0.01882072, 1e-6);
  EXPECT_NEAR(a.data[1], -0.1974186, 1e-6);
  double norm0 = 0.0;
  for (std::size_t j = 0; j < 768; ++j) norm0 += a.data[j] * a.data[j];
  EXPECT_NEAR(std::sqrt(norm0), 9.88, 0.01);

  Eigen::MatrixXd m = load_matrix(file);
  ASSERT_EQ(m.rows(), 64);
  ASSERT_EQ(m.cols(), 768);
  EXPECT_EQ(m(0, 1), a.data[1]);
  EXPECT_EQ(m(1, 0), a.data[768]);  // rows are positions (C order)
  EXPECT_NEAR(m.row(0).norm(), 9.88, 0.01);
  EXPECT_NEAR(m.row(1).norm(), 5.19, 0.01);
}

TEST_F(NpyTest, TruncatedFilesAreRefused) {
  write_npy(path("full.npy"), std::vector<double>(12, 1.0), {3, 4});
  std::ifstream in(path("full.npy"), std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::ofstream(path("data.npy"), std::ios::binary) << bytes.substr(0, bytes.size() - 5);
  std::ofstream(path("head.npy"), std::ios::binary) << bytes.substr(0, 40);

  const std::string data_error = error_of([&] { read_npy(path("data.npy")); });
  EXPECT_EQ(data_error, path("data.npy") +
                            ": truncated data (91 bytes, shape [3, 4] of <f8 needs 96): "
                            "expected a complete .npy file");
  const std::string head_error = error_of([&] { read_npy(path("head.npy")); });
  EXPECT_NE(head_error.find("truncated header"), std::string::npos) << head_error;
}

TEST_F(NpyTest, UnsupportedLayoutsAndDtypesAreRefused) {
  const double d[] = {1.0, 2.0, 3.0, 4.0};
  auto fortran = write_raw("f.npy", "{'descr': '<f8', 'fortran_order': True, 'shape': (2, 2), }", d, 32);
  auto big = write_raw("b.npy", "{'descr': '>f8', 'fortran_order': False, 'shape': (4,), }", d, 32);
  auto complex = write_raw("c.npy", "{'descr': '<c16', 'fortran_order': False, 'shape': (2,), }", d, 32);
  std::ofstream(path("text.npy")) << "a,b\n1,2\n";

  EXPECT_NE(error_of([&] { read_npy(fortran); }).find("fortran_order is True: expected C order"),
            std::string::npos);
  EXPECT_EQ(error_of([&] { read_npy(big); }),
            big + ": dtype '>f8': expected one of <f4, <f8, <i4, <i8");
  EXPECT_EQ(error_of([&] { read_npy(complex); }),
            complex + ": dtype '<c16': expected one of <f4, <f8, <i4, <i8");
  EXPECT_NE(error_of([&] { read_npy(path("text.npy")); }).find("expected a .npy file"),
            std::string::npos);
  EXPECT_NE(error_of([&] { read_npy(path("absent.npy")); }).find("no such file"),
            std::string::npos);
}

TEST_F(NpyTest, LoadMatrixFromNpy) {
  write_npy(path("p.npy"), {1.0, 2.0, 3.0, 4.0, 5.0, 6.0}, {2, 3});
  Eigen::MatrixXd m = load_matrix(path("p.npy"));
  ASSERT_EQ(m.rows(), 2);
  ASSERT_EQ(m.cols(), 3);
  EXPECT_EQ(m(0, 2), 3.0);
  EXPECT_EQ(m(1, 0), 4.0);

  write_npy(path("v.npy"), {1.0, 2.0}, {2});
  EXPECT_EQ(error_of([&] { load_matrix(path("v.npy")); }),
            path("v.npy") + ": 1-D array [2]: expected a 2-D array");
}

TEST_F(NpyTest, LoadMatrixFromHdf5Dataset) {
  const std::string file = path("r.h5");
  {
    H5Writer w(file);
    w.write_float32("/encoder/position_matrix", {1, 2, 3, 4, 5, 6}, {3, 2});
    w.write("/encoder/theta", {1.0, 0.5}, {2});
    w.write("/cube", std::vector<double>(8, 0.0), {2, 2, 2});
    w.commit();
  }
  Eigen::MatrixXd m = load_matrix(file + ":/encoder/position_matrix");
  ASSERT_EQ(m.rows(), 3);
  ASSERT_EQ(m.cols(), 2);
  EXPECT_EQ(m(0, 1), 2.0);
  EXPECT_EQ(m(2, 0), 5.0);

  EXPECT_EQ(error_of([&] { load_matrix(file + ":/encoder/theta"); }),
            file + ": /encoder/theta is 1-D [2]: expected a 2-D numeric dataset");
  EXPECT_EQ(error_of([&] { load_matrix(file + ":/cube"); }),
            file + ": /cube is 3-D [2, 2, 2]: expected a 2-D numeric dataset");
  EXPECT_EQ(error_of([&] { load_matrix(file + ":/encoder/pos"); }),
            file + ": /encoder/pos does not exist: expected a 2-D numeric dataset "
                   "(/encoder holds: position_matrix theta)");
  EXPECT_EQ(error_of([&] { load_matrix(file); }),
            file + ": no dataset given: expected file.h5:/path/to/dataset");
  EXPECT_EQ(error_of([&] { load_matrix(path("absent.h5") + ":/x"); }),
            path("absent.h5") + ": no such file: expected an HDF5 file");

  write_npy(path("p.npy"), {1.0}, {1, 1});
  EXPECT_EQ(error_of([&] { load_matrix(path("p.npy") + ":/x"); }),
            path("p.npy") +
                ": not an HDF5 file: expected an HDF5 file (or a .npy file, given without "
                "':dataset')");
}

}  // namespace
}  // namespace poslab
