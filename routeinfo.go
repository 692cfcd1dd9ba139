package localdev

import (
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/localdev/localdev/internal/pages"
	"github.com/localdev/localdev/internal/routes"
)

// checker keeps route health fresh while the dashboard or the API is read.
var checker = &routes.Checker{Table: table}

// healthWait is how long a page or API call waits for the very first
// health check before showing what it has.
const healthWait = 500 * time.Millisecond

// routeInfo is a route as the admin API, the dashboard's JSON and
// `caddy localdev list` show it.
type routeInfo struct {
	Name     string          `json:"name"`
	URL      string          `json:"url"`
	Target   string          `json:"target"`
	Source   string          `json:"source"`
	Up       bool            `json:"up"`
	Requests []pages.Request `json:"requests,omitempty"`
}

// origin is how browsers reach a localdev site: its scheme and, when not
// the scheme's default, its port.
type origin struct {
	scheme string
	port   string
}

func (o origin) url(name string) string {
	if o.port == "" {
		return o.scheme + "://" + name
	}
	return o.scheme + "://" + net.JoinHostPort(name, o.port)
}

// defaultOrigin is assumed before any request shows the real one.
var defaultOrigin = origin{scheme: "https"}

// requestOrigin reads the scheme and the listener's port of a request.
func requestOrigin(r *http.Request) origin {
	o := origin{scheme: "http"}
	if r.TLS != nil {
		o.scheme = "https"
	}
	local, ok := r.Context().Value(http.LocalAddrContextKey).(*net.TCPAddr)
	if !ok {
		return o
	}
	if port := local.Port; !(o.scheme == "http" && port == 80 || o.scheme == "https" && port == 443) {
		o.port = strconv.Itoa(port)
	}
	return o
}

// describeRoutes turns routes into the objects users see.
func describeRoutes(list []*routes.Route, o origin, withRequests bool) []routeInfo {
	out := make([]routeInfo, 0, len(list))
	for _, r := range list {
		info := routeInfo{
			Name:   r.Name,
			Target: r.Target.Raw,
			Source: string(r.Source),
		}
		if !r.Wildcard() {
			info.URL = o.url(r.Name)
		}
		health, _ := r.Health()
		info.Up = health == routes.HealthUp
		if withRequests {
			info.Requests = inspectorEntries(r)
		}
		out = append(out, info)
	}
	return out
}

// inspectorEntries returns a route's recorded requests, newest first.
func inspectorEntries(r *routes.Route) []pages.Request {
	recorded := r.Requests()
	if len(recorded) == 0 {
		return nil
	}
	out := make([]pages.Request, len(recorded))
	for i, q := range recorded {
		out[i] = pages.Request{
			Method:     q.Method,
			Path:       q.Path,
			Status:     q.Status,
			DurationMS: float64(q.Duration.Microseconds()) / 1000,
			Time:       q.Time,
		}
	}
	return out
}

// pageRoutes converts route objects for the page templates.
func pageRoutes(infos []routeInfo) []pages.Route {
	out := make([]pages.Route, len(infos))
	for i, info := range infos {
		out[i] = pages.Route{
			Name:     info.Name,
			URL:      info.URL,
			Target:   info.Target,
			Source:   info.Source,
			Up:       info.Up,
			Requests: info.Requests,
		}
	}
	return out
}
