//go:build unix

package localdev

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// stdinForeground reports whether this process's group is the foreground
// process group of the terminal on stdin.
func stdinForeground() bool { return terminalForeground(0) }

// terminalForeground reports whether fd is this process's controlling
// terminal and this process's group is its foreground group
// (tcgetpgrp(fd) == getpgrp()). It is false when fd is not a terminal, is
// another session's terminal, or has hung up.
func terminalForeground(fd int) bool {
	pgrp, ok := terminalGroup(fd)
	return ok && pgrp == unix.Getpgrp()
}

// terminalGroup returns the foreground process group of the terminal fd.
func terminalGroup(fd int) (int, bool) {
	pgrp, err := unix.IoctlGetInt(fd, unix.TIOCGPGRP)
	if err != nil {
		return 0, false
	}
	// TIOCGPGRP writes a 32-bit pid_t into the int: on a 64-bit
	// big-endian machine it lands in the high half.
	if uint64(pgrp) > math.MaxUint32 {
		pgrp = int(uint64(pgrp) >> 32)
	}
	return pgrp, pgrp > 0
}

// foregroundTerminal returns the first of stdin, stdout and stderr that is
// the controlling terminal with this process's group in its foreground,
// or -1: the terminal run hands to the command's group.
func foregroundTerminal() int {
	for fd := 0; fd <= 2; fd++ {
		if terminalForeground(fd) {
			return fd
		}
	}
	return -1
}

// setTerminalGroup makes pgrp the foreground group of the terminal fd, as
// a shell does: with SIGTTOU ignored, since a process in a background group
// that changes the terminal gets SIGTTOU, which would stop it.
func setTerminalGroup(fd, pgrp int) error {
	signal.Ignore(syscall.SIGTTOU)
	defer signal.Reset(syscall.SIGTTOU)
	return unix.IoctlSetPointerInt(fd, unix.TIOCSPGRP, pgrp)
}

// procGroup is a command running in its own process group.
type procGroup struct {
	pgid int // the group, whose id is the command's pid
	tty  int // the terminal handed to the group, or -1
}

// signal sends sig to every process of the group.
func (g *procGroup) signal(sig os.Signal) {
	if s, ok := sig.(syscall.Signal); ok {
		_ = unix.Kill(-g.pgid, s)
	}
}

// alive reports whether any process of the group is left; it reaps those
// of them that are this process's children (see reapGroup).
func (g *procGroup) alive() bool {
	reapGroup(g.pgid)
	return unix.Kill(-g.pgid, 0) == nil
}

// takeTerminal gives the terminal back to run's own group, if the
// command's group still has it.
func (g *procGroup) takeTerminal() {
	if g.tty < 0 {
		return
	}
	if fg, ok := terminalGroup(g.tty); ok && fg == g.pgid {
		_ = setTerminalGroup(g.tty, unix.Getpgrp())
	}
}

// suspend is what a shell does when its foreground job stops (Ctrl-Z):
// run takes the terminal back and stops its own group, so that the shell
// that started run sees the job stopped; when continued (fg or bg), it
// hands the terminal on again if it is in the foreground, and continues
// the command's group.
func (g *procGroup) suspend() {
	if g.tty < 0 {
		return // stopped by someone else, with no terminal to hand back
	}
	g.takeTerminal()
	// The stop takes the whole process a moment after kill returns; the
	// SIGCONT that ends it (fg, bg) says when run runs again.
	cont := make(chan os.Signal, 1)
	signal.Notify(cont, syscall.SIGCONT)
	defer signal.Stop(cont)
	if err := unix.Kill(0, unix.SIGTSTP); err != nil {
		return
	}
	<-cont
	if terminalForeground(g.tty) {
		_ = setTerminalGroup(g.tty, g.pgid)
	}
	g.signal(unix.SIGCONT)
}

// waitEvent is a change of the command's state.
type waitEvent struct {
	stopped bool
	status  unix.WaitStatus
	err     error
}

// waitChild reports the command's stops and its end on events; it reaps
// it itself, so that it sees stops (WUNTRACED) as a shell does.
func waitChild(pid int, events chan<- waitEvent) {
	for {
		var ws unix.WaitStatus
		_, err := unix.Wait4(pid, &ws, unix.WUNTRACED|unix.WCONTINUED, nil)
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case err != nil:
			events <- waitEvent{err: err}
			return
		case ws.Stopped():
			events <- waitEvent{stopped: true}
		case ws.Continued():
		default:
			events <- waitEvent{status: ws}
			return
		}
	}
}

// statusCode is the status a shell reports for ws.
func statusCode(ws unix.WaitStatus) int {
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}

// runChild starts cmd in a process group of its own, sends the group the
// signals that arrive on sigs, and waits for the command to end. If run is
// in the foreground of its terminal, the group gets the terminal (so that
// Ctrl-C reaches the command once, from the terminal, and it can read
// keys), and run takes it back when the command ends or stops. After a
// signal that stops commands (stopsCommand), the group is killed if the
// command is still running killGrace later. When the command has ended,
// what is left of its group gets SIGTERM, then SIGKILL after killGrace.
//
// It returns the command's exit status as a shell reports it. If a signal
// is already waiting on sigs, it does not start cmd and returns 128 + the
// signal's number. If cmd cannot start, it returns 127 (not found) or 126
// and the error. Cancelling ctx sends the group SIGTERM, then SIGKILL
// after killGrace.
func runChild(ctx context.Context, cmd *exec.Cmd, sigs <-chan os.Signal) (int, error) {
	becomeSubreaper()
	tty := foregroundTerminal()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if tty >= 0 {
		cmd.SysProcAttr.Foreground = true
		cmd.SysProcAttr.Ctty = tty
	}
	if code, done, err := startChild(cmd, sigs); done {
		return code, err
	}
	g := &procGroup{pgid: cmd.Process.Pid, tty: tty}
	defer g.takeTerminal()
	events := make(chan waitEvent, 4)
	go waitChild(cmd.Process.Pid, events)

	cancelled := ctx.Done()
	var kill <-chan time.Time
	for {
		select {
		case s := <-sigs:
			g.signal(s)
			if stopsCommand(s) && kill == nil {
				kill = time.After(killGrace)
			}
		case <-cancelled:
			cancelled = nil
			g.signal(syscall.SIGTERM)
			kill = time.After(killGrace)
		case <-kill:
			fmt.Fprintf(os.Stderr, "localdev: %s did not end %v after the signal; killing it\n", cmd.Path, killGrace)
			g.signal(syscall.SIGKILL)
		case ev := <-events:
			if ev.stopped {
				g.suspend()
				continue
			}
			_ = cmd.Process.Release()
			g.takeTerminal()
			g.stopRest(cmd.Path, sigs)
			if ev.err != nil {
				return 1, fmt.Errorf("localdev: waiting for %s: %v", cmd.Path, ev.err)
			}
			return statusCode(ev.status), nil
		}
	}
}

// stopRest ends what is left of the group once the command has ended:
// SIGTERM, then SIGKILL after killGrace, or at once when another signal
// arrives on sigs. It returns once the group is gone, or a little after
// SIGKILL.
func (g *procGroup) stopRest(path string, sigs <-chan os.Signal) {
	if !g.alive() {
		return
	}
	g.signal(syscall.SIGCONT) // a stopped process cannot act on SIGTERM
	g.signal(syscall.SIGTERM)
	poll := time.NewTicker(20 * time.Millisecond)
	defer poll.Stop()
	kill := time.After(killGrace)
	var giveUp <-chan time.Time
	for {
		select {
		case <-poll.C:
			if !g.alive() {
				return
			}
			continue
		case <-sigs:
		case <-kill:
		case <-giveUp:
			fmt.Fprintf(os.Stderr, "localdev: processes of %s's group %d outlived SIGKILL\n", path, g.pgid)
			return
		}
		if giveUp == nil {
			fmt.Fprintf(os.Stderr, "localdev: killing what is left of %s's process group %d\n", path, g.pgid)
			g.signal(syscall.SIGKILL)
			kill = nil
			giveUp = time.After(2 * time.Second)
		}
	}
}
