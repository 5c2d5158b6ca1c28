// translate_stream_test.cpp — `spotlight translate` and `eval` as a user meets them, on a real
// child process and a tiny trained checkpoint: answers as lines arrive on a pipe, Ctrl-C keeping
// what was done, bad input mid-stream, usage errors before any work (exit 2, nothing created),
// Moses/Marian n-best lines, paragraphs split into sentences by default for raw-text models,
// the unknown-pieces warning, eval scoring as the checkpoint validated, progress on a terminal.
#include <doctest/doctest.h>
#include <pty.h>

#include <cmath>
#include <fstream>
#include <regex>
#include <sstream>

#include "spotlight/data/vocab.h"
#include "spotlight/train/trainer.h"
#include "support/cli_run.h"
#include "support/pipe_child.h"
#include "support/toy_corpus.h"

using namespace spotlight;
using testing::PipeChild;
using testing::slurp;
namespace fs = std::filesystem;

namespace {

constexpr double kTimeout = 60.0;  // per answer: generous for slow machines and sanitizers

struct Result {
  int code = -1;
  std::string out, err;
};

// Runs `spotlight args...` with `input` on stdin (then closed).
Result run(const std::vector<std::string>& args, const std::string& input, const fs::path& dir) {
  PipeChild c(args, dir / "err.txt");
  c.write(input);
  c.close_stdin();
  Result r;
  r.out = c.read_rest(kTimeout);
  r.code = c.wait(kTimeout);
  r.err = slurp(dir / "err.txt");
  return r;
}

std::vector<std::string> split_lines(const std::string& s) {
  std::vector<std::string> lines;
  std::istringstream in(s);
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  return lines;
}

// The groups of `re` in every line of `out` (each line must match).
std::vector<std::vector<std::string>> match_lines(const std::string& out, const std::regex& re) {
  std::vector<std::vector<std::string>> rows;
  for (const std::string& l : split_lines(out)) {
    std::smatch x;
    CHECK_MESSAGE(std::regex_match(l, x, re), l);
    std::vector<std::string> row;
    for (const auto& g : x) row.push_back(g.str());
    if (!row.empty()) rows.push_back(row);
  }
  return rows;
}

long occurrences(const std::string& s, const std::string& what) {
  long n = 0;
  for (size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
  return n;
}

// A tiny trained checkpoint (raw-text defaults: train.bleu_tokenize 13a, a lowercase toy
// vocabulary), and copies whose config or vocabulary say otherwise.
struct Trained {
  testing::ToyRun toy{"xlate_stream"};
  fs::path best, tok, cased;
  Trained() {
    best = toy.train_quietly(60);
    // The same model as if trained on pre-tokenized text.
    tok = toy.dir / "tok_ckpt";
    fs::copy(best, tok);
    nlohmann::json c = nlohmann::json::parse(slurp(tok / "config.json"));
    c["train"]["bleu_tokenize"] = "none";
    std::ofstream(tok / "config.json", std::ios::trunc) << c.dump(2);
    // The same model with a vocabulary of the same size that has upper-case pieces.
    cased = toy.dir / "cased_ckpt";
    fs::copy(best, cased);
    {
      std::ofstream text(toy.dir / "cased.txt");
      text << slurp(toy.dir / "train.en") << slurp(toy.dir / "train.fr");
      for (int i = 0; i < 50; ++i) text << "The Dog runs\nA Cat sits\n";
    }
    VocabOptions v;
    v.size = toy.config.vocab.size;
    Vocab::train({(toy.dir / "cased.txt").string()}, (cased / "vocab.model").string(), v);
  }
  std::string ck() const { return best.string(); }
};

Trained& trained() {
  static Trained t;
  return t;
}

// Translations of `lines`, one process, from a file (the reference the streaming runs match).
std::vector<std::string> translate_file(const std::vector<std::string>& lines,
                                        const std::vector<std::string>& extra = {}) {
  Trained& t = trained();
  const fs::path in = t.toy.dir / "ref_in.txt";
  {
    std::ofstream f(in);
    for (const auto& l : lines) f << l << "\n";
  }
  std::vector<std::string> args = {"translate", "-c", t.ck(), "-i", in.string()};
  args.insert(args.end(), extra.begin(), extra.end());
  const Result r = run(args, "", t.toy.dir);
  REQUIRE_MESSAGE(r.code == 0, r.err);
  return split_lines(r.out);
}

}  // namespace

TEST_SUITE_BEGIN("e2e");

TEST_CASE("translate answers each line on a pipe before the next line is sent") {
  Trained& t = trained();
  const std::vector<std::string> lines = {"the dog runs", "", "a red ball with the cat",
                                          "the man sits in the park"};
  const std::vector<std::string> expected = translate_file(lines);
  REQUIRE(expected.size() == lines.size());
  PipeChild c({"translate", "-c", t.ck()}, t.toy.dir / "err.txt");
  for (size_t i = 0; i < lines.size(); ++i) {
    CAPTURE(i);
    REQUIRE(c.write(lines[i] + "\n"));
    // The writer waits for this answer before it sends more: the process may not wait for EOF.
    const auto got = c.read_line(kTimeout);
    REQUIRE_MESSAGE(got.has_value(), "no translation of line " << i + 1 << " while the input stays open");
    CHECK(*got == expected[i]);
  }
  // A last line without "\n" is a line, answered at the end of the input.
  REQUIRE(c.write("the dog runs"));
  c.close_stdin();
  CHECK(c.read_rest(kTimeout) == expected[0] + "\n");
  CHECK(c.wait(kTimeout) == 0);
  CHECK(slurp(t.toy.dir / "err.txt").find("translated 5 lines") != std::string::npos);
}

TEST_CASE("translate: Ctrl-C keeps what was translated") {
  Trained& t = trained();
  const std::string first = translate_file({"the dog runs"}).at(0);
  SUBCASE("on standard output the translations done are already printed") {
    PipeChild c({"translate", "-c", t.ck()}, t.toy.dir / "err.txt");
    REQUIRE(c.write("the dog runs\n"));
    const auto got = c.read_line(kTimeout);
    REQUIRE(got.has_value());
    CHECK(*got == first);
    ::kill(c.pid(), SIGINT);
    CHECK(c.wait(kTimeout) == 130);
    const std::string err = slurp(t.toy.dir / "err.txt");
    CHECK(err.find("interrupted (Ctrl-C): the translations of the first 1 input line were written "
                   "to standard output") != std::string::npos);
  }
  SUBCASE("with -o the output is not written; the translations done are in FILE.partial") {
    const fs::path out = t.toy.dir / "int.fr", partial = t.toy.dir / "int.fr.partial";
    fs::remove(partial);
    PipeChild c({"translate", "-c", t.ck(), "-o", out.string()}, t.toy.dir / "err.txt");
    REQUIRE(c.write("the dog runs\n"));
    const fs::path tmp = out.string() + ".tmp." + std::to_string(c.pid());
    // The first batch is written to the temporary file once translated (the input stays open).
    REQUIRE(testing::wait_until(
        [&] {
          std::error_code ec;
          return fs::file_size(tmp, ec) > 0 && !ec;
        },
        kTimeout));
    ::kill(c.pid(), SIGINT);
    CHECK(c.wait(kTimeout) == 130);
    CHECK(!fs::exists(out));
    CHECK(!fs::exists(tmp));
    CHECK(slurp(partial) == first + "\n");
    CHECK(slurp(t.toy.dir / "err.txt").find(partial.string()) != std::string::npos);
  }
  SUBCASE("SIGTERM before anything was translated leaves nothing behind") {
    const fs::path out = t.toy.dir / "term.fr";
    PipeChild c({"translate", "-c", t.ck(), "-o", out.string()}, t.toy.dir / "err.txt");
    const fs::path tmp = out.string() + ".tmp." + std::to_string(c.pid());
    REQUIRE(testing::wait_until([&] { return fs::exists(tmp); }, kTimeout));
    ::kill(c.pid(), SIGTERM);
    CHECK(c.wait(kTimeout) == 143);
    CHECK(!fs::exists(out));
    CHECK(!fs::exists(tmp));
    CHECK(!fs::exists(out.string() + ".partial"));
    CHECK(slurp(t.toy.dir / "err.txt").find("nothing was translated yet") != std::string::npos);
  }
}

TEST_CASE("translate: invalid UTF-8 mid-stream stops with the line, after the lines before it") {
  Trained& t = trained();
  const std::string first = translate_file({"the dog runs"}).at(0);
  SUBCASE("standard output") {
    // The good line and the bad one arrive together: the good one is still translated.
    const Result r = run({"translate", "-c", t.ck()}, "the dog runs\nthe caf\xe9 runs\nthe man\n",
                         t.toy.dir);
    CHECK(r.code == 1);
    CHECK(r.out == first + "\n");
    CHECK(r.err.find("<stdin>:2: invalid UTF-8") != std::string::npos);
    CHECK(r.err.find("the translations of the 1 line before it were written") != std::string::npos);
  }
  SUBCASE("-o: nothing is written") {
    const fs::path out = t.toy.dir / "bad.fr";
    const Result r = run({"translate", "-c", t.ck(), "-o", out.string()},
                         "the dog runs\nthe caf\xe9 runs\n", t.toy.dir);
    CHECK(r.code == 1);
    CHECK(r.err.find("<stdin>:2: invalid UTF-8") != std::string::npos);
    CHECK(r.err.find(out.string() + " was not written") != std::string::npos);
    CHECK(!fs::exists(out));
    for (const auto& e : fs::directory_iterator(t.toy.dir))
      CHECK(e.path().filename().string().find("bad.fr.") == std::string::npos);
  }
  SUBCASE("a file is checked whole before any work: no output at all") {
    std::ofstream(t.toy.dir / "bad.en", std::ios::binary) << "the dog runs\nthe man\nthe caf\xe9\n";
    const Result r = run({"translate", "-c", t.ck(), "-i", (t.toy.dir / "bad.en").string()}, "",
                         t.toy.dir);
    CHECK(r.code == 1);
    CHECK(r.out.empty());
    CHECK(r.err.find("bad.en:3: invalid UTF-8") != std::string::npos);
  }
}

TEST_CASE("translate and eval: flags and output paths are checked before any work, exit 2") {
  Trained& t = trained();
  const fs::path& d = t.toy.dir;
  // stdin stays open: a check that came after reading the input would hang, not exit.
  auto usage = [&](std::vector<std::string> args, const std::string& says) {
    CAPTURE(says);
    PipeChild c(args, d / "err.txt");
    const int code = c.wait(kTimeout);
    const std::string err = slurp(d / "err.txt");
    CAPTURE(err);
    CHECK(code == 2);
    CHECK(err.find(says) != std::string::npos);
  };
  const std::string ck = t.ck();
  usage({"translate", "-c", ck, "--alpha", "-1"}, "--alpha -1: expected a finite number ≥ 0");
  usage({"translate", "-c", ck, "--alpha", "inf"}, "--alpha inf");
  usage({"translate", "-c", ck, "--alpha", "nan"}, "--alpha nan");
  usage({"translate", "-c", ck, "--alignment", "--alignment-layer", "3"},
        "--alignment-layer 3: the model has 2 decoder layers");
  usage({"translate", "-c", ck, "--nbest", "3", "--beam", "2"},
        "--nbest 3 needs a beam of at least that size");
  usage({"translate", "-c", ck, "--nbest", "3", "--beam", "3", "--patience", "0.5"},
        "needs patience");
  {  // CLI11's own parse errors (exit status: main's choice)
    PipeChild c({"translate", "-c", ck, "--split", "--no-split"}, d / "err.txt");
    CHECK(c.wait(kTimeout) != 0);
    CHECK(slurp(d / "err.txt").find("--split excludes --no-split") != std::string::npos);
  }
  usage({"translate", "-c", ck, "-o", (d / "no_dir/out.fr").string()},
        "-o " + (d / "no_dir/out.fr").string() + ": the directory");
  CHECK(!fs::exists(d / "no_dir"));
  usage({"translate", "-c", ck, "-o", d.string()}, ": is a directory");
  usage({"eval", "-c", ck, "--src", t.toy.path("valid.en"), "--ref", t.toy.path("valid.fr"),
         "--hyp-out", (d / "no_dir/hyp.fr").string()},
        "--hyp-out " + (d / "no_dir/hyp.fr").string() + ": the directory");
  usage({"eval", "-c", ck, "--src", t.toy.path("valid.en"), "--ref", t.toy.path("valid.fr"),
         "--alpha", "-0.5"},
        "--alpha -0.5");
  // A read-only directory (root may write anywhere: then there is nothing to test).
  const fs::path ro = d / "ro";
  fs::create_directories(ro);
  fs::permissions(ro, fs::perms::owner_read | fs::perms::owner_exec);
  if (::access(ro.c_str(), W_OK) != 0) {
    usage({"translate", "-c", ck, "-o", (ro / "x.fr").string()}, "cannot create files in");
    CHECK(!fs::exists(ro / "x.fr"));
  }
  fs::permissions(ro, fs::perms::owner_all);
  // A missing input is named before the checkpoint is even opened (exit 1: not a flag's form).
  const Result r = run({"translate", "-c", (d / "no_ckpt").string(), "-i", (d / "nope.en").string(),
                        "-o", (d / "never.fr").string()},
                       "", d);
  CHECK(r.code == 1);
  CHECK(r.err.find("cannot open " + (d / "nope.en").string()) != std::string::npos);
  CHECK(!fs::exists(d / "never.fr"));
}

TEST_CASE("translate and eval --workers: batches decoded at once give one thread's translations") {
  Trained& t = trained();
  std::vector<std::string> lines;
  for (const std::string a : {"the dog", "a red cat", "the man sits in the park", ""})
    for (const std::string b : {"runs", "with the ball", "on the big street"})
      lines.push_back(a.empty() ? "" : a + " " + b);
  const std::vector<std::string> small = {"--batch-size", "2"};  // 9 sentences: 5 batches
  std::vector<std::string> one = small, two = small;
  one.insert(one.end(), {"--threads", "1"});
  two.insert(two.end(), {"--workers", "2"});
  const auto expected = translate_file(lines, one);
  REQUIRE(expected.size() == lines.size());
  CHECK(translate_file(lines, two) == expected);
  // eval: the same hypotheses, so the same scores.
  auto eval = [&](const std::vector<std::string>& extra, const std::string& hyp) {
    std::vector<std::string> args = {"eval", "-c", t.ck(), "--src", t.toy.path("valid.en"),
                                     "--ref", t.toy.path("valid.fr"), "--hyp-out",
                                     (t.toy.dir / hyp).string(), "--json"};
    args.insert(args.end(), extra.begin(), extra.end());
    const Result r = run(args, "", t.toy.dir);
    REQUIRE_MESSAGE(r.code == 0, r.err);
    return nlohmann::json::parse(r.out);
  };
  const auto j1 = eval(one, "hyp1.fr"), j2 = eval(two, "hyp2.fr");
  CHECK(slurp(t.toy.dir / "hyp2.fr") == slurp(t.toy.dir / "hyp1.fr"));
  CHECK(j2["bleu"] == j1["bleu"]);
  for (const char* bad : {"0", "65", "two"}) {
    CAPTURE(bad);
    const Result r = run({"translate", "-c", t.ck(), "--workers", bad}, "the dog\n", t.toy.dir);
    CHECK(r.code != 0);
    CHECK(r.err.find("--workers") != std::string::npos);
    CHECK(r.out.empty());
  }
}

TEST_CASE("translate --nbest: Moses/Marian lines with F0 and the ranking score") {
  Trained& t = trained();
  const std::vector<std::string> lines = {"the dog runs", "", "the cat sits on the street"};
  const std::regex re(R"(^(\d+) \|\|\| (.*) \|\|\| F0= (\S+) \|\|\| (\S+)$)");
  auto parse = [&](const std::string& out) { return match_lines(out, re); };
  const std::string input = "the dog runs\n\nthe cat sits on the street\n";
  const std::vector<std::string> plain = translate_file(lines);
  // --nbest 1 given: the n-best format, one entry per line; the text is the 1-best.
  Result r = run({"translate", "-c", t.ck(), "--nbest", "1"}, input, t.toy.dir);
  REQUIRE(r.code == 0);
  auto m = parse(r.out);
  REQUIRE(m.size() == 3);
  for (size_t i = 0; i < 3; ++i) {
    CHECK(std::stol(m[i][1]) == static_cast<long>(i));
    CHECK(m[i][2] == plain[i]);
    const double f0 = std::stod(m[i][3]), score = std::stod(m[i][4]);
    CHECK(f0 <= 0.0);
    // score = F0 / (tokens + 1)^alpha with alpha 1 (tiny.json's default): |score| ≤ |F0|.
    CHECK(std::fabs(score) <= std::fabs(f0) + 1e-6);
    if (i == 1) CHECK(f0 == 0.0);  // the empty line: nothing decoded
  }
  // --alpha 0: the ranking score is the log-probability itself.
  r = run({"translate", "-c", t.ck(), "--nbest", "2", "--beam", "3", "--alpha", "0"}, input,
          t.toy.dir);
  REQUIRE(r.code == 0);
  m = parse(r.out);
  REQUIRE(m.size() == 6);
  for (const auto& x : m) CHECK(x[3] == x[4]);
  CHECK(std::stod(m[0][4]) >= std::stod(m[1][4]));  // best first
  // --alignment: one more field, last (as Moses writes it).
  r = run({"translate", "-c", t.ck(), "--nbest", "1", "--alignment"}, "the dog runs\n", t.toy.dir);
  REQUIRE(r.code == 0);
  CHECK(std::regex_match(split_lines(r.out).at(0),
                         std::regex(R"(^0 \|\|\| .* \|\|\| F0= \S+ \|\|\| \S+ \|\|\| \d+-\d+( \d+-\d+)*$)")));
  // No --nbest: plain text.
  r = run({"translate", "-c", t.ck()}, input, t.toy.dir);
  CHECK(split_lines(r.out) == plain);
}

TEST_CASE("translate: lines of several sentences are split by default for raw-text models") {
  Trained& t = trained();
  // ICU ends a sentence at "!" or "?" before a lower-case word too (not at "." so: tok text).
  const std::string para = "the dog runs! the cat sits on the street? a man";
  const std::vector<std::string> pieces = {"the dog runs!", "the cat sits on the street?", "a man"};
  const std::vector<std::string> apart = translate_file(pieces, {"--no-split"});
  const std::string joined = apart[0] + " " + apart[1] + " " + apart[2];
  const std::string whole = translate_file({para}, {"--no-split"}).at(0);
  CHECK(translate_file({para}).at(0) == joined);               // the default (train.bleu_tokenize 13a)
  CHECK(translate_file({para}, {"--split"}).at(0) == joined);
  // A model of pre-tokenized text: off by default, --split forces it.
  const fs::path in = t.toy.dir / "para.en";
  std::ofstream(in) << para << "\n" << pieces[0] << "\n";
  Result r = run({"translate", "-c", t.tok.string(), "-i", in.string()}, "", t.toy.dir);
  REQUIRE(r.code == 0);
  CHECK(split_lines(r.out).at(0) == whole);
  CHECK(r.err.find("translated 2 lines (2 sentences)") != std::string::npos);
  r = run({"translate", "-c", t.tok.string(), "-i", in.string(), "--split"}, "", t.toy.dir);
  CHECK(split_lines(r.out).at(0) == joined);
  CHECK(r.err.find("translated 2 lines (4 sentences)") != std::string::npos);

  // n-best of a split line: entry k joins the sentences' k-th best; F0 and score are sums.
  const std::regex re(R"(^(\d+) \|\|\| (.*) \|\|\| F0= (\S+) \|\|\| (\S+)$)");
  auto nbest = [&](const std::string& input) {
    const Result n = run({"translate", "-c", t.ck(), "--nbest", "2", "--beam", "2"}, input, t.toy.dir);
    REQUIRE(n.code == 0);
    return match_lines(n.out, re);
  };
  const auto sep = nbest(pieces[0] + "\n" + pieces[1] + "\n" + pieces[2] + "\n");
  const auto all = nbest(para + "\n");
  REQUIRE(sep.size() == 6);
  REQUIRE(all.size() == 2);
  for (size_t k = 0; k < 2; ++k) {
    CAPTURE(k);
    CHECK(all[k][1] == "0");
    CHECK(all[k][2] == sep[k][2] + " " + sep[2 + k][2] + " " + sep[4 + k][2]);
    for (int field : {3, 4}) {
      const double sum = std::stod(sep[k][field]) + std::stod(sep[2 + k][field]) +
                         std::stod(sep[4 + k][field]);
      CHECK(std::fabs(std::stod(all[k][field]) - sum) <= 1e-4 + 1e-5 * std::fabs(sum));
    }
  }

  // --alignment of a split line: the sentences' alignments, words numbered across the line.
  auto alignment = [&](const std::string& input) {
    const Result a = run({"translate", "-c", t.ck(), "--alignment"}, input, t.toy.dir);
    REQUIRE(a.code == 0);
    std::vector<std::string> out;
    for (const std::string& l : split_lines(a.out)) out.push_back(l.substr(l.find(" ||| ") + 5));
    return out;
  };
  const auto a_sep = alignment(pieces[0] + "\n" + pieces[1] + "\n" + pieces[2] + "\n");
  const auto a_all = alignment(para + "\n");
  auto words = [](const std::string& s) {
    std::istringstream ws(s);
    long n = 0;
    for (std::string w; ws >> w;) ++n;
    return n;
  };
  std::string expected;
  long src_off = 0, tgt_off = 0;
  for (size_t s = 0; s < 3; ++s) {
    std::istringstream pairs(a_sep[s]);
    for (std::string p; pairs >> p;) {
      const long i = std::stol(p.substr(0, p.find('-'))), j = std::stol(p.substr(p.find('-') + 1));
      expected += (expected.empty() ? "" : " ") + std::to_string(i + src_off) + "-" +
                  std::to_string(j + tgt_off);
    }
    src_off += words(pieces[s]);
    tgt_off += words(apart[s]);
  }
  REQUIRE(a_all.size() == 1);
  CHECK(a_all[0] == expected);
}

TEST_CASE("translate and eval warn once about unknown pieces, with the count and first line") {
  Trained& t = trained();
  const fs::path in = t.toy.dir / "unk.en";
  // "Z", "Q" and "!" never occur in the toy corpus: they encode as <unk>.
  std::ofstream(in) << "the dog runs\nthe Zebra runs\n\nthe cat Quacks\nthe man\n";
  auto translate = [&](const fs::path& ck) {
    const Result r = run({"translate", "-c", ck.string(), "-i", in.string()}, "", t.toy.dir);
    REQUIRE(r.code == 0);
    CHECK(split_lines(r.out).size() == 5);
    return r.err;
  };
  std::string err = translate(t.best);
  CAPTURE(err);
  // One warning when first seen (one batch here: the count is the whole file's), and the
  // final count in the closing line.
  CHECK(occurrences(err, "unknown to this vocabulary") == 1);
  CHECK(err.find("2 of 5 lines so far hold pieces unknown to this vocabulary (first: line 2)") !=
        std::string::npos);
  CHECK(err.find("2 of 5 lines held pieces unknown to the vocabulary (first: line 2)") !=
        std::string::npos);
  // The toy vocabulary has no upper-case pieces: the hint says how the model was trained.
  CHECK(err.find("this model was trained on lowercased text") != std::string::npos);
  err = translate(t.tok);
  CHECK(err.find("this model was trained on lowercased, tokenized text") != std::string::npos);
  err = translate(t.cased);
  CHECK(err.find("unknown to this vocabulary") != std::string::npos);  // "Z", "Q" still unknown
  CHECK(err.find("this model was trained on") == std::string::npos);
  // Known text: no warning.
  const Result ok = run({"translate", "-c", t.ck()}, "the dog runs\n", t.toy.dir);
  CHECK(ok.err.find("unknown") == std::string::npos);
  // Streaming: the warning comes with the first batch that holds one, counting lines so far.
  PipeChild c({"translate", "-c", t.ck()}, t.toy.dir / "err.txt");
  for (const char* l : {"the dog runs\n", "the Zebra runs\n", "the Quick cat\n"}) {
    REQUIRE(c.write(l));
    REQUIRE(c.read_line(kTimeout).has_value());
  }
  c.close_stdin();
  CHECK(c.wait(kTimeout) == 0);
  err = slurp(t.toy.dir / "err.txt");
  CHECK(err.find("1 of 2 lines so far holds pieces unknown to this vocabulary (first: line 2)") !=
        std::string::npos);
  CHECK(err.find("2 of 3 lines held pieces unknown") != std::string::npos);
  // eval warns the same.
  const Result e = run({"eval", "-c", t.ck(), "--src", in.string(), "--ref", in.string()}, "",
                       t.toy.dir);
  CHECK(e.code == 0);
  CHECK(occurrences(e.err, "unknown to this vocabulary") == 1);
  CHECK(e.err.find("2 of 5 lines held pieces unknown to the vocabulary (first: line 2)") !=
        std::string::npos);
}

TEST_CASE("eval scores BLEU with the checkpoint's validation tokenizer unless --tokenize says") {
  Trained& t = trained();
  auto eval = [&](const fs::path& ck, const std::vector<std::string>& extra) {
    std::vector<std::string> args = {"eval", "-c", ck.string(), "--src", t.toy.path("valid.en"),
                                     "--ref", t.toy.path("valid.fr"), "--greedy", "--json"};
    args.insert(args.end(), extra.begin(), extra.end());
    const Result r = run(args, "", t.toy.dir);
    REQUIRE_MESSAGE(r.code == 0, r.err);
    return nlohmann::json::parse(r.out);
  };
  auto tok = [](const nlohmann::json& j) {
    const std::string sig = j["bleu"]["signature"].get<std::string>();
    const size_t p = sig.find("tok:");
    return sig.substr(p, sig.find('|', p) - p);
  };
  CHECK(tok(eval(t.best, {})) == "tok:13a");
  CHECK(tok(eval(t.tok, {})) == "tok:none");
  CHECK(tok(eval(t.tok, {"--tokenize", "13a"})) == "tok:13a");
  CHECK(tok(eval(t.best, {"--tokenize", "none"})) == "tok:none");
  // The text output prints the signature it used.
  const Result r = run({"eval", "-c", t.tok.string(), "--src", t.toy.path("valid.en"), "--ref",
                        t.toy.path("valid.fr"), "--greedy"},
                       "", t.toy.dir);
  CHECK(r.out.find("tok:none") != std::string::npos);
}

TEST_CASE("translate shows progress on a terminal only, never in the output") {
  Trained& t = trained();
  const fs::path in = t.toy.dir / "progress.en";
  {
    std::ofstream f(in);
    for (int i = 0; i < 60; ++i) f << "the dog runs in the park\n";
  }
  auto with_tty = [&](std::vector<std::string> args, const std::string& input) {
    int master = -1, slave = -1;
    REQUIRE(::openpty(&master, &slave, nullptr, nullptr, nullptr) == 0);
    PipeChild c(args, "", slave);
    ::close(slave);
    c.write(input);
    c.close_stdin();
    const std::string out = c.read_rest(kTimeout);
    CHECK(c.wait(kTimeout) == 0);
    std::string tty;
    char buf[4096];
    for (ssize_t n; (n = ::read(master, buf, sizeof buf)) > 0;) tty.append(buf, static_cast<size_t>(n));
    ::close(master);
    CHECK(out.find("translated") == std::string::npos);
    CHECK(out.find('\r') == std::string::npos);
    CHECK(out.find('\033') == std::string::npos);
    return tty;
  };
  // A file: lines done of the total, the rate and the time left.
  std::string tty = with_tty({"translate", "-c", t.ck(), "-i", in.string(), "--batch-size", "1"}, "");
  CAPTURE(tty);
  CHECK(tty.find("\r\033[Ktranslated ") != std::string::npos);
  CHECK(tty.find("/60 lines (") != std::string::npos);
  CHECK(tty.find("lines/s") != std::string::npos);
  CHECK(tty.find("ETA") != std::string::npos);
  // A pipe: lines done and the rate only.
  std::string input;
  for (int i = 0; i < 60; ++i) input += "the dog runs in the park\n";
  tty = with_tty({"translate", "-c", t.ck(), "--batch-size", "1"}, input);
  CHECK(tty.find("lines/s") != std::string::npos);
  CHECK(tty.find("/60") == std::string::npos);
  CHECK(tty.find("ETA") == std::string::npos);
  // stderr not a terminal: no progress line.
  const Result r = run({"translate", "-c", t.ck(), "-i", in.string(), "--batch-size", "1"}, "",
                       t.toy.dir);
  CHECK(r.err.find("lines/s") == std::string::npos);
  CHECK(r.err.find('\r') == std::string::npos);
}

TEST_SUITE_END();
