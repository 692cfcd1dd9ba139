package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/coder/websocket"

	"github.com/localdev/localdev/internal/loopback"
)

// row is one thing measured: the app itself or a Caddy in front of it.
type row struct {
	name  string
	addr  string // where the load goes
	host  string // the Host header it sends
	admin string // the Caddy's admin endpoint, for profiles
	cmd   *exec.Cmd
}

func build(out, pkg string) error {
	fmt.Fprintf(os.Stderr, "building %s\n", pkg)
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	return cmd.Run()
}

func numCPU() int { return runtime.NumCPU() }

// app is the upstream: a tiny HTTP server with a WebSocket echo.
type app struct {
	srv  *http.Server
	port int
}

// appConns counts the connections the app accepted: a proxy that reuses
// its connections to the app opens few.
var appConns atomic.Int64

func (a *app) Close() { _ = a.srv.Close() }

// startApp serves "/N" with N bytes for each of sizes, and a WebSocket
// echo at /ws.
func startApp(sizes []int) (*app, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	seen := map[int]bool{}
	for _, n := range append([]int{100}, sizes...) {
		if seen[n] {
			continue
		}
		seen[n] = true
		body := []byte(strings.Repeat("x", n))
		length := strconv.Itoa(n)
		mux.HandleFunc("/"+length, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			w.Header().Set("Content-Length", length)
			_, _ = w.Write(body)
		})
	}
	mux.HandleFunc("/ws", echoWebSocket)
	// The app also speaks HTTP/2 without TLS, so that the "direct" row of
	// the page-load table has something to compare with.
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	a := &app{srv: &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, Protocols: &protocols, ConnState: func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			appConns.Add(1)
		}
	}}, port: ln.Addr().(*net.TCPAddr).Port}
	go func() { _ = a.srv.Serve(ln) }()
	return a, nil
}

func echoWebSocket(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer c.CloseNow()
	for {
		typ, msg, err := c.Read(r.Context())
		if err != nil {
			return
		}
		if err := c.Write(r.Context(), typ, msg); err != nil {
			return
		}
	}
}

// startRows starts the Caddy processes, one per row.
func startRows(dir, stockBin, oursBin string, appPort int) ([]*row, error) {
	app := "127.0.0.1:" + strconv.Itoa(appPort)
	rows := []*row{{name: rowDirect, addr: app, host: "app.localhost"}}
	stock := map[string]any{"handler": "reverse_proxy", "upstreams": []any{map[string]any{"dial": app}}}
	tuned := map[string]any{"handler": "reverse_proxy", "upstreams": []any{map[string]any{"dial": app}},
		"transport": caddyconfig.JSONModuleObject(loopback.Transport(), "protocol", "http", nil)}
	specs := []struct {
		name, bin string
		handler   map[string]any
	}{
		{rowStock, stockBin, stock},
		{rowAA, stockBin, stock},
		{rowStockTuned, stockBin, tuned},
		{rowOne, oursBin, map[string]any{"handler": "localdev", "routes": manyRoutes(appPort, 0)}},
		{rowMany, oursBin, map[string]any{"handler": "localdev", "routes": manyRoutes(appPort, 10000)}},
	}
	for i, s := range specs {
		r, err := startCaddy(dir, i, s.name, s.bin, s.handler)
		if err != nil {
			stopRows(rows)
			return nil, err
		}
		rows = append(rows, r)
	}
	return rows, nil
}

// manyRoutes is "app" plus n other routes.
func manyRoutes(appPort, n int) map[string]string {
	routes := map[string]string{"app": strconv.Itoa(appPort)}
	for i := 0; i < n; i++ {
		routes[fmt.Sprintf("r%d", i)] = strconv.Itoa(20000 + i)
	}
	return routes
}

func startCaddy(dir string, i int, name, bin string, handler map[string]any) (*row, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	adminPort, err := freePort()
	if err != nil {
		return nil, err
	}
	admin := "127.0.0.1:" + strconv.Itoa(adminPort)
	cfg := map[string]any{
		"admin":   map[string]any{"listen": admin},
		"logging": map[string]any{"logs": map[string]any{"default": map[string]any{"level": "ERROR"}}},
		"apps": map[string]any{"http": map[string]any{"servers": map[string]any{"bench": map[string]any{
			"listen":          []string{addr},
			"protocols":       []string{"h1", "h2", "h2c"},
			"automatic_https": map[string]any{"disable": true},
			"routes":          []any{map[string]any{"handle": []any{handler}}},
		}}}},
	}
	raw, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	file := filepath.Join(dir, fmt.Sprintf("config%d.json", i))
	if err := os.WriteFile(file, raw, 0o600); err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "run", "--config", file)
	cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_DATA_HOME="+dir, "XDG_CONFIG_HOME="+dir)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	r := &row{name: name, addr: addr, host: "app.localhost", admin: admin, cmd: cmd}
	return r, waitUp(r)
}

func waitUp(r *row) error {
	client := newClient(1)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if err := get(client, r, 100); err == nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("%s did not come up on %s", r.name, r.addr)
}

func stopRows(rows []*row) {
	for _, r := range rows {
		if r.cmd != nil && r.cmd.Process != nil {
			_ = r.cmd.Process.Kill()
			_ = r.cmd.Wait()
		}
	}
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// cpuTime is the process's user+system CPU time so far (Linux only).
func cpuTime(r *row) (time.Duration, bool) {
	if r.cmd == nil {
		return 0, false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", r.cmd.Process.Pid))
	if err != nil {
		return 0, false
	}
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(fields) < 13 {
		return 0, false
	}
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	const ticks = 100 // USER_HZ on Linux
	return time.Duration(utime+stime) * time.Second / ticks, true
}

// heapCounts are the Go runtime's running totals of heap allocations.
type heapCounts struct {
	Mallocs    uint64
	TotalAlloc uint64
}

// memStats reads a Caddy's allocation totals from its admin endpoint's
// /debug/vars. They count, unlike time, exactly: the one figure here
// that noise on the machine does not move.
func memStats(r *row) (heapCounts, bool) {
	if r.admin == "" {
		return heapCounts{}, false
	}
	res, err := http.Get("http://" + r.admin + "/debug/vars")
	if err != nil {
		return heapCounts{}, false
	}
	defer res.Body.Close()
	var vars struct {
		MemStats heapCounts `json:"memstats"`
	}
	if res.StatusCode != http.StatusOK || json.NewDecoder(res.Body).Decode(&vars) != nil {
		return heapCounts{}, false
	}
	return vars.MemStats, true
}

// peakRSS is the process's peak resident memory in MiB (Linux only).
func peakRSS(r *row) (float64, bool) {
	if r.cmd == nil {
		return 0, false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", r.cmd.Process.Pid))
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb / 1024, true
		}
	}
	return 0, false
}

func dialWebSocket(ctx context.Context, r *row) (*websocket.Conn, error) {
	c, _, err := websocket.Dial(ctx, "ws://"+r.addr+"/ws", &websocket.DialOptions{Host: r.host})
	return c, err
}

// profiled are the rows profiles takes, and the name of each one's file.
var profiled = map[string]string{rowStock: "stock", rowStockTuned: "stock-loopback-transport", rowOne: "localdev"}

// profiles saves a CPU profile of stock Caddy, stock with the loopback
// transport and localdev (1 route), each taken while the same load runs
// against it: 50 HTTP/1.1 connections (NAME.pprof), then HTTP/2 page
// loads (NAME-pageload.pprof).
func profiles(dir string, rows []*row, d time.Duration, page int) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	type profileLoad struct {
		suffix string
		sh     shape
	}
	loads := []profileLoad{{"", shape{conns: 50}}}
	if page > 0 {
		loads = append(loads, profileLoad{"-pageload", shape{page: page}})
	}
	for _, l := range loads {
		for _, r := range rows {
			name := profiled[r.name]
			if name == "" {
				continue
			}
			file := filepath.Join(dir, name+l.suffix+".pprof")
			fmt.Fprintf(os.Stderr, "profiling %s for %s under %s -> %s\n", r.name, d, l.sh, file)
			done := make(chan error, 1)
			go func() { done <- saveProfile(r, d, file) }()
			load(r, d+time.Second, l.sh, 100)
			if err := <-done; err != nil {
				return fmt.Errorf("%s: %v", r.name, err)
			}
		}
	}
	return nil
}

func saveProfile(r *row, d time.Duration, file string) error {
	client := &http.Client{Timeout: d + 30*time.Second}
	res, err := client.Get(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", r.admin, int(d.Seconds())))
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("profile: %s", res.Status)
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, res.Body); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}
