package localdev

import (
	"strings"
)

// hopHeader carries the hop mark to the app: this process's token and
// every route the request has passed through it, "<token> a.localhost
// b.localhost". An app that forwards a request to another route (a dev
// server's proxy) usually forwards the header too, so a request that comes
// back to a route it already passed is a loop (A → B → A, or a route whose
// target is Caddy itself), while A → B is not.
const hopHeader = "Localdev-Hop"

// maxHops bounds the routes a mark carries: a request that has passed
// this many routes is treated as a loop.
const maxHops = 16

// firstHop is the mark of a request that has passed only route name.
func firstHop(name string) []string { return []string{hopToken + " " + name} }

// nextHop returns the mark to send with a request for route name, given
// the mark it arrived with (first = true: the request passed no other
// route, and the mark is firstHop's), or loop = true when name is already
// in that mark (or the mark is full).
func nextHop(mark, name string) (next string, first, loop bool) {
	rest, ours := strings.CutPrefix(mark, hopToken)
	if !ours || rest == "" || rest[0] != ' ' {
		return "", true, false
	}
	hops := 0
	for hop := range strings.SplitSeq(rest[1:], " ") {
		if hop == name {
			return "", false, true
		}
		hops++
	}
	if hops >= maxHops {
		return "", false, true
	}
	return mark + " " + name, false, false
}

// hopRoutes returns the routes a mark says its request passed, in order.
func hopRoutes(mark string) []string {
	rest, ours := strings.CutPrefix(mark, hopToken)
	if !ours || rest == "" || rest[0] != ' ' {
		return nil
	}
	return strings.Split(rest[1:], " ")
}
