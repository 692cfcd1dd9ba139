package localdev

import (
	"crypto/rand"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/localdev/localdev/internal/routes"
)

// Process-wide state. Caddy provisions a new set of modules at every
// configuration load, and during a reload the old and new sets run side by
// side; what must be shared by both, and outlive them, lives here: one of
// each per process. (The metrics, also process-wide, are in metrics.go
// with their definitions.)

// table is the process's one route table, shared by every configuration
// (old and new during a reload), the route folders and the admin API.
var table = routes.NewTable()

// checker keeps route health fresh while the dashboard or the API is read.
var checker = &routes.Checker{Table: table, Panicked: logHealthPanic}

// logHealthPanic logs a panic of the background health check, which
// carries on, through the logger of the newest localdev handler loaded:
// the check serves every handler, and that one belongs to the
// configuration in effect.
func logHealthPanic(v any, stack []byte) {
	logger := loaded.newestLogger()
	if logger == nil { // the last handler retired while the check ran
		logger = caddy.Log().Named("http.handlers.localdev")
	}
	logger.Named("health").Error("panic checking route health", zap.Any("error", v), zap.ByteString("stack", stack))
}

// loaded holds the localdev handlers of the configurations in effect (two
// during a reload), for the questions certificates ask: which names, to
// which clients.
var loaded = &handlerSet{}

// folders holds one watcher per route folder for the whole process, so a
// reload that keeps a folder keeps its routes without a gap.
var folders = caddy.NewUsagePool()

// hostsWriters holds the running writers by file path; every handler with
// the option holds a reference, so the writer lives while one does.
var hostsWriters = caddy.NewUsagePool()

// autoRoutes names the dev servers of handlers with `auto`.
var autoRoutes = &autoRouter{}

// scanned caches this machine's listeners for the dashboards: scanned
// only while one is open, at most every 2 s.
var scanned = &listenerCache{probes: make(map[probeKey]probed)}

// projects caches the project name inferred for a folder.
var projects = struct {
	mu sync.Mutex
	m  map[string]projectAt
}{m: make(map[string]projectAt)}

// certBudget bounds the certificates newly issued for names that are not
// exactly routed, for the whole process: a web page full of
// <img src=https://nNNN.shop.localhost> cannot fill the disk.
var certBudget = newIssueBudget(20, 10*time.Minute)

// warnedDomains holds the domains warnDomain has warned about, so that
// each warning appears once per process, not at every reload.
var warnedDomains sync.Map

// hopToken marks this process's hop marks, so that a client cannot forge
// one and a mark from another process does not count.
var hopToken = rand.Text()
