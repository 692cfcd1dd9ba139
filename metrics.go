package localdev

import (
	"errors"
	"sync/atomic"

	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/localdev/localdev/internal/routes"
)

// outcomeUnknownHost is the outcome of a request for a name with no
// route; the outcomes of requests for routes are routes.Outcome values.
const outcomeUnknownHost = "unknown_host"

// metrics are process-wide, so counts carry on across reloads; each
// configuration registers them in its own registry, which the admin
// endpoint serves at /metrics.
//
// Requests for a route are counted on the route itself (plain atomic
// counters in its live state, no label lookup per request) and reported
// from the route table when /metrics is read: a route that leaves the
// table leaves /metrics with it, so names that come and go through the
// API or a folder do not pile up series.
var metrics = struct {
	unknownHosts atomic.Uint64
	requests     prometheus.Collector
	refused      prometheus.Counter
	routes       prometheus.Collector
}{
	requests: requestCount{},
	refused: prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "caddy", Subsystem: "localdev", Name: "refused_total",
		Help: "Requests refused because the client is not on this machine or an allowed range.",
	}),
	routes: routeCount{},
}

// registerMetrics adds localdev's metrics to the configuration's registry.
func registerMetrics(ctx caddy.Context) error {
	reg := ctx.GetMetricsRegistry()
	if reg == nil {
		return nil
	}
	for _, c := range []prometheus.Collector{metrics.requests, metrics.refused, metrics.routes} {
		var already prometheus.AlreadyRegisteredError
		if err := reg.Register(c); err != nil && !errors.As(err, &already) {
			return err
		}
	}
	return nil
}

// countRequest counts one answered request that matched no route. Unknown
// hosts share one series (route "") so that arbitrary Host headers cannot
// grow the series. A request for a route is counted with route.Count.
func countRequest(route, outcome string) {
	if route == "" && outcome == outcomeUnknownHost {
		metrics.unknownHosts.Add(1)
	}
}

// requestCount reports caddy_localdev_requests_total{route, outcome} from
// the counters of the routes in the table.
type requestCount struct{}

var requestsDesc = prometheus.NewDesc("caddy_localdev_requests_total",
	"Requests localdev answered, by route and outcome (proxied, unknown_host, app_down, app_error, loop).",
	[]string{"route", "outcome"}, nil)

func (requestCount) Describe(ch chan<- *prometheus.Desc) { ch <- requestsDesc }

func (requestCount) Collect(ch chan<- prometheus.Metric) {
	if n := metrics.unknownHosts.Load(); n > 0 {
		ch <- prometheus.MustNewConstMetric(requestsDesc, prometheus.CounterValue, float64(n), "", outcomeUnknownHost)
	}
	for _, r := range table.Routes() {
		for o, n := range r.Counts() {
			if n > 0 {
				ch <- prometheus.MustNewConstMetric(requestsDesc, prometheus.CounterValue, float64(n), r.Name, routes.Outcome(o).String())
			}
		}
	}
}

// routeCount reports caddy_localdev_routes{source} from the live table.
type routeCount struct{}

var routesDesc = prometheus.NewDesc("caddy_localdev_routes", "Routes in effect, by source (config, dir, api, auto).", []string{"source"}, nil)

func (routeCount) Describe(ch chan<- *prometheus.Desc) { ch <- routesDesc }

func (routeCount) Collect(ch chan<- prometheus.Metric) {
	counts := map[routes.Source]int{routes.SourceConfig: 0, routes.SourceDir: 0, routes.SourceAPI: 0, routes.SourceAuto: 0}
	for _, r := range table.Routes() {
		counts[r.Source]++
	}
	for src, n := range counts {
		ch <- prometheus.MustNewConstMetric(routesDesc, prometheus.GaugeValue, float64(n), string(src))
	}
}
