// How the xenstore server fails a request: with one of the errno values
// whose names xs_wire.h's xsd_errors table lists, because the wire carries
// the name ("ENOENT"), not the number (docs/misc/xenstore.txt, "Error
// replies"). Result<T> carries either a value or that error.
#pragma once

#include <cerrno>
#include <cstddef>
#include <iterator>
#include <optional>
#include <string_view>
#include <utility>
#include <variant>

#include "base/error.hpp"

namespace xpv::backends::xenstore {

// Host errno values, which is what xs_wire.h's table holds; errno_name()
// finds each there (XenstoreErrors tests that all are).
enum class Errno : int {
  kEINVAL = EINVAL,
  kEACCES = EACCES,
  kEEXIST = EEXIST,
  kEISDIR = EISDIR,
  kENOENT = ENOENT,
  kENOMEM = ENOMEM,
  kENOSPC = ENOSPC,
  kEIO = EIO,
  kENOTEMPTY = ENOTEMPTY,
  kENOSYS = ENOSYS,
  kEROFS = EROFS,
  kEBUSY = EBUSY,
  kEAGAIN = EAGAIN,
  kEISCONN = EISCONN,
  kE2BIG = E2BIG,
  kEPERM = EPERM,
};

// Every Errno, in xsd_errors order; Counters index errors by position here.
inline constexpr Errno kAllErrnos[] = {
    Errno::kEINVAL,    Errno::kEACCES,  Errno::kEEXIST, Errno::kEISDIR,
    Errno::kENOENT,    Errno::kENOMEM,  Errno::kENOSPC, Errno::kEIO,
    Errno::kENOTEMPTY, Errno::kENOSYS,  Errno::kEROFS,  Errno::kEBUSY,
    Errno::kEAGAIN,    Errno::kEISCONN, Errno::kE2BIG,  Errno::kEPERM,
};
inline constexpr size_t kErrnoCount = std::size(kAllErrnos);

// The wire name of `error` from xs_wire.h's xsd_errors ("ENOENT").
std::string_view errno_name(Errno error);
// Position of `error` in kAllErrnos.
size_t errno_index(Errno error);

// A host-side caller misused the store (populate_domain with a malformed
// UUID, say): the message names the operation, path and error.
class StoreError : public Error {
 public:
  StoreError(std::string_view what, std::string_view path, Errno error);
  Errno error() const { return error_; }

 private:
  Errno error_;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::in_place_index<0>, std::move(value)) {}
  Result(Errno error) : state_(std::in_place_index<1>, error) {}

  bool ok() const { return state_.index() == 0; }
  explicit operator bool() const { return ok(); }
  Errno error() const { return std::get<1>(state_); }

  T& value() & { return std::get<0>(state_); }
  const T& value() const& { return std::get<0>(state_); }
  T&& value() && { return std::get<0>(std::move(state_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Errno> state_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Errno error) : error_(error) {}

  bool ok() const { return !error_; }
  explicit operator bool() const { return ok(); }
  Errno error() const { return *error_; }

 private:
  std::optional<Errno> error_;
};

}  // namespace xpv::backends::xenstore
