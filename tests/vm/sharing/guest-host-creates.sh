# shellcheck shell=sh
# Scenario host-creates: both VMs mount (a master, b client) and list; then
# the host CLI creates h/one (creat -S 31), h/sub/two (creat -S 32) and
# h/famfs-tool (cp of this very program). Both VMs see them appear without
# remounting and read them. ctl slot 0: created (host, after cp finished).
mount_famfs
[ ! -e $M/h ] || fail "h exists before the host made it"
ls -l $M
n0=$(stat_of notifications)
marker ready-$VM
ms=$(wait_listed $M h 60) || fail "h did not appear"
ms2=$(wait_listed $M/h famfs-tool 60) || fail "h/famfs-tool did not appear"
check "h appeared after $ms ms of polling (from this VM's ready marker), h/famfs-tool $ms2 ms later, without a remount"
ctl_wait 0 created
famfs-tool verify $M/h/one 31 mmap || fail "verify h/one by mmap"
famfs-tool verify $M/h/one 31 read || fail "verify h/one by read"
famfs-tool verify $M/h/sub/two 32 mmap || fail "verify h/sub/two"
cmp $M/h/famfs-tool /bin/famfs-tool || fail "h/famfs-tool differs from /bin/famfs-tool"
# The copy runs from the file system (DAX read of its text).
$M/h/famfs-tool wait-at $M/ctl 0 created 0 || fail "running h/famfs-tool"
ls -lR $M/h
[ "$(ls $M/h | wc -l)" = 3 ] || fail "h lists $(ls $M/h | wc -l) names, not 3"
[ "$(stat_of notifications)" -gt "$n0" ] || fail "no notification counted"
check "read the host's 3 new files by mmap, read(2) and exec"
finish
