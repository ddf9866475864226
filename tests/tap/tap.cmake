# The net tap between real DPDK peers (tests/tap/dpdk_tap.sh), testpmd
# txonly at full rate.  Split: consumed equals testpmd's count.  Packed:
# no used index, so at millions of packets a second the reader laps; it
# must never count more than the device used.  Neither may call a real
# ring malformed, and every captured frame decodes.  At full rate a strict
# tap may verify no copy at all: the last test sends one burst of 64
# (testpmd --tx-first) and keeps unverified copies: all 64 captured.  No
# dpdk-testpmd or tshark means these fail; they never skip.
vup_e2e_test(dpdk_tap_split dpdk_tap.sh split 256)
vup_e2e_test(dpdk_tap_packed dpdk_tap.sh packed 256)
vup_e2e_test(dpdk_tap_split_burst_unverified dpdk_tap.sh split 256 unverified burst)
