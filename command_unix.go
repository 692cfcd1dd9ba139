//go:build unix

package localdev

import (
	"math"

	"golang.org/x/sys/unix"
)

// stdinForeground reports whether this process's group is the foreground
// process group of the terminal on stdin, so that the keys that send
// signals (Ctrl-C, Ctrl-\) reach run's child from the terminal itself.
func stdinForeground() bool { return terminalForeground(0) }

// terminalForeground reports whether fd is this process's controlling
// terminal and this process's group is its foreground group
// (tcgetpgrp(fd) == getpgrp()). It is false when fd is not a terminal, is
// another session's terminal, or has hung up.
func terminalForeground(fd int) bool {
	pgrp, err := unix.IoctlGetInt(fd, unix.TIOCGPGRP)
	if err != nil {
		return false
	}
	// TIOCGPGRP writes a 32-bit pid_t into the int: on a 64-bit
	// big-endian machine it lands in the high half.
	if uint64(pgrp) > math.MaxUint32 {
		pgrp = int(uint64(pgrp) >> 32)
	}
	return pgrp > 0 && pgrp == unix.Getpgrp()
}
