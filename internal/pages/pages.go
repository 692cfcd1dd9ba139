// Package pages renders the pages localdev shows to people: the dashboard on
// the index host, the 404 page for an unknown host, the 502 page for an app
// that does not answer and the 508 page for a route that points back at
// Caddy. Each page has an HTML form for browsers and a short plain-text form
// for curl and scripts.
//
// The HTML pages are self-contained (inline CSS and a little inline
// JavaScript, nothing fetched from elsewhere), follow the system's light or
// dark scheme, and escape everything that comes from a route, a request or
// the network through html/template. The package sets no headers and no
// status codes: the caller does.
package pages

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io"
	"mime"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/localdev/localdev/internal/routes"
)

// Dashboard is the index host's page.
type Dashboard struct {
	Domain string        // e.g. "localhost"
	Routes []routes.Info // sorted by name
	Dirs   []string      // route folders, as configured (may be empty)

	Listeners []Listener // servers that answer HTTP without a route; may be nil
}

// NotFound is the page for a host with no route.
type NotFound struct {
	Host       string        // the requested (normalised) host name
	Domain     string        // e.g. "localhost"
	Suggestion *routes.Info  // closest route name, or nil
	Routes     []routes.Info // the routes listed (see NotFoundRoutes); nil when no route may be shown (foreign Host: DNS rebinding defence)
	Count      int           // how many routes there are in all; Routes holds them all when it is 0 or len(Routes)
	Dashboard  string        // the dashboard's URL, linked when not every route is listed
	Dirs       []string
}

// AppDown is the 502 page: the route exists but its app does not answer.
type AppDown struct {
	Name   string        // "app.localhost"
	Target string        // as written
	Port   string        // "62893", or "" for a unix socket
	Waited time.Duration // how long the request was held before giving up (0 without `wait`)
	Error  string        // short dial error, e.g. "connection refused"
}

// Loop is the 508 page: the route points back at Caddy itself, or the
// request came back to a route it had already passed.
type Loop struct {
	Name   string
	Target string
	Via    []string // the routes the request passed, in order, when more than the route itself
}

// MaxDashboardRows is how many routes the dashboard renders on the server;
// the page's live view (fed by the JSON form, which holds every route)
// renders at most as many rows that match its filter.
const MaxDashboardRows = 200

// MaxNotFoundRows is how many routes the 404 page lists in full; with
// more, it lists the MaxNotFoundClosest closest to the name asked for, the
// count, and a link to the dashboard, so that it stays small (about
// 20 KB) and quick however many routes there are.
const (
	MaxNotFoundRows    = 50
	MaxNotFoundClosest = 10
)

// NotFoundRoutes picks the routes a 404 page for host lists, as indices in
// names: every one when there are at most MaxNotFoundRows, else the
// MaxNotFoundClosest closest (see Closest), closest first. suggestion is
// the index of the name to suggest, or -1.
func NotFoundRoutes(host string, names []string) (list []int, suggestion int) {
	if len(names) > MaxNotFoundRows {
		list = Closest(host, names, MaxNotFoundClosest)
		if len(list) == 0 {
			return []int{}, -1
		}
		return list, list[0]
	}
	list = make([]int, len(names))
	for i := range list {
		list[i] = i
	}
	return list, Suggest(host, names)
}

// filterThreshold: the dashboard shows its filter box above this many routes.
const filterThreshold = 8

//go:embed templates/*.html
var templateFS embed.FS

var (
	dashboardTmpl = parsePage("dashboard.html")
	notFoundTmpl  = parsePage("notfound.html")
	appDownTmpl   = parsePage("appdown.html")
	loopTmpl      = parsePage("loop.html")
)

// parsePage parses the layout and one page into a template set of its own
// (each page defines "main" and "script").
func parsePage(name string) *template.Template {
	t := template.New(name).Funcs(funcs)
	for _, file := range []string{"templates/layout.html", "templates/" + name} {
		src, err := templateFS.ReadFile(file)
		if err != nil {
			panic(err)
		}
		template.Must(t.Parse(squeeze(string(src))))
	}
	return t
}

// squeeze drops the indentation and blank lines inside <style> and
// <script> elements, which a page with many routes would otherwise carry
// for nothing. Line breaks stay, so the script's meaning does not change.
func squeeze(src string) string {
	var b strings.Builder
	inCode := false
	for line := range strings.Lines(src) {
		trimmed := strings.TrimLeft(line, " \t")
		if inCode {
			if strings.TrimSpace(trimmed) == "" {
				continue
			}
			line = trimmed
		}
		if strings.Contains(line, "<style>") || strings.Contains(line, "<script>") {
			inCode = true
		}
		if strings.Contains(line, "</style>") || strings.Contains(line, "</script>") {
			inCode = false
		}
		b.WriteString(line)
	}
	return b.String()
}

var funcs = template.FuncMap{
	"source":  sourceLabel,
	"ago":     agoSince,
	"unixms":  func(t time.Time) int64 { return t.UnixMilli() },
	"plural":  plural,
	"statcls": statusClass,
	"link":    isLink,
}

// isLink reports whether u may be a link: only http and https URLs are
// (html/template would neutralise others, but a dead "#ZgotmplZ" link is
// no better than none).
func isLink(u string) bool {
	l := strings.ToLower(u)
	return strings.HasPrefix(l, "http://") || strings.HasPrefix(l, "https://")
}

// WantsHTML reports whether the request prefers HTML: its Accept header
// names text/html (or application/xhtml+xml) with a non-zero quality, as
// browsers' navigation requests do. curl's "*/*" and "application/json"
// get the text or JSON forms.
func WantsHTML(r *http.Request) bool {
	return Accepts(r, "text/html", "application/xhtml+xml")
}

// Accepts reports whether the request's Accept header names one of the
// media types exactly (no wildcards: "*/*" is what curl sends by default,
// not a preference) with a non-zero quality ("q=0" means "not this").
// Media types compare without regard to case; malformed entries count as
// absent.
func Accepts(r *http.Request, types ...string) bool {
	for _, v := range r.Header.Values("Accept") {
		for part := range strings.SplitSeq(v, ",") {
			mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
			if err != nil || !slices.Contains(types, mt) {
				continue
			}
			if q, ok := params["q"]; ok {
				if f, err := strconv.ParseFloat(q, 64); err != nil || !(f > 0) {
					continue
				}
			}
			return true
		}
	}
	return false
}

// render executes t into a buffer first, so that a template error never
// leaves half a page on w.
func render(w io.Writer, t *template.Template, data any) error {
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", data); err != nil {
		return err
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// dashboardView is what dashboard.html sees.
type dashboardView struct {
	Dashboard
	Rows   []routes.Info // at most MaxDashboardRows
	More   int           // routes not rendered
	Up     int           // routes whose port answered
	Filter bool          // show the filter box
	Howto  howto
}

// howto is the "three ways to add a route" block.
type howto struct {
	Name   string // the name used in the examples, before the domain
	Domain string
	Dir    string // the route folder used in the example
	HasDir bool   // Dir is configured (otherwise the example says how to add it)
}

func newHowto(name, domain string, dirs []string) howto {
	h := howto{Name: name, Domain: domain, Dir: "~/.config/localdev/routes"}
	if h.Name == "" {
		h.Name = "app"
	}
	if h.Domain == "" {
		h.Domain = "localhost"
	}
	if len(dirs) > 0 && dirs[0] != "" {
		h.HasDir = true
		h.Dir = strings.TrimRight(dirs[0], "/")
		if h.Dir == "" {
			h.Dir = "/"
		}
	}
	return h
}

// RenderDashboard writes the index host's HTML page.
func RenderDashboard(w io.Writer, d Dashboard) error {
	v := dashboardView{Dashboard: d, Rows: d.Routes, Filter: len(d.Routes) > filterThreshold}
	if len(v.Rows) > MaxDashboardRows {
		v.Rows, v.More = v.Rows[:MaxDashboardRows], len(v.Rows)-MaxDashboardRows
	}
	for _, r := range d.Routes {
		if r.Up {
			v.Up++
		}
	}
	v.Howto = newHowto("", d.Domain, d.Dirs)
	return render(w, dashboardTmpl, v)
}

// RenderDashboardText writes the route list as plain text, one route a line.
func RenderDashboardText(w io.Writer, d Dashboard) error {
	var b strings.Builder
	if len(d.Routes) == 0 {
		b.WriteString("localdev: no routes yet\n")
		writeHowtoText(&b, newHowto("", d.Domain, d.Dirs))
	} else {
		fmt.Fprintf(&b, "localdev: %s, %d up\n", plural(len(d.Routes), "route", "routes"), countUp(d.Routes))
		writeRoutesText(&b, d.Routes)
	}
	return writeString(w, b.String())
}

// notFoundView is what notfound.html sees.
type notFoundView struct {
	NotFound
	Listed bool // Routes != nil: the route list, suggestion and folders may be shown
	Howto  howto
}

// RenderNotFound writes the HTML page for a host with no route. With
// d.Routes == nil it says nothing about routes, suggestions or folders.
func RenderNotFound(w io.Writer, d NotFound) error {
	v := notFoundView{NotFound: d, Listed: d.Routes != nil}
	if !v.Listed {
		v.Suggestion, v.Dirs, v.Count = nil, nil, 0
	}
	v.Count = max(v.Count, len(v.Routes))
	v.Howto = newHowto(labelPart(d.Host, d.Domain), d.Domain, v.Dirs)
	return render(w, notFoundTmpl, v)
}

// RenderNotFoundText writes the plain-text form of the 404 page.
func RenderNotFoundText(w io.Writer, d NotFound) error {
	var b strings.Builder
	fmt.Fprintf(&b, "localdev: no app named %s\n", clean(d.Host))
	if d.Routes != nil {
		if s := d.Suggestion; s != nil {
			fmt.Fprintf(&b, "did you mean %s?", clean(s.Name))
			if s.URL != "" {
				b.WriteString(" " + clean(s.URL))
			}
			b.WriteString("\n")
		}
		count := max(d.Count, len(d.Routes))
		if count > len(d.Routes) {
			if len(d.Routes) > 0 {
				b.WriteString("closest routes:\n")
				writeRoutesText(&b, d.Routes)
			}
			fmt.Fprintf(&b, "%s in all", plural(count, "route", "routes"))
			if d.Dashboard != "" {
				b.WriteString(": see them all at " + clean(d.Dashboard))
			}
			b.WriteString("\n")
		} else if len(d.Routes) > 0 {
			b.WriteString("routes:\n")
			writeRoutesText(&b, d.Routes)
		} else {
			b.WriteString("no routes yet\n")
			writeHowtoText(&b, newHowto(labelPart(d.Host, d.Domain), d.Domain, d.Dirs))
		}
	}
	return writeString(w, b.String())
}

// appDownView is what appdown.html sees.
type appDownView struct {
	AppDown
	Waited   string   // "" when it did not wait
	ListenOn []string // addresses the app may listen on: 127.0.0.1 and ::1, or the one the target names
	TLS      bool     // target starts with https://
	Socket   string   // socket path for a unix target
}

// RenderAppDown writes the 502 page. It reloads itself once the app answers.
func RenderAppDown(w io.Writer, d AppDown) error {
	v := appDownView{AppDown: d, ListenOn: listenOn(d.Target)}
	if d.Waited > 0 {
		v.Waited = durationString(d.Waited)
	}
	t := strings.TrimPrefix(d.Target, "https://")
	v.TLS = t != d.Target
	if s, ok := strings.CutPrefix(t, "unix/"); ok {
		v.Socket = s
	}
	return render(w, appDownTmpl, v)
}

// RenderAppDownText writes the plain-text form of the 502 page.
func RenderAppDownText(w io.Writer, d AppDown) error {
	var b strings.Builder
	fmt.Fprintf(&b, "localdev: %s is down: nothing answers on %s", clean(d.Name), clean(d.Target))
	var notes []string
	if d.Error != "" {
		notes = append(notes, clean(d.Error))
	}
	if d.Waited > 0 {
		notes = append(notes, "waited "+durationString(d.Waited))
	}
	if len(notes) > 0 {
		b.WriteString(" (" + strings.Join(notes, ", ") + ")")
	}
	b.WriteString("\n")
	if d.Port != "" {
		fmt.Fprintf(&b, "start the app on port %s, then retry\n", clean(d.Port))
	} else {
		b.WriteString("start the app, then retry\n")
	}
	return writeString(w, b.String())
}

// loopView is what loop.html sees.
type loopView struct {
	Loop
	Chain []string // the routes the request went through, ending with Name; nil for a route to Caddy itself
}

// RenderLoop writes the 508 page.
func RenderLoop(w io.Writer, d Loop) error {
	v := loopView{Loop: d}
	if len(d.Via) > 1 || len(d.Via) == 1 && d.Via[0] != d.Name {
		v.Chain = append(append(v.Chain, d.Via...), d.Name)
	}
	return render(w, loopTmpl, v)
}

// RenderLoopText writes the plain-text form of the 508 page.
func RenderLoopText(w io.Writer, d Loop) error {
	if len(d.Via) > 1 || len(d.Via) == 1 && d.Via[0] != d.Name {
		chain := make([]string, 0, len(d.Via)+1)
		for _, v := range d.Via {
			chain = append(chain, clean(v))
		}
		chain = append(chain, clean(d.Name))
		return writeString(w, fmt.Sprintf(
			"localdev: loop: the request went %s, back to a route it had passed\n"+
				"an app behind one of these routes forwards to the next; stop the forwarding that leads back\n",
			strings.Join(chain, " -> ")))
	}
	return writeString(w, fmt.Sprintf(
		"localdev: %s points back at this server (%s is its own listener), so proxying would loop\n"+
			"point the route at your app's own port\n",
		clean(d.Name), clean(d.Target)))
}

func writeString(w io.Writer, s string) error {
	_, err := io.WriteString(w, s)
	return err
}

func writeRoutesText(b *strings.Builder, routes []routes.Info) {
	width := 0
	for _, r := range routes {
		width = max(width, len(clean(r.Name)))
	}
	width = min(width, 40)
	for _, r := range routes {
		fmt.Fprintf(b, "  %-*s -> %s", width, clean(r.Name), clean(r.Target))
		switch {
		case r.Unchecked:
			b.WriteString("  (not checked yet)")
		case !r.Up:
			b.WriteString("  (down)")
		}
		b.WriteString("\n")
	}
}

func writeHowtoText(b *strings.Builder, h howto) {
	b.WriteString("add one:\n")
	fmt.Fprintf(b, "  Caddyfile:   localdev { %s 5173 }\n", clean(h.Name))
	fmt.Fprintf(b, "  folder:      echo 5173 > %s/%s", clean(h.Dir), clean(h.Name))
	if !h.HasDir {
		fmt.Fprintf(b, "  (with `dir %s` in the localdev block)", clean(h.Dir))
	}
	b.WriteString("\n")
	fmt.Fprintf(b, "  command:     caddy localdev run %s -- npm run dev\n", clean(h.Name))
}

func countUp(routes []routes.Info) int {
	n := 0
	for _, r := range routes {
		if r.Up {
			n++
		}
	}
	return n
}

// clean replaces control characters so that text output cannot move a
// terminal's cursor or forge extra lines.
func clean(s string) string {
	if strings.IndexFunc(s, unicode.IsControl) < 0 {
		return s
	}
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return '?'
		}
		return r
	}, s)
}

// labelPart returns host without ".domain", or "" when host is not under
// domain (the examples then use a neutral name).
func labelPart(host, domain string) string {
	if domain == "" {
		domain = "localhost"
	}
	p, ok := strings.CutSuffix(host, "."+domain)
	if !ok || p == "" || strings.ContainsAny(p, "*/ ") {
		return ""
	}
	return p
}

// listenOn says which addresses the app may listen on for target.
func listenOn(target string) []string {
	t := strings.TrimPrefix(target, "https://")
	if strings.HasPrefix(t, "unix/") {
		return nil
	}
	host, _, err := net.SplitHostPort(t)
	if err != nil || host == "" || host == "localhost" {
		return []string{"127.0.0.1", "::1"}
	}
	return []string{host}
}

func sourceLabel(s string) string {
	switch s {
	case "config":
		return "configuration"
	case "dir":
		return "folder"
	case "api":
		return "API"
	}
	return s
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

func statusClass(code int) string {
	if code < 100 || code > 599 {
		return "s0"
	}
	return "s" + strconv.Itoa(code/100)
}

// durationString formats how long a request was held.
func durationString(d time.Duration) string {
	switch {
	case d < time.Second:
		return strconv.FormatInt(d.Milliseconds(), 10) + " ms"
	case d < time.Minute:
		s := d.Round(100 * time.Millisecond).Seconds()
		return strconv.FormatFloat(s, 'f', -1, 64) + " s"
	default:
		return d.Round(time.Second).String()
	}
}

func agoSince(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return ago(time.Since(t))
}

// ago formats an age the way the page's script does.
func ago(d time.Duration) string {
	s := int64(d.Round(time.Second) / time.Second)
	switch {
	case s < 5:
		return "just now"
	case s < 60:
		return strconv.FormatInt(s, 10) + "s ago"
	case s < 3600:
		return strconv.FormatInt(s/60, 10) + "m ago"
	case s < 48*3600:
		return strconv.FormatInt(s/3600, 10) + "h ago"
	}
	return strconv.FormatInt(s/86400, 10) + "d ago"
}
