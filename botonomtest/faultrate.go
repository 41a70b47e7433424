package botonomtest

import (
	"fmt"
	"math/rand/v2"
)

// Pseudo-statuses for WithFaultRate: faults that are not an HTTP answer.
// They are the values Request.Status records for such requests.
const (
	// ResetConnection closes the connection unanswered without acting on
	// the request, as ResetConnectionNext does.
	ResetConnection = 0
	// DropResponse acts on the request and then closes the connection
	// instead of answering, as DropResponseNext does.
	DropResponse = 1
)

// WithFaultRate makes each request fail, with probability p (0 to 1), in
// one of the given ways picked at random: an HTTP status from 400 to 599
// (answered as FailNext does), ResetConnection or DropResponse. Without
// statuses the faults are 503s. A request for which FailNext,
// ResetConnectionNext or DropResponseNext is pending gets that fault
// instead, never two.
//
// The draws come from a generator with a fixed seed, so a test that sends
// its requests one after another meets the same faults on every run; with
// concurrent requests, which request meets which fault varies, not how many
// there are.
func WithFaultRate(p float64, statuses ...int) Option {
	return func(c *config) error {
		if !(p >= 0 && p <= 1) {
			return fmt.Errorf("WithFaultRate: probability %v is not between 0 and 1", p)
		}
		for _, st := range statuses {
			if st != ResetConnection && st != DropResponse && (st < 400 || st > 599) {
				return fmt.Errorf("WithFaultRate: %d is neither an error status (400-599), ResetConnection nor DropResponse", st)
			}
		}
		if len(statuses) == 0 {
			statuses = []int{503}
		}
		c.faultRate = p
		c.faultStatuses = append([]int(nil), statuses...)
		return nil
	}
}

// faultRate is the state of WithFaultRate; the zero value injects nothing.
type faultRate struct {
	p        float64
	statuses []int
	rng      *rand.Rand
}

func newFaultRate(p float64, statuses []int) faultRate {
	return faultRate{p: p, statuses: statuses, rng: rand.New(rand.NewPCG(1, 2))}
}

// injectRandomFault draws whether the request being answered fails and, if
// so, queues its fault as FailNext, ResetConnectionNext or DropResponseNext
// would, for this very request; s.mu is held.
func (s *Server) injectRandomFault() {
	f := &s.faultRate
	if f.p == 0 || s.failN > 0 || s.resetN > 0 || s.dropN > 0 {
		return
	}
	if f.rng.Float64() >= f.p {
		return
	}
	switch st := f.statuses[f.rng.IntN(len(f.statuses))]; st {
	case ResetConnection:
		s.resetN = 1
	case DropResponse:
		s.dropN = 1
	default:
		s.failN, s.failStatus = 1, st
	}
}
