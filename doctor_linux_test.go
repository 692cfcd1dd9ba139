package localdev

import (
	"bytes"
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/localdev/localdev/internal/adminclient"
)

// Environment of the doctor child (see doctorChild) for a private view of
// /etc: the temporary files it bind-mounts over /etc/hosts and
// /etc/nsswitch.conf, and the mount namespace of the test, which the child
// must not be in (else it would mount over the machine's own files).
const (
	doctorHostsEnv    = "LOCALDEV_TEST_DOCTOR_HOSTS"
	doctorNsswitchEnv = "LOCALDEV_TEST_DOCTOR_NSSWITCH"
	doctorParentNSEnv = "LOCALDEV_TEST_DOCTOR_PARENT_MNTNS"
)

// childSetup bind-mounts the temporary hosts and nsswitch files over
// the machine's, in the child's own mount namespace (it runs under
// `unshare --mount --propagation private`): it refuses when it is still in
// the test's namespace.
func childSetup() error {
	hosts := os.Getenv(doctorHostsEnv)
	if hosts == "" {
		return nil
	}
	mine, err := os.Readlink("/proc/self/ns/mnt")
	if err != nil {
		return err
	}
	if parent := os.Getenv(doctorParentNSEnv); parent == "" || parent == mine {
		return fmt.Errorf("not in a mount namespace of its own (%s, test's %s): refusing to mount over /etc/hosts", mine, parent)
	}
	for src, dst := range map[string]string{hosts: "/etc/hosts", os.Getenv(doctorNsswitchEnv): "/etc/nsswitch.conf"} {
		if src == "" {
			continue
		}
		if err := unix.Mount(src, dst, "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("bind-mounting %s over %s: %v", src, dst, err)
		}
	}
	return nil
}

// doctorPrivateEtc prepares a private hosts file and nsswitch.conf for
// doctor children, and returns the temporary hosts file, the environment
// and the command that the children run under. It skips without root or
// unshare (failing in CI), and checks at the end that the machine's files
// are byte-identical.
func doctorPrivateEtc(t *testing.T) (hostsFile string, env, wrap []string) {
	t.Helper()
	hostsFile, env, wrap, missing := doctorTryPrivateEtc(t)
	if missing != "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI must run this test: it %s", missing)
		}
		t.Skipf("this test %s", missing)
	}
	return hostsFile, env, wrap
}

// doctorTryPrivateEtc is doctorPrivateEtc that says what is missing
// instead of skipping.
func doctorTryPrivateEtc(t *testing.T) (hostsFile string, env, wrap []string, missing string) {
	t.Helper()
	if os.Geteuid() != 0 {
		return "", nil, nil, "needs root for a private mount namespace with its own /etc/hosts"
	}
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		return "", nil, nil, "needs unshare (util-linux) for a private mount namespace"
	}
	if _, err := exec.LookPath("getent"); err != nil {
		return "", nil, nil, "needs getent (libc-bin), which doctor uses on Linux"
	}
	ns, err := os.Readlink("/proc/self/ns/mnt")
	if err != nil {
		t.Fatal(err)
	}
	var before [2][]byte
	for i, f := range []string{"/etc/hosts", "/etc/nsswitch.conf"} {
		if before[i], err = os.ReadFile(f); err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		for i, f := range []string{"/etc/hosts", "/etc/nsswitch.conf"} {
			after, err := os.ReadFile(f)
			if err != nil && !errors.Is(err, os.ErrNotExist) {
				t.Error(err)
			}
			if !bytes.Equal(after, before[i]) {
				t.Errorf("%s changed: %q, was %q", f, after, before[i])
			}
		}
	})
	dir := t.TempDir()
	hostsFile = filepath.Join(dir, "hosts")
	if err := os.WriteFile(hostsFile, []byte("127.0.0.1 localhost\n::1 localhost ip6-localhost\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Files only: no myhostname, no DNS server that might answer.
	nsswitch := filepath.Join(dir, "nsswitch.conf")
	if err := os.WriteFile(nsswitch, []byte("hosts: files\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	env = []string{doctorHostsEnv + "=" + hostsFile, doctorNsswitchEnv + "=" + nsswitch, doctorParentNSEnv + "=" + ns}
	return hostsFile, env, []string{unshare, "--mount", "--propagation", "private"}, ""
}

// TestDoctorResolveInNamespace: a route name that does not resolve as
// other programs resolve it (getent, with a hosts file of our own in a
// private mount namespace) fails with hosts sync as the fix; once the
// managed block lists it, it resolves to 127.0.0.1 and ::1 and the check
// passes; a name the hosts file maps elsewhere fails. With the local CA
// trusted (SSL_CERT_FILE) and the app up, everything is ok and the exit
// status is 0. The machine's /etc/hosts is byte-identical afterwards.
func TestDoctorResolveInNamespace(t *testing.T) {
	hostsFile, env, wrap := doctorPrivateEtc(t)
	up := startApp(t, "127.0.0.1:0", hello("app"))
	startCaddy(t, httpsSite("localdev app "+strconv.Itoa(up)))
	addr := "localhost:" + adminP

	results, code := doctorRun(t, addr, env, wrap...)
	t.Logf("before sync:\n%s", doctorDump(results))
	doctorWant(t, doctorOne(t, results, "resolve", "app.localhost"), doctorFail,
		[]string{"app.localhost does not resolve", "getent ahosts"}, "sudo caddy localdev hosts sync --address "+addr, "hosts option", "nss-myhostname")
	doctorWant(t, doctorOne(t, results, "resolve", "localhost"), doctorOK, []string{"127.0.0.1", "::1"})
	if code != 1 {
		t.Errorf("exit status %d, want 1", code)
	}

	// What hosts sync writes.
	block := doctorManagedBlock("127.0.0.1 app.localhost", "::1 app.localhost")
	if err := os.WriteFile(hostsFile, []byte("127.0.0.1 localhost\n::1 localhost ip6-localhost\n"+block), 0o644); err != nil {
		t.Fatal(err)
	}
	// Trust the local CA for the child, as `caddy trust` would for everyone.
	root, _, err := (&doctor{addr: addr, client: adminclient.New(addr)}).caRoot(context.Background(), "local")
	if err != nil {
		t.Fatal(err)
	}
	rootFile := filepath.Join(t.TempDir(), "root.pem")
	if err := os.WriteFile(rootFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: root.Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	results, code = doctorRun(t, addr, append(env, "SSL_CERT_FILE="+rootFile, "SSL_CERT_DIR="+t.TempDir()), wrap...)
	t.Logf("after sync:\n%s", doctorDump(results))
	doctorWant(t, doctorOne(t, results, "resolve", "app.localhost"), doctorOK, []string{"resolves to 127.0.0.1, ::1 (getent ahosts)"})
	for _, r := range results {
		if r.Status != doctorOK {
			t.Errorf("not ok after sync and trust: %+v", r)
		}
	}
	if code != 0 {
		t.Errorf("exit status %d, want 0", code)
	}

	// A name that the hosts file sends elsewhere.
	if err := os.WriteFile(hostsFile, []byte("127.0.0.1 localhost\n192.0.2.7 app.localhost\n127.0.0.1 app.localhost\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	results, _ = doctorRun(t, addr, env, wrap...)
	doctorWant(t, doctorOne(t, results, "resolve", "app.localhost"), doctorFail,
		[]string{"192.0.2.7", "not only to loopback"}, "remove the entry", "hosts sync")
}

// TestDoctorExposedApp: an app that answers on loopback and also on a
// non-loopback address of this machine (the host end of a test network
// namespace's veth pair, standing for a LAN address) is "exposed"; a
// server with localdev that listens there without allow warns.
func TestDoctorExposedApp(t *testing.T) {
	n := setupNetns(t)
	port := freePort(t)
	p := strconv.Itoa(port)
	for _, a := range []string{"127.0.0.1:" + p, net.JoinHostPort(n.hostV4.String(), p)} {
		ln, err := net.Listen("tcp", a)
		if err != nil {
			t.Fatalf("listening on %s: %v", a, err)
		}
		srv := &http.Server{Handler: hello("exposed"), ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = srv.Serve(ln) }()
		t.Cleanup(func() { _ = srv.Close() })
	}
	safe := startApp(t, "127.0.0.1:0", hello("safe"))
	config := func(extra string) string {
		return "{" + globals + "}\n" +
			"http://*.localhost:" + httpP + ", http://localhost:" + httpP + " {\n" +
			"\tbind 127.0.0.1 " + n.hostV4.String() + "\n" +
			"\tlocaldev {\n\t\texposed " + p + "\n\t\tsafe " + strconv.Itoa(safe) + "\n" + extra + "\t}\n}\n"
	}
	startCaddy(t, config(""))
	addr := "localhost:" + adminP

	results := runDoctor(context.Background(), addr)
	t.Logf("doctor:\n%s", doctorDump(results))
	doctorWant(t, doctorOne(t, results, "app", "exposed.localhost -> "+p), doctorWarn,
		[]string{"exposed", n.hostV4.String() + ":" + p, "answers on 127.0.0.1:" + p}, "bind it to 127.0.0.1")
	doctorWant(t, doctorOne(t, results, "app", "safe.localhost -> "+strconv.Itoa(safe)), doctorOK, nil)
	listen := doctorFind(results, "listen", "")
	if len(listen) != 1 {
		t.Fatalf("want one listen result:\n%s", doctorDump(results))
	}
	doctorWant(t, listen[0], doctorWarn, []string{n.hostV4.String(), "no allow"}, "bind 127.0.0.1 ::1")

	// With allow for the namespace's range, listening there is intended.
	startCaddy(t, config("\t\tallow "+n.v4.String()+"\n"))
	results = runDoctor(context.Background(), addr)
	doctorWant(t, doctorOne(t, results, "listen", listen[0].Subject), doctorOK, []string{"allow"})
}

func TestParseAhosts(t *testing.T) {
	out := "::1             STREAM localhost\n::1             DGRAM  \n::1             RAW    \n" +
		"127.0.0.1       STREAM \n127.0.0.1       DGRAM  \n::ffff:127.0.0.2\tRAW\n" +
		"garbage line\n\n   192.0.2.1 STREAM x\n"
	got := parseAhosts([]byte(out))
	want := []string{"::1", "127.0.0.1", "127.0.0.2", "192.0.2.1"}
	if len(got) != len(want) {
		t.Fatalf("parseAhosts = %v, want %v", got, want)
	}
	for i, a := range got {
		if a.String() != want[i] {
			t.Errorf("parseAhosts[%d] = %v, want %s", i, a, want[i])
		}
	}
	if got := parseAhosts(nil); len(got) != 0 {
		t.Errorf("parseAhosts(nil) = %v", got)
	}
}

func FuzzParseAhosts(f *testing.F) {
	for _, s := range []string{
		"127.0.0.1       STREAM app.localhost\n127.0.0.1       DGRAM  \n",
		"::1 STREAM x\n::ffff:10.0.0.1 RAW\n",
		"", "\n\n", "not an address\n", "fe80::1%eth0 STREAM x\n", "1.2.3.4\t\tSTREAM\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, out []byte) {
		addrs := parseAhosts(out)
		seen := map[netip.Addr]bool{}
		for _, a := range addrs {
			if seen[a] {
				t.Fatalf("parseAhosts(%q) repeats %v", out, a)
			}
			seen[a] = true
			if a.Is4In6() {
				t.Fatalf("parseAhosts(%q) keeps the mapped form %v", out, a)
			}
		}
	})
}
