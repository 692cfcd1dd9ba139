package routes

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Target is where a route sends requests: always this machine.
type Target struct {
	// Raw is the target as the user wrote it, e.g. "62893" or "https://[::1]:4000".
	Raw string
	// TLS is true when the app itself speaks HTTPS ("https://" prefix).
	TLS bool
	// Port is the TCP port, or 0 for a Unix socket.
	Port int
	// Dials are the addresses to dial, in Caddy's network address form:
	// "127.0.0.1:62893", "[::1]:62893" or "unix//path". A bare port and
	// "localhost:port" have two: IPv4 and IPv6 loopback, either of which
	// may answer.
	Dials []string
}

// Unix reports whether the target is a Unix socket.
func (t Target) Unix() bool { return t.Port == 0 }

// BothFamilies reports whether the target is tried on both 127.0.0.1 and
// ::1 (a bare port, or localhost:port).
func (t Target) BothFamilies() bool { return len(t.Dials) == 2 }

// ParseTarget parses a route target: a port ("62893"), a loopback address
// ("127.0.0.1:3000", "[::1]:4000", or "localhost:3000", which like a bare
// port is dialed on 127.0.0.1 and ::1, never resolved), a Unix socket
// ("unix//path/app.sock"), any of them after "https://". Anything that is
// not this machine is an error: localdev is never an open proxy.
func ParseTarget(raw string) (Target, error) {
	if i, r := unsafeRune(raw); i >= 0 {
		if r == utf8.RuneError {
			return Target{}, fmt.Errorf("target %q is not valid UTF-8 (at byte %d)", raw, i)
		}
		return Target{}, fmt.Errorf("target %q has the character %U at byte %d: control characters and bidirectional overrides are not allowed", raw, r, i)
	}
	t := Target{Raw: raw}
	rest := raw
	if scheme, after, ok := strings.Cut(raw, "://"); ok {
		if !strings.EqualFold(scheme, "https") {
			return Target{}, fmt.Errorf("target %q: only https:// may come before the address", raw)
		}
		t.TLS = true
		rest = after
	}
	if rest == "" {
		return Target{}, fmt.Errorf("target %q is empty", raw)
	}
	if path, ok := strings.CutPrefix(rest, "unix/"); ok {
		return unixTarget(t, path)
	}
	if port, err := parsePort(rest); err == nil {
		t.Port = port
		p := strconv.Itoa(port)
		t.Dials = []string{"127.0.0.1:" + p, "[::1]:" + p}
		return t, nil
	} else if isDigits(rest) {
		return Target{}, fmt.Errorf("target %q: %v", raw, err)
	}
	return hostPortTarget(t, rest)
}

// unsafeRune finds the first rune of s that would change how a terminal
// or a page shows the text around it: C0 and C1 control characters, DEL,
// the bidirectional embeddings, overrides and isolates, and the directional
// marks; and bytes that are not UTF-8 (as utf8.RuneError). It returns -1
// when there is none.
func unsafeRune(s string) (int, rune) {
	for i, r := range s {
		switch {
		case r == utf8.RuneError:
			if _, size := utf8.DecodeRuneInString(s[i:]); size == 1 {
				return i, r
			}
		case r < 0x20, r >= 0x7f && r <= 0x9f:
			return i, r
		case r == 0x061c, r == 0x200e, r == 0x200f: // ALM, LRM, RLM
			return i, r
		case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069: // LRE…RLO, LRI…PDI
			return i, r
		}
	}
	return -1, 0
}

func unixTarget(t Target, path string) (Target, error) {
	if !strings.HasPrefix(path, "/") || len(path) < 2 {
		return Target{}, fmt.Errorf("target %q: a Unix socket needs an absolute path, as in unix//run/app.sock", t.Raw)
	}
	// Caddy fills placeholders in dial addresses per request: braces here
	// would let a request choose the socket.
	if i := strings.IndexFunc(path, func(r rune) bool { return r == '{' || r == '}' || r < ' ' || r == 0x7f }); i >= 0 {
		return Target{}, fmt.Errorf("target %q: the socket path has the character %q", t.Raw, path[i])
	}
	t.Dials = []string{"unix/" + path}
	return t, nil
}

func hostPortTarget(t Target, rest string) (Target, error) {
	host, portStr, err := net.SplitHostPort(rest)
	if err != nil {
		if _, hostErr := loopbackHost(strings.Trim(rest, "[]")); hostErr != nil {
			return Target{}, fmt.Errorf("target %q: %v", t.Raw, hostErr)
		}
		return Target{}, fmt.Errorf("target %q: want a port, a loopback address with a port, or unix//path: %v", t.Raw, err)
	}
	port, err := parsePort(portStr)
	if err != nil {
		return Target{}, fmt.Errorf("target %q: %v", t.Raw, err)
	}
	dialHost, err := loopbackHost(host)
	if err != nil {
		return Target{}, fmt.Errorf("target %q: %v", t.Raw, err)
	}
	t.Port = port
	if dialHost == "localhost" {
		// Dial loopback itself: resolving "localhost" goes to /etc/hosts
		// and DNS, which could answer with another machine.
		p := strconv.Itoa(port)
		t.Dials = []string{"127.0.0.1:" + p, "[::1]:" + p}
		return t, nil
	}
	t.Dials = []string{net.JoinHostPort(dialHost, strconv.Itoa(port))}
	return t, nil
}

// loopbackHost accepts "localhost" and loopback IPs, and returns the host
// to dial (an IPv4-mapped loopback address becomes plain IPv4).
func loopbackHost(host string) (string, error) {
	if strings.EqualFold(host, "localhost") {
		return "localhost", nil
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || ip.Zone() != "" {
		return "", fmt.Errorf("host %q is not this machine: only localhost, 127.0.0.0/8 and ::1 are allowed", host)
	}
	ip = ip.Unmap()
	if !ip.IsLoopback() {
		return "", fmt.Errorf("host %q is not a loopback address: only localhost, 127.0.0.0/8 and ::1 are allowed", host)
	}
	return ip.String(), nil
}

func parsePort(s string) (int, error) {
	if !isDigits(s) {
		return 0, fmt.Errorf("port %q is not a number", s)
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 65535 {
		return 0, fmt.Errorf("port %s is out of range 1-65535", s)
	}
	return n, nil
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
