// The LDT pieces main.cpp needs for its crash mode.
#pragma once

namespace cpu_selftest {

// Loads an LDT selector into %fs and then takes the LDT away: the next
// return to the guest enters the failsafe callback (or crashes the domain
// when the guest registered none).
void provoke_failsafe();

}  // namespace cpu_selftest
