package routes

import "time"

// Info is a route as users see it: the admin API's route object, the
// dashboard's rows and JSON, and what `caddy localdev list` prints. It is
// the one description of a route outside the table.
type Info struct {
	// Name is the full name, e.g. "app.localhost" or "*.shop.localhost".
	Name string `json:"name"`
	// URL is how a browser reaches the route: scheme and, if not the
	// default, port of the server serving it. Empty for a wildcard.
	URL string `json:"url"`
	// Target is the target as written: "62893", "127.0.0.1:3000", …
	Target string `json:"target"`
	// Source is where the route came from: "config", "dir", "api" or "auto".
	Source string `json:"source"`
	// Up is whether the app answered at the last background check; false
	// also while the route has not been checked yet (see Unchecked).
	Up bool `json:"up"`
	// Unchecked is true while the route's health has not been checked
	// yet (a route just added, or none of its pages looked at since):
	// the pages then show it neither up nor down. Not in the JSON, where
	// up stays the boolean the route object has always had; default
	// false, a route whose Up says what the last check found.
	Unchecked bool `json:"-"`
	// Exposed is whether the app's port is also open on an address
	// beyond loopback, where anyone on the network can reach it.
	Exposed bool `json:"exposed,omitzero"`
	// Requests is the route's request inspector, newest first. Only the
	// dashboard fills it (an empty list when nothing was recorded); the
	// admin API leaves it out.
	Requests []RequestInfo `json:"requests,omitzero"`
}

// RequestInfo is one entry of a route's request inspector as users see it.
type RequestInfo struct {
	Method     string    `json:"method"`
	Path       string    `json:"path"`
	Status     int       `json:"status"`
	DurationMS float64   `json:"duration_ms"`
	Time       time.Time `json:"time"`
}

// Describe returns what users see of a route: its URL comes from url
// (nil for none), its inspector entries only with withRequests.
func (r *Route) Describe(url func(name string) string, withRequests bool) Info {
	info := Info{Name: r.Name, Target: r.Target.Raw, Source: string(r.Source)}
	if !r.Wildcard() && url != nil {
		info.URL = url(r.Name)
	}
	health, _ := r.Health()
	info.Up = health == HealthUp
	info.Unchecked = health == HealthUnknown
	info.Exposed = info.Up && r.Exposed()
	if withRequests {
		recorded := r.Requests()
		info.Requests = make([]RequestInfo, len(recorded))
		for i, q := range recorded {
			info.Requests[i] = RequestInfo{
				Method:     q.Method,
				Path:       q.Path,
				Status:     q.Status,
				DurationMS: float64(q.Duration.Microseconds()) / 1000,
				Time:       q.Time,
			}
		}
	}
	return info
}
