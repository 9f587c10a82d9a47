#include "cpu-selftest/options.hpp"

#include "runtime/console.hpp"
#include "runtime/runtime.hpp"
#include "runtime/string.hpp"

namespace cpu_selftest {

namespace {

bool has_word(const char* word, size_t length) {
  const char* line = reinterpret_cast<const char*>(xpv::guest::start_info_page().cmd_line);
  size_t line_length = 0;
  while (line_length < MAX_GUEST_CMDLINE && line[line_length] != '\0')
    ++line_length;
  for (size_t start = 0; start < line_length;) {
    size_t end = start;
    while (end < line_length && line[end] != ' ')
      ++end;
    if (end - start == length && memcmp(line + start, word, length) == 0) return true;
    start = end + 1;
  }
  return false;
}

}  // namespace

bool has_option(const char* name) {
  return has_word(name, strlen(name));
}

bool known_bug_check_enabled(const char* name) {
  char word[64] = "check=";
  size_t prefix = strlen(word);
  size_t length = strlen(name);
  if (prefix + length >= sizeof word) xpv::guest::panic("check name too long: %s", name);
  memcpy(word + prefix, name, length);
  if (has_word(word, prefix + length)) return true;
  xpv::guest::printk("  skipped: known xpv bug, run with check=%s\n", name);
  return false;
}

}  // namespace cpu_selftest
