# DPDK testpmd net_virtio_user (front-end) <-> vuproxy <-> testpmd net_vhost
# (back-end), each compared with the same pair connected directly: link up,
# packets flow, and the back-end reads the identical vhost-user request
# sequence.  Every socket-role combination of vuproxy, split and packed
# rings: dpdk_pair_<frontend role>_<backend role>_<ring>; and two queue
# pairs (multiqueue) on each ring: dpdk_pair_listen_connect_<ring>_mq.
# Each also runs `vuproxy check` on vuproxy's trace.
# No dpdk-testpmd on the machine means these tests fail; they never skip.
foreach(roles listen/connect listen/listen connect/connect connect/listen)
  string(REPLACE "/" ";" roles "${roles}")
  list(GET roles 0 fe)
  list(GET roles 1 be)
  foreach(ring split packed)
    vup_e2e_test(dpdk_pair_${fe}_${be}_${ring} dpdk_pair.sh ${fe} ${be} ${ring})
  endforeach()
endforeach()
foreach(ring split packed)
  vup_e2e_test(dpdk_pair_listen_connect_${ring}_mq dpdk_pair.sh listen connect ${ring} 2)
endforeach()
