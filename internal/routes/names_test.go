package routes

import (
	"strconv"
	"strings"
	"testing"

	"golang.org/x/net/publicsuffix"
)

func TestNormalizeName(t *testing.T) {
	for _, tc := range []struct {
		name, domain, want, err string
	}{
		{name: "app", domain: "localhost", want: "app.localhost"},
		{name: "App", domain: "localhost", want: "app.localhost"},
		{name: "docs.localhost", domain: "localhost", want: "docs.localhost"},
		{name: "localhost", domain: "localhost", err: `route name "localhost" is reserved: localhost itself is the index host`},
		{name: "LocalHost.", domain: "localhost", err: `route name "LocalHost." is reserved: localhost itself is the index host`},
		{name: "*.localhost", domain: "localhost", err: `route name "*.localhost" is reserved: *.localhost would capture every name under the domain`},
		{name: "*.localhost.", domain: "localhost", err: `route name "*.localhost." is reserved: *.localhost would capture every name`},
		{name: "dev.test", domain: "dev.test", err: `route name "dev.test" is reserved: dev.test itself is the index host`},
		{name: "*.dev.test", domain: "dev.test", err: `route name "*.dev.test" is reserved: *.dev.test would capture`},
		{name: "*.dev", domain: "test", want: "*.dev.test"},
		{name: "localhost", domain: "test", want: "localhost.test"},
		{name: "*.shop", domain: "localhost", want: "*.shop.localhost"},
		{name: "*.shop.localhost", domain: "localhost", want: "*.shop.localhost"},
		{name: "app.localhost.", domain: "localhost", want: "app.localhost"},
		{name: "bücher", domain: "localhost", want: "xn--bcher-kva.localhost"},
		{name: "my_app", domain: "localhost", err: `write "my-app"`},
		{name: "app", domain: "test", want: "app.test"},
		{name: "github.com", domain: "localhost", err: `route name "github.com": outside the domain "localhost"`},
		{name: "api.v2", domain: "localhost", err: `write "api.v2.localhost"`},
		{name: "*", domain: "localhost", err: `route name "*"`},
		{name: "a*b", domain: "localhost", err: "wildcard may only be the whole first label"},
		{name: "*.*.x", domain: "localhost", err: "wildcard may only be the whole first label"},
		{name: "-bad", domain: "localhost", err: `route name "-bad": not a valid DNS name`},
		{name: "a b", domain: "localhost", err: `route name "a b"`},
		{name: "", domain: "localhost", err: `route name "" is empty`},
		{name: "a..b.localhost", domain: "localhost", err: "route name"},
		{name: strings.Repeat("a", 64), domain: "localhost", err: "longer than 63"},
	} {
		got, err := NormalizeName(tc.name, tc.domain)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("NormalizeName(%q, %q) error = %v, want one containing %q", tc.name, tc.domain, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("NormalizeName(%q, %q) = %q, %v; want %q", tc.name, tc.domain, got, err, tc.want)
		}
	}
}

func TestNormalizeDomain(t *testing.T) {
	for in, want := range map[string]string{"localhost": "localhost", "Test.": "test", ".dev.test": "dev.test"} {
		if got, err := NormalizeDomain(in); err != nil || got != want {
			t.Errorf("NormalizeDomain(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", ".", "*.localhost", "a b"} {
		if _, err := NormalizeDomain(bad); err == nil || !strings.Contains(err.Error(), "domain") {
			t.Errorf("NormalizeDomain(%q) error = %v, want one naming the domain", bad, err)
		}
	}
}

// TestDomainPublicSuffix checks that a public suffix of the list's ICANN
// section is refused with a message naming it, and which other domains
// are special-use (no warning) or not (a warning at start).
func TestDomainPublicSuffix(t *testing.T) {
	for _, bad := range []string{"com", "COM.", "co.uk", "dev", "app", "io", "uk", "arpa", "xn--p1ai"} {
		_, err := NormalizeDomain(bad)
		if err == nil || !strings.Contains(err.Error(), "domain "+strconv.Quote(bad)+" is a public suffix") {
			t.Errorf("NormalizeDomain(%q) error = %v, want it refused as a public suffix", bad, err)
		}
	}
	for d, special := range map[string]bool{
		"localhost": true, "dev.localhost": true, "test": true, "app.test": true,
		"internal": true, "home.arpa": true, "example": true, "invalid": true,
		"lan": false, "local": false, "github.io": false, "dev.example.com": false,
		"corp.example.co.uk": false, "localhost.com": false,
	} {
		got, err := NormalizeDomain(d)
		if err != nil {
			t.Errorf("NormalizeDomain(%q): %v, want it allowed", d, err)
			continue
		}
		if SpecialUse(got) != special {
			t.Errorf("SpecialUse(%q) = %v, want %v", got, !special, special)
		}
	}
}

func TestInDomain(t *testing.T) {
	for _, tc := range []struct {
		host string
		want bool
	}{
		{"localhost", true}, {"app.localhost", true}, {"a.b.localhost", true},
		{"xlocalhost", false}, {"localhost.com", false}, {".localhost", false}, {"", false},
	} {
		if got := InDomain(tc.host, "localhost"); got != tc.want {
			t.Errorf("InDomain(%q) = %v, want %v", tc.host, got, tc.want)
		}
	}
}

func TestNormalizeHost(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"app.localhost", "app.localhost", true},
		{"APP.LocalHost", "app.localhost", true},
		{"app.localhost:8443", "app.localhost", true},
		{"app.localhost.", "app.localhost", true},
		{"App.localhost.:443", "app.localhost", true},
		{"[::1]:8443", "::1", false},
		{"[::1]", "::1", false},
		{"127.0.0.1:80", "127.0.0.1", true},
		{"bücher.localhost", "xn--bcher-kva.localhost", true},
		{"", "", false},
		{":80", "", false},
		{"evil host", "evil host", false},
	} {
		got, ok := NormalizeHost(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("NormalizeHost(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestNormalizeHostAllocatesNothing(t *testing.T) {
	allocs := testing.AllocsPerRun(100, func() {
		if _, ok := NormalizeHost("app.localhost:8443"); !ok {
			t.Fatal("not ok")
		}
	})
	if allocs != 0 {
		t.Errorf("NormalizeHost of a normal host allocated %v times", allocs)
	}
}

// FuzzNormalizeHost checks that host normalisation never panics, is
// idempotent, and that what it accepts is lowercase with no port.
func FuzzNormalizeHost(f *testing.F) {
	for _, s := range []string{"app.localhost", "APP.localhost:80", "[::1]:1", "x.", "bücher.localhost", "a:b:c", "[", "]:", "..", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, host string) {
		got, ok := NormalizeHost(host)
		if !ok {
			return
		}
		if strings.ContainsAny(got, ":[]") || strings.ToLower(got) != got || strings.HasSuffix(got, ".") && got != "." {
			t.Fatalf("NormalizeHost(%q) = %q: not normal", host, got)
		}
		again, ok2 := NormalizeHost(got)
		if !ok2 || again != got {
			t.Fatalf("NormalizeHost not idempotent: %q -> %q -> %q (%v)", host, got, again, ok2)
		}
	})
}

// FuzzNormalizeName checks that accepted names are under the domain and
// normalise to themselves.
func FuzzNormalizeName(f *testing.F) {
	for _, s := range []string{"app", "*.shop", "docs.localhost", "github.com", "Bücher", "*", "a..b", "x-", "localhost", "*.localhost.", "LOCALHOST"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		full, err := NormalizeName(name, DefaultDomain)
		if err != nil {
			return
		}
		if full == DefaultDomain || full == "*."+DefaultDomain {
			t.Fatalf("NormalizeName(%q) = %q: a reserved name", name, full)
		}
		if !InDomain(strings.TrimPrefix(full, "*."), DefaultDomain) {
			t.Fatalf("NormalizeName(%q) = %q: not under the domain", name, full)
		}
		if again, err := NormalizeName(full, DefaultDomain); err != nil || again != full {
			t.Fatalf("NormalizeName not idempotent: %q -> %q -> %q, %v", name, full, again, err)
		}
	})
}

// FuzzNormalizeDomain checks that an accepted domain is never a public
// suffix of the ICANN section (special-use domains aside) and normalises
// to itself.
func FuzzNormalizeDomain(f *testing.F) {
	for _, s := range []string{"localhost", "test", "com", "co.uk", "home.arpa", "github.io", "dev.example.com", "Bücher.test", "*.x", ".lan."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, domain string) {
		d, err := NormalizeDomain(domain)
		if err != nil {
			return
		}
		if suffix, icann := publicsuffix.PublicSuffix(d); icann && suffix == d && !SpecialUse(d) {
			t.Fatalf("NormalizeDomain(%q) = %q: a public suffix", domain, d)
		}
		if again, err := NormalizeDomain(d); err != nil || again != d {
			t.Fatalf("NormalizeDomain not idempotent: %q -> %q -> %q, %v", domain, d, again, err)
		}
	})
}
