// The probe and encoding layouts are written by their owners in src/io/ (probe_file.h,
// encode_file.h): each file has exactly the root attributes and objects docs/design.md
// lists, its file_kind, and is renamed into place whole (no temporary file left behind).
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "cli_util.h"
#include "io/encode_file.h"
#include "io/file_kind.h"
#include "io/h5file.h"
#include "io/probe_file.h"

namespace poslab {
namespace {

namespace fs = std::filesystem;
using testing::fresh_dir;

std::vector<std::string> files_in(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  return names;
}

ProbeRecord similarity_record() {
  ProbeRecord p;
  p.name = "similarity";
  p.scalars = {{"locality", 0.25}};
  p.arrays.push_back({"mean_by_distance", {1.0, 0.5, 0.125}, {3}, "[L] mean cosine by |i - j|"});
  return p;
}

TEST(ProbeFile, HoldsTheMatrixSourceAndOneGroupPerProbe) {
  const auto dir = fresh_dir("probe_file");
  const std::string path = (dir / "p.h5").string();
  ProbeRecord absolute;
  absolute.name = "absolute_position";
  absolute.scalars = {{"mae", 1.5}, {"r2", 0.75}};
  write_probe_file(path, {"wpe.npy", 64, 768, {"similarity.max_distance=3", "absolute_position.folds=4"},
                          {absolute, similarity_record()}});
  EXPECT_EQ(files_in(dir), std::vector<std::string>{"p.h5"}) << "no temporary file left";
  EXPECT_EQ(file_kind(path), kFileKindProbe);

  H5Reader f(path);
  EXPECT_EQ(f.attr_names("/"), (std::vector<std::string>{"file_kind", "matrix_cols", "matrix_rows", "matrix_source",
                                                         "overrides", "poslab_version", "schema_version"}));
  EXPECT_EQ(f.attr_double("/", "schema_version"), kSchemaVersion);
  EXPECT_EQ(f.attr_string("/", "poslab_version"), POSLAB_VERSION);
  EXPECT_EQ(f.attr_string("/", "matrix_source"), "wpe.npy");
  EXPECT_EQ(f.attr_double("/", "matrix_rows"), 64);
  EXPECT_EQ(f.attr_double("/", "matrix_cols"), 768);
  EXPECT_EQ(f.attr_string("/", "overrides"), "similarity.max_distance=3 absolute_position.folds=4");
  EXPECT_EQ(f.members("/"), std::vector<std::string>{"probes"});
  EXPECT_EQ(f.members("/probes"), (std::vector<std::string>{"absolute_position", "similarity"}));
  // Each scalar as an attribute and a scalar dataset; arrays with their description.
  EXPECT_EQ(f.attr_double("/probes/absolute_position", "mae"), 1.5);
  EXPECT_EQ(f.read("/probes/absolute_position/r2"), std::vector<double>{0.75});
  EXPECT_EQ(f.shape("/probes/absolute_position/r2"), std::vector<std::size_t>{});
  EXPECT_EQ(f.read("/probes/similarity/mean_by_distance"), (std::vector<double>{1.0, 0.5, 0.125}));
  EXPECT_EQ(f.attr_string("/probes/similarity/mean_by_distance", "description"), "[L] mean cosine by |i - j|");
}

TEST(ProbeFile, WithoutOverridesHasNoOverridesAttribute) {
  const auto dir = fresh_dir("probe_file_plain");
  const std::string path = (dir / "p.h5").string();
  write_probe_file(path, {"enc.h5:/position_matrix", 8, 4, {}, {similarity_record()}});
  H5Reader f(path);
  EXPECT_FALSE(f.has_attr("/", "overrides"));
  EXPECT_EQ(f.attr_string("/", "matrix_source"), "enc.h5:/position_matrix");
}

TEST(EncodingFile, HoldsTheSchemesArraysAtTheRoot) {
  const auto dir = fresh_dir("encoding_file");
  const std::string path = (dir / "e.h5").string();
  write_encoding_file(path, {"rope", 3, 4, 2,
                             {{"theta", {1.0, 0.01}, {2}, "[d_rot/2] radians per position"},
                              {"angles", {0, 0, 1, 0.01, 2, 0.02}, {3, 2}, ""}}});
  EXPECT_EQ(files_in(dir), std::vector<std::string>{"e.h5"}) << "no temporary file left";
  EXPECT_EQ(file_kind(path), kFileKindEncoding);
  H5Reader f(path);
  EXPECT_EQ(f.attr_names("/"), (std::vector<std::string>{"dim", "encoder", "file_kind", "heads", "length",
                                                         "poslab_version", "schema_version"}));
  EXPECT_EQ(f.attr_string("/", "encoder"), "rope");
  EXPECT_EQ(f.attr_double("/", "length"), 3);
  EXPECT_EQ(f.attr_double("/", "dim"), 4);
  EXPECT_EQ(f.attr_double("/", "heads"), 2);
  EXPECT_EQ(f.members("/"), (std::vector<std::string>{"angles", "theta"}));
  EXPECT_EQ(f.shape("/angles"), (std::vector<std::size_t>{3, 2}));
  EXPECT_EQ(f.read("/theta"), (std::vector<double>{1.0, 0.01}));
  EXPECT_EQ(f.attr_string("/theta", "description"), "[d_rot/2] radians per position");
  EXPECT_FALSE(f.has_attr("/angles", "description")) << "an empty description is not written";
}

}  // namespace
}  // namespace poslab
