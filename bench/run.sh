#!/bin/bash
# run.sh - build what the benchmarks need and run them all:
#   1. control round trip  (rt.sh):   direct / floor relay / vuproxy, and
#      vuproxy with a trace (-w) and with 100 rules that do not match (-r)
#   2. DPDK throughput     (dpdk.sh): direct / through vuproxy
#   3. DPDK set-up time    (dpdk.sh, same runs as 2)
#   4. optional: QEMU VM start -> back-end ready (qemu.sh; ONLY=all or
#      ONLY=...,qemu)
#   5. optional: the tap's capture ratio at fixed packet rates
#      (tap_capture.sh; ONLY=all or ONLY=...,tapcapture)
#   6. the trace writer's MB/s against gzip -1 on the same bytes
#      (trace.sh), control messages and tap frames
#   7. `vuproxy check` on a trace of a million messages (check_speed.sh)
#   8. live checking's cost: CPU per message and round trip, vuproxy
#      against vuproxy --no-check (check_live.sh; VUPROXY_BASE=BINARY
#      for a build without live checking instead; skipped when neither)
#   9. the flight recorder's cost: CPU per message, round trip and VmHWM,
#      vuproxy --ring 64 against vuproxy (ring.sh; ONLY=...,ring)
# then print a summary table.  Benchmarks, not tests: the figures are
# ratios measured within this one run; missing a target is reported, never
# turned into a failing exit status (that is kept for runs that broke).
#
#   BUILD_DIR=/path/to/build bench/run.sh      (default: <repo>/build)
#   ONLY=rt,dpdk,trace,check,live,ring (default) | rt | dpdk | trace
#        | check | live | ring | qemu | tapcapture | all (= all of them)
#   KEEP=1                                      keep logs (kept anyway on error)
#   CMAKE_ARGS="-DVUP_TESTS=OFF"                for a fresh build dir
# Knobs of each benchmark: see rt.sh, dpdk.sh and trace.sh (RT_N,
# RT_ROUNDS, RT_LAYOUT, RT_RULES, DPDK_ROUNDS, DPDK_SECS, BE_CPU, FE_CPU,
# TRACE_N, TRACE_FRAMES, TRACE_ROUNDS, CHECK_N, LIVE_N, LIVE_ROUNDS, ...).
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
. "$HERE/lib.sh"
BUILD_DIR=${BUILD_DIR:-$REPO/build}
ONLY=${ONLY:-rt,dpdk,trace,check,live,ring}
[ "$ONLY" = all ] && ONLY=rt,dpdk,trace,check,live,ring,qemu,tapcapture

echo "== build: $BUILD_DIR"
# Configure every time: a build dir made before bench/ existed must pick
# up bench/CMakeLists.txt.  Cached options are kept.
# shellcheck disable=SC2086
cmake -S "$REPO" -B "$BUILD_DIR" ${CMAKE_ARGS:-} >/dev/null || exit 1
cmake --build "$BUILD_DIR" --target vup_bench -j"$(nproc)" >/dev/null || {
	echo "ERROR: build failed" >&2
	exit 1
}
export VUPROXY=$BUILD_DIR/vuproxy BENCH_BIN=$BUILD_DIR/bench
WORKDIR=$(mktemp -d /tmp/vuproxy-bench.XXXXXX)
export RESULTS=$WORKDIR/results
: >"$RESULTS"
LOAD0=$(loadavg)
echo "   logs in $WORKDIR; $(nproc) CPUs; load average $LOAD0"

rc=0
case ",$ONLY," in *,rt,*)
	mkdir -p "$WORKDIR/rt"
	WORK=$WORKDIR/rt "$HERE/rt.sh" || rc=1 ;;
esac
case ",$ONLY," in *,dpdk,*)
	mkdir -p "$WORKDIR/dpdk"
	WORK=$WORKDIR/dpdk "$HERE/dpdk.sh" || rc=1 ;;
esac
case ",$ONLY," in *,trace,*)
	mkdir -p "$WORKDIR/trace"
	WORK=$WORKDIR/trace "$HERE/trace.sh" || rc=1 ;;
esac
case ",$ONLY," in *,check,*)
	mkdir -p "$WORKDIR/check"
	WORK=$WORKDIR/check "$HERE/check_speed.sh" || rc=1 ;;
esac
case ",$ONLY," in *,live,*)
	if [ -z "${VUPROXY_BASE:-}" ] && ! "$VUPROXY" --help 2>&1 | grep -q -- --no-check; then
		echo "== live checking: skipped ($VUPROXY has no --no-check and VUPROXY_BASE is not set)"
	else
		mkdir -p "$WORKDIR/live"
		WORK=$WORKDIR/live "$HERE/check_live.sh" || rc=1
	fi ;;
esac
case ",$ONLY," in *,ring,*)
	mkdir -p "$WORKDIR/ring"
	WORK=$WORKDIR/ring "$HERE/ring.sh" || rc=1 ;;
esac
case ",$ONLY," in *,qemu,*)
	mkdir -p "$WORKDIR/qemu"
	WORK=$WORKDIR/qemu "$HERE/qemu.sh" || rc=1 ;;
esac
case ",$ONLY," in *,tapcapture,*)
	mkdir -p "$WORKDIR/tapcapture"
	WORK=$WORKDIR/tapcapture "$HERE/tap_capture.sh" || rc=1 ;;
esac

get() { sed -n "s/^$1=//p" "$RESULTS" | tail -1; }
# verdict VALUE OP TARGET
verdict() {
	awk -v v="$1" -v op="$2" -v t="$3" 'BEGIN{
		if (v == "" || v == "nan") { print "n/a"; exit }
		ok = (op == "<=") ? (v + 0 <= t + 0) : (v + 0 >= t + 0)
		print ok ? "met" : "NOT met" }'
}
row() { # name direct floor vuproxy ratio-name ratio op target
	local v="-"
	[ "$7" != "-" ] && v=$(verdict "$6" "$7" "$8")
	printf '%-31s %9s %9s %9s   %-15s %7s   %-8s %s\n' "$1" "$2" "$3" "$4" \
		"$5" "$6" "$([ "$7" = - ] && echo "(info)" || echo "$7 $8")" "$v"
}
fmt() { [ -n "$1" ] && awk -v x="$1" -v f="$2" 'BEGIN{printf f, x}'; }

echo
echo "== summary (load average at start $LOAD0, at end $(loadavg); $(nproc) CPUs)"
printf '%-31s %9s %9s %9s   %-15s %7s   %s\n' benchmark direct floor vuproxy ratio value target
if [ -n "$(get rt_vuproxy_floor)" ]; then
	row "round trip, mean (us)" "$(fmt "$(get rt_direct_us)" %.2f)" \
		"$(fmt "$(get rt_floor_us)" %.2f)" "$(fmt "$(get rt_vuproxy_us)" %.2f)" \
		vuproxy/floor "$(get rt_vuproxy_floor)" "<=" 1.2
	row "" "" "" "" vuproxy/direct "$(get rt_vuproxy_direct)" - -
	row "round trip, p50 (us)" "$(fmt "$(get rt_p50_direct_us)" %.2f)" \
		"$(fmt "$(get rt_p50_floor_us)" %.2f)" "$(fmt "$(get rt_p50_vuproxy_us)" %.2f)" \
		vuproxy/floor "$(get rt_p50_vuproxy_floor)" "<=" 1.2
	row "round trip -w trace, mean (us)" - - "$(fmt "$(get rt_trace_us)" %.2f)" \
		trace/plain "$(get rt_trace_vuproxy)" "<=" 1.15
	row "round trip -w trace, p50 (us)" - - "$(fmt "$(get rt_p50_trace_us)" %.2f)" \
		trace/plain "$(get rt_p50_trace_vuproxy)" "<=" 1.15
	row "round trip $(get rt_rules_count) rules, mean (us)" - - "$(fmt "$(get rt_rules_us)" %.2f)" \
		rules/plain "$(get rt_rules_vuproxy)" "<=" 1.05
	row "round trip $(get rt_rules_count) rules, p50 (us)" - - "$(fmt "$(get rt_p50_rules_us)" %.2f)" \
		rules/plain "$(get rt_p50_rules_vuproxy)" "<=" 1.05
fi
if [ -n "$(get trace_msg_ratio)" ]; then
	row "trace write, messages (MB/s)" - "$(fmt "$(get trace_msg_gzip_mbps)" %.1f)" \
		"$(fmt "$(get trace_msg_writer_mbps)" %.1f)" writer/gzip "$(get trace_msg_ratio)" ">=" 0.8
	row "trace write, tap frames (MB/s)" - "$(fmt "$(get trace_tap_gzip_mbps)" %.1f)" \
		"$(fmt "$(get trace_tap_writer_mbps)" %.1f)" writer/gzip "$(get trace_tap_ratio)" ">=" 0.8
fi
if [ -n "$(get check_wall_s)" ]; then
	row "vuproxy check, $(get check_n) msgs (s)" - - "$(fmt "$(get check_wall_s)" %.3f)" \
		"wall/2 s" "$(get check_wall_target)" "<=" 1
fi
if [ -n "$(get live_cpu_ratio)" ]; then
	row "live check, CPU (us/message)" - "$(fmt "$(get live_cpu_unchecked_us_msg)" %.3f)" \
		"$(fmt "$(get live_cpu_checked_us_msg)" %.3f)" check/no-check "$(get live_cpu_ratio)" "<=" 1.05
	row "live check, round trip (us)" - "$(fmt "$(get live_rt_unchecked_us)" %.2f)" \
		"$(fmt "$(get live_rt_checked_us)" %.2f)" check/no-check "$(get live_rt_ratio)" "<=" 1.05
	row "live check, round trip p50 (us)" - "$(fmt "$(get live_rt_p50_unchecked_us)" %.2f)" \
		"$(fmt "$(get live_rt_p50_checked_us)" %.2f)" check/no-check "$(get live_rt_p50_ratio)" "<=" 1.05
fi
if [ -n "$(get ring_cpu_ratio)" ]; then
	row "ring 64, CPU (us/message)" - "$(fmt "$(get ring_cpu_noring_us_msg)" %.3f)" \
		"$(fmt "$(get ring_cpu_ring_us_msg)" %.3f)" ring/none "$(get ring_cpu_ratio)" "<=" 1.05
	row "ring 64, round trip (us)" - "$(fmt "$(get ring_rt_noring_us)" %.2f)" \
		"$(fmt "$(get ring_rt_ring_us)" %.2f)" ring/none "$(get ring_rt_ratio)" "<=" 1.05
	row "ring 64, VmHWM (KiB)" - "$(get ring_vmhwm_noring_kib)" "$(get ring_vmhwm_ring_kib)" \
		"ring/limit" "$(ratio "$(get ring_vmhwm_ring_kib)" "$(get ring_vmhwm_limit_kib)")" "<=" 1
fi
if [ -n "$(get dpdk_mpps_ratio)" ]; then
	row "DPDK throughput, all (Mpps)" "$(fmt "$(get dpdk_direct_mpps)" %.2f)" - \
		"$(fmt "$(get dpdk_proxied_mpps)" %.2f)" proxied/direct "$(get dpdk_mpps_ratio)" ">=" 0.98
	row "DPDK throughput, quiet (Mpps)" "$(fmt "$(get dpdk_quiet_direct_mpps)" %.2f)" - \
		"$(fmt "$(get dpdk_quiet_proxied_mpps)" %.2f)" proxied/direct "$(get dpdk_quiet_mpps_ratio)" ">=" 0.98
	row "DPDK set-up, median (s)" "$(fmt "$(get setup_direct_s)" %.3f)" - \
		"$(fmt "$(get setup_proxied_s)" %.3f)" direct/proxied "$(get setup_ratio)" ">=" 0.95
	row "DPDK set-up, best (s)" "$(fmt "$(get setup_best_direct_s)" %.3f)" - \
		"$(fmt "$(get setup_best_proxied_s)" %.3f)" direct/proxied "$(get setup_best_ratio)" ">=" 0.95
fi
if [ -n "$(get qemu_ratio)" ]; then
	row "QEMU start -> ready, median (s)" "$(fmt "$(get qemu_direct_s)" %.3f)" - \
		"$(fmt "$(get qemu_proxied_s)" %.3f)" direct/proxied "$(get qemu_ratio)" ">=" 0.95
	row "QEMU start -> ready, best (s)" "$(fmt "$(get qemu_best_direct_s)" %.3f)" - \
		"$(fmt "$(get qemu_best_proxied_s)" %.3f)" direct/proxied "$(get qemu_best_ratio)" ">=" 0.95
fi
echo "how measured:"
[ -n "$(get rt_pinning)" ] && {
	echo "  round trip: median over rounds of each run's mean (and p50) us per round trip; $(get rt_pinning)"
	echo "  round trip -w / rules: vuproxy with -w FILE / -r FILE ($(get rt_rules_count) rules, none matches), against plain vuproxy (first row)"
}
[ -n "$(get trace_msg_ratio)" ] && echo "  trace write: MB/s of pcapng; floor column = zlib level 1 in one stream (gzip -1) on the same bytes; messages each sync-flushed, tap frames flushed once"
[ -n "$(get check_wall_s)" ] && echo "  vuproxy check: median wall time of 3 runs on a generated trace (dpdk-split set-up, GET_FEATURES / SET_VRING_ENABLE flood); CPU $(get check_cpu_s) s"
[ -n "$(get live_cpu_ratio)" ] && echo "  live check: relay's utime+stime per message and round trip, vuproxy against vuproxy --no-check (or VUPROXY_BASE), floor column = unchecked; trust the p50 and CPU rows on a busy machine"
[ -n "$(get dpdk_mpps_ratio)" ] && {
	echo "  DPDK throughput: back-end Rx-pps averaged per run, median over runs; quiet = runs where both testpmd got >= 0.9 CPU ($(get dpdk_quiet_runs))"
	echo "  DPDK set-up: front-end testpmd start -> back-end \"virtio is now ready for processing\"; median and best over runs"
}
[ -n "$(get qemu_ratio)" ] && echo "  QEMU: TCG guest, QEMU start -> back-end ready; median and best over runs"
if [ "$(get dpdk_quiet_mpps_ratio)" = nan ]; then
	echo "note: no DPDK run was quiet in both set-ups: other processes took CPU from the busy-polling"
	echo "      testpmd in every run, so the throughput ratio here measures them; rerun when the machine is idle"
fi
if [ $rc != 0 ]; then
	echo "ERROR: a benchmark did not complete; logs kept in $WORKDIR" >&2
	exit 1
fi
if [ "${KEEP:-0}" = 1 ]; then echo "logs kept in $WORKDIR"; else rm -rf "$WORKDIR"; fi
