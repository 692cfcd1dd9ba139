//go:build linux

package listeners

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// TestScanOtherUser starts a listener as another user (nobody): the
// default scan leaves it out, --all shows it; and a scan by that other,
// unprivileged user sees root's listener without details, not an error.
func TestScanOtherUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root on Linux to start a process as another user")
	}
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Skip("no user nobody")
	}
	uid, _ := strconv.Atoi(nobody.Uid)
	gid, _ := strconv.Atoi(nobody.Gid)
	// The test binary must be readable and executable by nobody.
	dir, err := os.MkdirTemp("", "listeners-helper-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	exe := filepath.Join(dir, "helper")
	data, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(exe, data, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	asNobody := func(mode string, env ...string) *exec.Cmd {
		cmd := exec.Command(exe)
		cmd.Dir = "/"
		cmd.Env = append([]string{"LISTENERS_TEST_HELPER=" + mode, "PATH=/usr/bin:/bin"}, env...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
		return cmd
	}

	cmd := asNobody("listen")
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = stdin.Close(); _ = cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	port, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatalf("helper said %q", line)
	}

	own, err := Scan(context.Background(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if l := find(own, port); l != nil {
		t.Errorf("root's default scan shows nobody's listener: %+v", l)
	}
	all, err := Scan(context.Background(), Options{AllUsers: true})
	if err != nil {
		t.Fatal(err)
	}
	l := find(all, port)
	if l == nil || l.User != nobody.Username || l.PID != int32(cmd.Process.Pid) || l.Own || l.Cwd != "/" {
		t.Fatalf("--all: %+v, want nobody's listener, pid %d, cwd /", l, cmd.Process.Pid)
	}

	// nobody scanning sees this test's listener, without details.
	rootPort := serve(t, "127.0.0.1:0", page("root's"))
	out, err := asNobody("scan", "LISTENERS_TEST_PORT="+strconv.Itoa(rootPort)).CombinedOutput()
	if err != nil {
		t.Fatalf("scan as nobody: %v: %s", err, out)
	}
	if got, want := strings.TrimSpace(string(out)), `found pid=0 own=false user="" process="" command="" cwd=""`; got != want {
		t.Errorf("nobody's --all scan of root's listener: %s, want %s", got, want)
	}
}
