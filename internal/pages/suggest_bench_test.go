package pages

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// manyNames is a table of n route names as a big setup has them.
func manyNames(n int) []string {
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("app-%05d.localhost", i)
	}
	return names
}

// BenchmarkSuggest measures the suggestion search for 10,000 routes, for a
// short typo and for the longest host names a request can carry.
func BenchmarkSuggest(b *testing.B) {
	names := manyNames(10000)
	long := strings.Repeat("a", 243) + ".localhost"
	b.Run("worst", func(b *testing.B) {
		// 10,000 long names, each close to a long Host: the work cap.
		rng := rand.New(rand.NewPCG(5, 6))
		host := strings.Repeat("ab", 121) + ".localhost"
		long := make([]string, 10000)
		for i := range long {
			n := []byte(host)
			for range 60 {
				n[rng.IntN(242)] = "abc"[rng.IntN(3)]
			}
			long[i] = string(n)
		}
		b.ReportAllocs()
		for b.Loop() {
			Closest(host, long, 10)
		}
	})
	for _, tc := range []struct{ name, host string }{
		{"typo", "app-0042.localhost"},
		{"far", "billing.localhost"},
		{"long", long},
		{"long-labels", strings.Repeat("abcdefghi.", 24) + "localhost"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Suggest(tc.host, names)
			}
		})
	}
}
