// safetensors input: the reader (io/safetensors.h) on files the tests write byte by byte,
// load_matrix's "model.safetensors:tensor" form, the GPT-2 slice round trip, and every
// header error the format can have — each one line, naming the file and what was expected.
#include "io/safetensors.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "cli_util.h"
#include "io/config.h"
#include "io/matrix_source.h"
#include "io/npy.h"

namespace poslab {
namespace {

namespace fs = std::filesystem;

// One tensor as the test lays it out: name, dtype, shape and its raw little-endian bytes.
struct Raw {
  std::string name, dtype, shape;  // shape as JSON, e.g. "[2, 3]"
  std::string bytes;
};

template <class T>
std::string bytes_of(const std::vector<T>& values) {
  std::string out(values.size() * sizeof(T), '\0');
  std::memcpy(out.data(), values.data(), out.size());
  return out;
}

std::string u64_le(std::uint64_t v) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((v >> (8 * i)) & 0xFF);
  return out;
}

class SafetensorsTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = testing::fresh_dir("safetensors"); }
  void TearDown() override { fs::remove_all(dir_); }

  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  // A file with the given header text and data bytes, exactly as given.
  std::string write_file(const std::string& name, const std::string& header,
                         const std::string& data) {
    const std::string file = path(name);
    std::ofstream(file, std::ios::binary) << u64_le(header.size()) << header << data;
    return file;
  }

  // A valid file: tensors laid out back to back in the given order, with a metadata entry
  // and the header padded with spaces to a multiple of 8 bytes (as the reference writer).
  std::string write_tensors(const std::string& name, const std::vector<Raw>& tensors) {
    std::string header = "{\"__metadata__\": {\"format\": \"pt\"}";
    std::string data;
    for (const Raw& t : tensors) {
      header += ", \"" + t.name + "\": {\"dtype\": \"" + t.dtype + "\", \"shape\": " + t.shape +
                ", \"data_offsets\": [" + std::to_string(data.size()) + ", " +
                std::to_string(data.size() + t.bytes.size()) + "]}";
      data += t.bytes;
    }
    header += "}";
    while (header.size() % 8) header += ' ';
    return write_file(name, header, data);
  }

  static std::string error_of(const std::function<void()>& body) {
    try {
      body();
    } catch (const ConfigError& e) {
      EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << e.what();
      return e.what();
    }
    ADD_FAILURE() << "no ConfigError";
    return "";
  }

  // The error for a one-tensor file whose header entry is `entry` and data `data`.
  std::string entry_error(const std::string& entry, const std::string& data) {
    const std::string file = write_file("bad.safetensors", "{\"t\": " + entry + "}", data);
    return error_of([&] { read_safetensors_header(file); });
  }

  fs::path dir_;
};

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST_F(SafetensorsTest, ReadsEachFloatDtypeExactly) {
  // F16: 1, -2, 65504 (largest), 2^-24 (smallest subnormal), 1/3 rounded (0x3555), +inf.
  const std::vector<std::uint16_t> f16 = {0x3C00, 0xC000, 0x7BFF, 0x0001, 0x3555, 0x7C00};
  // BF16: 1, -3, 1/3 rounded down (0x3EAA), 2^-133 (subnormal), 255·2^120 (0x7F7F, the largest), -0.
  const std::vector<std::uint16_t> bf16 = {0x3F80, 0xC040, 0x3EAA, 0x0001, 0x7F7F, 0x8000};
  const std::vector<float> f32 = {0.1f, -1e-40f, 3.4e38f, 7.0f};
  const std::vector<double> f64 = {0.1, -1e-300};
  const std::string file = write_tensors(
      "dtypes.safetensors", {{"half", "F16", "[2, 3]", bytes_of(f16)},
                             {"brain", "BF16", "[3, 2]", bytes_of(bf16)},
                             {"single", "F32", "[2, 2]", bytes_of(f32)},
                             {"double", "F64", "[1, 2]", bytes_of(f64)}});

  const SafetensorsArray half = read_safetensors_tensor(file, "half");
  EXPECT_EQ(half.shape, (std::vector<std::size_t>{2, 3}));
  EXPECT_EQ(half.dtype, "F16");
  EXPECT_EQ(half.data[0], 1.0);
  EXPECT_EQ(half.data[1], -2.0);
  EXPECT_EQ(half.data[2], 65504.0);
  EXPECT_EQ(half.data[3], std::ldexp(1.0, -24));
  EXPECT_EQ(half.data[4], 0x555 * std::ldexp(1.0, -12));  // 1.0101010101b × 2^-2
  EXPECT_EQ(half.data[5], std::numeric_limits<double>::infinity());

  const SafetensorsArray brain = read_safetensors_tensor(file, "brain");
  EXPECT_EQ(brain.data[0], 1.0);
  EXPECT_EQ(brain.data[1], -3.0);
  EXPECT_EQ(brain.data[2], 0xAA * std::ldexp(1.0, -9));  // 1.0101010b × 2^-2 = 170/512
  EXPECT_EQ(brain.data[3], std::ldexp(1.0, -133));
  EXPECT_EQ(brain.data[4], 0xFF * std::ldexp(1.0, 120));  // 1.1111111b × 2^127
  EXPECT_EQ(brain.data[5], 0.0);
  EXPECT_TRUE(std::signbit(brain.data[5]));

  EXPECT_EQ(read_safetensors_tensor(file, "single").data,
            (std::vector<double>{double(0.1f), double(-1e-40f), double(3.4e38f), 7.0}));
  EXPECT_EQ(read_safetensors_tensor(file, "double").data, f64);

  const SafetensorsHeader header = read_safetensors_header(file);
  ASSERT_EQ(header.tensors.size(), 4u);
  EXPECT_EQ(header.metadata.at("format"), "pt");

  // load_matrix: rows are the leading dimension, as stored (C order).
  const Eigen::MatrixXd m = load_matrix(file + ":brain");
  ASSERT_EQ(m.rows(), 3);
  ASSERT_EQ(m.cols(), 2);
  EXPECT_EQ(m(0, 1), -3.0);
  EXPECT_EQ(m(1, 0), brain.data[2]);
}

// The shared GPT-2 slice (rows 0-63 of wpe, float32) stored as a model would store it: in
// a file with other tensors, under its Hugging Face name. F32 comes back bit for bit; BF16
// (the top 16 bits of each float) within bfloat16's 2^-8 relative precision.
TEST_F(SafetensorsTest, Gpt2SliceRoundTrip) {
  const NpyArray wpe = read_npy(testing::data_path("gpt2_wpe_first64.npy"));
  ASSERT_EQ(wpe.shape, (std::vector<std::size_t>{64, 768}));
  std::vector<float> f32(wpe.data.begin(), wpe.data.end());  // exact: the .npy is <f4
  std::vector<std::uint16_t> bf16;
  for (float v : f32) bf16.push_back(static_cast<std::uint16_t>(std::bit_cast<std::uint32_t>(v) >> 16));
  const std::vector<float> other(4 * 3, 0.5f);
  const std::string file = write_tensors(
      "gpt2.safetensors", {{"transformer.h.0.ln_1.bias", "F32", "[4, 3]", bytes_of(other)},
                           {"transformer.wpe.weight", "F32", "[64, 768]", bytes_of(f32)},
                           {"transformer.wpe_bf16", "BF16", "[64, 768]", bytes_of(bf16)}});

  const Eigen::MatrixXd expected = load_matrix(testing::data_path("gpt2_wpe_first64.npy"));
  const Eigen::MatrixXd got = load_matrix(file + ":transformer.wpe.weight");
  ASSERT_EQ(got.rows(), 64);
  ASSERT_EQ(got.cols(), 768);
  EXPECT_TRUE(got == expected);
  EXPECT_NEAR(got.row(0).norm(), 9.88, 0.01);  // SOURCES.md: position 0 stands out

  const Eigen::MatrixXd truncated = load_matrix(file + ":transformer.wpe_bf16");
  for (Eigen::Index i = 0; i < 64; ++i) {
    for (Eigen::Index j = 0; j < 768; ++j) {
      ASSERT_LE(std::abs(truncated(i, j) - expected(i, j)), std::abs(expected(i, j)) / 128)
          << i << ", " << j;
    }
  }
}

TEST_F(SafetensorsTest, FileErrors) {
  EXPECT_EQ(error_of([&] { load_matrix(path("absent.safetensors") + ":x"); }),
            path("absent.safetensors") +
                ": no such file: expected a safetensors file (8-byte header length, JSON header, data)");
  std::ofstream(path("short.safetensors"), std::ios::binary) << "abc";
  EXPECT_TRUE(contains(error_of([&] { read_safetensors_header(path("short.safetensors")); }),
                       "shorter than the 8-byte header length (3 bytes)"));
  const std::string long_header = path("long.safetensors");
  std::ofstream(long_header, std::ios::binary) << u64_le(1000) << "{}";
  EXPECT_EQ(error_of([&] { read_safetensors_header(long_header); }),
            long_header + ": header length 1000 exceeds the file (10 bytes): expected a "
                          "safetensors file (8-byte header length, JSON header, data)");
  std::ofstream(long_header, std::ios::binary) << u64_le(std::uint64_t{1} << 40) << "{}";
  EXPECT_TRUE(contains(error_of([&] { read_safetensors_header(long_header); }), "the 100 MB limit"));
}

TEST_F(SafetensorsTest, JsonErrorsNameTheByte) {
  const std::string comma = write_file("comma.safetensors", "{\"a\": 1,}", "");
  EXPECT_EQ(error_of([&] { read_safetensors_header(comma); }),
            comma + ": header is not valid JSON (byte 16: expected a string key): expected a "
                    "safetensors file (8-byte header length, JSON header, data)");
  const std::string dup = write_file(
      "dup.safetensors",
      "{\"t\": {\"dtype\": \"F32\", \"shape\": [], \"data_offsets\": [0, 4]}, "
      "\"t\": {\"dtype\": \"F32\", \"shape\": [], \"data_offsets\": [0, 4]}}",
      std::string(4, '\0'));
  EXPECT_TRUE(contains(error_of([&] { read_safetensors_header(dup); }), "duplicate key \"t\""));
  for (const std::string& text : {std::string("{'t': 1}"), std::string("{\"t\": [1 2]}"),
                                  std::string("{\"t\": \"a\x01\"}"), std::string("{} x"),
                                  std::string("{\"t\": 01}"), std::string("{\"t\": \"\\ud800\"}"),
                                  std::string(100, '[') + std::string(100, ']'),
                                  std::string("{\"t\": \"\xC0\xAF\"}"), std::string("")}) {
    const std::string file = write_file("bad.safetensors", text, "");
    EXPECT_TRUE(contains(error_of([&] { read_safetensors_header(file); }), "header is not valid JSON"))
        << text;
  }
  const std::string array = write_file("array.safetensors", "[]", "");
  EXPECT_TRUE(contains(error_of([&] { read_safetensors_header(array); }),
                       ": header is an array: expected a JSON object of tensors"));
  // Escapes and padding are accepted: the name is "wpe/é" and the header ends in spaces.
  const std::string escaped = write_file(
      "escaped.safetensors",
      "{\"wpe\\/\\u00e9\": {\"dtype\": \"F32\", \"shape\": [1, 1], \"data_offsets\": [0, 4]}}   ",
      bytes_of(std::vector<float>{2.5f}));
  EXPECT_EQ(load_matrix(escaped + ":wpe/\xC3\xA9")(0, 0), 2.5);
}

TEST_F(SafetensorsTest, EntryErrors) {
  const std::string four(4, '\0');
  EXPECT_TRUE(contains(entry_error("{\"dtype\": \"Q7\", \"shape\": [1], \"data_offsets\": [0, 4]}", four),
                       "tensor 't' has unknown dtype 'Q7': expected one of BOOL, U8,"));
  EXPECT_TRUE(contains(entry_error("{\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 4]}", four),
                       "tensor 't' shape [2] of F32 needs 8 bytes but data_offsets [0, 4] hold 4: "
                       "expected shape x dtype size = end - begin"));
  EXPECT_TRUE(contains(entry_error("{\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 8]}",
                                   std::string(8, '\0')),
                       "needs 4 bytes but data_offsets [0, 8] hold 8"));
  EXPECT_TRUE(contains(entry_error("{\"dtype\": \"F32\", \"shape\": [4294967296, 4294967296, 2], "
                                   "\"data_offsets\": [0, 4]}", four),
                       "needs more than 2^64 bits"));
  // A zero dimension: an empty tensor, whatever the other dimensions are.
  EXPECT_NO_THROW(read_safetensors_header(write_file(
      "empty_dim.safetensors",
      "{\"t\": {\"dtype\": \"F32\", \"shape\": [0, 18446744073709551615], \"data_offsets\": [0, 0]}}", "")));
  EXPECT_TRUE(contains(entry_error("{\"dtype\": \"F4\", \"shape\": [3], \"data_offsets\": [0, 2]}",
                                   std::string(2, '\0')),
                       "needs 12 bits (not whole bytes)"));
  EXPECT_TRUE(contains(entry_error("{\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [4, 8]}", four),
                       "tensor 't' data_offsets [4, 8] reach past the end of the data (4 bytes): "
                       "expected offsets inside the file"));
  EXPECT_TRUE(contains(entry_error("{\"dtype\": \"F32\", \"shape\": [0], \"data_offsets\": [4, 0]}", four),
                       "data_offsets [4, 0] end before they begin"));
  EXPECT_TRUE(contains(entry_error("{\"dtype\": \"F32\", \"shape\": [-1], \"data_offsets\": [0, 4]}", four),
                       "tensor 't' shape holds -1: expected non-negative integer dimensions"));
  EXPECT_TRUE(contains(entry_error("{\"dtype\": \"F32\", \"shape\": [1.0], \"data_offsets\": [0, 4]}", four),
                       "shape holds 1.0"));
  EXPECT_TRUE(contains(entry_error("{\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0]}", four),
                       "data_offsets is not two non-negative integers"));
  EXPECT_TRUE(contains(entry_error("{\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4], "
                                   "\"extra\": 1}", four),
                       "tensor 't' has unknown key 'extra'"));
  EXPECT_TRUE(contains(entry_error("{\"dtype\": \"F32\", \"shape\": [1]}", four),
                       "tensor 't' lacks dtype, shape or data_offsets"));
  EXPECT_TRUE(contains(entry_error("{\"dtype\": 32, \"shape\": [1], \"data_offsets\": [0, 4]}", four),
                       "tensor 't' dtype is a number"));
  EXPECT_TRUE(contains(entry_error("[1]", four), "tensor 't' is an array"));
  const std::string meta = write_file("meta.safetensors", "{\"__metadata__\": {\"step\": 5}}", "");
  EXPECT_TRUE(contains(error_of([&] { read_safetensors_header(meta); }),
                       "__metadata__ 'step' is a number: expected string values only"));
  // A name with a control character stays on one line in the message.
  const std::string odd = write_file("odd.safetensors", "{\"a\\nb\": 1}", "");
  EXPECT_TRUE(contains(error_of([&] { read_safetensors_header(odd); }), "tensor 'a\\x0ab' is a number"));
}

TEST_F(SafetensorsTest, TensorsMustTileTheDataExactly) {
  const std::string eight(8, '\0');
  auto layout_error = [&](const std::string& a, const std::string& b, const std::string& data) {
    const std::string file = write_file(
        "layout.safetensors",
        "{\"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": " + a + "}, "
        "\"b\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": " + b + "}}",
        data);
    return error_of([&] { read_safetensors_header(file); });
  };
  EXPECT_TRUE(contains(layout_error("[0, 4]", "[2, 6]", eight),
                       "tensor 'b' overlaps tensor 'a' (bytes 2..4): expected tensors that do not share bytes"));
  EXPECT_TRUE(contains(layout_error("[0, 4]", "[0, 4]", eight), "overlaps"));
  EXPECT_TRUE(contains(layout_error("[0, 4]", "[8, 12]", std::string(12, '\0')),
                       "bytes 4..8 of the data belong to no tensor"));
  EXPECT_TRUE(contains(layout_error("[0, 4]", "[4, 8]", std::string(10, '\0')),
                       "2 bytes after the last tensor: expected the data to end with the last tensor"));
  // Tensors in another order than their bytes are fine.
  const std::string file = write_file(
      "order.safetensors",
      "{\"b\": {\"dtype\": \"F32\", \"shape\": [1, 1], \"data_offsets\": [4, 8]}, "
      "\"a\": {\"dtype\": \"F32\", \"shape\": [1, 1], \"data_offsets\": [0, 4]}}",
      bytes_of(std::vector<float>{1.0f, 2.0f}));
  EXPECT_EQ(load_matrix(file + ":b")(0, 0), 2.0);
  EXPECT_EQ(load_matrix(file + ":a")(0, 0), 1.0);
}

TEST_F(SafetensorsTest, MissingTensorListsTheNamesThatExist) {
  std::vector<Raw> tensors;
  for (int layer = 0; layer < 20; ++layer) {
    tensors.push_back({"h." + std::to_string(layer) + ".bias", "F32", "[1]", std::string(4, '\0')});
  }
  tensors.push_back({"transformer.wpe.weight", "F32", "[2, 2]", std::string(16, '\0')});
  const std::string file = write_tensors("many.safetensors", tensors);

  // The name most like the asked-for one comes first; the list stops after 12.
  const std::string error = error_of([&] { load_matrix(file + ":wpe.weight"); });
  EXPECT_TRUE(contains(error, file + ": no tensor 'wpe.weight': expected one of "
                                     "'transformer.wpe.weight' [2, 2] F32, 'h.0.bias' [1] F32, "))
      << error;
  EXPECT_TRUE(contains(error, "'h.10.bias' [1] F32, ... (21 tensors in all)")) << error;
  EXPECT_FALSE(contains(error, "h.11.bias")) << error;

  EXPECT_TRUE(contains(error_of([&] { load_matrix(file); }),
                       file + ": no tensor given: expected file.safetensors:TENSOR, one of 'h.0.bias'"));

  const std::string empty = write_file("empty.safetensors", "{}", "");
  EXPECT_EQ(error_of([&] { load_matrix(empty + ":x"); }),
            empty + ": no tensor 'x': expected a file with tensors (this one holds none)");
}

TEST_F(SafetensorsTest, OnlyTwoDimensionalFloatTensorsLoadAsMatrices) {
  const std::string file = write_tensors(
      "kinds.safetensors", {{"ids", "I64", "[2, 1]", std::string(16, '\0')},
                            {"vector", "F32", "[3]", std::string(12, '\0')},
                            {"cube", "BF16", "[1, 1, 2]", std::string(4, '\0')}});
  EXPECT_EQ(error_of([&] { load_matrix(file + ":ids"); }),
            file + ": tensor 'ids' has dtype I64: expected a floating-point tensor: F32, F16, BF16 or F64");
  EXPECT_EQ(error_of([&] { load_matrix(file + ":vector"); }),
            file + ": tensor 'vector' is 1-D [3]: expected a 2-D tensor");
  EXPECT_EQ(error_of([&] { load_matrix(file + ":cube"); }),
            file + ": tensor 'cube' is 3-D [1, 1, 2]: expected a 2-D tensor");
}

// Found by content as well as by name: a file without the .safetensors suffix.
TEST_F(SafetensorsTest, RecognisedWithoutTheSuffix) {
  const std::string file = write_tensors("weights.bin", {{"p", "F32", "[1, 2]",
                                                           bytes_of(std::vector<float>{1, 2})}});
  EXPECT_TRUE(looks_like_safetensors(file));
  EXPECT_EQ(load_matrix(file + ":p")(0, 1), 2.0);
  EXPECT_FALSE(looks_like_safetensors(testing::data_path("gpt2_wpe_first64.npy")));
  EXPECT_FALSE(looks_like_safetensors(testing::data_path("results_synthetic.h5")));
}

// `poslab probe model.safetensors:name` gives the numbers the same matrix gives as .npy;
// a bad tensor name is a usage error (exit 2, one line) that writes nothing.
TEST_F(SafetensorsTest, ProbeCommandReadsATensor) {
  const NpyArray wpe = read_npy(testing::data_path("gpt2_wpe_first64.npy"));
  const std::vector<float> f32(wpe.data.begin(), wpe.data.end());
  const std::string file = write_tensors(
      "gpt2.safetensors", {{"transformer.wpe.weight", "F32", "[64, 768]", bytes_of(f32)}});
  const auto from_npy = testing::run_poslab("probe " + testing::data_path("gpt2_wpe_first64.npy") +
                                            " --probes similarity,absolute_position");
  const auto from_safetensors =
      testing::run_poslab("probe " + file + ":transformer.wpe.weight --probes similarity,absolute_position");
  ASSERT_EQ(from_safetensors.exit_code, 0) << from_safetensors.err;
  auto table = [](const std::string& out) { return out.substr(out.find('\n')); };  // past "matrix ..."
  EXPECT_EQ(table(from_safetensors.out), table(from_npy.out));
  EXPECT_TRUE(contains(from_safetensors.out, "[64, 768]"));

  const std::string out = path("probes.h5");
  const auto bad = testing::run_poslab("probe " + file + ":wpe --out " + out);
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_TRUE(contains(bad.err, "no tensor 'wpe': expected one of 'transformer.wpe.weight' [64, 768] F32"))
      << bad.err;
  EXPECT_EQ(std::count(bad.err.begin(), bad.err.end(), '\n'), 1) << bad.err;
  EXPECT_FALSE(fs::exists(out));
}

}  // namespace
}  // namespace poslab
