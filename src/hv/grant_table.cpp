#include "hv/grant_table.hpp"

#include <cstring>

namespace xpv::hv {

namespace {

// Xen bounds its compare-and-exchange on an entry the guest shares: a
// guest that keeps changing it must not hold a grantee in a loop
// (_set_status_v1 gives up after five tries).
constexpr int kSetStatusTries = 5;
// Pin counts stop below Xen's overflow mark (an active entry's 8-bit
// counters may not reach 0x80: map_grant_ref, acquire_grant_for_copy).
constexpr uint32_t kMaxPins = 0x7f;

// flags and domid, the first two fields of a v1 entry, change as one
// 32-bit word (Xen's union grant_combo).
struct Combo {
  uint16_t flags;
  domid_t domid;
};
static_assert(sizeof(Combo) == sizeof(uint32_t));
static_assert(offsetof(grant_entry_v1_t, flags) == 0 && offsetof(grant_entry_v1_t, domid) == 2);

uint32_t* combo_word(grant_entry_v1_t* e) {
  return reinterpret_cast<uint32_t*>(e);
}
Combo unpack(uint32_t raw) {
  Combo c{};
  std::memcpy(&c, &raw, sizeof c);
  return c;
}
uint32_t pack(Combo c) {
  uint32_t raw = 0;
  std::memcpy(&raw, &c, sizeof c);
  return raw;
}

}  // namespace

// --- GrantMapping -----------------------------------------------------------

GrantMapping& GrantMapping::operator=(GrantMapping&& other) noexcept {
  if (this == &other) return *this;
  reset();
  table_ = std::exchange(other.table_, nullptr);
  ref_ = std::exchange(other.ref_, std::nullopt);
  readonly_ = other.readonly_;
  mfn_ = other.mfn_;
  bytes_ = std::exchange(other.bytes_, nullptr);
  return *this;
}

void GrantMapping::reset() {
  if (table_ != nullptr) table_->release(*this);
  table_ = nullptr;
  ref_.reset();
  bytes_ = nullptr;
}

// --- The table ----------------------------------------------------------------

GrantTable::GrantTable(const mm::GuestRam& ram, mm::PageTypes& page_types,
                       const FrameAllocator& allocate, unsigned max_frames)
    : ram_(ram), page_types_(page_types) {
  frames_.reserve(max_frames);
  for (unsigned i = 0; i < max_frames; ++i)
    frames_.push_back(allocate());
  active_.resize(static_cast<size_t>(max_frames) * kEntriesPerFrame);
  nr_frames_.store(std::min(kInitialFrames, max_frames), std::memory_order_release);
}

int16_t GrantTable::grow(unsigned count) {
  if (count > max_frames()) return GNTST_general_error;  // gnttab_setup_table
  std::lock_guard lock(mutex_);
  if (count > nr_frames()) nr_frames_.store(count, std::memory_order_release);
  return GNTST_okay;
}

bool GrantTable::is_table_frame(uint64_t mfn) const {
  unsigned visible = nr_frames();
  for (unsigned i = 0; i < visible; ++i)
    if (frames_[i].mfn == mfn) return true;
  return false;
}

grant_entry_v1_t* GrantTable::shared(grant_ref_t ref) const {
  return reinterpret_cast<grant_entry_v1_t*>(frames_[ref / kEntriesPerFrame].bytes.data()) +
         ref % kEntriesPerFrame;
}

grant_entry_v1_t GrantTable::entry(grant_ref_t ref) const {
  grant_entry_v1_t e{};
  if (ref >= nr_entries()) return e;
  grant_entry_v1_t* s = shared(ref);
  Combo c = unpack(__atomic_load_n(combo_word(s), __ATOMIC_ACQUIRE));
  e.flags = c.flags;
  e.domid = c.domid;
  e.frame = __atomic_load_n(&s->frame, __ATOMIC_RELAXED);
  return e;
}

void GrantTable::seed(grant_ref_t ref, domid_t grantee, uint64_t frame) {
  if (ref >= nr_entries()) return;
  grant_entry_v1_t* e = shared(ref);
  e->frame = static_cast<uint32_t>(frame);
  e->domid = grantee;
  __atomic_store_n(&e->flags, static_cast<uint16_t>(GTF_permit_access), __ATOMIC_RELEASE);
}

// Marks the entry in use for `grantee`, checking it grants that access,
// in one compare-and-exchange of flags and domid (Xen's _set_status_v1;
// GTF_sub_page is refused as for a mapping).
int16_t GrantTable::set_in_use(grant_ref_t ref, domid_t grantee, bool readonly) {
  uint32_t* word = combo_word(shared(ref));
  const Active& act = active_[ref];
  uint32_t seen = __atomic_load_n(word, __ATOMIC_ACQUIRE);
  for (int attempt = 0; attempt < kSetStatusTries; ++attempt) {
    Combo c = unpack(seen);
    bool grants =
        (c.flags & (GTF_type_mask | GTF_sub_page)) == GTF_permit_access && c.domid == grantee;
    if (!act.pinned() && !grants) return GNTST_general_error;
    if (!readonly && (c.flags & GTF_readonly) != 0) return GNTST_general_error;
    Combo next = c;
    next.flags = static_cast<uint16_t>(next.flags | GTF_reading | (readonly ? 0 : GTF_writing));
    if (__atomic_compare_exchange_n(word, &seen, pack(next), false, __ATOMIC_SEQ_CST,
                                    __ATOMIC_ACQUIRE))
      return GNTST_okay;
    // `seen` now holds what the guest wrote meanwhile: check that again.
  }
  return GNTST_general_error;  // the entry is unstable
}

void GrantTable::clear_flags(grant_ref_t ref, uint16_t flags) {
  __atomic_fetch_and(&shared(ref)->flags, static_cast<uint16_t>(~flags), __ATOMIC_SEQ_CST);
}

// Xen's map_grant_ref/acquire_grant_for_copy up to the pin: the entry is
// checked (and marked) only when this access needs more than the pins
// already held; the frame is fixed by the first pin.
GrantTable::Pin GrantTable::pin_locked(grant_ref_t ref, domid_t grantee, bool readonly) {
  if (ref >= nr_entries()) return {GNTST_bad_gntref, 0};
  Active& act = active_[ref];
  if (act.pinned() && (act.domid != grantee || act.readers >= kMaxPins || act.writers >= kMaxPins))
    return {GNTST_general_error, 0};
  if (!act.pinned() || (!readonly && act.writers == 0)) {
    if (int16_t rc = set_in_use(ref, grantee, readonly); rc != GNTST_okay) return {rc, 0};
  }
  // Each pin holds a reference on the frame (get_paged_frame's get_page),
  // so that the domain cannot give it away while it is accessed.
  uint64_t frame = act.pinned() ? act.mfn : __atomic_load_n(&shared(ref)->frame, __ATOMIC_RELAXED);
  if (!page_types_.get_page(frame)) {  // not the granting domain's frame
    if (!act.pinned())
      clear_flags(ref, static_cast<uint16_t>(GTF_reading | (readonly ? 0 : GTF_writing)));
    return {GNTST_bad_page, 0};
  }
  if (!act.pinned()) {
    act.domid = grantee;
    act.mfn = frame;
  }
  ++(readonly ? act.readers : act.writers);
  return {GNTST_okay, act.mfn};
}

// Xen's unmap_common_complete/release_grant_for_copy: the guest sees the
// entry free again only when no access of that kind is left.
void GrantTable::unpin_locked(grant_ref_t ref, bool readonly) {
  Active& act = active_[ref];
  uint32_t& count = readonly ? act.readers : act.writers;
  if (count == 0) return;
  --count;
  page_types_.put_page(act.mfn);
  uint16_t clear = 0;
  if (!readonly && act.writers == 0) clear |= GTF_writing;
  if (!act.pinned()) clear |= GTF_reading;
  if (clear != 0) clear_flags(ref, clear);
}

GrantMapResult GrantTable::claim_grant(domid_t grantee, grant_ref_t ref, bool readonly) {
  std::lock_guard lock(mutex_);
  Pin pin = pin_locked(ref, grantee, readonly);
  if (pin.status != GNTST_okay) return {pin.status, {}};
  if (!readonly && page_types_.get_type(pin.mfn, mm::PageType::kWritable) != 0) {
    unpin_locked(ref, readonly);
    return {GNTST_general_error, {}};  // a page table or descriptor frame
  }
  GrantMapResult result{GNTST_okay, {}};
  result.mapping.table_ = this;
  result.mapping.ref_ = ref;
  result.mapping.readonly_ = readonly;
  result.mapping.mfn_ = pin.mfn;
  result.mapping.bytes_ = ram_.frame(pin.mfn).data();
  return result;
}

GrantMapResult GrantTable::claim_own_frame(uint64_t mfn, bool readonly) {
  if (!page_types_.get_page(mfn)) return {GNTST_bad_page, {}};
  if (!readonly && page_types_.get_type(mfn, mm::PageType::kWritable) != 0) {
    page_types_.put_page(mfn);
    return {GNTST_general_error, {}};
  }
  GrantMapResult result{GNTST_okay, {}};
  result.mapping.table_ = this;
  result.mapping.readonly_ = readonly;
  result.mapping.mfn_ = mfn;
  result.mapping.bytes_ = ram_.frame(mfn).data();
  return result;
}

void GrantTable::release(GrantMapping& mapping) {
  if (!mapping.readonly_) page_types_.put_type(mapping.mfn_);
  if (!mapping.ref_) {
    page_types_.put_page(mapping.mfn_);
    return;
  }
  std::lock_guard lock(mutex_);
  unpin_locked(*mapping.ref_, mapping.readonly_);
}

GrantMapResult GrantTable::map(domid_t grantee, grant_ref_t ref, bool readonly) {
  return claim_grant(grantee, ref, readonly);
}

int16_t GrantTable::copy_from_grant(domid_t grantee, grant_ref_t ref, uint16_t offset,
                                    std::span<uint8_t> out) {
  if (offset + out.size() > 4096) return GNTST_bad_copy_arg;
  GrantMapResult claim = claim_grant(grantee, ref, true);
  if (claim.status != GNTST_okay) return claim.status;
  std::memcpy(out.data(), claim.mapping.bytes().data() + offset, out.size());
  return GNTST_okay;
}

int16_t GrantTable::copy_to_grant(domid_t grantee, grant_ref_t ref, uint16_t offset,
                                  std::span<const uint8_t> in) {
  if (offset + in.size() > 4096) return GNTST_bad_copy_arg;
  GrantMapResult claim = claim_grant(grantee, ref, false);
  if (claim.status != GNTST_okay) return claim.status;
  std::memcpy(claim.mapping.writable_bytes().data() + offset, in.data(), in.size());
  return GNTST_okay;
}

// --- The owner's own mappings (maptrack) ---------------------------------------

std::optional<grant_handle_t> GrantTable::new_handle() {
  if (!free_handles_.empty()) {
    grant_handle_t h = free_handles_.back();
    free_handles_.pop_back();
    return h;
  }
  if (tracked_.size() >= kMaxGuestMappings) return std::nullopt;
  tracked_.emplace_back();
  return static_cast<grant_handle_t>(tracked_.size() - 1);
}

void GrantTable::free_handle(grant_handle_t handle) {
  tracked_[handle] = Tracked{};
  free_handles_.push_back(handle);
}

// Xen's map_grant_ref for a domain mapping a grant it can see (here: its
// own grants, which Xen allows too: the owner == rd path).
GuestMapResult GrantTable::map_for_guest(domid_t mapper, grant_ref_t ref, uint32_t flags,
                                         const PteUpdate& install) {
  if ((flags & (GNTMAP_device_map | GNTMAP_host_map)) == 0) return {GNTST_bad_gntref, 0, 0};
  bool readonly = (flags & GNTMAP_readonly) != 0;
  bool device = (flags & GNTMAP_device_map) != 0;
  bool host = (flags & GNTMAP_host_map) != 0;
  std::lock_guard lock(mutex_);
  std::optional<grant_handle_t> handle = new_handle();
  if (!handle) return {GNTST_no_device_space, 0, 0};
  // One pin per kind of mapping, as Xen counts device and host mappings.
  unsigned pins = 0;
  Pin pin{GNTST_okay, 0};
  for (unsigned i = 0; i < (device ? 1U : 0U) + (host ? 1U : 0U) && pin.status == GNTST_okay; ++i)
    if ((pin = pin_locked(ref, mapper, readonly)).status == GNTST_okay) ++pins;
  int16_t rc = pin.status;
  bool typed = false;
  if (rc == GNTST_okay && device && !readonly) {
    typed = page_types_.get_type(pin.mfn, mm::PageType::kWritable) == 0;
    if (!typed) rc = GNTST_general_error;
  }
  if (rc == GNTST_okay && host) rc = install(pin.mfn, flags);
  if (rc != GNTST_okay) {
    if (typed) page_types_.put_type(pin.mfn);
    while (pins-- > 0)
      unpin_locked(ref, readonly);
    free_handle(*handle);
    return {rc, 0, 0};
  }
  tracked_[*handle] = Tracked{ref, flags & (GNTMAP_device_map | GNTMAP_host_map | GNTMAP_readonly |
                                            GNTMAP_contains_pte | GNTMAP_application_map)};
  return {GNTST_okay, *handle, pin.mfn << 12};
}

// Xen's unmap_common and unmap_common_complete: each kind of mapping goes
// when its address is given; the handle is freed with the last.
int16_t GrantTable::unmap_for_guest(grant_handle_t handle, uint64_t host_addr,
                                    uint64_t dev_bus_addr, const PteUpdate& remove) {
  std::lock_guard lock(mutex_);
  if (handle >= tracked_.size() || tracked_[handle].flags == 0) return GNTST_bad_handle;
  Tracked& t = tracked_[handle];
  const Active& act = active_[t.ref];
  uint64_t mfn = act.mfn;
  bool readonly = (t.flags & GNTMAP_readonly) != 0;
  // unmap_common: a bus address is checked only against a device mapping
  // (GNTST_bad_dev_addr); for a host-only mapping it is ignored.
  if (dev_bus_addr != 0 && (t.flags & GNTMAP_device_map) != 0 && dev_bus_addr != (mfn << 12))
    return GNTST_bad_dev_addr;
  if (host_addr != 0 && (t.flags & GNTMAP_host_map) != 0) {
    if (int16_t rc = remove(mfn, t.flags); rc != GNTST_okay) return rc;
    t.flags &= ~static_cast<uint32_t>(GNTMAP_host_map);
    unpin_locked(t.ref, readonly);
  }
  if (dev_bus_addr != 0 && (t.flags & GNTMAP_device_map) != 0) {
    t.flags &= ~static_cast<uint32_t>(GNTMAP_device_map);
    if (!readonly) page_types_.put_type(mfn);
    unpin_locked(t.ref, readonly);
  }
  if ((t.flags & (GNTMAP_device_map | GNTMAP_host_map)) == 0) free_handle(handle);
  return GNTST_okay;
}

}  // namespace xpv::hv
