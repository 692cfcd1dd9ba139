package main

import (
	"context"
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
	dials    float64       // connections the app accepted per 1,000 requests
	failed   int
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

func get(client *http.Client, r *row, size int) error {
	req, err := http.NewRequest("GET", "http://"+r.addr+"/"+strconv.Itoa(size), nil)
	if err != nil {
		return err
	}
	req.Host = r.host
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
func measure(rows []*row, rounds int, duration time.Duration, conns, size int) map[*row][]sample {
	out := make(map[*row][]sample)
	for round := 0; round < rounds; round++ {
		for i := range rows {
			r := rows[(i+round)%len(rows)]
			out[r] = append(out[r], load(r, duration, conns, size))
		}
	}
	return out
}

// load drives a closed loop of conns workers against r for duration.
func load(r *row, duration time.Duration, conns, size int) sample {
	client := newClient(conns)
	defer client.CloseIdleConnections()
	warm(client, r, conns, size)
	cpuBefore, cpuOK := cpuTime(r)
	connsBefore := appConns.Load()
	ctx, cancel := context.WithTimeout(context.Background(), duration)
	defer cancel()
	var mu sync.Mutex
	var all []time.Duration
	failed := 0
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < conns; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lat, bad := worker(ctx, client, r, size)
			mu.Lock()
			all = append(all, lat...)
			failed += bad
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	s := sample{rps: float64(len(all)) / elapsed.Seconds(), failed: failed}
	if len(all) > 0 {
		s.dials = float64(appConns.Load()-connsBefore) * 1000 / float64(len(all))
	}
	if cpuAfter, ok := cpuTime(r); ok && cpuOK && len(all) > 0 {
		s.cpuPerOp = (cpuAfter - cpuBefore) / time.Duration(len(all))
	}
	slices.Sort(all)
	s.p50, s.p99 = percentile(all, 0.50), percentile(all, 0.99)
	return s
}

// warm opens the client's connections (conns requests at once) before
// the measured part.
func warm(client *http.Client, r *row, conns, size int) {
	var wg sync.WaitGroup
	for i := 0; i < conns; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = get(client, r, size)
		}()
	}
	wg.Wait()
}

func worker(ctx context.Context, client *http.Client, r *row, size int) (lat []time.Duration, failed int) {
	for ctx.Err() == nil {
		t := time.Now()
		if err := get(client, r, size); err != nil {
			if ctx.Err() == nil {
				failed++
			}
			continue
		}
		lat = append(lat, time.Since(t))
	}
	return lat, failed
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[int(float64(len(sorted)-1)*p)]
}
