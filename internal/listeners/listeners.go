// Package listeners answers "what is listening on 127.0.0.1:62893?": the
// machine's listening TCP sockets, the process, user and folder behind
// each, whether it is reachable from the network, and whether it answers
// HTTP or TLS. Sockets and processes come from gopsutil, which covers
// Linux, macOS and Windows. It imports nothing from Caddy.
package listeners

import (
	"cmp"
	"context"
	"net/netip"
	"os/user"
	"runtime"
	"slices"
	"strconv"
	"sync"

	psnet "github.com/shirou/gopsutil/v4/net"
	"github.com/shirou/gopsutil/v4/process"
)

// Scope says who can reach a listener.
type Scope string

// The scopes of a listener.
const (
	// ScopeLoopback is a listener on 127.0.0.0/8 or ::1: this machine only.
	ScopeLoopback Scope = "loopback"
	// ScopeAll is a listener on 0.0.0.0 or ::, every interface: reachable
	// from the network.
	ScopeAll Scope = "all"
	// ScopeNetwork is a listener on one non-loopback address: reachable
	// from the network that address is on.
	ScopeNetwork Scope = "network"
)

// Exposed reports whether the scope reaches beyond this machine.
func (s Scope) Exposed() bool { return s == ScopeAll || s == ScopeNetwork }

// ScopeOf returns the scope of a listening address.
func ScopeOf(a netip.Addr) Scope {
	a = a.Unmap()
	switch {
	case a.IsUnspecified():
		return ScopeAll
	case a.IsLoopback():
		return ScopeLoopback
	}
	return ScopeNetwork
}

// Listener is one listening TCP socket and what is known of its process.
type Listener struct {
	// Addr is the address it listens on (0.0.0.0 or :: for every interface).
	Addr netip.Addr
	// Port is its TCP port.
	Port int
	// Scope says who can reach it.
	Scope Scope
	// PID is the process that holds it, 0 when the OS does not say (a
	// process of another user, without privileges).
	PID int32
	// Own is true when the process belongs to the user who scanned.
	Own bool
	// User, Process, Command and Cwd describe the process; each is "" when
	// the OS does not tell (another user's process, or one that exited
	// between the socket scan and the process lookup).
	User, Process, Command, Cwd string

	// HTTP is true when it answered an HTTP request on loopback in time,
	// HTTPS when it completed a TLS handshake; Title is its page's
	// <title>. Probe fills them.
	HTTP, HTTPS bool
	Title       string
}

// AddrPort returns the listening address and port.
func (l *Listener) AddrPort() netip.AddrPort {
	return netip.AddrPortFrom(l.Addr, uint16(l.Port))
}

// Options chooses what Scan returns.
type Options struct {
	// AllUsers includes every user's listeners the OS lets us see, those
	// of processes we may not inspect without details. Default: only the
	// current user's.
	AllUsers bool
}

// Scan returns the machine's listening TCP sockets, sorted by port and
// address, with their processes described. It does not probe them (see
// Probe). A process that exits during the scan leaves its socket without
// details; a process we may not inspect is not an error.
func Scan(ctx context.Context, opts Options) ([]Listener, error) {
	conns, err := connections(ctx)
	if err != nil {
		return nil, err
	}
	return fromConnections(ctx, conns, opts, currentUser()), nil
}

// connections lists the TCP sockets. Linux and Windows list them without
// each one's user IDs (on Linux that is a file read per socket: we look
// up each process once instead); elsewhere gopsutil has only the full
// listing (lsof on macOS and FreeBSD).
func connections(ctx context.Context) ([]psnet.ConnectionStat, error) {
	switch runtime.GOOS {
	case "linux", "windows":
		return psnet.ConnectionsWithoutUidsWithContext(ctx, "tcp")
	}
	return psnet.ConnectionsWithContext(ctx, "tcp")
}

// listening returns the address of a socket in the LISTEN state.
func listening(c psnet.ConnectionStat) (netip.AddrPort, bool) {
	if c.Status != "LISTEN" || c.Laddr.Port == 0 || c.Laddr.Port > 65535 {
		return netip.AddrPort{}, false
	}
	a, err := netip.ParseAddr(c.Laddr.IP)
	if err != nil {
		return netip.AddrPort{}, false
	}
	return netip.AddrPortFrom(a.Unmap(), uint16(c.Laddr.Port)), true
}

// me is the user who scans.
type me struct {
	uid  string // "" where the OS has no numeric IDs (Windows)
	name string
}

func currentUser() me {
	u, err := user.Current()
	if err != nil {
		return me{}
	}
	m := me{name: u.Username}
	if runtime.GOOS != "windows" {
		m.uid = u.Uid
	}
	return m
}

// procInfo is what the OS tells about one process.
type procInfo struct {
	uid                      string
	user, name, command, cwd string
	known                    bool // the process could be looked up at all
}

func fromConnections(ctx context.Context, conns []psnet.ConnectionStat, opts Options, self me) []Listener {
	procs := make(map[int32]*procInfo)
	users := make(map[string]string)
	out := make([]Listener, 0, 16)
	for _, c := range conns {
		ap, ok := listening(c)
		if !ok {
			continue
		}
		l := Listener{Addr: ap.Addr(), Port: int(ap.Port()), Scope: ScopeOf(ap.Addr()), PID: c.Pid}
		var p *procInfo
		if c.Pid > 0 {
			p = procs[c.Pid]
			if p == nil {
				p = lookup(ctx, c.Pid, users)
				procs[c.Pid] = p
			}
		}
		if p != nil {
			l.Own = p.known && (self.uid != "" && p.uid == self.uid || self.uid == "" && p.user != "" && p.user == self.name)
		}
		if !l.Own && !opts.AllUsers {
			continue
		}
		if p != nil {
			l.User, l.Process, l.Command, l.Cwd = p.user, p.name, p.command, p.cwd
		}
		out = append(out, l)
	}
	slices.SortFunc(out, func(a, b Listener) int {
		return cmp.Or(cmp.Compare(a.Port, b.Port), a.Addr.Compare(b.Addr), cmp.Compare(a.PID, b.PID))
	})
	return out
}

// lookup describes a process. Each detail the OS refuses (another user's
// process) or no longer has (the process exited) stays empty.
func lookup(ctx context.Context, pid int32, users map[string]string) *procInfo {
	info := &procInfo{}
	p, err := process.NewProcessWithContext(ctx, pid)
	if err != nil {
		return info // exited between the socket scan and now
	}
	if uids, err := p.UidsWithContext(ctx); err == nil && len(uids) > 0 {
		info.known = true
		info.uid = strconv.FormatUint(uint64(uids[0]), 10)
		name, seen := users[info.uid]
		if !seen {
			if u, err := user.LookupId(info.uid); err == nil {
				name = u.Username
			} else {
				name = info.uid
			}
			users[info.uid] = name
		}
		info.user = name
	} else if name, err := p.UsernameWithContext(ctx); err == nil {
		info.known = true // Windows: no numeric IDs
		info.user = name
	}
	info.name, _ = p.NameWithContext(ctx)
	info.command, _ = p.CmdlineWithContext(ctx)
	info.cwd, _ = p.CwdWithContext(ctx)
	return info
}

// run calls f for each index with at most n at a time.
func run(n, count int, f func(i int)) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, n)
	for i := range count {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			f(i)
		}()
	}
	wg.Wait()
}

// Info is a listener as `caddy localdev discover --json` and the
// dashboard's "listeners" show it. Project and Route are the caller's to
// fill: the project inferred from Cwd, and the route that targets it.
type Info struct {
	Address string `json:"address"`
	Port    int    `json:"port"`
	Scope   Scope  `json:"scope"`
	PID     int32  `json:"pid"`
	User    string `json:"user"`
	Process string `json:"process"`
	Command string `json:"command"`
	Cwd     string `json:"cwd"`
	Project string `json:"project"`
	HTTP    bool   `json:"http"`
	HTTPS   bool   `json:"https"`
	Title   string `json:"title"`
	Route   string `json:"route"`
}

// Info returns the listener as users see it, without project and route.
func (l *Listener) Info() Info {
	return Info{
		Address: l.Addr.String(),
		Port:    l.Port,
		Scope:   l.Scope,
		PID:     l.PID,
		User:    l.User,
		Process: l.Process,
		Command: l.Command,
		Cwd:     l.Cwd,
		HTTP:    l.HTTP,
		HTTPS:   l.HTTPS,
		Title:   l.Title,
	}
}
