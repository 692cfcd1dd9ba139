package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/coder/websocket"
)

// Row names; the report compares rows by name.
const (
	rowDirect     = "direct"
	rowStock      = "stock"
	rowAA         = "stock (A/A)"
	rowStockTuned = "stock + loopback transport"
	rowOne        = "localdev 1 route"
	rowMany       = "localdev 10k routes"
)

// summary is a row's median over rounds.
type summary struct {
	rps      float64
	p50, p99 time.Duration
	cpuPerOp time.Duration
	allocs   float64
	bytes    float64
	dials    float64
	failed   int
}

func summarize(samples []sample) summary {
	var s summary
	var rps []float64
	var p50, p99, cpu []time.Duration
	var dials, allocs, bytes []float64
	for _, x := range samples {
		dials = append(dials, x.dials)
		allocs = append(allocs, x.allocs)
		bytes = append(bytes, x.bytes)
		rps = append(rps, x.rps)
		p50 = append(p50, x.p50)
		p99 = append(p99, x.p99)
		cpu = append(cpu, x.cpuPerOp)
		s.failed += x.failed
	}
	s.rps, s.p50, s.p99, s.cpuPerOp, s.dials = median(rps), median(p50), median(p99), median(cpu), median(dials)
	s.allocs, s.bytes = median(allocs), median(bytes)
	return s
}

func median[T int64 | float64 | time.Duration](xs []T) T {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 0 {
		return (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return s[len(s)/2]
}

// metric picks one figure of a sample; higher says whether more is better.
type metric struct {
	name   string
	of     func(sample) float64
	higher bool
}

var metrics = []metric{
	{"throughput", func(s sample) float64 { return s.rps }, true},
	{"p99", func(s sample) float64 { return float64(s.p99) }, false},
	{"CPU/req", func(s sample) float64 { return float64(s.cpuPerOp) }, false},
	{"allocs/req", func(s sample) float64 { return s.allocs }, false},
}

// ratios returns a's figure over b's, round by round.
func ratios(m metric, a, b []sample) []float64 {
	var out []float64
	for i := range min(len(a), len(b)) {
		if x, y := m.of(a[i]), m.of(b[i]); x > 0 && y > 0 {
			out = append(out, x/y)
		}
	}
	return out
}

func report(w io.Writer, rows []*row, results map[*row][]sample) {
	byName := make(map[string][]sample)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "row\treq/s\tp50\tp99\tCPU/req\tallocs/req\tKiB/req\tapp dials/1k req\tfailed\t")
	for _, r := range rows {
		byName[r.name] = results[r]
		s := summarize(results[r])
		cpu := "-"
		if s.cpuPerOp > 0 {
			cpu = fmt.Sprintf("%.1fµs", float64(s.cpuPerOp.Nanoseconds())/1e3)
		}
		allocs, kib := "-", "-"
		if s.allocs > 0 {
			allocs, kib = fmt.Sprintf("%.1f", s.allocs), fmt.Sprintf("%.1f", s.bytes/1024)
		}
		fmt.Fprintf(tw, "%s\t%.0f\t%s\t%s\t%s\t%s\t%s\t%.1f\t%d\t\n", r.name, s.rps, ms(s.p50), ms(s.p99), cpu, allocs, kib, s.dials, s.failed)
	}
	_ = tw.Flush()

	stock := byName[rowStock]
	fmt.Fprintln(w, "ratio to stock: median of per-round ratios; [A/A control's range over the rounds, made symmetric around 1]; =, + or - : within, better or worse than that range")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprint(tw, "\t")
	for _, m := range metrics {
		fmt.Fprintf(tw, "%s\t", m.name)
	}
	fmt.Fprintln(tw)
	aaRange := make(map[string][2]float64)
	for _, m := range metrics {
		rs := ratios(m, byName[rowAA], stock)
		if len(rs) > 0 {
			aaRange[m.name] = spread(rs)
		}
	}
	for _, name := range []string{rowAA, rowStockTuned, rowOne, rowMany} {
		fmt.Fprintf(tw, "  %s\t", name)
		for _, m := range metrics {
			rs := ratios(m, byName[name], stock)
			if len(rs) == 0 {
				fmt.Fprint(tw, "-\t")
				continue
			}
			med := median(rs)
			span := aaRange[m.name]
			if name == rowAA {
				fmt.Fprintf(tw, "%.3f [%.3f–%.3f]\t", med, span[0], span[1])
				continue
			}
			fmt.Fprintf(tw, "%.3f %s\t", med, verdict(med, span, m.higher))
		}
		fmt.Fprintln(tw)
	}
	fmt.Fprintf(tw, "  %s\t", "localdev 10k / 1 route")
	for _, m := range metrics {
		if rs := ratios(m, byName[rowMany], byName[rowOne]); len(rs) > 0 {
			fmt.Fprintf(tw, "%.3f\t", median(rs))
		} else {
			fmt.Fprint(tw, "-\t")
		}
	}
	fmt.Fprintln(tw)
	_ = tw.Flush()
}

// spread is the A/A control's range of ratios, made symmetric around 1:
// stock against itself is as likely to come out 5% slow as 5% fast, so a
// round that happened to fall one way widens the range both ways, and
// 1.000 (no difference) is always inside it.
func spread(ratios []float64) [2]float64 {
	lo, hi := slices.Min(ratios), slices.Max(ratios)
	return [2]float64{min(lo, 1/hi, 1), max(hi, 1/lo, 1)}
}

// verdict compares a ratio with the A/A control's range.
func verdict(r float64, span [2]float64, higherBetter bool) string {
	// compare as printed, so that "1.000 [1.000–1.000]" reads as within
	r, span = round3(r), [2]float64{round3(span[0]), round3(span[1])}
	switch {
	case r >= span[0] && r <= span[1]:
		return "="
	case (r > span[1]) == higherBetter:
		return "+"
	default:
		return "-"
	}
}

func round3(x float64) float64 { return math.Round(x*1000) / 1000 }

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d.Microseconds())/1000) }

// websocketReport measures sequential WebSocket round trips through each
// proxy, over one connection per proxy, in alternating rounds as the
// tables are, and compares each round's median with stock's.
func websocketReport(w io.Writer, rows []*row, trips, rounds int) error {
	var measured []*row
	for _, r := range rows {
		if r.name != rowMany {
			measured = append(measured, r)
		}
	}
	all := make(map[*row][]time.Duration)
	p50s := make(map[string][]float64) // per round
	per := max(trips/rounds, 1)
	for round := range rounds {
		for i := range measured {
			r := measured[(i+round)%len(measured)]
			got, err := websocketTrips(r, per)
			if err != nil {
				return fmt.Errorf("%s: %v", r.name, err)
			}
			all[r] = append(all[r], got...)
			slices.Sort(got)
			p50s[r.name] = append(p50s[r.name], float64(percentile(got, 0.5)))
		}
	}
	perRound := func(a, b []float64) []float64 {
		var out []float64
		for i := range min(len(a), len(b)) {
			if a[i] > 0 && b[i] > 0 {
				out = append(out, a[i]/b[i])
			}
		}
		return out
	}
	stock := p50s[rowStock]
	aa := perRound(p50s[rowAA], stock)
	fmt.Fprintf(w, "\nWebSocket round trips (%d per proxy, sequential, %d rounds)\n", per*rounds, rounds)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  row\tp50\tp99\tp50 to stock\t")
	for _, r := range measured {
		lat := all[r]
		slices.Sort(lat)
		ratio := "-"
		if rs := perRound(p50s[r.name], stock); r.name != rowDirect && r.name != rowStock && len(rs) > 0 && len(aa) > 0 {
			span := spread(aa)
			if r.name == rowAA {
				ratio = fmt.Sprintf("%.3f [%.3f–%.3f]", median(rs), span[0], span[1])
			} else {
				ratio = fmt.Sprintf("%.3f %s", median(rs), verdict(median(rs), span, false))
			}
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t\n", r.name, ms(percentile(lat, 0.5)), ms(percentile(lat, 0.99)), ratio)
	}
	return tw.Flush()
}

func websocketTrips(r *row, trips int) ([]time.Duration, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := dialWebSocket(ctx, r)
	if err != nil {
		return nil, err
	}
	defer c.CloseNow()
	lat := make([]time.Duration, 0, trips)
	msg := []byte("ping")
	for range trips {
		t := time.Now()
		if err := c.Write(ctx, websocket.MessageText, msg); err != nil {
			return nil, err
		}
		if _, _, err := c.Read(ctx); err != nil {
			return nil, err
		}
		lat = append(lat, time.Since(t))
	}
	return lat, nil
}

// rssReport prints each Caddy's peak resident memory over the whole run.
func rssReport(w io.Writer, rows []*row) {
	fmt.Fprintln(w, "\npeak RSS over the run")
	for _, r := range rows {
		if mib, ok := peakRSS(r); ok {
			fmt.Fprintf(w, "  %-28s %4.0f MiB\n", r.name, mib)
		}
	}
}
