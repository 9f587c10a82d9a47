// Makes N null hypercalls (xen_version(XENVER_version), which touches no
// guest memory) and powers off. N is the command line. bench/run.sh times
// xpv with N = 0 and N = large and divides the difference by N, so the
// figure is the full guest -> monitor -> host -> guest round trip.
#include "runtime/hypercall.hpp"
#include "runtime/runtime.hpp"

namespace {

uint64_t parse_count(const char* text) {
  uint64_t n = 0;
  for (; *text >= '0' && *text <= '9'; ++text)
    n = n * 10 + static_cast<uint64_t>(*text - '0');
  return n;
}

}  // namespace

int guest_main() {
  using namespace xpv::guest;
  uint64_t count = parse_count(reinterpret_cast<const char*>(start_info_page().cmd_line));
  for (uint64_t i = 0; i < count; ++i) {
    if (xen_version(XENVER_version, nullptr) < 0) return 1;
  }
  return 0;
}
