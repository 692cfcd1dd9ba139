//go:build !linux

package localdev

// doctorChildSetup needs nothing outside Linux, where the tests that give
// the doctor child a private /etc run.
func doctorChildSetup() error { return nil }
