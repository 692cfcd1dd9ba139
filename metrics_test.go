package localdev

import "testing"

// BenchmarkCountRequest is what the metrics add to each proxied request.
func BenchmarkCountRequest(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		countRequest("app.localhost", outcomeProxied)
	}
}
