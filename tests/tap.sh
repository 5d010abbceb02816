# tap.sh -- TAP helpers for rlvr's shell tests (sourced).
# ok COND_EXIT DESCRIPTION: `check CMD...` runs CMD and reports it.
tap_n=0; tap_failed=0
ok() { tap_n=$((tap_n+1)); if [ "$1" -eq 0 ]; then echo "ok $tap_n - $2"; else echo "not ok $tap_n - $2"; tap_failed=$((tap_failed+1)); fi; }
check() { d="$1"; shift; if "$@" >/dev/null 2>&1; then ok 0 "$d"; else ok 1 "$d"; fi; }
diag() { echo "# $*"; }
skip_all() { echo "1..0 # SKIP $*"; exit 77; }
done_testing() { echo "1..$tap_n"; [ "$tap_failed" -eq 0 ]; }
