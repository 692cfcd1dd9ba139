//go:build unix

package localdev

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"syscall"
	"testing"
	"time"
)

// cpuTime is the CPU time (user and system) this process has used.
func cpuTime(t testing.TB) time.Duration {
	t.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// cpuShare measures the share of a core the process uses over d. It first
// hands freed memory back to the system, so that the runtime's background
// scavenger (paced at about 1% of a core after the heap shrinks) does not
// count against what is measured.
func cpuShare(t testing.TB, d time.Duration) float64 {
	t.Helper()
	debug.FreeOSMemory()
	start, cpu := time.Now(), cpuTime(t)
	time.Sleep(d)
	used, elapsed := cpuTime(t)-cpu, time.Since(start)
	share := float64(used) / float64(elapsed)
	t.Logf("%s of CPU in %s: %.2f%% of a core", used.Round(time.Millisecond), elapsed.Round(time.Millisecond), 100*share)
	return share
}

// TestIdleFolder: a route folder of 10,000 files that nothing changes
// costs no CPU (it cost 32% of a core when it was read every 500 ms).
func TestIdleFolder(t *testing.T) {
	if testing.Short() {
		t.Skip("measures for three seconds")
	}
	dir := manyRouteFiles(t, 10000)
	startCaddy(t, liveSiteWithLog(filepath.Join(t.TempDir(), "caddy.log"), "localdev {\n\t\tdir "+dir+"\n\t}"))
	if table.Get("app-09999.localhost") == nil {
		t.Fatal("the folder's routes are not in the table")
	}
	checker.Stop() // earlier tests' looks: measure the folder alone
	time.Sleep(200 * time.Millisecond)
	if share := cpuShare(t, 3*time.Second); share > 0.01 {
		t.Errorf("an unchanged folder of 10,000 files costs %.2f%% of a core, want nothing (under 1%%)", 100*share)
	}
	// Still watched: a change applies within a second, reading the changed
	// file only (reading all 10,000 again cost 150 ms of CPU).
	app := startApp(t, "127.0.0.1:0", hello("late"))
	cpu := cpuTime(t)
	liveWrite(t, filepath.Join(dir, "late"), fmt.Sprintf("%d\n", app))
	liveWaitServes(t, testClient("127.0.0.1"), time.Second, "late.localhost", "late")
	t.Logf("one new file in the folder of 10,000: %s of CPU", (cpuTime(t) - cpu).Round(time.Millisecond))
	if err := os.Remove(filepath.Join(dir, "late")); err != nil { // the folder is shared
		t.Fatal(err)
	}
}

// TestIdleHealth: with 10,000 routes, the background health check that a
// dashboard read starts costs at most 2% of a core (it cost 20% for a
// minute after each read).
func TestIdleHealth(t *testing.T) {
	if testing.Short() {
		t.Skip("measures for three seconds")
	}
	dir := manyRouteFiles(t, 10000)
	startCaddy(t, liveSiteWithLog(filepath.Join(t.TempDir(), "caddy.log"), "localdev {\n\t\tdir "+dir+"\n\t}"))
	checker.Stop()
	if n := len(pagesDashboardJSON(t, testClient("127.0.0.1"))); n < 10000 {
		t.Fatalf("the dashboard lists %d routes", n)
	}
	time.Sleep(200 * time.Millisecond) // the read's own work done
	if share := cpuShare(t, 3*time.Second); share > 0.02 {
		t.Errorf("the background health check of 10,000 routes costs %.2f%% of a core, want at most 2%%", 100*share)
	}
	checker.Stop()
}
