#!/bin/bash
# rules_check.sh - the rules files of rules/ and `vuproxy rules check`:
# - the examples exist (hide-packed-ring, hide-multiqueue, slow-mem-table,
#   backend-crash-after-start, backend-crash-reconnect, lose-one-vring-call,
#   flaky-vring-enable, fail-get-config, fail-driver-ok,
#   snapshot-on-reset), each opens with
#   a comment that names it, says what it reproduces and how to use it (a
#   `vuproxy rules check` and a `vuproxy ... -r rules/NAME.yaml` line);
# - every rules/*.yaml is valid: exit 0, "N rules, valid" on stdout; the
#   only warning is lose-one-vring-call's (a NEED_REPLY sender would wait
#   for the ack);
# - a file dropping GET_VRING_BASE is valid with a warning at its action
#   (file:line:col) that the front-end will wait forever, suggesting fail;
#   with `fail` instead it is valid and warns that GET_VRING_BASE's reply
#   has no error form;
# - broken files (YAML syntax, unknown key, unknown request, unknown
#   feature, bad duration) are refused: exit 1, "file:line:col: reason"
#   with the offending line; an unreadable file: "file: reason";
# - vuproxy started with -r BROKEN exits non-zero at once with
#   file:line:col on stderr and never listens.
# Environment: VUPROXY, RULES_DIR (see rlib.sh).
# shellcheck disable=SC2015 # a && b || e2e_fail: e2e_fail is the else
set -eu
# shellcheck source=rlib.sh
. "$(dirname "$0")/rlib.sh"

rx_init rules_check

# check_file FILE: run `vuproxy rules check FILE`; status in CK_RC, stdout
# in $E2E_DIR/ck.out, stderr in $E2E_DIR/ck.err.
check_file() {
	CK_RC=0
	timeout 10 "$VUPROXY" rules check "$@" >"$E2E_DIR/ck.out" 2>"$E2E_DIR/ck.err" || CK_RC=$?
}

EXAMPLES="hide-packed-ring hide-multiqueue slow-mem-table backend-crash-after-start
	backend-crash-reconnect lose-one-vring-call flaky-vring-enable fail-get-config
	fail-driver-ok snapshot-on-reset"
for name in $EXAMPLES; do
	f=$RULES_DIR/$name.yaml
	[ -r "$f" ] || e2e_fail "rules/$name.yaml is missing"
	head -n 1 "$f" | grep -q "^# $name\.yaml - ." ||
		e2e_fail "rules/$name.yaml does not open with '# $name.yaml - what it reproduces'"
	# The header comment: every line up to "rules:" is a comment.
	awk '/^rules:/ { exit } !/^#/ && NF { bad = 1 } END { exit bad }' "$f" ||
		e2e_fail "rules/$name.yaml: its header is not one comment block before 'rules:'"
	grep -q "^#.*vuproxy rules check rules/$name\.yaml" "$f" ||
		e2e_fail "rules/$name.yaml: the header does not show 'vuproxy rules check rules/$name.yaml'"
	grep -q "^#.*-r rules/$name\.yaml" "$f" ||
		e2e_fail "rules/$name.yaml: the header does not show how to run vuproxy with it (-r rules/$name.yaml)"
done

n=0
for f in "$RULES_DIR"/*.yaml; do
	name=$(basename "$f" .yaml)
	check_file "$f"
	[ "$CK_RC" = 0 ] || e2e_fail "rules check $f: exit $CK_RC: $(cat "$E2E_DIR/ck.out" "$E2E_DIR/ck.err")"
	grep -qE "^$f: [0-9]+ rules?, valid" "$E2E_DIR/ck.out" ||
		e2e_fail "rules check $f: no 'valid' line: $(cat "$E2E_DIR/ck.out")"
	case $name in
	lose-one-vring-call)
		[ "$(grep -c "^$f:[0-9]*:[0-9]*: " "$E2E_DIR/ck.err")" = 1 ] &&
			grep -q "^$f:[0-9]*:[0-9]*: rule 'lose-first-vring-call' drops SET_VRING_CALL: .*NEED_REPLY.*wait for the ack forever" "$E2E_DIR/ck.err" ||
			e2e_fail "rules check $f: expected one warning about a NEED_REPLY sender waiting, got: $(cat "$E2E_DIR/ck.err")"
		;;
	*)
		[ ! -s "$E2E_DIR/ck.err" ] || e2e_fail "rules check $f warns: $(cat "$E2E_DIR/ck.err")"
		;;
	esac
	e2e_log "$(cat "$E2E_DIR/ck.out")"
	n=$((n + 1))
done
# All at once, as the README shows: exit 0.
check_file "$RULES_DIR"/*.yaml
[ "$CK_RC" = 0 ] || e2e_fail "rules check of all $n files at once: exit $CK_RC"
[ "$(grep -c ', valid' "$E2E_DIR/ck.out")" = "$n" ] || e2e_fail "rules check of all files: $(cat "$E2E_DIR/ck.out")"

# --- dropping a request that always gets a reply ---
F=$E2E_DIR/lose-vring-base.yaml
cat >"$F" <<'EOF'
rules:
  - name: lose-vring-base
    match: {request: GET_VRING_BASE, from: front-end}
    action: drop
EOF
check_file "$F"
[ "$CK_RC" = 0 ] || e2e_fail "a rule dropping GET_VRING_BASE is refused (exit $CK_RC); it is valid, with a warning"
grep -q "^$F: 1 rule, valid (with warnings)" "$E2E_DIR/ck.out" || e2e_fail "no 'valid (with warnings)': $(cat "$E2E_DIR/ck.out")"
grep -q "^$F:4:13: rule 'lose-vring-base' drops GET_VRING_BASE, which always gets a reply: the sender will wait for it forever (fail would answer instead, with a zeroed reply the sender takes as real: there is no error form)$" "$E2E_DIR/ck.err" ||
	e2e_fail "no warning at $F:4:13 that the front-end waits forever and fail answers instead: $(cat "$E2E_DIR/ck.err")"
grep -qx "        action: drop" "$E2E_DIR/ck.err" || e2e_fail "the warning does not quote the line: $(cat "$E2E_DIR/ck.err")"
e2e_log "drop GET_VRING_BASE: $(head -n 1 "$E2E_DIR/ck.err")"
# The suggested fail is accepted.  GET_VRING_BASE's reply has no error
# form, though: `rules check` says so (vuproxy answers {index: 1, num: 0},
# which a front-end takes for an answer).
sed -i 's/action: drop/action: fail/' "$F"
check_file "$F"
[ "$CK_RC" = 0 ] || e2e_fail "with the suggested fail: exit $CK_RC, stderr: $(cat "$E2E_DIR/ck.err")"
grep -q "^$F:4:13: rule 'lose-vring-base' fails GET_VRING_BASE, whose reply has no error form" "$E2E_DIR/ck.err" ||
	e2e_fail "with fail: expected the 'no error form' warning, got: $(cat "$E2E_DIR/ck.err")"
e2e_log "fail GET_VRING_BASE: $(head -n 1 "$E2E_DIR/ck.err")"

# --- broken files ---
# broken NAME LINE COL REASON-REGEX: the file $E2E_DIR/NAME.yaml (written
# before) is refused with NAME.yaml:LINE:COL: REASON.
broken() {
	local f=$E2E_DIR/$1.yaml
	check_file "$f"
	[ "$CK_RC" = 1 ] || e2e_fail "rules check $1.yaml: exit $CK_RC, expected 1 (invalid)"
	grep -qE "^$f:$2:$3: $4" "$E2E_DIR/ck.err" ||
		e2e_fail "rules check $1.yaml: no '$f:$2:$3: $4' in: $(cat "$E2E_DIR/ck.err")"
	grep -q "^$f: invalid (" "$E2E_DIR/ck.err" || e2e_fail "rules check $1.yaml: no 'invalid' summary"
	e2e_log "refused: $(grep -E "^$f:$2:$3: " "$E2E_DIR/ck.err" | head -n 1)"
}
printf 'rules:\n  - name: x\n    match: {request: SET_MEM_TABLE\n    action: drop\n' >"$E2E_DIR/syntax.yaml"
broken syntax '[0-9]+' '[0-9]+' '.'
printf 'rules:\n  - name: x\n    match: {request: SET_MEM_TABLE}\n    acton: drop\n' >"$E2E_DIR/key.yaml"
broken key 4 5 "unknown key 'acton'"
printf 'rules:\n  - name: x\n    match: {request: SET_MEM_TABLES}\n    action: drop\n' >"$E2E_DIR/request.yaml"
broken request 3 22 "unknown request 'SET_MEM_TABLES'"
printf 'rules:\n  - name: x\n    match: {request: GET_FEATURES, reply: true}\n    action: {rewrite: {clear_features: [VIRTIO_F_RING_PACKD]}}\n' >"$E2E_DIR/feature.yaml"
broken feature 4 '[0-9]+' ".*VIRTIO_F_RING_PACKD"
printf 'rules:\n  - name: x\n    match: {request: SET_MEM_TABLE}\n    action: {delay: 2 weeks}\n' >"$E2E_DIR/duration.yaml"
broken duration 4 '[0-9]+' "."
check_file "$E2E_DIR/missing.yaml"
[ "$CK_RC" = 1 ] && grep -q "^$E2E_DIR/missing.yaml: No such file" "$E2E_DIR/ck.err" ||
	e2e_fail "a missing file: exit $CK_RC, $(cat "$E2E_DIR/ck.err")"

# --- vuproxy -r BROKEN exits at start ---
for name in key request; do
	rc=0
	timeout 10 "$VUPROXY" --frontend "listen:$E2E_DIR/fe.sock" --backend "connect:$E2E_DIR/be.sock" \
		-r "$E2E_DIR/$name.yaml" >"$E2E_DIR/start-$name.out" 2>"$E2E_DIR/start-$name.err" || rc=$?
	[ "$rc" != 0 ] && [ "$rc" != 124 ] ||
		e2e_fail "vuproxy -r $name.yaml exited $rc, expected a failure at once"
	grep -qE "^$E2E_DIR/$name\.yaml:[0-9]+:[0-9]+: " "$E2E_DIR/start-$name.err" ||
		e2e_fail "vuproxy -r $name.yaml: no file:line:col on stderr: $(cat "$E2E_DIR/start-$name.err")"
	[ ! -e "$E2E_DIR/fe.sock" ] || e2e_fail "vuproxy -r $name.yaml created its listening socket anyway"
	e2e_log "vuproxy -r $name.yaml: exit $rc: $(tr '\n' '|' <"$E2E_DIR/start-$name.err")"
done
e2e_log "PASS"
