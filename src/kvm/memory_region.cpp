#include "kvm/memory_region.hpp"

#include <sys/mman.h>

#include <cerrno>
#include <fstream>
#include <utility>

#include "kvm/kvm_system.hpp"

namespace xpv::kvm {

namespace {

std::string mib(uint64_t bytes) {
  return std::to_string(bytes >> 20) + " MiB";
}

}  // namespace

uint64_t host_available_memory() {
  std::ifstream meminfo("/proc/meminfo");
  std::string key;
  uint64_t kib = 0;
  std::string unit;
  while (meminfo >> key >> kib >> unit) {
    if (key == "MemAvailable:") return kib << 10;
  }
  return 0;
}

MemoryRegion::MemoryRegion(const std::string& name, uint64_t bytes) : size_(bytes) {
  uint64_t available = host_available_memory();
  if (available != 0 && bytes > available)
    throw KvmError("not enough memory: " + name + " needs " + mib(bytes) + " but the host has " +
                   mib(available) + " available");
  fd_.reset(::memfd_create(name.c_str(), MFD_CLOEXEC));
  if (!fd_.valid()) throw SystemError("memfd_create(" + name + ")", errno);
  if (::ftruncate(fd_.get(), static_cast<off_t>(bytes)) != 0)
    throw SystemError("not enough memory: cannot size " + name + " to " + mib(bytes), errno);
  void* p =
      ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd_.get(), 0);
  if (p == MAP_FAILED)
    throw SystemError("not enough memory: cannot map " + mib(bytes) + " for " + name, errno);
  data_ = static_cast<uint8_t*>(p);
}

MemoryRegion::MemoryRegion(MemoryRegion&& other) noexcept
    : fd_(std::move(other.fd_)),
      data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)) {}

MemoryRegion::~MemoryRegion() {
  if (data_ != nullptr) ::munmap(data_, size_);
}

}  // namespace xpv::kvm
