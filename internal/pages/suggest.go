package pages

import "strings"

// maxSuggestLen bounds the work Suggest does per name: host names are at
// most 253 bytes, anything longer cannot be a typo of a route.
const maxSuggestLen = 255

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
	host = strings.ToLower(host)
	if len(host) > maxSuggestLen {
		return -1
	}
	best, bestDist, bestLen := -1, 0, 0
	var row []int
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
		a, b := trimCommonLabels(h, name)
		limit := max(len(a), len(b)) / 2
		var d int
		d, row = editDistance(a, b, row)
		if d > limit {
			continue
		}
		if best < 0 || d < bestDist || (d == bestDist && len(name) < bestLen) {
			best, bestDist, bestLen = i, d, len(name)
		}
	}
	return best
}

// trimCommonLabels removes the whole dot-separated labels a and b end in
// alike: "ap.localhost", "app.localhost" → "ap", "app".
func trimCommonLabels(a, b string) (string, string) {
	for {
		ia, ib := strings.LastIndexByte(a, '.'), strings.LastIndexByte(b, '.')
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

// editDistance is the optimal string alignment distance between a and b
// (Levenshtein plus adjacent transpositions), in bytes. row is scratch
// space, returned for reuse.
func editDistance(a, b string, row []int) (int, []int) {
	if len(a) < len(b) {
		a, b = b, a
	}
	n := len(b) + 1
	if cap(row) < 3*n {
		row = make([]int, 3*n)
	}
	row = row[:3*n]
	prev2, prev, cur := row[:n], row[n:2*n], row[2*n:]
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			v := min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				v = min(v, prev2[j-2]+1)
			}
			cur[j] = v
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)], row
}
