#pragma once
// A minimal aligned text table for terminal output.
#include <algorithm>
#include <iostream>
#include <string>
#include <vector>

namespace poslab::cli {

class TextTable {
 public:
  explicit TextTable(std::vector<std::string> header) : rows_{std::move(header)} {}
  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  void print(std::ostream& out) const {
    std::vector<std::size_t> width;
    for (const auto& row : rows_)
      for (std::size_t c = 0; c < row.size(); ++c) {
        if (width.size() <= c) width.push_back(0);
        width[c] = std::max(width[c], row[c].size());
      }
    for (std::size_t r = 0; r < rows_.size(); ++r) {
      for (std::size_t c = 0; c < rows_[r].size(); ++c) {
        const std::string& cell = rows_[r][c];
        // first column left-aligned (names), the rest right-aligned (numbers)
        if (c == 0) out << cell << std::string(width[c] - cell.size(), ' ');
        else out << "  " << std::string(width[c] - cell.size(), ' ') << cell;
      }
      out << "\n";
      if (r == 0) {
        std::size_t total = 0;
        for (std::size_t c = 0; c < width.size(); ++c) total += width[c] + (c ? 2 : 0);
        out << std::string(total, '-') << "\n";
      }
    }
  }

 private:
  std::vector<std::vector<std::string>> rows_;
};

inline std::string fixed(double v, int decimals) {
  if (v != v) return "-";  // NaN: metric not defined for this task
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

}  // namespace poslab::cli
