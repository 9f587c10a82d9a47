#include "hv/port_io.hpp"

#include <algorithm>

#include "xen/abi.hpp"

namespace xpv::hv {

namespace {

constexpr unsigned kPitCounter2 = 0x42;
constexpr unsigned kPitControl = 0x43;
constexpr unsigned kSystemControlB = 0x61;  // PIT channel 2 gate, speaker, OUT2
constexpr unsigned kCmosIndex = 0x70;
constexpr unsigned kPciConfigAddress = 0xcf8;
constexpr unsigned kPciConfigData = 0xcfc;

constexpr uint64_t kPitHz = 1193182;
constexpr uint64_t kNsPerSecond = 1000000000;

uint64_t ns_to_ticks(uint64_t ns) {
  return ns / kNsPerSecond * kPitHz + ns % kNsPerSecond * kPitHz / kNsPerSecond;
}

bool is_pit_port(unsigned port) {
  return port == kPitCounter2 || port == kPitControl || port == kSystemControlB;
}

// The part of an access that falls on 0xcfc-0xcff, as Xen splits it.
unsigned pci_data_size(unsigned port, unsigned bytes) {
  unsigned size = std::min(bytes, 4 - (port & 3));
  return size == 3 ? 2 : size;
}

}  // namespace

bool iopl_permits(unsigned iopl, bool kernel_mode, bool architectural_iopl) {
  unsigned cpl = kernel_mode ? (architectural_iopl ? 0 : 1) : 3;
  return cpl <= iopl;
}

bool io_bitmap_covers(uint32_t nr_ports, unsigned port, unsigned bytes) {
  return static_cast<uint64_t>(port) + bytes <= nr_ports;
}

bool io_bitmap_permits(uint16_t bits, unsigned port, unsigned bytes) {
  unsigned mask = ((1U << bytes) - 1) << (port & 7);
  return (bits & mask) == 0;
}

bool guest_address_ok(uint64_t va) {
  return va < (1ULL << 47) || va >= HYPERVISOR_VIRT_END;
}

// --- Pit ---------------------------------------------------------------

uint64_t Pit::ticks(uint64_t now_ns) const {
  if (!loaded_) return 0;
  uint64_t running = gate_ && now_ns > running_since_ns_ ? now_ns - running_since_ns_ : 0;
  return counted_ticks_ + ns_to_ticks(running);
}

uint16_t Pit::count(uint64_t now_ns) const {
  if (!loaded_) return reload_;
  uint64_t t = ticks(now_ns);
  switch (mode_) {
    case 2:
      return static_cast<uint16_t>(period() - t % period());
    case 3:  // a square wave counts down by two, twice per period
      return static_cast<uint16_t>(period() - (2 * t) % period());
    default:  // one-shot modes wrap and go on counting
      return static_cast<uint16_t>(reload_ - t);
  }
}

bool Pit::out(uint64_t now_ns) const {
  if (!loaded_) return mode_ != 0;  // a control word sets OUT low in mode 0, high otherwise
  uint64_t t = ticks(now_ns);
  switch (mode_) {
    case 0:
    case 1:
      return t >= period();  // high at terminal count
    case 2:
      return t % period() != period() - 1;  // low for one tick per period
    case 3:
      return t % period() < (period() + 1) / 2;
    default:
      return t != period();  // strobes: low for one tick at terminal count
  }
}

uint8_t Pit::status(uint64_t now_ns) const {
  return static_cast<uint8_t>((out(now_ns) ? 0x80 : 0) | (loaded_ ? 0 : 0x40) | (access_ << 4) |
                              (mode_ << 1) | (bcd_ ? 1 : 0));
}

void Pit::control(uint8_t value, uint64_t now_ns) {
  unsigned channel = value >> 6;
  if (channel == 3) {  // read-back: bit 3 selects channel 2, clear bits 5/4 latch
    if ((value & 0x08) == 0) return;
    if ((value & 0x20) == 0) latch_count(now_ns);
    if ((value & 0x10) == 0 && !status_latched_) {
      latched_status_ = status(now_ns);
      status_latched_ = true;
    }
    return;
  }
  if (channel != 2) return;
  auto access = static_cast<Access>((value >> 4) & 3);
  if (access == kLatch) return latch_count(now_ns);
  access_ = access;
  mode_ = (value >> 1) & 7;
  if (mode_ > 5) mode_ -= 4;  // 6 and 7 are aliases of 2 and 3
  bcd_ = (value & 1) != 0;
  loaded_ = false;
  write_high_next_ = false;
  read_high_next_ = false;
}

void Pit::latch_count(uint64_t now_ns) {
  if (count_latched_) return;  // the first latch holds until read
  latched_count_ = count(now_ns);
  count_latched_ = true;
  latched_high_next_ = false;
}

void Pit::write_counter(uint8_t value, uint64_t now_ns) {
  switch (access_) {
    case kLowByte:
      reload_ = value;
      break;
    case kHighByte:
      reload_ = static_cast<uint16_t>(value << 8);
      break;
    default:
      write_high_next_ = !write_high_next_;
      if (write_high_next_) {
        pending_low_ = value;
        return;
      }
      reload_ = static_cast<uint16_t>(pending_low_ | (value << 8));
      break;
  }
  loaded_ = true;
  counted_ticks_ = 0;
  running_since_ns_ = now_ns;
}

uint8_t Pit::read_counter(uint64_t now_ns) {
  if (status_latched_) {
    status_latched_ = false;
    return latched_status_;
  }
  uint16_t value;
  bool high;
  if (count_latched_) {
    value = latched_count_;
    high = access_ == kHighByte || (access_ == kLowThenHigh && latched_high_next_);
    latched_high_next_ = access_ == kLowThenHigh && !latched_high_next_;
    count_latched_ = latched_high_next_;  // held until every byte was read
  } else {
    value = count(now_ns);
    high = access_ == kHighByte || (access_ == kLowThenHigh && read_high_next_);
    if (access_ == kLowThenHigh) read_high_next_ = !read_high_next_;
  }
  return static_cast<uint8_t>(high ? value >> 8 : value);
}

void Pit::set_gate(bool gate, uint64_t now_ns) {
  if (gate == gate_) return;
  if (gate_) {
    counted_ticks_ = ticks(now_ns);
  } else {
    running_since_ns_ = now_ns;
    // A rising gate restarts the counter in the modes it triggers.
    if (mode_ == 1 || mode_ == 2 || mode_ == 3 || mode_ == 5) counted_ticks_ = 0;
  }
  gate_ = gate;
}

uint8_t Pit::read(unsigned port, uint64_t now_ns) {
  switch (port) {
    case kPitCounter2:
      return read_counter(now_ns);
    case kSystemControlB: {
      // The refresh bit toggles about every 15 us; Xen approximates 2^14 ns.
      unsigned refresh = (now_ns >> 14) & 1;
      return static_cast<uint8_t>((gate_ ? 1 : 0) | (speaker_ ? 2 : 0) | (refresh << 4) |
                                  (out(now_ns) ? 0x20 : 0));
    }
    default:  // the control word is write-only
      return 0xff;
  }
}

void Pit::write(unsigned port, uint8_t value, uint64_t now_ns) {
  switch (port) {
    case kPitCounter2:
      return write_counter(value, now_ns);
    case kPitControl:
      return control(value, now_ns);
    case kSystemControlB:
      speaker_ = (value & 2) != 0;
      return set_gate((value & 1) != 0, now_ns);
    default:
      return;
  }
}

// --- Port dispatch -----------------------------------------------------

uint32_t read_port(PortIoState& state, unsigned port, unsigned bytes, uint64_t now_ns) {
  if (port == kPciConfigAddress && bytes == 4) return state.pci_cf8;
  uint64_t data = 0;
  unsigned shift = 0;
  while (bytes != 0) {
    unsigned size = 1;
    uint32_t part = ~0U;
    if (is_pit_port(port)) {
      part = state.pit.read(port, now_ns);
    } else if (port == kCmosIndex) {
      part = state.cmos_index;
    } else if ((port & ~3U) == kPciConfigData) {
      size = pci_data_size(port, bytes);  // a domU reaches no configuration space
    }
    data |= (part & ((1ULL << (size * 8)) - 1)) << shift;
    shift += size * 8;
    port += size;
    bytes -= size;
  }
  return static_cast<uint32_t>(data);
}

void write_port(PortIoState& state, unsigned port, unsigned bytes, uint32_t value,
                uint64_t now_ns) {
  if (port == kPciConfigAddress && bytes == 4) {
    state.pci_cf8 = value;
    return;
  }
  while (bytes != 0) {
    unsigned size = 1;
    if (is_pit_port(port)) {
      state.pit.write(port, static_cast<uint8_t>(value), now_ns);
    } else if (port == kCmosIndex) {
      state.cmos_index = value & 0x7f;
    } else if ((port & ~3U) == kPciConfigData) {
      size = pci_data_size(port, bytes);
    }
    port += size;
    bytes -= size;
    value = size == 4 ? 0 : value >> (size * 8);
  }
}

}  // namespace xpv::hv
