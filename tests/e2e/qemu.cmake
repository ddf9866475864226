# QEMU end-to-end tests: a TCG guest boots a Debian kernel with a busybox
# initramfs (built at test time by mkinitramfs.sh) and uses a vhost-user
# device through vuproxy.  Missing peers or kernel make them FAIL, not skip.
#   e2e_qemu_net: QEMU virtio-net-pci <-> vuproxy <-> dpdk-testpmd net_vhost
#                 (icmpecho); every guest ping must be answered.
#   e2e_qemu_blk: QEMU vhost-user-blk-pci <-> vuproxy <-> qemu-storage-daemon;
#                 whole-disk read, pattern write found in the image,
#                 ADD_MEM_REG / GET_CONFIG / SET_BACKEND_REQ_FD relayed.
#   e2e_qemu_fs:  QEMU vhost-user-fs-pci <-> vuproxy <-> virtiofsd (root,
#                 -o sandbox=chroot); the guest reads a file the host
#                 wrote and writes one the host reads.
#   e2e_qemu_backend_restart: as e2e_qemu_net, QEMU reconnect=1; testpmd is
#                 killed and restarted 6 s later: the guest keeps running
#                 (vuproxy closes each reconnecting QEMU at once) and pings
#                 through the new testpmd.
#   e2e_qemu_migrate: a live migration of a pinging guest between two QEMUs,
#                 each through its own vuproxy --tap net to one testpmd with
#                 two ports, against the same migration done directly: at
#                 most 4 pings lost, the source port reads the same requests
#                 (SET_LOG_BASE with its fd), each tap counts exactly the
#                 buffers its device used.  Labelled slow (two guest boots, 120 s at most);
#                 the sanitizer pass leaves it out (scripts/test.sh).
#   e2e_qemu_service: README's "Run as a service" followed: the units'
#                 ExecStart and ListenStream, a conf file, systemd's
#                 systemd-socket-activate holding the socket; QEMU's first
#                 connection starts vuproxy, whose guest pings testpmd.
# Each runs `vuproxy check` on vuproxy's trace: no error-level finding.
# Needs: qemu-system-x86, qemu-system-common (qemu-storage-daemon,
# virtiofsd), dpdk-dev, busybox-static,
# linux-image-amd64, cpio, gzip (and jq, tshark).
vup_e2e_test(e2e_qemu_net qemu_net.sh)
vup_e2e_test(e2e_qemu_blk qemu_blk.sh)
vup_e2e_test(e2e_qemu_fs qemu_fs.sh)
vup_e2e_test(e2e_qemu_backend_restart qemu_backend_restart.sh)
vup_e2e_test(e2e_qemu_service qemu_service.sh)
vup_e2e_test(e2e_qemu_migrate qemu_migrate.sh)
set_tests_properties(e2e_qemu_migrate PROPERTIES LABELS "e2e;slow" TIMEOUT 120)
