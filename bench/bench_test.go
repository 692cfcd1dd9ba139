package main

import (
	"strconv"
	"testing"
	"time"
)

func TestVerdict(t *testing.T) {
	tests := []struct {
		r      float64
		span   [2]float64
		higher bool
		want   string
	}{
		{1.000, [2]float64{0.9, 1.1}, true, "="},
		{1.2, [2]float64{0.9, 1.1}, true, "+"},
		{0.8, [2]float64{0.9, 1.1}, true, "-"},
		{0.8, [2]float64{0.9, 1.1}, false, "+"},
		{1.2, [2]float64{0.9, 1.1}, false, "-"},
		// compared as printed: 0.9996 reads as 1.000, inside [1.000–1.000]
		{0.9996, [2]float64{1.0, 1.0001}, false, "="},
		{0.998, [2]float64{1.0, 1.0}, false, "+"},
		// with the A/A range made symmetric, equal to stock is never "better"
		{1.008, spread([]float64{0.900, 0.974}), true, "="},
		{1.0004, spread([]float64{1.0, 1.0}), false, "="},
	}
	for _, tt := range tests {
		if got := verdict(tt.r, tt.span, tt.higher); got != tt.want {
			t.Errorf("verdict(%v, %v, higher=%v) = %q, want %q", tt.r, tt.span, tt.higher, got, tt.want)
		}
	}
}

func TestSpread(t *testing.T) {
	tests := []struct {
		ratios []float64
		want   [2]float64
	}{
		{[]float64{1.0}, [2]float64{1, 1}},
		{[]float64{0.9, 1.05}, [2]float64{0.9, 1 / 0.9}},
		{[]float64{0.900, 0.974}, [2]float64{0.9, 1 / 0.9}}, // 1 is inside even when no round was
		{[]float64{1.02, 1.25}, [2]float64{1 / 1.25, 1.25}},
	}
	for _, tt := range tests {
		got := spread(tt.ratios)
		if round3(got[0]) != round3(tt.want[0]) || round3(got[1]) != round3(tt.want[1]) {
			t.Errorf("spread(%v) = %v, want %v", tt.ratios, got, tt.want)
		}
	}
}

func TestMedian(t *testing.T) {
	if got := median([]float64{3, 1, 2}); got != 2 {
		t.Errorf("median of 3 = %v, want 2", got)
	}
	if got := median([]time.Duration{4, 1, 3, 2}); got != 2 {
		t.Errorf("median of 4 = %v, want 2 (mean of the middle two, rounded down)", got)
	}
	if got := median([]float64(nil)); got != 0 {
		t.Errorf("median of none = %v, want 0", got)
	}
}

// TestLoadShapes drives both shapes of load against a real app for a
// moment: every request succeeds, and page loads share one HTTP/2
// connection however many requests each carries at once.
func TestLoadShapes(t *testing.T) {
	a, err := startApp([]int{100})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	r := &row{name: rowDirect, addr: "127.0.0.1:" + strconv.Itoa(a.port), host: "app.localhost"}
	for _, sh := range []shape{{conns: 4}, {page: 50}} {
		before := appConns.Load()
		s := load(r, 200*time.Millisecond, sh, 100)
		opened := appConns.Load() - before
		if s.failed != 0 || s.rps <= 0 || s.p99 < s.p50 {
			t.Errorf("%s: %d failed, %.0f req/s, p50 %v, p99 %v", sh, s.failed, s.rps, s.p50, s.p99)
		}
		if sh.page > 0 && opened != 1 {
			t.Errorf("%s: the app accepted %d connections, want 1", sh, opened)
		}
	}
}
