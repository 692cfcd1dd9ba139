//go:build windows

package localdev

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"
)

// stdinForeground is false on Windows: there are no process groups of a
// terminal to share.
func stdinForeground() bool { return false }

// terminalForeground is false on Windows, as stdinForeground.
func terminalForeground(int) bool { return false }

// newJob returns a job object that terminates its processes when its last
// handle closes: when run exits, however it exits.
func newJob() (windows.Handle, error) {
	job, err := windows.CreateJobObject(nil, nil)
	if err != nil {
		return 0, err
	}
	info := windows.JOBOBJECT_EXTENDED_LIMIT_INFORMATION{}
	info.BasicLimitInformation.LimitFlags = windows.JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE
	if _, err := windows.SetInformationJobObject(job, windows.JobObjectExtendedLimitInformation,
		uintptr(unsafe.Pointer(&info)), uint32(unsafe.Sizeof(info))); err != nil {
		_ = windows.CloseHandle(job)
		return 0, err
	}
	return job, nil
}

// assign puts the process pid in job, and with it every process it starts
// from then on. (A process it starts in the instant between its start and
// this call stays outside; os/exec offers no suspended start to close that
// window, and a dev server's runner takes far longer to start anything.)
func assign(job windows.Handle, pid int) error {
	h, err := windows.OpenProcess(windows.PROCESS_SET_QUOTA|windows.PROCESS_TERMINATE, false, uint32(pid))
	if err != nil {
		return err
	}
	defer windows.CloseHandle(h)
	return windows.AssignProcessToJobObject(job, h)
}

// runChild starts cmd in a job object of its own and waits for it to end.
// Ctrl-C and Ctrl-Break reach the command from the console itself; after
// one, or when ctx is cancelled, the job is terminated if the command is
// still running killGrace later. When the command ends, what is left of the
// job is terminated (console programs have no SIGTERM), and so it is if run
// itself ends, since run holds the job's only handle.
//
// It returns the command's exit status. If a signal is already waiting on
// sigs, it does not start cmd and returns 128 + the signal's number. If cmd
// cannot start, it returns 127 (not found) or 126 and the error.
func runChild(ctx context.Context, cmd *exec.Cmd, sigs <-chan os.Signal) (int, error) {
	job, jobErr := newJob()
	if jobErr == nil {
		defer windows.CloseHandle(job)
	}
	if code, done, err := startChild(cmd, sigs); done {
		return code, err
	}
	if jobErr == nil {
		jobErr = assign(job, cmd.Process.Pid)
	}
	if jobErr != nil {
		fmt.Fprintf(os.Stderr, "localdev: no job object for %s (%v): what it starts may outlive it\n", cmd.Path, jobErr)
	}
	terminate := func() {
		if jobErr == nil {
			_ = windows.TerminateJobObject(job, 1)
		} else {
			_ = cmd.Process.Kill()
		}
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	cancelled := ctx.Done()
	var kill <-chan time.Time
	for {
		select {
		case s := <-sigs:
			if stopsCommand(s) && kill == nil {
				kill = time.After(killGrace)
			}
		case <-cancelled:
			cancelled = nil
			kill = time.After(0)
		case <-kill:
			terminate()
		case err := <-done:
			if jobErr == nil {
				_ = windows.TerminateJobObject(job, 1)
			}
			if cmd.ProcessState != nil {
				return exitCode(cmd.ProcessState), nil
			}
			return 1, fmt.Errorf("localdev: waiting for %s: %v", cmd.Path, err)
		}
	}
}
