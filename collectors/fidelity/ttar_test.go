package fidelity

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"testing"
)

// extractTTAR unpacks a ttar archive into root. ttar is the plain-text
// archive node_exporter keeps its sysfs and udev fixtures in; its own
// extractor is a bash loop that takes minutes for sys.ttar, this takes
// milliseconds. The format, line by line:
//
//	Directory: PATH        create a directory
//	Path: PATH             name the next entry (an existing one is replaced)
//	Lines: N               the next N lines are PATH's content
//	SymlinkTo: TARGET      PATH is a symbolic link to TARGET
//	Mode: OCTAL            permissions of the last named entry
//	# ...                  comment
//
// In content lines "EOF" at the end means the file does not end with a
// newline, "NULLBYTE" stands for a zero byte, and a backslash before either
// word makes it literal. Paths are resolved inside root, so an archive can
// never write outside it.
func extractTTAR(root *os.Root, r io.Reader) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 16<<20)
	var (
		path    string
		isDir   bool
		lineNo  int
		pending int      // content lines still to read
		file    *os.File // open while pending > 0
	)
	closeFile := func() error {
		if file == nil {
			return nil
		}
		err := file.Close()
		file = nil
		return err
	}
	for sc.Scan() {
		lineNo++
		line := sc.Text()
		if pending > 0 {
			data, newline := decodeTTARLine(line)
			if newline {
				data += "\n"
			}
			if _, err := io.WriteString(file, data); err != nil {
				return fmt.Errorf("line %d: %w", lineNo, err)
			}
			if pending--; pending == 0 {
				if err := closeFile(); err != nil {
					return fmt.Errorf("line %d: %w", lineNo, err)
				}
			}
			continue
		}
		key, val, _ := strings.Cut(line, ": ")
		var err error
		switch {
		case strings.HasPrefix(line, "#"):
		case key == "Directory":
			path, isDir = val, true
			err = root.MkdirAll(val, 0o755)
		case key == "Path":
			path, isDir = val, false
			if err = root.Remove(val); errors.Is(err, fs.ErrNotExist) {
				err = nil
			}
		case key == "Lines" && path != "" && !isDir:
			pending, err = strconv.Atoi(val)
			if err == nil && pending < 0 {
				err = fmt.Errorf("negative line count %d", pending)
			}
			if err == nil {
				file, err = root.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
			}
			if err == nil && pending == 0 {
				err = closeFile()
			}
		case key == "SymlinkTo" && path != "" && !isDir:
			err = root.Symlink(val, path)
		case key == "Mode" && path != "":
			var mode uint64
			if mode, err = strconv.ParseUint(val, 8, 32); err == nil {
				perm := fs.FileMode(mode) & fs.ModePerm
				if isDir {
					perm |= 0o700 // keep it writable and removable for the test
				}
				err = root.Chmod(path, perm)
			}
		default:
			err = fmt.Errorf("unknown keyword %q (allowed: Directory, Path, Lines, SymlinkTo, Mode, #)", line)
		}
		if err != nil {
			closeFile()
			return fmt.Errorf("line %d: %w", lineNo, err)
		}
	}
	cerr := closeFile()
	if err := sc.Err(); err != nil {
		return fmt.Errorf("line %d: %w", lineNo+1, err)
	}
	if pending > 0 {
		return fmt.Errorf("line %d: archive ends %d content lines early in %s", lineNo, pending, path)
	}
	return cerr
}

// decodeTTARLine undoes ttar's escaping of one content line and says
// whether the line ended with a newline in the original file.
func decodeTTARLine(line string) (data string, newline bool) {
	var b strings.Builder
	newline = true
	for i := 0; i < len(line); {
		rest := line[i:]
		switch {
		case strings.HasPrefix(rest, `\NULLBYTE`):
			b.WriteString("NULLBYTE")
			i += len(`\NULLBYTE`)
		case strings.HasPrefix(rest, `\EOF`):
			b.WriteString("EOF")
			i += len(`\EOF`)
		case strings.HasPrefix(rest, "NULLBYTE"):
			b.WriteByte(0)
			i += len("NULLBYTE")
		case strings.HasPrefix(rest, "EOF") && i > 0:
			// ttar marks a missing final newline with EOF after content.
			newline = false
			i += len("EOF")
		default:
			b.WriteByte(line[i])
			i++
		}
	}
	return b.String(), newline
}

func TestExtractTTAR(t *testing.T) {
	archive := strings.Join([]string{
		"# Archive created by hand",
		"Directory: sys",
		"Mode: 755",
		"Directory: sys/class/net",
		"Mode: 555",
		"Path: sys/class/net/eth0_speed",
		"Lines: 1",
		"1000",
		"Mode: 644",
		"Path: sys/no_newline",
		"Lines: 2",
		"first",
		"secondEOF",
		"Mode: 444",
		"Path: sys/escapes",
		"Lines: 1",
		`a\EOF bNULLBYTEc \NULLBYTE`,
		"Mode: 600",
		"Path: sys/empty",
		"Lines: 0",
		"Mode: 644",
		"Path: sys/link",
		"SymlinkTo: class/net/eth0_speed",
		"",
	}, "\n")
	dir := t.TempDir()
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	if err := extractTTAR(root, strings.NewReader(archive)); err != nil {
		t.Fatalf("extractTTAR: %v", err)
	}
	files := []struct{ path, want string }{
		{"sys/class/net/eth0_speed", "1000\n"},
		{"sys/no_newline", "first\nsecond"},
		{"sys/escapes", "aEOF b\x00c NULLBYTE\n"},
		{"sys/empty", ""},
		{"sys/link", "1000\n"}, // read through the link
	}
	for _, f := range files {
		got, err := root.ReadFile(f.path)
		if err != nil || string(got) != f.want {
			t.Errorf("%s = %q, %v; want %q", f.path, got, err, f.want)
		}
	}
	if fi, err := root.Stat("sys/no_newline"); err != nil || fi.Mode().Perm() != 0o444 {
		t.Errorf("sys/no_newline mode = %v, %v; want 0444", fi.Mode(), err)
	}
	if target, err := root.Readlink("sys/link"); err != nil || target != "class/net/eth0_speed" {
		t.Errorf("sys/link -> %q, %v", target, err)
	}
}

func TestExtractTTARErrors(t *testing.T) {
	tests := []struct{ name, archive, want string }{
		{"unknown keyword", "Directory: a\nFoo: b\n", `line 2: unknown keyword "Foo: b"`},
		{"truncated content", "Path: a\nLines: 3\nx\n", "archive ends 2 content lines early in a"},
		{"bad count", "Path: a\nLines: many\n", "line 2:"},
		{"bad mode", "Path: a\nLines: 0\nMode: 9z\n", "line 3:"},
		{"escape the root", "Path: ../outside\nLines: 1\nx\n", "line 1: removeat ../outside: path escapes"},
		{"lines without path", "Lines: 1\nx\n", `line 1: unknown keyword "Lines: 1"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root, err := os.OpenRoot(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			defer root.Close()
			err = extractTTAR(root, strings.NewReader(tc.archive))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("extractTTAR = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// FuzzExtractTTAR: any archive either extracts or fails with an error;
// nothing panics and nothing lands outside the root.
func FuzzExtractTTAR(f *testing.F) {
	f.Add("Directory: d\nMode: 755\nPath: d/f\nLines: 1\nxEOF\nMode: 644\n")
	f.Add("Path: l\nSymlinkTo: ../../etc/passwd\nPath: l\nLines: 1\nNULLBYTE\\EOF\n")
	f.Add("# c\nPath: a\nLines: 0\nMode: 7777\n")
	f.Fuzz(func(t *testing.T, archive string) {
		parent := t.TempDir()
		dir := parent + "/root"
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		root, err := os.OpenRoot(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer root.Close()
		_ = extractTTAR(root, strings.NewReader(archive))
		entries, err := os.ReadDir(parent)
		if err != nil || len(entries) != 1 {
			t.Fatalf("something was written beside the root: %v %v", entries, err)
		}
	})
}
