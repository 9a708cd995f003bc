#pragma once
// File-name components that are safe and cannot collide.
//
// A sweep names each results file after the grid values it ran with
// (<run>__<key>-<value>__<key>-<value>.h5). Two different values must never give the same
// name (1e-3 and 1e+3 once did, and the second run silently replaced the first), and no
// value may produce a name the file system refuses or that escapes the folder.
#include <cstddef>
#include <cstdint>
#include <string>

namespace poslab {

// Letters, digits, '.' and '-' are kept; every other byte becomes '_' and two upper-case
// hex digits ("+" -> "_2B", "/" -> "_2F"), except a '_' that cannot be mistaken for an
// escape, which is kept (so "flip_flop" stays "flip_flop"). The result uses only
// [A-Za-z0-9._-], never contains "__" and never ends in '_', so components joined with
// "__" split back uniquely; decode_file_name_component() inverts it, which is what makes
// the mapping injective.
std::string encode_file_name_component(const std::string& text);
std::string decode_file_name_component(const std::string& encoded);

// 64-bit FNV-1a of `text` as 16 lower-case hex digits: a stable short name for long text.
std::string short_hash(const std::string& text);

// The suffix to use so that stem + suffix stays within max_bytes: `suffix` itself if it
// fits; otherwise as much of it as fits before "__" + short_hash(stem + suffix), so names
// that differ anywhere, even past the cut, still differ. (A stem longer than max_bytes is
// not cut: the suffix is then only "__" + the hash.)
std::string bounded_suffix(const std::string& stem, const std::string& suffix, std::size_t max_bytes);

}  // namespace poslab
