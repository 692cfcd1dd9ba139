package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"
)

// sample is one row's figures in one round.
type sample struct {
	rps      float64
	p50, p99 time.Duration
	cpuPerOp time.Duration // 0 when unknown
	allocs   float64       // heap allocations per request in the proxy; 0 when unknown
	bytes    float64       // heap bytes allocated per request in the proxy
	dials    float64       // connections the app accepted per 1,000 requests
	failed   int
}

// shape is how the load reaches the proxy: conns HTTP/1.1 keep-alive
// connections each with one request at a time, or, when page is set, one
// HTTP/2 connection carrying page requests at once, again and again, as a
// browser loading a dev server's unbundled modules does.
type shape struct {
	conns int
	page  int
}

func (sh shape) String() string {
	if sh.page > 0 {
		return fmt.Sprintf("HTTP/2 page loads, %d requests at once on 1 connection", sh.page)
	}
	return fmt.Sprintf("%d connections", sh.conns)
}

func newClient(conns int) *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
			MaxIdleConns:        conns,
			MaxIdleConnsPerHost: conns,
			DisableCompression:  true,
		},
		Timeout: 10 * time.Second,
	}
}

// newH2Client speaks HTTP/2 without TLS (h2c, with prior knowledge) over
// one connection, as a browser speaks HTTP/2 to one origin.
func newH2Client() *http.Client {
	var protocols http.Protocols
	protocols.SetUnencryptedHTTP2(true)
	return &http.Client{
		Transport: &http.Transport{
			DialContext:        (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
			Protocols:          &protocols,
			DisableCompression: true,
		},
		Timeout: 10 * time.Second,
	}
}

func (sh shape) client() *http.Client {
	if sh.page > 0 {
		return newH2Client()
	}
	return newClient(sh.conns)
}

func get(client *http.Client, r *row, size int) error {
	req, err := http.NewRequest("GET", "http://"+r.addr+"/"+strconv.Itoa(size), nil)
	if err != nil {
		return err
	}
	req.Host = r.host
	// what a browser sends: the app may compress (this one does not), and
	// Go's transport in the proxy then asks for nothing on its own
	req.Header.Set("Accept-Encoding", "gzip, deflate, br, zstd")
	res, err := client.Do(req)
	if err != nil {
		return err
	}
	n, err := io.Copy(io.Discard, res.Body)
	_ = res.Body.Close()
	if err == nil && res.StatusCode != http.StatusOK {
		err = &statusError{res.StatusCode}
	}
	if err == nil && n != int64(size) {
		err = io.ErrUnexpectedEOF
	}
	return err
}

type statusError struct{ code int }

func (e *statusError) Error() string { return http.StatusText(e.code) }

// measure runs every row once per round, rotating the order each round.
func measure(rows []*row, rounds int, duration time.Duration, sh shape, size int) map[*row][]sample {
	out := make(map[*row][]sample)
	for round := 0; round < rounds; round++ {
		for i := range rows {
			r := rows[(i+round)%len(rows)]
			out[r] = append(out[r], load(r, duration, sh, size))
		}
	}
	return out
}

// load drives a closed loop of the given shape against r for duration.
func load(r *row, duration time.Duration, sh shape, size int) sample {
	client := sh.client()
	defer client.CloseIdleConnections()
	if sh.page > 0 {
		// one request first, so that the page loads share its connection
		// rather than each dialing one of their own
		_ = get(client, r, size)
	}
	warm(client, r, max(sh.conns, sh.page), size)
	memBefore, memOK := memStats(r) // outside the CPU time measured
	cpuBefore, cpuOK := cpuTime(r)
	connsBefore := appConns.Load()
	ctx, cancel := context.WithTimeout(context.Background(), duration)
	defer cancel()
	start := time.Now()
	var all []time.Duration
	var failed int
	if sh.page > 0 {
		all, failed = pageLoads(ctx, client, r, sh.page, size)
	} else {
		all, failed = workers(ctx, client, r, sh.conns, size)
	}
	elapsed := time.Since(start)
	s := sample{rps: float64(len(all)) / elapsed.Seconds(), failed: failed}
	if len(all) > 0 {
		s.dials = float64(appConns.Load()-connsBefore) * 1000 / float64(len(all))
	}
	if cpuAfter, ok := cpuTime(r); ok && cpuOK && len(all) > 0 {
		s.cpuPerOp = (cpuAfter - cpuBefore) / time.Duration(len(all))
	}
	if memAfter, ok := memStats(r); ok && memOK && len(all) > 0 {
		s.allocs = float64(memAfter.Mallocs-memBefore.Mallocs) / float64(len(all))
		s.bytes = float64(memAfter.TotalAlloc-memBefore.TotalAlloc) / float64(len(all))
	}
	slices.Sort(all)
	s.p50, s.p99 = percentile(all, 0.50), percentile(all, 0.99)
	return s
}

// warm makes n requests at once before the measured part, so that the
// client's connections, and the proxy's to the app, are open.
func warm(client *http.Client, r *row, n, size int) {
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() { _ = get(client, r, size) })
	}
	wg.Wait()
}

// workers runs conns closed-loop workers, each one request at a time,
// until ctx ends.
func workers(ctx context.Context, client *http.Client, r *row, conns, size int) (all []time.Duration, failed int) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range conns {
		wg.Go(func() {
			lat, bad := worker(ctx, client, r, size)
			mu.Lock()
			all = append(all, lat...)
			failed += bad
			mu.Unlock()
		})
	}
	wg.Wait()
	return all, failed
}

func worker(ctx context.Context, client *http.Client, r *row, size int) (lat []time.Duration, failed int) {
	for ctx.Err() == nil {
		t := time.Now()
		if err := get(client, r, size); err != nil {
			failed++ // requests are never cut short: every error is one
			continue
		}
		lat = append(lat, time.Since(t))
	}
	return lat, failed
}

// pageLoads sends page requests at once, waits for all of them, and
// starts again until ctx ends. The page load under way when ctx ends is
// finished and counted.
func pageLoads(ctx context.Context, client *http.Client, r *row, page, size int) (all []time.Duration, failed int) {
	lat := make([]time.Duration, page)
	errs := make([]error, page)
	for ctx.Err() == nil {
		var wg sync.WaitGroup
		for i := range page {
			wg.Go(func() {
				t := time.Now()
				errs[i] = get(client, r, size)
				lat[i] = time.Since(t)
			})
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				failed++
				continue
			}
			all = append(all, lat[i])
		}
	}
	return all, failed
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[int(float64(len(sorted)-1)*p)]
}
