//go:build unix

package localdev

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/spf13/cobra"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/localdev/localdev/internal/adminclient"
	"github.com/localdev/localdev/internal/hostsfile"
	"github.com/localdev/localdev/internal/routes"
)

// hostsRun runs `caddy localdev <args>` in process and returns its output.
func hostsRun(args ...string) (stdout, stderr string, err error) {
	var out, errOut bytes.Buffer
	root := &cobra.Command{Use: "localdev", SilenceUsage: true}
	setupLocaldevCommand(root)
	root.SetArgs(args)
	root.SetOut(&out)
	root.SetErr(&errOut)
	err = root.Execute()
	return out.String(), errOut.String(), err
}

const hostsUserLines = "127.0.0.1 localhost\n::1 localhost ip6-localhost\n# a line of mine\n10.0.0.5 nas.lan\n"

func hostsTempFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "hosts")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func hostsAPIPut(t *testing.T, name, target string) {
	t.Helper()
	if _, _, err := adminclient.New(cliAdminAddr()).PutRoute(context.Background(), name, target, adminclient.PutOptions{Replace: true}); err != nil {
		t.Fatalf("PUT %s: %v", name, err)
	}
}

func hostsAPIDelete(t *testing.T, name string) {
	t.Helper()
	if err := adminclient.New(cliAdminAddr()).DeleteRoute(context.Background(), name, adminclient.DeleteConditions{}); err != nil {
		t.Fatalf("DELETE %s: %v", name, err)
	}
}

// TestHostsCommands runs sync, show and clean against a real Caddy and a
// temporary hosts file: the block lists the exact names and a comment for
// the wildcard, a second sync leaves the file alone, clean restores it.
func TestHostsCommands(t *testing.T) {
	startCaddy(t, httpSite("localdev {\n\t\tapp 3000\n\t\t*.shop 5173\n\t}"))
	hostsAPIPut(t, "api.localhost", "4000")
	defer hostsAPIDelete(t, "api.localhost")
	path := hostsTempFile(t, hostsUserLines)
	addr := "--address=" + cliAdminAddr()
	want := hostsfile.BeginMarker + "\n" +
		"127.0.0.1 api.localhost\n::1 api.localhost\n" +
		"127.0.0.1 app.localhost\n::1 app.localhost\n" +
		"# *.shop.localhost: a wildcard cannot be listed here\n" +
		hostsfile.EndMarker + "\n"

	out, errOut, err := hostsRun("hosts", "show", addr)
	if err != nil || out != want || errOut != "" {
		t.Fatalf("hosts show = %q, %q, %v; want\n%s", out, errOut, err, want)
	}
	out, _, err = hostsRun("hosts", "sync", "--file", path, addr)
	if err != nil || out != path+" updated\n" {
		t.Fatalf("hosts sync = %q, %v", out, err)
	}
	if got, _ := os.ReadFile(path); string(got) != hostsUserLines+want {
		t.Fatalf("after sync:\n%s", got)
	}
	past := time.Now().Add(-time.Hour).Truncate(time.Second)
	if err := os.Chtimes(path, past, past); err != nil {
		t.Fatal(err)
	}
	out, _, err = hostsRun("hosts", "sync", "--file", path, addr)
	if err != nil || out != path+" is up to date\n" {
		t.Fatalf("second hosts sync = %q, %v", out, err)
	}
	if fi, _ := os.Stat(path); !fi.ModTime().Equal(past) {
		t.Fatalf("second sync wrote the file: mtime %v", fi.ModTime())
	}
	out, _, err = hostsRun("hosts", "clean", "--file", path)
	if err != nil || out != path+" cleaned\n" {
		t.Fatalf("hosts clean = %q, %v", out, err)
	}
	if got, _ := os.ReadFile(path); string(got) != hostsUserLines {
		t.Fatalf("after clean:\n%q\nwant\n%q", got, hostsUserLines)
	}
	out, _, err = hostsRun("hosts", "clean", "--file", path)
	if err != nil || out != path+" has no localdev block\n" {
		t.Fatalf("second hosts clean = %q, %v", out, err)
	}
}

// TestHostsSyncThenCleanRestoresFile: `hosts sync` then `hosts clean`
// leave a file that ends with a line end byte-identical to what it was,
// with blank lines before its end or not, LF or CRLF. A file whose last
// line has no line end keeps the one line end sync put before the block,
// and a second sync and clean change nothing more.
func TestHostsSyncThenCleanRestoresFile(t *testing.T) {
	startCaddy(t, httpSite("localdev app 3000"))
	addr := "--address=" + cliAdminAddr()
	crlf := strings.ReplaceAll(hostsUserLines, "\n", "\r\n")
	for _, tt := range []struct{ content, eol string }{
		{hostsUserLines, ""},
		{hostsUserLines + "\n\n", ""},
		{crlf, ""},
		{crlf + "\r\n\r\n", ""},
		{"", ""},
		{strings.TrimSuffix(hostsUserLines, "\n"), "\n"},
		{hostsUserLines + "\n\n10.0.0.6 printer.lan", "\n"},
		{strings.TrimSuffix(crlf, "\r\n"), "\r\n"},
	} {
		want := tt.content + tt.eol
		path := hostsTempFile(t, tt.content)
		for round := 1; round <= 2; round++ {
			if out, errOut, err := hostsRun("hosts", "sync", "--file", path, addr); err != nil || out != path+" updated\n" {
				t.Fatalf("%q, round %d: hosts sync = %q, %q, %v", tt.content, round, out, errOut, err)
			}
			if got, _ := hostsBlockOf(path); strings.ReplaceAll(got, "\r\n", "\n") != hostsfile.Block([]string{"app.localhost"}) {
				t.Errorf("%q, round %d: block after sync:\n%s", tt.content, round, got)
			}
			if out, errOut, err := hostsRun("hosts", "clean", "--file", path); err != nil || out != path+" cleaned\n" {
				t.Fatalf("%q, round %d: hosts clean = %q, %q, %v", tt.content, round, out, errOut, err)
			}
			if got, _ := os.ReadFile(path); string(got) != want {
				t.Errorf("round %d: after sync and clean the file is\n%q\nwant\n%q", round, got, want)
			}
		}
	}
}

// TestHostsAppendAfterSync is the review's case end to end: `hosts sync`
// on a file whose last line has no line end, then a line appended the way
// `echo … | sudo tee -a /etc/hosts` does, then `hosts sync` and `hosts
// clean` again: both accept the file, and the appended line stays a line
// of its own outside the block.
func TestHostsAppendAfterSync(t *testing.T) {
	startCaddy(t, httpSite("localdev app 3000"))
	addr := "--address=" + cliAdminAddr()
	const added = "10.0.0.6 printer.lan\n"
	original := strings.TrimSuffix(hostsUserLines, "\n")
	path := hostsTempFile(t, original)
	if out, errOut, err := hostsRun("hosts", "sync", "--file", path, addr); err != nil || out != path+" updated\n" {
		t.Fatalf("hosts sync = %q, %q, %v", out, errOut, err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.WriteString(added)
	if cerr := f.Close(); err != nil || cerr != nil {
		t.Fatalf("append: %v, %v", err, cerr)
	}
	block := hostsfile.Block([]string{"app.localhost"})
	if got, _ := os.ReadFile(path); string(got) != original+"\n"+block+added {
		t.Errorf("after sync and an append the file is\n%q\nwant\n%q", got, original+"\n"+block+added)
	}
	if out, errOut, err := hostsRun("hosts", "sync", "--file", path, addr); err != nil || out != path+" is up to date\n" {
		t.Fatalf("hosts sync after the append = %q, %q, %v", out, errOut, err)
	}
	if out, errOut, err := hostsRun("hosts", "clean", "--file", path); err != nil || out != path+" cleaned\n" {
		t.Fatalf("hosts clean = %q, %q, %v", out, errOut, err)
	}
	if got, _ := os.ReadFile(path); string(got) != original+"\n"+added {
		t.Errorf("after clean the file is\n%q\nwant\n%q", got, original+"\n"+added)
	}
}

// TestHostsCommandErrors: each failure is one plain line on stderr and a
// non-zero status; the file is never changed.
func TestHostsCommandErrors(t *testing.T) {
	damaged := hostsUserLines + hostsfile.BeginMarker + "\n127.0.0.1 old.localhost\n"
	path := hostsTempFile(t, damaged)
	closed := cliClosedAddr(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"hosts", "sync", "--file", path, "--address", closed}, "cannot reach Caddy's admin API at " + closed},
		{[]string{"hosts", "show", "--address", closed}, "cannot reach Caddy's admin API at " + closed},
		{[]string{"hosts", "clean", "--file", path}, path + ": line 5: a BEGIN localdev line without an END localdev line after it"},
		{[]string{"hosts", "clean", "--file", filepath.Dir(path)}, filepath.Dir(path) + ": not a regular file"},
		{[]string{"hosts", "clean", "extra"}, `unknown command "extra"`},
		{[]string{"hosts", "frob"}, `unknown command "frob"`},
	} {
		out, errOut, err := hostsRun(c.args...)
		if err == nil || out != "" {
			t.Errorf("%v: err %v, stdout %q; want a failure", c.args, err, out)
			continue
		}
		msg := errOut + err.Error()
		if !strings.Contains(msg, c.want) {
			t.Errorf("%v: %q does not say %q", c.args, msg, c.want)
		}
		if errOut != "" && strings.Count(errOut, "\n") != 1 {
			t.Errorf("%v: more than one line: %q", c.args, errOut)
		}
	}
	if got, _ := os.ReadFile(path); string(got) != damaged {
		t.Fatal("a failed command changed the file")
	}
}

// hostsNeedRoot skips without root and util-linux's unshare, except in
// CI, where both are expected.
func hostsNeedRoot(t *testing.T, tools ...string) map[string]string {
	t.Helper()
	found := map[string]string{}
	why := ""
	switch {
	case runtime.GOOS != "linux":
		why = "mount namespaces and users are Linux-only here"
	case os.Geteuid() != 0:
		why = "needs root (a private mount namespace, another user)"
	}
	for _, tool := range tools {
		p, err := exec.LookPath(tool)
		if err != nil && why == "" {
			why = "needs " + tool + " on the PATH"
		}
		found[tool] = p
	}
	if why == "" {
		return found
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("in CI this must run: %s", why)
	}
	t.Skip(why)
	return nil
}

// hostsSelfCopy copies the test binary into a folder another user can
// read, with a root-owned hosts file next to it.
func hostsSelfCopy(t *testing.T) (bin, dir string) {
	t.Helper()
	dir, err := os.MkdirTemp("", "localdev-hosts-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	bin = filepath.Join(dir, "localdev.test")
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	return bin, dir
}

// TestHostsSyncNoPermission runs `caddy localdev hosts sync` as an
// unprivileged user against a root-owned file: exit status 1 and one
// line naming the file and the sudo command.
func TestHostsSyncNoPermission(t *testing.T) {
	hostsNeedRoot(t)
	startCaddy(t, httpSite("localdev app 3000"))
	bin, dir := hostsSelfCopy(t)
	path := filepath.Join(dir, "hosts")
	if err := os.WriteFile(path, []byte(hostsUserLines), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := caddyCommand(t, nil, "localdev", "hosts", "sync", "--file", path, "--address", cliAdminAddr())
	cmd.Path, cmd.Args[0] = bin, bin // the copy that user may run
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("exit: %v; stdout %q stderr %q", err, stdout.String(), stderr.String())
	}
	want := "localdev: cannot update " + path + " (permission denied); run: sudo caddy localdev hosts sync --file " + path + "\n"
	if stderr.String() != want || stdout.Len() != 0 {
		t.Fatalf("stderr %q, stdout %q; want stderr %q", stderr.String(), stdout.String(), want)
	}
	if got, _ := os.ReadFile(path); string(got) != hostsUserLines {
		t.Fatal("the file changed")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Fatalf("files left behind: %v", entries)
	}
}

// TestHostsCommandForDefaultFile: the advice for the system file is the
// plain command.
func TestHostsCommandForDefaultFile(t *testing.T) {
	if got := hostsCommandFor("sync", defaultHostsFile()); got != "sudo caddy localdev hosts sync" {
		t.Fatalf("hostsCommandFor = %q", got)
	}
	if got := hostsCommandFor("clean", "/tmp/h"); got != "sudo caddy localdev hosts clean --file /tmp/h" {
		t.Fatalf("hostsCommandFor = %q", got)
	}
}

// hostsBlockOf returns the managed block of the file, "" if none.
func hostsBlockOf(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	block, _, err := hostsfile.Current(b)
	return string(block), err
}

func hostsWant(path string, names ...string) func() error {
	want := hostsfile.Block(names)
	return func() error {
		got, err := hostsBlockOf(path)
		if err != nil {
			return err
		}
		if got != want {
			return fmt.Errorf("block is\n%s\nwant\n%s", got, want)
		}
		return nil
	}
}

// TestHostsOptionFollowsTable: with the hosts option, the running Caddy
// keeps the block equal to the route table as the configuration, a
// folder and the API change it, keeps the user's lines, puts the block
// back into a file another program replaced, and removes the block when
// no configuration asks for it any more.
func TestHostsOptionFollowsTable(t *testing.T) {
	path := hostsTempFile(t, hostsUserLines)
	dir := t.TempDir()
	site := func(extra string) string {
		return httpSite("localdev {\n\t\tapp 3000\n\t\tdir " + dir + "\n\t\thosts " + path + "\n" + extra + "\t}\n" +
			"\tlocaldev {\n\t\tdomain test\n\t\thosts " + path + "\n\t\tfallthrough\n\t}")
	}
	startCaddy(t, site(""))
	eventually(t, 2*time.Second, "configured route in the hosts file", hostsWant(path, "app.localhost", "test"))

	hostsAPIPut(t, "api.localhost", "4000")
	eventually(t, 2*time.Second, "API route in the hosts file", hostsWant(path, "api.localhost", "app.localhost", "test"))
	if err := os.WriteFile(filepath.Join(dir, "web"), []byte("5173\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "*.shop"), []byte("5174\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*time.Second, "folder routes in the hosts file",
		hostsWant(path, "api.localhost", "app.localhost", "web.localhost", "*.shop.localhost", "test"))
	hostsAPIDelete(t, "api.localhost")
	if err := os.Remove(filepath.Join(dir, "web")); err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*time.Second, "removed routes leave the hosts file",
		hostsWant(path, "app.localhost", "*.shop.localhost", "test"))
	if err := os.Remove(filepath.Join(dir, "*.shop")); err != nil {
		t.Fatal(err)
	}

	// another program replaces the file without the block: its lines stay,
	// the block comes back
	replaced := "127.0.0.1 localhost\n192.168.1.9 printer.lan\n"
	tmp := path + ".new"
	if err := os.WriteFile(tmp, []byte(replaced), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*time.Second, "block back in a replaced file", func() error {
		got, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if want := replaced + hostsfile.Block([]string{"app.localhost", "test"}); string(got) != want {
			return fmt.Errorf("file is\n%s", got)
		}
		return nil
	})
	if err := os.WriteFile(path, []byte(hostsUserLines), 0o644); err != nil {
		t.Fatal(err)
	}

	// a reload keeps the one writer; the new routes follow
	startCaddy(t, site("\t\tdocs 4001\n"))
	eventually(t, 2*time.Second, "reloaded routes in the hosts file", hostsWant(path, "app.localhost", "docs.localhost", "test"))
	n := 0
	hostsWriters.Range(func(key, _ any) bool { n++; return true })
	if n != 1 {
		t.Fatalf("%d hosts writers, want one for the process", n)
	}
	if got, _ := os.ReadFile(path); !strings.HasPrefix(string(got), hostsUserLines) {
		t.Fatalf("the user's lines changed:\n%s", got)
	}

	// a configuration without the option removes the block, and only it
	startCaddy(t, httpSite("localdev app 3000"))
	eventually(t, 2*time.Second, "block removed", func() error {
		got, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if string(got) != hostsUserLines {
			return fmt.Errorf("file is\n%s", got)
		}
		return nil
	})
}

// TestHostsOptionValidateLeavesFile: `caddy validate` provisions and
// cleans up a configuration at once; with the hosts option that must not
// write the file, nor remove a block another Caddy keeps there.
func TestHostsOptionValidateLeavesFile(t *testing.T) {
	content := hostsUserLines + hostsfile.Block([]string{"kept.localhost"})
	path := hostsTempFile(t, content)
	past := time.Now().Add(-time.Hour).Truncate(time.Second)
	if err := os.Chtimes(path, past, past); err != nil {
		t.Fatal(err)
	}
	out, err := adapt(t, "localdev {\n\tvalidated 3000\n\thosts "+path+"\n}")
	if err != nil {
		t.Fatal(err)
	}
	var cfg caddy.Config
	if err := json.Unmarshal(out, &cfg); err != nil {
		t.Fatal(err)
	}
	if err := caddy.Validate(&cfg); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * hostsBatch) // a writer left running would have written by now
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(path); string(got) != content || !fi.ModTime().Equal(past) {
		t.Fatalf("validate touched the file (mtime %v):\n%s", fi.ModTime(), got)
	}
}

// TestHostsOptionRejectsRelativePath: the option needs a full path.
func TestHostsOptionRejectsRelativePath(t *testing.T) {
	h := &Handler{Hosts: "hosts", logger: zap.NewNop()}
	err := h.startHosts()
	if err == nil || !strings.Contains(err.Error(), `hosts "hosts": give the file's full path`) {
		t.Fatalf("startHosts = %v", err)
	}
}

// TestHostsWriterWarnsOnce: a writer that cannot write the file logs one
// warning naming the command, stays quiet for the next failures, and
// writes once the file is writable again. The file is replaced by a
// folder to make it unwritable, which works as root too.
func TestHostsWriterWarnsOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hosts")
	if err := os.Mkdir(path, 0o755); err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zapcore.DebugLevel)
	w := newHostsWriter(path, zap.New(core))
	defer func() { _ = w.Destruct() }()
	for i := range 3 {
		r := routes.NewRoute(fmt.Sprintf("warn%d.localhost", i), mustTarget(t, "3000"), routes.SourceAPI, "")
		if _, err := table.Put(r, true); err != nil {
			t.Fatal(err)
		}
		defer table.Delete(r.Name, routes.SourceAPI, routes.Condition{})
		time.Sleep(2 * hostsBatch)
	}
	eventually(t, 2*time.Second, "failures logged", func() error {
		if n := logs.FilterMessageSnippet("hosts file").Len(); n < 2 {
			return fmt.Errorf("%d log entries", n)
		}
		return nil
	})
	warns := logs.FilterLevelExact(zapcore.WarnLevel).All()
	if len(warns) != 1 {
		t.Fatalf("%d warnings, want 1: %v", len(warns), warns)
	}
	fields := warns[0].ContextMap()
	if fields["file"] != path || !strings.Contains(fmt.Sprint(fields["fix"]), "sudo caddy localdev hosts sync --file "+path) {
		t.Fatalf("warning fields %v", fields)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	w.wake()
	eventually(t, 2*time.Second, "written once writable", func() error {
		got, err := hostsBlockOf(path)
		if err != nil {
			return err
		}
		if !strings.Contains(got, "127.0.0.1 warn2.localhost\n") {
			return fmt.Errorf("block %q", got)
		}
		return nil
	})
}

func mustTarget(t *testing.T, s string) routes.Target {
	t.Helper()
	target, err := routes.ParseTarget(s)
	if err != nil {
		t.Fatal(err)
	}
	return target
}

// exampleCaddyfile is the repository's example configuration with the
// test's ports and admin address, and its log at warn level in logFile.
func exampleCaddyfile(t *testing.T, appPort int, logFile string) string {
	t.Helper()
	b, err := os.ReadFile("Caddyfile")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	// the example's own ports, replaced by the test's
	for from, to := range map[string]string{":8443": ":" + httpsP, ":8080": ":" + httpP, ":8081": ":" + fmt.Sprint(appPort), " 8081 ": " " + fmt.Sprint(appPort) + " "} {
		if !strings.Contains(s, from) {
			t.Fatalf("the example Caddyfile no longer has %q", from)
		}
		s = strings.ReplaceAll(s, from, to)
	}
	global := "{\n\tadmin localhost:" + adminP + "\n\tgrace_period 1s\n\tlog {\n\t\toutput file " + logFile + "\n\t\tlevel WARN\n\t}\n"
	if !strings.Contains(s, "\n{\n") {
		t.Fatal("the example Caddyfile has no global options block")
	}
	return strings.Replace(s, "\n{\n", "\n"+global, 1)
}

// TestExampleCaddyfile loads the repository's example configuration into
// a real Caddy: plain HTTP redirects to HTTPS keeping the port and the
// path, the demo app answers by name over HTTPS, and starting it logs no
// warning.
func TestExampleCaddyfile(t *testing.T) {
	ln := cliClosedAddr(t) // a free port for the demo app
	_, port, _ := strings.Cut(ln, ":")
	var appPort int
	fmt.Sscan(port, &appPort)
	logFile := filepath.Join(t.TempDir(), "caddy.log")
	startCaddy(t, exampleCaddyfile(t, appPort, logFile))

	client := testClient("127.0.0.1")
	r := fetch(t, client, "GET", httpURL("app.localhost", "/x?y=1"))
	if r.status != http.StatusPermanentRedirect || r.header.Get("Location") != httpsURL("app.localhost", "/x?y=1") {
		t.Fatalf("http:// answered %d Location %q; want 308 to %s", r.status, r.header.Get("Location"), httpsURL("app.localhost", "/x?y=1"))
	}
	if r := fetch(t, client, "GET", httpsURL("demo.localhost", "/")); r.status != 200 || !strings.Contains(r.body, "Hello from demo.localhost") {
		t.Fatalf("demo app: %d %q", r.status, r.body)
	}
	// Caddy logs its start-up warnings while it loads; the log is complete
	// once the configuration answers.
	logged, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(logged)), "\n") {
		if line != "" && !strings.Contains(line, `"level":"info"`) {
			t.Errorf("start-up log line a newcomer cannot act on: %s", line)
		}
	}
}

// TestHostsResolveForReal: in a private mount namespace with a temporary
// file bind-mounted over /etc/hosts, app.localhost does not resolve for
// getent (the system resolver, nsswitch) before `caddy localdev hosts
// sync`, and resolves to 127.0.0.1 and ::1 after; then a Python client
// (and a Node one where node is installed) reaches https://app.localhost
// through that resolver, trusting Caddy's root. The machine's /etc/hosts is byte-identical afterwards.
func TestHostsResolveForReal(t *testing.T) {
	tools := hostsNeedRoot(t, "unshare", "getent", "python3", "mount")
	if os.Getenv("CI") == "" && hostsResolves(t, tools["getent"], "app.localhost") {
		t.Skip("app.localhost resolves on this machine already (nss-myhostname?): nothing to prove")
	}
	realHosts, err := os.ReadFile("/etc/hosts")
	if err != nil {
		t.Fatal(err)
	}
	appPort := startApp(t, "127.0.0.1:0", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from the app for %s", r.Host)
	}))
	startCaddy(t, httpsSite(fmt.Sprintf("localdev app %d", appPort)))
	// the local CA exists once Caddy serves a name; a first handshake makes sure
	if r := fetch(t, testClient("127.0.0.1"), "GET", httpsURL("app.localhost", "/")); r.status != 200 {
		t.Fatalf("app through Caddy: %d %s", r.status, r.body)
	}
	rootCert := filepath.Join(caddy.AppDataDir(), "pki", "authorities", "local", "root.crt")
	if _, err := os.Stat(rootCert); err != nil {
		t.Fatalf("Caddy's root certificate: %v", err)
	}

	hostsCopy := hostsTempFile(t, string(realHosts))
	bin, _ := hostsSelfCopy(t)
	python := `import ssl, sys, urllib.request
ctx = ssl.create_default_context(cafile=sys.argv[2])
print(urllib.request.urlopen(sys.argv[1], context=ctx, timeout=10).read().decode())`
	script := `mount --make-rprivate / || exit 90
mount --bind "$HOSTS_COPY" /etc/hosts || exit 91
echo "== before"
getent ahosts app.localhost; echo "getent=$?"
echo "== sync"
"$BIN"; echo "sync=$?"
echo "== after"
getent ahosts app.localhost; echo "getent=$?"
echo "== python"
python3 -c "$PYTHON" "$URL" "$ROOT_CERT"; echo "python=$?"
echo "== node"
if [ -n "$NODE" ]; then NODE_EXTRA_CA_CERTS="$ROOT_CERT" "$NODE" -e "$NODE_SCRIPT" "$URL"; echo "node=$?"; fi`
	// Node too where it is installed (CI installs it): fetch() resolves
	// through the system resolver and trusts NODE_EXTRA_CA_CERTS.
	node, err := exec.LookPath("node")
	if err != nil && os.Getenv("CI") != "" {
		t.Fatal("in CI node must be installed")
	}
	nodeScript := `fetch(process.argv[1]).then(r => r.text()).then(t => console.log(t), e => { console.error(e.cause || e); process.exit(1) })`
	sync := caddyCommand(t, nil, "localdev", "hosts", "sync", "--address", cliAdminAddr())
	cmd := exec.Command(tools["unshare"], "--mount", "sh", "-c", script)
	cmd.Env = append(sync.Env,
		"HOSTS_COPY="+hostsCopy, "BIN="+bin, "PYTHON="+python,
		"URL="+httpsURL("app.localhost", "/"), "ROOT_CERT="+rootCert,
		"NODE="+node, "NODE_SCRIPT="+nodeScript)
	out, err := cmd.CombinedOutput()
	t.Logf("inside the mount namespace:\n%s", out)
	if err != nil {
		t.Fatalf("mount namespace: %v", err)
	}
	before, after, _ := strings.Cut(string(out), "== sync")
	if !strings.Contains(before, "getent=2") {
		t.Fatal("app.localhost resolved before the sync")
	}
	if !strings.Contains(after, "sync=0") {
		t.Fatal("hosts sync failed")
	}
	resolved, clients, _ := strings.Cut(after, "== python")
	py, nodeOut, _ := strings.Cut(clients, "== node")
	if !strings.Contains(resolved, "getent=0") {
		t.Fatal("app.localhost does not resolve after the sync")
	}
	addrs := map[string]bool{}
	for _, line := range strings.Split(resolved, "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[1] == "STREAM" {
			addrs[f[0]] = true
		}
	}
	if len(addrs) != 2 || !addrs["127.0.0.1"] || !addrs["::1"] {
		t.Fatalf("getent ahosts app.localhost gives %v, want 127.0.0.1 and ::1", addrs)
	}
	if !strings.Contains(py, "hello from the app for app.localhost:") || !strings.Contains(py, "python=0") {
		t.Fatal("Python did not reach https://app.localhost through the system resolver")
	}
	if node != "" && (!strings.Contains(nodeOut, "hello from the app for app.localhost:") || !strings.Contains(nodeOut, "node=0")) {
		t.Fatal("Node did not reach https://app.localhost through the system resolver")
	}
	if got, _ := os.ReadFile(hostsCopy); !bytes.HasPrefix(got, realHosts) || !bytes.Contains(got, []byte("::1 app.localhost\n")) {
		t.Fatalf("the bind-mounted copy:\n%s", got)
	}
	if now, err := os.ReadFile("/etc/hosts"); err != nil || !bytes.Equal(now, realHosts) {
		t.Fatalf("the machine's /etc/hosts changed (%v)", err)
	}
}

// hostsResolves reports whether getent finds name on this machine.
func hostsResolves(t *testing.T, getent, name string) bool {
	t.Helper()
	return exec.Command(getent, "ahosts", name).Run() == nil
}

// TestHostsCaddyfile: "hosts" alone is the system hosts file, "hosts
// <file>" that file; more is an error naming the value. The name of a
// route called hosts is written in full (hosts.localhost 3000).
func TestHostsCaddyfile(t *testing.T) {
	for body, want := range map[string]string{
		"localdev {\n\thosts\n}":                             `"hosts":` + strconvQuote(defaultHostsFile()),
		"localdev {\n\thosts /tmp/my-hosts\n}":               `"hosts":"/tmp/my-hosts"`,
		"localdev {\n\thosts.localhost 3000\n}":              `"routes":{"hosts.localhost":"3000"}`,
		"localdev {\n\tapp 3000\n\thosts /etc/hosts\n}":      `"hosts":"/etc/hosts"`,
		"localdev {\n\thosts /etc/hosts /etc/other-hosts\n}": `hosts takes at most one file, got "/etc/other-hosts" too`,
	} {
		out, err := adapt(t, body)
		got := string(out)
		if err != nil {
			got = err.Error()
		}
		if !strings.Contains(got, want) {
			t.Errorf("%q adapts to\n%s\nwant it to contain %s", body, got, want)
		}
	}
}

func strconvQuote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
