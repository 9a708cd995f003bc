#include "tasks/corpus.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>

namespace poslab {
namespace {

// Strict UTF-8 decoding: rejects truncated sequences, overlong forms, surrogates and code
// points above U+10FFFF. Returns nothing on the first invalid byte.
std::optional<std::vector<char32_t>> decode_utf8(const std::string& bytes) {
  std::vector<char32_t> out;
  out.reserve(bytes.size());
  std::size_t i = 0;
  while (i < bytes.size()) {
    const unsigned char lead = static_cast<unsigned char>(bytes[i]);
    int extra;
    char32_t cp;
    if (lead < 0x80) {
      extra = 0, cp = lead;
    } else if (lead >= 0xC2 && lead < 0xE0) {
      extra = 1, cp = lead & 0x1F;
    } else if (lead >= 0xE0 && lead < 0xF0) {
      extra = 2, cp = lead & 0x0F;
    } else if (lead >= 0xF0 && lead < 0xF5) {
      extra = 3, cp = lead & 0x07;
    } else {
      return std::nullopt;
    }
    if (i + extra >= bytes.size()) return std::nullopt;  // truncated at the end
    for (int k = 1; k <= extra; ++k) {
      const unsigned char c = static_cast<unsigned char>(bytes[i + k]);
      if ((c & 0xC0) != 0x80) return std::nullopt;
      cp = (cp << 6) | (c & 0x3F);
    }
    static const char32_t smallest[] = {0, 0x80, 0x800, 0x10000};
    if (cp < smallest[extra] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
      return std::nullopt;
    out.push_back(cp);
    i += extra + 1;
  }
  return out;
}

std::string encode_utf8(char32_t cp) {
  std::string s;
  if (cp < 0x80) {
    s += static_cast<char>(cp);
  } else if (cp < 0x800) {
    s += static_cast<char>(0xC0 | (cp >> 6));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    s += static_cast<char>(0xE0 | (cp >> 12));
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    s += static_cast<char>(0xF0 | (cp >> 18));
    s += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  }
  return s;
}

}  // namespace

std::vector<OptionSpec> CharCorpus::option_specs() {
  return {
      {"path", OptionSpec::Type::String, "", "UTF-8 text file (relative to the experiment file)"},
      {"eval_fraction", OptionSpec::Type::Float, "0.1",
       "fraction of the file, at its end, held out for evaluation (0 = evaluate on all)", 0.0,
       0.9}};
}

CharCorpus::CharCorpus(const Options& options) : path_node_(options.node("path")) {
  // Resolve a relative path against the directory of the file that set it, so an
  // experiment can be run from any working directory.
  std::filesystem::path path(options.get_string("path"));
  if (path.is_relative()) {
    const std::filesystem::path setter(path_node_.file());
    path = setter.parent_path() / path;
  }
  resolved_path_ = path.string();

  std::ifstream in(path, std::ios::binary);
  if (!in || std::filesystem::is_directory(path))
    path_node_.fail("cannot open '" + resolved_path_ + "'");
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) path_node_.fail("cannot read '" + resolved_path_ + "'");
  const auto text = decode_utf8(bytes);
  if (!text)
    path_node_.fail("expected a UTF-8 text file, got invalid UTF-8 in '" + resolved_path_ + "'");
  if (text->empty())
    path_node_.fail("expected a non-empty text file, got '" + resolved_path_ + "' (empty)");

  const double eval_fraction = options.get_float("eval_fraction");
  const std::size_t n = text->size();
  const std::size_t n_eval =
      eval_fraction > 0 ? std::max<std::size_t>(1, std::llround(eval_fraction * double(n))) : 0;
  const std::size_t n_train = n - std::min(n_eval, n);

  alphabet_.assign(text->begin(), text->begin() + n_train);
  std::sort(alphabet_.begin(), alphabet_.end());
  alphabet_.erase(std::unique(alphabet_.begin(), alphabet_.end()), alphabet_.end());
  auto index_of = [&](char32_t c) {
    auto it = std::lower_bound(alphabet_.begin(), alphabet_.end(), c);
    return it != alphabet_.end() && *it == c ? static_cast<int>(it - alphabet_.begin()) : -1;
  };
  for (std::size_t i = 0; i < n_train; ++i) train_.push_back(index_of((*text)[i]));
  if (n_eval == 0) {
    eval_ = train_;
  } else {
    for (std::size_t i = n_train; i < n; ++i) eval_.push_back(index_of((*text)[i]));
  }
}

void CharCorpus::require(int count) const {
  for (Split split : {Split::Train, Split::Eval}) {
    const std::size_t have = characters(split).size();
    if (have < static_cast<std::size_t>(count))
      path_node_.fail("expected at least " + std::to_string(count) + " characters in the " +
                      (split == Split::Eval ? "held-out" : "training") + " part of '" +
                      resolved_path_ + "' (for the training length), got " + std::to_string(have));
  }
}

const std::vector<int>& CharCorpus::characters(Split split) const {
  return split == Split::Eval ? eval_ : train_;
}

std::vector<int> CharCorpus::window(Rng& rng, Split split, int count) const {
  const std::vector<int>& chars = characters(split);
  if (count < 1 || static_cast<std::size_t>(count) > chars.size())
    path_node_.fail("windows of " + std::to_string(count) + " characters do not fit in the " +
                    (split == Split::Eval ? "held-out" : "training") + " part of '" +
                    resolved_path_ + "' (" + std::to_string(chars.size()) +
                    " characters); expected a longer file or a shorter length");
  const int start = rng.uniform_int(0, static_cast<int>(chars.size()) - count);
  return std::vector<int>(chars.begin() + start, chars.begin() + start + count);
}

std::string CharCorpus::render(int index) const {
  if (index < 0 || index >= alphabet_size()) return "<?>";
  const char32_t c = alphabet_[index];
  switch (c) {
    case '\n':
      return "\\n";
    case '\t':
      return "\\t";
    case '\r':
      return "\\r";
    case '\\':
      return "\\\\";
    default:
      break;
  }
  if (c < 0x20 || c == 0x7F) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned>(c));
    return buf;
  }
  return encode_utf8(c);
}

}  // namespace poslab
