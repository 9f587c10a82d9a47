// Host memory that backs a range of guest-physical (machine) frames.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "base/unique_fd.hpp"

namespace xpv::kvm {

// A page-aligned, zero-filled mapping backed by a memfd, so that it can be
// shared later with backends and other processes (ARCHITECTURE.md §2).
class MemoryRegion {
 public:
  // Throws KvmError "not enough memory ..." when the host cannot back it.
  MemoryRegion(const std::string& name, uint64_t bytes);
  MemoryRegion(MemoryRegion&&) noexcept;
  MemoryRegion& operator=(MemoryRegion&&) = delete;
  MemoryRegion(const MemoryRegion&) = delete;
  MemoryRegion& operator=(const MemoryRegion&) = delete;
  ~MemoryRegion();

  uint8_t* data() const { return data_; }
  uint64_t size() const { return size_; }
  int fd() const { return fd_.get(); }
  std::span<uint8_t> bytes() const { return {data_, static_cast<size_t>(size_)}; }

 private:
  UniqueFd fd_;
  uint8_t* data_ = nullptr;
  uint64_t size_ = 0;
};

// MemAvailable from /proc/meminfo, in bytes (0 when unknown).
uint64_t host_available_memory();

}  // namespace xpv::kvm
