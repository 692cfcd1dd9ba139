// Package routes holds localdev's route table: names, targets, matching and
// the copy-on-write table that the request path reads without a lock. It
// imports nothing from Caddy, so it can be fuzzed and benchmarked alone.
package routes

import (
	"errors"
	"fmt"
	"strings"

	"golang.org/x/net/idna"
	"golang.org/x/net/publicsuffix"
)

// DefaultDomain is the domain names live under unless configured otherwise.
const DefaultDomain = "localhost"

// maxNameLength is the longest DNS name we accept.
const maxNameLength = 253

// NormalizeDomain returns domain in the form names are compared in:
// lowercase punycode, without a leading or trailing dot. A public suffix
// of the Public Suffix List's ICANN section ("com", "co.uk", "dev") is an
// error: names under it belong to everyone else on the Internet.
func NormalizeDomain(domain string) (string, error) {
	d := strings.TrimSuffix(strings.TrimPrefix(domain, "."), ".")
	if d == "" {
		return "", fmt.Errorf("domain %q is empty", domain)
	}
	if strings.Contains(d, "*") {
		return "", fmt.Errorf("domain %q must not contain a wildcard", domain)
	}
	ascii, err := toASCII(d)
	if err != nil {
		return "", fmt.Errorf("domain %q: %v", domain, err)
	}
	if suffix, icann := publicsuffix.PublicSuffix(ascii); icann && suffix == ascii && !SpecialUse(ascii) {
		return "", fmt.Errorf("domain %q is a public suffix: its names belong to sites on the Internet, and localdev would answer them locally; use localhost, test or a domain you own", domain)
	}
	return ascii, nil
}

// specialUse are the special-use domains (RFC 6761, RFC 8375, ICANN's
// "internal") that no public site can have: names under them are local by
// definition.
var specialUse = []string{"localhost", "test", "internal", "home.arpa", "example", "invalid"}

// SpecialUse reports whether a normalised domain is, or is under, a
// special-use domain (localhost, test, internal, home.arpa, example,
// invalid). Any other domain may also name sites elsewhere, which localdev
// then answers locally.
func SpecialUse(domain string) bool {
	for _, s := range specialUse {
		if InDomain(domain, s) {
			return true
		}
	}
	return false
}

// NormalizeName turns a route name as a user writes it into its full form
// under domain: "app" becomes "app.localhost", "*.shop" becomes
// "*.shop.localhost", and "docs.localhost" stays. A dotted name that does
// not end in the domain (such as "github.com") belongs to someone else and
// is an error. The domain must already be normalised.
func NormalizeName(name, domain string) (string, error) {
	raw := name
	name = strings.TrimSuffix(name, ".")
	wildcard := strings.HasPrefix(name, "*.")
	base := strings.TrimPrefix(name, "*.")
	if base == "" {
		return "", fmt.Errorf("route name %q is empty", raw)
	}
	if strings.Contains(base, "*") {
		return "", fmt.Errorf("route name %q: a wildcard may only be the whole first label, as in *.shop", raw)
	}
	ascii, err := toASCII(base)
	if err != nil {
		return "", fmt.Errorf("route name %q: %v", raw, err)
	}
	full, err := underDomain(ascii, domain)
	if err != nil {
		return "", fmt.Errorf("route name %q: %v", raw, err)
	}
	if full == domain {
		return "", reservedError(raw, domain, wildcard)
	}
	if wildcard {
		full = "*." + full
	}
	if len(full) > maxNameLength {
		return "", fmt.Errorf("route name %q is longer than %d characters", raw, maxNameLength)
	}
	return full, nil
}

// ErrReserved is the error of a route name that may not be routed: a
// domain's index host, or the wildcard that would capture the domain.
var ErrReserved = errors.New("reserved")

// reservedError explains why a route may not be named domain or
// *.domain.
func reservedError(raw, domain string, wildcard bool) error {
	if wildcard {
		return fmt.Errorf("route name %q is %w: *.%s would capture every name under the domain", raw, ErrReserved, domain)
	}
	return fmt.Errorf("route name %q is %w: %s itself is the index host, which shows the dashboard", raw, ErrReserved, domain)
}

// underDomain places an ASCII name under domain, or says why it cannot.
func underDomain(name, domain string) (string, error) {
	if InDomain(name, domain) {
		return name, nil
	}
	if strings.Contains(name, ".") {
		return "", fmt.Errorf("outside the domain %q: localdev only routes names it owns (write %q for a subdomain of %s)",
			domain, name+"."+domain, domain)
	}
	return name + "." + domain, nil
}

// InDomain reports whether host equals domain or is a subdomain of it.
// Both must be normalised; it does not allocate.
func InDomain(host, domain string) bool {
	if len(host) == len(domain) {
		return host == domain
	}
	n := len(host) - len(domain)
	return n > 1 && host[n-1] == '.' && host[n:] == domain
}

// toASCII converts a DNS name to lowercase punycode and checks its labels.
func toASCII(name string) (string, error) {
	ascii, err := idnaProfile.ToASCII(strings.ToLower(name))
	if err != nil {
		return "", fmt.Errorf("not a valid DNS name: %v", err)
	}
	for _, label := range strings.Split(ascii, ".") {
		if err := checkLabel(label); err != nil {
			return "", err
		}
	}
	return ascii, nil
}

// checkLabel enforces the letters-digits-hyphen rule on one label. An
// underscore, which some dev tools put in names, is refused with what to
// write instead: a certificate cannot carry it, so the name would work
// over plain HTTP only and fail every TLS handshake.
func checkLabel(label string) error {
	if label == "" {
		return fmt.Errorf("empty label")
	}
	if len(label) > 63 {
		return fmt.Errorf("label %q is longer than 63 characters", label)
	}
	if label[0] == '-' || label[len(label)-1] == '-' {
		return fmt.Errorf("label %q starts or ends with a hyphen", label)
	}
	for i := 0; i < len(label); i++ {
		switch {
		case label[i] == '_':
			return fmt.Errorf("label %q has an underscore, which no certificate can carry: write %q", label, strings.ReplaceAll(label, "_", "-"))
		case !isNameByte(label[i]):
			return fmt.Errorf("label %q has the character %q", label, label[i])
		}
	}
	return nil
}

func isNameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-'
}

// idnaProfile maps Unicode names to punycode the way browsers do, but
// without STD3 rules, so that checkLabel explains what is wrong itself.
var idnaProfile = idna.New(idna.MapForLookup(), idna.StrictDomainName(false), idna.Transitional(false))
