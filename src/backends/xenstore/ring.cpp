#include "backends/xenstore/ring.hpp"

#include <algorithm>
#include <atomic>
#include <cstring>

#include "base/error.hpp"

namespace xpv::backends::xenstore {

namespace {

static_assert(sizeof(xenstore_domain_interface) <= Ring::kPageBytes);

// The guest reads and writes the indices concurrently: every access is
// atomic, acquire when reading the other side's index (its data is then
// visible) and release when publishing ours (our data, or our reads of
// its data, happen first).
XENSTORE_RING_IDX load(XENSTORE_RING_IDX& index) {
  return std::atomic_ref(index).load(std::memory_order_acquire);
}

void store(XENSTORE_RING_IDX& index, XENSTORE_RING_IDX value) {
  std::atomic_ref(index).store(value, std::memory_order_release);
}

}  // namespace

Ring::Ring(Page page) : interface_(reinterpret_cast<xenstore_domain_interface*>(page.data())) {
  if (reinterpret_cast<uintptr_t>(page.data()) % alignof(XENSTORE_RING_IDX) != 0) {
    throw Error("xenstore ring page is not 4-byte aligned");
  }
  req_cons_ = load(interface_->req_cons);
  rsp_prod_ = load(interface_->rsp_prod);
  uint32_t features = std::atomic_ref(interface_->server_features).load(std::memory_order_relaxed);
  features |= XENSTORE_SERVER_FEATURE_RECONNECTION | XENSTORE_SERVER_FEATURE_ERROR;
  std::atomic_ref(interface_->server_features).store(features, std::memory_order_release);
}

void Ring::fail(Fault fault) {
  fault_ = fault;
  input_.clear();
  output_.clear();
  std::atomic_ref(interface_->error).store(static_cast<uint32_t>(fault), std::memory_order_release);
  moved_ = true;
}

std::vector<Message> Ring::receive() {
  std::vector<Message> messages;
  if (fault_ != Fault::kNone) return messages;
  XENSTORE_RING_IDX prod = load(interface_->req_prod);
  XENSTORE_RING_IDX available = prod - req_cons_;
  if (available > XENSTORE_RING_SIZE) {
    fail(Fault::kRingIndex);
    return messages;
  }
  if (available == 0) return messages;
  // At most two copies: up to the end of req[], then from its start.
  while (available > 0) {
    size_t offset = MASK_XENSTORE_IDX(req_cons_);
    size_t chunk = std::min<size_t>(available, XENSTORE_RING_SIZE - offset);
    input_.append(interface_->req + offset, chunk);
    req_cons_ += static_cast<XENSTORE_RING_IDX>(chunk);
    available -= static_cast<XENSTORE_RING_IDX>(chunk);
  }
  store(interface_->req_cons, req_cons_);
  moved_ = true;
  extract_messages(messages);
  return messages;
}

void Ring::extract_messages(std::vector<Message>& messages) {
  size_t used = 0;
  while (input_.size() - used >= kHeaderBytes) {
    xsd_sockmsg header = decode_header(std::string_view(input_).substr(used));
    if (header.len > kPayloadMax) {
      fail(Fault::kProtocol);
      messages.clear();
      return;
    }
    if (input_.size() - used - kHeaderBytes < header.len) break;
    messages.push_back(Message{header, input_.substr(used + kHeaderBytes, header.len)});
    used += kHeaderBytes + header.len;
  }
  input_.erase(0, used);
}

void Ring::send(const Message& message) {
  if (fault_ != Fault::kNone) return;
  output_ += encode(message);
}

void Ring::flush() {
  if (fault_ != Fault::kNone || output_.empty()) return;
  XENSTORE_RING_IDX cons = load(interface_->rsp_cons);
  XENSTORE_RING_IDX used = rsp_prod_ - cons;
  if (used > XENSTORE_RING_SIZE) {
    fail(Fault::kRingIndex);
    return;
  }
  size_t space = XENSTORE_RING_SIZE - used;
  size_t total = std::min(space, output_.size());
  size_t written = 0;
  while (written < total) {
    size_t offset = MASK_XENSTORE_IDX(rsp_prod_);
    size_t chunk = std::min(total - written, XENSTORE_RING_SIZE - offset);
    std::memcpy(interface_->rsp + offset, output_.data() + written, chunk);
    rsp_prod_ += static_cast<XENSTORE_RING_IDX>(chunk);
    written += chunk;
  }
  if (written == 0) return;
  output_.erase(0, written);
  store(interface_->rsp_prod, rsp_prod_);
  moved_ = true;
}

bool Ring::take_notification() {
  bool moved = moved_;
  moved_ = false;
  return moved;
}

bool Ring::reconnect_requested() const {
  return std::atomic_ref(interface_->connection).load(std::memory_order_acquire) ==
         XENSTORE_RECONNECT;
}

void Ring::reconnect() {
  input_.clear();
  output_.clear();
  fault_ = Fault::kNone;
  req_cons_ = 0;
  rsp_prod_ = 0;
  store(interface_->req_cons, 0);
  store(interface_->req_prod, 0);
  store(interface_->rsp_cons, 0);
  store(interface_->rsp_prod, 0);
  std::atomic_ref(interface_->error).store(XENSTORE_ERROR_NONE, std::memory_order_release);
  std::atomic_ref(interface_->connection).store(XENSTORE_CONNECTED, std::memory_order_release);
  moved_ = true;
}

}  // namespace xpv::backends::xenstore
