// Port I/O as Xen answers it for a PV domU without devices (guest_io_read
// and guest_io_write in xen/arch/x86/pv/emul-priv-op.c): no access reaches
// the host. Unbacked ports read all-ones and drop writes; the PCI
// configuration address (a dword at 0xcf8) and the CMOS index (0x70) are
// latched and read back; PIT channel 2 and the port 0x61 gate/speaker
// bits are a small i8254 model. Pure functions of the state and a clock,
// so that the emulation can be tested without KVM.
#pragma once

#include <cstdint>

namespace xpv::hv {

// iopl_ok: a PV kernel runs at CPL3 but counts as ring 1 (ring 0 under
// VMASST_TYPE_architectural_iopl), guest user mode as ring 3. `iopl` is
// the one PHYSDEVOP_set_iopl set (0-3).
bool iopl_permits(unsigned iopl, bool kernel_mode, bool architectural_iopl);

// guest_io_okay's second chance, the PHYSDEVOP_set_iobitmap bitmap: it
// covers ports below `nr_ports`, and a clear bit permits its port as in
// the TSS I/O bitmap. `bits` are the two bytes at bitmap + port / 8 (Xen,
// like the CPU, always reads two).
bool io_bitmap_covers(uint32_t nr_ports, unsigned port, unsigned bytes);
bool io_bitmap_permits(uint16_t bits, unsigned port, unsigned bytes);

// Xen's __addr_ok: an address a PV guest may have Xen access for it,
// below the canonical hole or above Xen's own range.
bool guest_address_ok(uint64_t va);

// The i8254 as far as a PV domU can reach it: channel 2 through ports
// 0x42 (counter) and 0x43 (control word), its gate and the speaker bit
// through 0x61. The counter runs at 1.193182 MHz of `now_ns` while the
// gate is high. Channels 0 and 1 are not modelled.
class Pit {
 public:
  uint8_t read(unsigned port, uint64_t now_ns);
  void write(unsigned port, uint8_t value, uint64_t now_ns);

  // The counter and OUT as they are at `now_ns` (for port 0x61 and tests).
  uint16_t count(uint64_t now_ns) const;
  bool out(uint64_t now_ns) const;

 private:
  enum Access : uint8_t { kLatch = 0, kLowByte = 1, kHighByte = 2, kLowThenHigh = 3 };

  void control(uint8_t value, uint64_t now_ns);
  void latch_count(uint64_t now_ns);
  void write_counter(uint8_t value, uint64_t now_ns);
  uint8_t read_counter(uint64_t now_ns);
  void set_gate(bool gate, uint64_t now_ns);
  uint64_t ticks(uint64_t now_ns) const;  // counted since the last load
  uint32_t period() const { return reload_ == 0 ? 0x10000 : reload_; }
  uint8_t status(uint64_t now_ns) const;

  uint16_t reload_ = 0;
  Access access_ = kLowThenHigh;
  uint8_t mode_ = 0;
  bool bcd_ = false;
  bool loaded_ = false;  // a count was written since the control word
  bool write_high_next_ = false;
  bool read_high_next_ = false;
  uint8_t pending_low_ = 0;  // first byte of a low-then-high write
  bool count_latched_ = false;
  uint16_t latched_count_ = 0;
  bool latched_high_next_ = false;
  bool status_latched_ = false;
  uint8_t latched_status_ = 0;
  bool gate_ = false;
  bool speaker_ = false;
  uint64_t counted_ticks_ = 0;  // while the gate was high, up to running_since_ns_
  uint64_t running_since_ns_ = 0;
};

// What a PV domU's port I/O keeps between accesses. Xen keeps it per
// domain; xpv per vCPU, which a guest can tell only by latching 0xcf8 or
// 0x70 on one vCPU and reading it back on another.
struct PortIoState {
  uint32_t pci_cf8 = 0;    // the last dword written to 0xcf8
  uint8_t cmos_index = 0;  // port 0x70, without the NMI-disable bit
  Pit pit;
};

// An `in` or `out` of `bytes` (1, 2 or 4) at `port`, split per port as Xen
// does; only a dword at 0xcf8 is one access.
uint32_t read_port(PortIoState& state, unsigned port, unsigned bytes, uint64_t now_ns);
void write_port(PortIoState& state, unsigned port, unsigned bytes, uint32_t value, uint64_t now_ns);

}  // namespace xpv::hv
