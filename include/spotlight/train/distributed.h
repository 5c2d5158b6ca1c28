// distributed.h — the processes of one training run and what they say to each other: MPI
// (Debian's OpenMPI) when `spotlight train` is started by mpirun or a scheduler, one process
// otherwise. src/train/distributed.cpp is the only file that knows MPI, as blas.cpp is for BLAS.
//
// Every collective is called by every rank in the same order, from the thread that started the
// run (MPI_THREAD_FUNNELED: the compute pool never calls MPI). None waits forever: a collective
// that has not completed within the timeout (a lost host, a rank stuck or gone) ends the whole
// job with MPI_Abort and a message naming the collective and the rank that gave up, so no rank
// is left hanging. A rank that dies outright (SIGKILL) is noticed by mpirun, which ends the rest.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace spotlight {

struct CommStats {
  double bytes = 0.0;         // payload bytes this rank sent into all-reduces and broadcasts
  double wait_seconds = 0.0;  // time spent blocked waiting for collectives to complete
  long collectives = 0;
};

class Communicator {
 public:
  // The job this process belongs to. Under mpirun/srun (the launcher's environment variables),
  // MPI is initialised on the first call; otherwise (or with SPOTLIGHT_NO_MPI=1) a world of one.
  // An Error when the launcher started several processes but this build has no MPI.
  static Communicator& world();
  // Whether this build can run several processes (it was built with MPI).
  static bool available();
  // The MPI library's name and version ("" without MPI).
  static std::string library();

  int rank() const { return rank_; }
  int size() const { return size_; }
  bool root() const { return rank_ == 0; }
  bool distributed() const { return size_ > 1; }
  // Seconds a collective may take before the job is ended (default 60).
  void set_timeout(double seconds) { timeout_ = seconds; }
  double timeout() const { return timeout_; }

  // In-place sums over all ranks (all-reduce); every rank gets the result.
  void sum(std::span<float> x, const char* what);
  void sum(std::span<double> x, const char* what);
  // Rank `from`'s bytes/values to every rank.
  void broadcast(std::span<float> x, const char* what, int from = 0);
  void broadcast(std::span<uint64_t> x, const char* what, int from = 0);
  void broadcast(double& x, const char* what, int from = 0);
  void broadcast(std::string& s, const char* what, int from = 0);
  // Every rank's value, in rank order, on every rank.
  std::vector<uint64_t> all_gather(uint64_t v, const char* what);
  // Every rank's sequences concatenated in rank order, on the root only (empty elsewhere).
  std::vector<std::vector<int>> gather(const std::vector<std::vector<int>>& mine, const char* what);
  // timeout_seconds < 0: the Communicator's timeout; 0: none (rank 0 preparing data may take hours).
  void barrier(const char* what, double timeout_seconds = -1.0);

  // A non-blocking in-place sum: start it, let it progress (test) while computing, wait for it.
  // The buffer must stay untouched until wait() returns.
  struct Pending {
    alignas(8) unsigned char request[16] = {};  // the MPI_Request, opaque here
    bool active = false;
    double bytes = 0.0;
  };
  Pending start_sum(std::span<float> x);
  void progress();  // lets started sums advance (MPI progresses only inside MPI calls)
  void wait(Pending& p, const char* what);

  // Ends every rank of the job now with this exit status (MPI_Abort), after printing `message`.
  [[noreturn]] void abort(const std::string& message, int status);

  const CommStats& stats() const { return stats_; }
  void reset_stats() { stats_ = {}; }

  ~Communicator();
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;

 private:
  Communicator() = default;
  void wait_request(void* request, const char* what, double timeout_seconds = -1.0);
  // A float buffer summed (from < 0) or broadcast from rank `from`, in pieces MPI's int counts
  // can hold.
  void floats(std::span<float> x, int from, const char* what);
  [[noreturn]] void timed_out(const char* what, double waited);

  int rank_ = 0, size_ = 1;
  bool mpi_ = false;
  double timeout_ = 60.0;
  CommStats stats_;
};

// A 64-bit digest (FNV-1a) of float data, for comparing weights across ranks.
uint64_t digest(std::span<const float> x, uint64_t h = 0xcbf29ce484222325ULL);

}  // namespace spotlight
