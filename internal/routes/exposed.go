package routes

import (
	"context"
	"time"
)

// ExposureEvery is how often the health check asks again whether an app
// that is up is also open beyond loopback: a dev server rarely changes
// how it listens without restarting.
const ExposureEvery = 10 * time.Second

// exposed packs the last exposure check into one int64: the time in unix
// seconds, times two, plus one when the port was open beyond loopback.
// Zero: never checked.

// Exposed reports whether the route's port was open beyond loopback (on
// 0.0.0.0, :: or a network address) at the last check.
func (r *Route) Exposed() bool { return r.live.exposed.Load()&1 == 1 }

// SetExposed records an exposure check's result.
func (r *Route) SetExposed(open bool, at time.Time) {
	v := at.Unix() * 2
	if open {
		v++
	}
	r.live.exposed.Store(v)
}

// checkExposure asks c.Exposure about an app that is up, unless it was
// asked less than ExposureEvery ago.
func (c *Checker) checkExposure(ctx context.Context, r *Route) {
	if c.Exposure == nil || r.Target.Port == 0 {
		return
	}
	if last := r.live.exposed.Load(); last != 0 && time.Since(time.Unix(last/2, 0)) < ExposureEvery {
		return
	}
	r.SetExposed(c.Exposure(ctx, r.Target.Port), time.Now())
}
