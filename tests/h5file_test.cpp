// H5Writer / H5Reader: round trips of every dataset and attribute type, groups created on
// demand, the write-to-tmp-then-rename contract, and the one-line error messages.
#include "io/h5file.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "io/config.h"

namespace poslab {
namespace {

namespace fs = std::filesystem;

// Each test gets its own empty directory, removed afterwards.
class H5FileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::path(::testing::TempDir()) /
           ("poslab_h5_" + std::string(info->name()) + "_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  // File names in the test's folder, sorted.
  std::vector<std::string> entries() const {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(dir_)) names.push_back(e.path().filename());
    std::sort(names.begin(), names.end());
    return names;
  }

  // Expects `body` to throw ConfigError with exactly `message` (one line).
  template <class F>
  static void expect_config_error(F&& body, const std::string& message) {
    try {
      body();
      ADD_FAILURE() << "no ConfigError; expected: " << message;
    } catch (const ConfigError& e) {
      EXPECT_EQ(std::string(e.what()), message);
      EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos);
    }
  }

  fs::path dir_;
};

TEST_F(H5FileTest, Float64RoundTripKeepsShapeAndOrder) {
  const std::string file = path("a.h5");
  {
    H5Writer w(file);
    w.write("/m", {1.5, -2.0, 3.25, 4.0, 5.0, 1e-300}, {2, 3});
    w.commit();
  }
  H5Reader r(file);
  EXPECT_EQ(r.shape("/m"), (std::vector<std::size_t>{2, 3}));
  EXPECT_EQ(r.read("/m"), (std::vector<double>{1.5, -2.0, 3.25, 4.0, 5.0, 1e-300}));
}

TEST_F(H5FileTest, Float32AndInt64RoundTrip) {
  const std::string file = path("b.h5");
  // 2^53 + 1 is not representable as a double: read_int64 must not go through double.
  const std::int64_t big = (std::int64_t{1} << 53) + 1;
  {
    H5Writer w(file);
    w.write_float32("/f", {0.5f, -1.25f, 3.0f}, {3});
    w.write_int64("/i", {big, -7, 0, 42}, {2, 2});
    w.commit();
  }
  H5Reader r(file);
  EXPECT_EQ(r.read("/f"), (std::vector<double>{0.5, -1.25, 3.0}));
  EXPECT_EQ(r.read_int64("/i"), (std::vector<std::int64_t>{big, -7, 0, 42}));
  EXPECT_EQ(r.shape("/i"), (std::vector<std::size_t>{2, 2}));
  EXPECT_EQ(r.read("/i")[1], -7.0);  // integers convert to double through read()
}

TEST_F(H5FileTest, ScalarAndEmptyDatasets) {
  const std::string file = path("c.h5");
  {
    H5Writer w(file);
    w.write("/s", {3.5}, {});
    w.write_int64("/n", {9}, {});
    w.write("/empty", {}, {0});
    w.commit();
  }
  H5Reader r(file);
  EXPECT_TRUE(r.shape("/s").empty());
  EXPECT_EQ(r.read("/s"), (std::vector<double>{3.5}));
  EXPECT_EQ(r.read_int64("/n"), (std::vector<std::int64_t>{9}));
  EXPECT_EQ(r.shape("/empty"), (std::vector<std::size_t>{0}));
  EXPECT_TRUE(r.read("/empty").empty());
}

TEST_F(H5FileTest, StringDatasetKeepsUtf8AndNewlines) {
  const std::string file = path("d.h5");
  const std::string yaml = "model:\n  d_model: 64\nnote: \"µ ≤ 2\"\n";
  {
    H5Writer w(file);
    w.write_string("/config", yaml);
    w.commit();
  }
  H5Reader r(file);
  EXPECT_EQ(r.read_string("/config"), yaml);
}

TEST_F(H5FileTest, AttributesOnRootGroupsAndDatasets) {
  const std::string file = path("e.h5");
  {
    H5Writer w(file);
    w.attr("/", "schema_version", std::int64_t{1});
    w.attr("/", "run_name", std::string("rope_seed0"));
    w.attr("/", "encoder", "rope");  // a string literal picks the string overload
    w.attr("/", "seed", 3);          // a plain int is stored as int64
    w.attr("/probes/absolute_position", "mae", 0.75);  // group created on demand
    w.write("/eval/loss", {1.0, 2.0}, {2});
    w.attr("/eval/loss", "units", std::string("nats"));
    w.attr("/eval/loss", "units", std::string("nats/token"));  // replaces
    w.commit();
  }
  H5Reader r(file);
  EXPECT_EQ(r.attr_double("/", "schema_version"), 1.0);
  EXPECT_EQ(r.attr_string("/", "run_name"), "rope_seed0");
  EXPECT_EQ(r.attr_string("/", "encoder"), "rope");
  EXPECT_EQ(r.attr_double("/", "seed"), 3.0);
  EXPECT_EQ(r.attr_names("/"),
            (std::vector<std::string>{"encoder", "run_name", "schema_version", "seed"}));
  EXPECT_TRUE(r.exists("/probes/absolute_position"));
  EXPECT_DOUBLE_EQ(r.attr_double("/probes/absolute_position", "mae"), 0.75);
  EXPECT_EQ(r.attr_string("/eval/loss", "units"), "nats/token");
  EXPECT_TRUE(r.has_attr("/eval/loss", "units"));
  EXPECT_FALSE(r.has_attr("/eval/loss", "scale"));
  EXPECT_FALSE(r.has_attr("/nowhere", "units"));
}

TEST_F(H5FileTest, NestedGroupsAreCreatedOnDemandAndMembersAreSorted) {
  const std::string file = path("f.h5");
  {
    H5Writer w(file);
    w.write("/encoder/layer1/bias", {1.0}, {1});
    w.write("/encoder/layer0/bias", {2.0}, {1});
    w.write("encoder//theta/", {3.0}, {1});  // normalised to /encoder/theta
    w.create_group("/probes/similarity");
    w.create_group("/probes");  // already there: fine
    w.commit();
  }
  H5Reader r(file);
  EXPECT_TRUE(r.exists("/encoder"));
  EXPECT_TRUE(r.is_group("/encoder/layer0"));
  EXPECT_TRUE(r.is_dataset("/encoder/layer0/bias"));
  EXPECT_TRUE(r.is_group("/probes/similarity"));
  EXPECT_FALSE(r.exists("/encoder/layer2"));
  EXPECT_FALSE(r.exists("/encoder/theta/x"));  // a path "through" a dataset
  EXPECT_EQ(r.members("/encoder"), (std::vector<std::string>{"layer0", "layer1", "theta"}));
  EXPECT_EQ(r.members("/"), (std::vector<std::string>{"encoder", "probes"}));
  EXPECT_EQ(r.read("/encoder/theta"), (std::vector<double>{3.0}));
}

TEST_F(H5FileTest, FileAppearsOnlyOnCommit) {
  const std::string file = path("run.h5");
  H5Writer w(file);
  w.write("/x", {1.0}, {1});
  EXPECT_FALSE(fs::exists(file));
  const std::string temp = w.temp_path();
  EXPECT_EQ(temp.rfind(file + ".tmp.", 0), 0u) << temp;  // <file>.tmp.<pid>.<random>
  EXPECT_TRUE(fs::exists(temp));
  w.commit();
  EXPECT_TRUE(fs::exists(file));
  EXPECT_FALSE(fs::exists(temp));
  EXPECT_EQ(entries(), std::vector<std::string>{"run.h5"});
  EXPECT_EQ(H5Reader(file).read("/x"), (std::vector<double>{1.0}));
}

TEST_F(H5FileTest, WriterDestroyedWithoutCommitLeavesNothing) {
  const std::string file = path("run.h5");
  {
    H5Writer w(file);
    w.write("/x", {1.0}, {1});
  }
  EXPECT_FALSE(fs::exists(file));
  EXPECT_TRUE(entries().empty()) << "no temp file left";
}

TEST_F(H5FileTest, ExceptionWhileWritingLeavesNothing) {
  const std::string file = path("run.h5");
  EXPECT_THROW(
      {
        H5Writer w(file);
        w.write("/train/loss", {1.0, 2.0}, {2});
        throw std::runtime_error("training diverged");
      },
      std::runtime_error);
  EXPECT_FALSE(fs::exists(file));
  EXPECT_TRUE(entries().empty()) << "no temp file left";
}

TEST_F(H5FileTest, CommitReplacesAnOlderFile) {
  const std::string file = path("run.h5");
  {
    std::ofstream(file) << "old";
  }
  H5Writer w(file);
  w.write("/x", {2.0}, {1});
  EXPECT_EQ(fs::file_size(file), 3u);  // the old file is untouched until commit
  w.commit();
  EXPECT_EQ(H5Reader(file).read("/x"), (std::vector<double>{2.0}));
}

TEST_F(H5FileTest, WriterRefusesOverwritesAndShapeMismatches) {
  H5Writer w(path("g.h5"));
  w.write("/x", {1.0}, {1});
  EXPECT_THROW(w.write("/x", {1.0}, {1}), std::runtime_error);
  EXPECT_THROW(w.write("/x/y", {1.0}, {1}), std::runtime_error);  // /x is not a group
  EXPECT_THROW(w.write("/y", {1.0, 2.0, 3.0}, {2, 2}), std::runtime_error);
  EXPECT_THROW(w.write("/z", {1.0, 2.0}, {}), std::runtime_error);
}

TEST_F(H5FileTest, WriterIntoMissingDirectoryFailsClearly) {
  const std::string file = path("no/such/dir/run.h5");
  try {
    H5Writer w(file);
    ADD_FAILURE() << "expected an error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("does not exist"), std::string::npos) << e.what();
  }
}

TEST_F(H5FileTest, NonHdf5FileGivesOneLineError) {
  const std::string file = path("notes.h5");
  {
    std::ofstream(file) << "this is not HDF5\n";
  }
  ::testing::internal::CaptureStderr();
  expect_config_error([&] { H5Reader r(file); }, file + ": not an HDF5 file");
  // HDF5's own error stack must not be printed.
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
}

TEST_F(H5FileTest, MissingFileGivesOneLineError) {
  const std::string file = path("absent.h5");
  expect_config_error([&] { H5Reader r(file); }, file + ": cannot open: no such file");
}

TEST_F(H5FileTest, MissingObjectsNameFileAndPath) {
  const std::string file = path("h.h5");
  {
    H5Writer w(file);
    w.write("/eval/length", {64.0}, {1});
    w.write_string("/config", "a: 1\n");
    w.commit();
  }
  H5Reader r(file);
  ::testing::internal::CaptureStderr();
  expect_config_error([&] { r.read("/eval/loss"); }, file + ": /eval/loss: no such dataset");
  expect_config_error([&] { r.shape("/nope/deeper"); }, file + ": /nope/deeper: no such dataset");
  expect_config_error([&] { r.read("/eval"); }, file + ": /eval: is a group, expected a dataset");
  // A path "through" a dataset makes HDF5 itself fail; that must stay quiet too.
  expect_config_error([&] { r.read("/eval/length/x"); },
                      file + ": /eval/length/x: no such dataset");
  expect_config_error([&] { r.members("/train"); }, file + ": /train: no such group");
  expect_config_error([&] { r.attr_string("/eval", "units"); },
                      file + ": /eval: no attribute 'units'");
  expect_config_error([&] { r.attr_double("/train", "x"); },
                      file + ": /train: no such group or dataset");
  expect_config_error([&] { r.read("/config"); },
                      file + ": /config: expected a numeric dataset, got a string dataset");
  expect_config_error([&] { r.read_string("/eval/length"); },
                      file + ": /eval/length: expected a string dataset, got a float dataset");
  expect_config_error([&] { r.read_int64("/eval/length"); },
                      file + ": /eval/length: expected an integer dataset, got a float dataset");
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
}

}  // namespace
}  // namespace poslab
