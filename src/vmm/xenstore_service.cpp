#include "vmm/xenstore_service.hpp"

#include "backends/xenstore/domain_nodes.hpp"
#include "vmm/domain.hpp"

namespace xpv::vmm {

namespace xs = backends::xenstore;

XenstoreService::XenstoreService(Domain& domain, uint64_t mfn, evtchn_port_t port)
    : domain_(domain),
      port_(port),
      server_([this](domid_t) { domain_.event_channels().notify(port_); }) {
  server_.with_store([&](xs::Store& store) {
    xs::populate_domain(store, domain.id(), domain.config().name, domain.nr_pages() * 4,
                        domain.nr_vcpus(), domain.handle());
  });
  if (!server_.introduce_domain(domain.id(), domain.ram().frame(mfn)))
    throw Error("cannot introduce the domain to xenstore");
  if (domain.event_channels().connect_host_peer(
          port, [this] { server_.on_guest_kick(domain_.id()); }) != 0)
    throw Error("cannot connect xenstore to port " + std::to_string(port));
}

bool XenstoreService::request_shutdown(const char* reason) {
  if (!server_.listens_for_shutdown(domain_.id())) return false;
  return static_cast<bool>(server_.request_shutdown(domain_.id(), reason));
}

}  // namespace xpv::vmm
