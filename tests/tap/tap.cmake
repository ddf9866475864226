# The net tap between real DPDK peers (tests/tap/dpdk_tap.sh): split and
# packed rings.  No dpdk-testpmd or tshark means these fail; they never skip.
foreach(ring split packed)
  vup_e2e_test(dpdk_tap_${ring} dpdk_tap.sh ${ring})
endforeach()
