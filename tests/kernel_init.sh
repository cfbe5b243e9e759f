#!/bin/sh
# /init of the kernel-matrix guest (tests/kernels.py): load the 9p modules, build a root of
# read-only host shares on a tmpfs, run /out/cmd.sh in it as root, write its exit status
# to /out/rc and power off. Runs on the initramfs's static busybox.
export PATH=/bin
/bin/busybox --install -s /bin
mkdir -p /proc /sys /dev /r
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in /modules/*.ko; do
	[ -e "$m" ] && insmod "$m"
done
opts=trans=virtio,version=9p2000.L,msize=262144
mount -t tmpfs -o mode=0755,size=2g root /r
mkdir -p /r/out /r/proc /r/sys /r/dev /r/tmp /r/run /r/root /r/var/tmp /r/mnt
mount -t 9p -o $opts out /r/out || { echo "kernel_init: cannot mount /out"; poweroff -f; }
while read tag path; do
	mkdir -p "/r$path"
	mount -t 9p -o $opts,ro,cache=loose "$tag" "/r$path" ||
		echo "kernel_init: cannot mount $tag at $path"
done </r/out/mounts
for l in bin sbin lib lib64 lib32; do
	ln -s usr/$l /r/$l
done
chmod 1777 /r/tmp /r/var/tmp
mkdir -p /r/var/cache/treeprof
mount -t proc proc /r/proc
mount -t sysfs sys /r/sys
mount -t devtmpfs dev /r/dev
mkdir -p /r/dev/pts /r/dev/shm
# What udev would add: /dev/stdin and friends.
ln -s /proc/self/fd /r/dev/fd
ln -s /proc/self/fd/0 /r/dev/stdin
ln -s /proc/self/fd/1 /r/dev/stdout
ln -s /proc/self/fd/2 /r/dev/stderr
mount -t devpts devpts /r/dev/pts
mount -t tmpfs -o mode=1777 shm /r/dev/shm
mount -t debugfs debugfs /r/sys/kernel/debug 2>/dev/null
mount -t tracefs tracefs /r/sys/kernel/tracing 2>/dev/null
mount -t bpf bpf /r/sys/fs/bpf 2>/dev/null
mount -t cgroup2 cgroup2 /r/sys/fs/cgroup 2>/dev/null
ip link set lo up
hostname guest
echo "kernel_init: $(uname -r) up; running /out/cmd.sh"
chroot /r /bin/sh /out/cmd.sh </dev/console >/dev/console 2>&1
echo $? >/r/out/rc
sync
echo "kernel_init: done, exit status $(cat /r/out/rc)"
poweroff -f
