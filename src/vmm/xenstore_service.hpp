// The domain's xenstore: xpv's own server (backends/xenstore) on the store
// page and event channel from start_info, populated with the nodes a domU
// reads at boot, as libxl writes them.
#pragma once

#include <memory>

#include "backends/xenstore/server.hpp"
#include "xen/abi.hpp"

namespace xpv::vmm {

class Domain;

class XenstoreService {
 public:
  XenstoreService(Domain& domain, uint64_t mfn, evtchn_port_t port);
  XenstoreService(const XenstoreService&) = delete;
  XenstoreService& operator=(const XenstoreService&) = delete;

  // Writes control/shutdown so that the guest shuts itself down
  // ("poweroff", "reboot"); false if the request was refused or the guest
  // does not watch that node, so nothing would act on it.
  bool request_shutdown(const char* reason);
  backends::xenstore::Server& server() { return server_; }

 private:
  Domain& domain_;
  evtchn_port_t port_;
  backends::xenstore::Server server_;
};

}  // namespace xpv::vmm
