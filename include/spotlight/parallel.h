// parallel.h — the process's compute threads: one fork-join pool that runs both the GEMMs
// (gemm() splits large products over it; OpenBLAS itself stays single-threaded) and the row
// kernels. One pool, so no two thread pools spin against each other on the same cores, and
// the threads that wait between GEMMs do the softmax, layer norm, dropout and loss work.
//
// The thread count is process-wide, like OpenBLAS's own setting. The calling thread is one of
// the workers; the others wait spinning briefly, then sleep on a futex.
#pragma once

#include <functional>
#include <type_traits>

namespace spotlight {

// Sets the number of compute threads (n ≥ 1), the calling thread included. The default is one
// per core (at most 8).
void set_threads(int n);
int threads();
// The threads a loop started here would run on: 1 inside a loop or while an InlineLoops lives
// on this thread (a --workers worker), else threads(). What a product splits by.
int loop_threads();

// Runs job(worker, j) for every j in [0, jobs), in order of j, on `workers` threads that each
// take the next job when done with their last (the calling thread is worker 0): whole jobs in
// parallel, as CTranslate2's inter_threads translates whole batches at once. The loops a job
// runs (parallel_for, the GEMMs' splits) run inline on its worker, so the compute pool is not
// used and its size does not matter. An exception stops the jobs not yet started and is
// rethrown here (the first one, after every worker has finished). With workers ≤ 1 or one job,
// the jobs run here, in order, their loops over the pool as anywhere else.
void run_workers(int workers, long jobs, const std::function<void(int worker, long job)>& job);

// While one lives, the loops this thread starts (parallel_for, the GEMMs' splits) run inline on
// it: for threads that compute side by side, each on its own work (run_workers' workers, a
// server's decoding threads).
class InlineLoops {
 public:
  InlineLoops();
  ~InlineLoops();
  InlineLoops(const InlineLoops&) = delete;
  InlineLoops& operator=(const InlineLoops&) = delete;

 private:
  bool saved_;
};

namespace detail {
using ChunkFn = void (*)(void* ctx, long begin, long end);
void run_parallel(long n, long min_chunk, ChunkFn fn, void* ctx);
}  // namespace detail

// Calls fn(begin, end) on contiguous chunks covering [0, n), at most one chunk per thread and
// none smaller than min_chunk (so small loops run inline), and returns when all are done.
// Chunk t of P is [n·t/P, n·(t+1)/P). Nested calls run inline, and so does a loop another
// thread starts while the pool runs one (one job at a time; any thread may call). An exception
// thrown by fn is rethrown here (the first one, after every chunk has finished).
template <class F>
void parallel_for(long n, long min_chunk, F&& fn) {
  using Fn = std::remove_reference_t<F>;
  detail::run_parallel(
      n, min_chunk, [](void* ctx, long b, long e) { (*static_cast<Fn*>(ctx))(b, e); },
      const_cast<void*>(static_cast<const void*>(&fn)));
}

}  // namespace spotlight
