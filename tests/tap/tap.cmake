# The net tap between real DPDK peers (tests/tap/dpdk_tap.sh), testpmd
# txonly at full rate.  Split: consumed equals testpmd's count, frames are
# captured and decode.  Packed: no used index, so at millions of packets a
# second the reader laps; it must never count more than the device used,
# nor call a real ring malformed.  No dpdk-testpmd or tshark means these
# fail; they never skip.
vup_e2e_test(dpdk_tap_split dpdk_tap.sh split 256)
vup_e2e_test(dpdk_tap_packed dpdk_tap.sh packed 256)
