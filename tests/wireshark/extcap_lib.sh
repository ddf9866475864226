# shellcheck shell=bash
# extcap_lib.sh - the extcap tests' set-up, after tests/e2e/lib.sh (e2e_*)
# has been sourced and e2e_init called.
#
#   xc_install VUPROXY LAUNCHER
#       HOME becomes $E2E_DIR/home; LAUNCHER (tools/wireshark/
#       vuproxy-extcap) goes into the personal extcap folder tshark names
#       there, with VUPROXY's path written in as the install rule does;
#       VUPROXY_CTL_DIR=$XC_CTL (exported), where the tests put the
#       control sockets.  XC_DIR is the folder.

xc_install() {
	local vuproxy=$1 launcher=$2
	XC_CTL=$E2E_DIR/ctl
	mkdir -p "$XC_CTL" "$E2E_DIR/home"
	export VUPROXY_CTL_DIR=$XC_CTL
	export HOME=$E2E_DIR/home
	# "Personal Extcap path" from Wireshark 4.2 on; up to 4.0 the extcap
	# folder of the personal configuration.
	tshark -G folders >"$E2E_DIR/folders.txt" 2>/dev/null ||
		e2e_fail "tshark -G folders failed"
	XC_DIR=$(sed -n 's/^Personal Extcap path:[[:space:]]*//p' "$E2E_DIR/folders.txt")
	[ -n "$XC_DIR" ] ||
		XC_DIR=$(sed -n 's/^Personal configuration:[[:space:]]*//p' \
			"$E2E_DIR/folders.txt")/extcap
	case $XC_DIR in
	"$HOME"/*) ;;
	*) e2e_fail "tshark's personal extcap folder '$XC_DIR' is not under \$HOME=$HOME" ;;
	esac
	mkdir -p "$XC_DIR"
	sed "s|^VUPROXY=.*|VUPROXY='$vuproxy'|" "$launcher" >"$XC_DIR/vuproxy-extcap"
	chmod 755 "$XC_DIR/vuproxy-extcap"
	grep -q "^VUPROXY='$vuproxy'$" "$XC_DIR/vuproxy-extcap" ||
		e2e_fail "the launcher has no VUPROXY= line to set"
	e2e_log "launcher in $XC_DIR"
}

# XC_FIELDS: tshark's options printing, per frame, number|session|
# declared|request|reply.
XC_FIELDS=(-T fields -E separator='|' -e frame.number -e vuproxy.session
	-e vuproxy.declared -e vhostuser.request_name -e vhostuser.flags.reply)
