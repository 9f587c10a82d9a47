#include "backends/console/console_ring.hpp"

#include <gtest/gtest.h>
#include <sys/mman.h>

#include <array>
#include <random>
#include <string>
#include <vector>

#include "xen/abi.hpp"

namespace xpv::backends::console {
namespace {

// A console page with an inaccessible page on either side, so any access
// outside it faults instead of passing unnoticed.
class GuardedPage {
 public:
  GuardedPage() {
    void* p = ::mmap(nullptr, 3 * xen::kPageSize, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::runtime_error("mmap");
    base_ = static_cast<uint8_t*>(p);
    if (::mprotect(base_ + xen::kPageSize, xen::kPageSize, PROT_READ | PROT_WRITE) != 0)
      throw std::runtime_error("mprotect");
  }
  ~GuardedPage() { ::munmap(base_, 3 * xen::kPageSize); }
  GuardedPage(const GuardedPage&) = delete;
  GuardedPage& operator=(const GuardedPage&) = delete;

  std::span<uint8_t, xen::kPageSize> span() {
    return std::span<uint8_t, xen::kPageSize>(base_ + xen::kPageSize, xen::kPageSize);
  }
  xencons_interface& ring() { return *reinterpret_cast<xencons_interface*>(span().data()); }

 private:
  uint8_t* base_ = nullptr;
};

std::vector<uint8_t> bytes_of(const std::string& s) {
  return {s.begin(), s.end()};
}

// The guest's side of out[], as hvc_xen's __write_console does it.
void guest_writes_output(xencons_interface& ring, const std::string& text) {
  XENCONS_RING_IDX prod = ring.out_prod;
  for (char c : text)
    ring.out[MASK_XENCONS_IDX(prod++, ring.out)] = c;
  ring.out_prod = prod;
}

// The guest's side of in[], as hvc_xen's domU_read_console does it.
std::string guest_reads_input(xencons_interface& ring) {
  std::string text;
  XENCONS_RING_IDX cons = ring.in_cons;
  while (cons != ring.in_prod)
    text += ring.in[MASK_XENCONS_IDX(cons++, ring.in)];
  ring.in_cons = cons;
  return text;
}

class ConsoleRingTest : public ::testing::Test {
 protected:
  std::string drain(size_t limit = ConsoleRing::kOutputSize) {
    std::vector<uint8_t> dest(limit);
    Transfer t = ring_.read_output(dest);
    EXPECT_FALSE(t.fault.has_value());
    return std::string(dest.begin(), dest.begin() + static_cast<std::ptrdiff_t>(t.bytes));
  }

  GuardedPage page_;
  xencons_interface& guest_ = page_.ring();
  ConsoleRing ring_{page_.span()};
};

TEST_F(ConsoleRingTest, DrainsWhatTheGuestWroteAndAdvancesOutCons) {
  guest_writes_output(guest_, "Linux version 6.1\n");
  EXPECT_EQ(drain(), "Linux version 6.1\n");
  EXPECT_EQ(guest_.out_cons, 18u);
  EXPECT_EQ(guest_.out_prod, 18u);
}

TEST_F(ConsoleRingTest, DrainsNothingFromAnEmptyRing) {
  std::array<uint8_t, 16> dest{};
  Transfer t = ring_.read_output(dest);
  EXPECT_EQ(t.bytes, 0u);
  EXPECT_FALSE(t.fault);
  EXPECT_EQ(guest_.out_cons, 0u);
}

TEST_F(ConsoleRingTest, DrainsAcrossTheEndOfOutAndTheU32WrapOfTheIndices) {
  guest_.out_cons = guest_.out_prod = 0xfffffff0u;                // offset 2032 of out[]
  std::string text = "0123456789abcdefghijklmnopqrstuvwxyzABCD";  // 40 bytes
  guest_writes_output(guest_, text);
  ASSERT_EQ(guest_.out_prod, 0x18u);
  EXPECT_EQ(drain(), text);
  EXPECT_EQ(guest_.out_cons, 0x18u);
}

TEST_F(ConsoleRingTest, PartialDrainLeavesTheRestForTheNextOne) {
  guest_.out_cons = guest_.out_prod = 0xfffffffcu;
  guest_writes_output(guest_, "hello, world");
  EXPECT_EQ(drain(5), "hello");
  EXPECT_EQ(guest_.out_cons, 0x1u);
  EXPECT_EQ(drain(5), ", wor");
  EXPECT_EQ(drain(5), "ld");
  EXPECT_EQ(drain(5), "");
  EXPECT_EQ(guest_.out_cons, guest_.out_prod);
}

TEST_F(ConsoleRingTest, DrainsARingTheGuestFilledCompletely) {
  guest_.out_cons = guest_.out_prod = 1000;
  std::string text;
  for (size_t i = 0; i < ConsoleRing::kOutputSize; ++i)
    text += static_cast<char>('a' + i % 26);
  guest_writes_output(guest_, text);
  EXPECT_EQ(drain(), text);
  EXPECT_EQ(guest_.out_cons, 1000u + ConsoleRing::kOutputSize);
}

TEST_F(ConsoleRingTest, RefusesAProducerMoreThanTheRingAheadOfTheConsumer) {
  guest_.out_cons = 0x100;
  guest_.out_prod = 0x100 + ConsoleRing::kOutputSize + 1;
  std::array<uint8_t, ConsoleRing::kOutputSize> dest{};
  Transfer t = ring_.read_output(dest);
  EXPECT_EQ(t.bytes, 0u);
  ASSERT_TRUE(t.fault);
  EXPECT_EQ(t.fault->ring, RingFault::Ring::kOutput);
  EXPECT_EQ(t.fault->cons, 0x100u);
  EXPECT_EQ(t.fault->prod, 0x100u + ConsoleRing::kOutputSize + 1);
  EXPECT_EQ(guest_.out_cons, 0x100u);  // nothing consumed
}

TEST_F(ConsoleRingTest, RefusesAProducerBehindTheConsumer) {
  guest_.out_cons = 5;
  guest_.out_prod = 4;
  std::array<uint8_t, 8> dest{};
  Transfer t = ring_.read_output(dest);
  EXPECT_EQ(t.bytes, 0u);
  EXPECT_TRUE(t.fault);
  EXPECT_EQ(guest_.out_cons, 5u);
}

TEST_F(ConsoleRingTest, NoIndicesMakeItTouchMemoryOutsideThePage) {
  std::mt19937 random(1234);
  std::array<uint8_t, ConsoleRing::kOutputSize> dest{};
  std::array<uint8_t, 2 * ConsoleRing::kInputSize> input{};
  const XENCONS_RING_IDX interesting[] = {
      0, 1, 1023, 1024, 1025, 2047, 2048, 2049, 0x7fffffffu, 0x80000000u, 0xfffff800u, 0xffffffffu};
  for (int i = 0; i < 20000; ++i) {
    auto pick = [&] {
      return i % 2 ? interesting[random() % std::size(interesting)]
                   : static_cast<uint32_t>(random());
    };
    guest_.out_cons = pick();
    guest_.out_prod = pick();
    guest_.in_cons = pick();
    guest_.in_prod = pick();
    Transfer out = ring_.read_output(dest);
    Transfer in = ring_.write_input(input);
    EXPECT_LE(out.bytes, ConsoleRing::kOutputSize);
    EXPECT_LE(in.bytes, ConsoleRing::kInputSize);
    EXPECT_TRUE(out.bytes == 0 || !out.fault);
    EXPECT_TRUE(in.bytes == 0 || !in.fault);
  }
}

TEST_F(ConsoleRingTest, WritesInputAndAdvancesInProd) {
  auto input = bytes_of("ls -l\r");
  Transfer t = ring_.write_input(input);
  EXPECT_EQ(t.bytes, input.size());
  EXPECT_FALSE(t.fault);
  EXPECT_EQ(guest_.in_prod, 6u);
  EXPECT_EQ(guest_reads_input(guest_), "ls -l\r");
}

TEST_F(ConsoleRingTest, AcceptsNoInputWhileInIsFull) {
  guest_.in_cons = 0xfffffe00u;
  guest_.in_prod = guest_.in_cons + ConsoleRing::kInputSize;
  auto input = bytes_of("x");
  Transfer t = ring_.write_input(input);
  EXPECT_EQ(t.bytes, 0u);
  EXPECT_FALSE(t.fault);
  EXPECT_EQ(guest_.in_prod, 0x200u);
}

TEST_F(ConsoleRingTest, AcceptsInputUpToTheFreeSpace) {
  guest_.in_cons = 0;
  guest_.in_prod = ConsoleRing::kInputSize - 24;
  std::vector<uint8_t> input(100, 'y');
  EXPECT_EQ(ring_.write_input(input).bytes, 24u);
  EXPECT_EQ(guest_.in_prod, ConsoleRing::kInputSize);
}

TEST_F(ConsoleRingTest, InputWrapsAcrossTheEndOfInAndTheU32WrapOfTheIndices) {
  guest_.in_cons = guest_.in_prod = 0xfffffffbu;  // offset 1019 of in[]
  auto input = bytes_of("0123456789");
  EXPECT_EQ(ring_.write_input(input).bytes, 10u);
  EXPECT_EQ(guest_.in_prod, 5u);
  EXPECT_EQ(guest_.in[1019], '0');
  EXPECT_EQ(guest_.in[0], '5');
  EXPECT_EQ(guest_reads_input(guest_), "0123456789");
}

TEST_F(ConsoleRingTest, RefusesInputWhenTheGuestConsumerRunsAheadOfTheProducer) {
  guest_.in_prod = 10;
  guest_.in_cons = 11;
  auto input = bytes_of("z");
  Transfer t = ring_.write_input(input);
  EXPECT_EQ(t.bytes, 0u);
  ASSERT_TRUE(t.fault);
  EXPECT_EQ(t.fault->ring, RingFault::Ring::kInput);
  EXPECT_EQ(guest_.in_prod, 10u);
}

TEST(ConsoleRing, RejectsAPageNotAlignedForTheInterface) {
  alignas(8) static std::array<uint8_t, xen::kPageSize + 8> buffer{};
  std::span<uint8_t, xen::kPageSize> page(buffer.data() + 1, xen::kPageSize);
  EXPECT_THROW(ConsoleRing{page}, ConsoleError);
}

TEST(ConsoleRingFault, DescribesTheRingAndTheIndices) {
  RingFault fault{RingFault::Ring::kOutput, 0x10, 0x1000};
  EXPECT_EQ(fault.describe(),
            "console out ring: out_cons 0x00000010 and out_prod 0x00001000 put 4080 bytes in "
            "flight (ring holds 2048)");
  RingFault input{RingFault::Ring::kInput, 11, 10};
  EXPECT_NE(input.describe().find("in_cons 0x0000000b"), std::string::npos);
}

}  // namespace
}  // namespace xpv::backends::console
