package override

import (
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/alecthomas/kingpin/v2"
)

type conf struct {
	URL      string
	Interval time.Duration
	Size     int
}

func TestApply(t *testing.T) {
	parse := func(args ...string) (conf, error) {
		t.Helper()
		app := kingpin.New("t", "")
		var s Set[conf]
		Field(&s, app.Flag("url", "").Default("http://default"), (*kingpin.FlagClause).StringVar, func(c *conf) *string { return &c.URL })
		Field(&s, app.Flag("interval", ""), (*kingpin.FlagClause).DurationVar, func(c *conf) *time.Duration { return &c.Interval })
		Var(&s, app.Flag("size", ""), (*kingpin.FlagClause).StringVar, func(c *conf, v string) error {
			n, err := strconv.Atoi(v)
			if err != nil {
				return errors.New("not a number")
			}
			c.Size = n
			return nil
		})
		if _, err := app.Parse(args); err != nil {
			t.Fatal(err)
		}
		c := conf{URL: "http://file", Interval: time.Second, Size: 1} // as read from a file
		return c, s.Apply(&c)
	}
	if c, err := parse(); err != nil || c != (conf{"http://file", time.Second, 1}) {
		t.Errorf("no flags: %+v, %v; want the file's values, defaults of flags not applied", c, err)
	}
	if c, err := parse("--url=http://flag", "--size=7"); err != nil || c != (conf{"http://flag", time.Second, 7}) {
		t.Errorf("two flags: %+v, %v", c, err)
	}
	if c, err := parse("--url=http://default"); err != nil || c.URL != "http://default" {
		t.Errorf("a flag given with its default value still wins: %+v, %v", c, err)
	}
	if _, err := parse("--size=x"); err == nil || err.Error() != "--size: not a number" {
		t.Errorf("error %v, want it named after the flag", err)
	}
}
