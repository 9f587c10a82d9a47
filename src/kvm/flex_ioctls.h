/* The KVM ioctls whose argument ends in a flexible array (kvm_msrs,
 * kvm_cpuid2). Linux's uapi headers declare those arrays with
 * __DECLARE_FLEX_ARRAY, which has a different size in C++ than in C, and so
 * yields wrong ioctl numbers and offsets there. These wrappers are compiled
 * as C; each returns the ioctl's result and leaves errno set. */
#ifndef XPV_KVM_FLEX_IOCTLS_H
#define XPV_KVM_FLEX_IOCTLS_H

#include <linux/kvm.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* On entry *nent is the room in entries; on success it is the count. */
int xpv_kvm_get_supported_cpuid(int kvm_fd, struct kvm_cpuid_entry2* entries, uint32_t* nent);
int xpv_kvm_set_cpuid2(int vcpu_fd, const struct kvm_cpuid_entry2* entries, uint32_t nent);
int xpv_kvm_get_msr(int vcpu_fd, uint32_t index, uint64_t* value);
int xpv_kvm_set_msr(int vcpu_fd, uint32_t index, uint64_t value);

#ifdef __cplusplus
}
#endif

#endif
