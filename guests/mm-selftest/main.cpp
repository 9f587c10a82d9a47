#include "mm-selftest/selftest.hpp"
#include "runtime/test.hpp"

namespace mm_selftest {

mm::ScratchL1& scratch() {
  static mm::ScratchL1 the_scratch;
  return the_scratch;
}

}  // namespace mm_selftest

int guest_main() {
  mm_selftest::scratch().set_up(509);
  return xpv::guest::run_all_tests();
}
