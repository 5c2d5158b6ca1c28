#include "cli/watchdog.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <set>

namespace spotlight {

Watchdog::Watchdog(int port, std::chrono::milliseconds limit) : port_(port), limit_(limit) {
  thread_ = std::thread([this] { run(); });
}

Watchdog::~Watchdog() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

Watchdog::Busy::Busy(Watchdog& w, const httplib::Request& req)
    : w_(w), peer_(req.remote_addr + ":" + std::to_string(req.remote_port)) {
  std::lock_guard<std::mutex> lock(w_.mu_);
  ++w_.busy_[peer_];
}

Watchdog::Busy::~Busy() {
  std::lock_guard<std::mutex> lock(w_.mu_);
  if (--w_.busy_[peer_] == 0) w_.busy_.erase(peer_);
  w_.answered_[peer_] = Clock::now();
}

// The peer "ip:port" of fd when it is a TCP connection to our port, else "".
std::string Watchdog::peer_of(int fd) const {
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode)) return "";
  sockaddr_storage local{}, remote{};
  socklen_t n = sizeof local, m = sizeof remote;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &n) != 0 ||
      ::getpeername(fd, reinterpret_cast<sockaddr*>(&remote), &m) != 0)
    return "";
  char ip[INET6_ADDRSTRLEN] = "";
  int lport = 0, rport = 0;
  if (local.ss_family == AF_INET) {
    lport = ntohs(reinterpret_cast<sockaddr_in*>(&local)->sin_port);
    const auto* r = reinterpret_cast<sockaddr_in*>(&remote);
    ::inet_ntop(AF_INET, &r->sin_addr, ip, sizeof ip);
    rport = ntohs(r->sin_port);
  } else if (local.ss_family == AF_INET6) {
    lport = ntohs(reinterpret_cast<sockaddr_in6*>(&local)->sin6_port);
    const auto* r = reinterpret_cast<sockaddr_in6*>(&remote);
    ::inet_ntop(AF_INET6, &r->sin6_addr, ip, sizeof ip);
    rport = ntohs(r->sin6_port);
  }
  return lport == port_ ? std::string(ip) + ":" + std::to_string(rport) : "";
}

void Watchdog::run() {
  const auto tick = std::chrono::milliseconds(200);
  std::unique_lock<std::mutex> lock(mu_);
  while (!cv_.wait_for(lock, tick, [&] { return stop_; })) {
    lock.unlock();
    std::set<std::pair<int, std::string>> open;  // (fd, peer) of every connection now
    if (DIR* d = ::opendir("/proc/self/fd")) {
      while (dirent* e = ::readdir(d)) {
        const int fd = std::atoi(e->d_name);
        if (fd <= 2) continue;
        const std::string peer = peer_of(fd);
        if (!peer.empty()) open.emplace(fd, peer);
      }
      ::closedir(d);
    }
    lock.lock();
    const auto now = Clock::now();
    std::map<std::pair<int, std::string>, Clock::time_point> seen;
    for (const auto& key : open) {
      const auto it = seen_.find(key);
      seen[key] = it == seen_.end() ? now : it->second;
    }
    seen_.swap(seen);
    for (auto& [key, first] : seen_) {
      const std::string& peer = key.second;
      if (busy_.count(peer) > 0) continue;
      Clock::time_point since = first;
      if (const auto a = answered_.find(peer); a != answered_.end() && a->second > since)
        since = a->second;
      if (now - since > limit_) {
        ::shutdown(key.first, SHUT_RDWR);  // the worker's read fails; it closes the socket
        first = now + std::chrono::hours(1);  // once
        spdlog::warn("closed the connection from {}: no complete request within {:.1f} s", peer,
                     std::chrono::duration<double>(limit_).count());
      }
    }
    std::erase_if(answered_, [&](const auto& kv) {
      return std::none_of(seen_.begin(), seen_.end(),
                          [&](const auto& s) { return s.first.second == kv.first; });
    });
  }
}

}  // namespace spotlight
