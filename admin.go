package localdev

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/localdev/localdev/internal/routes"
)

func init() {
	caddy.RegisterModule(Admin{})
}

// apiDomain is the domain that API route names are placed under.
const apiDomain = routes.DefaultDomain

// Admin serves live routes on Caddy's admin endpoint:
// GET /localdev/routes, PUT and DELETE /localdev/routes/<name>.
// Routes added here take effect at once, survive reloads, and end with
// the process.
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
	return nil
}

// Routes returns the admin routes.
func (a *Admin) Routes() []caddy.AdminRoute {
	return []caddy.AdminRoute{
		{Pattern: "/localdev/routes", Handler: caddy.AdminHandlerFunc(a.serveList)},
		{Pattern: "/localdev/routes/", Handler: caddy.AdminHandlerFunc(a.serveRoute)},
	}
}

func (a *Admin) serveList(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodGet {
		return apiError(http.StatusMethodNotAllowed, fmt.Errorf("method %s not allowed: use GET", r.Method))
	}
	checker.Watch(healthWait)
	sites := servingSites()
	list := table.Routes()
	infos := make([]routeInfo, 0, len(list))
	for _, route := range list {
		infos = append(infos, describeRoute(route, sites.originOf(route.Name), false))
	}
	return writeJSON(w, http.StatusOK, infos)
}

func (a *Admin) serveRoute(w http.ResponseWriter, r *http.Request) error {
	name, err := routes.NormalizeName(strings.TrimPrefix(r.URL.Path, "/localdev/routes/"), apiDomain)
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
		return writeJSON(w, http.StatusOK, describeRoute(route, servingSites().originOf(name), false))
	}
	return apiError(http.StatusMethodNotAllowed, fmt.Errorf("method %s not allowed: use GET, PUT or DELETE", r.Method))
}

// put adds or replaces an API route. With If-None-Match: * it adds only,
// so that one `caddy localdev run` never takes over another's name.
func (a *Admin) put(w http.ResponseWriter, r *http.Request, name string) error {
	target, err := readTarget(r.Body)
	if err != nil {
		return apiError(http.StatusBadRequest, err)
	}
	t, err := routes.ParseTarget(target)
	if err != nil {
		return apiError(http.StatusBadRequest, err)
	}
	route := routes.NewRoute(name, t, routes.SourceAPI, "")
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
	return writeJSON(w, status, describeRoute(route, servingSites().originOf(name), false))
}

func (a *Admin) delete(w http.ResponseWriter, r *http.Request, name string) error {
	old, err := table.Delete(name, routes.SourceAPI, r.URL.Query().Get("target"))
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
	switch {
	case errors.Is(err, routes.ErrConfigured):
		return fmt.Errorf("%v: change the Caddyfile or JSON configuration instead", err)
	case errors.Is(err, routes.ErrClaimed) && strings.Contains(err.Error(), "dir route"):
		return fmt.Errorf("%v: delete or edit the file instead", err)
	}
	return err
}

// readTarget reads {"target": "62893"} or {"target": 62893}.
func readTarget(body io.Reader) (string, error) {
	var req struct {
		Target json.RawMessage `json:"target"`
	}
	dec := json.NewDecoder(io.LimitReader(body, 64<<10))
	if err := dec.Decode(&req); err != nil {
		return "", fmt.Errorf(`body must be JSON such as {"target": "62893"}: %v`, err)
	}
	if len(req.Target) == 0 {
		return "", errors.New(`body needs a "target", such as {"target": "62893"}`)
	}
	var s string
	if err := json.Unmarshal(req.Target, &s); err == nil {
		return s, nil
	}
	var n json.Number
	if err := json.Unmarshal(req.Target, &n); err == nil {
		if _, err := strconv.Atoi(n.String()); err == nil {
			return n.String(), nil
		}
		return "", fmt.Errorf("target %s is not a whole port number", n)
	}
	return "", fmt.Errorf("target %s must be a string or a port number", req.Target)
}

func apiError(status int, err error) error {
	return caddy.APIError{HTTPStatus: status, Err: err, Message: err.Error()}
}

// Interface guards.
var (
	_ caddy.AdminRouter = (*Admin)(nil)
	_ caddy.Provisioner = (*Admin)(nil)
)
