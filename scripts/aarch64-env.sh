#!/usr/bin/env bash
# Build the emulated aarch64 Python environment (the `qemu-aarch64` host of DESIGN.md, "Hosts").
#
#   scripts/aarch64-env.sh     # build into .cache/aarch64 (or $AARCH64_ENV_DIR)
#
# Result, under $AARCH64_ENV_DIR (default <repo>/.cache/aarch64):
#   sysroot/     arm64 Debian 12 userland with CPython 3.11, unpacked from `apt-get download`ed .debs
#   site/        aarch64 wheels of the project's dependencies (pip --platform ... --target)
#   bin/python3  launcher: runs the arm64 Python under qemu-aarch64-static (user-mode emulation)
#   debs/        the downloaded .debs (kept as a cache for rebuilds)
#
# Idempotent: sysroot/ and site/ each carry a stamp with a hash of what built them (the package
# list, the dependency list from pyproject.toml, this script's layout version); a second run with
# nothing changed only rewrites the launcher and takes a few seconds. Needs root (or sudo) only
# for what it installs on the host: qemu-user-static and the arm64 dpkg architecture.
# See scripts/README-aarch64.md.

set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
ENV_DIR=${AARCH64_ENV_DIR:-.cache/aarch64}
case $ENV_DIR in /*) ;; *) ENV_DIR=$REPO/$ENV_DIR ;; esac # relative: to the repository root
mkdir -p "$ENV_DIR"
ENV_DIR=$(cd "$ENV_DIR" && pwd -P)
SYSROOT=$ENV_DIR/sysroot
SITE=$ENV_DIR/site
DEBS=$ENV_DIR/debs
LAUNCHER=$ENV_DIR/bin/python3
PYVER=3.11
# Bump when the way sysroot/ or site/ is built changes, to force a rebuild of that part.
SYSROOT_LAYOUT=1
SITE_LAYOUT=1

# The arm64 packages (Debian 12 "bookworm") unpacked into sysroot/: the Depends closure of
# python3.11-minimal and libpython3.11-stdlib (every extension module in lib-dynload loads), plus
# the C/C++/OpenMP runtimes the wheels link against (libstdc++6, libgomp1 for Numba's omp
# threading layer). Found with `apt-cache depends --recurse python3.11-minimal:arm64
# libpython3.11-stdlib:arm64 libgomp1:arm64 libstdc++6:arm64`, leaving out what only the package
# manager needs (dpkg, tar, perl, install-info, readline-common, mime-support).
DEB_PACKAGES=(
    python3.11-minimal libpython3.11-minimal libpython3.11-stdlib
    libc6 libgcc-s1 gcc-12-base libstdc++6 libgomp1
    zlib1g libffi8 libssl3 libexpat1 libbz2-1.0 liblzma5 libsqlite3-0 libuuid1 libcrypt1
    libdb5.3 libncursesw6 libtinfo6 libreadline8 libnsl2 libtirpc3
    libgssapi-krb5-2 libkrb5-3 libk5crypto3 libkrb5support0 libcom-err2 libkeyutils1
)
DEB_PACKAGES_ALL=(media-types libtirpc-common) # architecture "all": no :arm64 suffix

# Wheel platforms: glibc 2.36 (bookworm) runs any manylinux_2_x with x <= 36.
PLATFORMS=(--platform manylinux2014_aarch64)
for minor in $(seq 17 36); do PLATFORMS+=(--platform "manylinux_2_${minor}_aarch64"); done

STEP="start"
T0=$(date +%s)
say() { printf '[aarch64-env] %s\n' "$*"; }
step() { STEP=$1; say "$1"; }
DIED=0
die() { printf '[aarch64-env] FAILED: %s\n' "$*" >&2; DIED=1; exit 1; }
on_exit() {
    local rc=$?
    if [ "$rc" -ne 0 ] && [ "$DIED" -eq 0 ]; then
        printf '[aarch64-env] FAILED during "%s" (exit %s); output above.\n' "$STEP" "$rc" >&2
    fi
}
trap on_exit EXIT

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || die "not root and no sudo: cannot install host packages"
    SUDO=(sudo -n)
fi
APT_OPTS=(-q -y -o Dpkg::Use-Pty=0)
[ "$(id -u)" -eq 0 ] && APT_OPTS+=(-o APT::Sandbox::User=root) # apt-get download into our dir

hash_of() { sha256sum | cut -c1-16; }

# ---------------------------------------------------------------------------- host prerequisites

# Serialize concurrent builds (parallel make, two shells) of the same env.
exec 9>"$ENV_DIR/.lock"
flock 9 || die "cannot lock $ENV_DIR/.lock"

APT_UPDATED=0
apt_update() {
    if [ "$APT_UPDATED" -eq 0 ]; then
        say "apt-get update"
        "${SUDO[@]}" apt-get update -qq || die "apt-get update failed"
        APT_UPDATED=1
    fi
}

step "host: qemu-user-static"
if ! command -v qemu-aarch64-static >/dev/null; then
    apt_update
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install "${APT_OPTS[@]}" \
        --no-install-recommends qemu-user-static >/dev/null ||
        die "apt-get install qemu-user-static failed"
fi
QEMU=$(command -v qemu-aarch64-static) || die "qemu-aarch64-static not found after install"

step "host: python and pip for the wheel download"
PIP_PY=""
for candidate in "${AARCH64_PIP_PYTHON:-}" "${PYTHON:-}" python3 "$REPO/.venv/bin/python"; do
    [ -n "$candidate" ] || continue
    if "$candidate" -c 'import sys, tomllib; assert sys.version_info >= (3, 11)' 2>/dev/null &&
        "$candidate" -m pip --version >/dev/null 2>&1; then
        PIP_PY=$candidate
        break
    fi
done
[ -n "$PIP_PY" ] || die "need a Python >= 3.11 with pip on the host (set AARCH64_PIP_PYTHON)"
HOST_PYVER=$("$PIP_PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')

# The wheel requirements: [project] dependencies of pyproject.toml, plus pytest from the dev extra
# (pytest-benchmark imports it); the same version constraints.
REQUIREMENTS=$("$PIP_PY" - "$REPO/pyproject.toml" <<'EOF'
import re, sys, tomllib
project = tomllib.load(open(sys.argv[1], "rb"))["project"]
reqs = list(project["dependencies"])
name = lambda r: re.split(r"[\s<>=!~;\[]", r, maxsplit=1)[0].lower()
reqs += [r for r in project.get("optional-dependencies", {}).get("dev", []) if name(r) == "pytest"]
print("\n".join(reqs))
EOF
) || die "cannot read the dependency list from pyproject.toml"

SYSROOT_KEY=$(printf '%s\n' "layout=$SYSROOT_LAYOUT" "${DEB_PACKAGES[@]}" "${DEB_PACKAGES_ALL[@]}" | hash_of)
SITE_KEY=$(printf '%s\n' "layout=$SITE_LAYOUT" "python=$PYVER" "$REQUIREMENTS" "${PLATFORMS[@]}" | hash_of)

# Until both parts are built and checked there is no launcher, so a half-built env is not used.
if [ "$(cat "$SYSROOT/.stamp" 2>/dev/null)" != "$SYSROOT_KEY" ] ||
    [ "$(cat "$SITE/.stamp" 2>/dev/null)" != "$SITE_KEY" ]; then
    rm -f "$LAUNCHER"
fi

# ---------------------------------------------------------------------------- sysroot

BUILT=0
if [ "$(cat "$SYSROOT/.stamp" 2>/dev/null)" != "$SYSROOT_KEY" ]; then
    BUILT=1
    step "sysroot: arm64 dpkg architecture"
    if ! dpkg --print-foreign-architectures | grep -qx arm64; then
        "${SUDO[@]}" dpkg --add-architecture arm64
        APT_UPDATED=0
        apt_update
    fi
    if ! apt-cache show python3.11-minimal:arm64 >/dev/null 2>&1; then
        apt_update
        apt-cache show python3.11-minimal:arm64 >/dev/null 2>&1 ||
            die "no python3.11-minimal:arm64 in the apt sources (Debian 12 bookworm expected)"
    fi

    step "sysroot: apt-get download ${#DEB_PACKAGES[@]} arm64 packages"
    rm -rf "$DEBS" "$SYSROOT"
    mkdir -p "$DEBS"
    (cd "$DEBS" && apt-get download "${APT_OPTS[@]}" \
        "${DEB_PACKAGES[@]/%/:arm64}" "${DEB_PACKAGES_ALL[@]}" >/dev/null) ||
        die "apt-get download of the arm64 packages failed"

    step "sysroot: unpack into $SYSROOT"
    mkdir -p "$SYSROOT"
    for deb in "$DEBS"/*.deb; do
        dpkg-deb -x "$deb" "$SYSROOT" || die "dpkg-deb -x $deb failed"
    done
    for deb in "$DEBS"/*.deb; do
        # shellcheck disable=SC2016 # dpkg-deb expands these, not the shell
        dpkg-deb -W --showformat='${Package}:${Architecture} ${Version}\n' "$deb"
    done >"$SYSROOT/.packages"
    [ -x "$SYSROOT/usr/bin/python$PYVER" ] || die "no usr/bin/python$PYVER in the unpacked sysroot"
    [ -e "$SYSROOT/lib/ld-linux-aarch64.so.1" ] || die "no arm64 dynamic loader in the sysroot"

    step "sysroot: byte-compile the standard library"
    if [ "$HOST_PYVER" = "$PYVER" ]; then
        # Same minor version: same bytecode magic, so the host compiles it in seconds.
        "$PIP_PY" -m compileall -q -j0 "$SYSROOT/usr/lib/python$PYVER" >/dev/null ||
            say "warning: some standard library files did not byte-compile (harmless)"
    else
        say "host Python is $HOST_PYVER, not $PYVER: the emulated Python compiles on first import"
    fi
    echo "$SYSROOT_KEY" >"$SYSROOT/.stamp"
else
    say "sysroot up to date ($SYSROOT)"
fi

# ---------------------------------------------------------------------------- launcher

step "launcher: write $LAUNCHER"
mkdir -p "$ENV_DIR/bin"
cat >"$LAUNCHER.new" <<EOF
#!/bin/sh
# arm64 CPython $PYVER under QEMU user-mode emulation. Written by scripts/aarch64-env.sh: do not edit.
# -L: the arm64 loader and libraries come from the sysroot (absolute paths are looked up there
#     first, then on the host).
# -0: argv[0] of the emulated Python is this launcher, so sys.executable is this launcher and the
#     children it starts with sys.executable (subprocess, multiprocessing spawn) are emulated too;
#     the arm64 binary itself cannot be exec'd by this kernel (no binfmt_misc registration).
# PYTHONHOME: the sysroot's stdlib (a host path, so the host's /usr/lib/python3/dist-packages
#     never leaks in); PYTHONNOUSERSITE: nor the host's ~/.local site-packages.
# PYTHONPATH: the repository (harness, workloads) and the aarch64 wheels; a caller's PYTHONPATH
#     (x86 paths) is dropped, AARCH64_PYTHONPATH is appended instead.
SYSROOT='$SYSROOT'
export PYTHONHOME="\$SYSROOT/usr"
export PYTHONNOUSERSITE=1
export PYTHONPATH='$REPO:$SITE'"\${AARCH64_PYTHONPATH:+:\$AARCH64_PYTHONPATH}"
# HARNESS_PYTHON: this launcher, for code that must start the same interpreter; HARNESS_EMULATED:
#     a marker that this Python runs under emulation (its timings are not native).
export HARNESS_PYTHON='$LAUNCHER'
export HARNESS_EMULATED=qemu-aarch64
exec '$QEMU' -L "\$SYSROOT" -0 '$LAUNCHER' "\$SYSROOT/usr/bin/python$PYVER" "\$@"
EOF
chmod +x "$LAUNCHER.new" # moved into place at the end, once everything works

# ---------------------------------------------------------------------------- site

if [ "$(cat "$SITE/.stamp" 2>/dev/null)" != "$SITE_KEY" ]; then
    BUILT=1
    step "site: pip install aarch64 wheels into $SITE (about 600 MB, a minute or two)"
    say "requirements: $(echo "$REQUIREMENTS" | paste -sd' ')"
    rm -rf "$SITE"
    compile=()
    [ "$HOST_PYVER" = "$PYVER" ] || compile=(--no-compile)
    # -qq: only errors (this machine's pip config names extra indexes that warn per package).
    # --no-warn-conflicts: pip would compare with the host interpreter's own packages.
    echo "$REQUIREMENTS" >"$ENV_DIR/requirements.txt"
    "$PIP_PY" -m pip install -qq --disable-pip-version-check --no-input --no-warn-conflicts \
        --target "$SITE" --only-binary=:all: "${PLATFORMS[@]}" \
        --python-version "$PYVER" --implementation cp --abi "cp${PYVER/./}" \
        "${compile[@]}" -r "$ENV_DIR/requirements.txt" ||
        die "pip install of the aarch64 wheels failed (no aarch64 wheel for a dependency?)"
    rm -rf "${SITE:?}/bin" # console scripts with the host interpreter's shebang: useless here
    "$PIP_PY" -m pip list --path "$SITE" --format freeze 2>/dev/null >"$SITE/.versions" || true
    echo "$SITE_KEY" >"$SITE/.stamp"
else
    say "site up to date ($SITE)"
fi

# ---------------------------------------------------------------------------- check

if [ "$BUILT" -eq 1 ]; then
    step "check: the stack imports and JITs under emulation (~15 s)"
    if ! "$LAUNCHER.new" - <<'EOF'; then
import importlib, os, platform, sys
assert platform.machine() == "aarch64", platform.machine()
dynload = os.path.join(sys.prefix, "lib", "python3.11", "lib-dynload")
for f in os.listdir(dynload):  # every stdlib extension finds its arm64 libraries
    importlib.import_module(f.split(".")[0])
import numba, numpy, scipy, pandas, llvmlite, psutil, threadpoolctl, jinja2, rich, plotly
import pytest, pytest_benchmark, cpuinfo
assert numba.njit(lambda x: x + 1)(1) == 2
print("[aarch64-env] ok:", platform.machine(), "python", platform.python_version(),
      "numba", numba.__version__, "numpy", numpy.__version__, "scipy", scipy.__version__)
EOF
        rm -f "$SYSROOT/.stamp" "$SITE/.stamp" # rebuild both next time
        die "the emulated Python cannot import the stack or JIT a kernel"
    fi
    say "sizes: site $(du -sh "$SITE" | cut -f1), sysroot $(du -sh "$SYSROOT" | cut -f1)"
fi

mv -f "$LAUNCHER.new" "$LAUNCHER"
STEP="done"
say "ready in $(($(date +%s) - T0)) s: $LAUNCHER"
