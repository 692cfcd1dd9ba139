// Package ports picks the loopback port a named app listens on: a stable
// first choice computed from the name, the same on every machine, and the
// next free port when something already holds it.
package ports

import (
	"errors"
	"fmt"
	"hash/fnv"
	"net"
	"strconv"
	"strings"
	"syscall"
)

// The dynamic (private) port range of RFC 6335, where stable ports live.
const (
	First = 49152
	Last  = 65535
	Count = Last - First + 1 // 16384
)

// Stable returns the first-choice port for the full route name (such as
// "app.localhost"):
//
//	port = 49152 + FNV-1a-32(lowercase(name)) % 16384
//
// FNV-1a-32 is the 32-bit FNV-1a hash (offset basis 2166136261, prime
// 16777619, as in Go's hash/fnv New32a) of the name's bytes after ASCII
// lowercasing; the result is in 49152–65535 and the same on every machine.
// Example: Stable("app.localhost") is 58583 (the hash is 2592580823).
func Stable(name string) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(strings.ToLower(name)))
	return First + int(h.Sum32()%Count)
}

// Free returns the first port, starting at Stable(name) and wrapping from
// 65535 to 49152, on which nothing listens on either 127.0.0.1 or [::1].
// It checks by binding both addresses and closing at once; a machine
// without IPv6 on loopback counts as free for that family. It fails only
// when all 16384 ports are taken.
func Free(name string) (int, error) {
	start := Stable(name)
	var lastErr error
	for i := range Count {
		p := First + (start-First+i)%Count
		free, err := available(p)
		if free {
			return p, nil
		}
		if err != nil {
			lastErr = err
		}
	}
	if lastErr != nil {
		return 0, fmt.Errorf("no free port in %d–%d for %s: %w", First, Last, name, lastErr)
	}
	return 0, fmt.Errorf("no free port in %d–%d for %s", First, Last, name)
}

// available reports whether port p can be bound on both loopback
// addresses. err says why not when the reason is not simply "in use".
func available(p int) (bool, error) {
	port := strconv.Itoa(p)
	ln4, err := net.Listen("tcp4", net.JoinHostPort("127.0.0.1", port))
	if err != nil {
		return false, unusual(err)
	}
	defer ln4.Close()
	ln6, err := net.Listen("tcp6", net.JoinHostPort("::1", port))
	if err != nil {
		if noIPv6(err) {
			return true, nil
		}
		return false, unusual(err)
	}
	_ = ln6.Close()
	return true, nil
}

// unusual returns err unless it just says the address is in use.
func unusual(err error) error {
	if errors.Is(err, syscall.EADDRINUSE) {
		return nil
	}
	return err
}

// noIPv6 reports whether a bind to [::1] failed because the machine has no
// IPv6 loopback, rather than because the port is taken.
func noIPv6(err error) bool {
	return errors.Is(err, syscall.EADDRNOTAVAIL) || errors.Is(err, syscall.EAFNOSUPPORT) ||
		errors.Is(err, syscall.EPROTONOSUPPORT)
}
