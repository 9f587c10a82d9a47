// Shuts the domain down with the SCHEDOP_shutdown reason its command line
// names: poweroff, reboot, suspend, crash, watchdog, soft_reset, or a
// decimal number (passed as is, so the host can try reasons Xen does not
// define).
#include <cstdint>

#include "runtime/console.hpp"
#include "runtime/hypercall.hpp"
#include "runtime/runtime.hpp"
#include "runtime/string.hpp"

namespace {

struct NamedReason {
  const char* name;
  unsigned reason;
};

constexpr NamedReason kReasons[] = {
    {"poweroff", SHUTDOWN_poweroff}, {"reboot", SHUTDOWN_reboot},
    {"suspend", SHUTDOWN_suspend},   {"crash", SHUTDOWN_crash},
    {"watchdog", SHUTDOWN_watchdog}, {"soft_reset", SHUTDOWN_soft_reset},
};

bool parse_reason(const char* text, unsigned* reason) {
  for (const auto& named : kReasons) {
    if (strlen(text) == strlen(named.name) && memcmp(text, named.name, strlen(text)) == 0) {
      *reason = named.reason;
      return true;
    }
  }
  if (*text == '\0') return false;
  uint64_t value = 0;
  for (const char* c = text; *c != '\0'; ++c) {
    if (*c < '0' || *c > '9' || value > UINT32_MAX) return false;
    value = value * 10 + static_cast<uint64_t>(*c - '0');
  }
  if (value > UINT32_MAX) return false;
  *reason = static_cast<unsigned>(value);
  return true;
}

}  // namespace

int guest_main() {
  using namespace xpv::guest;
  // start_info declares cmd_line int8_t[] (xen.h).
  const char* text = reinterpret_cast<const char*>(start_info_page().cmd_line);
  unsigned reason = 0;
  if (!parse_reason(text, &reason)) {
    printk("shutdown: unknown reason \"%s\"\n", text);
    return 1;
  }
  printk("shutdown: reason %u (%s)\n", reason, text);
  console_flush();
  // Called directly rather than through shutdown(), so that a refusal is
  // reported instead of hidden in a yield loop.
  long rc = xpv::guest::sched_shutdown(reason);
  printk("shutdown: SCHEDOP_shutdown returned %ld\n", rc);
  return 1;
}
