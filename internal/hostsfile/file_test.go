//go:build unix

package hostsfile

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// childEnv makes the test binary run one child function instead of the
// tests: in a mount namespace, or as another user.
const childEnv = "HOSTSFILE_TEST_CHILD"

func TestMain(m *testing.M) {
	switch os.Getenv(childEnv) {
	case "":
		os.Exit(m.Run())
	case "sync":
		// caddy localdev hosts sync, as far as the file goes
		names := []string{"app.localhost"}
		for i := range atoiOr(os.Getenv("HOSTSFILE_TEST_NAMES"), 0) {
			names = append(names, fmt.Sprintf("app%d.localhost", i))
		}
		changed, err := Sync(os.Getenv("HOSTSFILE_TEST_PATH"), Block(names))
		fmt.Printf("changed=%v\n", changed)
		if err != nil {
			var perm *PermissionError
			fmt.Printf("permission=%v\n", errors.As(err, &perm))
			fmt.Println("error:", err)
			os.Exit(1)
		}
		os.Exit(0)
	default:
		fmt.Fprintln(os.Stderr, "unknown child", os.Getenv(childEnv))
		os.Exit(2)
	}
}

const userLines = "127.0.0.1 localhost\n::1 localhost ip6-localhost\n10.0.0.5 nas.lan\n"

func writeFile(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

func readString(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestSyncTwiceLeavesMtime: a sync that changes nothing does not write.
func TestSyncTwiceLeavesMtime(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hosts")
	writeFile(t, path, userLines, 0o644)
	block := Block([]string{"app.localhost", "*.shop.localhost"})
	changed, err := Sync(path, block)
	if err != nil || !changed {
		t.Fatalf("first Sync = %v, %v; want a write", changed, err)
	}
	if got := readString(t, path); got != userLines+block {
		t.Fatalf("after Sync:\n%s", got)
	}
	past := time.Now().Add(-time.Hour).Truncate(time.Second)
	if err := os.Chtimes(path, past, past); err != nil {
		t.Fatal(err)
	}
	before, _ := os.Stat(path)
	changed, err = Sync(path, block)
	if err != nil || changed {
		t.Fatalf("second Sync = %v, %v; want no write", changed, err)
	}
	after, _ := os.Stat(path)
	if !after.ModTime().Equal(past) || !os.SameFile(before, after) {
		t.Fatalf("second Sync touched the file: mtime %v, want %v", after.ModTime(), past)
	}
	// a Clean of a file without a block writes nothing either
	if changed, err := Clean(path); err != nil || !changed {
		t.Fatalf("Clean = %v, %v", changed, err)
	}
	if got := readString(t, path); got != userLines {
		t.Fatalf("after Clean:\n%q\nwant\n%q", got, userLines)
	}
	if err := os.Chtimes(path, past, past); err != nil {
		t.Fatal(err)
	}
	if changed, err := Clean(path); err != nil || changed {
		t.Fatalf("second Clean = %v, %v; want no write", changed, err)
	}
	if after, _ := os.Stat(path); !after.ModTime().Equal(past) {
		t.Fatal("second Clean touched the file")
	}
}

// TestSyncReplacesAtomicallyKeepingModeAndOwner: the file is a new inode
// (renamed into place) with the old mode and owner, and no temporary file
// is left behind.
func TestSyncReplacesAtomicallyKeepingModeAndOwner(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "hosts")
	writeFile(t, path, userLines, 0o640)
	uid, gid := os.Getuid(), os.Getgid()
	if os.Geteuid() == 0 {
		uid, gid = 65534, 65534 // root can give the file away: check the owner is kept
		if err := os.Chown(path, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	before, _ := os.Stat(path)
	if _, err := Sync(path, Block([]string{"app.localhost"})); err != nil {
		t.Fatal(err)
	}
	after, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if os.SameFile(before, after) {
		t.Error("the file was rewritten in place, want a rename of a new file")
	}
	if after.Mode().Perm() != 0o640 {
		t.Errorf("mode %v, want 0640", after.Mode().Perm())
	}
	if st, ok := after.Sys().(*syscall.Stat_t); ok && (int(st.Uid) != uid || int(st.Gid) != gid) {
		t.Errorf("owner %d:%d, want %d:%d", st.Uid, st.Gid, uid, gid)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("files left in the folder: %v", entries)
	}
}

// TestSyncThroughSymlink: a symlinked hosts file (as on some systems)
// stays a link; its target gets the block.
func TestSyncThroughSymlink(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "real-hosts")
	writeFile(t, target, userLines, 0o644)
	link := filepath.Join(dir, "hosts")
	if err := os.Symlink("real-hosts", link); err != nil {
		t.Skip("no symlinks here:", err)
	}
	block := Block([]string{"app.localhost"})
	if _, err := Sync(link, block); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("the link was replaced by a file: %v %v", fi.Mode(), err)
	}
	if got := readString(t, target); got != userLines+block {
		t.Fatalf("target:\n%s", got)
	}
	if _, err := Clean(link); err != nil {
		t.Fatal(err)
	}
	if got := readString(t, target); got != userLines {
		t.Fatalf("target after Clean:\n%s", got)
	}
}

// TestSyncMissingFile: sync creates the file (0644); clean leaves a
// missing file missing.
func TestSyncMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hosts")
	if changed, err := Clean(path); err != nil || changed {
		t.Fatalf("Clean of a missing file = %v, %v", changed, err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("Clean created the file")
	}
	block := Block([]string{"app.localhost"})
	if changed, err := Sync(path, block); err != nil || !changed {
		t.Fatalf("Sync = %v, %v", changed, err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o644 || readString(t, path) != block {
		t.Fatalf("created file: %v %v %q", fi.Mode(), err, readString(t, path))
	}
}

// TestSyncFileReplacedMeanwhile: a file replaced by another program
// between two syncs (a new inode without the block) keeps the new
// content, and the block is added back.
func TestSyncFileReplacedMeanwhile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "hosts")
	writeFile(t, path, userLines, 0o644)
	block := Block([]string{"app.localhost"})
	if _, err := Sync(path, block); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(dir, "hosts.new")
	replaced := "127.0.0.1 localhost\n192.168.1.9 new.lan\n"
	writeFile(t, other, replaced, 0o644)
	if err := os.Rename(other, path); err != nil {
		t.Fatal(err)
	}
	if changed, err := Sync(path, block); err != nil || !changed {
		t.Fatalf("Sync = %v, %v", changed, err)
	}
	if got := readString(t, path); got != replaced+block {
		t.Fatalf("after Sync:\n%s", got)
	}
}

// TestSyncDamagedFileUntouched: a half-written block is refused with the
// line, and the file keeps every byte and its mtime.
func TestSyncDamagedFileUntouched(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hosts")
	damaged := userLines + BeginMarker + "\n127.0.0.1 a.localhost\n"
	writeFile(t, path, damaged, 0o644)
	past := time.Now().Add(-time.Hour).Truncate(time.Second)
	_ = os.Chtimes(path, past, past)
	for _, f := range []func(string) (bool, error){
		func(p string) (bool, error) { return Sync(p, Block([]string{"app.localhost"})) },
		Clean,
	} {
		changed, err := f(path)
		var d *DamagedError
		if changed || !errors.As(err, &d) || d.Line != 4 || !strings.Contains(err.Error(), path+": line 4: a BEGIN localdev line without an END") {
			t.Fatalf("= %v, %v; want a *DamagedError for line 4 naming the file", changed, err)
		}
	}
	fi, _ := os.Stat(path)
	if readString(t, path) != damaged || !fi.ModTime().Equal(past) {
		t.Fatal("a damaged file was changed")
	}
}

// TestSyncMissingFolder: the error names the file and the folder.
func TestSyncMissingFolder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "no-such-folder", "hosts")
	_, err := Sync(path, Block(nil))
	if err == nil || err.Error() != path+": the folder "+filepath.Dir(path)+" does not exist" {
		t.Fatalf("Sync = %v", err)
	}
}

// TestSyncNotARegularFile: a folder where the file should be is an error
// naming it, not a crash or a replaced folder.
func TestSyncNotARegularFile(t *testing.T) {
	path := t.TempDir()
	_, err := Sync(path, Block(nil))
	if err == nil || !strings.Contains(err.Error(), path+": not a regular file") {
		t.Fatalf("Sync(folder) = %v", err)
	}
}

// needRootAndUnshare skips without root or unshare, except in CI, where
// both are expected and the test fails instead.
func needRootAndUnshare(t *testing.T) string {
	t.Helper()
	why := ""
	unshare, err := exec.LookPath("unshare")
	switch {
	case runtime.GOOS != "linux":
		why = "mount namespaces are Linux only"
	case os.Geteuid() != 0:
		why = "needs root for a mount namespace and another user"
	case err != nil:
		why = "needs unshare (util-linux)"
	}
	if why == "" {
		return unshare
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("in CI this must run: %s", why)
	}
	t.Skip(why)
	return ""
}

// selfCopy copies the test binary where another user can run it.
func selfCopy(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "hostsfile-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	src, err := os.Open(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	bin := filepath.Join(dir, "hostsfile.test")
	dst, err := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
	return bin
}

// TestSyncNoPermission runs a sync as an unprivileged user against a
// root-owned file: a *PermissionError naming the file, and the file as
// it was.
func TestSyncNoPermission(t *testing.T) {
	needRootAndUnshare(t)
	bin := selfCopy(t)
	dir := filepath.Dir(bin)
	path := filepath.Join(dir, "hosts")
	writeFile(t, path, userLines, 0o644)
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), childEnv+"=sync", "HOSTSFILE_TEST_PATH="+path)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("sync as nobody succeeded:\n%s", out)
	}
	if !strings.Contains(string(out), "permission=true") || !strings.Contains(string(out), path) {
		t.Fatalf("want a PermissionError naming %s, got:\n%s", path, out)
	}
	if readString(t, path) != userLines {
		t.Fatal("the file changed")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Fatalf("files left behind: %v", entries)
	}
}

// TestSyncBindMountedFileInPlace bind-mounts a file over another inside a
// private mount namespace, as a container gets its /etc/hosts: the rename
// fails (EBUSY) and the file is rewritten in place, keeping the mount.
func TestSyncBindMountedFileInPlace(t *testing.T) {
	unshare := needRootAndUnshare(t)
	dir := t.TempDir()
	source := filepath.Join(dir, "source")
	mountpoint := filepath.Join(dir, "etc", "hosts")
	if err := os.Mkdir(filepath.Dir(mountpoint), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, source, userLines, 0o644)
	writeFile(t, mountpoint, "the file under the mount, never touched\n", 0o644)
	script := `set -e
mount --make-rprivate /
mount --bind "$1" "$2"
exec "$3"`
	cmd := exec.Command(unshare, "--mount", "sh", "-c", script, "sh", source, mountpoint, os.Args[0])
	cmd.Env = append(os.Environ(), childEnv+"=sync", "HOSTSFILE_TEST_PATH="+mountpoint)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("sync in a mount namespace: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "changed=true") {
		t.Fatalf("no write reported:\n%s", out)
	}
	if got, want := readString(t, source), userLines+Block([]string{"app.localhost"}); got != want {
		t.Fatalf("bind-mounted file:\n%q\nwant\n%q", got, want)
	}
	if got := readString(t, mountpoint); got != "the file under the mount, never touched\n" {
		t.Fatalf("the file under the mount changed: %q", got)
	}
	entries, _ := os.ReadDir(filepath.Dir(mountpoint))
	if len(entries) != 1 {
		t.Fatalf("files left behind: %v", entries)
	}
}

func atoiOr(s string, def int) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		return def
	}
	return n
}

// TestSyncFullDiskLeavesFileWhole fills a small tmpfs (inside a private
// mount namespace) and syncs a block that does not fit, once by rename
// and once in place (the file bind-mounted elsewhere): both fail with the
// disk's error, and the file keeps its old content, no temporary file left.
func TestSyncFullDiskLeavesFileWhole(t *testing.T) {
	unshare := needRootAndUnshare(t)
	for _, mode := range []string{"rename", "in-place"} {
		t.Run(mode, func(t *testing.T) {
			dir := t.TempDir()
			src := filepath.Join(dir, "src")
			content := userLines + strings.Repeat("# padding to fill one page of the small disk\n", 60)
			writeFile(t, src, content, 0o644)
			small := filepath.Join(dir, "small")
			mountpoint := filepath.Join(dir, "etc", "hosts")
			_ = os.Mkdir(small, 0o755)
			_ = os.Mkdir(filepath.Dir(mountpoint), 0o755)
			writeFile(t, mountpoint, "", 0o644)
			path := small + "/hosts"
			if mode == "in-place" {
				path = mountpoint
			}
			script := `mount --make-rprivate / || exit 9
mount -t tmpfs -o size=16k tmpfs "$1" || exit 9
cp "$2" "$1/hosts"
head -c 100000 /dev/zero > "$1/filler" 2>/dev/null
mount --bind "$1/hosts" "$3" || exit 9
"$4"
echo "exit=$?"
cmp -s "$1/hosts" "$2" && echo whole
ls -a "$1" | tr '\n' ' '`
			cmd := exec.Command(unshare, "--mount", "sh", "-c", script, "sh", small, src, mountpoint, os.Args[0])
			cmd.Env = append(os.Environ(), childEnv+"=sync", "HOSTSFILE_TEST_PATH="+path, "HOSTSFILE_TEST_NAMES=200")
			out, _ := cmd.CombinedOutput()
			s := string(out)
			if !strings.Contains(s, "exit=1") || !strings.Contains(s, "no space left on device") {
				t.Fatalf("want the sync to fail with ENOSPC, got:\n%s", s)
			}
			if !strings.Contains(s, "whole") {
				t.Fatalf("the file changed:\n%s", s)
			}
			if !strings.HasSuffix(s, "whole\n. .. filler hosts ") {
				t.Fatalf("files left on the disk:\n%s", s)
			}
		})
	}
}
