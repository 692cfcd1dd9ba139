package localdev

import (
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"go.uber.org/zap"

	"github.com/localdev/localdev/internal/listeners"
	"github.com/localdev/localdev/internal/project"
	"github.com/localdev/localdev/internal/routes"
)

// unmarshalAuto reads the word `auto`, which takes no arguments.
func (h *Handler) unmarshalAuto(d *caddyfile.Dispenser, _ *httpcaddyfile.Helper) error {
	if d.NextArg() {
		return d.Errf("auto takes no arguments, got %q", d.Val())
	}
	h.Auto = true
	return nil
}

// autoEvery is how often `auto` looks at what listens: a route appears
// within about this long of its dev server answering, and goes within
// about this long of the server closing (the contract says 5 s).
const autoEvery = 2 * time.Second

// autoRouter names the dev servers of the handlers with `auto`: one loop
// per process, running while at least one such handler is loaded.
type autoRouter struct {
	mu       sync.Mutex
	handlers []*Handler
	stop     chan struct{}
	done     chan struct{}
}

// add registers a handler with `auto` and starts the loop if needed.
func (a *autoRouter) add(h *Handler) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.handlers = append(a.handlers, h)
	if a.stop == nil {
		a.stop, a.done = make(chan struct{}), make(chan struct{})
		go a.loop(a.stop, a.done)
	}
}

// remove unregisters a handler; the last one stops the loop and removes
// every auto route.
func (a *autoRouter) remove(h *Handler) {
	a.mu.Lock()
	a.handlers = slices.DeleteFunc(a.handlers, func(e *Handler) bool { return e == h })
	if len(a.handlers) > 0 || a.stop == nil {
		a.mu.Unlock()
		return
	}
	stop, done := a.stop, a.done
	a.stop, a.done = nil, nil
	a.mu.Unlock()
	close(stop)
	<-done
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.handlers) == 0 { // no handler came back meanwhile
		for name, r := range table.AutoRoutes() {
			table.DeleteAuto(name, r.Target.Raw)
			h.logger.Info("route removed", zap.String("name", name), zap.String("target", r.Target.Raw), zap.String("source", string(routes.SourceAuto)), zap.String("reason", "auto is off"))
		}
	}
}

func (a *autoRouter) loop(stop, done chan struct{}) {
	defer close(done)
	t := time.NewTicker(autoEvery)
	defer t.Stop()
	for {
		a.sync()
		select {
		case <-stop:
			return
		case <-t.C:
		}
	}
}

// sync makes the auto routes match what listens now.
func (a *autoRouter) sync() {
	a.mu.Lock()
	domains := make(map[string]*zap.Logger)
	for _, h := range a.handlers {
		if _, seen := domains[h.domain]; !seen {
			domains[h.domain] = h.logger
		}
	}
	a.mu.Unlock()
	if len(domains) == 0 {
		return
	}
	list, err := scanned.get(autoEvery/2, -1)
	if err != nil {
		for _, logger := range domains {
			logger.Warn("auto: listing listeners", zap.Error(err))
			break
		}
		return
	}
	current := table.AutoRoutes()
	want := autoWanted(list, current, domains)
	for name, r := range current {
		if want[name].target != r.Target.Raw {
			if table.DeleteAuto(name, r.Target.Raw) {
				autoLogger(domains, name).Info("route removed", zap.String("name", name), zap.String("target", r.Target.Raw), zap.String("source", string(routes.SourceAuto)), zap.String("reason", "nothing answers there any more"))
			}
		}
	}
	for name, w := range want {
		if old := current[name]; old != nil && old.Target.Raw == w.target {
			continue
		}
		t, err := routes.ParseTarget(w.target)
		if err != nil {
			continue
		}
		inEffect := table.PutAuto(routes.NewRoute(name, t, routes.SourceAuto, ""))
		autoLogger(domains, name).Info("route", zap.String("name", name), zap.String("target", w.target), zap.String("source", string(routes.SourceAuto)),
			zap.Int32("pid", w.pid), zap.String("folder", w.cwd), zap.Bool("in_effect", inEffect))
	}
}

// autoLogger returns the logger of the handler whose domain name is under.
func autoLogger(domains map[string]*zap.Logger, name string) *zap.Logger {
	for d, logger := range domains {
		if routes.InDomain(name, d) {
			return logger
		}
	}
	for _, logger := range domains {
		return logger
	}
	return zap.NewNop()
}

// autoTarget is a listener `auto` names.
type autoTarget struct {
	target string
	pid    int32
	cwd    string
}

// autoWanted returns the auto routes that should exist: for each listener
// of this user on loopback that answers HTTP, runs in a project folder
// (a project file or a git checkout, not just any folder) and that no
// other route reaches, <project>.<domain> for each domain. Where two
// listeners have one project, the one the route already points at keeps
// it, else the lowest port.
func autoWanted(list []listeners.Listener, current map[string]*routes.Route, domains map[string]*zap.Logger) map[string]autoTarget {
	var others []namedTarget
	for _, r := range table.Routes() {
		if r.Source != routes.SourceAuto {
			others = append(others, namedTarget{name: r.Name, target: r.Target})
		}
	}
	labels := make(map[string]string)
	want := make(map[string]autoTarget)
	for i := range list {
		l := &list[i]
		if !l.Own || l.Scope != listeners.ScopeLoopback || !l.HTTP || l.Cwd == "" {
			continue
		}
		if routeFor(l.Addr, l.Port, others) != "" {
			continue
		}
		label, seen := labels[l.Cwd]
		if !seen {
			if n, err := project.Infer(l.Cwd); err == nil && n.Source != project.SourceFolder {
				label = n.Label
			}
			labels[l.Cwd] = label
		}
		if label == "" {
			continue
		}
		target := autoTargetOf(l.Addr, l.Port)
		for domain := range domains {
			name, err := routes.NormalizeName(label, domain)
			if err != nil {
				continue
			}
			have, taken := want[name]
			if taken && !(current[name] != nil && current[name].Target.Raw == target && have.target != target) {
				continue
			}
			want[name] = autoTarget{target: target, pid: l.PID, cwd: l.Cwd}
		}
	}
	return want
}

// autoTargetOf is the target for a loopback listener: its exact address,
// so that the route does not try the other family.
func autoTargetOf(a netip.Addr, port int) string {
	return netip.AddrPortFrom(a.Unmap(), uint16(port)).String()
}
