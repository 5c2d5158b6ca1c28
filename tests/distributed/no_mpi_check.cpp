// no_mpi_check.cpp — the Communicator of a build without MPI (src/train/distributed.cpp compiled
// here without SPOTLIGHT_HAVE_MPI, whatever the rest of the build has), for real:
//   no_mpi_check refuse   started as one of 2 by a launcher (OpenMPI's or PMI's variable): the
//                         first use fails with a message that says what to install;
//   no_mpi_check single   not launched, or launched as one process, or SPOTLIGHT_NO_MPI=1: a
//                         world of one whose collectives leave the data as it is.
// Prints "ok: ..." lines and exits 0, or "FAIL: ..." and exits 1.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "spotlight/check.h"
#include "spotlight/train/distributed.h"

namespace {

int failures = 0;

void expect(bool ok, const std::string& what) {
  std::printf("%s: %s\n", ok ? "ok" : "FAIL", what.c_str());
  if (!ok) ++failures;
}

}  // namespace

int main(int argc, char** argv) {
  using spotlight::Communicator;
  const std::string mode = argc > 1 ? argv[1] : "";
  expect(!Communicator::available(), "this Communicator was compiled without MPI");
  if (mode == "refuse") {
    setenv("OMPI_COMM_WORLD_SIZE", "2", 1);
    unsetenv("SPOTLIGHT_NO_MPI");
    std::string message;
    try {
      Communicator::world();
    } catch (const spotlight::Error& e) {
      message = e.what();
    }
    expect(message.find("one of 2 by an MPI launcher") != std::string::npos &&
               message.find("built without MPI") != std::string::npos &&
               message.find("libopenmpi-dev") != std::string::npos,
           "a launch of 2 processes is refused, saying what to install: " + message);
  } else if (mode == "single") {
    setenv("PMI_SIZE", "1", 1);  // one process under a launcher is a world of one
    Communicator& c = Communicator::world();
    expect(c.rank() == 0 && c.size() == 1 && c.root() && !c.distributed(), "a world of one");
    std::vector<float> x = {1.5f, -2.0f, 3.25f};
    c.sum(x, "sum");
    c.broadcast(x, "broadcast");
    expect(x == std::vector<float>({1.5f, -2.0f, 3.25f}), "sum and broadcast keep the data");
    const auto all = c.all_gather(7, "all_gather");
    expect(all == std::vector<uint64_t>{7}, "all_gather of one value is that value");
    const auto got = c.gather({{1, 2}, {3}}, "gather");
    expect(got == std::vector<std::vector<int>>({{1, 2}, {3}}), "gather keeps the sequences");
    c.barrier("barrier");
  } else {
    std::fprintf(stderr, "usage: no_mpi_check refuse|single\n");
    return 2;
  }
  return failures == 0 ? 0 : 1;
}
