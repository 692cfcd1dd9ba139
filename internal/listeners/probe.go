package listeners

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"html"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// UserAgent is the User-Agent of the HTTP probe.
const UserAgent = "caddy-localdev-discover"

// ProbeTimeout is how long a listener has to answer each probe.
const ProbeTimeout = 300 * time.Millisecond

// probeParallel bounds the probes in flight, each with two connections.
const probeParallel = 512

// maxBody is how much of a page is read to find its <title>.
const maxBody = 64 << 10

// maxTitle bounds a title in runes.
const maxTitle = 120

// ProbeOptions tunes Probe.
type ProbeOptions struct {
	// Timeout per probe. Default: ProbeTimeout.
	Timeout time.Duration
	// Local reports whether an address is one of this machine's own; a
	// listener on a specific address that is not (bound with IP_FREEBIND,
	// say) is not probed, so that a probe never leaves the machine.
	// Default: the interfaces' addresses as net.InterfaceAddrs lists them.
	Local func(netip.Addr) bool
}

// Probe asks each listener, at most probeParallel at a time, whether it
// answers HTTP and whether it speaks TLS, within the timeout each, and
// reads its page's <title>. A listener on every interface is asked on
// loopback; one on a single address, on that address (it is this
// machine's). A listener that accepts and never answers costs one timeout;
// one that speaks another protocol (a database) has HTTP and HTTPS false.
func Probe(ctx context.Context, list []Listener, opts ProbeOptions) {
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = ProbeTimeout
	}
	local := opts.Local
	if local == nil {
		local = interfaceAddrs()
	}
	run(probeParallel, len(list), func(i int) {
		l := &list[i]
		addr, ok := probeAddr(l.Addr, local)
		if !ok {
			return
		}
		target := netip.AddrPortFrom(addr, uint16(l.Port)).String()
		l.HTTP, l.HTTPS, l.Title = probeOne(ctx, target, l.Port, timeout)
	})
}

// loopback4 is 127.0.0.1.
var loopback4 = netip.AddrFrom4([4]byte{127, 0, 0, 1})

// probeAddr returns the address to probe a listener on.
func probeAddr(a netip.Addr, local func(netip.Addr) bool) (netip.Addr, bool) {
	a = a.Unmap()
	switch {
	case a.IsUnspecified() && a.Is4():
		return loopback4, true
	case a.IsUnspecified():
		return netip.IPv6Loopback(), true
	case a.IsLoopback():
		return a, true
	}
	return a, local(a)
}

// interfaceAddrs returns a test for this machine's interface addresses.
func interfaceAddrs() func(netip.Addr) bool {
	set := make(map[netip.Addr]bool)
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if p, err := netip.ParsePrefix(a.String()); err == nil {
				set[p.Addr().Unmap().WithZone("")] = true
			}
		}
	}
	return func(a netip.Addr) bool { return set[a.Unmap().WithZone("")] }
}

// tlsDelay is how long the plain probe has before the TLS probe starts
// beside it: most listeners answer plain HTTP well before, and a TLS
// handshake is the costly part of a probe.
const tlsDelay = 50 * time.Millisecond

// probeOne asks in plain HTTP first; unless a proper answer (not a 400,
// which TLS servers send to plain requests) comes within tlsDelay, it also
// tries TLS. A port that completes a TLS handshake is https only, even
// if it answers a plain request with an error page (Go's "client sent an
// HTTP request to an HTTPS server"); its title comes over TLS.
func probeOne(ctx context.Context, target string, port int, timeout time.Duration) (isHTTP, isHTTPS bool, title string) {
	type result struct {
		ok     bool
		status int
		title  string
	}
	plain := make(chan result, 1)
	go func() {
		ok, status, t := probeHTTP(ctx, target, port, timeout, false)
		plain <- result{ok, status, t}
	}()
	var p result
	plainDone := false
	select {
	case p = <-plain:
		plainDone = true
		if p.ok && p.status != 400 {
			return true, false, p.title
		}
	case <-time.After(tlsDelay):
	}
	tctx, cancel := context.WithCancel(ctx)
	defer cancel()
	secure := make(chan result, 1)
	go func() {
		ok, status, t := probeHTTP(tctx, target, port, timeout, true)
		secure <- result{ok, status, t}
	}()
	if !plainDone {
		select {
		case p = <-plain:
			if p.ok && p.status != 400 {
				return true, false, p.title // cancels the TLS probe
			}
		case s := <-secure:
			if s.ok {
				return false, true, s.title
			}
			p = <-plain
			return p.ok, false, p.title
		}
	}
	if s := <-secure; s.ok {
		return false, true, s.title
	}
	return p.ok, false, p.title
}

// probeHTTP sends GET / (over TLS with useTLS, certificate unchecked: we
// only ask what it is) and reports whether an HTTP response came back,
// with the page's title if the start of the body has one.
func probeHTTP(ctx context.Context, target string, port int, timeout time.Duration, useTLS bool) (ok bool, status int, title string) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	deadline, _ := ctx.Deadline()
	d := net.Dialer{}
	conn, err := d.DialContext(ctx, "tcp", target)
	if err != nil {
		return false, 0, ""
	}
	defer conn.Close()
	_ = conn.SetDeadline(deadline)
	if useTLS {
		tc := tls.Client(conn, &tls.Config{
			InsecureSkipVerify: true, //nolint:gosec // a probe of our own machine's port: what it is, not who
			ServerName:         "localhost",
			NextProtos:         []string{"http/1.1"},
			CurvePreferences:   []tls.CurveID{tls.X25519}, // the cheapest key share: nothing here is secret
		})
		if err := tc.HandshakeContext(ctx); err != nil {
			return false, 0, ""
		}
		conn = tc
	}
	req := "GET / HTTP/1.1\r\nHost: localhost:" + strconv.Itoa(port) +
		"\r\nUser-Agent: " + UserAgent + "\r\nAccept: text/html,*/*;q=0.8\r\nConnection: close\r\n\r\n"
	if _, err := io.WriteString(conn, req); err != nil {
		return useTLS, 0, ""
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return useTLS, 0, ""
	}
	defer res.Body.Close()
	if !strings.Contains(strings.ToLower(res.Header.Get("Content-Type")), "html") {
		return true, res.StatusCode, ""
	}
	body, _ := io.ReadAll(io.LimitReader(res.Body, maxBody)) // a timeout keeps what came
	return true, res.StatusCode, Title(body)
}

// Title returns the text of the first <title> element in an HTML page's
// start, entities decoded, whitespace collapsed, control and formatting
// characters dropped, at most maxTitle runes. It is "" when there is none.
func Title(page []byte) string {
	lower := asciiLower(page) // byte for byte, unlike bytes.ToLower on invalid UTF-8
	start := bytes.Index(lower, []byte("<title"))
	if start < 0 {
		return ""
	}
	gt := bytes.IndexByte(lower[start:], '>')
	if gt < 0 {
		return ""
	}
	start += gt + 1
	end := bytes.Index(lower[start:], []byte("</title"))
	if end < 0 {
		return ""
	}
	raw := string(page[start : start+end])
	if !utf8.ValidString(raw) {
		raw = strings.ToValidUTF8(raw, "\uFFFD")
	}
	text := html.UnescapeString(raw)
	var b strings.Builder
	space, n := false, 0
	for _, r := range text {
		if unicode.IsSpace(r) {
			space = b.Len() > 0
			continue
		}
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			continue // no terminal escapes, no bidi overrides
		}
		if n >= maxTitle {
			b.WriteString("…")
			break
		}
		if space {
			b.WriteByte(' ')
			space = false
			n++
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}

// asciiLower returns a copy of b with ASCII letters lowercased and every
// other byte as it was, so that offsets stay the same.
func asciiLower(b []byte) []byte {
	out := make([]byte, len(b))
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		out[i] = c
	}
	return out
}
