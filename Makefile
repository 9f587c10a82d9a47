# The two commands of the README, plus the build they share.
BUILD ?= build
JOBS  ?= $(shell nproc)

.PHONY: all deps build run run-hello test bench format clean

all: build

deps:
	@bash scripts/install-deps.sh

$(BUILD)/build.ninja: CMakeLists.txt | deps
	cmake -S . -B $(BUILD) -G Ninja

build: deps $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

# Boots the default guest: Debian's stock kernel with the project's busybox
# initramfs, to a shell on this terminal (hvc0). `poweroff -f` ends it;
# Ctrl-] leaves at once.
run: build
	bash scripts/fetch-debian-kernel.sh $(BUILD)/debian
	bash scripts/build-initramfs.sh $(BUILD)/debian shell
	$(BUILD)/xpv run --kernel $(BUILD)/debian/vmlinuz \
	  --ramdisk $(BUILD)/debian/initramfs-shell.cpio.gz --cmdline 'console=hvc0 quiet'

# The smallest guest: prints a greeting and powers off.
run-hello: build
	$(BUILD)/xpv run --kernel $(BUILD)/guests/hello

test: build
	bash scripts/fetch-debian-kernel.sh $(BUILD)/debian
	bash scripts/build-initramfs.sh $(BUILD)/debian boottest
	bash scripts/build-initramfs.sh $(BUILD)/debian shell
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) --timeout 600

# BENCH: sections of bench/run.sh (startup cpu mm linux, or all).
BENCH ?= all
bench: build
	bash bench/run.sh $(BUILD) $(BENCH)

format:
	git ls-files '*.cpp' '*.hpp' | xargs clang-format -i

clean:
	rm -rf $(BUILD)
