// Command bench measures localdev against stock Caddy on this machine.
//
//	go run ./bench [-rounds 5] [-duration 3s] [-conns 16]
//
// It builds stock Caddy (standard modules) and Caddy with localdev, starts
// an app on loopback, and drives a closed-loop HTTP/1.1 load against: the
// app directly; stock reverse_proxy; stock again (the A/A control, since a
// binary measured against itself moves by several percent on a shared
// machine); localdev with 1 route; and localdev with 10,000 routes. Rounds
// alternate the rows so that noise hits every row alike. It prints the
// median over rounds of requests/s, p50, p99, CPU time per request and peak
// RSS, then the ratios, then WebSocket round trips through each proxy.
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"
)

func main() {
	rounds := flag.Int("rounds", 5, "alternating rounds")
	duration := flag.Duration("duration", 3*time.Second, "load per row per round")
	conns := flag.Int("conns", 16, "concurrent connections")
	wsTrips := flag.Int("ws", 2000, "WebSocket round trips per proxy")
	flag.Parse()
	if err := run(*rounds, *duration, *conns, *wsTrips); err != nil {
		log.Fatal(err)
	}
}

func run(rounds int, duration time.Duration, conns, wsTrips int) error {
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
	app, err := startApp()
	if err != nil {
		return err
	}
	defer app.Close()
	rows, err := startRows(dir, stockBin, oursBin, app.port)
	if err != nil {
		return err
	}
	defer stopRows(rows)
	fmt.Printf("localdev benchmark: %d rounds x %s per row, %d connections, GOMAXPROCS of each Caddy = all %d cores shared\n\n",
		rounds, duration, conns, numCPU())
	results := measure(rows, rounds, duration, conns)
	report(os.Stdout, rows, results)
	return websocketReport(os.Stdout, rows, wsTrips)
}
