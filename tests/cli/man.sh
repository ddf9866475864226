#!/bin/bash
# The man page (build/vuproxy.1, generated from doc/vuproxy.1.in and the
# option table): it renders with man and groff with no warning, and every
# option and command that `vuproxy --help` and each command's --help name
# is in it.  Usage: VUPROXY=path/to/vuproxy man.sh path/to/vuproxy.1
set -u
MAN=${1:?usage: VUPROXY=... man.sh vuproxy.1}
VUPROXY=${VUPROXY:?}
W=$(mktemp -d /tmp/vup-man.XXXXXX)
trap 'rm -rf "$W"' EXIT
FAILS=0
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }

# groff's every warning (-ww), and man-db's rendering of the file (-l).
groff -ww -z -man "$MAN" 2>"$W/groff.err"
RC=$?
[ "$RC" = 0 ] && [ ! -s "$W/groff.err" ] ||
	{ cat "$W/groff.err"; fail "groff -ww -z -man: status $RC, warnings above"; }
MANWIDTH=200 man --warnings=w -l "$MAN" 2>"$W/man.err" | col -b >"$W/man.txt"
[ ! -s "$W/man.err" ] || { cat "$W/man.err"; fail "man --warnings -l: warnings above"; }
grep -q '^NAME' "$W/man.txt" && grep -q 'vuproxy - relay' "$W/man.txt" ||
	fail "man -l rendered no NAME section"
"$VUPROXY" --version >"$W/version" || fail "vuproxy --version failed"
grep -qF "$(sed 's/^vuproxy //' "$W/version")" "$W/man.txt" ||
	fail "the man page does not carry the version $(cat "$W/version")"

# The options a --help text names: --long and -x words.
options_of() {
	grep -oE '(^|[][ ,(|])(--[a-z][a-z0-9-]*|-[a-zA-Z])\b' | sed -E 's/^[][ ,(|]//' | sort -u
}
check_help() { # NAME HELP-FILE [MIN]
	local n=0 o
	while read -r o; do
		n=$((n + 1))
		grep -qE -- "(^|[^a-z0-9-])$o([^a-z0-9-]|\$)" "$W/man.txt" ||
			fail "$1 --help names $o; the man page does not"
	done < <(options_of <"$2")
	echo "$1 --help: $n options, each in the man page"
	[ "$n" -ge "${3:-1}" ] || fail "$1 --help: no option found (the extraction is broken)"
}
"$VUPROXY" --help >"$W/help" || fail "vuproxy --help failed"
check_help vuproxy "$W/help"
# The commands --help lists, each with a section, and their own --help.
CMDS=$(sed -n '/^commands/,$p' "$W/help" | awk 'NR > 1 && NF { print $1 }')
[ "$(echo "$CMDS" | wc -w)" -ge 8 ] || fail "vuproxy --help lists too few commands: $CMDS"
for c in $CMDS; do
	grep -qE "^ *vuproxy $c( |\$)" "$W/man.txt" || fail "no section for 'vuproxy $c' in the man page"
	[ "$c" = requests ] || [ "$c" = wireshark-lua ] || {
		"$VUPROXY" "$c" --help >"$W/help.$c" 2>&1
		# rules check takes files only.
		check_help "vuproxy $c" "$W/help.$c" "$([ "$c" = rules ] && echo 0 || echo 1)"
	}
	v=$("$VUPROXY" "$c" --version) && [ "$v" = "$(cat "$W/version")" ] ||
		fail "vuproxy $c --version printed '$v'"
done
# ctl's own commands, each an entry of its section.
for w in $(sed 1d "$W/help.ctl" | grep '^  ' | sed 's/ | /\n/g' | awk '{ print $1 }' | sort -u); do
	grep -qE "^ {7}$w( |\$)" "$W/man.txt" || fail "vuproxy ctl --help names '$w'; the man page has no entry for it"
done
[ "$FAILS" = 0 ] || { echo "$FAILS failure(s)"; exit 1; }
echo "PASS: the man page renders without warnings and covers every option"
