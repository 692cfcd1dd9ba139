// Package adminclient is a small client for localdev's part of Caddy's
// admin API, for the `caddy localdev` commands: every call has a context
// and a timeout, so that a hung admin endpoint cannot hang a command, and
// every failure is a typed error that callers tell apart with errors.As.
package adminclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/localdev/localdev/internal/routes"
)

// DefaultTimeout bounds one call when the caller's context has no deadline.
const DefaultTimeout = 10 * time.Second

// maxAnswer bounds what is read of one answer.
const maxAnswer = 64 << 20

// Client talks to one admin endpoint.
type Client struct {
	// Address is the admin address as Caddy writes it: "localhost:2019",
	// "unix//run/caddy-admin.sock", …
	Address string
	// Timeout bounds each call whose context has no deadline; default
	// DefaultTimeout.
	Timeout time.Duration

	http   *http.Client
	origin string
	local  bool // a Unix socket or file descriptor: no Origin header
	err    error
}

// New returns a client for the admin endpoint at address. An address that
// cannot be parsed is reported by the first call.
func New(address string) *Client {
	c := &Client{Address: address}
	addr, err := caddy.ParseNetworkAddress(address)
	if err == nil && addr.PortRangeSize() > 1 {
		err = errors.New("a port range is not an admin address")
	}
	if err != nil {
		c.err = fmt.Errorf("admin address %q: %v", address, err)
		return c
	}
	network, dial := addr.Network, addr.JoinHostPort(0)
	c.origin = "http://" + dial
	c.local = addr.IsUnixNetwork() || addr.IsFdNetwork()
	if addr.IsUnixNetwork() {
		// the optional "|0660" after a socket path is its mode, not its name
		path, _, _ := strings.Cut(addr.Host, "|")
		dial = path
		c.origin = "http://127.0.0.1" // any host: the request goes to the socket
	}
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	c.http = &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return dialer.DialContext(ctx, network, dial)
		},
		DisableKeepAlives: true,
	}}
	return c
}

// APIError is an answer of the admin API with a status other than 2xx.
type APIError struct {
	Status  int    // HTTP status
	Message string // the answer's "error", or its body
}

func (e *APIError) Error() string {
	return fmt.Sprintf("%s (HTTP %d)", e.Message, e.Status)
}

// UnreachableError is a call that got no answer: nothing listens at the
// address, or it did not answer in time.
type UnreachableError struct {
	Address string
	Err     error
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("cannot reach Caddy's admin API at %s: is Caddy running? (%v)", e.Address, e.Err)
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// StatusOf returns the HTTP status of an *APIError in err's chain, or 0.
func StatusOf(err error) int {
	var e *APIError
	if errors.As(err, &e) {
		return e.Status
	}
	return 0
}

// Do sends one request: in (if not nil) as its JSON body, and the JSON of
// a 2xx answer decoded into out (if not nil). Headers are added as given.
func (c *Client) Do(ctx context.Context, method, path string, header http.Header, in, out any) error {
	_, err := c.do(ctx, method, path, header, in, out)
	return err
}

// do is Do that also returns the answer's status.
func (c *Client) do(ctx context.Context, method, path string, header http.Header, in, out any) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cmpOr(c.Timeout, DefaultTimeout))
		defer cancel()
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return 0, err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.origin+path, body)
	if err != nil {
		return 0, fmt.Errorf("admin request %s %s: %v", method, path, err)
	}
	if !c.local {
		// Caddy checks the Origin of TCP requests only; on a socket it
		// refuses one that is not among its own listen addresses.
		req.Header.Set("Origin", c.origin)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, &UnreachableError{Address: c.Address, Err: err}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return resp.StatusCode, &UnreachableError{Address: c.Address, Err: fmt.Errorf("reading the answer: %w", err)}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, &APIError{Status: resp.StatusCode, Message: message(data)}
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		return resp.StatusCode, nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return resp.StatusCode, fmt.Errorf("unexpected answer of Caddy's admin API at %s to %s %s: %v", c.Address, method, path, err)
	}
	return resp.StatusCode, nil
}

// Routes returns every route of the running Caddy.
func (c *Client) Routes(ctx context.Context) ([]routes.Info, error) {
	var list []routes.Info
	err := c.Do(ctx, http.MethodGet, "/localdev/routes", nil, nil, &list)
	return list, notLoaded(err)
}

// Domains returns the domains of the running Caddy's localdev handlers.
func (c *Client) Domains(ctx context.Context) ([]string, error) {
	var list []string
	err := c.Do(ctx, http.MethodGet, "/localdev/domains", nil, nil, &list)
	return list, notLoaded(err)
}

// PutOptions say how PutRoute treats a name that has a route already.
type PutOptions struct {
	// Replace takes over an API route of the same name; without it, a
	// name that has a route is a 409 APIError.
	Replace bool
	// Owner is a token that DeleteRoute's condition can name.
	Owner string
}

// PutRoute adds or replaces the API route name -> target and reports
// whether it was new.
func (c *Client) PutRoute(ctx context.Context, name, target string, opts PutOptions) (routes.Info, bool, error) {
	header := make(http.Header)
	if !opts.Replace {
		header.Set("If-None-Match", "*")
	}
	in := struct {
		Target string `json:"target"`
		Owner  string `json:"owner,omitempty"`
	}{target, opts.Owner}
	var info routes.Info
	status, err := c.do(ctx, http.MethodPut, routePath(name), header, in, &info)
	return info, status == http.StatusCreated, notLoaded(err)
}

// DeleteConditions limit DeleteRoute to a route that is still as put.
type DeleteConditions struct {
	Target string // only while it points here
	Owner  string // only while this owner holds it
}

// DeleteRoute removes the API route name.
func (c *Client) DeleteRoute(ctx context.Context, name string, cond DeleteConditions) error {
	q := url.Values{}
	if cond.Target != "" {
		q.Set("target", cond.Target)
	}
	if cond.Owner != "" {
		q.Set("owner", cond.Owner)
	}
	path := routePath(name)
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	return c.Do(ctx, http.MethodDelete, path, nil, nil, nil)
}

// routePath is the admin API path of a route name.
func routePath(name string) string {
	return "/localdev/routes/" + url.PathEscape(name)
}

// notLoaded explains a 404 from the route paths themselves.
func notLoaded(err error) error {
	var e *APIError
	if errors.As(err, &e) && e.Status == http.StatusNotFound && strings.Contains(e.Message, "page not found") {
		return fmt.Errorf("%w: is this Caddy built with the localdev module?", err)
	}
	return err
}

// message returns the "error" of a JSON error answer, or the answer.
func message(body []byte) string {
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil && e.Error != "" {
		return e.Error
	}
	s := strings.TrimSpace(string(body))
	if len(s) > 1000 {
		s = s[:1000] + "…"
	}
	if s == "" {
		return "no message"
	}
	return s
}

func cmpOr(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}
