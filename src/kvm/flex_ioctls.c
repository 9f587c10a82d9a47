#include "kvm/flex_ioctls.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

int xpv_kvm_get_supported_cpuid(int kvm_fd, struct kvm_cpuid_entry2* entries, uint32_t* nent) {
  struct kvm_cpuid2* cpuid = calloc(1, sizeof(*cpuid) + *nent * sizeof(*entries));
  if (cpuid == NULL) return -1;
  cpuid->nent = *nent;
  int r = ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, cpuid);
  int saved = errno;
  if (r == 0) {
    memcpy(entries, cpuid->entries, cpuid->nent * sizeof(*entries));
    *nent = cpuid->nent;
  }
  free(cpuid);
  errno = saved;
  return r;
}

int xpv_kvm_set_cpuid2(int vcpu_fd, const struct kvm_cpuid_entry2* entries, uint32_t nent) {
  struct kvm_cpuid2* cpuid = calloc(1, sizeof(*cpuid) + nent * sizeof(*entries));
  if (cpuid == NULL) return -1;
  cpuid->nent = nent;
  memcpy(cpuid->entries, entries, nent * sizeof(*entries));
  int r = ioctl(vcpu_fd, KVM_SET_CPUID2, cpuid);
  int saved = errno;
  free(cpuid);
  errno = saved;
  return r;
}

struct one_msr {
  struct kvm_msrs header;
  struct kvm_msr_entry entry;
};

int xpv_kvm_get_msr(int vcpu_fd, uint32_t index, uint64_t* value) {
  struct one_msr m = {.header = {.nmsrs = 1}, .entry = {.index = index}};
  int r = ioctl(vcpu_fd, KVM_GET_MSRS, &m);
  if (r == 1) *value = m.entry.data;
  return r;
}

int xpv_kvm_set_msr(int vcpu_fd, uint32_t index, uint64_t value) {
  struct one_msr m = {.header = {.nmsrs = 1}, .entry = {.index = index, .data = value}};
  return ioctl(vcpu_fd, KVM_SET_MSRS, &m);
}
