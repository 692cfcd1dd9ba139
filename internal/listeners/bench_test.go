package listeners

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"
)

// budget is what one scan may cost so that a dashboard polling every 2 s
// costs nothing noticeable.
const budget = 100 * time.Millisecond

// listenMany opens n listeners on 127.0.0.1, all served by one HTTP server.
func listenMany(b *testing.B, n int) {
	b.Helper()
	srv := &http.Server{Handler: page("bench"), ReadHeaderTimeout: 5 * time.Second}
	b.Cleanup(func() { _ = srv.Close() })
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Skipf("cannot open %d listeners: %v", n, err)
		}
		go func() { _ = srv.Serve(ln) }()
	}
}

// BenchmarkScan1000 is one scan (sockets and processes, no probes) with
// 1,000 listening sockets of this process; budget-ratio is its time over
// the 100 ms budget.
func BenchmarkScan1000(b *testing.B) {
	listenMany(b, 1000)
	ctx := context.Background()
	b.ResetTimer()
	start := time.Now()
	for b.Loop() {
		list, err := Scan(ctx, Options{})
		if err != nil {
			b.Fatal(err)
		}
		if len(list) < 1000 {
			b.Fatalf("scan found %d listeners, want at least 1000", len(list))
		}
	}
	b.ReportMetric(float64(time.Since(start))/float64(b.N)/float64(budget), "budget-ratio")
}

// BenchmarkScanProbe1000 is one scan with the HTTP and TLS probes of all
// 1,000 listeners, each of which answers HTTP with a page and a title.
func BenchmarkScanProbe1000(b *testing.B) {
	listenMany(b, 1000)
	ctx := context.Background()
	b.ResetTimer()
	start := time.Now()
	for b.Loop() {
		list, err := Scan(ctx, Options{})
		if err != nil {
			b.Fatal(err)
		}
		Probe(ctx, list, ProbeOptions{})
	}
	b.ReportMetric(float64(time.Since(start))/float64(b.N)/float64(budget), "budget-ratio")
}

// BenchmarkProbeHung1000 probes 1,000 listeners that accept and never
// answer: the probes run side by side, so the whole costs a few timeouts,
// not 1,000 of them. ratio-to-timeout is its time over ProbeTimeout.
func BenchmarkProbeHung1000(b *testing.B) {
	var list []Listener
	for range 1000 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Skipf("cannot open listeners: %v", err)
		}
		b.Cleanup(func() { _ = ln.Close() })
		list = append(list, Listener{Addr: loopback4, Port: ln.Addr().(*net.TCPAddr).Port, Scope: ScopeLoopback})
	}
	b.ResetTimer()
	start := time.Now()
	for b.Loop() {
		Probe(context.Background(), list, ProbeOptions{})
	}
	b.ReportMetric(float64(time.Since(start))/float64(b.N)/float64(ProbeTimeout), "ratio-to-timeout")
}
