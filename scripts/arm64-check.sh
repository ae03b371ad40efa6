#!/usr/bin/env bash
# Checks the C kernels (Sources/CRecurrentKernels) against references in double
# (Tests/KernelsC): built for this machine and run on every instruction set its CPU offers,
# then built with clang for ARM64 (aarch64-linux-gnu, against Debian's cross C library) and run
# under qemu-aarch64, where the kernels take their NEON path. Same sources, same checks, same
# compiler flags as SwiftPM's release build of the C target.
#
#   scripts/arm64-check.sh             native and ARM64
#   scripts/arm64-check.sh --arm64     ARM64 only
#   scripts/arm64-check.sh --install   only install what the ARM64 build needs
#
# Installs clang's missing pieces for ARM64 with apt-get when run as root (libc6-dev-arm64-cross,
# libgcc-12-dev-arm64-cross, qemu-user). Exit status: 0 all passed (or, with --install, all
# installed), 1 a check failed, 2 the ARM64 build or emulator is unavailable (after the native
# checks ran and passed).
set -euo pipefail
cd "$(dirname "$0")/.."

mode="${1:-all}"
case "$mode" in
  all | --arm64 | --install) ;;
  *) echo "arm64-check: unknown option '$mode' (use --arm64 or --install)" >&2; exit 2 ;;
esac
only_arm64=0
[ "$mode" = "--arm64" ] && only_arm64=1
out="${RECURRENT_KERNEL_CHECK_DIR:-.build/kernel-check}"
mkdir -p "$out"
clang="$(command -v clang || true)"
if [ -z "$clang" ]; then
  echo "arm64-check: clang not found" >&2
  exit 2
fi
sources=(Sources/CRecurrentKernels/*.c Tests/KernelsC/*.c)
flags=(-O2 -DSWIFT_PACKAGE=1 -fPIC -fno-omit-frame-pointer -std=gnu11
       -ISources/CRecurrentKernels/include -ISources/CRecurrentKernels)
status=0
native_result="not run"

if [ "$only_arm64" = 0 ] && [ "$mode" != "--install" ]; then
  echo "== native build ($(uname -m)), every instruction set this CPU runs"
  if ! "$clang" "${flags[@]}" "${sources[@]}" -o "$out/kernel-check-native" -lm -lpthread; then
    native_result="FAILED to build"; status=1
  elif "$out/kernel-check-native"; then native_result="passed"; else native_result="FAILED"; status=1; fi
fi

# The ARM64 build needs the cross C library and libgcc (crt files) and qemu-aarch64.
cross_ready() {
  [ -f /usr/aarch64-linux-gnu/lib/libc.a ] && ls /usr/lib/gcc-cross/aarch64-linux-gnu/*/libgcc.a >/dev/null 2>&1 \
    && command -v qemu-aarch64 >/dev/null
}
if ! cross_ready && command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
  echo "== installing libc6-dev-arm64-cross, libgcc-12-dev-arm64-cross, qemu-user"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
      libc6-dev-arm64-cross libgcc-12-dev-arm64-cross qemu-user) >"$out/apt.log" 2>&1 \
    || echo "arm64-check: apt-get failed (see $out/apt.log)" >&2
fi
if [ "$mode" = "--install" ]; then
  cross_ready && exit 0
  echo "arm64-check: libc6-dev-arm64-cross, libgcc-12-dev-arm64-cross or qemu-user missing" >&2
  exit 2
fi
arm64_result="skipped: no cross C library or qemu-aarch64 (apt-get install libc6-dev-arm64-cross libgcc-12-dev-arm64-cross qemu-user)"
if cross_ready; then
  echo "== ARM64 build (clang --target=aarch64-linux-gnu, static), run under $(qemu-aarch64 --version | head -n 1)"
  if ! "$clang" --target=aarch64-linux-gnu -fuse-ld=lld -static "${flags[@]}" "${sources[@]}" \
      -o "$out/kernel-check-arm64" -lm -lpthread; then
    arm64_result="FAILED to build"; status=1
  elif qemu-aarch64 "$out/kernel-check-arm64"; then arm64_result="passed (neon)"; else arm64_result="FAILED"; status=1; fi
elif [ "$status" = 0 ]; then
  status=2
fi

echo "== summary"
[ "$only_arm64" = 0 ] && echo "native $(uname -m): $native_result"
echo "arm64 under qemu: $arm64_result"
exit "$status"
