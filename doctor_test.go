package localdev

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/caddyserver/caddy/v2"
	"github.com/spf13/cobra"

	"github.com/localdev/localdev/internal/adminclient"
)

// doctorRun runs this test binary as `caddy localdev doctor --json
// --address addr`, with extra environment, and returns the parsed results
// and the exit status. wrap, if not empty, is a command the binary runs
// under (unshare …).
func doctorRun(t *testing.T, addr string, env []string, wrap ...string) ([]doctorResult, int) {
	t.Helper()
	cmd := caddyCommand(t, wrap, "localdev", "doctor", "--json", "--address", addr)
	cmd.Env = append(cmd.Env, env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	code := 0
	if exit, ok := errors.AsType[*exec.ExitError](err); ok {
		code = exit.ExitCode()
	} else if err != nil {
		t.Fatalf("running doctor: %v; stderr: %s", err, stderr.String())
	}
	var results []doctorResult
	if err := json.Unmarshal(out, &results); err != nil {
		t.Fatalf("doctor --json (exit %d) printed no JSON array: %v\nstdout: %s\nstderr: %s", code, err, out, stderr.String())
	}
	return results, code
}

// doctorExecute runs `caddy localdev doctor <args>` through cobra in this
// process and returns what it printed and its error.
func doctorExecute(args ...string) (string, error) {
	root := &cobra.Command{Use: "localdev", SilenceUsage: true, SilenceErrors: true}
	setupLocaldevCommand(root)
	root.SetArgs(append([]string{"doctor"}, args...))
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(io.Discard)
	err := root.Execute()
	return out.String(), err
}

// doctorFind returns the results of check for subject.
func doctorFind(results []doctorResult, check, subject string) []doctorResult {
	var out []doctorResult
	for _, r := range results {
		if r.Check == check && (subject == "" || r.Subject == subject) {
			out = append(out, r)
		}
	}
	return out
}

// doctorOne returns the one result of check for subject, or fails.
func doctorOne(t *testing.T, results []doctorResult, check, subject string) doctorResult {
	t.Helper()
	found := doctorFind(results, check, subject)
	if len(found) != 1 {
		t.Fatalf("%d results of check %q for %q, want 1; all results:\n%s", len(found), check, subject, doctorDump(results))
	}
	return found[0]
}

func doctorDump(results []doctorResult) string {
	var b strings.Builder
	_ = writeDoctorText(&b, results)
	return b.String()
}

// doctorWant checks a result's status, that its detail and fix contain
// the given parts, and that a result that is not ok names a fix.
func doctorWant(t *testing.T, r doctorResult, status string, detail []string, fix ...string) {
	t.Helper()
	if r.Status != status {
		t.Errorf("%s %s: status %q, want %q; detail %q, fix %q", r.Check, r.Subject, r.Status, status, r.Detail, r.Fix)
	}
	for _, d := range detail {
		if !strings.Contains(r.Detail, d) {
			t.Errorf("%s %s: detail %q does not contain %q", r.Check, r.Subject, r.Detail, d)
		}
	}
	for _, f := range fix {
		if !strings.Contains(r.Fix, f) {
			t.Errorf("%s %s: fix %q does not contain %q", r.Check, r.Subject, r.Fix, f)
		}
	}
	if status != doctorOK && r.Fix == "" {
		t.Errorf("%s %s: status %s without a fix", r.Check, r.Subject, r.Status)
	}
}

// doctorCheckShape checks what every result must be: a known check, a
// subject, a known status, a detail.
func doctorCheckShape(t *testing.T, results []doctorResult) {
	t.Helper()
	for _, r := range results {
		if !slices.Contains([]string{"admin", "listen", "trust", "resolve", "app"}, r.Check) {
			t.Errorf("unknown check %q", r.Check)
		}
		if !slices.Contains([]string{doctorOK, doctorWarn, doctorFail}, r.Status) {
			t.Errorf("%s %s: unknown status %q", r.Check, r.Subject, r.Status)
		}
		if r.Subject == "" || r.Detail == "" {
			t.Errorf("%s: empty subject or detail: %+v", r.Check, r)
		}
	}
}

// TestDoctorCaddyDown: nothing answers at the admin address. The admin
// check fails with how to start Caddy and --address, every other check
// says it was skipped, and the command exits with status 1, in both forms.
func TestDoctorCaddyDown(t *testing.T) {
	addr := cliClosedAddr(t)
	results := runDoctor(context.Background(), addr)
	doctorCheckShape(t, results)
	admin := doctorOne(t, results, "admin", addr)
	doctorWant(t, admin, doctorFail, []string{"does not answer", addr}, "caddy run", "--address")
	for _, check := range []string{"listen", "trust", "resolve", "app"} {
		r := doctorOne(t, results, check, "-")
		doctorWant(t, r, doctorWarn, []string{"skipped"}, "admin check")
	}

	out, err := doctorExecute("--address", addr)
	if !errors.Is(err, errDoctorFailed) {
		t.Errorf("doctor with Caddy down: error %v, want errDoctorFailed", err)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 5 || !strings.HasPrefix(lines[0], "FAIL  admin") || !strings.Contains(lines[0], "fix: start Caddy") {
		t.Errorf("doctor with Caddy down printed:\n%s", out)
	}
	for _, l := range lines[1:] {
		if !strings.HasPrefix(l, "warn") || !strings.Contains(l, "skipped") {
			t.Errorf("line %q: want a warning that the check was skipped", l)
		}
	}

	// The real command: JSON on stdout, exit status 1.
	jsonResults, code := doctorRun(t, addr, nil)
	if code != 1 {
		t.Errorf("caddy localdev doctor with Caddy down: exit status %d, want 1", code)
	}
	if len(jsonResults) != 5 || jsonResults[0].Check != "admin" || jsonResults[0].Status != doctorFail {
		t.Errorf("doctor --json with Caddy down: %+v", jsonResults)
	}
}

// TestDoctorBadInput: arguments doctor does not take, and admin addresses
// that are not addresses, are clear errors that name them.
func TestDoctorBadInput(t *testing.T) {
	if _, err := doctorExecute("extra"); err == nil || !strings.Contains(err.Error(), `"extra"`) {
		t.Errorf("doctor extra: error %v, want one naming \"extra\"", err)
	}
	if _, err := doctorExecute("--json=maybe"); err == nil || !strings.Contains(err.Error(), "maybe") {
		t.Errorf("doctor --json=maybe: error %v, want one naming the value", err)
	}
	missing := filepath.Join(t.TempDir(), "no\x1b[31m.json")
	if _, err := doctorExecute("--config", missing); err == nil || !strings.Contains(err.Error(), `no\x1b[31m.json`) || strings.Contains(err.Error(), "\x1b") {
		t.Errorf("doctor --config %q: error %v, want one naming the file, escaped", missing, err)
	}
	for addr, want := range map[string]string{
		"localhost:1-9": `cannot ask the admin API: admin address "localhost:1-9": a port range`,
		"nonsense:port": `cannot ask the admin API: admin address "nonsense:port": invalid start port`,
		"unix/":         `cannot reach Caddy's admin API at unix/`,
	} {
		out, err := doctorExecute("--address", addr)
		if !errors.Is(err, errDoctorFailed) {
			t.Errorf("doctor --address %q: error %v, want errDoctorFailed", addr, err)
		}
		if first, _, _ := strings.Cut(out, "\n"); !strings.HasPrefix(first, "FAIL  admin    "+addr+": ") || !strings.Contains(first, want) {
			t.Errorf("doctor --address %q: first line %q, want the admin check failing with %q", addr, first, want)
		}
	}
}

// TestDoctorAdminHangs: an admin endpoint that accepts connections and
// never answers is "does not answer" after doctor's timeout, not a hang.
func TestDoctorAdminHangs(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		var held []net.Conn // never answered, closed with the listener
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			held = append(held, conn)
		}
	}()
	// A caller's shorter deadline bounds the admin check too (doctor's
	// own is doctorAdminTimeout); the other checks are skipped after it.
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	results := runDoctor(ctx, ln.Addr().String())
	doctorWant(t, doctorOne(t, results, "admin", ln.Addr().String()), doctorFail, []string{"does not answer", "deadline exceeded"}, "caddy run")
}

// TestDoctorNotLocaldev: a server answers at the admin address, but it is
// not a Caddy with localdev.
func TestDoctorNotLocaldev(t *testing.T) {
	srv := &http.Server{Handler: http.NotFoundHandler(), ReadHeaderTimeout: 5 * time.Second}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	results := runDoctor(context.Background(), ln.Addr().String())
	doctorWant(t, doctorOne(t, results, "admin", ln.Addr().String()), doctorFail, []string{"without the localdev module"}, "go install ./cmd/caddy", "xcaddy build --with")
}

// doctorApps starts apps for the doctor tests: one on 127.0.0.1 only, one
// on ::1 only (if this machine has IPv6 loopback), one on a Unix socket,
// and a port nothing listens on.
type doctorApps struct {
	up4, up6, down int
	sock           string
}

func startDoctorApps(t *testing.T) doctorApps {
	t.Helper()
	var a doctorApps
	a.up4 = startApp(t, "127.0.0.1:0", hello("up4"))
	if ln, err := net.Listen("tcp", "[::1]:0"); err == nil {
		_ = ln.Close()
		a.up6 = startApp(t, "[::1]:0", hello("up6"))
	} else {
		t.Logf("no IPv6 loopback here (%v): the IPv6-only app is left out", err)
	}
	a.down = freePort(t)
	dir, err := os.MkdirTemp("", "ldsock")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	a.sock = filepath.Join(dir, "app.sock")
	ln, err := net.Listen("unix", a.sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: hello("sock"), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return a
}

func (a doctorApps) routes() string {
	lines := "\t\tup4 " + strconv.Itoa(a.up4) + "\n" +
		"\t\tdown " + strconv.Itoa(a.down) + "\n" +
		"\t\t*.shop " + strconv.Itoa(a.up4) + "\n" +
		"\t\tsock unix/" + a.sock + "\n"
	if a.up6 != 0 {
		lines += "\t\tup6 " + strconv.Itoa(a.up6) + "\n"
	}
	return lines
}

// TestDoctorAgainstCaddy runs every check against a real Caddy with an
// HTTPS site from its internal CA (not trusted: the test configurations
// skip installing it), an app up on each family, an app down, an app on a
// Unix socket and a wildcard route.
func TestDoctorAgainstCaddy(t *testing.T) {
	apps := startDoctorApps(t)
	startCaddy(t, httpsSite("localdev {\n"+apps.routes()+"\t}"))
	addr := "localhost:" + adminP

	results := runDoctor(context.Background(), addr)
	doctorCheckShape(t, results)
	t.Logf("doctor:\n%s", doctorDump(results))

	doctorWant(t, doctorOne(t, results, "admin", addr), doctorOK, []string{"localdev is loaded", "localhost"})
	for _, r := range doctorFind(results, "listen", "") {
		doctorWant(t, r, doctorOK, []string{"loopback only"})
	}
	if len(doctorFind(results, "listen", "")) != 1 {
		t.Errorf("want one listen result (one server with localdev):\n%s", doctorDump(results))
	}

	// The internal CA is not trusted here: the fix is caddy trust, with
	// the admin address since it is not the default.
	trust := doctorFind(results, "trust", "")
	if len(trust) != 1 {
		t.Fatalf("want one trust result (no Firefox profile in the test home):\n%s", doctorDump(results))
	}
	doctorWant(t, trust[0], doctorFail, []string{"does not trust"}, "caddy trust --address "+addr)
	if !strings.HasPrefix(trust[0].Subject, "CA local (") {
		t.Errorf("trust subject %q, want the CA's ID and name", trust[0].Subject)
	}

	// Apps.
	doctorWant(t, doctorOne(t, results, "app", "up4.localhost -> "+strconv.Itoa(apps.up4)), doctorOK,
		[]string{"answers on 127.0.0.1:" + strconv.Itoa(apps.up4) + " only (IPv4)"})
	if apps.up6 != 0 {
		doctorWant(t, doctorOne(t, results, "app", "up6.localhost -> "+strconv.Itoa(apps.up6)), doctorOK,
			[]string{"answers on [::1]:" + strconv.Itoa(apps.up6) + " only (IPv6)"})
	}
	down := strconv.Itoa(apps.down)
	doctorWant(t, doctorOne(t, results, "app", "down.localhost -> "+down), doctorFail,
		[]string{"nothing answers on 127.0.0.1:" + down + " or [::1]:" + down}, "start the app listening on 127.0.0.1:"+down+" or [::1]:"+down)
	doctorWant(t, doctorOne(t, results, "app", "sock.localhost -> unix/"+apps.sock), doctorOK, []string{"answers on unix/" + apps.sock})
	doctorOne(t, results, "app", "*.shop.localhost -> "+strconv.Itoa(apps.up4))

	// Resolution as getent says: whatever this machine answers, each
	// exact name and the index host have a result, and one that fails
	// names hosts sync.
	for _, name := range []string{"localhost", "up4.localhost", "down.localhost", "sock.localhost"} {
		r := doctorOne(t, results, "resolve", name)
		if r.Status != doctorOK {
			doctorWant(t, r, doctorFail, nil, "sudo caddy localdev hosts sync --address "+addr, "hosts option")
		}
	}
	wild := doctorOne(t, results, "resolve", "*.shop.localhost")
	if wild.Status == doctorFail {
		t.Errorf("a wildcard that does not resolve warns, it does not fail: %+v", wild)
	}

	if !doctorFailed(results) {
		t.Error("doctorFailed = false with an app down")
	}

	// The text form: one line per result, the fix on every line that is
	// not ok, FAIL in capitals.
	out, err := doctorExecute("--address", addr)
	if !errors.Is(err, errDoctorFailed) {
		t.Errorf("doctor: error %v, want errDoctorFailed", err)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != len(results) {
		t.Errorf("%d lines for %d results:\n%s", len(lines), len(results), out)
	}
	for _, l := range lines {
		status, _, _ := strings.Cut(l, " ")
		switch status {
		case "ok":
			if strings.Contains(l, "fix:") {
				t.Errorf("ok line with a fix: %q", l)
			}
		case "warn", "FAIL":
			if !strings.Contains(l, " -- fix: ") {
				t.Errorf("%s line without a fix: %q", status, l)
			}
		default:
			t.Errorf("line does not start with ok, warn or FAIL: %q", l)
		}
	}

	// The JSON form through the real command: the same results, exactly
	// the five keys, exit status 1.
	jsonResults, code := doctorRun(t, addr, nil)
	if code != 1 {
		t.Errorf("doctor --json with an app down: exit status %d, want 1", code)
	}
	if len(jsonResults) != len(results) {
		t.Errorf("--json gave %d results, the library %d", len(jsonResults), len(results))
	}
	var raw []map[string]any
	var buf bytes.Buffer
	if err := writeDoctorJSON(&buf, results); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(buf.Bytes(), &raw); err != nil {
		t.Fatal(err)
	}
	for _, obj := range raw {
		keys := slices.Sorted(func(yield func(string) bool) {
			for k := range obj {
				if !yield(k) {
					return
				}
			}
		})
		if !slices.Equal(keys, []string{"check", "detail", "fix", "status", "subject"}) {
			t.Errorf("JSON object keys %q, want check, subject, status, detail, fix", keys)
		}
	}
}

// TestDoctorFirefoxUncheckable: with a Firefox profile in the home folder
// and no certutil on the PATH, the trust check says Firefox's store could
// not be checked, and how to make it checkable.
func TestDoctorFirefoxUncheckable(t *testing.T) {
	home, err := os.UserHomeDir()
	if err != nil {
		t.Fatal(err)
	}
	if os.Getenv("LOCALDEV_TEST_HOME") == "" || home != os.Getenv("HOME") || !strings.HasPrefix(home, os.TempDir()) {
		t.Fatalf("the home folder %q is not the test's temporary one", home)
	}
	if runtime.GOOS == "windows" {
		t.Setenv("APPDATA", filepath.Join(home, "AppData"))
	}
	profile := filepath.Join(filepath.Dir(firefoxProfileGlobs()[0]), "doctor.default")
	if !strings.HasPrefix(profile, home) {
		t.Fatalf("Firefox profile %s outside the test's home %s", profile, home)
	}
	if err := os.MkdirAll(profile, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(profile) })
	if err := os.WriteFile(filepath.Join(profile, "cert9.db"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", t.TempDir()) // no certutil

	startCaddy(t, httpsSite("localdev app "+strconv.Itoa(freePort(t))))
	results := runDoctor(context.Background(), "localhost:"+adminP)
	trust := doctorFind(results, "trust", "")
	if len(trust) != 2 {
		t.Fatalf("want two trust results (system, Firefox):\n%s", doctorDump(results))
	}
	doctorWant(t, trust[0], doctorFail, []string{"system trust store does not trust"}, "caddy trust")
	if runtime.GOOS == "windows" {
		doctorWant(t, trust[1], doctorWarn, []string{"Firefox", profile, "cannot check"}, "security.enterprise_roots.enabled")
	} else {
		doctorWant(t, trust[1], doctorWarn, []string{"Firefox", profile, "cannot be checked without NSS's certutil"}, "libnss3-tools", "caddy trust")
	}
	if !strings.HasSuffix(trust[1].Subject, " in Firefox") {
		t.Errorf("Firefox result's subject %q", trust[1].Subject)
	}
}

// TestDoctorFirefoxStore: with NSS's certutil and a real Firefox profile
// database, the trust check warns while the profile lacks the root, with
// caddy trust as the fix, and is ok once the root is in it under the
// nickname caddy trust gives it.
func TestDoctorFirefoxStore(t *testing.T) {
	certutil, err := exec.LookPath("certutil")
	if err != nil || runtime.GOOS == "windows" {
		if os.Getenv("CI") != "" && runtime.GOOS == "linux" {
			t.Fatal("CI needs NSS's certutil (libnss3-tools) for this test")
		}
		t.Skip("needs NSS's certutil (Debian: libnss3-tools) to make a Firefox profile database")
	}
	home, err := os.UserHomeDir()
	if err != nil || !strings.HasPrefix(home, os.TempDir()) {
		t.Fatalf("the home folder %q is not the test's temporary one (%v)", home, err)
	}
	profile := filepath.Join(filepath.Dir(firefoxProfileGlobs()[0]), "store.default")
	if err := os.MkdirAll(profile, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(profile) })
	nss := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(certutil, append(args, "-d", "sql:"+profile)...).CombinedOutput(); err != nil {
			t.Fatalf("certutil %q: %v: %s", args, err, out)
		}
	}
	nss("-N", "--empty-password")

	startCaddy(t, httpsSite("localdev app "+strconv.Itoa(freePort(t))))
	addr := "localhost:" + adminP
	results := runDoctor(context.Background(), addr)
	firefox := doctorFind(results, "trust", "")
	if len(firefox) != 2 {
		t.Fatalf("want two trust results (system, Firefox):\n%s", doctorDump(results))
	}
	doctorWant(t, firefox[1], doctorWarn, []string{"does not trust the root", profile}, "caddy trust --address "+addr)

	root, _, err := (&doctor{addr: addr, client: adminclient.New(addr)}).caRoot(context.Background(), "local")
	if err != nil {
		t.Fatal(err)
	}
	rootFile := filepath.Join(t.TempDir(), "root.pem")
	if err := os.WriteFile(rootFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: root.Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	nss("-A", "-t", "C,,", "-n", root.Subject.CommonName+" "+root.SerialNumber.String(), "-i", rootFile)
	results = runDoctor(context.Background(), addr)
	doctorWant(t, doctorFind(results, "trust", "")[1], doctorOK, []string{"every Firefox profile trusts the root"})
}

// TestDoctorAllGood: a configuration with nothing to complain about (an
// HTTP site, no routes, so only the index host to resolve) gives only ok
// results and exit status 0 from the real command.
func TestDoctorAllGood(t *testing.T) {
	if addrs, _, err := osResolve(context.Background(), "localhost"); err != nil || len(addrs) == 0 {
		t.Skipf("localhost does not resolve on this machine (%v), so nothing can be all good", err)
	}
	startCaddy(t, httpSite("localdev"))
	addr := "localhost:" + adminP
	results, code := doctorRun(t, addr, nil)
	doctorCheckShape(t, results)
	for _, r := range results {
		if r.Status != doctorOK {
			t.Errorf("not ok: %+v", r)
		}
	}
	doctorWant(t, doctorOne(t, results, "trust", "local CA"), doctorOK, []string{"nothing to trust"})
	doctorWant(t, doctorOne(t, results, "resolve", "localhost"), doctorOK, []string{"127.0.0.1"})
	if code != 0 {
		t.Errorf("exit status %d, want 0:\n%s", code, doctorDump(results))
	}
	if out, err := doctorExecute("--address", addr); err != nil || !strings.HasPrefix(out, "ok    admin") {
		t.Errorf("doctor: %v\n%s", err, out)
	}
}

// TestDoctorNoLocaldevHandler: Caddy with the module, but no site uses it.
func TestDoctorNoLocaldevHandler(t *testing.T) {
	startCaddy(t, "{"+globals+"}\nhttp://localhost:"+httpP+" {\n\tbind 127.0.0.1\n\trespond ok\n}\n")
	addr := "localhost:" + adminP
	results := runDoctor(context.Background(), addr)
	doctorWant(t, doctorOne(t, results, "admin", addr), doctorFail, []string{"no localdev handler"}, "localdev block", "caddy reload")
}

// TestDoctorUnixSocketAdmin: the admin API on a Unix socket
// (`admin unix//path`), addressed as Caddy writes it.
func TestDoctorUnixSocketAdmin(t *testing.T) {
	up := startApp(t, "127.0.0.1:0", hello("up"))
	startCaddy(t, httpSite("localdev up "+strconv.Itoa(up)))

	// Move the admin endpoint of the running Caddy to a socket, and back
	// afterwards so that the next test finds caddytest's port.
	var original json.RawMessage
	if err := adminclient.New("localhost:"+adminP).Do(context.Background(), http.MethodGet, "/config/", nil, nil, &original); err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "ldadmin")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := "unix/" + filepath.Join(dir, "admin.sock")
	var cfg map[string]any
	if err := json.Unmarshal(original, &cfg); err != nil {
		t.Fatal(err)
	}
	cfg["admin"] = map[string]any{"listen": sock}
	moved, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := caddy.Load(moved, true); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := caddy.Load(original, true); err != nil {
			t.Errorf("restoring the admin endpoint: %v", err)
		}
	})

	results := runDoctor(context.Background(), sock)
	t.Logf("doctor:\n%s", doctorDump(results))
	doctorWant(t, doctorOne(t, results, "admin", sock), doctorOK, []string{"1 route"})
	doctorWant(t, doctorOne(t, results, "app", "up.localhost -> "+strconv.Itoa(up)), doctorOK, []string{"answers on 127.0.0.1"})
	doctorOne(t, results, "resolve", "up.localhost")
	doctorOne(t, results, "listen", "")

	// The real command, pointed at the socket: exit status 1 only for
	// the name that does not resolve, if this machine does not resolve it.
	jsonResults, code := doctorRun(t, sock, nil)
	doctorWant(t, doctorOne(t, jsonResults, "admin", sock), doctorOK, []string{"1 route"})
	if want := map[bool]int{true: 1, false: 0}[doctorFailed(jsonResults)]; code != want {
		t.Errorf("exit status %d, want %d:\n%s", code, want, doctorDump(jsonResults))
	}
}

// doctorManagedBlock is the block `caddy localdev hosts sync` writes.
func doctorManagedBlock(lines ...string) string {
	return "# BEGIN localdev (managed by caddy localdev hosts; edits inside are lost)\n" +
		strings.Join(lines, "\n") + "\n# END localdev\n"
}

// TestDoctorManyRoutes: 1,000 routes, half up on 20 apps, half down,
// each checked and resolved, in seconds (logged, not asserted: speed is
// judged by measurements, not timed tests). As root the lookups run in a
// private mount namespace whose hosts file lists the even routes, so that
// each name's answer is known and no DNS server is asked; elsewhere the
// machine's resolver answers, and only the app results are checked.
func TestDoctorManyRoutes(t *testing.T) {
	const n = 1000
	var up []int
	for range 20 {
		up = append(up, startApp(t, "127.0.0.1:0", hello("many")))
	}
	down := freePort(t)
	var body strings.Builder
	var block []string
	body.WriteString("localdev {\n")
	for i := range n {
		port := down
		if i%2 == 0 {
			port = up[i%len(up)]
			block = append(block, fmt.Sprintf("127.0.0.1 r%04d.localhost", i))
		}
		fmt.Fprintf(&body, "\t\tr%04d %d\n", i, port)
	}
	body.WriteString("\t}")
	startCaddy(t, httpSite(body.String()))
	addr := "localhost:" + adminP

	var results []doctorResult
	start := time.Now()
	hostsFile, env, wrap, missing := doctorTryPrivateEtc(t)
	if missing == "" {
		hosts := "127.0.0.1 localhost\n" + doctorManagedBlock(block...)
		if err := os.WriteFile(hostsFile, []byte(hosts), 0o644); err != nil {
			t.Fatal(err)
		}
		var code int
		results, code = doctorRun(t, addr, env, wrap...)
		if code != 1 {
			t.Errorf("exit status %d, want 1 (apps down)", code)
		}
	} else {
		t.Logf("the machine's resolver answers (this test %s to use its own)", missing)
		results = runDoctor(context.Background(), addr)
	}
	t.Logf("doctor with %d routes: %d results in %v", n, len(results), time.Since(start).Round(time.Millisecond))
	doctorCheckShape(t, results)
	apps := doctorFind(results, "app", "")
	resolves := doctorFind(results, "resolve", "")
	if len(apps) != n || len(resolves) != n+1 {
		t.Fatalf("%d app and %d resolve results, want %d and %d", len(apps), len(resolves), n, n+1)
	}
	number := func(r doctorResult) int {
		i, err := strconv.Atoi(strings.TrimPrefix(strings.Split(r.Subject, ".")[0], "r"))
		if err != nil {
			t.Fatalf("subject %q", r.Subject)
		}
		return i
	}
	want := map[bool]string{true: doctorOK, false: doctorFail}
	for _, r := range apps {
		if i := number(r); r.Status != want[i%2 == 0] {
			t.Errorf("%s: %s, want %s (%s)", r.Subject, r.Status, want[i%2 == 0], r.Detail)
		}
	}
	if missing != "" {
		return
	}
	for _, r := range resolves[1:] {
		if i := number(r); r.Status != want[i%2 == 0] {
			t.Errorf("%s: %s, want %s (%s)", r.Subject, r.Status, want[i%2 == 0], r.Detail)
		}
	}
}

func TestListenLoopback(t *testing.T) {
	for listen, want := range map[string]bool{
		"127.0.0.1:8443":        true,
		"127.4.5.6:8443":        true,
		"[::1]:8443":            true,
		"tcp/127.0.0.1:8443":    true,
		"udp/[::1]:8443":        true,
		"localhost:8443":        true,
		"unix//run/caddy.sock":  true,
		":8443":                 false,
		"0.0.0.0:8443":          false,
		"[::]:8443":             false,
		"192.168.1.5:443":       false,
		"[::ffff:127.0.0.1]:80": true,
		"example.com:443":       false,
		"garbage:port":          false,
	} {
		if got := listenLoopback(listen); got != want {
			t.Errorf("listenLoopback(%q) = %v, want %v", listen, got, want)
		}
	}
}

// TestDoctorListenCheck: a server with localdev that listens beyond
// loopback warns unless every localdev handler in it has allow ranges.
// The configuration is what the admin API returns for the servers.
func TestDoctorListenCheck(t *testing.T) {
	handler := func(extra string) json.RawMessage {
		return json.RawMessage(`[{"handle":[{"handler":"subroute","routes":[{"handle":[{"handler":"localdev","routes":{"app":"3000"}` + extra + `}]}]}]}]`)
	}
	d := &doctor{servers: map[string]doctorServer{
		"loopback": {Listen: []string{"127.0.0.1:8443", "[::1]:8443"}, Routes: handler("")},
		"open":     {Listen: []string{":8443"}, Routes: handler("")},
		"allowed":  {Listen: []string{"192.168.1.5:8443"}, Routes: handler(`,"allow":["192.168.1.0/24"]`)},
		"unixonly": {Listen: []string{"192.168.1.5:8443"}, Routes: handler(`,"allow":["unix"],"domain":"Test"`)},
		"other":    {Listen: []string{":80"}, Routes: json.RawMessage(`[{"handle":[{"handler":"static_response"}]}]`)},
	}}
	results := d.checkListen()
	if len(results) != 4 {
		t.Fatalf("want 4 results (servers with localdev):\n%s", doctorDump(results))
	}
	doctorWant(t, doctorOne(t, results, "listen", "loopback (127.0.0.1:8443 [::1]:8443)"), doctorOK, []string{"loopback only"})
	doctorWant(t, doctorOne(t, results, "listen", "open (:8443)"), doctorWarn, []string{"listens on :8443", "localhost", "no allow"}, "bind 127.0.0.1 ::1")
	doctorWant(t, doctorOne(t, results, "listen", "allowed (192.168.1.5:8443)"), doctorOK, []string{"allow"})
	doctorWant(t, doctorOne(t, results, "listen", "unixonly (192.168.1.5:8443)"), doctorWarn, []string{"for test admits"}, "bind 127.0.0.1 ::1")
}

func TestTerminalSafe(t *testing.T) {
	for in, want := range map[string]string{
		"app.localhost":           "app.localhost",
		"héllo ✓":                 "héllo ✓",
		"red \x1b[31mtext":        `red \x1b[31mtext`,
		"a\nb\rc\td":              `a\x0ab\x0dc\x09d`,
		"del\x7f":                 `del\x7f`,
		"c1 \u009b31m":            `c1 \u{009b}31m`,
		"evil\u202etxt.exe":       `evil\u{202e}txt.exe`,
		"iso\u2066x\u2069":        `iso\u{2066}x\u{2069}`,
		"mark\u200e\u200f\u061c":  `mark\u{200e}\u{200f}\u{061c}`,
		"bad \xff\xfe utf8":       `bad \xff\xfe utf8`,
		"truncated \xe2\x80":      `truncated \xe2\x80`,
		"replacement \ufffd kept": "replacement \ufffd kept",
	} {
		if got := terminalSafe(in); got != want {
			t.Errorf("terminalSafe(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestDoctorOutputEscapes: whatever a result carries (a message from the
// admin API, say), neither form prints control characters or bidi
// overrides raw.
func TestDoctorOutputEscapes(t *testing.T) {
	results := []doctorResult{{Check: "admin", Subject: "x\x1b]0;title\x07", Status: doctorFail,
		Detail: "evil\u202egnp.exe \u0085 \x9b", Fix: "run \x1b[2Jthis"}}
	var text, js bytes.Buffer
	if err := writeDoctorText(&text, results); err != nil {
		t.Fatal(err)
	}
	if err := writeDoctorJSON(&js, results); err != nil {
		t.Fatal(err)
	}
	for form, out := range map[string]string{"text": text.String(), "json": js.String()} {
		for _, r := range strings.TrimSuffix(out, "\n") {
			if r != '\n' && unsafeRune(r) || r == utf8.RuneError {
				t.Errorf("%s form prints %U raw: %q", form, r, out)
			}
		}
	}
	var back []doctorResult
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if back[0].Detail != "evil\u202egnp.exe \u0085 \ufffd" || back[0].Fix != results[0].Fix {
		t.Errorf("JSON escapes changed the values: %+v", back[0])
	}
}

func FuzzTerminalSafe(f *testing.F) {
	for _, s := range []string{"", "app.localhost", "\x1b[31m", "\u202e", "\xff", "a\u0085b", "\u2066\u2069"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := terminalSafe(s)
		if !utf8.ValidString(out) {
			t.Fatalf("terminalSafe(%q) = %q: not UTF-8", s, out)
		}
		for _, r := range out {
			if unsafeRune(r) {
				t.Fatalf("terminalSafe(%q) = %q keeps %U", s, out, r)
			}
		}
		if utf8.ValidString(s) && !strings.ContainsFunc(s, unsafeRune) && out != s {
			t.Fatalf("terminalSafe(%q) = %q changed a safe string", s, out)
		}
	})
}
