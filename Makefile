# The two commands of the README, plus the build they share.
BUILD ?= build
JOBS  ?= $(shell nproc)

.PHONY: all deps build run run-linux test bench format clean

all: build

deps:
	@bash scripts/install-deps.sh

$(BUILD)/build.ninja: CMakeLists.txt | deps
	cmake -S . -B $(BUILD) -G Ninja

build: deps $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

# Boots the default guest on the console.
run: build
	$(BUILD)/xpv run --kernel $(BUILD)/guests/hello

# Debian's stock kernel with the project's busybox initramfs (work in
# progress: it boots to its first user process today).
run-linux: build
	bash scripts/fetch-debian-kernel.sh $(BUILD)/debian
	bash scripts/build-initramfs.sh $(BUILD)/debian shell
	$(BUILD)/xpv run --kernel $(BUILD)/debian/vmlinuz \
	  --ramdisk $(BUILD)/debian/initramfs-shell.cpio.gz --cmdline 'console=hvc0'

test: build
	bash scripts/fetch-debian-kernel.sh $(BUILD)/debian
	bash scripts/build-initramfs.sh $(BUILD)/debian boottest
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) --timeout 600

bench: build
	bash bench/run.sh $(BUILD)

format:
	git ls-files '*.cpp' '*.hpp' | xargs clang-format -i

clean:
	rm -rf $(BUILD)
