// Files poslab writes outside a run: `probe --out` and `encode --out` never replace their
// input or an existing file without --force, every file carries a file_kind that readers
// check (so a probe output is never taken for a finished run), and probes refuse
// non-finite or hopelessly scaled matrices instead of printing NaN or wrong numbers.
#include <gtest/gtest.h>

#include <H5Cpp.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <string>
#include <vector>

#include "cli_util.h"
#include "io/config.h"
#include "io/file_kind.h"
#include "io/h5file.h"
#include "io/npy.h"
#include "io/results.h"
#include "probes/linalg.h"
#include "probes/probe.h"
#include "synthetic_results.h"

namespace poslab {
namespace {

namespace fs = std::filesystem;
using testing::data_path;
using testing::fresh_dir;
using testing::run_poslab;

std::string bytes_of(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

int line_count(const std::string& s) { return int(std::count(s.begin(), s.end(), '\n')); }

// ---- --out is never the input, never an existing file without --force --------------------

TEST(ProbeOutput, OutThatIsTheInputIsRefusedEvenWithForce) {
  const auto dir = fresh_dir("probe_out_is_input");
  const fs::path npy = dir / "m.npy", h5 = dir / "enc.h5";
  fs::copy_file(data_path("gpt2_wpe_first64.npy"), npy);
  ASSERT_EQ(run_poslab("encode --encoder sinusoidal --length 16 --dim 8 --out " + h5.string()).exit_code, 0);
  const std::string npy_bytes = bytes_of(npy), h5_bytes = bytes_of(h5);
  fs::create_symlink(h5, dir / "link.h5");
  for (const std::string& args : {
           "probe " + npy.string() + " --out " + npy.string(),
           "probe " + h5.string() + ":/position_matrix --out " + h5.string(),
           "probe " + h5.string() + ":/position_matrix --out " + h5.string() + " --force",
           "probe " + h5.string() + ":/position_matrix --out " + (dir / "." / "enc.h5").string() + " --force",
           "probe " + h5.string() + ":/position_matrix --out " + (dir / "link.h5").string() + " --force",
       }) {
    const auto r = run_poslab(args);
    EXPECT_EQ(r.exit_code, 2) << args << "\n" << r.err;
    EXPECT_EQ(line_count(r.err), 1) << r.err;
    EXPECT_NE(r.err.find("is the input file"), std::string::npos) << r.err;
  }
  EXPECT_EQ(bytes_of(npy), npy_bytes) << "the input is untouched";
  EXPECT_EQ(bytes_of(h5), h5_bytes) << "the input is untouched";
}

TEST(ProbeOutput, ExistingOutNeedsForce) {
  const auto dir = fresh_dir("probe_out_exists");
  const std::string out = (dir / "p.h5").string(), gpt2 = data_path("gpt2_wpe_first64.npy");
  { std::ofstream(out) << "precious"; }
  const auto r = run_poslab("probe " + gpt2 + " --probes similarity --out " + out);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "error: poslab probe: --out: " + out + ": exists: pass --force to overwrite it, or choose another --out\n");
  EXPECT_EQ(bytes_of(out), "precious");
  const auto forced = run_poslab("probe " + gpt2 + " --probes similarity --out " + out + " --force");
  ASSERT_EQ(forced.exit_code, 0) << forced.err;
  EXPECT_EQ(file_kind(out), "probe");
}

TEST(EncodeOutput, ExistingOutNeedsForce) {
  const auto dir = fresh_dir("encode_out_exists");
  const std::string out = (dir / "sin.h5").string();
  const std::string args = "encode --encoder sinusoidal --length 8 --dim 4 --out " + out;
  ASSERT_EQ(run_poslab(args).exit_code, 0);
  const std::string before = bytes_of(out);
  const auto r = run_poslab(args.substr(0, args.find("--length")) + "--length 9 --dim 4 --out " + out);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "error: poslab encode: --out: " + out + ": exists: pass --force to overwrite it, or choose another --out\n");
  EXPECT_EQ(bytes_of(out), before);
  ASSERT_EQ(run_poslab("encode --encoder sinusoidal --length 9 --dim 4 --force --out " + out).exit_code, 0);
  EXPECT_EQ(H5Reader(out).shape("/position_matrix"), (std::vector<std::size_t>{9, 4}));
  EXPECT_EQ(run_poslab("encode --encoder sinusoidal --length 9 --dim 4 --force --out " + dir.string()).exit_code, 2)
      << "a directory is never overwritten";
}

// ---- file_kind ---------------------------------------------------------------------------

// The layouts `encode --out` and `probe --out` write (io/encode_file.h, io/probe_file.h):
// the same root attributes and objects as before they moved out of the commands.
TEST(FileKind, EncodeAndProbeOutputsKeepTheirLayout) {
  const auto dir = fresh_dir("layouts_cli");
  const std::string encoding = (dir / "enc.h5").string(), probe = (dir / "probe.h5").string();
  ASSERT_EQ(run_poslab("encode --encoder sinusoidal --length 16 --dim 8 --heads 2 --out " + encoding).exit_code, 0);
  H5Reader e(encoding);
  EXPECT_EQ(e.attr_names("/"), (std::vector<std::string>{"dim", "encoder", "file_kind", "heads", "length",
                                                         "poslab_version", "schema_version"}));
  EXPECT_EQ(e.attr_string("/", "encoder"), "sinusoidal");
  EXPECT_EQ(e.attr_double("/", "heads"), 2);
  EXPECT_EQ(e.members("/"), std::vector<std::string>{"position_matrix"});
  EXPECT_EQ(e.shape("/position_matrix"), (std::vector<std::size_t>{16, 8}));
  EXPECT_TRUE(e.has_attr("/position_matrix", "description"));

  const auto r = run_poslab("probe " + encoding + ":/position_matrix --probes similarity,absolute_position"
                            " --set absolute_position.folds=4 --out " + probe);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  H5Reader p(probe);
  EXPECT_EQ(p.attr_names("/"), (std::vector<std::string>{"file_kind", "matrix_cols", "matrix_rows", "matrix_source",
                                                         "overrides", "poslab_version", "schema_version"}));
  EXPECT_EQ(p.attr_string("/", "matrix_source"), encoding + ":/position_matrix");
  EXPECT_EQ(p.attr_double("/", "matrix_rows"), 16);
  EXPECT_EQ(p.attr_string("/", "overrides"), "absolute_position.folds=4");
  EXPECT_EQ(p.members("/probes"), (std::vector<std::string>{"absolute_position", "similarity"}));
  EXPECT_TRUE(p.has_attr("/probes/similarity", "locality"));
  EXPECT_TRUE(p.is_dataset("/probes/similarity/locality"));
}

TEST(FileKind, EveryFilePoslabWritesSaysWhatItIs) {
  const auto dir = fresh_dir("file_kind");
  const std::string results = (dir / "run.h5").string(), probe = (dir / "probe.h5").string(),
                    encoding = (dir / "enc.h5").string(), foreign = (dir / "foreign.h5").string(),
                    legacy = (dir / "legacy.h5").string();
  write_results(results, testing::synthetic_run("learned", 1));
  ASSERT_EQ(run_poslab("probe " + data_path("gpt2_wpe_first64.npy") + " --probes similarity --out " + probe).exit_code, 0);
  ASSERT_EQ(run_poslab("encode --encoder rope --length 8 --dim 4 --out " + encoding).exit_code, 0);
  {
    H5Writer w(foreign);
    w.write("/x", {1, 2}, {2});
    w.commit();
  }
  EXPECT_EQ(file_kind(results), kFileKindRunResults);
  EXPECT_EQ(file_kind(probe), kFileKindProbe);
  EXPECT_EQ(file_kind(encoding), kFileKindEncoding);
  EXPECT_EQ(file_kind(foreign), "");
  EXPECT_EQ(H5Reader(probe).attr_string("/", "file_kind"), "probe");

  // Files from before file_kind are told apart by their layout.
  write_results(legacy, testing::synthetic_run("learned", 1));
  {
    H5::H5File f(legacy, H5F_ACC_RDWR);
    f.openGroup("/").removeAttr("file_kind");
  }
  EXPECT_EQ(file_kind(legacy), kFileKindRunResults);

  EXPECT_THROW(file_kind((dir / "missing.h5").string()), ConfigError);
  { std::ofstream((dir / "text.h5").string()) << "text"; }
  EXPECT_THROW(file_kind((dir / "text.h5").string()), ConfigError);
}

// ---- Probes refuse non-finite input, and badly scaled input never gives wrong numbers ---------

// GPT-2's first 64 position embeddings times `factor`, as float64 .npy.
std::string scaled_gpt2(const fs::path& dir, double factor, const std::string& name) {
  NpyArray a = read_npy(data_path("gpt2_wpe_first64.npy"));
  for (double& x : a.data) x *= factor;
  const std::string path = (dir / name).string();
  write_npy(path, a.data, a.shape);
  return path;
}

TEST(ProbeScale, NonFiniteMatrixIsRefusedNamingTheFile) {
  const auto dir = fresh_dir("probe_nonfinite");
  NpyArray a = read_npy(data_path("gpt2_wpe_first64.npy"));
  a.data[3 * 768 + 5] = std::numeric_limits<double>::quiet_NaN();
  const std::string npy = (dir / "nan.npy").string();
  write_npy(npy, a.data, a.shape);
  auto r = run_poslab("probe " + npy);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "error: " + npy + ": the matrix has NaN or infinite entries (first at row 3, column 5): expected finite numbers\n");

  const std::string h5 = (dir / "inf.h5").string();
  {
    H5Writer w(h5);
    w.write("/m", {1, 2, std::numeric_limits<double>::infinity(), 4, 5, 6}, {3, 2});
    w.commit();
  }
  r = run_poslab("probe " + h5 + ":/m --probes similarity");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "error: " + h5 + ":/m: the matrix has NaN or infinite entries (first at row 1, column 0): expected finite numbers\n");
}

TEST(ProbeScale, ScaleInvariantProbesGiveTheSameNumbersAt1e300And1e_310) {
  const auto dir = fresh_dir("probe_scale");
  const std::string base = scaled_gpt2(dir, 1.0, "x1.npy");
  struct Metrics {
    double mae, r2, locality;
  };
  auto probe = [&](const std::string& npy, const std::string& out) {
    const auto r = run_poslab("probe " + npy + " --probes absolute_position,similarity --out " + out);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out.find("nan"), std::string::npos) << r.out;
    H5Reader f(out);
    return Metrics{f.attr_double("/probes/absolute_position", "mae"), f.attr_double("/probes/absolute_position", "r2"),
                   f.attr_double("/probes/similarity", "locality")};
  };
  const Metrics reference = probe(base, (dir / "x1.h5").string());
  EXPECT_LT(reference.mae, 1.0);  // GPT-2's positions are linearly readable
  for (double factor : {1e300, 1e-310}) {
    const std::string name = factor > 1 ? "big" : "tiny";
    const Metrics m = probe(scaled_gpt2(dir, factor, name + ".npy"), (dir / (name + ".h5")).string());
    // ×1e300 is exact after the power-of-two rescale; ×1e-310 stores subnormals, which
    // keep about 40 of the 53 bits.
    EXPECT_EQ(m.mae, reference.mae) << name;
    EXPECT_NEAR(m.r2, reference.r2, 1e-6) << name;
    EXPECT_NEAR(m.locality, reference.locality, 1e-9) << name;
  }
}

TEST(ProbeScale, ScaleDependentFitIsReportedIllConditioned) {
  const auto dir = fresh_dir("probe_scale_ill");
  for (double factor : {1e300, 1e-310}) {
    const std::string npy = scaled_gpt2(dir, factor, factor > 1 ? "big.npy" : "tiny.npy");
    const auto r = run_poslab("probe " + npy);  // every matrix probe, relative_position among them
    EXPECT_EQ(r.exit_code, 2) << r.out;
    EXPECT_EQ(line_count(r.err), 1) << r.err;
    EXPECT_EQ(r.err.rfind("error: " + npy + ": relative_position: the matrix's entries reach ", 0), 0u) << r.err;
    EXPECT_NE(r.err.find(factor > 1 ? "is effectively 0: the fit is ill-conditioned"
                                    : "is effectively infinite: the fit is ill-conditioned"),
              std::string::npos) << r.err;
    EXPECT_EQ(r.out.find("nan"), std::string::npos) << r.out;
  }
}

TEST(ProbeScale, InProcessPenaltiesFollowTheScale) {
  // A ridge fit on P·2^k with ridge·2^2k is the fit on P with ridge: same predictions.
  NpyArray a = read_npy(data_path("gpt2_wpe_first64.npy"));
  Eigen::MatrixXd P(64, 768);
  for (int r = 0; r < 64; ++r)
    for (int c = 0; c < 768; ++c) P(r, c) = a.data[std::size_t(r) * 768 + c];
  AbsoluteOptions ridge;
  ridge.ridge = std::ldexp(0.01, 2 * 400);
  const AbsoluteResult big = absolute_position_probe(P * std::ldexp(1.0, 400), ridge);
  ridge.ridge = 0.01;
  const AbsoluteResult unit = absolute_position_probe(P, ridge);
  EXPECT_EQ(big.mae, unit.mae);
  EXPECT_LT((big.predictions - unit.predictions).cwiseAbs().maxCoeff(), 1e-9);
  // A penalty that the scale makes 0 cannot be honoured.
  ridge.ridge = 1e-3;
  EXPECT_THROW(absolute_position_probe(P * 1e300, ridge), IllConditionedFit);
  // Similarity: a zero row stays zero, a row far below the others keeps its cosines.
  Eigen::MatrixXd Q = P.topRows(4);
  Q.row(1).setZero();
  Q.row(2) *= 1e-200;
  const SimilarityResult s = similarity_probe(Q, {});
  EXPECT_EQ(s.cosine(1, 1), 0.0);
  EXPECT_NEAR(s.cosine(2, 2), 1.0, 1e-12);
  EXPECT_NEAR(s.cosine(0, 2), similarity_probe(P.topRows(4), {}).cosine(0, 2), 1e-12);
}

}  // namespace
}  // namespace poslab
