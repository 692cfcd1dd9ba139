package localdev

import (
	"context"
	"net/netip"
)

// exposureCheck is replaced by internal/exposure after the foundation merge.
var exposureCheck = func(ctx context.Context, port int) ([]netip.AddrPort, error) { return nil, nil }
