//go:build !linux

package localdev

import "testing"

// childSetup needs nothing outside Linux, where the tests that give
// the doctor child a private /etc run.
func childSetup() error { return nil }

// doctorTryPrivateEtc: a private /etc needs Linux's mount namespaces.
func doctorTryPrivateEtc(t *testing.T) (hostsFile string, env, wrap []string, missing string) {
	return "", nil, nil, "needs Linux for a private mount namespace"
}
