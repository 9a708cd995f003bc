// Turns docs/extending.md's walk-through into files the tests compile, so the page cannot
// drift from code that works (docs/extending.md, "Walk-through").
//
//   extract_walkthrough extract <page.md> <out_dir> <file>...
//       writes every block opened by "```<lang> walkthrough=<file>" to <out_dir>/<file>;
//       each named <file> must appear exactly once and no other may.
//   extract_walkthrough check <page.md> <source_dir>
//       every block opened by "```<lang> walkthrough-in=<path>" must occur verbatim in
//       <source_dir>/<path> (the page shows code that lives in a script).
// Exit 0 on success; 1 with one line on stderr naming the page, block and problem.
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace {

struct Block {
  std::string key;    // what follows "walkthrough=" or "walkthrough-in="
  bool contained;     // walkthrough-in: must occur in a file; else a file to write
  std::string text;   // the lines between the fences, each ending in '\n'
  int line;           // of the opening fence
};

std::string read_file(const std::string& path, bool& ok) {
  std::ifstream in(path, std::ios::binary);
  ok = bool(in);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<Block> blocks_of(const std::string& page, const std::string& name, bool& ok) {
  std::vector<Block> blocks;
  std::istringstream in(page);
  std::string line;
  Block* open = nullptr;
  int number = 0;
  ok = true;
  while (std::getline(in, line)) {
    ++number;
    if (open) {
      if (line == "```") open = nullptr;
      else open->text += line + "\n";
      continue;
    }
    if (line.rfind("```", 0) != 0) continue;
    for (const auto& [tag, contained] : {std::pair<std::string, bool>{" walkthrough=", false},
                                         {" walkthrough-in=", true}}) {
      const auto at = line.find(tag);
      if (at == std::string::npos) continue;
      blocks.push_back({line.substr(at + tag.size()), contained, "", number});
      open = &blocks.back();
      break;
    }
  }
  if (open) {
    std::cerr << name << ":" << open->line << ": walk-through block " << open->key << " is never closed\n";
    ok = false;
  }
  return blocks;
}

int extract(const std::string& page_path, const std::string& out_dir, const std::set<std::string>& wanted) {
  bool ok = false;
  const std::string page = read_file(page_path, ok);
  if (!ok) return std::cerr << page_path << ": cannot read\n", 1;
  const auto blocks = blocks_of(page, page_path, ok);
  if (!ok) return 1;
  std::map<std::string, const Block*> files;
  for (const Block& b : blocks) {
    if (b.contained) continue;
    if (!wanted.count(b.key))
      return std::cerr << page_path << ":" << b.line << ": walk-through file " << b.key
                       << " is not in the build's list (CMakeLists.txt, POSLAB_WALKTHROUGH_FILES)\n", 1;
    if (!files.emplace(b.key, &b).second)
      return std::cerr << page_path << ":" << b.line << ": walk-through file " << b.key << " appears twice\n", 1;
  }
  for (const std::string& file : wanted) {
    if (!files.count(file))
      return std::cerr << page_path << ": expected a block \"```<lang> walkthrough=" << file << "\"\n", 1;
    const std::string path = out_dir + "/" + file;
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << files[file]->text;
    if (!out.flush()) return std::cerr << path << ": cannot write\n", 1;
  }
  return 0;
}

int check(const std::string& page_path, const std::string& source_dir) {
  bool ok = false;
  const std::string page = read_file(page_path, ok);
  if (!ok) return std::cerr << page_path << ": cannot read\n", 1;
  const auto blocks = blocks_of(page, page_path, ok);
  if (!ok) return 1;
  int checked = 0;
  for (const Block& b : blocks) {
    if (!b.contained) continue;
    const std::string source = read_file(source_dir + "/" + b.key, ok);
    if (!ok) return std::cerr << page_path << ":" << b.line << ": cannot read " << b.key << "\n", 1;
    if (source.find(b.text) == std::string::npos)
      return std::cerr << page_path << ":" << b.line << ": this block is not in " << b.key
                       << " verbatim (update one or the other)\n", 1;
    ++checked;
  }
  if (checked == 0) return std::cerr << page_path << ": no walkthrough-in block to check\n", 1;
  std::cout << checked << " walk-through blocks found verbatim in their files\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() >= 3 && args[0] == "extract")
    return extract(args[1], args[2], std::set<std::string>(args.begin() + 3, args.end()));
  if (args.size() == 3 && args[0] == "check") return check(args[1], args[2]);
  std::cerr << "usage: extract_walkthrough extract <page.md> <out_dir> <file>... | check <page.md> <source_dir>\n";
  return 2;
}
