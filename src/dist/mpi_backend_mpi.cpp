// The MPI backend: MPI_COMM_WORLD behind the Communicator interface. Only the main thread
// calls MPI (MPI_THREAD_FUNNELED); OpenMP threads never do.
#include <mpi.h>

#include <cstdio>
#include <cstdlib>
#include <algorithm>
#include <limits>
#include <vector>
#include <stdexcept>

#include "dist/mpi_backend.h"

namespace poslab::dist {

namespace {

void check(int code, const char* what) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, text, &length);
  throw std::runtime_error(std::string(what) + ": " + std::string(text, std::size_t(length)));
}

// MPI counts are int: larger buffers go in chunks of at most 1 GiB.
constexpr std::size_t kChunk = std::size_t(1) << 30;

class MpiWorld final : public Communicator {
 public:
  MpiWorld(int& argc, char**& argv) {
    int provided = 0;
    check(MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
    // Errors come back as codes (turned into exceptions) instead of aborting silently.
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
    MPI_Comm local;
    check(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &local),
          "MPI_Comm_split_type");
    MPI_Comm_size(local, &local_size_);
    MPI_Comm_free(&local);
  }
  ~MpiWorld() override { MPI_Finalize(); }

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  int local_size() const override { return local_size_; }
  std::string describe() const override {
    return "MPI, " + std::to_string(size_) + (size_ == 1 ? " rank" : " ranks");
  }

  void broadcast(void* data, std::size_t bytes, int root) override {
    auto* p = static_cast<char*>(data);
    for (std::size_t done = 0; done < bytes; done += kChunk)
      check(MPI_Bcast(p + done, int(std::min(kChunk, bytes - done)), MPI_BYTE, root, MPI_COMM_WORLD),
            "MPI_Bcast");
  }

  void gather_bytes(const void* data, std::size_t bytes, void* out, int root) override {
    if (bytes > kChunk) {
      // Gather chunk by chunk: rank r's chunk c lands at out + r·bytes + c·kChunk.
      std::vector<char> part;
      for (std::size_t done = 0; done < bytes; done += kChunk) {
        const std::size_t n = std::min(kChunk, bytes - done);
        if (rank_ == root) part.resize(n * std::size_t(size_));
        gather_bytes(static_cast<const char*>(data) + done, n, part.data(), root);
        if (rank_ == root)
          for (int r = 0; r < size_; ++r)
            std::copy(part.begin() + std::ptrdiff_t(r * n), part.begin() + std::ptrdiff_t((r + 1) * n),
                      static_cast<char*>(out) + std::size_t(r) * bytes + done);
      }
      return;
    }
    check(MPI_Gather(data, int(bytes), MPI_BYTE, out, int(bytes), MPI_BYTE, root, MPI_COMM_WORLD),
          "MPI_Gather");
  }

  std::vector<std::string> gather(const std::string& bytes, int root) override {
    if (bytes.size() > std::size_t(std::numeric_limits<int>::max() / size_))
      throw std::runtime_error("MPI gather: message too large");
    int length = int(bytes.size());
    const std::size_t ranks = static_cast<std::size_t>(size_);
    std::vector<int> lengths(ranks), offsets(ranks);
    check(MPI_Gather(&length, 1, MPI_INT, lengths.data(), 1, MPI_INT, root, MPI_COMM_WORLD), "MPI_Gather");
    std::string all;
    if (rank_ == root) {
      long total = 0;
      for (int r = 0; r < size_; ++r) {
        offsets[std::size_t(r)] = int(total);
        total += lengths[std::size_t(r)];
      }
      all.resize(std::size_t(total));
    }
    check(MPI_Gatherv(bytes.data(), length, MPI_BYTE, all.data(), lengths.data(), offsets.data(),
                      MPI_BYTE, root, MPI_COMM_WORLD),
          "MPI_Gatherv");
    std::vector<std::string> out;
    if (rank_ == root)
      for (int r = 0; r < size_; ++r)
        out.push_back(all.substr(std::size_t(offsets[std::size_t(r)]), std::size_t(lengths[std::size_t(r)])));
    return out;
  }

  void send(int to, int tag, const std::string& bytes) override {
    if (bytes.size() > std::size_t(std::numeric_limits<int>::max()))
      throw std::runtime_error("MPI send: message too large");
    check(MPI_Send(bytes.data(), int(bytes.size()), MPI_BYTE, to, tag, MPI_COMM_WORLD), "MPI_Send");
  }

  std::optional<Message> try_receive() override {
    int arrived = 0;
    MPI_Status status;
    check(MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &arrived, &status), "MPI_Iprobe");
    if (!arrived) return std::nullopt;
    int count = 0;
    MPI_Get_count(&status, MPI_BYTE, &count);
    Message m{status.MPI_SOURCE, status.MPI_TAG, std::string(std::size_t(count), '\0')};
    check(MPI_Recv(m.bytes.data(), count, MPI_BYTE, status.MPI_SOURCE, status.MPI_TAG, MPI_COMM_WORLD,
                   MPI_STATUS_IGNORE),
          "MPI_Recv");
    return m;
  }

  [[noreturn]] void abort(int exit_code) override {
    std::fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, exit_code);
    std::_Exit(exit_code);
  }

 private:
  int rank_ = 0, size_ = 1, local_size_ = 1;
};

}  // namespace

bool mpi_compiled_in() { return true; }

std::string mpi_library_version() {
  char text[MPI_MAX_LIBRARY_VERSION_STRING];
  int length = 0;
  MPI_Get_library_version(text, &length);
  std::string v(text, std::size_t(length));
  // The first line is enough ("Open MPI v4.1.4, package: ..." -> up to the comma).
  const std::size_t end = v.find_first_of(",\n");
  return end == std::string::npos ? v : v.substr(0, end);
}

std::unique_ptr<Communicator> start_mpi(int& argc, char**& argv) {
  return std::make_unique<MpiWorld>(argc, argv);
}

}  // namespace poslab::dist
