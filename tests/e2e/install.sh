#!/usr/bin/env bash
# tests/e2e/install.sh - `cmake --install` into a temporary prefix, then use
# it as a user would: the files are there, a program built with
# `pkg-config --cflags tidemark` (and one with find_package(tidemark)) runs
# under the installed `tidemark run`, which finds the installed shim, and the
# installed `tidemark report` names the program's table.
# Usage: install.sh BUILD_DIR SOURCE_DIR WORKDIR. Exit 0 pass, 1 fail.
set -u
build=$1 src=$2 work=$3
P=$work/prefix
fail=0
ok() { echo "ok:   $*"; }
bad() { echo "FAIL: $*"; fail=1; }
rm -rf "$work" && mkdir -p "$work" || exit 1
cd "$work" || exit 1

cmake --install "$build" --prefix "$P" >install.log 2>&1 || { cat install.log; bad "cmake --install"; exit 1; }
for f in bin/tidemark lib/libtidemark.so include/tidemark/annotate.h include/tidemark/uthash.h \
         include/tidemark/gomap.h lib/pkgconfig/tidemark.pc lib/cmake/tidemark/tidemark-config.cmake \
         lib/tidemark/libgomap.a; do
    [ -e "$P/$f" ] && ok "installed $f" || bad "installed $f"
done

export PKG_CONFIG_PATH=$P/lib/pkgconfig
cflags=$(pkg-config --cflags tidemark) && libs=$(pkg-config --libs tidemark) \
    && ok "pkg-config tidemark: $cflags $libs" || bad "pkg-config tidemark"
# Only the installed headers: the source tree's include/ is not on the path.
cc $cflags -o prog "$src/tests/e2e/install_prog.c" $libs && ok "built with pkg-config" \
    || bad "built with pkg-config"

out=$("$P/bin/tidemark" run --no-summary -o prog.tmk -- ./prog 2>run.err)
[ "$out" = ok ] && [ -s prog.tmk ] && ok "installed tidemark run ran the program under the shim" \
    || { cat run.err; bad "installed tidemark run: '$out'"; }
"$P/bin/tidemark" report prog.tmk >report.txt 2>&1
grep -q '"installed"' report.txt && ok "installed tidemark report names the table" \
    || { cat report.txt; bad "the table is in the report"; }
grep -q 'retained 2,097,152 B' report.txt && ok "the table retains its 2 MiB array" \
    || bad "retained 2,097,152 B"

mkdir -p pkg && cat >pkg/CMakeLists.txt <<CMAKE
cmake_minimum_required(VERSION 3.20)
project(uses_tidemark C)
find_package(tidemark 0.1 REQUIRED)
add_executable(prog $src/tests/e2e/install_prog.c)
target_link_libraries(prog PRIVATE tidemark::annotate)
if(NOT EXISTS "\${tidemark_SHIM}")
  message(FATAL_ERROR "tidemark_SHIM \${tidemark_SHIM} missing")
endif()
CMAKE
if cmake -S pkg -B pkg/build -DCMAKE_PREFIX_PATH="$P" >cmake.log 2>&1 &&
   cmake --build pkg/build >>cmake.log 2>&1; then
    ok "find_package(tidemark) built a program"
    out=$("$P/bin/tidemark" run --no-summary -o pkg.tmk -- pkg/build/prog 2>/dev/null)
    [ "$out" = ok ] && ok "it runs under the installed tidemark" || bad "find_package program run"
else
    cat cmake.log; bad "find_package(tidemark)"
fi
[ $fail = 0 ] && echo "all passed"
exit $fail
