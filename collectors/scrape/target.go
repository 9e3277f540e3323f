package scrape

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"time"

	"github.com/hostpush/hostpush/internal/yamlconf"
)

// DefaultFetchTimeout bounds one fetch of a target whose timeout is unset. The
// tick's own deadline still applies when it is shorter.
const DefaultFetchTimeout = 2 * time.Second

// Target is one co-located /metrics endpoint, as written in the config's
// scrape: list.
type Target struct {
	// Name identifies the target in hostpush_scrape_* metrics and logs and
	// is the default job of its group.
	Name string `yaml:"name"`
	// URL is the full address of the endpoint, for example
	// http://127.0.0.1:3002/metrics.
	URL string `yaml:"url"`
	// Job overrides the job the group is pushed under (default: Name).
	Job string `yaml:"job"`
	// Timeout bounds one fetch (default DefaultFetchTimeout).
	Timeout time.Duration `yaml:"timeout"`
}

var namePattern = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

// Validate reports every problem of the target, each a *yamlconf.FieldError
// keyed within the target (for example url). Index-qualified keys come from
// ValidateAll.
func (t Target) Validate() error {
	var errs []error
	if !namePattern.MatchString(t.Name) {
		errs = append(errs, yamlconf.Errorf("name", "%q must be non-empty and use only letters, digits, '_', '.' and '-'", t.Name))
	}
	if err := validateURL(t.URL); err != nil {
		errs = append(errs, yamlconf.Errorf("url", "%v", err))
	}
	if t.Timeout < 0 {
		errs = append(errs, yamlconf.Errorf("timeout", "%s must not be negative (0 means %s)", t.Timeout, DefaultFetchTimeout))
	}
	return errors.Join(errs...)
}

func validateURL(s string) error {
	if s == "" {
		return errors.New("missing; want the target's full metrics URL such as http://127.0.0.1:3002/metrics")
	}
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("%q is not a URL: %v", s, errors.Unwrap(err))
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("%q: scheme must be http or https", s)
	}
	if u.Host == "" {
		return fmt.Errorf("%q has no host", s)
	}
	return nil
}

// JobName is the job the target's group is pushed under.
func (t Target) JobName() string {
	if t.Job != "" {
		return t.Job
	}
	return t.Name
}

// ValidateAll validates a scrape: list, naming each problem by its key as
// the config file spells it, "scrape[0].url: ..." for the first target.
// Names and jobs must be unique: each target is pushed as its own group.
func ValidateAll(targets []Target) error {
	var errs []error
	names := map[string]int{}
	jobs := map[string]int{}
	for i, t := range targets {
		prefix := fmt.Sprintf("scrape[%d].", i)
		if err := t.Validate(); err != nil {
			errs = append(errs, yamlconf.Under(prefix, err))
		}
		if j, ok := names[t.Name]; ok && t.Name != "" {
			errs = append(errs, yamlconf.Errorf(prefix+"name", "%q is already used by scrape[%d]; names must be unique", t.Name, j))
		}
		names[t.Name] = i
		if j, ok := jobs[t.JobName()]; ok && t.JobName() != "" {
			errs = append(errs, yamlconf.Errorf(prefix+"job", "%q is already the job of scrape[%d]; each target needs its own job", t.JobName(), j))
		}
		jobs[t.JobName()] = i
	}
	return errors.Join(errs...)
}
