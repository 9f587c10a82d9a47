// What the grant-table test guests (grant-selftest, mm-attack) share:
// GNTTABOP_* requests in one-line wrappers that return the per-request
// status (or 100 + the hypercall's error when it fails as a whole), and
// the domain's own grant entries written and revoked as Linux does
// (drivers/xen/grant-table.c, v1).
#pragma once

#include <cstdint>

#include "runtime/hypercall.hpp"
#include "runtime/runtime.hpp"

// runtime/xen.hpp has pinned the interface version.
// clang-format off
#include <xen/grant_table.h>
// clang-format on

namespace grants {

// xpv's domU; domain 0 is its host backends.
constexpr domid_t kSelf = 1;
constexpr uint16_t kInUse = GTF_reading | GTF_writing;

inline long grant_op(unsigned cmd, void* op, unsigned count = 1) {
  return xpv::guest::hypercall(__HYPERVISOR_grant_table_op, cmd, reinterpret_cast<uintptr_t>(op),
                               count);
}

inline gnttab_query_size_t query_size(domid_t dom) {
  gnttab_query_size_t q{};
  q.dom = dom;
  q.status = 99;
  if (grant_op(GNTTABOP_query_size, &q) != 0) q.status = 98;
  return q;
}

// setup_table for `nr` frames into `frames`.
inline int setup_table(domid_t dom, uint32_t nr, xen_pfn_t* frames) {
  gnttab_setup_table_t s{};
  s.dom = dom;
  s.nr_frames = nr;
  s.status = 99;
  set_xen_guest_handle(s.frame_list, frames);
  long rc = grant_op(GNTTABOP_setup_table, &s);
  return rc != 0 ? static_cast<int>(100 + rc) : s.status;
}

// The domain's entries, through a writable mapping of its table's frames.
class Table {
 public:
  explicit Table(grant_entry_v1_t* entries) : entries_(entries) {}
  grant_entry_v1_t& operator[](grant_ref_t ref) const { return entries_[ref]; }

  // As gnttab_update_entry_v1: frame and domid first, the flags last,
  // after a barrier.
  void grant(grant_ref_t ref, domid_t to, uint64_t frame, uint16_t flags) const {
    grant_entry_v1_t* e = &entries_[ref];
    e->frame = static_cast<uint32_t>(frame);
    e->domid = to;
    __atomic_store_n(&e->flags, flags, __ATOMIC_RELEASE);
  }
  uint16_t flags(grant_ref_t ref) const {
    return __atomic_load_n(&entries_[ref].flags, __ATOMIC_ACQUIRE);
  }
  // gnttab_end_foreign_access_ref_v1: refused while the grantee holds the
  // grant (GTF_reading/GTF_writing set).
  bool revoke(grant_ref_t ref) const {
    uint16_t seen = flags(ref);
    if ((seen & kInUse) != 0) return false;
    return __atomic_compare_exchange_n(&entries_[ref].flags, &seen, uint16_t{0}, false,
                                       __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
  }

 private:
  grant_entry_v1_t* entries_;
};

// A copy between two grants of the domain's own table.
inline gnttab_copy_t copy_by_ref(grant_ref_t from, grant_ref_t to, uint16_t from_offset,
                                 uint16_t to_offset, uint16_t len) {
  gnttab_copy_t c{};
  c.source.u.ref = from;
  c.source.domid = DOMID_SELF;
  c.source.offset = from_offset;
  c.dest.u.ref = to;
  c.dest.domid = DOMID_SELF;
  c.dest.offset = to_offset;
  c.len = len;
  c.flags = GNTCOPY_source_gref | GNTCOPY_dest_gref;
  c.status = 99;
  return c;
}

inline int copy_status(gnttab_copy_t c) {
  long rc = grant_op(GNTTABOP_copy, &c);
  return rc != 0 ? static_cast<int>(100 + rc) : c.status;
}

inline gnttab_map_grant_ref_t map_request(grant_ref_t ref, domid_t dom, uint32_t flags,
                                          uint64_t host_addr) {
  gnttab_map_grant_ref_t m{};
  m.host_addr = host_addr;
  m.flags = flags;
  m.ref = ref;
  m.dom = dom;
  m.status = 99;
  return m;
}

// The request's status after GNTTABOP_map_grant_ref.
inline int map_status(gnttab_map_grant_ref_t& m) {
  long rc = grant_op(GNTTABOP_map_grant_ref, &m);
  return rc != 0 ? static_cast<int>(100 + rc) : m.status;
}

// Ends the host mapping at `host_addr` and/or the device mapping at
// `dev_bus_addr` of `handle` (0: not that one).
inline int16_t unmap(grant_handle_t handle, uint64_t host_addr, uint64_t dev_bus_addr = 0) {
  gnttab_unmap_grant_ref_t u{};
  u.host_addr = host_addr;
  u.dev_bus_addr = dev_bus_addr;
  u.handle = handle;
  u.status = 99;
  if (grant_op(GNTTABOP_unmap_grant_ref, &u) != 0) return 98;
  return u.status;
}

}  // namespace grants
