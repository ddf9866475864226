# QEMU end-to-end tests: a TCG guest boots a Debian kernel with a busybox
# initramfs (built at test time by mkinitramfs.sh) and uses a vhost-user
# device through vuproxy.  Missing peers or kernel make them FAIL, not skip.
#   e2e_qemu_net: QEMU virtio-net-pci <-> vuproxy <-> dpdk-testpmd net_vhost
#                 (icmpecho); every guest ping must be answered.
#   e2e_qemu_blk: QEMU vhost-user-blk-pci <-> vuproxy <-> qemu-storage-daemon;
#                 whole-disk read, pattern write found in the image,
#                 ADD_MEM_REG / GET_CONFIG / SET_BACKEND_REQ_FD relayed.
#   e2e_qemu_backend_restart: as e2e_qemu_net, QEMU reconnect=1; testpmd is
#                 killed and restarted 6 s later: the guest keeps running
#                 (vuproxy closes each reconnecting QEMU at once) and pings
#                 through the new testpmd.
# Needs: qemu-system-x86, qemu-system-common, dpdk-dev, busybox-static,
# linux-image-amd64, cpio, gzip.
vup_e2e_test(e2e_qemu_net qemu_net.sh)
vup_e2e_test(e2e_qemu_blk qemu_blk.sh)
vup_e2e_test(e2e_qemu_backend_restart qemu_backend_restart.sh)
