#include "spotlight/parallel.h"

#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "spotlight/check.h"

namespace spotlight {

namespace {
// The spin-wait hint: x86's PAUSE, ARM's YIELD, nothing elsewhere.
inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__) || defined(__arm__)
  __asm__ __volatile__("yield");
#endif
}
}  // namespace

namespace {

thread_local bool in_parallel = false;

// Workers wait for a new generation number; the caller publishes a job, bumps the generation,
// runs chunk 0 itself and waits for the workers' chunks.
class Pool {
 public:
  Pool() { resize(static_cast<int>(std::clamp(std::thread::hardware_concurrency(), 1u, 8u))); }
  ~Pool() { resize(1); }

  int size() const { return static_cast<int>(workers_.size()) + 1; }

  void resize(int n) {
    if (n == size()) return;
    stop_.store(true);
    generation_.fetch_add(1);
    wake();
    for (auto& w : workers_) w.join();
    workers_.clear();
    stop_.store(false);
    // A worker starts from the generation current now, not when its thread first runs (a job or
    // a stop published in between must not be missed).
    const uint64_t now = generation_.load();
    for (int i = 1; i < n; ++i) workers_.emplace_back([this, i, now] { loop(i, now); });
  }

  void run(long n, long min_chunk, detail::ChunkFn fn, void* ctx) {
    const long by_size = min_chunk > 0 ? n / min_chunk : n;
    const long parts = std::min<long>(size(), std::max<long>(1, by_size));
    // One job at a time: a loop started by another thread while the pool is busy (a server's
    // request thread while the batcher decodes, a test computing its reference meanwhile) runs
    // inline on its own thread rather than overwrite the job the workers are reading.
    bool idle = false;
    if (parts <= 1 || in_parallel || !busy_.compare_exchange_strong(idle, true)) {
      fn(ctx, 0, n);
      return;
    }
    fn_ = fn;
    ctx_ = ctx;
    n_ = n;
    parts_ = parts;
    error_ = nullptr;
    pending_.store(parts - 1);
    generation_.fetch_add(1);
    if (sleeping_.load() > 0) wake();
    in_parallel = true;
    try {
      fn(ctx, 0, n / parts);
    } catch (...) {
      record(std::current_exception());
    }
    in_parallel = false;
    for (long spins = 0; pending_.load(std::memory_order_acquire) != 0; ++spins)
      if (spins > 2000) sched_yield();
    const std::exception_ptr error = error_;
    busy_.store(false);
    if (error) std::rethrow_exception(error);
  }

 private:
  // Taking the mutex orders this against a worker between its check and its wait.
  void wake() {
    { std::lock_guard<std::mutex> lock(sleep_mutex_); }
    wakeup_.notify_all();
  }

  void record(std::exception_ptr e) {
    std::lock_guard<std::mutex> lock(error_mutex_);
    if (!error_) error_ = e;
  }

  void loop(int index, uint64_t seen) {
    in_parallel = true;
    // Named for top -H and perf, and for the test that reads each thread's signal mask.
    pthread_setname_np(pthread_self(), ("compute " + std::to_string(index)).c_str());
    for (;;) {
      // Spin a little (the next job usually follows within microseconds), yield a while, then
      // sleep until the generation changes.
      uint64_t g = generation_.load(std::memory_order_acquire);
      for (long spins = 0; g == seen; ++spins) {
        if (spins < 4000) {
          cpu_relax();
        } else if (spins < 40000) {
          sched_yield();
        } else {
          std::unique_lock<std::mutex> lock(sleep_mutex_);
          sleeping_.fetch_add(1);
          wakeup_.wait(lock, [&] { return generation_.load() != seen; });
          sleeping_.fetch_sub(1);
        }
        g = generation_.load(std::memory_order_acquire);
      }
      seen = g;
      if (stop_.load()) return;
      if (index < parts_) {
        const long b = n_ * index / parts_, e = n_ * (index + 1) / parts_;
        try {
          fn_(ctx_, b, e);
        } catch (...) {
          record(std::current_exception());
        }
        pending_.fetch_sub(1, std::memory_order_release);
      }
    }
  }

  std::vector<std::thread> workers_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<long> pending_{0};
  std::atomic<int> sleeping_{0};
  std::atomic<bool> stop_{false};
  std::atomic<bool> busy_{false};  // a job is running (run() is not reentrant across threads)
  detail::ChunkFn fn_ = nullptr;
  void* ctx_ = nullptr;
  long n_ = 0, parts_ = 1;
  std::mutex sleep_mutex_;
  std::condition_variable wakeup_;
  std::exception_ptr error_;
  std::mutex error_mutex_;
};

Pool& pool() {
  static Pool p;
  return p;
}

}  // namespace

void set_threads(int n) {
  require(n >= 1, "the thread count must be at least 1");
  require(!in_parallel, "set_threads: called from inside a parallel loop");
  pool().resize(n);
}

int threads() { return pool().size(); }
int loop_threads() { return in_parallel ? 1 : threads(); }

InlineLoops::InlineLoops() : saved_(in_parallel) { in_parallel = true; }
InlineLoops::~InlineLoops() { in_parallel = saved_; }

void run_workers(int workers, long jobs, const std::function<void(int, long)>& job) {
  if (workers <= 1 || jobs <= 1 || in_parallel) {
    for (long j = 0; j < jobs; ++j) job(0, j);
    return;
  }
  std::atomic<long> next{0};
  std::atomic<bool> failed{false};
  std::exception_ptr error;
  std::mutex error_mutex;
  auto work = [&](int w) {
    const InlineLoops inline_loops;
    for (long j; !failed.load() && (j = next.fetch_add(1)) < jobs;) {
      try {
        job(w, j);
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mutex);
        if (!error) error = std::current_exception();
        failed.store(true);
      }
    }
  };
  std::vector<std::thread> others;
  const int n = static_cast<int>(std::min<long>(workers, jobs));
  for (int w = 1; w < n; ++w)
    others.emplace_back([&, w] {
      pthread_setname_np(pthread_self(), ("worker " + std::to_string(w)).c_str());
      work(w);
    });
  work(0);
  for (auto& t : others) t.join();
  if (error) std::rethrow_exception(error);
}

namespace detail {
void run_parallel(long n, long min_chunk, ChunkFn fn, void* ctx) {
  if (n <= 0) return;
  pool().run(n, min_chunk, fn, ctx);
}
}  // namespace detail

}  // namespace spotlight
