package ports

import (
	"fmt"
	"net"
	"strconv"
	"testing"
)

func TestStableKnownValue(t *testing.T) {
	// The documented example: these values must never change, or every
	// user's apps move to other ports.
	for _, name := range []string{"app.localhost", "APP.localhost", "App.LocalHost"} {
		if got := Stable(name); got != 58583 {
			t.Errorf("Stable(%q) = %d, want 58583", name, got)
		}
	}
	if got := Stable("web.localhost"); got != 59234 {
		t.Errorf(`Stable("web.localhost") = %d, want 59234`, got)
	}
}

func TestStableRange(t *testing.T) {
	seen := make(map[int]bool)
	for i := range 20000 {
		name := fmt.Sprintf("app%d.localhost", i)
		p := Stable(name)
		if p < First || p > Last {
			t.Fatalf("Stable(%q) = %d, outside %d–%d", name, p, First, Last)
		}
		if Stable(name) != p {
			t.Fatalf("Stable(%q) is not deterministic", name)
		}
		seen[p] = true
	}
	// 20000 names into 16384 ports: a hash that spreads covers most.
	if len(seen) < Count/2 {
		t.Errorf("20000 names hit only %d distinct ports", len(seen))
	}
}

func FuzzStable(f *testing.F) {
	for _, seed := range []string{"", "app.localhost", "*.shop.localhost", "xn--bcher-kva.localhost", "\xff\x00", "A.B.C"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, name string) {
		p := Stable(name)
		if p < First || p > Last {
			t.Fatalf("Stable(%q) = %d, outside %d–%d", name, p, First, Last)
		}
		if p != Stable(name) {
			t.Fatalf("Stable(%q) is not deterministic", name)
		}
	})
}

// findHeld returns a name whose stable port, and the one after it, are
// free now, so a test can hold the first and expect the second.
func findHeld(t *testing.T) (string, int) {
	t.Helper()
	for i := range 1000 {
		name := fmt.Sprintf("ports-test-%d.localhost", i)
		p := Stable(name)
		if p == Last {
			continue
		}
		a, _ := available(p)
		b, _ := available(p + 1)
		if a && b {
			return name, p
		}
	}
	t.Fatal("no name with two free ports in a row")
	return "", 0
}

func TestFreeIsStableWhenFree(t *testing.T) {
	name, p := findHeld(t)
	got, err := Free(name)
	if err != nil {
		t.Fatal(err)
	}
	if got != p {
		t.Errorf("Free(%q) = %d, want the stable port %d", name, got, p)
	}
}

func TestFreeSkipsIPv4Listener(t *testing.T) {
	name, p := findHeld(t)
	ln, err := net.Listen("tcp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got, err := Free(name)
	if err != nil {
		t.Fatal(err)
	}
	if got != p+1 {
		t.Errorf("Free(%q) = %d with 127.0.0.1:%d held, want %d", name, got, p, p+1)
	}
}

func TestFreeSkipsIPv6OnlyListener(t *testing.T) {
	probe, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Skipf("IPv6 loopback unavailable on this machine (%v): nothing can hold [::1] only", err)
	}
	_ = probe.Close()

	name, p := findHeld(t)
	ln, err := net.Listen("tcp6", net.JoinHostPort("::1", strconv.Itoa(p)))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	// 127.0.0.1 itself is still bindable: only the ::1 check can see it.
	if ln4, err := net.Listen("tcp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(p))); err != nil {
		t.Fatalf("127.0.0.1:%d should be free while only [::1]:%d is held: %v", p, p, err)
	} else {
		_ = ln4.Close()
	}
	got, err := Free(name)
	if err != nil {
		t.Fatal(err)
	}
	if got != p+1 {
		t.Errorf("Free(%q) = %d with [::1]:%d held, want %d", name, got, p, p+1)
	}
}

func TestFreeWraps(t *testing.T) {
	// Find a name whose stable port is the last one; holding it must wrap
	// the search to the first port of the range.
	var name string
	for i := 0; name == "" && i < 1_000_000; i++ {
		if n := fmt.Sprintf("wrap-%d.localhost", i); Stable(n) == Last {
			name = n
		}
	}
	if name == "" {
		t.Skip("no name hashes to the last port within the search")
	}
	if ok, _ := available(First); !ok {
		t.Skipf("port %d is in use on this machine", First)
	}
	ln, err := net.Listen("tcp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(Last)))
	if err != nil {
		t.Skipf("port %d is in use on this machine: %v", Last, err)
	}
	defer ln.Close()
	got, err := Free(name)
	if err != nil {
		t.Fatal(err)
	}
	if got != First {
		t.Errorf("Free(%q) = %d with %d held, want the wrap to %d", name, got, Last, First)
	}
}
