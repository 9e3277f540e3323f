// Package webconfig checks a --web.config.file, the TLS and basic auth
// file of github.com/prometheus/exporter-toolkit that every Prometheus
// exporter takes, before a server starts: a mistake in it is then a
// configuration error (exit 2, a line naming the file and the problem),
// not a failure of every connection later.
package webconfig

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/prometheus/exporter-toolkit/web"
	"golang.org/x/crypto/bcrypt"

	"github.com/hostpush/hostpush/internal/yamlconf"
)

// Check reads the web configuration file at path (none: nil) and returns
// its problems as *yamlconf.FieldErrors: unknown keys and bad values with
// their lines, a basic_auth_users entry that is no bcrypt hash, and what
// exporter-toolkit itself refuses (certificate and key files that cannot be
// read or do not match, headers it does not allow).
func Check(path string) error {
	if path == "" {
		return nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return &yamlconf.FieldError{Msg: fmt.Sprintf("reading the web config file: %v", err)}
	}
	var c web.Config
	if err := yamlconf.Decode(path, data, &c, func() error { return checkUsers(c.Users) }); err != nil {
		return err
	}
	if err := web.Validate(path); err != nil {
		return &yamlconf.FieldError{File: path, Msg: strings.ReplaceAll(err.Error(), "\n", " ")}
	}
	return nil
}

// checkUsers reports each password that is no bcrypt hash, by user: the
// toolkit's own check names neither.
func checkUsers[S ~string](users map[string]S) error {
	var errs []error
	for _, user := range slices.Sorted(maps.Keys(users)) {
		if _, err := bcrypt.Cost([]byte(users[user])); err != nil {
			errs = append(errs, yamlconf.Errorf("basic_auth_users."+user,
				"the password is not a bcrypt hash (%v); allowed: a hash such as `htpasswd -nBC 10 \"\" | tr -d ':\\n'` prints", err))
		}
	}
	return errors.Join(errs...)
}
