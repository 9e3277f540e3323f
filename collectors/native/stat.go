package native

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/bits"
)

// errMalformed marks a stat file the collector cannot read a state from.
var errMalformed = errors.New("malformed stat")

// statFields is what the processes collector uses of a /proc/PID/stat
// (or task/TID/stat) line: the state and the number of threads.
type statFields struct {
	state      []byte // aliases the input
	numThreads int
}

// statKinds are the types procfs's Proc.Stat scans the 41 fields after
// the state into: s int, S int64, u uint, U uint64. A file it refuses
// (too few fields, a field that is no number of its type) is refused
// here as well, so that the collector fails where node_exporter's fails.
const statKinds = "sssss" + "uuuuuuu" + "ssss" + "s" + "S" + "Uu" + "s" + "UUUU" + "UUUUUUUUU" + "S" + "uuu" + "U" + "ss"

// numThreadsField is the index of num_threads in statKinds.
const numThreadsField = 16

// parseStat reads the state and the thread count from a stat line. The
// command name in parentheses may hold any byte, ')' and newlines
// included, so the fields start after the last ')'. As procfs does, the
// byte right after it is skipped unread. Numbers are plain decimal (the
// kernel writes no other form): procfs would also take "0x1f" or "1_0",
// this parser refuses them.
func parseStat(b []byte) (statFields, error) {
	var f statFields
	l, r := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if l < 0 || r < l || r+2 > len(b) {
		return f, fmt.Errorf("%w: no command name in parentheses followed by fields", errMalformed)
	}
	rest := b[r+2:]
	tok, rest := nextField(rest)
	if tok == nil {
		return f, fmt.Errorf("%w: no state after the command name", errMalformed)
	}
	f.state = tok
	for i := 0; i < len(statKinds); i++ {
		tok, rest = nextField(rest)
		if tok == nil {
			return f, fmt.Errorf("%w: %d fields after the command name, want at least %d", errMalformed, i+1, len(statKinds)+1)
		}
		v, ok := parseNumber(tok, statKinds[i])
		if !ok {
			return f, fmt.Errorf("%w: field %d %q is not a number of its type", errMalformed, i+4, tok)
		}
		if i == numThreadsField {
			f.numThreads = int(v)
		}
	}
	return f, nil
}

// parseStatQuick reads what parseStat reads from a line of a file that
// parseStat accepted before: a kept descriptor re-read, whose content the
// kernel generates in the same form every time, so the fields in between
// are skipped unchecked. withThreads asks for num_threads (processes);
// threads need the state only.
func parseStatQuick(b []byte, withThreads bool) (statFields, error) {
	var f statFields
	r := bytes.LastIndexByte(b, ')')
	if r < 0 || r+2 > len(b) {
		return f, fmt.Errorf("%w: no command name in parentheses followed by fields", errMalformed)
	}
	tok, rest := nextField(b[r+2:])
	if tok == nil {
		return f, fmt.Errorf("%w: no state after the command name", errMalformed)
	}
	f.state = tok
	if !withThreads {
		return f, nil
	}
	for i := 0; i <= numThreadsField; i++ {
		if tok, rest = nextField(rest); tok == nil {
			return f, fmt.Errorf("%w: %d fields after the command name, want at least %d", errMalformed, i+1, len(statKinds)+1)
		}
	}
	v, ok := parseNumber(tok, statKinds[numThreadsField])
	if !ok {
		return f, fmt.Errorf("%w: num_threads %q is not a number", errMalformed, tok)
	}
	f.numThreads = int(v)
	return f, nil
}

// nextField splits off the next run of non-space bytes; nil when none is
// left. A byte outside printable ASCII ends the line as malformed: the
// kernel writes none after the command name.
func nextField(b []byte) (tok, rest []byte) {
	i := 0
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	j := i
	for j < len(b) && !isSpace(b[j]) {
		if b[j] < 0x21 || b[j] > 0x7e {
			return nil, nil
		}
		j++
	}
	if j == i {
		return nil, nil
	}
	return b[i:j], b[j:]
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\v' || c == '\f'
}

// parseNumber parses a decimal number of the given kind (see statKinds):
// signed kinds take a sign, none takes leading zeros (which fmt would
// read as octal) or a value outside the type's range.
func parseNumber(b []byte, kind byte) (int64, bool) {
	neg := false
	if (kind == 's' || kind == 'S') && len(b) > 0 && (b[0] == '-' || b[0] == '+') {
		neg, b = b[0] == '-', b[1:]
	}
	if len(b) == 0 || len(b) > 20 || (b[0] == '0' && len(b) > 1) {
		return 0, false
	}
	var u uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		hi, lo := bits.Mul64(u, 10)
		lo, carry := bits.Add64(lo, uint64(c-'0'), 0)
		if hi != 0 || carry != 0 {
			return 0, false
		}
		u = lo
	}
	size := uint(64)
	if kind == 's' || kind == 'u' {
		size = bits.UintSize
	}
	switch kind {
	case 'u', 'U':
		if size < 64 && u > 1<<size-1 {
			return 0, false
		}
		return int64(u), true // only num_threads (signed) is used as a value
	}
	limit := uint64(1) << (size - 1) // |min| of the signed type
	if neg && u > limit || !neg && u >= limit {
		return 0, false
	}
	if neg {
		if u == limit {
			return math.MinInt64 >> (64 - size), true
		}
		return -int64(u), true
	}
	return int64(u), true
}
