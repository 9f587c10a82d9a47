// The xenstore ring (struct xenstore_domain_interface in xen/io/xs_wire.h;
// docs/misc/xenstore-ring.txt): one shared page holding a request ring the
// guest produces into and a response ring xpv produces into, each with
// free-running 32-bit indices masked by MASK_XENSTORE_IDX.
//
// The page is guest memory, so nothing in it is trusted: xpv keeps its own
// copies of the indices it owns (req_cons, rsp_prod), bounds the guest's by
// the ring size, copies data out before looking at it, and stops serving
// the ring (setting the page's `error` field) when the guest breaks the
// protocol. No call loops longer than one ring's worth of bytes.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "backends/xenstore/protocol.hpp"
#include "xen/abi.hpp"

namespace xpv::backends::xenstore {

class Ring {
 public:
  static constexpr size_t kPageBytes = 4096;
  using Page = std::span<uint8_t, kPageBytes>;

  // Why the ring stopped; the values are XENSTORE_ERROR_* (xs_wire.h).
  enum class Fault : uint32_t {
    kNone = XENSTORE_ERROR_NONE,
    kRingIndex = XENSTORE_ERROR_RINGIDX,  // producer/consumer more than a ring apart
    kProtocol = XENSTORE_ERROR_PROTO,     // a message longer than XENSTORE_PAYLOAD_MAX
  };

  // Advertises the reconnection and error-reporting features and adopts
  // the page's current indices. `page` must stay mapped and be 4-byte
  // aligned.
  explicit Ring(Page page);

  // The complete requests the guest had produced when called. A request
  // may arrive in pieces over several calls. Returns nothing once faulted.
  std::vector<Message> receive();
  // Queues a reply or watch event; flush() copies what fits into rsp[].
  void send(const Message& message);
  void flush();
  size_t queued_bytes() const { return output_.size(); }

  // Whether the indices moved since the last call: the guest must be
  // notified.
  bool take_notification();

  Fault fault() const { return fault_; }
  // The guest set `connection` to XENSTORE_RECONNECT.
  bool reconnect_requested() const;
  // Drops partial and queued messages, empties both rings, clears the
  // fault and sets `connection` back to XENSTORE_CONNECTED.
  void reconnect();

 private:
  void fail(Fault fault);
  void extract_messages(std::vector<Message>& messages);

  xenstore_domain_interface* interface_;
  XENSTORE_RING_IDX req_cons_;  // ours; the page's copy is for the guest
  XENSTORE_RING_IDX rsp_prod_;
  std::string input_;   // bytes of requests not yet complete
  std::string output_;  // bytes not yet in rsp[]
  bool moved_ = false;
  Fault fault_ = Fault::kNone;
};

}  // namespace xpv::backends::xenstore
