#include "backends/xenstore/domain_nodes.hpp"

#include <cstdio>

namespace xpv::backends::xenstore {

namespace {

// Acts as the control domain; every failure is a bug in the caller's
// arguments, so it throws.
class Builder {
 public:
  explicit Builder(Store& store) : store_(store) {}

  // Absent parents are fine: there is nothing to replace.
  void rm(const std::string& path) {
    auto removed = store_.rm(Caller::host(), 0, path);
    if (!removed && removed.error() != Errno::kENOENT) check("rm", path, removed);
  }
  void write(const std::string& path, std::string_view value) {
    check("write", path, store_.write(Caller::host(), 0, path, value));
  }
  // libxl__xs_mknod: an empty node with exactly these permissions.
  void mknod(const std::string& path, Permissions permissions) {
    check("mkdir", path, store_.mkdir(Caller::host(), 0, path));
    check("set_perms", path, store_.set_perms(Caller::host(), 0, path, std::move(permissions)));
  }

 private:
  static void check(std::string_view what, const std::string& path, const Result<void>& result) {
    if (!result) throw StoreError(what, path, result.error());
  }
  Store& store_;
};

}  // namespace

std::string format_uuid(const std::array<uint8_t, 16>& handle) {
  char text[37];
  std::snprintf(
      text, sizeof(text), "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
      handle[0], handle[1], handle[2], handle[3], handle[4], handle[5], handle[6], handle[7],
      handle[8], handle[9], handle[10], handle[11], handle[12], handle[13], handle[14], handle[15]);
  return text;
}

void populate_domain(Store& store, domid_t domid, std::string_view name, uint64_t memory_kib,
                     unsigned vcpus, const std::array<uint8_t, 16>& handle) {
  const std::string home = home_path(domid);
  const std::string vm = "/vm/" + format_uuid(handle);
  // libxl's roperm (the guest may read) and rwperm (the guest owns it).
  const Permissions read_only{{kControlDomain, Access::kNone}, {domid, Access::kRead}};
  const Permissions guest_owned{{domid, Access::kNone}};

  Builder b(store);
  b.rm(home);
  b.mknod(home, read_only);
  b.rm(vm);
  b.mknod(vm, read_only);
  b.write(home + "/vm", vm);
  b.write(home + "/name", name);
  b.write(vm + "/uuid", format_uuid(handle));
  b.write(vm + "/name", name);

  b.mknod(home + "/cpu", read_only);
  b.mknod(home + "/memory", read_only);
  b.mknod(home + "/device", read_only);
  b.mknod(home + "/device/suspend/event-channel", guest_owned);
  b.mknod(home + "/control", read_only);
  for (const char* node :
       {"shutdown", "feature-poweroff", "feature-reboot", "feature-suspend", "sysrq"}) {
    b.mknod(home + "/control/" + node, guest_owned);
  }
  for (const char* node : {"data", "drivers", "feature", "attr", "error"}) {
    b.mknod(home + "/" + node, guest_owned);
  }
  b.write(home + "/control/platform-feature-multiprocessor-suspend", "1");
  b.write(home + "/control/platform-feature-xs_reset_watches", "1");

  b.write(home + "/memory/static-max", std::to_string(memory_kib));
  b.write(home + "/memory/target", std::to_string(memory_kib));
  b.write(home + "/memory/videoram", "0");
  b.write(home + "/domid", std::to_string(domid));
  for (unsigned cpu = 0; cpu < vcpus; ++cpu) {
    b.write(home + "/cpu/" + std::to_string(cpu) + "/availability", "online");
  }
}

Result<void> request_shutdown(Store& store, domid_t domid, std::string_view reason) {
  if (reason != "poweroff" && reason != "reboot" && reason != "halt" && reason != "suspend") {
    return Errno::kEINVAL;
  }
  return store.write(Caller::host(), kNoTransaction, home_path(domid) + "/control/shutdown",
                     reason);
}

Result<void> request_sysrq(Store& store, domid_t domid, char key) {
  return store.write(Caller::host(), kNoTransaction, home_path(domid) + "/control/sysrq",
                     std::string_view(&key, 1));
}

}  // namespace xpv::backends::xenstore
