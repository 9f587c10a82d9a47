// Page-table roots (mmuext_op.cpp), shared by MMUEXT_NEW_BASEPTR,
// MMUEXT_NEW_USER_BASEPTR and VCPUOP_initialise.
#pragma once

#include <cstdint>

namespace xpv::vmm {
class Vcpu;
}

namespace xpv::hv {

// Makes the L4 in `mfn` the kernel (or, with `user`, the user) root of
// `vcpu`: it takes an L4 type reference on it, validating it if it was
// not one yet, and drops the old root's. A user root of 0 means none.
long set_baseptr(vmm::Vcpu& vcpu, uint64_t mfn, bool user);

}  // namespace xpv::hv
