// watchdog.h — closes the server's connections that do not deliver a whole request in time.
// cpp-httplib bounds each read (set_read_timeout) but not a request: a client sending a byte
// every few seconds would hold a worker thread forever. Every 200 ms the watchdog looks at the
// process's connected sockets (in /proc/self/fd, by local port) and shuts down each one that is
// not being answered and has not completed a request within `limit` of being first seen or
// last answered. Handlers mark their connection busy while they run (Busy), so a long
// translation is never cut.
#pragma once

#include <httplib.h>

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <utility>

namespace spotlight {

class Watchdog {
 public:
  Watchdog(int port, std::chrono::milliseconds limit);
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  // While a handler runs for the request's peer (ip:port).
  class Busy {
   public:
    Busy(Watchdog& w, const httplib::Request& req);
    ~Busy();

   private:
    Watchdog& w_;
    std::string peer_;
  };

 private:
  using Clock = std::chrono::steady_clock;
  std::string peer_of(int fd) const;
  void run();

  const int port_;
  const std::chrono::milliseconds limit_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::map<std::string, int> busy_;                                // peer → handlers running
  std::map<std::string, Clock::time_point> answered_;              // peer → last answer
  std::map<std::pair<int, std::string>, Clock::time_point> seen_;  // (fd, peer) → first seen
  std::thread thread_;
};

}  // namespace spotlight
