// Command bench measures localdev against stock Caddy on this machine.
//
//	go run ./bench [-rounds 7] [-duration 2s] [-conns 1,16,50,200] [-sizes 100,65536] [-page 250] [-profile DIR]
//
// It builds stock Caddy (standard modules) and Caddy with localdev, starts
// an app on loopback, and drives a closed-loop load against: the app
// directly; stock reverse_proxy; stock again (the A/A control, since a
// binary measured against itself moves by several percent on a shared
// machine); stock given localdev's loopback transport settings (the fair
// comparison: what the transport alone is worth); localdev with 1 route;
// and localdev with 10,000 routes. The load is HTTP/1.1 keep-alive
// connections, one request at a time on each, and HTTP/2 page loads: one
// connection carrying 250 requests at once, again and again, as a browser
// loading a dev server's unbundled modules does. Each load and body size
// is its own table. Rounds alternate the rows so that noise hits every
// row alike. It prints the median over rounds of requests/s, p50, p99,
// CPU time and heap allocations per request (read from each process),
// and the connections the app accepted, then each row's ratios to stock
// as medians of per-round ratios, with the A/A control's range over the
// rounds next to them; then WebSocket round trips through each proxy.
// With -profile it also saves 10 s CPU profiles of stock, stock with the
// loopback transport and localdev under 50 connections and under page
// loads (100 B).
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

func main() {
	rounds := flag.Int("rounds", 7, "alternating rounds")
	duration := flag.Duration("duration", 2*time.Second, "load per row per round")
	conns := flag.String("conns", "1,16,50,200", "concurrent HTTP/1.1 connections, one table each")
	page := flag.Int("page", 250, "requests at once per HTTP/2 page load, one table per size (0: none)")
	sizes := flag.String("sizes", "100,65536", "response body sizes in bytes, one table each")
	wsTrips := flag.Int("ws", 2000, "WebSocket round trips per proxy, over all rounds")
	profile := flag.String("profile", "", "folder for CPU profiles of stock and localdev (none if empty)")
	flag.Parse()
	c, err := ints(*conns)
	if err != nil {
		log.Fatalf("-conns: %v", err)
	}
	s, err := ints(*sizes)
	if err != nil {
		log.Fatalf("-sizes: %v", err)
	}
	shapes := make([]shape, 0, len(c)+1)
	for _, n := range c {
		shapes = append(shapes, shape{conns: n})
	}
	if *page > 0 {
		shapes = append(shapes, shape{page: *page})
	}
	if err := run(*rounds, *duration, shapes, s, *wsTrips, *profile, *page); err != nil {
		log.Fatal(err)
	}
}

func ints(list string) ([]int, error) {
	var out []int
	for f := range strings.SplitSeq(list, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("%q is not a positive number", f)
		}
		out = append(out, n)
	}
	return out, nil
}

func run(rounds int, duration time.Duration, shapes []shape, sizes []int, wsTrips int, profile string, page int) error {
	dir, err := os.MkdirTemp("", "localdev-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	stockBin, oursBin := filepath.Join(dir, "caddy-stock"), filepath.Join(dir, "caddy-localdev")
	if err := build(stockBin, "./bench/stockcaddy"); err != nil {
		return err
	}
	if err := build(oursBin, "./cmd/caddy"); err != nil {
		return err
	}
	app, err := startApp(sizes)
	if err != nil {
		return err
	}
	defer app.Close()
	rows, err := startRows(dir, stockBin, oursBin, app.port)
	if err != nil {
		return err
	}
	defer stopRows(rows)
	fmt.Printf("localdev benchmark: %d rounds x %s per row, keep-alive, GOMAXPROCS of each Caddy = all %d cores shared with the load\n",
		rounds, duration, numCPU())
	for _, sh := range shapes {
		for _, size := range sizes {
			results := measure(rows, rounds, duration, sh, size)
			fmt.Printf("\n== %s, %s responses ==\n", sh, sizeName(size))
			report(os.Stdout, rows, results)
		}
	}
	if err := websocketReport(os.Stdout, rows, wsTrips, rounds); err != nil {
		return err
	}
	rssReport(os.Stdout, rows)
	if profile != "" {
		return profiles(profile, rows, 10*time.Second, page)
	}
	return nil
}

func sizeName(n int) string {
	if n >= 1024 && n%1024 == 0 {
		return fmt.Sprintf("%d KiB", n/1024)
	}
	return fmt.Sprintf("%d B", n)
}
