package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/coder/websocket"
)

// summary is a row's median over rounds.
type summary struct {
	rps      float64
	p50, p99 time.Duration
	cpuPerOp time.Duration
	rssMiB   float64
	failed   int
}

func summarize(r *row, samples []sample) summary {
	var s summary
	rps := make([]float64, len(samples))
	var p50, p99, cpu []time.Duration
	for i, x := range samples {
		rps[i] = x.rps
		p50 = append(p50, x.p50)
		p99 = append(p99, x.p99)
		cpu = append(cpu, x.cpuPerOp)
		s.failed += x.failed
	}
	s.rps, s.p50, s.p99, s.cpuPerOp = median(rps), median(p50), median(p99), median(cpu)
	s.rssMiB, _ = peakRSS(r)
	return s
}

func median[T int64 | float64 | time.Duration](xs []T) T {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

func report(w io.Writer, rows []*row, results map[*row][]sample) {
	sums := make(map[string]summary)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "row\treq/s\tp50\tp99\tCPU/req\tpeak RSS\tfailed\t")
	for _, r := range rows {
		s := summarize(r, results[r])
		sums[r.name] = s
		cpu, rss := "-", "-"
		if s.cpuPerOp > 0 {
			cpu = fmt.Sprintf("%.1fµs", float64(s.cpuPerOp.Nanoseconds())/1e3)
		}
		if s.rssMiB > 0 {
			rss = fmt.Sprintf("%.0f MiB", s.rssMiB)
		}
		fmt.Fprintf(tw, "%s\t%.0f\t%s\t%s\t%s\t%s\t%d\t\n", r.name, s.rps, ms(s.p50), ms(s.p99), cpu, rss, s.failed)
	}
	_ = tw.Flush()
	stock, aa, one, many, direct := sums["stock"], sums["stock (A/A)"], sums["localdev 1 route"], sums["localdev 10k routes"], sums["direct"]
	fmt.Fprintln(w)
	fmt.Fprintln(w, "ratios (medians over rounds)        throughput  p99     CPU/req")
	ratio(w, "A/A control: stock again / stock", aa, stock)
	ratio(w, "localdev 1 route / stock", one, stock)
	ratio(w, "localdev 10k routes / stock", many, stock)
	ratio(w, "localdev 10k / localdev 1", many, one)
	fmt.Fprintf(w, "  %-34s %.3f\n", "localdev 1 route / direct", one.rps/direct.rps)
	fmt.Fprintln(w, "targets: throughput >= 0.97x stock, p99 <= 1.05x stock, 10k within 3% of 1,")
	fmt.Fprintln(w, "each judged against the A/A control's spread on this machine.")
}

func ratio(w io.Writer, label string, a, b summary) {
	cpu := "-"
	if a.cpuPerOp > 0 && b.cpuPerOp > 0 {
		cpu = fmt.Sprintf("%.3f", float64(a.cpuPerOp)/float64(b.cpuPerOp))
	}
	fmt.Fprintf(w, "  %-34s %.3f       %.3f   %s\n", label, a.rps/b.rps, float64(a.p99)/float64(b.p99), cpu)
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d.Microseconds())/1000) }

// websocketReport measures sequential WebSocket round trips through stock
// Caddy and through localdev.
func websocketReport(w io.Writer, rows []*row, trips int) error {
	fmt.Fprintf(w, "\nWebSocket round trips (%d, sequential)      p50       p99\n", trips)
	for _, r := range rows {
		if r.name != "stock" && r.name != "localdev 1 route" && r.name != "direct" {
			continue
		}
		p50, p99, err := websocketTrips(r, trips)
		if err != nil {
			return fmt.Errorf("%s: %v", r.name, err)
		}
		fmt.Fprintf(w, "  %-40s %s  %s\n", r.name, ms(p50), ms(p99))
	}
	return nil
}

func websocketTrips(r *row, trips int) (p50, p99 time.Duration, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := dialWebSocket(ctx, r)
	if err != nil {
		return 0, 0, err
	}
	defer c.CloseNow()
	lat := make([]time.Duration, 0, trips)
	msg := []byte("ping")
	for i := 0; i < trips; i++ {
		t := time.Now()
		if err := c.Write(ctx, websocket.MessageText, msg); err != nil {
			return 0, 0, err
		}
		if _, _, err := c.Read(ctx); err != nil {
			return 0, 0, err
		}
		lat = append(lat, time.Since(t))
	}
	slices.Sort(lat)
	return percentile(lat, 0.5), percentile(lat, 0.99), nil
}
