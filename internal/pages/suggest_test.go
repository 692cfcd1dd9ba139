package pages

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// referenceDistance is the textbook optimal string alignment distance, the
// full table with no band and no early stop: what boundedDistance must
// agree with.
func referenceDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}

// referenceTrim is trimCommonLabels written plainly.
func referenceTrim(a, b string) (string, string) {
	la, lb := strings.Split(a, "."), strings.Split(b, ".")
	for len(la) > 0 && len(lb) > 0 && la[len(la)-1] == lb[len(lb)-1] {
		la, lb = la[:len(la)-1], lb[:len(lb)-1]
	}
	return strings.Join(la, "."), strings.Join(lb, ".")
}

// referenceClosest is Closest by brute force: every name, full distances,
// sorted.
func referenceClosest(host string, names []string, n int) []int {
	host = strings.ToLower(host)
	if len(host) > maxSuggestLen {
		return nil
	}
	var found []match
	for i, name := range names {
		if len(name) > maxSuggestLen || name == "" {
			continue
		}
		name = strings.ToLower(name)
		h := host
		if strings.HasPrefix(name, "*.") {
			dot := strings.IndexByte(h, '.')
			if dot < 0 {
				continue
			}
			h = "*." + h[dot+1:]
		}
		a, b := referenceTrim(h, name)
		if d := referenceDistance(a, b); d <= max(len(a), len(b))/2 {
			found = append(found, match{index: i, dist: d, length: len(name)})
		}
	}
	slices.SortFunc(found, func(x, y match) int {
		if x.before(y) {
			return -1
		}
		return 1
	})
	out := []int{}
	for _, m := range found[:min(n, len(found))] {
		out = append(out, m.index)
	}
	return out
}

func TestBoundedDistance(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	word := func() string {
		b := make([]byte, rng.IntN(12))
		for i := range b {
			b[i] = "abcd"[rng.IntN(4)]
		}
		return string(b)
	}
	var row []int
	for range 20000 {
		a, b := word(), word()
		want := referenceDistance(a, b)
		for k := range 14 {
			var got int
			got, _, row = boundedDistance(a, b, k, row)
			if w := min(want, k+1); got != w {
				t.Fatalf("boundedDistance(%q, %q, %d) = %d, want %d", a, b, k, got, w)
			}
		}
	}
}

func TestTrimCommonLabels(t *testing.T) {
	for _, tt := range [][2]string{
		{"ap.localhost", "app.localhost"}, {"a.b.c", "x.b.c"}, {"localhost", "app.localhost"},
		{"app.localhost", "app.localhost"}, {"", "."}, {"...", "*."}, {"a.b", "b"}, {"x.localhots", "x.localhost"},
	} {
		var p prefixSets
		p.init(tt[0])
		a, b := p.trimCommonLabels(tt[1])
		wa, wb := referenceTrim(tt[0], tt[1])
		if a != wa || b != wb {
			t.Errorf("trimCommonLabels(%q, %q) = %q, %q; want %q, %q", tt[0], tt[1], a, b, wa, wb)
		}
	}
}

func TestClosest(t *testing.T) {
	names := []string{"app.localhost", "api.localhost", "docs.localhost", "apps.localhost", "ap.localhost", "zzz.localhost"}
	got := Closest("apq.localhost", names, 3)
	want := []int{4, 0, 1} // ap (1, shortest), app (1), api (1): ties by length, then order
	if !slices.Equal(got, want) {
		t.Errorf("Closest = %v, want %v", got, want)
	}
	if got := Closest("apq.localhost", names, 0); len(got) != 0 {
		t.Errorf("Closest with n=0 = %v", got)
	}
	if got := Closest("nothing-like-it.localhost", names, 5); len(got) != 0 {
		t.Errorf("Closest for a far name = %v, want none", got)
	}
}

// TestClosestMatchesReference compares Closest with brute force on a large
// table of similar names.
func TestClosestMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	names := make([]string, 3000)
	for i := range names {
		names[i] = fmt.Sprintf("%s-%d.localhost", []string{"app", "api", "web", "docs", "admin"}[rng.IntN(5)], rng.IntN(500))
	}
	names[17] = "*.shop.localhost"
	for _, host := range []string{"app-42.localhost", "ap-4.localhost", "x.shpo.localhost", "dcos-1.localhost", "admni-300.localhost", "q.localhost"} {
		for _, n := range []int{1, 5, 20} {
			got, work := closest(host, names, n)
			if want := referenceClosest(host, names, n); !slices.Equal(got, want) {
				t.Errorf("Closest(%q, n=%d) = %v, want %v", host, n, got, want)
			}
			if work > maxSuggestWork/10 {
				t.Errorf("Closest(%q) did %d units of work, over a tenth of the cap %d", host, work, maxSuggestWork)
			}
		}
	}
}

// TestClosestWorkIsCapped: 10,000 long names built to be close to a long
// Host, the worst case for the edit distance, stay within the work cap.
func TestClosestWorkIsCapped(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	host := strings.Repeat("ab", 121) + ".localhost"
	names := make([]string, 10000)
	for i := range names {
		b := []byte(host)
		for range 60 {
			b[rng.IntN(242)] = "abc"[rng.IntN(3)]
		}
		names[i] = string(b)
	}
	_, work := closest(host, names, 10)
	t.Logf("%d units of work for 10,000 long names", work)
	if work > maxSuggestWork {
		t.Errorf("%d units of work, over the cap %d", work, maxSuggestWork)
	}
}

func TestBitDistance(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	word := func(n int) string {
		b := make([]byte, rng.IntN(n))
		for i := range b {
			b[i] = "abcd"[rng.IntN(4)]
		}
		return string(b)
	}
	var p pattern
	for range 10000 {
		a, b := word(65), word(80)
		p.set(a)
		if got, want := p.bitDistance(b), referenceDistance(a, b); got != want {
			t.Fatalf("bitDistance(%q, %q) = %d, want %d", a, b, got, want)
		}
	}
}
