// Errors that end an xpv operation. Each carries a one-line message that
// says what failed and on which input; modules derive their own type so a
// caller can tell a bad kernel image from a host failure.
#pragma once

#include <stdexcept>
#include <string>

namespace xpv {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A host system call failed: the message names the call and errno.
class SystemError : public Error {
 public:
  SystemError(const std::string& what, int err);
  int code() const { return code_; }

 private:
  int code_;
};

}  // namespace xpv
