package params

import (
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/image/colornames"
)

// Colour is a colour parameter (bg, fill-color); Set is false when not given.
type Colour struct {
	R, G, B, A uint8
	Set        bool
}

const colourAllowed = "hex RGB, ARGB, RRGGBB or AARRGGBB (alpha first, as imgix), or a CSS colour name such as red"

// parse reads imgix's colour forms: 3, 4, 6 or 8 hex digits, where the
// 4- and 8-digit forms put alpha first, or a CSS colour keyword.
func (c *Colour) parse(name, v string) error {
	s := strings.ToLower(strings.TrimPrefix(v, "#"))
	if kc, ok := colornames.Map[s]; ok {
		*c = Colour{kc.R, kc.G, kc.B, 255, true}
		return nil
	}
	if s == "rebeccapurple" { // CSS 4, newer than the SVG names above
		*c = Colour{0x66, 0x33, 0x99, 255, true}
		return nil
	}
	n, err := strconv.ParseUint(s, 16, 32)
	if err != nil {
		return bad(name, "%q is not a colour; allowed: %s", clip(v), colourAllowed)
	}
	nib := func(shift uint) uint8 { return uint8(n>>shift&0xf) * 17 }
	byt := func(shift uint) uint8 { return uint8(n >> shift) }
	switch len(s) {
	case 3:
		*c = Colour{nib(8), nib(4), nib(0), 255, true}
	case 4:
		*c = Colour{nib(8), nib(4), nib(0), nib(12), true}
	case 6:
		*c = Colour{byt(16), byt(8), byt(0), 255, true}
	case 8:
		*c = Colour{byt(16), byt(8), byt(0), byt(24), true}
	default:
		return bad(name, "%q has %d hex digits; allowed: %s", clip(v), len(s), colourAllowed)
	}
	return nil
}

func (c Colour) String() string {
	if !c.Set {
		return "none"
	}
	return fmt.Sprintf("%02x%02x%02x%02x", c.A, c.R, c.G, c.B)
}
