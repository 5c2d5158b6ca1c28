#include "cli/signals.h"

#include <pthread.h>
#include <unistd.h>

#include <csignal>
#include <thread>

namespace spotlight {

void route_stop_signals() {
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  std::thread([stop] {
    pthread_setname_np(pthread_self(), "signals");
    pthread_sigmask(SIG_UNBLOCK, &stop, nullptr);
    for (;;) ::pause();  // each signal runs its handler here, then pause returns
  }).detach();
}

}  // namespace spotlight
