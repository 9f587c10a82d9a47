// The nodes a toolstack gives a domain before it boots, laid out and
// permitted as libxl does (libxl__domain_make, libxl__build_post;
// docs/misc/xenstore-paths.pandoc), and the host's requests to the guest
// through them.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "backends/xenstore/store.hpp"

namespace xpv::backends::xenstore {

// A domain handle (xen_domain_handle_t) as a UUID string.
std::string format_uuid(const std::array<uint8_t, 16>& handle);

// Creates, acting as the control domain:
//   /local/domain/<id>            n0 r<id>: the guest reads, cannot write
//     name, domid, vm = /vm/<uuid>, memory/{target,static-max,videoram},
//     cpu/<n>/availability = "online" for each vCPU   (inherit n0 r<id>)
//     device/, control/ (and control/platform-feature-*) n0 r<id>
//     device/suspend/event-channel, control/{shutdown,sysrq,
//     feature-poweroff,feature-reboot,feature-suspend}, data, drivers,
//     feature, attr, error        n<id>: the guest owns them
//   /vm/<uuid>                    n0 r<id>, with uuid and name
// replacing whatever was there. Throws StoreError if a node cannot be made.
void populate_domain(Store& store, domid_t domid, std::string_view name, uint64_t memory_kib,
                     unsigned vcpus, const std::array<uint8_t, 16>& handle = {});

// Writes control/shutdown, whose watch makes Linux act: "poweroff",
// "reboot", "halt" or "suspend" (Linux's drivers/xen/manage.c). EINVAL for
// anything else; the guest acknowledges by writing "".
Result<void> request_shutdown(Store& store, domid_t domid, std::string_view reason);
// Writes control/sysrq: Linux handles `key` as a magic SysRq key.
Result<void> request_sysrq(Store& store, domid_t domid, char key);

}  // namespace xpv::backends::xenstore
