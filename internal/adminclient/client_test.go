package adminclient

import (
	"context"
	"errors"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// serve answers on ln with h until the test ends. It stands in for
// Caddy's admin endpoint, whose real answers the root package's tests
// check; here only the transport matters.
func serve(t *testing.T, ln net.Listener, h http.HandlerFunc) {
	t.Helper()
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
}

func TestUnixSocket(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "admin.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Skipf("no Unix sockets here: %v", err)
	}
	serve(t, ln, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/localdev/domains" {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write([]byte(`["localhost"]`))
	})
	for _, addr := range []string{"unix/" + sock, "unix/" + sock + "|0600"} {
		got, err := New(addr).Domains(context.Background())
		if err != nil || len(got) != 1 || got[0] != "localhost" {
			t.Errorf("%s: Domains = %q, %v", addr, got, err)
		}
	}
	_, err = New("unix/" + sock).Routes(context.Background())
	if StatusOf(err) != http.StatusNotFound || !strings.Contains(err.Error(), "built with the localdev module") {
		t.Errorf("Routes from a Caddy without localdev: %v", err)
	}
}

// TestHungEndpoint: an admin endpoint that accepts and never answers
// costs a call its timeout, not forever.
func TestHungEndpoint(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close() // held open, never answered
		}
	}()
	c := New(ln.Addr().String())
	c.Timeout = 200 * time.Millisecond
	done := make(chan error, 1)
	go func() { _, err := c.Routes(context.Background()); done <- err }()
	select {
	case err := <-done:
		var u *UnreachableError
		if !errors.As(err, &u) || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err = %v, want an UnreachableError for the deadline", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the call did not return although its timeout passed long ago")
	}
}

func TestErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serve(t, ln, func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodPut:
			if r.Header.Get("Origin") == "" {
				t.Error("no Origin header: Caddy's admin endpoint may refuse the request")
			}
			w.WriteHeader(http.StatusConflict)
			_, _ = w.Write([]byte(`{"error":"app.localhost: the name already has a route"}`))
		case http.MethodDelete:
			w.WriteHeader(http.StatusTeapot)
			_, _ = w.Write([]byte("not json"))
		}
	})
	c := New(ln.Addr().String())
	_, _, err = c.PutRoute(context.Background(), "app", "3000", PutOptions{})
	var e *APIError
	if !errors.As(err, &e) || e.Status != http.StatusConflict || e.Message != "app.localhost: the name already has a route" {
		t.Errorf("PutRoute: %v", err)
	}
	if err := c.DeleteRoute(context.Background(), "app", DeleteConditions{}); StatusOf(err) != http.StatusTeapot || !strings.Contains(err.Error(), "not json") {
		t.Errorf("DeleteRoute: %v", err)
	}
	if _, err := New("localhost:1-9").Routes(context.Background()); err == nil || !strings.Contains(err.Error(), "port range") {
		t.Errorf("a port range: %v", err)
	}

	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := closed.Addr().String()
	_ = closed.Close()
	var u *UnreachableError
	if _, err := New(addr).Routes(context.Background()); !errors.As(err, &u) || !strings.Contains(err.Error(), "is Caddy running?") {
		t.Errorf("nothing listening: %v", err)
	}
}
