package localdev

import (
	"errors"

	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/localdev/localdev/internal/routes"
)

// Request outcomes, the values of caddy_localdev_requests_total's
// outcome label.
const (
	outcomeProxied     = "proxied"
	outcomeUnknownHost = "unknown_host"
	outcomeAppDown     = "app_down"
	outcomeLoop        = "loop"
)

// metrics are process-wide, so counts carry on across reloads; each
// configuration registers them in its own registry, which the admin
// endpoint serves at /metrics.
var metrics = struct {
	requests *prometheus.CounterVec
	refused  prometheus.Counter
	routes   prometheus.Collector
}{
	requests: prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "caddy", Subsystem: "localdev", Name: "requests_total",
		Help: "Requests localdev answered, by route and outcome (proxied, unknown_host, app_down, loop).",
	}, []string{"route", "outcome"}),
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

// countRequest counts one answered request. Unknown hosts share one
// label value so that arbitrary Host headers cannot grow the series.
func countRequest(route, outcome string) {
	metrics.requests.WithLabelValues(route, outcome).Inc()
}

// routeCount reports caddy_localdev_routes{source} from the live table.
type routeCount struct{}

var routesDesc = prometheus.NewDesc("caddy_localdev_routes", "Routes in effect, by source (config, dir, api).", []string{"source"}, nil)

func (routeCount) Describe(ch chan<- *prometheus.Desc) { ch <- routesDesc }

func (routeCount) Collect(ch chan<- prometheus.Metric) {
	counts := map[routes.Source]int{routes.SourceConfig: 0, routes.SourceDir: 0, routes.SourceAPI: 0}
	for _, r := range table.Routes() {
		counts[r.Source]++
	}
	for src, n := range counts {
		ch <- prometheus.MustNewConstMetric(routesDesc, prometheus.GaugeValue, float64(n), string(src))
	}
}
