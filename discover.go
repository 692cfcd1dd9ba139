package localdev

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/localdev/localdev/internal/adminclient"
	"github.com/localdev/localdev/internal/exposure"
	"github.com/localdev/localdev/internal/listeners"
	"github.com/localdev/localdev/internal/pages"
	"github.com/localdev/localdev/internal/project"
	"github.com/localdev/localdev/internal/routes"
)

func init() {
	checker.Exposure = appExposed
}

// appExposed reports whether a routed app's port is also open on one of
// this machine's non-loopback addresses. The health check asks it for
// apps that are up, at most every routes.ExposureEvery.
func appExposed(ctx context.Context, port int) bool {
	open, _ := exposure.Check(ctx, port)
	return len(open) > 0
}

// discoverCommand is `caddy localdev discover`.
func discoverCommand() *cobra.Command {
	c := &cobra.Command{
		Use:   "discover [--json] [--all]",
		Short: "Lists what is listening on this machine, and who started it",
		Long: `
Lists the listening TCP sockets of this machine: address and port, scope
(loopback; all for 0.0.0.0 or ::; network for one non-loopback address),
process, user, command line, folder, the project inferred from the folder
as 'caddy localdev run' does, whether it answers HTTP or TLS on loopback
within 300 ms, its page title, and the route of the running Caddy that
targets it. Listeners whose scope is all or network are reachable from your
network, bypassing localdev's loopback check: bind them to 127.0.0.1.

Default: your own listeners. --all: every user's that the OS lets you see
(without details where it does not). --json: an array of objects with the
keys address, port, scope, pid, user, process, command, cwd, project,
http, https, title, route. Routes come from the admin API (see --address);
without a running Caddy the route column stays empty.
`,
	}
	c.Flags().Bool("json", false, "Print a JSON array")
	c.Flags().Bool("all", false, "Include every user's listeners")
	c.RunE = cliRunE(func(fl caddycmd.Flags, args []string) (int, error) {
		if len(args) != 0 {
			return 1, fmt.Errorf("localdev: discover takes no arguments, got %q", args)
		}
		addr, err := cliAdminAddress(fl)
		if err != nil {
			return 1, err
		}
		return cliExit(discover(context.Background(), os.Stdout, os.Stderr, addr, fl.Bool("all"), fl.Bool("json")))
	})
	return c
}

// discover writes the listeners as a table or, with asJSON, a JSON array.
// Routes come from the admin API at addr; if it does not answer, a note
// goes to errw and the route fields stay empty.
func discover(ctx context.Context, w, errw io.Writer, addr string, all, asJSON bool) error {
	list, err := listeners.Scan(ctx, listeners.Options{AllUsers: all})
	if err != nil {
		return fmt.Errorf("localdev: listing listening sockets: %v", err)
	}
	listeners.Probe(ctx, list, listeners.ProbeOptions{})
	targets, routesErr := adminTargets(ctx, addr)
	if routesErr != nil {
		fmt.Fprintf(errw, "localdev: routes not shown: %s\n", strings.TrimPrefix(routesErr.Error(), "localdev: "))
	}
	infos := describeListeners(list, targets)
	if asJSON {
		return writeListenersJSON(w, infos)
	}
	return writeListenerTable(w, infos, all)
}

// writeListenersJSON writes the array indented, safe on a terminal.
func writeListenersJSON(w io.Writer, infos []listeners.Info) error {
	return writeTerminalJSON(w, infos)
}

// namedTarget is a route's name and parsed target.
type namedTarget struct {
	name   string
	target routes.Target
}

// adminTargets fetches the running Caddy's routes, with a time limit.
func adminTargets(ctx context.Context, addr string) ([]namedTarget, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	list, err := adminclient.New(addr).Routes(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]namedTarget, 0, len(list))
	for _, r := range list {
		if t, err := routes.ParseTarget(r.Target); err == nil {
			out = append(out, namedTarget{name: r.Name, target: t})
		}
	}
	return out, nil
}

// tableTargets returns the route table's targets on the listeners' ports.
func tableTargets(list []listeners.Listener) []namedTarget {
	ports := make(map[int]bool, len(list))
	for i := range list {
		ports[list[i].Port] = true
	}
	var out []namedTarget
	for _, r := range table.Routes() {
		if ports[r.Target.Port] {
			out = append(out, namedTarget{name: r.Name, target: r.Target})
		}
	}
	return out
}

// describeListeners turns scanned listeners into the objects users see,
// with the project of each folder and the route that targets each.
func describeListeners(list []listeners.Listener, targets []namedTarget) []listeners.Info {
	byPort := make(map[int][]namedTarget, len(list))
	for _, nt := range targets {
		byPort[nt.target.Port] = append(byPort[nt.target.Port], nt)
	}
	out := make([]listeners.Info, len(list))
	for i := range list {
		l := &list[i]
		info := l.Info()
		if l.Cwd != "" {
			info.Project = projectLabel(l.Cwd)
		}
		info.Route = routeFor(l.Addr, l.Port, byPort[l.Port])
		out[i] = info
	}
	return out
}

// projectLabel is the project name of a folder as `run` infers it, or ""
// when it has none (a folder that cannot be read, say). Answers are kept
// for scanEvery, so that a dashboard polling every second does not read
// every folder's project files each time.
func projectLabel(dir string) string {
	projects.mu.Lock()
	defer projects.mu.Unlock()
	now := time.Now()
	if p, ok := projects.m[dir]; ok && now.Sub(p.at) < scanEvery {
		return p.label
	}
	label := ""
	if n, err := project.Infer(dir); err == nil {
		label = n.Label
	}
	if len(projects.m) > 4096 {
		clear(projects.m) // folders come and go; never grow without bound
	}
	projects.m[dir] = projectAt{label, now}
	return label
}

type projectAt struct {
	label string
	at    time.Time
}

// routeFor returns the name of the first route (by name) whose target
// reaches a listener on addr:port, or "".
func routeFor(addr netip.Addr, port int, targets []namedTarget) string {
	for _, nt := range targets {
		if reaches(nt.target, addr, port) {
			return nt.name
		}
	}
	return ""
}

// reaches reports whether dialing target gets to a listener on
// addr:port: the same port, and a dial address the listener accepts (its
// own, or any of its family for 0.0.0.0; any at all for ::, which takes
// IPv4 too on dual-stack systems).
func reaches(t routes.Target, addr netip.Addr, port int) bool {
	if t.Unix() || t.Port != port {
		return false
	}
	addr = addr.Unmap()
	for _, d := range t.Dials {
		ap, err := netip.ParseAddrPort(d)
		if err != nil {
			continue
		}
		dial := ap.Addr().Unmap()
		switch {
		case dial == addr:
			return true
		case addr.IsUnspecified() && (addr.Is6() || dial.Is4()):
			return true
		}
	}
	return false
}

// writeListenerTable writes the listeners for people, one a line, every
// field escaped so that a process's command line or a page title cannot
// drive the terminal or reorder the line.
func writeListenerTable(w io.Writer, infos []listeners.Info, all bool) error {
	if len(infos) == 0 {
		msg := "nothing of yours is listening (--all shows every user's listeners)"
		if all {
			msg = "nothing is listening"
		}
		_, err := fmt.Fprintln(w, msg)
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ADDRESS\tSCOPE\tPID\tUSER\tPROCESS\tPROJECT\tWEB\tTITLE\tROUTE\tFOLDER\tCOMMAND")
	var exposed []listeners.Info
	for _, l := range infos {
		web := "-"
		switch {
		case l.HTTPS:
			web = "https"
		case l.HTTP:
			web = "http"
		}
		pid := "-"
		if l.PID > 0 {
			pid = strconv.Itoa(int(l.PID))
		}
		scope := string(l.Scope)
		if l.Scope.Exposed() {
			scope += "!"
			exposed = append(exposed, l)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
			cell(hostPort(l.Address, l.Port), 0), scope, pid, cell(l.User, 16), cell(l.Process, 20),
			cell(l.Project, 24), web, cell(l.Title, 32), cell(l.Route, 40), cell(l.Cwd, 48), cell(l.Command, 60))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, l := range exposed {
		who := "pid unknown"
		if l.PID > 0 {
			who = "pid " + strconv.Itoa(int(l.PID))
		}
		if l.Process != "" {
			who = terminalSafe(l.Process) + ", " + who
		}
		if _, err := fmt.Fprintf(w, "! %s (%s) is reachable from your network: anyone there can connect to it directly; bind it to 127.0.0.1\n",
			hostPort(l.Address, l.Port), who); err != nil {
			return err
		}
	}
	return nil
}

func hostPort(addr string, port int) string {
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return terminalSafe(addr) + ":" + strconv.Itoa(port)
	}
	return netip.AddrPortFrom(a, uint16(port)).String()
}

// cell is a table cell: escaped, at most max runes (0: no limit), "-"
// when empty.
func cell(s string, max int) string {
	if s == "" {
		return "-"
	}
	s = terminalSafe(s)
	if r := []rune(s); max > 0 && len(r) > max {
		s = string(r[:max-1]) + "…"
	}
	return s
}

// scanEvery is how often the dashboard may scan the machine's listeners:
// while a dashboard is open it polls every second, and each poll shares
// the last scan for this long.
const scanEvery = 2 * time.Second

// probeKeep is how long a listener's probe result is reused: most
// listeners seen again are the same server, and a probe costs up to
// listeners.ProbeTimeout. A listener that did not answer is asked again
// sooner (probeKeepSilent): it may be a server that is still starting.
const (
	probeKeep       = 10 * time.Second
	probeKeepSilent = 4 * time.Second
)

// listenerCache holds the last scan of this user's listeners for the
// dashboard and `auto`. Nothing scans while nobody asks.
type listenerCache struct {
	mu       sync.Mutex
	at       time.Time
	list     []listeners.Listener
	err      error
	scanning chan struct{} // closed when the scan in progress ends; nil if none
	probes   map[probeKey]probed
}

type probeKey struct {
	pid  int32
	addr netip.AddrPort
}

type probed struct {
	http, https bool
	title       string
	at          time.Time
}

// keep is how long the result is good for.
func (p probed) keep() time.Duration {
	if p.http || p.https {
		return probeKeep
	}
	return probeKeepSilent
}

// firstScanWait is how long a caller waits for a scan when there is no
// earlier one to show.
const firstScanWait = 500 * time.Millisecond

// get returns this user's listeners, probed, other than this process's
// own (Caddy's listeners are no app). A scan older than maxAge is
// refreshed in the background, so that a page never waits for the
// probes; the caller waits (up to wait) only when there is no scan yet,
// or when wait is negative, for a fresh one. Callers must not modify the
// result.
func (c *listenerCache) get(maxAge, wait time.Duration) ([]listeners.Listener, error) {
	c.mu.Lock()
	fresh := !c.at.IsZero() && time.Since(c.at) < maxAge
	if fresh {
		defer c.mu.Unlock()
		return c.list, c.err
	}
	if c.scanning == nil {
		c.scanning = make(chan struct{})
		go c.scan(c.scanning)
	}
	done, have := c.scanning, !c.at.IsZero()
	c.mu.Unlock()
	switch {
	case wait < 0:
		<-done
	case !have:
		select {
		case <-done:
		case <-time.After(wait):
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.list, c.err
}

// scan runs one scan and probes the listeners not probed lately.
func (c *listenerCache) scan(done chan struct{}) {
	defer close(done)
	ctx := context.Background()
	list, err := listeners.Scan(ctx, listeners.Options{})
	if err == nil {
		self := int32(os.Getpid())
		list = slices.DeleteFunc(list, func(l listeners.Listener) bool { return l.PID == self })
		c.probe(ctx, list)
	}
	c.mu.Lock()
	c.list, c.err, c.at, c.scanning = list, err, time.Now(), nil
	c.mu.Unlock()
}

// probe fills in the probe results, reusing those younger than probeKeep.
func (c *listenerCache) probe(ctx context.Context, list []listeners.Listener) {
	now := time.Now()
	c.mu.Lock()
	var fresh []listeners.Listener
	var freshAt []int
	for i := range list {
		l := &list[i]
		if p, ok := c.probes[probeKey{l.PID, l.AddrPort()}]; ok && now.Sub(p.at) < p.keep() {
			l.HTTP, l.HTTPS, l.Title = p.http, p.https, p.title
			continue
		}
		fresh = append(fresh, *l)
		freshAt = append(freshAt, i)
	}
	c.mu.Unlock()
	listeners.Probe(ctx, fresh, listeners.ProbeOptions{})
	c.mu.Lock()
	defer c.mu.Unlock()
	for j, l := range fresh {
		list[freshAt[j]] = l
		c.probes[probeKey{l.PID, l.AddrPort()}] = probed{l.HTTP, l.HTTPS, l.Title, now}
	}
	for k, p := range c.probes {
		if now.Sub(p.at) >= p.keep() {
			delete(c.probes, k)
		}
	}
}

// dashboardListeners returns the listeners the dashboard shows: this
// user's servers that answer HTTP or TLS on loopback (or on every
// interface) and that no route reaches, as JSON objects and as page rows.
// Only a client on this machine gets them: to anyone else they would
// describe processes, folders and servers that are this machine's
// business (and that such a client cannot reach anyway).
func (h *Handler) dashboardListeners(r *http.Request, p peer) ([]listeners.Info, []pages.Listener) {
	if r.UserAgent() == listeners.UserAgent || p != peerLocal || unixPeer(r) {
		return []listeners.Info{}, nil // discover's own probe wants the title, not a scan
	}
	list, err := scanned.get(scanEvery, firstScanWait)
	if err != nil {
		h.logger.Debug("listing listeners for the dashboard", zap.Error(err))
		return []listeners.Info{}, nil
	}
	infos := describeListeners(list, tableTargets(list))
	out := make([]listeners.Info, 0, len(infos))
	proposed := make(map[string]bool)
	taken := func(full string) bool { return proposed[full] || table.Get(full) != nil }
	var rows []pages.Listener
	for _, info := range infos {
		if !(info.HTTP || info.HTTPS) || info.Route != "" || info.Scope == listeners.ScopeNetwork {
			continue
		}
		out = append(out, info)
		name := proposedName(info, h.domain, taken)
		proposed[name+"."+h.domain] = true
		rows = append(rows, pages.Listener{
			Address: hostPort(info.Address, info.Port),
			Port:    info.Port,
			PID:     info.PID,
			Process: info.Process,
			Cwd:     info.Cwd,
			Title:   info.Title,
			Name:    name,
			Add:     "caddy localdev add " + name + " " + proposedTarget(info),
			Exposed: info.Scope.Exposed(),
		})
	}
	return out, rows
}

// proposedName is the route name the dashboard suggests for a listener:
// its project, else its process name, made a label; with "-<port>" added
// when a route or another suggestion already has it. The page's script
// does the same.
func proposedName(info listeners.Info, domain string, taken func(full string) bool) string {
	name := info.Project
	if name == "" {
		name = project.Label(info.Process)
	}
	if name == "" {
		name = "app"
	}
	if taken(name + "." + domain) {
		name += "-" + strconv.Itoa(info.Port)
	}
	return name
}

// proposedTarget is the route target that reaches a listener: its port,
// or its address and port when that is not 127.0.0.1, ::1 or every
// interface; with https:// for one that speaks TLS.
func proposedTarget(info listeners.Info) string {
	t := strconv.Itoa(info.Port)
	if a, err := netip.ParseAddr(info.Address); err == nil {
		a = a.Unmap()
		if !a.IsUnspecified() && a != netip.MustParseAddr("127.0.0.1") && a != netip.IPv6Loopback() {
			t = netip.AddrPortFrom(a, uint16(info.Port)).String()
		}
	}
	if info.HTTPS {
		t = "https://" + t
	}
	return t
}
