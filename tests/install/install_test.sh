#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# install_test.sh SOURCE_DIR [WORK_DIR]
#
# Installs the project into a scratch prefix and checks what packagers and
# third-party plugin authors get: the library's SONAME, the plugin folder and
# its modes, no RPATH/RUNPATH but the command's own $ORIGIN-relative one,
# the headers and the kit's documentation, pkg-config (including
# pluginsdir), the CMake package (find_package, acp_storage_add_plugin), and
# the installed acp-storage finding its library and the installed plugins by
# itself, with no environment, and running `acp-storage check` against the
# out-of-tree example backend (examples/hello_backend) built from the
# installed package alone.
#
# Installs: the default relative CMAKE_INSTALL_LIBDIR, installed with
# `cmake --install --prefix` into another prefix than the one configured,
# then that install moved elsewhere and checked again; an absolute, multiarch
# CMAKE_INSTALL_LIBDIR; and a Debian-style /usr install (staged with
# DESTDIR), which must carry no RPATH at all.  They share one build folder
# (only what depends on the install paths is rebuilt), and that folder is
# moved away while the installs are checked, so that nothing can quietly come
# from the build tree.
#
# WORK_DIR (default: a temporary directory) is wiped first and removed on
# success; on failure it is kept for inspection.
set -euo pipefail

die() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }
ok() { printf 'ok - %s\n' "$*"; }

[ $# -ge 1 ] || die "usage: $0 SOURCE_DIR [WORK_DIR]"
src=$(cd "$1" && pwd)
work=${2:-$(mktemp -d "${TMPDIR:-/tmp}/acp-install-test.XXXXXX")}
rm -rf "$work"
mkdir -p "$work"
work=$(cd "$work" && pwd)

for tool in cmake cc readelf pkg-config; do
    command -v "$tool" >/dev/null || die "'$tool' is not installed (Debian: cmake, build-essential, binutils, pkg-config)"
done

# Whatever the caller has set must not help: every path below is explicit.
unset ACP_STORAGE_PLUGIN_PATH ACP_STORAGE_URL ACP_STORAGE_DEBUG PKG_CONFIG_PATH CMAKE_PREFIX_PATH
export LC_ALL=C

build="$work/build"
hidden="$work/build.moved-away"
jobs=2

# run LOG CMD...: run CMD with its output in LOG; show the log if it fails.
run() {
    local log=$1
    shift
    if ! "$@" >"$log" 2>&1; then
        cat "$log" >&2
        die "command failed: $*"
    fi
}

is_elf() { [ "$(head -c 4 "$1" | od -An -c | tr -d ' ')" = '177ELF' ]; }

check_install() {
    local name=$1 prefix=$2 libdir=$3
    local plugindir="$libdir/acp-storage-1"
    local tmp="$work/$name"
    mkdir -p "$tmp"
    printf '# %s install: prefix %s, libdir %s\n' "$name" "$prefix" "$libdir"

    # ---- the library and its SONAME ----
    local version soname real
    version=$(sed -n 's/^#define ACP_STORAGE_VERSION_STRING "\(.*\)"$/\1/p' "$prefix/include/acp_storage_version.h")
    [ -n "$version" ] || die "no ACP_STORAGE_VERSION_STRING in the installed acp_storage_version.h"
    soname="libacp_storage.so.${version%%.*}"
    [ -L "$libdir/$soname" ] || die "$libdir/$soname is not a symbolic link"
    [ -L "$libdir/libacp_storage.so" ] || die "$libdir/libacp_storage.so (the link for -lacp_storage) is missing"
    real=$(readlink -f "$libdir/$soname")
    [ "$real" = "$libdir/libacp_storage.so.$version" ] || die "$soname points to $real, expected libacp_storage.so.$version"
    [ "$(readlink -f "$libdir/libacp_storage.so")" = "$real" ] || die "libacp_storage.so and $soname point to different files"
    readelf -d "$real" | grep -q "(SONAME).*\[$soname\]" || die "$real has no SONAME $soname: $(readelf -d "$real" | grep SONAME || true)"
    ok "$name: $soname -> libacp_storage.so.$version with SONAME $soname"

    # ---- headers ----
    local h
    for h in acp_storage.h acp_storage_plugin.h acp_storage_status.h acp_storage_version.h \
             acp_storage_bind.h; do
        [ -f "$prefix/include/$h" ] || die "header $prefix/include/$h not installed"
    done
    ok "$name: headers installed"

    # ---- installed text files point at the install, not the trees it came from ----
    local leak
    leak=$(grep -rIlF -e "$src/include" -e "$src/cmake" -e "$src/core" -e "$build" "$prefix" || true)
    [ -z "$leak" ] || die "installed files name the source or build tree: $leak"
    [ -f "$prefix/share/man/man1/acp-storage.1" ] || die "the man page acp-storage.1 is not installed"
    local doc
    for doc in plugin-guide.md abi-policy.md storage-contract.md README.md LICENSE CHANGELOG.md; do
        [ -s "$prefix/share/doc/acp-storage/$doc" ] || die "share/doc/acp-storage/$doc is not installed"
    done
    [ "$(ls "$prefix/share/doc")" = acp-storage ] ||
        die "the documentation is split over several folders: $(ls "$prefix/share/doc" | tr '\n' ' ')"
    ok "$name: no installed file names the source or build tree; man page and kit documentation installed"

    # ---- plugins: private folder, mode 0644, modules without SONAME ----
    [ -d "$plugindir" ] || die "plugin directory $plugindir not installed"
    local p mode found=0
    for p in "$plugindir"/libacp_storage_*.so; do
        [ -e "$p" ] || die "no plugin installed in $plugindir"
        found=$((found + 1))
        mode=$(stat -c %a "$p")
        [ "$mode" = 644 ] || die "$p has mode $mode, expected 644 (plugins are dlopen()ed, not executed)"
        if readelf -d "$p" | grep -q '(SONAME)'; then
            die "$p has a SONAME: plugins are modules, never linked against"
        fi
    done
    for p in memory sqlite; do
        [ -f "$plugindir/libacp_storage_$p.so" ] || die "shipped plugin $p not installed in $plugindir"
    done
    if ls "$libdir"/libacp_storage_*.so >/dev/null 2>&1; then
        die "plugins installed into the linker path $libdir"
    fi
    ok "$name: $found plugins in $plugindir, mode 0644, no SONAME"

    # ---- no RPATH or RUNPATH but the command's, relative to itself ----
    local f elves=0 want_runpath
    want_runpath="\$ORIGIN/$(realpath -m --relative-to="$prefix/bin" "$libdir")"
    while IFS= read -r -d '' f; do
        is_elf "$f" || continue
        elves=$((elves + 1))
        if [ "$f" = "$prefix/bin/acp-storage" ]; then
            readelf -d "$f" | grep -qF "(RUNPATH)            Library runpath: [$want_runpath]" \
                || die "$f: RUNPATH is not [$want_runpath]: $(readelf -d "$f" | grep -E 'RPATH|RUNPATH' || echo none)"
        elif readelf -d "$f" | grep -Eq '\((RPATH|RUNPATH)\)'; then
            die "$f carries $(readelf -d "$f" | grep -E 'RPATH|RUNPATH')"
        fi
    done < <(find "$prefix" -type f -print0)
    [ "$elves" -ge 4 ] || die "only $elves ELF files found under $prefix"
    ok "$name: the command's RUNPATH is $want_runpath; no RPATH/RUNPATH in the other $((elves - 1)) ELF files"

    # ---- pkg-config ----
    local pc_dir="$libdir/pkgconfig"
    [ -f "$pc_dir/acp_storage.pc" ] || die "$pc_dir/acp_storage.pc not installed"
    local pkgdir modversion
    # Relocatable: the answer is relative to the .pc file (${pcfiledir}/..).
    pkgdir=$(realpath -m "$(PKG_CONFIG_PATH="$pc_dir" pkg-config --variable=pluginsdir acp_storage)")
    [ "$pkgdir" = "$plugindir" ] || die "pkg-config pluginsdir is '$pkgdir', the plugins are in '$plugindir'"
    grep -q -- '--cflags only' "$pc_dir/acp_storage.pc" \
        || die "acp_storage.pc does not say that a plugin uses --cflags only"
    modversion=$(PKG_CONFIG_PATH="$pc_dir" pkg-config --modversion acp_storage)
    [ "$modversion" = "$version" ] || die "pkg-config version $modversion, headers say $version"
    cat >"$tmp/app.c" <<'EOF'
#include <stdio.h>
#include <string.h>
#include <acp_storage.h>
int main(void)
{
    acp_error err;
    acp_store *store;
    if (strcmp(acp_version(), ACP_STORAGE_VERSION_STRING) != 0) {
        fprintf(stderr, "header %s, library %s\n", ACP_STORAGE_VERSION_STRING, acp_version());
        return 1;
    }
    /* No plugin path anywhere: the compiled-in plugin directory must do. */
    if (acp_store_open("memory:", &store, &err) != ACP_OK) {
        fprintf(stderr, "%s\n", err.message);
        return 1;
    }
    int rc = acp_run_save(store, "{\"run_id\":\"r\",\"agent_name\":\"a\",\"status\":\"created\"}",
                          ACP_STRLEN, &err) != ACP_OK;
    acp_store_close(store);
    return rc;
}
EOF
    # shellcheck disable=SC2046  # word splitting of the flags is wanted
    run "$tmp/app-build.log" cc -std=c11 -Wall -Wextra -Werror -o "$tmp/app" "$tmp/app.c" \
        $(PKG_CONFIG_PATH="$pc_dir" pkg-config --cflags --libs acp_storage)
    run "$tmp/app-run.log" env LD_LIBRARY_PATH="$libdir" "$tmp/app"
    ok "$name: pkg-config: pluginsdir, version, --cflags --libs build an app that opens memory:"

    # ---- the CMake package ----
    mkdir -p "$tmp/pkg"
    cat >"$tmp/pkg/CMakeLists.txt" <<'EOF'
cmake_minimum_required(VERSION 3.25)
project(acp_pkg_probe C) # C: lib/<multiarch> is searched only with a language
find_package(acp_storage ${WANT} CONFIG REQUIRED)
foreach(t acp_storage::acp_storage acp_storage::plugin_headers)
  if(NOT TARGET ${t})
    message(FATAL_ERROR "${t} missing")
  endif()
endforeach()
if(NOT COMMAND acp_storage_add_plugin)
  message(FATAL_ERROR "acp_storage_add_plugin() missing")
endif()
message(STATUS "ACP_STORAGE_PLUGINDIR=${ACP_STORAGE_PLUGINDIR}")
EOF
    run "$tmp/pkg.log" cmake -S "$tmp/pkg" -B "$tmp/pkg-build" -DWANT=0.1 -DCMAKE_PREFIX_PATH="$prefix"
    grep -qxF -- "-- ACP_STORAGE_PLUGINDIR=$plugindir" "$tmp/pkg.log" \
        || die "the CMake package names another plugin directory: $(grep PLUGINDIR "$tmp/pkg.log")"
    if cmake -S "$tmp/pkg" -B "$tmp/pkg-build-1" -DWANT=1 -DCMAKE_PREFIX_PATH="$prefix" >"$tmp/pkg1.log" 2>&1; then
        die "find_package(acp_storage 1) accepted version $version (the package must be SameMajorVersion)"
    fi
    ok "$name: find_package(acp_storage 0.1) gives both targets, the helper and the plugin directory; 1.0 is refused"

    # ---- the out-of-tree example, against the installed package only ----
    local ex="$tmp/example-build"
    run "$tmp/example-configure.log" cmake -S "$src/examples/hello_backend" -B "$ex" \
        -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_C_FLAGS="-Wall -Wextra -Werror"
    run "$tmp/example-build.log" cmake --build "$ex" -j"$jobs"
    local so="$ex/libacp_storage_hello.so"
    [ -f "$so" ] || die "the example did not produce libacp_storage_hello.so"
    if readelf -d "$so" | grep -Eq '\((SONAME|RPATH|RUNPATH)\)'; then
        die "$so has a SONAME, RPATH or RUNPATH"
    fi
    if readelf -d "$so" | grep -q 'NEEDED.*libacp_storage\.so'; then
        die "$so links the core library: plugins must not"
    fi
    local exports
    exports=$(readelf --dyn-syms -W "$so" | awk '$5 == "GLOBAL" && $7 != "UND" {print $8}' | sort -u | tr '\n' ' ')
    [ "$exports" = "acp_storage_hello_plugin " ] || die "$so exports '$exports', expected only acp_storage_hello_plugin"
    # Its install rule puts it, mode 0644, into the package's plugin
    # directory under the prefix it is installed to.
    run "$tmp/example-install.log" env DESTDIR="$tmp/stage" cmake --install "$ex" --prefix "$prefix"
    local staged="$tmp/stage$plugindir/libacp_storage_hello.so"
    [ -f "$staged" ] || die "cmake --install of the example did not install into $plugindir: $(cat "$tmp/example-install.log")"
    [ "$(stat -c %a "$staged")" = 644 ] || die "$staged has mode $(stat -c %a "$staged")"
    ok "$name: example built with find_package; exports only its entry; installs into pluginsdir"

    # ---- the installed acp-storage ----
    local tool="$prefix/bin/acp-storage"
    [ -x "$tool" ] || die "$tool is not installed (tools/acp-storage must install the command)"
    local mine="$tmp/my-plugins"
    mkdir -p "$mine"
    cp "$so" "$mine/"
    # No LD_LIBRARY_PATH from here on: the command finds its library itself.
    local help_rc=0
    "$tool" check --help >"$tmp/check-help.log" 2>&1 || help_rc=$?
    [ "$help_rc" = 0 ] || die "'acp-storage check --help' exits $help_rc: the check command is missing? $(head -5 "$tmp/check-help.log")"
    # The plugin comes from ACP_STORAGE_PLUGIN_PATH only.
    local rc=0
    env ACP_STORAGE_PLUGIN_PATH="$mine" \
        "$tool" check hello --store 'hello:' >"$tmp/check.log" 2>&1 || rc=$?
    if [ "$rc" != 0 ]; then
        cat "$tmp/check.log" >&2
        die "acp-storage check hello --store hello: exited $rc"
    fi
    ok "$name: acp-storage check hello --store hello: passes ($(tail -1 "$tmp/check.log"))"
    rc=0
    env ACP_STORAGE_PLUGIN_PATH="$mine" "$tool" --store 'hello+fast:' ping >"$tmp/variant.log" 2>&1 || rc=$?
    [ "$rc" = 4 ] && grep -qF "unknown variant '+fast'" "$tmp/variant.log" \
        || die "the template backend did not refuse hello+fast: (exit $rc): $(cat "$tmp/variant.log")"
    ok "$name: the template backend refuses an unknown variant"

    env ACP_STORAGE_PLUGIN_PATH="$mine" \
        "$tool" backends --json >"$tmp/backends-mine.json" 2>"$tmp/backends-mine.err" \
        || die "acp-storage backends --json failed: $(cat "$tmp/backends-mine.err")"
    grep -qF "{\"name\":\"hello\",\"path\":\"$mine/libacp_storage_hello.so\",\"loaded\":true" "$tmp/backends-mine.json" \
        || die "acp-storage backends --json does not list hello as loaded from $mine: $(cat "$tmp/backends-mine.json")"
    ok "$name: acp-storage backends --json lists hello from ACP_STORAGE_PLUGIN_PATH"

    # No plugin path at all: the installed tool finds the installed plugins.
    "$tool" backends --json >"$tmp/backends.json" 2>"$tmp/backends.err" \
        || die "acp-storage backends --json failed: $(cat "$tmp/backends.err")"
    for p in memory sqlite; do
        grep -qF "{\"name\":\"$p\",\"path\":\"$plugindir/libacp_storage_$p.so\",\"loaded\":true" "$tmp/backends.json" \
            || die "without ACP_STORAGE_PLUGIN_PATH, backends does not list $p from $plugindir: $(cat "$tmp/backends.json")"
    done
    run "$tmp/ping-memory.log" "$tool" --store memory: ping
    # ping only reads and never creates a store: a first write makes it.
    run "$tmp/add-sqlite.log" "$tool" --store "sqlite:$tmp/ping.db" event add r --type x
    run "$tmp/ping-sqlite.log" "$tool" --store "sqlite:$tmp/ping.db" ping
    ok "$name: acp-storage finds memory and sqlite in $plugindir with no plugin path set"
}

# install NAME PREFIX [CMAKE ARGS...]: configure, build and install into
# PREFIX.  INSTALL_PREFIX (when set) is given to `cmake --install --prefix`
# instead, and DESTDIR stages the install.
install_into() {
    local name=$1 prefix=$2
    shift 2
    [ -d "$hidden" ] && mv "$hidden" "$build"
    run "$work/$name-configure.log" cmake -S "$src" -B "$build" \
        -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_TESTING=OFF \
        -DCMAKE_INSTALL_PREFIX="$prefix" "$@"
    run "$work/$name-build.log" cmake --build "$build" -j"$jobs"
    run "$work/$name-install.log" env ${DESTDIR:+DESTDIR="$DESTDIR"} \
        cmake --install "$build" ${INSTALL_PREFIX:+--prefix "$INSTALL_PREFIX"}
    mv "$build" "$hidden"
}

libdir_of() { # the CMAKE_INSTALL_LIBDIR the configure step settled on
    sed -n 's/^CMAKE_INSTALL_LIBDIR:[A-Z]*=//p' "$hidden/CMakeCache.txt"
}

start=$(date +%s)

# Configured for one prefix, installed into another: nothing may depend on
# the configured one (it does not exist).
prefix="$work/relative/prefix"
INSTALL_PREFIX="$prefix" install_into relative "$work/configured/never-created"
rel=$(libdir_of)
case "$rel" in /*) die "the default CMAKE_INSTALL_LIBDIR is absolute ($rel)" ;; esac
[ ! -e "$work/configured" ] || die "the install wrote to the configured prefix"
check_install relative "$prefix" "$prefix/$rel"

# The same install moved elsewhere works as it did, with no environment.
moved="$work/moved/somewhere-else/prefix"
mkdir -p "$(dirname "$moved")"
mv "$prefix" "$moved"
check_install moved "$moved" "$moved/$rel"

prefix="$work/absolute/prefix"
multiarch=$(cc -print-multiarch 2>/dev/null || true)
libdir="$prefix/lib/${multiarch:-x86_64-linux-gnu}"
install_into absolute "$prefix" -DCMAKE_INSTALL_LIBDIR="$libdir"
check_install absolute "$prefix" "$libdir"

# Debian-style: prefix /usr, multiarch libdir, staged with DESTDIR.  No
# RPATH anywhere (the library is in the linker's own path), and pkg-config
# names /usr as usual.
stage="$work/debian"
DESTDIR="$stage" install_into debian /usr -DCMAKE_INSTALL_LIBDIR="lib/${multiarch:-x86_64-linux-gnu}"
elves=0
while IFS= read -r -d '' f; do
    is_elf "$f" || continue
    elves=$((elves + 1))
    if readelf -d "$f" | grep -Eq '\((RPATH|RUNPATH)\)'; then
        die "debian: $f carries $(readelf -d "$f" | grep -E 'RPATH|RUNPATH')"
    fi
done < <(find "$stage" -type f -print0)
[ "$elves" -ge 4 ] || die "debian: only $elves ELF files found under $stage"
pc="$stage/usr/lib/${multiarch:-x86_64-linux-gnu}/pkgconfig/acp_storage.pc"
grep -qx 'prefix=/usr' "$pc" || die "debian: $pc does not say prefix=/usr: $(grep ^prefix "$pc")"
[ -s "$stage/usr/share/doc/acp-storage/plugin-guide.md" ] || die "debian: no share/doc/acp-storage/plugin-guide.md"
ok "debian: /usr install carries no RPATH/RUNPATH in $elves ELF files; pkg-config prefix=/usr"

printf 'all install checks passed in %ss\n' "$(($(date +%s) - start))"
rm -rf "$work"
