# The net tap between real DPDK peers (tests/tap/dpdk_tap.sh), testpmd
# txonly at full rate.  Split: consumed equals testpmd's count.  Packed:
# no used index, so at millions of packets a second the reader laps; it
# must never count more than the device used.  Neither may call a real
# ring malformed, and every captured frame decodes.  The split ring runs
# with the default (copies the device used before the tap re-checked
# them are kept, marked), the packed one with --tap-strict (at full rate
# it may verify no copy at all, and keeps none unverified).  The last
# test sends one burst of 64 (testpmd --tx-first): by default all 64 are
# captured.  No dpdk-testpmd or tshark means these fail; they never skip.
vup_e2e_test(dpdk_tap_split dpdk_tap.sh split 256 default)
vup_e2e_test(dpdk_tap_packed_strict dpdk_tap.sh packed 256 strict)
vup_e2e_test(dpdk_tap_split_burst dpdk_tap.sh split 256 default burst)
