// scripts/build-initramfs.sh, checked on the host without KVM: it builds
// each kind of image into a directory of its own under the build tree, and
// the archive is listed and its /init syntax-checked with the busybox the
// image carries. Needs what `make test` provides: the Debian packages of
// scripts/install-deps.sh and the kernel cache build/debian (fetched by the
// script when missing).
#include <sys/stat.h>
#include <sys/wait.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <sstream>
#include <string>

namespace xpv {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

struct Output {
  int status;  // the command's exit status, or -1 if it did not exit
  std::string text;
};

// Runs COMMAND under /bin/sh with stderr joined to stdout.
Output run(const std::string& command) {
  Output out{-1, {}};
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return out;
  std::array<char, 4096> buffer{};
  size_t n = 0;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0)
    out.text.append(buffer.data(), n);
  const int status = pclose(pipe);
  if (status != -1 && WIFEXITED(status)) out.status = WEXITSTATUS(status);
  return out;
}

std::string quoted(const std::string& s) {
  std::string q = "'";
  for (char c : s)
    q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// One member of the archive: its `cpio -itv` mode string, e.g. "-rwxr-xr-x",
// and where a symbolic link points.
struct Member {
  std::string mode;
  std::string target;
};

class EachKind : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    fs::create_directories(fs::path(XPV_BUILD_DIR) / "tests");
    std::string pattern = std::string(XPV_BUILD_DIR) + "/tests/initramfs-XXXXXX";
    ASSERT_NE(mkdtemp(pattern.data()), nullptr) << pattern;
    dir_ = pattern;
    image_ = dir_ / (std::string("initramfs-") + GetParam() + ".cpio.gz");
  }

  // Kept when a test fails, to look at.
  void TearDown() override {
    if (!HasFailure() && !dir_.empty()) fs::remove_all(dir_);
  }

  Output build(const std::string& kind) const {
    return run("bash " + quoted(std::string(XPV_SOURCE_DIR) + "/scripts/build-initramfs.sh") + " " +
               quoted(dir_.string()) + " " + quoted(kind) + " " +
               quoted(std::string(XPV_BUILD_DIR) + "/debian"));
  }

  // The archive's members by path ("init", "bin/sh", ...). `cpio -it` gives
  // the names exactly; `-itv`, in the same order, the modes and link targets.
  std::map<std::string, Member> members() const {
    const std::string cat = "gzip -dc " + quoted(image_.string()) + " | cpio -it";
    const Output names = run(cat + " --quiet");
    const Output long_list = run(cat + "v --quiet");
    EXPECT_EQ(names.status, 0) << names.text;
    EXPECT_EQ(long_list.status, 0) << long_list.text;
    std::map<std::string, Member> result;
    std::istringstream name_lines(names.text);
    std::istringstream long_lines(long_list.text);
    std::string name;
    std::string line;
    while (std::getline(name_lines, name) && std::getline(long_lines, line)) {
      Member m;
      m.mode = line.substr(0, line.find(' '));
      const std::string arrow = " " + name + " -> ";
      if (const size_t at = line.rfind(arrow); at != std::string::npos)
        m.target = line.substr(at + arrow.size());
      result[name] = m;
    }
    return result;
  }

  fs::path dir_;
  fs::path image_;
};

INSTANTIATE_TEST_SUITE_P(Initramfs, EachKind, ::testing::Values("shell", "boottest"),
                         [](const auto& param_info) { return std::string(param_info.param); });

// The first member of a path that ends in SUFFIX, or "" if none does.
std::string find_suffix(const std::map<std::string, Member>& members, const std::string& suffix) {
  for (const auto& [name, member] : members)
    if (name.size() >= suffix.size() &&
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0)
      return name;
  return "";
}

TEST_P(EachKind, HoldsBusyboxTheXenModulesAndAnExecutableInit) {
  const Output built = build(GetParam());
  ASSERT_EQ(built.status, 0) << built.text;
  EXPECT_THAT(built.text, HasSubstr(image_.string()));
  ASSERT_TRUE(fs::exists(image_));

  const auto m = members();
  ASSERT_TRUE(m.contains("init"));
  EXPECT_EQ(m.at("init").mode, "-rwxr-xr-x");
  ASSERT_TRUE(m.contains("bin/busybox"));
  EXPECT_EQ(m.at("bin/busybox").mode, "-rwxr-xr-x");
  for (const char* applet : {"bin/sh", "bin/mount", "bin/insmod", "bin/poweroff", "bin/setsid"}) {
    ASSERT_TRUE(m.contains(applet)) << applet;
    EXPECT_EQ(m.at(applet).mode[0], 'l') << applet;
    EXPECT_EQ(m.at(applet).target, "busybox") << applet;
  }
  for (const char* dir : {"bin", "dev", "proc", "sys", "tmp", "etc"}) {
    ASSERT_TRUE(m.contains(dir)) << dir;
    EXPECT_EQ(m.at(dir).mode[0], 'd') << dir;
  }
  // Stored uncompressed, whatever the package had: busybox's insmod reads .ko only.
  for (const char* module :
       {"/kernel/drivers/block/xen-blkfront.ko", "/kernel/drivers/net/xen-netfront.ko"}) {
    const std::string path = find_suffix(m, module);
    ASSERT_FALSE(path.empty()) << module;
    EXPECT_TRUE(path.starts_with("lib/modules/")) << path;
    EXPECT_EQ(m.at(path).mode[0], '-') << path;
  }
  EXPECT_FALSE(find_suffix(m, "/modules.dep").empty());
  EXPECT_TRUE(m.contains("etc/xpv-modules"));
}

TEST_P(EachKind, InitIsValidBusyboxShellForItsKind) {
  const Output built = build(GetParam());
  ASSERT_EQ(built.status, 0) << built.text;
  const fs::path extracted = dir_ / "extracted";
  fs::create_directories(extracted);
  const Output unpacked =
      run("cd " + quoted(extracted.string()) + " && gzip -dc " + quoted(image_.string()) +
          " | cpio -id --quiet init bin/busybox etc/xpv-modules");
  ASSERT_EQ(unpacked.status, 0) << unpacked.text;

  // `sh -n` parses without running: the shell the guest will run it with.
  const Output syntax = run(quoted((extracted / "bin/busybox").string()) + " sh -n " +
                            quoted((extracted / "init").string()));
  EXPECT_EQ(syntax.status, 0) << syntax.text;

  const Output init = run("cat " + quoted((extracted / "init").string()));
  EXPECT_THAT(init.text, HasSubstr("mount -t devtmpfs"));
  EXPECT_THAT(init.text, HasSubstr("poweroff -f"));
  if (std::string(GetParam()) == "boottest") {
    EXPECT_THAT(init.text, HasSubstr("XPV-TEST: "));
    for (const char* marker :
         {"mark \"uname-r ", "mark \"cpus ", "mark \"memtotal-kib ", "mark \"fork-exec 1000 ",
          "mark \"fork-exec-ms ", "mark \"alloc-100mib ", "mark \"sleep-1s-ms ",
          "mark \"dmesg-clean ", "mark \"done\""})
      EXPECT_THAT(init.text, HasSubstr(marker));
  } else {
    EXPECT_THAT(init.text, HasSubstr("setsid sh -c"));
    EXPECT_THAT(init.text, HasSubstr("sh -i"));
  }

  // /init loads the modules in the order this lists them: blkfront and netfront.
  const Output order = run("cat " + quoted((extracted / "etc/xpv-modules").string()));
  EXPECT_THAT(order.text, HasSubstr("/xen-blkfront.ko\n"));
  EXPECT_THAT(order.text, HasSubstr("/xen-netfront.ko\n"));
}

TEST_P(EachKind, SecondBuildReusesTheCachedImage) {
  const Output first = build(GetParam());
  ASSERT_EQ(first.status, 0) << first.text;
  struct stat before {};
  ASSERT_EQ(stat(image_.c_str(), &before), 0);
  const auto mtime = fs::last_write_time(image_);

  const Output second = build(GetParam());
  ASSERT_EQ(second.status, 0) << second.text;
  EXPECT_THAT(second.text, HasSubstr(image_.string()));
  struct stat after {};
  ASSERT_EQ(stat(image_.c_str(), &after), 0);
  // A rebuild renames a new file over the image: a new inode, a new mtime.
  EXPECT_EQ(fs::last_write_time(image_), mtime);
  EXPECT_EQ(after.st_ino, before.st_ino);
}

TEST_P(EachKind, RebuildsWhenItsInputsChanged) {
  const Output first = build(GetParam());
  ASSERT_EQ(first.status, 0) << first.text;
  struct stat before {};
  ASSERT_EQ(stat(image_.c_str(), &before), 0);

  // What a changed input (script, busybox, kernel package) looks like to the cache.
  const fs::path stamp = dir_ / (std::string("initramfs-") + GetParam() + ".stamp");
  ASSERT_TRUE(fs::exists(stamp));
  ASSERT_EQ(run("echo changed > " + quoted(stamp.string())).status, 0);
  const Output second = build(GetParam());
  ASSERT_EQ(second.status, 0) << second.text;
  struct stat after {};
  ASSERT_EQ(stat(image_.c_str(), &after), 0);
  EXPECT_NE(after.st_ino, before.st_ino);
  EXPECT_EQ(run("cat " + quoted(stamp.string())).text.size(), 65u) << "a sha256 and a newline";
}

TEST(InitramfsScript, RefusesAnUnknownKind) {
  const Output out =
      run("bash " + quoted(std::string(XPV_SOURCE_DIR) + "/scripts/build-initramfs.sh") + " " +
          quoted(std::string(XPV_BUILD_DIR) + "/tests/initramfs-unused") + " desktop");
  EXPECT_NE(out.status, 0);
  EXPECT_THAT(out.text, HasSubstr("unknown KIND"));
  fs::remove_all(fs::path(XPV_BUILD_DIR) / "tests/initramfs-unused");
}

}  // namespace
}  // namespace xpv
