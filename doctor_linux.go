package localdev

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"net"
	"net/netip"
	"os/exec"
	"slices"
	"strings"
)

// hostsSyncCommand is the command that writes route names into the hosts file.
const hostsSyncCommand = "sudo caddy localdev hosts sync"

// nssMyhostnameFix makes every name under localhost resolve to loopback
// through glibc's NSS, for every program at once.
const nssMyhostnameFix = "nss-myhostname for every name under localhost: sudo apt install libnss-myhostname (Debian, Ubuntu), with myhostname in the hosts line of /etc/nsswitch.conf"

// resolveByHand is the command that resolves name as doctor does.
func resolveByHand(name string) string { return "getent ahosts " + name }

// errNotFound is a name the resolver does not know.
var errNotFound = errors.New("not found")

// osResolve resolves name as other programs on this machine do: through
// glibc's getaddrinfo and its NSS modules (files, myhostname, resolve,
// dns, …), by running getent ahosts, which calls it. Go's own resolver
// knows only files and dns, and would say a name resolves where Python,
// Node or wget say it does not, or the other way round. Without getent
// (musl systems may lack it) Go's resolver is the best there is. It
// returns the addresses, and how it resolved.
func osResolve(ctx context.Context, name string) ([]netip.Addr, string, error) {
	getent, err := exec.LookPath("getent")
	if err != nil {
		addrs, err := goResolve(ctx, name)
		return addrs, "Go's resolver; getent is missing", err
	}
	how := "getent ahosts"
	cmd := exec.CommandContext(ctx, getent, "ahosts", name)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if ctx.Err() != nil {
		return nil, how, errors.New("no answer in time")
	}
	if exit, ok := errors.AsType[*exec.ExitError](err); ok && exit.ExitCode() == 2 {
		return nil, how, errNotFound // getent: "key could not be found"
	}
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		return nil, how, errors.New(msg)
	}
	addrs := parseAhosts(out)
	if len(addrs) == 0 {
		return nil, how, errNotFound
	}
	return addrs, how, nil
}

// parseAhosts reads the addresses of getent ahosts' output, one per line
// and socket type ("127.0.0.1       STREAM app.localhost"), without repeats.
func parseAhosts(out []byte) []netip.Addr {
	var addrs []netip.Addr
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		field, _, _ := strings.Cut(strings.TrimSpace(sc.Text()), " ")
		field, _, _ = strings.Cut(field, "\t")
		a, err := netip.ParseAddr(field)
		if err != nil {
			continue
		}
		a = a.Unmap()
		if !slices.Contains(addrs, a) {
			addrs = append(addrs, a)
		}
	}
	return addrs
}

// goResolve resolves with Go's resolver.
func goResolve(ctx context.Context, name string) ([]netip.Addr, error) {
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", name)
	if dnsErr, ok := errors.AsType[*net.DNSError](err); ok && dnsErr.IsNotFound {
		return nil, errNotFound
	}
	for i, a := range addrs {
		addrs[i] = a.Unmap()
	}
	return addrs, err
}
