// Grant tables, version 1 (xen/grant_table.h): the domain writes entries
// into frames xpv shares with it, each entry allowing one domain to map or
// copy one of its frames; the grantee asks xpv, which checks the entry and
// marks it in use (GTF_reading/GTF_writing) for as long as the access lasts,
// so the granting domain sees that it cannot take the frame back yet.
// Xen's common/grant_table.c is the reference.
//
// Three kinds of grantee use one GrantTable:
//   - xpv's host-side backends (domain 0: blkback, netback, ...) through
//     map() and copy_from_grant()/copy_to_grant(): a backend touches only
//     the frame a grant names, and only as the grant allows;
//   - GNTTABOP_copy (grant_table_op.cpp), which claims both ends of a copy;
//   - the domain itself, mapping grants into its own page tables
//     (GNTTABOP_map_grant_ref), tracked by handle as Xen's maptrack does.
//
// The entries live in memory the guest writes at any moment: every read of
// an entry is a single atomic load, and the in-use bits are set with a
// compare-and-exchange of flags and domid together, retried a few times
// when the guest races (Xen's _set_status_v1).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <span>
#include <vector>

#include "mm/guest_ram.hpp"
#include "mm/page_types.hpp"
#include "monitor/hypervisor_frames.hpp"
#include "xen/abi.hpp"

namespace xpv::hv {

class GrantTable;

// One frame claimed through a grant (or, for GNTTABOP_copy, a frame of the
// domain's own): the host view of exactly that frame, released when this
// object goes. A writable claim holds a writable type reference on the
// frame, so the guest cannot make it a page table meanwhile.
class GrantMapping {
 public:
  GrantMapping() = default;
  GrantMapping(const GrantMapping&) = delete;
  GrantMapping& operator=(const GrantMapping&) = delete;
  GrantMapping(GrantMapping&& other) noexcept { *this = std::move(other); }
  GrantMapping& operator=(GrantMapping&& other) noexcept;
  ~GrantMapping() { reset(); }

  explicit operator bool() const { return bytes_ != nullptr; }
  bool readonly() const { return readonly_; }
  uint64_t mfn() const { return mfn_; }
  std::span<const uint8_t, 4096> bytes() const {
    return std::span<const uint8_t, 4096>(bytes_, 4096);
  }
  // Empty for a read-only claim.
  std::span<uint8_t> writable_bytes() const {
    return readonly_ ? std::span<uint8_t>() : std::span<uint8_t>(bytes_, 4096);
  }
  // Ends the access: the grant's in-use bits are cleared when it was the last.
  void reset();

 private:
  friend class GrantTable;
  GrantTable* table_ = nullptr;
  std::optional<grant_ref_t> ref_;  // empty for a frame claimed by number
  bool readonly_ = true;
  uint64_t mfn_ = 0;
  uint8_t* bytes_ = nullptr;
};

struct GrantMapResult {
  int16_t status = GNTST_general_error;  // GNTST_*
  GrantMapping mapping;                  // set when status is GNTST_okay
};

// What GNTTABOP_map_grant_ref reports for one request.
struct GuestMapResult {
  int16_t status = GNTST_general_error;
  grant_handle_t handle = 0;
  uint64_t dev_bus_addr = 0;
};

class GrantTable {
 public:
  // Xen's default limit for a domain (common/grant_table.c,
  // opt_max_grant_frames = 64, the gnttab_max_frames option), which is also
  // what xl gives a domU that does not set max_grant_frames.
  static constexpr unsigned kDefaultMaxFrames = 64;
  // A new table has one frame (INITIAL_NR_GRANT_FRAMES, xen/grant_table.h).
  static constexpr unsigned kInitialFrames = 1;
  static constexpr unsigned kEntriesPerFrame = 4096 / sizeof(grant_entry_v1_t);
  // Xen's maptrack limit: opt_max_maptrack_frames = 1024 frames of 16-byte
  // entries.
  static constexpr unsigned kMaxGuestMappings = 1024 * (4096 / 16);

  using FrameAllocator = std::function<monitor::Frame()>;
  // Writes or removes the guest's PTE of one GNTMAP_host_map mapping of
  // frame `mfn` made with GNTMAP_* `flags`; returns a GNTST_* status.
  using PteUpdate = std::function<int16_t(uint64_t mfn, uint32_t flags)>;

  // The table of the domain whose RAM is `ram`. All `max_frames` frames are
  // taken from `allocate` now (xpv's own frames, never guest RAM); the guest
  // sees only the first nr_frames() of them.
  GrantTable(const mm::GuestRam& ram, mm::PageTypes& page_types, const FrameAllocator& allocate,
             unsigned max_frames = kDefaultMaxFrames);
  GrantTable(const GrantTable&) = delete;
  GrantTable& operator=(const GrantTable&) = delete;

  unsigned version() const { return 1; }
  unsigned nr_frames() const { return nr_frames_.load(std::memory_order_acquire); }
  unsigned max_frames() const { return static_cast<unsigned>(frames_.size()); }
  uint32_t nr_entries() const { return nr_frames() * kEntriesPerFrame; }
  // Grows the table to at least `count` frames (GNTTABOP_setup_table):
  // GNTST_general_error beyond max_frames().
  int16_t grow(unsigned count);
  uint64_t frame_mfn(unsigned index) const { return frames_.at(index).mfn; }
  // Whether `mfn` is a frame of the table the guest may map (PageTypes'
  // extra mappable frames). Lock-free: called under PageTypes' lock.
  bool is_table_frame(uint64_t mfn) const;

  // --- Backends (domain `grantee`, 0 for xpv's own) ----------------------
  GrantMapResult map(domid_t grantee, grant_ref_t ref, bool readonly);
  // GNTST_bad_copy_arg when the range leaves the frame.
  int16_t copy_from_grant(domid_t grantee, grant_ref_t ref, uint16_t offset,
                          std::span<uint8_t> out);
  int16_t copy_to_grant(domid_t grantee, grant_ref_t ref, uint16_t offset,
                        std::span<const uint8_t> in);

  // --- GNTTABOP_copy -------------------------------------------------------
  // A frame of the owner's own RAM, by number (Xen's get_paged_frame):
  // GNTST_bad_page when it is not, GNTST_general_error when a writable
  // claim finds it typed otherwise (a page table).
  GrantMapResult claim_own_frame(uint64_t mfn, bool readonly);

  // --- GNTTABOP_map_grant_ref / unmap_grant_ref by the owner itself --------
  // `flags` are GNTMAP_*; `install` writes the PTE for GNTMAP_host_map.
  GuestMapResult map_for_guest(domid_t mapper, grant_ref_t ref, uint32_t flags,
                               const PteUpdate& install);
  // `remove` clears the PTE when host_addr is given and the mapping has one.
  int16_t unmap_for_guest(grant_handle_t handle, uint64_t host_addr, uint64_t dev_bus_addr,
                          const PteUpdate& remove);

  // The toolstack's entry at build time (libxc's xc_dom_gnttab_seed): a
  // full-page grant of `frame` to `grantee`, for the reserved entries.
  void seed(grant_ref_t ref, domid_t grantee, uint64_t frame);

  // The shared entry as the guest wrote it (tests, dumps).
  grant_entry_v1_t entry(grant_ref_t ref) const;

 private:
  friend class GrantMapping;

  // Xen's active entry: who has the grant pinned, how, and which frame.
  struct Active {
    uint32_t readers = 0;  // read-only claims
    uint32_t writers = 0;  // writable claims
    domid_t domid = 0;
    uint64_t mfn = 0;
    bool pinned() const { return readers + writers != 0; }
  };
  struct Pin {
    int16_t status;
    uint64_t mfn;
  };
  // The owner's own mappings of grants (Xen's maptrack).
  struct Tracked {
    grant_ref_t ref = 0;
    uint32_t flags = 0;  // GNTMAP_*; 0 when the handle is free
  };

  grant_entry_v1_t* shared(grant_ref_t ref) const;
  int16_t set_in_use(grant_ref_t ref, domid_t grantee, bool readonly);
  void clear_flags(grant_ref_t ref, uint16_t flags);
  Pin pin_locked(grant_ref_t ref, domid_t grantee, bool readonly);
  void unpin_locked(grant_ref_t ref, bool readonly);
  GrantMapResult claim_grant(domid_t grantee, grant_ref_t ref, bool readonly);
  void release(GrantMapping& mapping);
  std::optional<grant_handle_t> new_handle();
  void free_handle(grant_handle_t handle);

  const mm::GuestRam& ram_;
  mm::PageTypes& page_types_;
  std::vector<monitor::Frame> frames_;
  std::atomic<unsigned> nr_frames_{0};
  mutable std::mutex mutex_;
  std::vector<Active> active_;
  std::vector<Tracked> tracked_;
  std::vector<grant_handle_t> free_handles_;
};

}  // namespace xpv::hv
