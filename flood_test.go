//go:build linux

package localdev

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// TestPeersFlood sends 10,000 requests from a non-loopback peer in a
// network namespace: every one is refused, the app sees none, and memory
// stays flat (refusals keep no state), and the log has sampled refusal
// lines, not one per request.
func TestPeersFlood(t *testing.T) {
	n := setupNetns(t)
	var hits atomic.Int64
	// Only requests for app.localhost count: on a shared machine other
	// programs (a listener scan, another test run) may knock on the app's
	// loopback port directly, which is not what this test is about.
	appPort := startApp(t, "127.0.0.1:0", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.Host, "app.localhost") {
			hits.Add(1)
		}
	}))
	logFile := filepath.Join(t.TempDir(), "caddy.log")
	startCaddy(t, fmt.Sprintf("{%s\tlog {\n\t\toutput file %s\n\t}\n}\nhttp://*.localhost:"+httpP+", http://localhost:"+httpP+" {\n\tbind 127.0.0.1 %s\n\tlocaldev app %d\n}\n",
		globals, logFile, n.hostV4, appPort))
	client := n.client(n.hostV4)
	flood := func(count int) (refused, other int64) {
		var r, o atomic.Int64
		var wg sync.WaitGroup
		const workers = 8
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := w; i < count; i += workers {
					res, err := client.Get(httpURL("app.localhost", "/"))
					if err != nil {
						o.Add(1)
						continue
					}
					_, _ = io.Copy(io.Discard, res.Body)
					_ = res.Body.Close()
					if res.StatusCode == http.StatusForbidden {
						r.Add(1)
					} else {
						o.Add(1)
					}
				}
			}()
		}
		wg.Wait()
		return r.Load(), o.Load()
	}
	flood(1000) // warm up connections and pools before measuring
	before := heapInUse()
	refused, other := flood(10000)
	after := heapInUse()
	if refused != 10000 || other != 0 {
		t.Fatalf("%d refused, %d other answers or errors; want all 10000 refused", refused, other)
	}
	if hits.Load() != 0 {
		t.Fatalf("the app saw %d requests", hits.Load())
	}
	logged := countLines(t, logFile, "refused client")
	t.Logf("%d refusals logged for 11,000 refused requests", logged)
	if logged == 0 || logged > 1000 {
		t.Errorf("%d refusal log lines for 11,000 refusals: want some, sampled", logged)
	}
	growth := int64(after) - int64(before)
	t.Logf("heap in use before %d KiB, after %d KiB", before>>10, after>>10)
	if growth > 8<<20 {
		t.Errorf("heap grew by %d KiB over 10,000 refusals", growth>>10)
	}
	n.cleanup()
	n.verifyGone(t)
}

// countLines counts the lines of a file that contain sub.
func countLines(t *testing.T, file, sub string) int {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(b), sub)
}

func heapInUse() uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}
