#pragma once
// The one place where poslab talks to other processes. Everything outside src/dist/ sees
// this interface only, so the rest of the code has no #ifdef for MPI: a build without MPI,
// or a process not started by an MPI launcher, gets the single-process communicator
// (rank 0 of 1), whose collectives are the identity.
//
// Collectives (broadcast, gather, gather_bytes) must be called by every rank, in the same
// order. Point-to-point messages (send / try_receive) carry a tag and a byte string; they
// are what the distributed sweep's dispatcher uses.
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace poslab::dist {

struct Message {
  int source = 0;
  int tag = 0;
  std::string bytes;
};

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // Ranks of this job on this machine (1 without MPI): a rank's share of the cores.
  virtual int local_size() const = 0;
  // "single process" or e.g. "MPI, 4 ranks"
  virtual std::string describe() const = 0;

  // root's `bytes` bytes at `data` are copied to every rank's `data`.
  virtual void broadcast(void* data, std::size_t bytes, int root) = 0;
  // Every rank sends `bytes` bytes (the same count everywhere); root receives them in rank
  // order at `out` (size() * bytes bytes); `out` is unused elsewhere.
  virtual void gather_bytes(const void* data, std::size_t bytes, void* out, int root) = 0;
  // Strings of any length; root gets one per rank in rank order, the others an empty list.
  virtual std::vector<std::string> gather(const std::string& bytes, int root) = 0;

  virtual void send(int to, int tag, const std::string& bytes) = 0;
  // A message from any rank with any tag if one has arrived, else nothing (never blocks).
  virtual std::optional<Message> try_receive() = 0;

  // Ends every rank of the job with this exit code (a rank that cannot go on while others
  // wait for it in a collective).
  [[noreturn]] virtual void abort(int exit_code) = 0;
};

// Rank 0 of 1: what poslab is without MPI.
class SingleProcess final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  int local_size() const override { return 1; }
  std::string describe() const override { return "single process"; }
  void broadcast(void*, std::size_t, int) override {}
  void gather_bytes(const void* data, std::size_t bytes, void* out, int root) override;
  std::vector<std::string> gather(const std::string& bytes, int) override { return {bytes}; }
  void send(int to, int tag, const std::string& bytes) override;
  std::optional<Message> try_receive() override { return std::nullopt; }
  [[noreturn]] void abort(int exit_code) override;
};

}  // namespace poslab::dist
