package asyncmq

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
)

// The default retry backoff, used for a job enqueued without a Backoff option.
const (
	DefaultBackoffBase   = time.Second
	DefaultBackoffMax    = time.Hour
	DefaultBackoffJitter = 0.2
)

func validateBackoff(b asyncmqtype.Backoff) error {
	switch b.Kind {
	case "", asyncmqtype.BackoffExponential, asyncmqtype.BackoffFixed:
	default:
		return fmt.Errorf("unknown kind %q (want %q or %q)", b.Kind, asyncmqtype.BackoffExponential, asyncmqtype.BackoffFixed)
	}
	if b.Base < 0 || b.Max < 0 {
		return fmt.Errorf("base %s and max %s must not be negative", b.Base, b.Max)
	}
	if b.Max > 0 && b.Base > b.Max {
		return fmt.Errorf("base %s is larger than max %s", b.Base, b.Max)
	}
	if b.Jitter < 0 || b.Jitter > 1 {
		return fmt.Errorf("jitter %g is outside 0..1", b.Jitter)
	}
	return nil
}

// retryDelay is how long a job waits after its attempt-th failed attempt (attempt counts from 1).
// The zero Backoff is the default policy; an exponential policy with a zero Base or Max takes the
// default for that field. Jitter only ever shortens the delay, so Max stays a true cap.
func retryDelay(b asyncmqtype.Backoff, attempt int) time.Duration {
	if b.Kind == "" {
		b = asyncmqtype.Backoff{Kind: asyncmqtype.BackoffExponential, Jitter: DefaultBackoffJitter}
	}
	if b.Kind == asyncmqtype.BackoffFixed {
		return jitter(b.Base, b.Jitter)
	}
	base, max := b.Base, b.Max
	if base <= 0 {
		base = DefaultBackoffBase
	}
	if max <= 0 {
		max = DefaultBackoffMax
	}
	d := base
	for i := 1; i < attempt && d < max; i++ {
		if d > max/2 {
			d = max // doubling again would pass the cap, or overflow
			break
		}
		d *= 2
	}
	return jitter(min(d, max), b.Jitter)
}

func jitter(d time.Duration, fraction float64) time.Duration {
	if fraction <= 0 || d <= 0 {
		return d
	}
	return d - time.Duration(rand.Float64()*fraction*float64(d))
}
