// signals.h — SIGINT and SIGTERM are taken on a thread of their own, never on one that computes.
//
// A caught signal runs its handler on a thread the kernel picks, and on that thread's stack: it
// writes a few KB below the thread's stack pointer. Debian's oneDNN 2.6 float GEMM kernels
// (jit_avx512_common_gemm_f32 and its AVX2 twin) point rsp into a heap buffer while they run, so a
// signal taken inside one writes over the heap (oneDNN issue #4845, fixed in oneDNN 3.11):
// `spotlight train` stopped by SIGTERM then died in free() about one time in ten. So, first thing
// in main, route_stop_signals() blocks SIGINT and SIGTERM in the main thread, and with it in every
// thread started after it (the compute pool's, OpenMP's, the server's, which inherit the mask),
// and starts one thread, named "signals", that only waits with them unblocked. The commands'
// handlers are unchanged (async-signal-safe) and run there, or on OpenBLAS's own threads, which
// start before main and never run oneDNN. tests/train/trainer_test.cpp reads every thread's mask.
#pragma once

namespace spotlight {

void route_stop_signals();

}  // namespace spotlight
