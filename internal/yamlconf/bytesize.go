package yamlconf

import (
	"fmt"
	"strconv"

	"github.com/alecthomas/units"
	"gopkg.in/yaml.v3"
)

// ByteSize is a size in bytes: in YAML, and through ParseByteSize on the
// command line, an integer or a number with a base-2 unit such as 512KiB,
// 64MiB or 1GiB.
type ByteSize int64

const sizesAllowed = "allowed: bytes as an integer or with a unit such as 512KiB, 64MiB, 1GiB"

// ParseByteSize reads a size as ByteSize does; its error says what is
// allowed.
func ParseByteSize(s string) (ByteSize, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return ByteSize(n), nil
	}
	v, err := units.ParseBase2Bytes(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a size; %s", s, sizesAllowed)
	}
	return ByteSize(v), nil
}

// UnmarshalYAML reads a size. A bad one is reported as a yaml.TypeError,
// which lets yaml.v3 go on decoding, so that it is reported together with
// the file's other problems.
func (b *ByteSize) UnmarshalYAML(node *yaml.Node) error {
	if node.Kind != yaml.ScalarNode {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: a %s is not a size; %s", node.Line, kindName(node), sizesAllowed)}}
	}
	v, err := ParseByteSize(node.Value)
	if err != nil {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: %v", node.Line, err)}}
	}
	*b = v
	return nil
}

// MarshalYAML writes the size with a unit.
func (b ByteSize) MarshalYAML() (any, error) { return units.Base2Bytes(b).String(), nil }

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	}
	return "value"
}
