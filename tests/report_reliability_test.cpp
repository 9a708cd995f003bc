// poslab report on files it must not trust: metric datasets whose size differs from
// /eval/length (was a heap over-read or SIGSEGV), probe/encode outputs and damaged files in
// a results folder (one aborted the whole report), values too large for the old 64-byte
// cell buffer, and NaN or diverged seeds (were dropped from the mean while still counted).
#include <gtest/gtest.h>

#include <H5Cpp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "cli/table.h"
#include "cli_util.h"
#include "io/config.h"
#include "io/run_summary.h"
#include "synthetic_results.h"

namespace poslab {
namespace {

namespace fs = std::filesystem;
using testing::fresh_dir;
using testing::run_poslab;
using testing::synthetic_run;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Sets a string attribute on the root group of an existing file (the writer only makes
// new files): e.g. status = "diverged", as the run loop writes for a diverged run.
void set_root_attr(const std::string& path, const std::string& name, const std::string& value) {
  H5::H5File file(path, H5F_ACC_RDWR);
  H5::Group root = file.openGroup("/");
  if (root.attrExists(name)) root.removeAttr(name);
  H5::StrType type(H5::PredType::C_S1, H5T_VARIABLE);
  root.createAttribute(name, type, H5::DataSpace(H5S_SCALAR)).write(type, value);
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream ss(text);
  for (std::string line; std::getline(ss, line);) out.push_back(line);
  return out;
}

// The CSV cells of the first output line that starts with `prefix`.
std::vector<std::string> csv_row(const std::string& out, const std::string& prefix) {
  for (const auto& line : lines_of(out)) {
    if (line.rfind(prefix, 0) != 0) continue;
    std::vector<std::string> cells;
    std::stringstream ss(line);
    for (std::string cell; std::getline(ss, cell, ',');) cells.push_back(cell);
    return cells;
  }
  return {};
}

std::string cell(const std::string& out, const std::string& row_prefix, const std::string& column) {
  const auto header = csv_row(out, "run,");
  const auto row = csv_row(out, row_prefix);
  const auto it = std::find(header.begin(), header.end(), column);
  if (it == header.end() || row.size() != header.size()) return "<no cell " + column + ">";
  return row[std::size_t(it - header.begin())];
}

// ---- The reader checks every dataset against the schema -----------------------------------

void expect_config_error(const std::string& path, const std::string& contains) {
  try {
    read_run_summary(path, {"loss", "token_accuracy", "exact_match", "perplexity"}, {"absolute_position.mae"});
    ADD_FAILURE() << path << ": no ConfigError, expected one containing '" << contains << "'";
  } catch (const ConfigError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(path), std::string::npos) << what;
    EXPECT_NE(what.find(contains), std::string::npos) << what;
    EXPECT_EQ(what.find('\n'), std::string::npos) << "one line: " << what;
  }
}

TEST(ReportReader, EveryDatasetIsCheckedAgainstTheSchema) {
  const auto dir = fresh_dir("report_reader_schema");
  auto write = [&](const std::string& name, auto&& edit) {
    RunRecord r = synthetic_run("learned", 1);
    edit(r);
    const std::string path = (dir / name).string();
    write_results(path, r);
    return path;
  };
  expect_config_error(write("short.h5", [](RunRecord& r) { r.eval.token_accuracy = {0.5}; }),
                      "/eval/token_accuracy: 1 values; expected 2, one per /eval/length");
  expect_config_error(write("empty.h5", [](RunRecord& r) { r.eval.loss = {}; }),
                      "/eval/loss: 0 values; expected 2, one per /eval/length");
  expect_config_error(write("long.h5", [](RunRecord& r) { r.eval.perplexity = {1, 2, 3}; }),
                      "/eval/perplexity: 3 values; expected 2");
  expect_config_error(write("variant.h5", [](RunRecord& r) { r.eval_variants[0].exact_match = {0.1}; }),
                      "/eval/variants/long/exact_match: 1 values; expected 2, one per /eval/variants/long/length");
  expect_config_error(write("tps.h5", [](RunRecord& r) { r.tokens_per_second = {1000}; }),
                      "/train/tokens_per_second: 1 values; expected 3, one per /train/step");
  expect_config_error(write("fraction.h5", [](RunRecord& r) { r.eval.length = {4.5, 8}; }),
                      "/eval/length: value 4.5");
  expect_config_error(write("nan_length.h5", [](RunRecord& r) { r.eval.length = {kNaN, 8}; }),
                      "/eval/length: value");

  // A well-formed file reads back exactly.
  const std::string good = write("good.h5", [](RunRecord&) {});
  const RunSummary s = read_run_summary(good, {"token_accuracy"}, {"absolute_position.mae", "none.x"});
  EXPECT_EQ(s.values.at("token_accuracy@4"), 0.5);
  EXPECT_EQ(s.values.at("token_accuracy@8/long"), 0.25);
  EXPECT_EQ(s.values.at("absolute_position.mae"), 0.5);
  EXPECT_TRUE(std::isnan(s.values.at("none.x")));
  EXPECT_EQ(s.values.at("tokens/s"), 1100);
  EXPECT_FALSE(s.diverged);
}

// ---- One bad file costs one line, not the report ------------------------------------------

TEST(CliReport, MetricOfTheWrongSizeIsSkippedWithAWarningNamingFileAndDataset) {
  const auto dir = fresh_dir("report_wrong_size");
  write_results((dir / "good.h5").string(), synthetic_run("good", 1));
  RunRecord shorter = synthetic_run("shorter", 1);
  shorter.eval.token_accuracy = {0.5};  // was an over-read printing garbage
  write_results((dir / "shorter.h5").string(), shorter);
  RunRecord empty = synthetic_run("empty", 1);
  empty.eval.token_accuracy = {};  // was a SIGSEGV
  write_results((dir / "empty.h5").string(), empty);

  const auto r = run_poslab("report " + dir.string() + " --format csv --metrics token_accuracy");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(lines_of(r.out).size(), 2u) << "header and the good run only:\n" << r.out;
  EXPECT_EQ(cell(r.out, "good,", "token_accuracy@4"), "0.500") << r.out;
  const auto warnings = lines_of(r.err);
  ASSERT_EQ(warnings.size(), 2u) << r.err;
  EXPECT_EQ(warnings[0], "warning: skipping " + (dir / "empty.h5").string() +
                             ": /eval/token_accuracy: 0 values; expected 2, one per /eval/length");
  EXPECT_EQ(warnings[1], "warning: skipping " + (dir / "shorter.h5").string() +
                             ": /eval/token_accuracy: 1 values; expected 2, one per /eval/length");

  fs::remove(dir / "good.h5");
  const auto none = run_poslab("report " + dir.string());
  EXPECT_EQ(none.exit_code, 2);
  EXPECT_EQ(none.out, "");
  const auto err = lines_of(none.err);
  ASSERT_EQ(err.size(), 3u) << none.err;
  EXPECT_EQ(err[2], "error: poslab report: none of the 2 .h5 files is a readable run's results file; "
                    "expected files written by poslab run or sweep");
}

TEST(CliReport, ProbeAndEncodeOutputsAreSkippedWithANoteDamagedFilesWithAWarning) {
  const auto dir = fresh_dir("report_foreign");
  const std::string good = (dir / "learned.h5").string();
  write_results(good, synthetic_run("learned", 1));
  // The README's own example: probe output saved into the results folder.
  ASSERT_EQ(run_poslab("probe " + testing::data_path("gpt2_wpe_first64.npy") + " --probes similarity --out " +
                       (dir / "gpt2_probes.h5").string()).exit_code, 0);
  ASSERT_EQ(run_poslab("encode --encoder sinusoidal --length 8 --dim 4 --out " + (dir / "sin.h5").string()).exit_code, 0);
  { std::ofstream((dir / "garbage.h5").string()) << "not hdf5 at all\n"; }
  {
    std::ifstream in(good, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::ofstream((dir / "truncated.h5").string(), std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  }

  const auto r = run_poslab("report " + dir.string() + " --format csv --metrics token_accuracy");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(cell(r.out, "learned,", "token_accuracy@8"), "0.250") << r.out;
  const auto err = lines_of(r.err);
  ASSERT_EQ(err.size(), 4u) << r.err;
  EXPECT_EQ(err[0], "warning: skipping " + (dir / "garbage.h5").string() + ": not an HDF5 file");
  EXPECT_EQ(err[1], "note: skipping " + (dir / "gpt2_probes.h5").string() + ": a `poslab probe` output, not a run's results");
  EXPECT_EQ(err[2], "note: skipping " + (dir / "sin.h5").string() + ": a `poslab encode` output, not a run's results");
  EXPECT_EQ(err[3].rfind("warning: skipping " + (dir / "truncated.h5").string() + ": ", 0), 0u) << err[3];
}

// ---- Numbers of any size --------------------------------------------------------------------

TEST(TableFormat, AnyDoubleIsFormattedWhole) {
  using cli::fixed;
  EXPECT_EQ(fixed(0.5, 3), "0.500");
  EXPECT_EQ(fixed(-2.25, 1), "-2.2");
  EXPECT_EQ(fixed(123456789012345.0, 0), "123456789012345");
  EXPECT_EQ(fixed(1e15, 2), "1.00e+15");
  EXPECT_EQ(fixed(1e63, 3), "1.000e+63");  // the old 64-byte buffer cut this one
  EXPECT_EQ(fixed(1e300, 3), "1.000e+300");
  EXPECT_EQ(fixed(-1e300, 3), "-1.000e+300");
  EXPECT_EQ(fixed(std::numeric_limits<double>::max(), 2), "1.80e+308");
  EXPECT_EQ(fixed(std::numeric_limits<double>::infinity(), 3), "inf");
  EXPECT_EQ(fixed(-std::numeric_limits<double>::infinity(), 3), "-inf");
  EXPECT_EQ(fixed(kNaN, 3), "-");
  EXPECT_EQ(fixed(1.0 / 3, 40), "0.33333333333333331") << "decimals are capped at 17";
}

TEST(CliReport, HugeValuesAreShownWhole) {
  const auto dir = fresh_dir("report_huge");
  RunRecord r = synthetic_run("huge", 1);
  r.eval.loss = {1e300, -1e300};
  write_results((dir / "huge.h5").string(), r);
  const auto out = run_poslab("report " + dir.string() + " --format csv --metrics loss");
  ASSERT_EQ(out.exit_code, 0) << out.err;
  EXPECT_EQ(cell(out.out, "huge,", "loss@4"), "1.000e+300") << out.out;
  EXPECT_EQ(cell(out.out, "huge,", "loss@8"), "-1.000e+300") << out.out;
  EXPECT_EQ(run_poslab("report " + dir.string() + " --decimals 18").exit_code, 2);
}

// ---- NaN and diverged seeds -------------------------------------------------------------------

TEST(CliReport, ANaNSeedIsShownAsTheCountOfSeedsInTheMean) {
  const auto dir = fresh_dir("report_nan_seed");
  RunRecord a = synthetic_run("learned", 1), b = synthetic_run("learned", 2), c = synthetic_run("learned", 3);
  a.eval.token_accuracy = {0.5, 0.25};
  b.eval.token_accuracy = {kNaN, 0.25};  // finite training, one metric not finite
  c.eval.token_accuracy = {0.7, 0.25};
  write_results((dir / "a.h5").string(), a);
  write_results((dir / "b.h5").string(), b);
  write_results((dir / "c.h5").string(), c);
  const auto r = run_poslab("report " + dir.string() + " --format csv --metrics token_accuracy,exact_match");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(cell(r.out, "learned,", "seeds"), "3") << r.out;
  EXPECT_EQ(cell(r.out, "learned,", "token_accuracy@4"), "0.600 ± 0.141 (2/3)") << r.out;
  EXPECT_EQ(cell(r.out, "learned,", "token_accuracy@8"), "0.250 ± 0.000") << r.out;
  EXPECT_EQ(csv_row(r.out, "run,")[3], "token_accuracy@4") << "no diverged column when nothing diverged";
}

TEST(CliReport, DivergedRunsAreCountedApartAndNeverAveraged) {
  const auto dir = fresh_dir("report_diverged");
  RunRecord a = synthetic_run("learned", 1), b = synthetic_run("learned", 2), c = synthetic_run("learned", 3);
  a.eval.token_accuracy = {0.5, 0.25};
  c.eval.token_accuracy = {0.7, 0.35};
  b.eval.token_accuracy = {0.9, 0.9};  // finite, but from a diverged run: must not count
  write_results((dir / "a.h5").string(), a);
  write_results((dir / "b.h5").string(), b);
  set_root_attr((dir / "b.h5").string(), "status", "diverged");
  write_results((dir / "c.h5").string(), c);
  set_root_attr((dir / "c.h5").string(), "status", "complete");
  // A configuration whose every seed diverged; the second from before the status
  // attribute existed: a non-finite training loss says the same.
  RunRecord d = synthetic_run("rope", 1), e = synthetic_run("rope", 2);
  d.eval.token_accuracy = {kNaN, kNaN};
  e.loss = {2.0, kNaN, kNaN};
  write_results((dir / "d.h5").string(), d);
  set_root_attr((dir / "d.h5").string(), "status", "diverged");
  write_results((dir / "e.h5").string(), e);

  const auto r = run_poslab("report " + dir.string() + " --format csv --metrics token_accuracy");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(csv_row(r.out, "run,")[3], "diverged") << r.out;
  EXPECT_EQ(cell(r.out, "learned,", "seeds"), "2") << r.out;
  EXPECT_EQ(cell(r.out, "learned,", "diverged"), "1") << r.out;
  EXPECT_EQ(cell(r.out, "learned,", "token_accuracy@4"), "0.600 ± 0.141") << r.out;
  EXPECT_EQ(cell(r.out, "learned,", "token_accuracy@8"), "0.300 ± 0.071") << r.out;
  EXPECT_EQ(cell(r.out, "rope,", "seeds"), "0") << r.out;
  EXPECT_EQ(cell(r.out, "rope,", "diverged"), "2") << r.out;
  EXPECT_EQ(cell(r.out, "rope,", "token_accuracy@4"), "-") << r.out;

  set_root_attr((dir / "a.h5").string(), "status", "exploded");
  const auto bad = run_poslab("report " + (dir / "a.h5").string());
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("status 'exploded'; expected complete or diverged"), std::string::npos) << bad.err;
}

// ---- Seeds are grouped by the stored configuration, not by the run's name ------------------

// A run whose /config is `name: synthetic`, its seed and the given lr: its name is stored
// only as the root attribute run_name.
RunRecord run_with(const std::string& name, std::uint64_t seed, const std::string& lr, double accuracy) {
  RunRecord r = synthetic_run(name, seed);
  r.config_yaml = "name: synthetic\nseed: " + std::to_string(seed) + "\ntrain: {steps: 10, lr: " + lr + "}\n";
  r.eval.token_accuracy = {accuracy, 0.25};
  return r;
}

TEST(CliReport, SeedsWithAnyNamesAreOneRowAndOtherSettingsNever) {
  const auto dir = fresh_dir("report_seed_groups");
  // Two seeds named freely (no __seed- label), the same configuration: one row, mean ± sd.
  write_results((dir / "a.h5").string(), run_with("alpha", 1, "0.001", 0.5));
  write_results((dir / "b.h5").string(), run_with("beta", 2, "0.001", 0.7));
  // A sweep's seed names, but another lr: never the same row as alpha and beta, and the
  // label drops the seed part.
  write_results((dir / "c.h5").string(), run_with("swept__seed-1", 1, "0.002", 0.1));
  write_results((dir / "d.h5").string(), run_with("swept__seed-2", 2, "2.0e-3", 0.3));
  // The same name and seed label as c, another lr again: a row of its own.
  write_results((dir / "e.h5").string(), run_with("swept__seed-3", 3, "0.004", 0.9));

  const auto r = run_poslab("report " + dir.string() + " --format csv --metrics token_accuracy");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(cell(r.out, "alpha | beta,", "seeds"), "2") << r.out;
  EXPECT_EQ(cell(r.out, "alpha | beta,", "token_accuracy@4"), "0.600 ± 0.141") << r.out;
  EXPECT_EQ(cell(r.out, "swept,", "seeds"), "2") << "0.002 and 2.0e-3 are one lr\n" << r.out;
  EXPECT_EQ(cell(r.out, "swept,", "token_accuracy@4"), "0.200 ± 0.141") << r.out;
  EXPECT_EQ(lines_of(r.out).size(), 4u) << "header + 3 rows\n" << r.out;
  EXPECT_EQ(lines_of(r.out).back().rfind("swept,learned,1,0.900,", 0), 0u) << r.out;
}

}  // namespace
}  // namespace poslab
