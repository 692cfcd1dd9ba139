package localdev

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/localdev/localdev/internal/pages"
	"github.com/localdev/localdev/internal/routes"
)

// serveDashboard answers the index host: every route under the domain,
// as HTML for browsers and JSON for Accept: application/json.
func (h *Handler) serveDashboard(w http.ResponseWriter, r *http.Request, p peer) error {
	own := h.ownRoutes(p)
	checker.Show(own[:min(len(own), pages.MaxDashboardRows)]) // the rows the page shows first
	checker.Watch(healthWait)
	infos := describeRoutes(own, requestOrigin(r), true)
	found, unnamed := h.dashboardListeners(r, p)
	if wantsJSON(r) {
		return writeJSON(w, http.StatusOK, map[string]any{"routes": infos, "listeners": found})
	}
	d := pages.Dashboard{Domain: h.domain, Routes: infos, Dirs: h.localDirs(p), Listeners: unnamed}
	if pages.WantsHTML(r) {
		return writePage(w, http.StatusOK, true, func(b io.Writer) error { return pages.RenderDashboard(b, d) })
	}
	return writePage(w, http.StatusOK, false, func(b io.Writer) error { return pages.RenderDashboardText(b, d) })
}

// serveNotFound answers a name with no route. The route list appears only
// for names under the domain: a page for a foreign Host could be read by
// that foreign site through DNS rebinding.
func (h *Handler) serveNotFound(w http.ResponseWriter, r *http.Request, host string, ours bool, p peer) error {
	d := pages.NotFound{Host: host, Domain: h.domain}
	if ours {
		own := h.ownRoutes(p)
		o := requestOrigin(r)
		list, suggestion := pages.NotFoundRoutes(host, routeNames(own))
		listed := make([]*routes.Route, len(list))
		for i, j := range list {
			listed[i] = own[j]
			if j == suggestion {
				suggestion = i
			}
		}
		d.Routes = describeRoutes(listed, o, false)
		if suggestion >= 0 {
			d.Suggestion = &d.Routes[suggestion]
		}
		d.Count, d.Dashboard, d.Dirs = len(own), o.url(h.domain), h.localDirs(p)
	}
	html := pages.WantsHTML(r)
	return writePage(w, http.StatusNotFound, html, func(b io.Writer) error {
		if html {
			return pages.RenderNotFound(b, d)
		}
		return pages.RenderNotFoundText(b, d)
	})
}

// serveAppDown answers when the route's app did not answer: 502 with what
// to do; the HTML page reloads itself once the app is up.
func (h *Handler) serveAppDown(w http.ResponseWriter, r *http.Request, route *routes.Route, waited time.Duration, err error) error {
	if h.Wait <= 0 {
		// Without `wait` the request was not held: the time is just the
		// failed dial, and the page says it did not wait at all.
		waited = 0
	}
	d := pages.AppDown{
		Name:   route.Name,
		Target: route.Target.Raw,
		Waited: waited.Round(time.Millisecond),
		Error:  dialProblem(err),
	}
	if route.Target.Port != 0 {
		d.Port = strconv.Itoa(route.Target.Port)
	}
	html := pages.WantsHTML(r)
	return writePage(w, http.StatusBadGateway, html, func(b io.Writer) error {
		if html {
			return pages.RenderAppDown(b, d)
		}
		return pages.RenderAppDownText(b, d)
	})
}

// serveLoop answers a request that came back around: the route's target
// is this Caddy itself, or the request passed through the routes in via
// and came back to one of them.
func (h *Handler) serveLoop(w http.ResponseWriter, r *http.Request, route *routes.Route, via []string) error {
	d := pages.Loop{Name: route.Name, Target: route.Target.Raw, Via: via}
	html := pages.WantsHTML(r)
	return writePage(w, http.StatusLoopDetected, html, func(b io.Writer) error {
		if html {
			return pages.RenderLoop(b, d)
		}
		return pages.RenderLoopText(b, d)
	})
}

// ownRoutes returns the routes under this handler's domain that it serves
// to a client of class p: all of them for loopback, only the handler's
// own for a client of an allow range.
func (h *Handler) ownRoutes(p peer) []*routes.Route {
	all := table.Routes()
	out := make([]*routes.Route, 0, len(all))
	for _, r := range all {
		if routes.InDomain(strings.TrimPrefix(r.Name, "*."), h.domain) && h.admitsTo(p, r) {
			out = append(out, r)
		}
	}
	return out
}

// localDirs returns the route folders to show a client of class p: their
// paths name the user, so only clients on this machine see them.
func (h *Handler) localDirs(p peer) []string {
	if p != peerLocal {
		return nil
	}
	return h.Dirs
}

func routeNames(list []*routes.Route) []string {
	names := make([]string, len(list))
	for i, r := range list {
		names[i] = r.Name
	}
	return names
}

// dialProblem shortens a proxy error to what a user needs to read.
func dialProblem(err error) string {
	var herr caddyhttp.HandlerError
	if errors.As(err, &herr) && herr.Err != nil {
		err = herr.Err
	}
	msg := err.Error()
	if i := strings.LastIndex(msg, ": "); i >= 0 {
		msg = msg[i+2:]
	}
	return msg
}

// writePage renders into a buffer first, so that a template error never
// sends half a page.
func writePage(w http.ResponseWriter, status int, html bool, render func(io.Writer) error) error {
	var buf bytes.Buffer
	if err := render(&buf); err != nil {
		return caddyhttp.Error(http.StatusInternalServerError, err)
	}
	ct := "text/plain; charset=utf-8"
	if html {
		ct = "text/html; charset=utf-8"
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, err := w.Write(buf.Bytes())
	return err
}

func writeJSON(w http.ResponseWriter, status int, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return caddyhttp.Error(http.StatusInternalServerError, err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, err = w.Write(append(body, '\n'))
	return err
}

// wantsJSON reports whether the request asks for JSON: its Accept header
// names application/json with a non-zero quality.
func wantsJSON(r *http.Request) bool {
	return pages.Accepts(r, "application/json")
}
