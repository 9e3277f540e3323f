package agent

import (
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
)

// SystemdNotifier sends states to systemd's notify socket ($NOTIFY_SOCKET).
type SystemdNotifier struct{}

// Notify implements Notifier. The environment is kept (unset=false): with
// it cleared, every later watchdog ping would be dropped silently.
func (SystemdNotifier) Notify(state string) error {
	_, err := daemon.SdNotify(false, state)
	return err
}

// SystemdWatchdog returns systemd's watchdog period for this process, or 0
// when none is set (WatchdogSec unset, or the watchdog is for another pid).
func SystemdWatchdog() time.Duration {
	d, err := daemon.SdWatchdogEnabled(false)
	if err != nil {
		return 0
	}
	return d
}
