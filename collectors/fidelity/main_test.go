package fidelity

import (
	"os"
	"testing"

	"github.com/hostpush/hostpush/internal/hostload"
)

// TestMain lets this test binary serve as the load's children
// (TestProcessesDifferential starts them with internal/hostload).
func TestMain(m *testing.M) {
	hostload.MaybeChild()
	os.Exit(m.Run())
}
