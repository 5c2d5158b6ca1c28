// distributed.cpp — Communicator over MPI (SPOTLIGHT_HAVE_MPI), or a world of one process.
// Every collective is MPI's non-blocking form, completed by polling MPI_Test against a deadline
// (MPI itself has no timeouts): spinning for the first millisecond, then testing every 100 µs so
// a rank that waits for a slower one leaves the cores to it.
#include "spotlight/train/distributed.h"

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <thread>

#include "spotlight/check.h"

#ifdef SPOTLIGHT_HAVE_MPI
#include <mpi.h>
#endif

namespace spotlight {

namespace {

using Clock = std::chrono::steady_clock;

// The number of processes the launcher says it started (0: not started by an MPI launcher).
long launcher_world_size() {
  for (const char* var : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "MPI_LOCALNRANKS"})
    if (const char* v = std::getenv(var); v != nullptr && *v != '\0') return std::atol(v);
  if (const char* v = std::getenv("PMIX_RANK"); v != nullptr && *v != '\0') return 1;
  return 0;
}

#ifdef SPOTLIGHT_HAVE_MPI
// MPI counts are ints: larger buffers go in pieces of this many elements.
constexpr size_t kMaxCount = size_t{1} << 30;
#endif

}  // namespace

uint64_t digest(std::span<const float> x, uint64_t h) {
  for (const float f : x) {
    uint32_t w;
    std::memcpy(&w, &f, sizeof w);
    h = (h ^ w) * 0x100000001b3ULL;
  }
  return h;
}

bool Communicator::available() {
#ifdef SPOTLIGHT_HAVE_MPI
  return true;
#else
  return false;
#endif
}

std::string Communicator::library() {
#ifdef SPOTLIGHT_HAVE_MPI
  char name[MPI_MAX_LIBRARY_VERSION_STRING];
  int len = 0;
  MPI_Get_library_version(name, &len);
  std::string s(name, static_cast<size_t>(len));
  if (const size_t cut = s.find_first_of(",\n"); cut != std::string::npos) s.resize(cut);
  return s;
#else
  return "";
#endif
}

Communicator& Communicator::world() {
  static Communicator* w = [] {
    // Owned here until it is returned (a refused launch throws), then kept for the process.
    std::unique_ptr<Communicator> c(new Communicator());
    const long launched = launcher_world_size();
    const char* no_mpi = std::getenv("SPOTLIGHT_NO_MPI");
    if (launched == 0 || (no_mpi != nullptr && std::strcmp(no_mpi, "1") == 0)) return c.release();
#ifdef SPOTLIGHT_HAVE_MPI
    int provided = 0;
    MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_ARE_FATAL);
    MPI_Comm_rank(MPI_COMM_WORLD, &c->rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &c->size_);
    c->mpi_ = true;
    // Finalised at exit, after the trainer is gone (a normal return from main).
    std::atexit([] {
      int finalized = 0;
      MPI_Finalized(&finalized);
      if (!finalized) MPI_Finalize();
    });
#else
    require(launched <= 1, "this process was started as one of " + std::to_string(launched) +
                               " by an MPI launcher, but this spotlight was built without MPI: "
                               "install libopenmpi-dev and openmpi-bin (scripts/install_deps.sh) "
                               "and rebuild, or run spotlight without mpirun");
#endif
    return c.release();
  }();
  return *w;
}

Communicator::~Communicator() = default;

void Communicator::timed_out(const char* what, double waited) {
  abort("rank " + std::to_string(rank_) + " of " + std::to_string(size_) + ": " + what +
            " did not complete within " + std::to_string(static_cast<long>(waited)) +
            " s (--collective-timeout): another rank is gone, stuck or far behind; ending the "
            "job. The last checkpoint is intact: continue with --resume",
        1);
}

void Communicator::wait_request(void* request, const char* what, double timeout_seconds) {
#ifdef SPOTLIGHT_HAVE_MPI
  const double limit = timeout_seconds < 0 ? timeout_ : timeout_seconds;
  auto* r = static_cast<MPI_Request*>(request);
  const auto t0 = Clock::now();
  int done = 0;
  for (long polls = 0;; ++polls) {
    MPI_Test(r, &done, MPI_STATUS_IGNORE);
    if (done) break;
    const double waited = std::chrono::duration<double>(Clock::now() - t0).count();
    if (limit > 0 && waited > limit) timed_out(what, waited);
    if (waited > 1e-3) std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  stats_.wait_seconds += std::chrono::duration<double>(Clock::now() - t0).count();
  ++stats_.collectives;
#else
  (void)request;
  (void)what;
  (void)timeout_seconds;
#endif
}

void Communicator::floats(std::span<float> x, int from, const char* what) {
  if (!mpi_ || size_ == 1) return;
#ifdef SPOTLIGHT_HAVE_MPI
  for (size_t i = 0; i < x.size(); i += kMaxCount) {
    MPI_Request r;
    const int n = static_cast<int>(std::min(kMaxCount, x.size() - i));
    if (from < 0)
      MPI_Iallreduce(MPI_IN_PLACE, x.data() + i, n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD, &r);
    else
      MPI_Ibcast(x.data() + i, n, MPI_FLOAT, from, MPI_COMM_WORLD, &r);
    wait_request(&r, what);
  }
  stats_.bytes += 4.0 * static_cast<double>(x.size());
#else
  (void)from;
  (void)what;
#endif
}

void Communicator::sum(std::span<float> x, const char* what) { floats(x, -1, what); }

void Communicator::sum(std::span<double> x, const char* what) {
  if (!mpi_ || size_ == 1) return;
#ifdef SPOTLIGHT_HAVE_MPI
  require(x.size() < kMaxCount, "Communicator::sum: too many values");
  MPI_Request r;
  MPI_Iallreduce(MPI_IN_PLACE, x.data(), static_cast<int>(x.size()), MPI_DOUBLE, MPI_SUM,
                 MPI_COMM_WORLD, &r);
  wait_request(&r, what);
  stats_.bytes += 8.0 * static_cast<double>(x.size());
#endif
}

void Communicator::broadcast(std::span<float> x, const char* what, int from) {
  floats(x, from, what);
}

void Communicator::broadcast(double& x, const char* what, int from) {
  if (!mpi_ || size_ == 1) return;
#ifdef SPOTLIGHT_HAVE_MPI
  MPI_Request r;
  MPI_Ibcast(&x, 1, MPI_DOUBLE, from, MPI_COMM_WORLD, &r);
  wait_request(&r, what);
#else
  (void)from;
  (void)what;
#endif
}

void Communicator::broadcast(std::span<uint64_t> x, const char* what, int from) {
  if (!mpi_ || size_ == 1) return;
#ifdef SPOTLIGHT_HAVE_MPI
  require(x.size() < kMaxCount, "Communicator::broadcast: too many values");
  MPI_Request r;
  MPI_Ibcast(x.data(), static_cast<int>(x.size()), MPI_UINT64_T, from, MPI_COMM_WORLD, &r);
  wait_request(&r, what);
#endif
}

void Communicator::broadcast(std::string& s, const char* what, int from) {
  if (!mpi_ || size_ == 1) return;
#ifdef SPOTLIGHT_HAVE_MPI
  uint64_t n = s.size();
  broadcast(std::span<uint64_t>(&n, 1), what, from);
  require(n < kMaxCount, "Communicator::broadcast: string too long");
  s.resize(n);
  MPI_Request r;
  MPI_Ibcast(s.data(), static_cast<int>(n), MPI_CHAR, from, MPI_COMM_WORLD, &r);
  wait_request(&r, what);
#endif
}

std::vector<uint64_t> Communicator::all_gather(uint64_t v, const char* what) {
  std::vector<uint64_t> all(static_cast<size_t>(size_), v);
  if (!mpi_ || size_ == 1) return all;
#ifdef SPOTLIGHT_HAVE_MPI
  MPI_Request r;
  MPI_Iallgather(&v, 1, MPI_UINT64_T, all.data(), 1, MPI_UINT64_T, MPI_COMM_WORLD, &r);
  wait_request(&r, what);
#endif
  return all;
}

std::vector<std::vector<int>> Communicator::gather(const std::vector<std::vector<int>>& mine,
                                                   const char* what) {
  if (!mpi_ || size_ == 1) return mine;
  std::vector<std::vector<int>> all;
#ifdef SPOTLIGHT_HAVE_MPI
  // Sent as one int array per rank: [count, len_1, …, len_count, tokens…].
  std::vector<int> flat{static_cast<int>(mine.size())};
  for (const auto& s : mine) flat.push_back(static_cast<int>(s.size()));
  for (const auto& s : mine) flat.insert(flat.end(), s.begin(), s.end());
  require(flat.size() < static_cast<size_t>(INT_MAX), "Communicator::gather: too much data");
  int n = static_cast<int>(flat.size());
  std::vector<int> counts(static_cast<size_t>(size_)), offsets(static_cast<size_t>(size_));
  MPI_Request r;
  MPI_Igather(&n, 1, MPI_INT, counts.data(), 1, MPI_INT, 0, MPI_COMM_WORLD, &r);
  wait_request(&r, what);
  long total = 0;
  for (int k = 0; k < size_; ++k) {
    offsets[static_cast<size_t>(k)] = static_cast<int>(total);
    total += counts[static_cast<size_t>(k)];
  }
  require(total < INT_MAX, "Communicator::gather: too much data");
  std::vector<int> recv(root() ? static_cast<size_t>(total) : 0);
  MPI_Igatherv(flat.data(), n, MPI_INT, recv.data(), counts.data(), offsets.data(), MPI_INT, 0,
               MPI_COMM_WORLD, &r);
  wait_request(&r, what);
  if (!root()) return all;
  for (int k = 0; k < size_; ++k) {
    const int* p = recv.data() + offsets[static_cast<size_t>(k)];
    const int count = p[0];
    const int* tokens = p + 1 + count;
    for (int i = 0; i < count; ++i) {
      all.emplace_back(tokens, tokens + p[1 + i]);
      tokens += p[1 + i];
    }
  }
#endif
  return all;
}

void Communicator::barrier(const char* what, double timeout_seconds) {
  if (!mpi_ || size_ == 1) return;
#ifdef SPOTLIGHT_HAVE_MPI
  MPI_Request r;
  MPI_Ibarrier(MPI_COMM_WORLD, &r);
  wait_request(&r, what, timeout_seconds);
#endif
}

Communicator::Pending Communicator::start_sum(std::span<float> x) {
  Pending p;
  if (!mpi_ || size_ == 1) return p;
#ifdef SPOTLIGHT_HAVE_MPI
  static_assert(sizeof(MPI_Request) <= sizeof(p.request));
  require(x.size() < kMaxCount, "Communicator::start_sum: bucket too large");
  auto* r = reinterpret_cast<MPI_Request*>(p.request);
  MPI_Iallreduce(MPI_IN_PLACE, x.data(), static_cast<int>(x.size()), MPI_FLOAT, MPI_SUM,
                 MPI_COMM_WORLD, r);
  p.active = true;
  p.bytes = 4.0 * static_cast<double>(x.size());
#endif
  return p;
}

void Communicator::progress() {
#ifdef SPOTLIGHT_HAVE_MPI
  if (!mpi_ || size_ == 1) return;
  int flag = 0;
  MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, MPI_STATUS_IGNORE);
#endif
}

void Communicator::wait(Pending& p, const char* what) {
  if (!p.active) return;
#ifdef SPOTLIGHT_HAVE_MPI
  wait_request(p.request, what);
  stats_.bytes += p.bytes;
#endif
  p.active = false;
}

void Communicator::abort(const std::string& message, int status) {
  std::fprintf(stderr, "error: %s\n", message.c_str());
  std::fflush(stderr);
#ifdef SPOTLIGHT_HAVE_MPI
  if (mpi_) MPI_Abort(MPI_COMM_WORLD, status);
#endif
  std::_Exit(status);
}

}  // namespace spotlight
