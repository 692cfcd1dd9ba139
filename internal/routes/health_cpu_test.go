//go:build unix

package routes

import (
	"syscall"
	"testing"
	"time"
)

// cpuTime is the CPU time (user and system) the test process has used.
func cpuTime(t testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestCheckerCPU measures the background check of 10,000 routes over
// three seconds after one look: it must stay under 2% of a core (it was
// 20% when every look checked every route every 2 s). The process does
// nothing else meanwhile; the limit leaves room for a noisy machine.
func TestCheckerCPU(t *testing.T) {
	if testing.Short() {
		t.Skip("measures for three seconds")
	}
	up := route(t, "up", listen(t), SourceConfig)
	tb := downTable(t, 10000, up)
	c := &Checker{Table: tb}
	t.Cleanup(c.Stop)
	c.Show(tb.Routes()[:200])
	c.Watch(time.Second)
	start, cpu := time.Now(), cpuTime(t)
	time.Sleep(3 * time.Second)
	used, elapsed := cpuTime(t)-cpu, time.Since(start)
	share := float64(used) / float64(elapsed)
	t.Logf("background check of 10,000 routes: %s of CPU in %s (%.2f%% of a core)", used.Round(time.Millisecond), elapsed.Round(time.Millisecond), 100*share)
	if share > 0.02 {
		t.Errorf("the background check used %.2f%% of a core, want at most 2%%", 100*share)
	}
}
