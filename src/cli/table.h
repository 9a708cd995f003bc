#pragma once
// A minimal aligned text table for terminal output.
#include <algorithm>
#include <cmath>
#include <iomanip>
#include <iostream>
#include <sstream>
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

// A number for a table cell: `decimals` digits after the point, switching to scientific
// notation (1.000e+300) for magnitudes of 1e15 and above so that no value is cut or
// spelled out in hundreds of digits; "inf"/"-inf" for infinities.
inline std::string fixed(double v, int decimals) {
  if (std::isnan(v)) return "-";  // NaN: metric not defined for this task
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  std::ostringstream out;
  out << (std::abs(v) >= 1e15 ? std::scientific : std::fixed)
      << std::setprecision(std::clamp(decimals, 0, 17)) << v;
  return out.str();
}

}  // namespace poslab::cli
