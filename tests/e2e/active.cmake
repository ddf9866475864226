# --active net between real DPDK peers (active_dpdk.sh): testpmd txonly
# through vuproxy's shadow rings to testpmd rxonly, lossless.
vup_e2e_test(active_dpdk_lossless active_dpdk.sh txonly)
vup_e2e_test(active_dpdk_burst active_dpdk.sh burst)
vup_e2e_test(active_dpdk_rx active_dpdk.sh rx)
