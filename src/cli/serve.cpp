// serve.cpp — `spotlight serve`: the checkpoint behind an HTTP API (cpp-httplib, Debian's
// libcpp-httplib-dev). Routes: GET / (a page to try it: pages.h), POST /translate (LibreTranslate's API), GET /languages, POST
// /v1/translate (the native API: beam, n-best with scores, alignments, attention maps),
// GET /health, GET /metrics (Prometheus). The request rules are in serve/api.h, the batching
// across requests in serve/batcher.h; here are HTTP, the limits that need the connection (body
// size, timeouts), and the lifecycle: load once, serve until SIGINT/SIGTERM, then stop
// accepting, finish what is in flight and exit 0.
#include <httplib.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <mutex>
#include <thread>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/pages.h"
#include "cli/text_io.h"
#include "cli/watchdog.h"
#include "spotlight/check.h"
#include "spotlight/decode/attention_maps.h"
#include "spotlight/parallel.h"
#include "spotlight/serve/api.h"
#include "spotlight/serve/batcher.h"
#include "spotlight/serve/metrics.h"
#include "spotlight/train/checkpoint.h"

namespace spotlight {

namespace {

using Clock = std::chrono::steady_clock;

struct ServeArgs : DecodeArgs {
  std::string host = "127.0.0.1";
  int port = 8080;
  int http_threads = 64;
  long max_batch_tokens = 2048;
  double max_wait_ms = 5.0;
  long max_queue = 1024;
  long max_body = 1 << 20;
  double request_timeout = 10.0, idle_timeout = 5.0;
  std::string source_lang, target_lang;
  bool split = false, no_split = false;
  ApiLimits limits;
};

// The model's languages: the flags, else the suffixes of data.train ("train.en", "train.fr"),
// as fairseq names its files.
LanguagePair languages(const Config& c, const ServeArgs& a) {
  auto suffix = [](const std::string& path) {
    const size_t dot = path.rfind('.');
    const std::string s = dot == std::string::npos ? "" : path.substr(dot + 1);
    const bool code = (s.size() == 2 || s.size() == 3) &&
                      std::all_of(s.begin(), s.end(), [](char ch) { return ch >= 'a' && ch <= 'z'; });
    return code ? s : std::string();
  };
  LanguagePair p;
  const std::string src = c.data.train.empty() ? "" : c.data.train[0].src;
  const std::string tgt = c.data.train.empty() ? "" : c.data.train[0].tgt;
  p.source = a.source_lang.empty() ? suffix(src) : a.source_lang;
  p.target = a.target_lang.empty() ? suffix(tgt) : a.target_lang;
  require_usage(!p.source.empty() && !p.target.empty(),
                "cannot tell the model's languages from data.train (" + src + ", " + tgt +
                    "): give --source-lang and --target-lang, e.g. en and fr");
  p.source_name = language_name(p.source);
  p.target_name = language_name(p.target);
  return p;
}

// SIGINT and SIGTERM write their number into a pipe (all a handler may safely do, on whichever
// thread the kernel picks: OpenBLAS starts its threads before main); a thread reads it and stops
// the server.
int g_stop_pipe[2] = {-1, -1};
extern "C" void on_serve_signal(int sig) {
  const unsigned char b = static_cast<unsigned char>(sig);
  [[maybe_unused]] const ssize_t n = ::write(g_stop_pipe[1], &b, 1);
}
void install_stop_handler() {
  require(::pipe(g_stop_pipe) == 0, "serve: cannot create a pipe for signals");
  struct sigaction sa {};
  sa.sa_handler = on_serve_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
}
// The signal that arrived (0: the pipe was closed, i.e. stop without one).
int wait_stop_signal() {
  unsigned char b = 0;
  for (;;) {
    const ssize_t n = ::read(g_stop_pipe[0], &b, 1);
    if (n == 1) return b;
    if (n == 0 || errno != EINTR) return 0;
  }
}

int run_serve(ServeArgs& a) {
  if (a.threads > 0) set_threads(a.threads);

  const OpenCheckpoint ck = open_checkpoint(a.checkpoint);
  const Transformer& model = *ck.model;
  const DecodeConfig d = decode_config(ck.config, a);
  apply_compute_type(ck, d.compute_type);
  const LanguagePair pair = languages(ck.config, a);
  DecodeSettings defaults;
  defaults.beam = d.beam;
  defaults.alignment_layer = model.cfg.decoder_layers;
  require_usage(a.limits.max_beam >= d.beam,
                "--max-beam " + std::to_string(a.limits.max_beam) +
                    " is below the checkpoint's beam " + std::to_string(d.beam));

  ServerMetrics metrics;
  RequestBatcherOptions bo;
  bo.max_batch_tokens = a.max_batch_tokens;
  bo.max_wait = std::chrono::microseconds(static_cast<long>(a.max_wait_ms * 1000.0));
  bo.max_queued = a.max_queue;
  bo.split = split_lines(ck.config, a.split, a.no_split);
  bo.workers = a.workers;
  RequestBatcher batcher(model, *ck.vocab, d, bo, [&](const BatchReport& r) { metrics.batch(r); });
  batcher.check(defaults);  // bad defaults are refused now, not at the first request

  httplib::Server svr;
  std::atomic<bool> stopping{false};
  svr.new_task_queue = [n = a.http_threads] { return new httplib::ThreadPool(n); };
  svr.set_payload_max_length(static_cast<size_t>(a.max_body));
  // SO_REUSEADDR only: httplib's default adds SO_REUSEPORT, with which a second server on a port
  // in use would start and silently take half of its connections.
  svr.set_socket_options([](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  const auto secs = [](double s) { return static_cast<time_t>(s); };
  const auto usecs = [](double s) {
    return static_cast<time_t>((s - static_cast<double>(static_cast<long>(s))) * 1e6);
  };
  svr.set_read_timeout(secs(a.request_timeout), usecs(a.request_timeout));
  svr.set_write_timeout(secs(a.request_timeout), usecs(a.request_timeout));
  svr.set_keep_alive_timeout(std::max<time_t>(1, secs(a.idle_timeout)));
  // Answers leave at once: with Nagle's algorithm a reply written in two pieces waits for the
  // client's delayed ACK (40 ms on Linux), which measured 60 ms instead of 20 for one sentence.
  svr.set_tcp_nodelay(true);
  // A keep-alive connection serves any number of requests (httplib's default closes it after 5,
  // and a client then pays a new connection every fifth request).
  svr.set_keep_alive_max_count(1000000);

  auto send = [](httplib::Response& res, int status, const nlohmann::json& body) {
    res.status = status;
    // Invalid UTF-8 (a client's bytes quoted in a message) becomes U+FFFD, never a failure.
    res.set_content(body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                    "application/json");
  };
  auto reply_error = [&](httplib::Response& res, int status, const std::string& msg) {
    send(res, status, error_answer(msg));
  };
  std::unique_ptr<Watchdog> watchdog;

  // Runs a handler: counts it, maps every error to its status, and keeps the watchdog off the
  // connection while it runs.
  auto route = [&](const std::string& endpoint,
                   std::function<void(const httplib::Request&, httplib::Response&)> handle) {
    return [&, endpoint, handle](const httplib::Request& req, httplib::Response& res) {
      const auto t0 = Clock::now();
      std::optional<Watchdog::Busy> busy;
      if (watchdog) busy.emplace(*watchdog, req);
      res.set_header("Access-Control-Allow-Origin", "*");
      try {
        handle(req, res);
        if (res.status < 0) res.status = 200;  // set_content alone leaves it to httplib
      } catch (const ApiError& e) {
        reply_error(res, e.status, e.what());
      } catch (const QueueFull& e) {
        res.set_header("Retry-After", "1");
        reply_error(res, 429, e.what());
      } catch (const Stopping& e) {
        reply_error(res, 503, e.what());
      } catch (const Error& e) {  // settings the model cannot decode with
        reply_error(res, 400, e.what());
      } catch (const std::exception& e) {
        spdlog::error("{} failed: {}", endpoint, e.what());
        reply_error(res, 500, std::string("internal error: ") + e.what());
      }
      metrics.request(endpoint, res.status,
                      std::chrono::duration<double>(Clock::now() - t0).count());
    };
  };
  auto fields_of = [](const httplib::Request& req) {
    std::multimap<std::string, std::string> f(req.params.begin(), req.params.end());
    for (const auto& [name, file] : req.files) f.emplace(name, file.content);
    return f;
  };
  auto translate = [&](const TranslateCall& call) {
    if (stopping) throw Stopping("the server is shutting down");
    auto result = batcher.submit(call.texts, call.settings);  // its errors are the request's
    try {
      auto out = result.get();
      metrics.texts(static_cast<long>(out.size()));
      return out;
    } catch (const Error& e) {  // decoding failed: the server's fault, not the request's
      throw std::runtime_error(e.what());
    }
  };

  svr.Post("/translate", route("/translate", [&](const auto& req, auto& res) {
    const nlohmann::json body =
        body_json(req.get_header_value("Content-Type"), req.body, fields_of(req));
    const TranslateCall call = parse_libre(body, pair, a.limits, defaults);
    send(res, 200, libre_answer(call, translate(call), pair));
  }));
  svr.Post("/v1/translate", route("/v1/translate", [&](const auto& req, auto& res) {
    const nlohmann::json body =
        body_json(req.get_header_value("Content-Type"), req.body, fields_of(req));
    const TranslateCall call = parse_native(body, a.limits, defaults);
    const auto results = translate(call);
    nlohmann::json out = native_answer(call, results);
    if (call.attention >= 0) {
      const size_t i = static_cast<size_t>(call.attention);
      const Translation& best = results[i].front();
      if (best.ids.empty())
        throw ApiError(400, "field 'attention': text " + std::to_string(i) +
                                " has no translation to show (it is empty)");
      out["attention"] = batcher.exclusive([&] {
        const std::vector<int> src = encode_source(model, *ck.vocab, call.texts[i]);
        const AttentionMaps m = attention_maps(model, src, best.ids);
        return attention_json(m, *ck.vocab, call.texts[i], best.text, defaults.alignment_layer);
      });
    }
    send(res, 200, out);
  }));
  const std::string page = serve_page();
  svr.Get("/", route("/", [&](const auto&, auto& res) {
    res.set_content(page, "text/html; charset=utf-8");
  }));
  svr.Get("/languages", route("/languages", [&](const auto&, auto& res) {
    send(res, 200, languages_answer(pair));
  }));
  svr.Get("/health", route("/health", [&](const auto&, auto& res) {
    if (stopping)
      send(res, 503, {{"status", "stopping"}});
    else
      send(res, 200, {{"status", "ready"}, {"model", ck.dir}, {"source", pair.source},
                      {"target", pair.target}, {"beam", d.beam}});
  }));
  svr.Get("/metrics", route("/metrics", [&](const auto&, auto& res) {
    res.set_content(metrics.text(batcher.queued()), "text/plain; version=0.0.4");
  }));
  svr.Options(R"(/.*)", [](const httplib::Request&, httplib::Response& res) {  // CORS preflight
    res.set_header("Access-Control-Allow-Origin", "*");
    res.set_header("Access-Control-Allow-Methods", "GET, POST, OPTIONS");
    res.set_header("Access-Control-Allow-Headers", "Content-Type");
    res.status = 204;
  });
  // Statuses httplib sets itself (404, 413, 400 for a malformed request) get a JSON body too.
  svr.set_error_handler([&](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;
    const std::string msg = res.status == 404 ? "no such endpoint: " + req.method + " " + req.path
                            : res.status == 413
                                ? "the body is larger than this server's limit of " +
                                      std::to_string(a.max_body) + " bytes"
                                : "bad request (" + std::to_string(res.status) + ")";
    reply_error(res, res.status, msg);
    metrics.request("other", res.status, 0.0);
  });

  int port = a.port;
  if (a.port == 0)
    port = svr.bind_to_any_port(a.host);
  else if (!svr.bind_to_port(a.host, a.port))
    port = -1;
  if (port < 0)
    throw UsageError("cannot listen on " + a.host + ":" + std::to_string(a.port) +
                     " (the port is in use, or the host is not an address of this machine): "
                     "choose another --port or --host");
  watchdog = std::make_unique<Watchdog>(
      port, std::chrono::milliseconds(static_cast<long>((a.request_timeout + a.idle_timeout) * 1e3)));

  install_stop_handler();
  std::thread signal_thread([&] {
    const int sig = wait_stop_signal();
    if (sig == 0) return;  // the main thread is ending without a signal
    spdlog::info("{}: not accepting new requests; finishing those in flight ({} sentences queued)",
                 sig == SIGINT ? "SIGINT" : "SIGTERM", batcher.queued());
    stopping = true;
    svr.stop();
  });
  std::printf("listening on http://%s:%d\n", a.host.c_str(), port);
  std::fflush(stdout);
  spdlog::info("serving {} ({} → {}, beam {}, {}, {} HTTP threads) on http://{}:{}", ck.dir,
               pair.source, pair.target, d.beam,
               a.workers > 1 ? std::to_string(a.workers) + " decoding workers of one thread each"
                             : std::to_string(threads()) + " compute threads",
               a.http_threads, a.host, port);
  const bool ok = svr.listen_after_bind();  // returns after stop(), once in-flight requests end
  if (!stopping) {  // listen failed by itself: wake the signal thread
    stopping = true;
    ::close(g_stop_pipe[1]);
  }
  signal_thread.join();
  batcher.drain();
  watchdog.reset();
  spdlog::info("stopped");
  return ok || stopping ? 0 : 1;
}

}  // namespace

void add_serve_command(CLI::App& app, CommandAction& action) {
  auto a = std::make_shared<ServeArgs>();
  CLI::App* cmd = app.add_subcommand(
      "serve", "Serve translations over HTTP (LibreTranslate's API and a native one)");
  add_decode_options(cmd, *a);
  cmd->add_option("--host", a->host, "address to listen on (default 127.0.0.1: this machine only)");
  cmd->add_option("--port", a->port, "port (default 8080; 0: any free port, printed)")
      ->check(CLI::Range(0, 65535));
  cmd->add_option("--http-threads", a->http_threads,
                  "connections served at once (default 64; a keep-alive client holds one); the "
                  "decoding workers (--workers) decode for all")
      ->check(CLI::Range(1, 1024));
  cmd->add_option("--workers", a->workers,
                  "batches decoded at once, each on one thread of its own (default 1: one batch "
                  "at a time over --threads, the lowest latency for one request; 2 on 2 cores "
                  "answers more requests per second under load)")
      ->check(CLI::Range(1, 64));
  cmd->add_option("--max-batch-tokens", a->max_batch_tokens,
                  "source pieces gathered into one decoding batch (default 2048)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--max-wait-ms", a->max_wait_ms,
                  "how long a sentence waits for others to share its batch (default 5)")
      ->check(CLI::Range(0.0, 10000.0));
  cmd->add_option("--max-queue", a->max_queue,
                  "sentences waiting at most; a request beyond it gets 429 (default 1024)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--max-texts", a->limits.max_texts, "texts per request (default 64)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--max-chars", a->limits.max_chars, "characters per request (default 10000)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--max-beam", a->limits.max_beam, "largest beam a request may ask (default 16)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--max-alternatives", a->limits.max_alternatives,
                  "largest LibreTranslate 'alternatives' (default 4)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--max-body", a->max_body, "request body bytes at most; more gets 413 (default 1 MiB)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--request-timeout", a->request_timeout,
                  "seconds a client has to send a whole request (default 10)")
      ->check(CLI::Range(0.1, 3600.0));
  cmd->add_option("--idle-timeout", a->idle_timeout,
                  "seconds an idle keep-alive connection stays open (default 5)")
      ->check(CLI::Range(0.1, 3600.0));
  cmd->add_option("--source-lang", a->source_lang,
                  "the model's source language code (default: data.train's suffix, e.g. en)");
  cmd->add_option("--target-lang", a->target_lang,
                  "the model's target language code (default: data.train's suffix, e.g. fr)");
  auto* split = cmd->add_flag("--split", a->split, "cut each text into sentences (ICU)");
  cmd->add_flag("--no-split", a->no_split, "translate each text as one sentence")->excludes(split);
  cmd->footer(R"(Examples:
  spotlight serve -c runs/multi30k_en_fr                    # http://127.0.0.1:8080
  spotlight serve -c runs/multi30k_en_fr --workers 2 --compute-type int8   # for throughput
  curl -s localhost:8080/translate -H 'Content-Type: application/json' \
       -d '{"q": "a dog runs in the park .", "source": "en", "target": "fr"}'
  curl -s localhost:8080/translate -d q='two men are talking .' -d source=en -d target=fr \
       -d alternatives=2
  curl -s localhost:8080/v1/translate -d '{"text": ["a dog runs ."], "beam": 5, "nbest": 3,
       "alignment": true, "attention": 0}'
  curl -s localhost:8080/metrics

Sentences of concurrent requests are decoded together: a batch closes when it holds
--max-batch-tokens source pieces or its first sentence has waited --max-wait-ms; with
--workers N, N batches are decoded at once. Limits answer
with a JSON {"error": ...}: 400 for a bad field (named), 413 for too much text, 429 when the
queue is full, 503 while shutting down. SIGINT or SIGTERM stops accepting requests, finishes
those in flight and exits 0.)");
  cmd->callback([a, &action] { action = [a] { return run_serve(*a); }; });
}

}  // namespace spotlight
