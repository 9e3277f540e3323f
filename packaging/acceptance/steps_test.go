//go:build acceptance

package acceptance

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// steps runs a test's steps in order, printing each with its duration, and
// a table of them at the end, also when a step fails.
type steps struct {
	t       *testing.T
	title   string
	n       int
	current string
	detail  string
	started time.Time
	done    []string
}

func newSteps(t *testing.T, title string) *steps {
	s := &steps{t: t, title: title}
	t.Cleanup(func() {
		var b strings.Builder
		fmt.Fprintf(&b, "acceptance steps, %s:\n", s.title)
		for _, l := range s.done {
			b.WriteString(l + "\n")
		}
		if t.Failed() && s.current != "" {
			fmt.Fprintf(&b, "step %2d  %-70s FAILED after %.1fs\n", s.n, s.current, time.Since(s.started).Seconds())
		}
		t.Log(b.String())
	})
	return s
}

// run runs one step. What the step calls note with is appended to its line.
func (s *steps) run(name string, f func()) {
	s.n++
	s.current, s.detail, s.started = name, "", time.Now()
	s.t.Logf("step %d: %s", s.n, name)
	f()
	line := fmt.Sprintf("step %2d  %-70s ok  %6.1fs", s.n, name, time.Since(s.started).Seconds())
	if s.detail != "" {
		line += "  " + s.detail
	}
	s.done = append(s.done, line)
	s.current = ""
	s.t.Log(line)
}

// note adds a detail, such as the versions tested, to the current step's
// line in the table.
func (s *steps) note(format string, args ...any) {
	if s.detail != "" {
		s.detail += "; "
	}
	s.detail += fmt.Sprintf(format, args...)
}
