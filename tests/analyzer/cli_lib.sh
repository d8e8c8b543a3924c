# tests/analyzer/cli_lib.sh - what the CLI test scripts share (sourced):
# running one command with its status, stdout (out.txt) and stderr (err.txt)
# checked. The caller sets fail=0 and exits with $fail.
expect() { # expect STATUS DESCRIPTION -- COMMAND...
    want=$1; what=$2; shift 3
    "$@" >out.txt 2>err.txt; got=$?
    if [ "$got" != "$want" ]; then
        echo "FAIL: $what: exit $got, expected $want"; cat err.txt; fail=1
    fi
}
one_line_error() { # the error is one line naming the problem
    if [ "$(wc -l <err.txt)" != 1 ] || ! grep -q -e "$1" err.txt; then
        echo "FAIL: expected one line with '$1' on stderr, got:"; cat err.txt; fail=1
    fi
}
