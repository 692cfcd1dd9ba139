package routes

import (
	"strings"
)

// NormalizeHost turns a request's Host into the form route names are
// compared in: lowercase, port stripped, IPv6 brackets removed, one
// trailing dot removed. It reports false for a host that cannot be a
// route name. An already-normal host is returned as is, without
// allocating.
func NormalizeHost(host string) (string, bool) {
	host = stripPort(host)
	host = strings.TrimSuffix(host, ".")
	if host == "" || len(host) > maxNameLength || host[0] == '.' || strings.Contains(host, "..") {
		return "", false
	}
	lower, upper := scanHost(host)
	if !lower {
		return normalizeSlow(host)
	}
	if upper {
		host = strings.ToLower(host)
	}
	return host, true
}

// stripPort removes a trailing :port and IPv6 brackets.
func stripPort(host string) string {
	if strings.HasPrefix(host, "[") {
		if end := strings.IndexByte(host, ']'); end > 0 {
			return host[1:end]
		}
		return host
	}
	if i := strings.LastIndexByte(host, ':'); i >= 0 && strings.IndexByte(host, ':') == i {
		return host[:i]
	}
	return host
}

// scanHost reports whether host holds only name bytes and dots once
// lowercased (ok), and whether it has any upper-case letters.
func scanHost(host string) (ok, upper bool) {
	for i := 0; i < len(host); i++ {
		c := host[i]
		switch {
		case c >= 'A' && c <= 'Z':
			upper = true
		case isNameByte(c) || c == '.':
		default:
			return false, upper
		}
	}
	return true, upper
}

// normalizeSlow handles hosts with other characters: Unicode names become
// punycode, anything else (IP literals, garbage) cannot be a route name but
// is still returned lowercased so callers can show it.
func normalizeSlow(host string) (string, bool) {
	ascii, err := toASCII(host)
	if err != nil {
		return strings.ToLower(host), false
	}
	return ascii, true
}
