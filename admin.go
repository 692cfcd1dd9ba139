package localdev

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/localdev/localdev/internal/routes"
)

func init() {
	caddy.RegisterModule(Admin{})
}

// maxAPIBody bounds a request body of the admin API.
const maxAPIBody = 64 << 10

// Admin serves live routes on Caddy's admin endpoint:
// GET /localdev/routes, GET, PUT and DELETE /localdev/routes/<name>, and
// GET /localdev/domains. Routes added here take effect at once, survive
// reloads, and end with the process.
type Admin struct {
	logger *zap.Logger
}

// CaddyModule returns the Caddy module information.
func (Admin) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "admin.api.localdev",
		New: func() caddy.Module { return new(Admin) },
	}
}

// Provision sets up the module.
func (a *Admin) Provision(ctx caddy.Context) error {
	a.logger = ctx.Logger()
	if a.logger.Name() == "" {
		// Admin modules are provisioned outside any module's context:
		// name the logger, so that route changes through the API can be
		// found by logger name like those from the configuration.
		a.logger = a.logger.Named("admin.api.localdev")
	}
	return nil
}

// Routes returns the admin routes.
func (a *Admin) Routes() []caddy.AdminRoute {
	return []caddy.AdminRoute{
		{Pattern: "/localdev/routes", Handler: caddy.AdminHandlerFunc(a.serveList)},
		{Pattern: "/localdev/routes/", Handler: caddy.AdminHandlerFunc(a.serveRoute)},
		{Pattern: "/localdev/domains", Handler: caddy.AdminHandlerFunc(a.serveDomains)},
	}
}

func (a *Admin) serveList(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodGet {
		return apiError(http.StatusMethodNotAllowed, fmt.Errorf("method %s not allowed: use GET", r.Method))
	}
	checker.Watch(healthWait)
	sites := servingSites()
	list := table.Routes()
	infos := make([]routes.Info, 0, len(list))
	for _, route := range list {
		infos = append(infos, route.Describe(sites.originOf(route.Name).url, false))
	}
	return writeJSON(w, http.StatusOK, infos)
}

// serveDomains lists the domains of the loaded localdev handlers, sorted:
// where short names go (one domain), or that names must be full (several).
func (a *Admin) serveDomains(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodGet {
		return apiError(http.StatusMethodNotAllowed, fmt.Errorf("method %s not allowed: use GET", r.Method))
	}
	return writeJSON(w, http.StatusOK, loaded.domains())
}

func (a *Admin) serveRoute(w http.ResponseWriter, r *http.Request) error {
	name, err := placeName(strings.TrimPrefix(r.URL.Path, "/localdev/routes/"), loaded.domains())
	if err != nil {
		return apiError(http.StatusBadRequest, err)
	}
	switch r.Method {
	case http.MethodPut:
		return a.put(w, r, name)
	case http.MethodDelete:
		return a.delete(w, r, name)
	case http.MethodGet:
		checker.Watch(healthWait)
		route := table.Get(name)
		if route == nil {
			return apiError(http.StatusNotFound, fmt.Errorf("no route %s", name))
		}
		return writeJSON(w, http.StatusOK, route.Describe(servingSites().originOf(name).url, false))
	}
	return apiError(http.StatusMethodNotAllowed, fmt.Errorf("method %s not allowed: use GET, PUT or DELETE", r.Method))
}

// placeName gives an API route name its full form: a name under one of
// domains stays; a short name goes under the one domain, or is an error
// when there are several (the caller must say which) or none. No domain's
// index host or *.<domain> may be routed, whichever handler it belongs to.
func placeName(name string, domains []string) (string, error) {
	if len(domains) == 0 {
		return "", fmt.Errorf("route name %q: no localdev handler is loaded, so no domain serves it", name)
	}
	full, err := underLoadedDomain(name, domains)
	if err != nil {
		return "", err
	}
	for _, d := range domains {
		if full == d || full == "*."+d {
			return "", fmt.Errorf("route name %q is %w: %s is a localdev domain, whose index host shows the dashboard", name, routes.ErrReserved, d)
		}
	}
	return full, nil
}

// underLoadedDomain finds the domain that name is already under, or
// places a short name under the only domain.
func underLoadedDomain(name string, domains []string) (string, error) {
	labels := strings.Count(strings.TrimSuffix(name, "."), ".")
	for _, d := range domains {
		full, err := routes.NormalizeName(name, d)
		if errors.Is(err, routes.ErrReserved) {
			return "", err
		}
		if err == nil && strings.Count(full, ".") == labels {
			return full, nil // already under d: nothing was added
		}
	}
	if len(domains) > 1 {
		return "", fmt.Errorf("route name %q is not under a domain localdev serves; with several domains (%s) write the full name",
			name, strings.Join(domains, ", "))
	}
	return routes.NormalizeName(name, domains[0])
}

// routeRequest is the body of PUT /localdev/routes/<name>.
type routeRequest struct {
	// Target is the route's target: a string, or a port as a number.
	Target json.RawMessage `json:"target"`
	// Owner is an optional token that a conditional DELETE can name.
	Owner string `json:"owner"`
}

// put adds or replaces an API route. With If-None-Match: * it adds only,
// so that one `caddy localdev run` never takes over another's name.
func (a *Admin) put(w http.ResponseWriter, r *http.Request, name string) error {
	var req routeRequest
	if err := decodeStrict(r.Body, &req, "target", "owner"); err != nil {
		return apiError(http.StatusBadRequest, err)
	}
	target, err := readTarget(req.Target)
	if err != nil {
		return apiError(http.StatusBadRequest, err)
	}
	t, err := routes.ParseTarget(target)
	if err != nil {
		return apiError(http.StatusBadRequest, err)
	}
	route := routes.NewRoute(name, t, routes.SourceAPI, "")
	route.Owner = req.Owner
	created, err := table.Put(route, r.Header.Get("If-None-Match") != "*")
	if err != nil {
		return apiError(http.StatusConflict, conflictHint(err))
	}
	a.logger.Info("route", zap.String("name", name), zap.String("target", t.Raw), zap.String("source", string(routes.SourceAPI)))
	checker.Check(r.Context(), route)
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	return writeJSON(w, status, route.Describe(servingSites().originOf(name).url, false))
}

// delete removes an API route; ?target= and ?owner= make it conditional.
func (a *Admin) delete(w http.ResponseWriter, r *http.Request, name string) error {
	q := r.URL.Query()
	old, err := table.Delete(name, routes.SourceAPI, routes.Condition{Target: q.Get("target"), Owner: q.Get("owner")})
	switch {
	case errors.Is(err, routes.ErrNotFound):
		return apiError(http.StatusNotFound, err)
	case err != nil:
		return apiError(http.StatusConflict, conflictHint(err))
	}
	a.logger.Info("route removed", zap.String("name", name), zap.String("target", old.Target.Raw), zap.String("source", string(routes.SourceAPI)))
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// conflictHint says what to do instead.
func conflictHint(err error) error {
	var c *routes.ConflictError
	if !errors.As(err, &c) {
		return err
	}
	switch {
	case errors.Is(c.Reason, routes.ErrConfigured):
		return fmt.Errorf("%w: change the Caddyfile or JSON configuration instead", err)
	case c.Holder != nil && c.Holder.Source == routes.SourceDir && !errors.Is(c.Reason, routes.ErrMoved):
		return fmt.Errorf("%w: delete or edit the file instead", err)
	}
	return err
}

// decodeStrict reads one JSON object into v: the known keys only, spelt
// exactly (encoding/json would take "Target" for "target"), each at most
// once, and nothing after the object.
func decodeStrict(body io.Reader, v any, known ...string) error {
	const example = `{"target": "62893"}`
	data, err := io.ReadAll(io.LimitReader(body, maxAPIBody+1))
	if err != nil {
		return fmt.Errorf("reading the body: %v", err)
	}
	if len(data) > maxAPIBody {
		return fmt.Errorf("body is larger than %d bytes", maxAPIBody)
	}
	if err := checkKeys(data, known); err != nil {
		return fmt.Errorf("body must be one JSON object such as %s: %v", example, err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("body must be one JSON object such as %s: %v", example, err)
	}
	return nil
}

// checkKeys checks that data is exactly one JSON object whose keys are
// among known and appear once each.
func checkKeys(data []byte, known []string) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return fmt.Errorf("not an object")
	}
	var seen []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		key, _ := tok.(string)
		if !slices.Contains(known, key) {
			return fmt.Errorf("unknown field %q (known: %s)", key, strings.Join(known, ", "))
		}
		if slices.Contains(seen, key) {
			return fmt.Errorf("duplicate key %q", key)
		}
		seen = append(seen, key)
		var value json.RawMessage
		if err := dec.Decode(&value); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("data after the object")
	}
	return nil
}

// readTarget reads a target written as a JSON string or a port number.
func readTarget(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", errors.New(`body needs a "target", such as {"target": "62893"}`)
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, nil
	}
	var n json.Number
	if err := json.Unmarshal(raw, &n); err == nil {
		if _, err := strconv.Atoi(n.String()); err == nil {
			return n.String(), nil
		}
		return "", fmt.Errorf("target %s is not a whole port number", n)
	}
	return "", fmt.Errorf("target %s must be a string or a port number", raw)
}

func apiError(status int, err error) error {
	return caddy.APIError{HTTPStatus: status, Err: err, Message: err.Error()}
}

// Interface guards.
var (
	_ caddy.AdminRouter = (*Admin)(nil)
	_ caddy.Provisioner = (*Admin)(nil)
)
