#pragma once
// A character-level text corpus shared by the `text` and `mlm` tasks.
//
// The file (UTF-8) is decoded into characters (Unicode code points) and split in two:
// the first (1 - eval_fraction) of the characters for training, the last eval_fraction
// held out for evaluation (eval_fraction 0: evaluation reads the whole file). The
// alphabet is the distinct characters of the training part, sorted; a held-out character
// that never occurs in training is "unknown" (index -1), so evaluation stays honest.
//
// Tasks add their own special ids in front: a character with alphabet index c gets the
// token id first_id + c, and an unknown one the task's UNK id.
#include <cstdint>
#include <string>
#include <vector>

#include "core/rng.h"
#include "core/options.h"
#include "tasks/task.h"

namespace poslab {

class CharCorpus {
 public:
  // Reads options `path` (relative paths are resolved against the directory of the file
  // that set the key) and `eval_fraction`. Missing, unreadable, empty or non-UTF-8 files,
  // anything but a regular file (a FIFO, /dev/zero) and files over 1 GiB are ConfigErrors
  // on the `path` key.
  explicit CharCorpus(const Options& options);

  // The options the loader reads, for a task's option list.
  static std::vector<OptionSpec> option_specs();

  int alphabet_size() const { return static_cast<int>(alphabet_.size()); }
  // The characters of one split as alphabet indices (-1 = unknown).
  const std::vector<int>& characters(Split split) const;
  // ConfigError (on `path`) unless both splits hold at least `count` characters; tasks
  // call it at construction so a too-short file fails before training starts.
  void require(int count) const;
  // `count` consecutive characters of `split` from a uniform random offset. ConfigError
  // (on `path`) if that split holds fewer than `count` characters.
  std::vector<int> window(Rng& rng, Split split, int count) const;
  // Readable rendering of an alphabet index: the character itself (UTF-8), with control
  // characters and backslash escaped ("\n", "\t", "\\", "\x07").
  std::string render(int index) const;
  const std::string& resolved_path() const { return resolved_path_; }

 private:
  std::vector<char32_t> alphabet_;  // sorted distinct training characters
  std::vector<int> train_;
  std::vector<int> eval_;
  std::string resolved_path_;
  ConfigNode path_node_;
};

}  // namespace poslab
