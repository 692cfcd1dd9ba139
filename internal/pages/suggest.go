package pages

import (
	"math/bits"
	"strings"
)

// maxSuggestLen bounds the work Suggest does per name: host names are at
// most 253 bytes, anything longer cannot be a typo of a route.
const maxSuggestLen = 255

// maxSuggestWork caps the edit-distance work of one search, so that a 404
// page costs at most a couple of milliseconds whatever the Host and
// however many and however long the route names. It counts word steps of
// bitDistance (about a nanosecond each) and, eight times as dear, table
// cells of boundedDistance (for the rare host part over 64 bytes). Names
// the budget does not reach are not suggested; ordinary names never reach
// it (a typo among 10,000 names costs under a tenth of it).
const maxSuggestWork = 1 << 20

// cellWork is what one cell of boundedDistance counts against
// maxSuggestWork.
const cellWork = 8

// Suggest returns the index in names of the name closest to host, or -1
// when none is reasonably close.
//
// Names are compared on the part before the labels they share at the end
// (the domain, and any parent name they have in common), with an edit
// distance that counts an insertion, deletion, substitution or swap of
// two neighbouring characters as one edit. A name is close enough when the
// distance is at most half the length of the longer of the two parts. Ties
// go to the shorter name, then to the earlier one. For a wildcard name
// ("*.shop.localhost") the first label of host stands in for the "*".
// Names equal to host are not special-cased: they are at distance 0.
func Suggest(host string, names []string) int {
	if c := Closest(host, names, 1); len(c) > 0 {
		return c[0]
	}
	return -1
}

// Closest returns the indices in names of at most n names close enough to
// host (as Suggest decides), closest first; Suggest's answer comes first.
//
// Its cost is bounded: a name whose length alone puts it too far is
// skipped without comparing, the comparison stops as soon as the name is
// further than the n-th best found so far, and the whole search stops
// after a fixed amount of work.
func Closest(host string, names []string, n int) []int {
	out, _ := closest(host, names, n)
	return out
}

// closest is Closest, also returning the work done (see maxSuggestWork).
func closest(host string, names []string, n int) (_ []int, work int) {
	host = strings.ToLower(host)
	if len(host) > maxSuggestLen || n <= 0 {
		return nil, 0
	}
	var (
		best []match
		row  []int
		pat  pattern
		// Character sets of host's prefixes (what trimCommonLabels leaves
		// of it), for host and for its wildcard form.
		plain, wild prefixSets
	)
	plain.init(host)
	for i, name := range names {
		if len(name) > maxSuggestLen || name == "" {
			continue
		}
		name = strings.ToLower(name)
		sets := &plain
		if strings.HasPrefix(name, "*.") {
			dot := strings.IndexByte(host, '.')
			if dot < 0 {
				continue
			}
			if wild.sets == nil {
				wild.init("*." + host[dot+1:])
			}
			sets = &wild
		}
		a, b := sets.trimCommonLabels(name)
		k := max(len(a), len(b)) / 2
		if len(best) == n {
			k = min(k, best[n-1].dist)
		}
		if abs(len(a)-len(b)) > k || charBound(sets.sets[len(a)], charSet(b)) > k {
			continue
		}
		var d int
		if len(a) <= 64 {
			if work+len(b) > maxSuggestWork {
				break
			}
			if pat.s != a || len(pat.s) == 0 {
				pat.set(a)
			}
			d = pat.bitDistance(b)
			work += len(b)
		} else {
			if work+cellWork*max(len(a), len(b))*(2*k+1) > maxSuggestWork {
				break
			}
			var cells int
			d, cells, row = boundedDistance(a, b, k, row)
			work += cellWork * cells
		}
		if d > k {
			continue
		}
		best = insertMatch(best, match{index: i, dist: d, length: len(name)}, n)
	}
	out := make([]int, len(best))
	for i, m := range best {
		out[i] = m.index
	}
	return out, work
}

// prefixSets holds, for every prefix of s, its character set and where its
// last dot is: what comparing s with many names needs again and again.
type prefixSets struct {
	s       string
	sets    []uint64 // sets[i] is charSet(s[:i])
	lastDot []int    // lastDot[i] is strings.LastIndexByte(s[:i], '.')
}

func (p *prefixSets) init(s string) {
	p.s = s
	p.sets = make([]uint64, len(s)+1)
	p.lastDot = make([]int, len(s)+1)
	p.lastDot[0] = -1
	for i := range len(s) {
		p.sets[i+1] = p.sets[i] | charBit(s[i])
		p.lastDot[i+1] = p.lastDot[i]
		if s[i] == '.' {
			p.lastDot[i+1] = i
		}
	}
}

// trimCommonLabels removes the whole dot-separated labels p.s and b end in
// alike: "ap.localhost", "app.localhost" → "ap", "app".
func (p *prefixSets) trimCommonLabels(b string) (string, string) {
	a := p.s
	for {
		ia, ib := p.lastDot[len(a)], strings.LastIndexByte(b, '.')
		if a[ia+1:] != b[ib+1:] {
			return a, b
		}
		if ia < 0 || ib < 0 {
			// One is a suffix label of the other, or they are equal.
			return a[:max(ia, 0)], b[:max(ib, 0)]
		}
		a, b = a[:ia], b[:ib]
	}
}

// charSet is the set of characters of s, folded into 64 bits: the letters,
// digits, '-', '.' and '*' each have a bit of their own, other bytes share.
func charSet(s string) uint64 {
	var set uint64
	for i := range len(s) {
		set |= charBit(s[i])
	}
	return set
}

func charBit(c byte) uint64 {
	switch {
	case 'a' <= c && c <= 'z':
		return 1 << (c - 'a')
	case '0' <= c && c <= '9':
		return 1 << (26 + c - '0')
	case c == '-':
		return 1 << 36
	case c == '.':
		return 1 << 37
	case c == '*':
		return 1 << 38
	}
	return 1 << (39 + c%25)
}

// charBound is a lower bound of the edit distance between two strings with
// character sets a and b: every character of one that the other lacks
// needs an edit of its own, and one substitution mends at most one on each
// side.
func charBound(a, b uint64) int {
	return max(bits.OnesCount64(a&^b), bits.OnesCount64(b&^a))
}

// match is a candidate of Closest.
type match struct {
	index, dist, length int
}

// before orders matches: closer, then shorter, then earlier.
func (m match) before(o match) bool {
	if m.dist != o.dist {
		return m.dist < o.dist
	}
	if m.length != o.length {
		return m.length < o.length
	}
	return m.index < o.index
}

// insertMatch puts m into the sorted list best, which holds at most n.
func insertMatch(best []match, m match, n int) []match {
	at := len(best)
	for at > 0 && m.before(best[at-1]) {
		at--
	}
	if at >= n {
		return best
	}
	if len(best) < n {
		best = append(best, match{})
	}
	copy(best[at+1:], best[at:])
	best[at] = m
	return best
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// boundedDistance is the optimal string alignment distance between a and
// b (Levenshtein plus adjacent transpositions, in bytes) when that is at
// most k, and k+1 otherwise. It fills only the cells within k of the diagonal and stops
// when two rows in a row exceed k, so its cost is about len(a)·(2k+1)
// cells at most; it returns the number of cells it filled. row is scratch
// space, returned for reuse.
func boundedDistance(a, b string, k int, row []int) (dist, cells int, _ []int) {
	if len(a) < len(b) {
		a, b = b, a
	}
	inf := k + 1
	if len(a)-len(b) > k {
		return inf, 0, row
	}
	n := len(b) + 1
	if cap(row) < 3*n {
		row = make([]int, 3*n)
	}
	row = row[:3*n]
	prev2, prev, cur := row[:n], row[n:2*n], row[2*n:]
	for j := range prev {
		prev[j] = min(j, inf)
		prev2[j] = inf
	}
	prevMin := 0
	for i := 1; i <= len(a); i++ {
		lo, hi := max(1, i-k), min(len(b), i+k)
		cur[lo-1] = inf
		if lo == 1 {
			cur[0] = min(i, inf)
		}
		rowMin := cur[lo-1]
		for j := lo; j <= hi; j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			v := min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost, inf)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				v = min(v, prev2[j-2]+1)
			}
			cur[j] = v
			rowMin = min(rowMin, v)
		}
		if hi+1 < n {
			cur[hi+1] = inf
		}
		cells += hi - lo + 1
		if rowMin > k && prevMin > k {
			// A swap reaches back two rows; past two rows over k, nothing
			// can come back under it.
			return inf, cells, row
		}
		prevMin = rowMin
		prev2, prev, cur = prev, cur, prev2
	}
	return min(prev[len(b)], inf), cells, row
}

// pattern is a string of at most 64 bytes prepared for bitDistance: for
// each byte, the positions where it occurs.
type pattern struct {
	s  string
	eq [256]uint64
}

func (p *pattern) set(s string) {
	for i := range len(p.s) {
		p.eq[p.s[i]] = 0
	}
	p.s = s
	for i := range len(s) {
		p.eq[s[i]] |= 1 << i
	}
}

// bitDistance is the optimal string alignment distance between p.s and t,
// computed a column of the table at a time in the bits of one word
// (Hyyrö's bit-vector form of Myers' algorithm, with transpositions):
// len(t) steps of a few word operations. len(p.s) must be at most 64.
func (p *pattern) bitDistance(t string) int {
	m := len(p.s)
	if m == 0 {
		return len(t)
	}
	top := uint64(1) << (m - 1)
	pv, mv := ^uint64(0), uint64(0)
	var d0, pmPrev uint64
	score := m
	for i := range len(t) {
		pm := p.eq[t[i]]
		tr := ((^d0 & pm) << 1) & pmPrev
		d0 = (((pm & pv) + pv) ^ pv) | pm | mv | tr
		hp := mv | ^(d0 | pv)
		hn := d0 & pv
		if hp&top != 0 {
			score++
		} else if hn&top != 0 {
			score--
		}
		hp = hp<<1 | 1
		hn <<= 1
		pv = hn | ^(d0 | hp)
		mv = hp & d0
		pmPrev = pm
	}
	return score
}
