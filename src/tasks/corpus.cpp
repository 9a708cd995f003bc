#include "tasks/corpus.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>

namespace poslab {
namespace {

// Character indices are ints (window offsets) and the decoded text takes 4 bytes per
// character: 1 GiB of text is already 4 GiB in memory.
constexpr std::uintmax_t kMaxCorpusBytes = std::uintmax_t(1) << 30;

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

// Reads the whole corpus file. Only a regular file of at most kMaxCorpusBytes: a FIFO
// would block forever and /dev/zero never ends. The file is opened without blocking and
// checked through its descriptor, so it cannot be swapped for a FIFO after the check.
std::string read_corpus_file(const std::string& path, const ConfigNode& where) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) where.fail("cannot open '" + path + "': " + std::strerror(errno));
  struct FdCloser {
    int fd;
    ~FdCloser() { ::close(fd); }
  } closer{fd};
  struct stat info {};
  if (::fstat(fd, &info) != 0) where.fail("cannot open '" + path + "': " + std::strerror(errno));
  if (!S_ISREG(info.st_mode))
    where.fail("expected a regular text file, got '" + path + "' (" +
               (S_ISDIR(info.st_mode) ? "a folder" : "not a regular file: a device, FIFO or socket") +
               ")");
  if (std::uintmax_t(info.st_size) > kMaxCorpusBytes)
    where.fail("expected a text file of at most " + std::to_string(kMaxCorpusBytes) +
               " bytes (1 GiB), got '" + path + "' (" + std::to_string(info.st_size) + " bytes)");
  std::string bytes(std::size_t(info.st_size), '\0');
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::read(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) where.fail("cannot read '" + path + "': " + std::strerror(errno));
    if (n == 0) break;  // the file shrank while we read it: keep what is there
    done += std::size_t(n);
  }
  bytes.resize(done);
  return bytes;
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

  const std::string bytes = read_corpus_file(resolved_path_, path_node_);
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
