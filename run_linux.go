package localdev

import (
	"errors"
	"sync"

	"golang.org/x/sys/unix"
)

var subreaper sync.Once

// becomeSubreaper makes this process the child subreaper of what it starts
// (Linux): a process of the command's group whose parent exits is
// reparented to run instead of to init, so that run can reap it (a zombie
// counts as a member of its group until reaped) and knows when the group
// is gone, whatever init the machine or container has.
func becomeSubreaper() {
	subreaper.Do(func() {
		_ = unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
	})
}

// reapGroup reaps the ended processes of the group pgid that are this
// process's children.
func reapGroup(pgid int) {
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-pgid, &ws, unix.WNOHANG, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil || pid <= 0 {
			return
		}
	}
}
