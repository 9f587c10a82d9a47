#include "runtime/test.hpp"

#include <cstdarg>

namespace xpv::guest {

// The registered tests, as an intrusive list in registration order. Its
// members are constant-initialized, so it is ready before the first
// TestCase constructor runs.
class TestRegistry {
 public:
  void append(TestCase& test) {
    if (last_ == nullptr) {
      first_ = &test;
    } else {
      last_->next_ = &test;
    }
    last_ = &test;
  }
  const TestCase* first() const { return first_; }

 private:
  TestCase* first_ = nullptr;
  TestCase* last_ = nullptr;
};

namespace {
constinit TestRegistry registry;
bool current_test_failed = false;
}  // namespace

TestCase::TestCase(const char* name, Body body) : name_(name), body_(body) {
  registry.append(*this);
}

int run_all_tests() {
  unsigned passed = 0;
  unsigned failed = 0;
  for (const TestCase* test = registry.first(); test != nullptr; test = test->next()) {
    printk("[ RUN ] %s\n", test->name());
    current_test_failed = false;
    test->run();
    if (current_test_failed) {
      printk("[ FAIL ] %s\n", test->name());
      ++failed;
    } else {
      printk("[  OK  ] %s\n", test->name());
      ++passed;
    }
  }
  printk("%u passed, %u failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}

namespace test_detail {

void record_failure(const char* file, int line, const char* format, ...) {
  current_test_failed = true;
  printk("  %s:%d: ", file, line);
  va_list args;
  va_start(args, format);
  vprintk(format, args);
  va_end(args);
  print("\n");
}

}  // namespace test_detail
}  // namespace xpv::guest
