package agent

import (
	"fmt"
	"time"
)

// Notifier tells the service manager about the loop: READY=1, WATCHDOG=1,
// STATUS=..., STOPPING=1 (sd_notify states). It is called from the loop's
// goroutine only.
type Notifier interface {
	Notify(state string) error
}

// nopNotifier is used when no service manager listens.
type nopNotifier struct{}

func (nopNotifier) Notify(string) error { return nil }

// status builds the STATUS= text from the outcome of the last cycle.
type status struct {
	series       int
	lastOK       time.Time
	failingSince time.Time
	lastErr      error
}

func (s *status) record(now time.Time, series int, err error) {
	if err == nil {
		s.series, s.lastOK, s.failingSince, s.lastErr = series, now, time.Time{}, nil
		return
	}
	if s.failingSince.IsZero() {
		s.failingSince = now
	}
	s.lastErr = err
}

func (s *status) text(now time.Time) string {
	switch {
	case s.lastErr != nil:
		return fmt.Sprintf("push failing since %s: %v", s.failingSince.Format(time.TimeOnly), s.lastErr)
	case s.lastOK.IsZero():
		return "starting, no push yet"
	default:
		return fmt.Sprintf("pushed %d series %s ago", s.series, now.Sub(s.lastOK).Round(time.Second))
	}
}
