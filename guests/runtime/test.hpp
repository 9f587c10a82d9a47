// A minimal test runner for guests that test the hypervisor from inside.
//
//   XPV_TEST(ConsoleWriteAcceptsEmptyBuffer) {
//     XPV_EXPECT_EQ(xpv::guest::console_write("", 0), 0);
//   }
//   int guest_main() { return xpv::guest::run_all_tests(); }
//
// Tests run in the order they are defined, and files in link order. Each
// XPV_TEST registers itself from a static constructor (run by
// xpv_guest_start). The output is one line per test plus a summary that the
// host test parses:
//   [ RUN ] name / [  OK  ] name / [ FAIL ] name ... "N passed, M failed".
// XPV_EXPECT* records a failure and goes on. XPV_ASSERT* records a failure
// and returns from the test body.
#pragma once

#include <cstdint>
#include <type_traits>

#include "runtime/console.hpp"

namespace xpv::guest {

class TestCase {
 public:
  using Body = void (*)();
  // Appends the test to the list that run_all_tests walks.
  TestCase(const char* name, Body body);

  const char* name() const { return name_; }
  void run() const { body_(); }
  const TestCase* next() const { return next_; }

 private:
  const char* name_;
  Body body_;
  TestCase* next_ = nullptr;

  friend class TestRegistry;
};

// Runs every registered test. Returns 0 if none failed, so that a guest can
// `return run_all_tests();` from guest_main.
int run_all_tests();

namespace test_detail {

// Marks the running test failed and prints "  file:line: <message>".
[[gnu::format(printf, 3, 4)]] void record_failure(const char* file, int line, const char* format,
                                                  ...);

// Compares integers by value even when their signedness differs, as
// std::cmp_equal does. That way XPV_EXPECT_EQ(u64, 0) needs no cast and gives
// no -Wsign-compare warning.
template <typename A, typename B>
constexpr bool values_equal(const A& a, const B& b) {
  if constexpr (std::is_integral_v<A> && std::is_integral_v<B>) {
    if constexpr (std::is_signed_v<A> == std::is_signed_v<B>) {
      return a == b;
    } else if constexpr (std::is_signed_v<A>) {
      return a >= 0 && static_cast<std::make_unsigned_t<A>>(a) == b;
    } else {
      return b >= 0 && a == static_cast<std::make_unsigned_t<B>>(b);
    }
  } else {
    return a == b;
  }
}

// Prints a value for a failure message: integers in decimal and hex,
// enumerations by their underlying value, pointers in hex.
template <typename T>
void print_value(const T& value) {
  if constexpr (std::is_same_v<T, bool>) {
    print(value ? "true" : "false");
  } else if constexpr (std::is_enum_v<T>) {
    print_value(static_cast<std::underlying_type_t<T>>(value));
  } else if constexpr (std::is_integral_v<T> && std::is_signed_v<T>) {
    printk("%lld (0x%llx)", static_cast<long long>(value), static_cast<unsigned long long>(value));
  } else if constexpr (std::is_integral_v<T>) {
    printk("%llu (0x%llx)", static_cast<unsigned long long>(value),
           static_cast<unsigned long long>(value));
  } else if constexpr (std::is_array_v<T>) {
    print_value(static_cast<const std::remove_extent_t<T>*>(value));
  } else if constexpr (std::is_pointer_v<T>) {
    printk("0x%016lx", reinterpret_cast<uintptr_t>(value));
  } else if constexpr (std::is_null_pointer_v<T>) {
    print("nullptr");
  } else {
    print("<unprintable>");
  }
}

template <typename A, typename B>
bool expect_eq(const A& actual, const B& expected, const char* actual_text,
               const char* expected_text, const char* file, int line) {
  if (values_equal(actual, expected)) return true;
  record_failure(file, line, "expected %s == %s", actual_text, expected_text);
  print("    left:  ");
  print_value(actual);
  print("\n    right: ");
  print_value(expected);
  print("\n");
  return false;
}

inline bool expect_true(bool condition, const char* text, const char* file, int line) {
  if (!condition) record_failure(file, line, "expected %s", text);
  return condition;
}

}  // namespace test_detail
}  // namespace xpv::guest

#define XPV_TEST(name)                                                              \
  static void xpv_test_body_##name();                                               \
  static ::xpv::guest::TestCase xpv_test_case_##name(#name, &xpv_test_body_##name); \
  static void xpv_test_body_##name()

#define XPV_EXPECT(cond) \
  ((void)::xpv::guest::test_detail::expect_true(static_cast<bool>(cond), #cond, __FILE__, __LINE__))

#define XPV_EXPECT_EQ(actual, expected)                                                           \
  ((void)::xpv::guest::test_detail::expect_eq((actual), (expected), #actual, #expected, __FILE__, \
                                              __LINE__))

#define XPV_ASSERT(cond)                                                                  \
  do {                                                                                    \
    if (!::xpv::guest::test_detail::expect_true(static_cast<bool>(cond), #cond, __FILE__, \
                                                __LINE__))                                \
      return;                                                                             \
  } while (0)

#define XPV_ASSERT_EQ(actual, expected)                                                           \
  do {                                                                                            \
    if (!::xpv::guest::test_detail::expect_eq((actual), (expected), #actual, #expected, __FILE__, \
                                              __LINE__))                                          \
      return;                                                                                     \
  } while (0)
