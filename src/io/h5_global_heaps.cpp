#include "io/h5_global_heaps.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>

#include "core/config_node.h"  // ConfigError

namespace poslab {
namespace {

// A read-only mapping of a whole file (empty if it cannot be mapped; then nothing is
// checked and libhdf5 reports whatever is wrong).
class MappedFile {
 public:
  explicit MappedFile(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    struct stat st{};
    if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
      void* p = ::mmap(nullptr, std::size_t(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0);
      if (p != MAP_FAILED) {
        data_ = static_cast<const unsigned char*>(p);
        size_ = std::size_t(st.st_size);
      }
    }
    ::close(fd);
  }
  ~MappedFile() {
    if (data_) ::munmap(const_cast<unsigned char*>(data_), size_);
  }
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const unsigned char* data() const { return data_; }
  std::size_t size() const { return size_; }

 private:
  const unsigned char* data_ = nullptr;
  std::size_t size_ = 0;
};

std::uint64_t little_endian(const unsigned char* p, std::size_t width) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < width; ++i) v |= std::uint64_t(p[i]) << (8 * i);
  return v;
}

// The superblock's "size of lengths" (bytes of every length field, 8 by default). The
// superblock sits at byte 0 or, after a user block, at 512, 1024, 2048, ...
std::size_t size_of_lengths(const MappedFile& f) {
  static const unsigned char kSignature[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
  for (std::size_t at = 0; at + 16 <= f.size(); at = at == 0 ? 512 : at * 2) {
    const unsigned char* s = f.data() + at;
    if (std::memcmp(s, kSignature, 8) != 0) continue;
    const std::size_t width = s[8] <= 1 ? s[14] : s[10];  // superblock versions 0-1 vs 2-3
    return width == 2 || width == 4 || width == 8 ? width : 8;
  }
  return 8;
}

}  // namespace

void check_global_heaps(const std::string& path) {
  const MappedFile f(path);
  if (!f.data()) return;
  const std::size_t L = size_of_lengths(f);
  // Collection header: "GCOL", version 1, 3 reserved bytes, collection size (L bytes).
  // Object header: index (2), reference count (2), reserved (4), object size (L); the
  // object's data follows, padded to a multiple of 8. Index 0 is the free space, whose
  // size counts its header.
  const std::size_t header = 8 + L, object_header = 8 + L;
  const unsigned char* const begin = f.data();
  const unsigned char* const end = begin + f.size();
  for (const unsigned char* g = begin; g + header <= end; ++g) {
    g = static_cast<const unsigned char*>(::memmem(g, std::size_t(end - g), "GCOL", 4));
    if (!g || g + header > end) break;
    // A collection has version 1 and zero reserved bytes; anything else is other data
    // that happens to contain "GCOL" (libhdf5 refuses a real one with a bad version).
    if (g[4] != 1 || g[5] != 0 || g[6] != 0 || g[7] != 0) continue;
    const std::size_t at = std::size_t(g - begin);
    auto corrupt = [&](const std::string& what) {
      throw ConfigError(path + ": global heap collection at byte " + std::to_string(at) + ": " + what +
                        "; expected an intact HDF5 file (libhdf5 would hang or read out of bounds)");
    };
    const std::uint64_t size = little_endian(g + 8, L);
    if (size < header) corrupt("size " + std::to_string(size) + " is smaller than its header");
    if (size > std::uint64_t(end - g)) corrupt("size " + std::to_string(size) + " runs past the end of the file");
    const unsigned char* const stop = g + size;
    for (const unsigned char* p = g + header; p < stop;) {
      if (p + object_header > stop) break;  // a tail too small for an object: free space
      const std::uint64_t index = little_endian(p, 2), object = little_endian(p + 8, L);
      const std::uint64_t need = index > 0 ? object_header + (object + 7) / 8 * 8 : object;
      if (need == 0 || need < object || need > std::uint64_t(stop - p))
        corrupt("object " + std::to_string(index) + " at byte " + std::to_string(p - begin) + " has size " +
                std::to_string(object) + ", which " + (need == 0 ? "does not advance" : "runs past the collection"));
      p += need;
    }
  }
}

}  // namespace poslab
